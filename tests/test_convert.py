"""``stockplan convert`` and the issue's "done when" (README, "Excel"; issue 10).

A folder converted to a workbook and back is the same instance, every float bit for bit
(every bundled instance, and hypothesis on the numbers); a held-out instance solved from
its workbook, and from its European Excel CSV files, gives the folder's plan.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.instance import Instance, load_instance, write_instance
from optimizer.instance.generator import generate_instance
from optimizer.instance.workbook import write_workbook
from tests.instance_cases import Case, assert_same_instance, explicit_case
from tests.test_csv_dialects import european

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(
    p.parent
    for p in [*ROOT.glob("instances/**/instance.toml"), ROOT / "optimizer/demo/instance.toml"]
)
runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_bit_identical(a: Instance, b: Instance) -> None:
    """Equal instances, and every float array equal byte for byte (``-0.0``, nan payloads)."""
    assert_same_instance(a, b)
    for part in ("items", "suppliers", "explicit"):
        x, y = getattr(a, part), getattr(b, part)
        if x is None:
            continue
        for f in dataclasses.fields(x):
            u, v = np.asarray(getattr(x, f.name)), np.asarray(getattr(y, f.name))
            if u.dtype.kind == "f":
                assert u.tobytes() == v.tobytes(), f"{part}.{f.name}"
    assert dataclasses.asdict(a.plan) == dataclasses.asdict(b.plan)
    if a.item_master is None:
        assert b.item_master is None
    else:
        assert a.item_master.equals(b.item_master)


@pytest.mark.parametrize("folder", BUNDLED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_instance_round_trips(folder: Path, tmp_path: Path) -> None:
    if (folder / "history").is_dir():
        res = run("convert", folder, tmp_path / "book.xlsx")
        assert res.exit_code == 2 and "history" in res.output
        return
    original = load_instance(folder)
    assert run("convert", folder, tmp_path / "book.xlsx").exit_code == 0
    book = load_instance(tmp_path / "book.xlsx")
    assert_bit_identical(original, book)
    assert run("convert", tmp_path / "book.xlsx", tmp_path / "back").exit_code == 0
    assert_bit_identical(original, load_instance(tmp_path / "back"))


def test_explicit_scenarios_and_item_master_round_trip(tmp_path: Path) -> None:
    case = explicit_case(Case(tmp_path / "x"))
    case.cell(1, "description", "=not a formula").cell(2, "description", "Kabel, 3 m")
    for k, row in enumerate(case.scenarios["demand.csv"]):
        row["demand"] = repr(0.1 * k + 1 / 3)
    original = load_instance(case.write())
    write_workbook(original, tmp_path / "x.xlsx")
    assert_bit_identical(original, load_instance(tmp_path / "x.xlsx"))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cost=st.floats(1e-6, 1e6),
    mean=st.floats(1e-6, 1e6) | st.sampled_from([0.0, 0.1 + 0.2]),  # 0, or within the range
    std=st.floats(1e-6, 1e9),
    rate=st.floats(1e-6, 100),
    prob=st.floats(0, 1),
    budget=st.floats(1e13, 1e15),  # above the pipeline value: a valid instance
)
def test_floats_read_back_bit_identical(
    tmp_path: Path,
    cost: float,
    mean: float,
    std: float,
    rate: float,
    prob: float,
    budget: float,
) -> None:
    case = Case(tmp_path / "h")
    case.cell(1, "unit_cost", repr(cost)).cell(1, "demand_mean", repr(mean))
    case.cell(2, "demand_std", repr(std)).cell(3, "capital_rate", repr(rate))
    case.suppliers[0]["disruption_prob"] = repr(prob)
    case.plan["inventory_budget"] = budget
    case.plan["periods_per_year"] = 52.17857142857143
    original = load_instance(case.write())
    write_workbook(original, tmp_path / "h.xlsx")
    assert_bit_identical(original, load_instance(tmp_path / "h.xlsx"))


def test_convert_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    folder = Case(tmp_path / "tiny").write()
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"keep me")
    res = run("convert", folder, book)
    assert res.exit_code == 2 and "--force" in res.output
    assert book.read_bytes() == b"keep me"
    assert run("convert", folder, book, "--force").exit_code == 0
    assert len(load_instance(book).items) == 3
    back = tmp_path / "back"
    back.mkdir()
    assert run("convert", book, back).exit_code == 2
    assert run("convert", book, back, "--force").exit_code == 0
    assert_same_instance(load_instance(back), load_instance(folder))


def test_convert_wants_one_folder_and_one_workbook(tmp_path: Path) -> None:
    folder = Case(tmp_path / "tiny").write()
    res = run("convert", folder, tmp_path / "other")
    assert res.exit_code == 2 and "one of each" in res.output


def test_convert_of_an_invalid_instance_exits_3(tmp_path: Path) -> None:
    folder = Case(tmp_path / "tiny").cell(1, "unit_cost", "abc").write()
    res = run("convert", folder, tmp_path / "book.xlsx")
    assert res.exit_code == 3 and "items.csv, row 2, item 'A', column 'unit_cost'" in res.output
    assert not (tmp_path / "book.xlsx").exists()


def _plan(out: Path) -> str:
    return (out / "plan.csv").read_text(encoding="utf-8")


def test_a_held_out_instance_gives_one_plan_from_folder_workbook_and_european_csv(
    tmp_path: Path,
) -> None:
    """The issue's "done when": the folder's plan from its workbook and its European CSV."""
    instance = generate_instance(8, 3, seed=20261201, scenarios=40, periods=6)
    folder = tmp_path / "held_out"
    write_instance(instance, folder)
    book = tmp_path / "held_out.xlsx"
    assert run("convert", folder, book).exit_code == 0
    plans = {}
    for name, source in (("folder", folder), ("workbook", book)):
        out = tmp_path / f"out_{name}"
        res = run("solve", source, "--out", out, "--no-diagnostics")
        assert res.exit_code == 0, res.output
        plans[name] = _plan(out)
    european(folder)
    assert (folder / "items.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (
        b";" in (folder / "items.csv").read_bytes()
        and b"\r\n" in (folder / "items.csv").read_bytes()
    )
    out = tmp_path / "out_european"
    res = run("solve", folder, "--out", out, "--no-diagnostics")
    assert res.exit_code == 0, res.output
    plans["european"] = _plan(out)
    assert plans["workbook"] == plans["folder"]
    assert plans["european"] == plans["folder"]
    res = run("evaluate", book, "--plan", tmp_path / "out_workbook" / "plan.csv")
    assert res.exit_code == 0, res.output
