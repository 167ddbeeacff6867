"""Issue 12, outputs and checks: spreadsheet-safe CSV files, no ``-0``, a re-check that scales.

* Item and supplier names go into plan.csv and the instance files; a name such as
  ``=cmd|' /C calc'!A0`` must reach a spreadsheet as text (OWASP: a leading apostrophe),
  while numbers, negative ones included, stay numbers; a written instance reads back equal.
* A zero-demand item's base stock is ``0``, not ``-0``.
* The numpy re-check of a plan compares objectives with a relative and an absolute
  tolerance, the absolute one in the size of the program's prices: the issue's one-item
  instance whose true cost is ~0 beside prices of 5e4 was failed for 6.9e-5 vs 0.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.engines.base import SolveConfig
from optimizer.engines.dispatch import solve_program
from optimizer.errors import VerificationError
from optimizer.instance import load_instance, write_instance
from optimizer.instance.plan_file import read_plan
from optimizer.instance.tables import neutralise
from optimizer.program.data import program_data
from optimizer.program.verifier import check_solution, cost_scale, evaluate_solution
from optimizer.report import write_outputs
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance
from tests.instance_cases import Case

runner = CliRunner()

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1:A9)", "-2+3", "\tTAB"]


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _formula_case(case: Case) -> Case:
    for row, name in zip(case.items, FORMULAS, strict=False):
        row["item"] = name
    for row in case.items:
        row["supplier"] = {"near": "=HYPERLINK(x)", "far": "far"}[row["supplier"]]
    case.suppliers[0]["supplier"] = "=HYPERLINK(x)"
    return case


def _solve(folder: Path, out: Path, *extra: str) -> dict:
    res = runner.invoke(app, ["solve", str(folder), "--out", str(out), "--no-diagnostics", *extra])
    assert res.exit_code == 0, res.output
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------
# spreadsheet formulas
# --------------------------------------------------------------------------------------


def test_plan_csv_writes_formula_names_as_text(case: Case, tmp_path: Path) -> None:
    _solve(_formula_case(case).write(), tmp_path / "out")
    rows = _rows(tmp_path / "out" / "plan.csv")
    assert [r["item"] for r in rows] == ["'" + name for name in FORMULAS[:3]]
    assert {r["supplier"] for r in rows} == {"'=HYPERLINK(x)", "far"}
    for row in rows:  # every other cell is a plain number
        for column, cell in row.items():
            if column not in ("item", "supplier", "posture", "unit", "currency"):
                float(cell)


def test_a_plan_with_formula_names_reads_back(case: Case, tmp_path: Path) -> None:
    folder = _formula_case(case).write()
    _solve(folder, tmp_path / "out")
    inst = load_instance(folder)
    base_stock, _ = read_plan(tmp_path / "out" / "plan.csv", inst)
    assert np.isfinite(base_stock).all() and len(base_stock) == 3


def test_write_outputs_neutralises_text_but_not_numbers(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "item": [*FORMULAS, "-0.5", "plain"],
            "value": [-0.5, -1.0, 2.0, -0.0, 3.0, 4.0, 5.0],
        }
    )
    write_outputs(tmp_path, {"t.csv": table})
    rows = _rows(tmp_path / "t.csv")
    assert [r["item"] for r in rows] == [
        "'=cmd|' /C calc'!A0",
        "'+1+1",
        "'@SUM(A1:A9)",
        "'-2+3",
        "'\tTAB",
        "-0.5",  # a number written as text stays that number
        "plain",
    ]
    assert [r["value"] for r in rows] == ["-0.5", "-1", "2", "0", "3", "4", "5"]
    assert neutralise("\rCR") == "'\rCR" and neutralise(-0.5) == -0.5


def test_a_written_instance_with_formula_names_reads_back_equal(case: Case, tmp_path: Path) -> None:
    inst = load_instance(_formula_case(case).write())
    write_instance(inst, tmp_path / "copy")
    text = (tmp_path / "copy" / "items.csv").read_text(encoding="utf-8")
    assert "'=cmd" in text and "\n=cmd" not in text
    again = load_instance(tmp_path / "copy")
    assert list(again.items.name) == list(inst.items.name) == FORMULAS[:3]
    assert list(again.suppliers.name) == list(inst.suppliers.name)


# --------------------------------------------------------------------------------------
# no -0
# --------------------------------------------------------------------------------------


def test_a_zero_demand_item_has_base_stock_0_not_minus_0(case: Case, tmp_path: Path) -> None:
    case.cell(3, "demand_mean", "0").cell(3, "demand_std", "0")
    out = tmp_path / "out"
    res = runner.invoke(app, ["solve", str(case.write()), "--out", str(out), "--no-diagnostics"])
    assert res.exit_code == 0 and "-0.0" not in res.output, res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    text = (tmp_path / "out" / "plan.csv").read_text(encoding="utf-8")
    row = _rows(tmp_path / "out" / "plan.csv")[2]
    assert row["item"] == "C" and row["base_stock"] == "0" and row["safety_stock"] == "0"
    assert ",-0," not in text and not text.rstrip().endswith(",-0")
    assert "-0.0" not in json.dumps(summary)


# --------------------------------------------------------------------------------------
# the re-check's tolerance
# --------------------------------------------------------------------------------------


def _near_zero_cost_case(case: Case) -> Case:
    """The issue's instance: one item, no carrying cost, a true cost of ~0."""
    case.items = [
        {
            "item": "I2",
            "supplier": "s1",
            "unit_cost": "62852.65",
            "demand_mean": "82802.3",
            "demand_std": "498.553",
            "lead_time": "4",
            "stockout_penalty": "53199.59",
        }
    ]
    case.suppliers = [{"supplier": "s1", "disruption_prob": "0.113", "recovery_prob": "0.47"}]
    case.plan.update(
        periods=52,
        periods_per_year=1,
        scenarios=10,
        capital_rate=0,
        storage_rate=0,
        obsolescence_rate=0,
    )
    return case


def test_a_plan_of_near_zero_cost_passes_the_recheck(case: Case, tmp_path: Path) -> None:
    summary = _solve(
        _near_zero_cost_case(case).write(), tmp_path / "out", "--recourse", "hindsight"
    )
    assert summary["objective"] == pytest.approx(0.0, abs=1e-3)


def test_the_absolute_tolerance_is_in_the_size_of_the_prices(case: Case) -> None:
    inst = load_instance(_near_zero_cost_case(case).write())
    scale = cost_scale(program_data(inst, generate_scenarios(inst)))
    assert scale == pytest.approx(52 * 53199.59)
    small = make_instance(n_items=1, scenarios=4, periods=2)
    data = program_data(small, generate_scenarios(small))
    sol = solve_program(data, SolveConfig("matrix"))
    evaluation = evaluate_solution(data, sol.base_stock, sol.reserved, sol.recourse)
    zero = dataclasses.replace(evaluation, objective=0.0)
    check_solution(zero, 6.866e-05, what="near zero", scale=scale)  # the figures
    with pytest.raises(VerificationError, match="objective"):
        check_solution(zero, 6.866e-05, what="near zero")  # against 1, as before
    with pytest.raises(VerificationError, match="objective"):
        check_solution(zero, 1e-3 * scale, what="a real disagreement", scale=scale)
