"""ERP fields of the plan, whole units from fractional plans, plan.xlsx and binary outputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from optimizer.analysis.outputs import solve_files, wants_workbook
from optimizer.engines.rounding import is_whole, whole_units
from optimizer.instance.problems import Problems
from optimizer.instance.settings import read_settings
from optimizer.planning import make_plan
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import program_data
from optimizer.report import ERP_COLUMNS, write_outputs
from optimizer.report.tables import reorder_point
from optimizer.report.workbook import MONEY, RATE, WHOLE, results_workbook
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance


def test_unit_and_currency_settings(tmp_path):
    toml = tmp_path / "instance.toml"
    toml.write_text('[plan]\nunit = "pcs"\ncurrency = "EUR"\n')
    problems = Problems()
    s = read_settings(toml, problems)
    assert (s.plan.unit, s.plan.currency) == ("pcs", "EUR")
    assert not problems.found
    toml.write_text('[plan]\nunit = ""\ncurrency = 5\n')
    problems = Problems()
    read_settings(toml, problems)
    rules = {p.column: p.rule for p in problems.found}
    assert "must not be empty" in rules["plan.unit"]
    assert "text in quotes" in rules["plan.currency"]


def test_reorder_point_is_lead_time_demand_plus_safety_stock():
    S, mu, L = np.array([10.0, 35.0, 3.0]), np.array([2.5, 10.0, 4.0]), np.array([3, 2, 0])
    ss = S - (L + 1) * mu
    np.testing.assert_allclose(reorder_point(S, mu, L, integer=False), np.maximum(L * mu + ss, 0))
    np.testing.assert_array_equal(reorder_point(S, mu, L, integer=True), [8.0, 25.0, 0.0])


def test_plan_table_carries_the_erp_fields():
    inst = make_instance(4, scenarios=20)
    inst = inst.with_plan(unit="pcs", currency="EUR")
    result = make_plan(inst, with_diagnostics=False, max_eval_scenarios=200)
    t = result.plan
    at = list(t.columns).index("posture")
    assert list(t.columns[at + 1 : at + 1 + len(ERP_COLUMNS)]) == list(ERP_COLUMNS)
    np.testing.assert_array_equal(t.order_up_to, result.solution.base_stock)
    mu, L = inst.items.demand_mean, inst.items.lead_time
    np.testing.assert_array_equal(t.reorder_point, np.maximum(np.round(t.order_up_to - mu), 0))
    np.testing.assert_array_equal(t.safety_stock_units, np.round(t.order_up_to - (L + 1) * mu))
    assert is_whole(t.order_up_to) and is_whole(t.reserved_capacity)
    assert set(t.unit) == {"pcs"} and set(t.currency) == {"EUR"}
    np.testing.assert_allclose(t.capital_tied_up, t.avg_on_hand * inst.items.unit_cost)


def test_labels_default_to_empty():
    inst = make_instance(2, scenarios=8)
    result = make_plan(inst, with_diagnostics=False, max_eval_scenarios=100)
    assert set(result.plan.unit) == {""} and set(result.plan.currency) == {""}


def test_whole_units_pick_the_cheaper_of_floor_and_ceiling():
    inst = make_instance(6, scenarios=30, emergency=True, reserve=True)
    data = program_data(inst, generate_scenarios(inst))
    rng = np.random.default_rng(1)
    S = data.min_base_stock + rng.uniform(1, 40, data.n_items) + 0.37
    K = np.where(data.reserves, rng.uniform(0.2, 5, data.n_items), 0.0)
    whole = whole_units(data, S, K)
    assert whole.changed.all()
    for i in range(data.n_items):
        best = np.inf
        for s in (np.floor(S[i]), np.ceil(S[i])):
            for k in (np.floor(K[i]), np.ceil(K[i])) if data.reserves[i] else (0.0,):
                c = play_plan(data, np.array([s]), np.array([k]), items=np.array([i]),
                              directions=VALUES_ONLY).expected_cost[0]  # fmt: skip
                best = min(best, c)
        got = play_plan(data, whole.base_stock[i : i + 1], whole.reserved[i : i + 1],
                        items=np.array([i]), directions=VALUES_ONLY).expected_cost[0]  # fmt: skip
        assert got == pytest.approx(best, rel=1e-12)
        assert whole.base_stock[i] in (np.floor(S[i]), np.ceil(S[i]))


def test_whole_units_keep_a_budget():
    inst = make_instance(5, scenarios=20, budget_share=0.3)
    data = program_data(inst, generate_scenarios(inst))
    S = data.min_base_stock + 5.5
    limit = float(data.unit_cost @ S)  # exactly used: every ceiling would break it
    data = dataclasses.replace(data, budget=limit)
    free = whole_units(dataclasses.replace(data, budget=None), S, np.zeros(data.n_items))
    assert float(data.unit_cost @ free.base_stock) > limit  # unbounded, some round up
    whole = whole_units(data, S, np.zeros(data.n_items))
    assert float(data.unit_cost @ whole.base_stock) <= limit * (1 + 1e-12)


def test_a_hindsight_plan_comes_out_in_whole_units_and_causal_plans_are_kept():
    inst = make_instance(4, scenarios=20).with_plan(recourse="hindsight")
    result = make_plan(inst, with_diagnostics=False, max_eval_scenarios=200)
    assert is_whole(result.plan.base_stock)
    assert result.summary["engine_details"]["whole_units"]["items_rounded"] >= 1
    causal = make_plan(inst.with_plan(recourse="causal"), with_diagnostics=False)
    assert "whole_units" not in causal.summary.get("engine_details", {})


def test_results_workbook_formats(tmp_path):
    inst = make_instance(3, scenarios=20).with_plan(unit="pcs", currency="EUR")
    result = make_plan(inst, with_diagnostics=True, max_eval_scenarios=200)
    result.plan.loc[0, "item"] = "=HYPERLINK(1)"
    files = solve_files(inst, result, xlsx=True)
    assert "report.html" not in files
    write_outputs(tmp_path / "out", files)
    wb = openpyxl.load_workbook(tmp_path / "out" / "plan.xlsx")
    assert wb.sheetnames == ["plan", "summary", "diagnostics", "explanation"]
    for ws in wb:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
    ws = wb["plan"]
    header = [c.value for c in ws[1]]
    assert header == list(result.plan.columns)

    def fmt(name):
        return ws.cell(row=2, column=header.index(name) + 1).number_format

    assert fmt("order_up_to") == WHOLE and fmt("reorder_point") == WHOLE
    assert fmt("capital_tied_up") == MONEY and fmt("expected_cost") == MONEY
    assert fmt("expected_fill_rate") == RATE
    cell = ws.cell(row=2, column=1)
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s"  # text, not a formula
    width = ws.column_dimensions["A"].width
    assert width >= len("=HYPERLINK(1)")
    assert ws.cell(row=2, column=header.index("order_up_to") + 1).value == float(
        result.plan.order_up_to[0]
    )
    summary = {r[0].value: r[1].value for r in wb["summary"].iter_rows(min_row=2)}
    assert summary["expected_cost"] == pytest.approx(result.summary["expected_cost"])
    diag = {r[0].value: r[1].value for r in wb["diagnostics"].iter_rows(min_row=2)}
    assert diag["VSS"] == pytest.approx(result.summary["diagnostics"]["VSS"])
    ex = wb["explanation"]
    assert [c.value for c in ex[1]][:2] == ["item", "critical_ratio"]
    assert ex.max_row == 1 + len(inst.items)


def test_workbook_by_default_only_for_a_workbook_instance():
    inst = make_instance(2)
    assert not wants_workbook(inst, None)
    assert wants_workbook(inst, True)
    from dataclasses import replace

    book = replace(inst, source="/tmp/plan/book.xlsx")
    assert wants_workbook(book, None) and not wants_workbook(book, False)


def test_write_outputs_takes_text_bytes_and_workbooks_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    wb = results_workbook(pd.DataFrame({"item": ["a"], "base_stock": [3.0]}), {"x": 1})
    write_outputs(out, {"a.csv": pd.DataFrame({"x": [1]}), "r.html": "<p>é</p>",
                        "b.bin": b"\x00\x01", "w.xlsx": wb})  # fmt: skip
    assert (out / "r.html").read_text(encoding="utf-8") == "<p>é</p>"
    assert (out / "b.bin").read_bytes() == b"\x00\x01"
    assert openpyxl.load_workbook(out / "w.xlsx")["plan"]["A2"].value == "a"

    class Broken:
        def save(self, _file):
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_outputs(out, {"a.csv": pd.DataFrame({"x": [2]}), "w.xlsx": Broken()})
    assert pd.read_csv(out / "a.csv").x.tolist() == [1]  # the old set stands
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["out"]  # nothing left over


def test_solve_from_a_workbook_writes_plan_xlsx_by_default(tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.instance.workbook import write_workbook

    inst = make_instance(3, scenarios=10).with_plan(unit="pcs", currency="EUR")
    write_workbook(inst, tmp_path / "book.xlsx")
    args = ["solve", str(tmp_path / "book.xlsx"), "--no-diagnostics", "--max-eval-scenarios",
            "100", "--out"]  # fmt: skip
    res = CliRunner().invoke(app, [*args, str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    book = openpyxl.load_workbook(tmp_path / "a" / "plan.xlsx")
    assert book["plan"]["A1"].value == "item"
    plan = pd.read_csv(tmp_path / "a" / "plan.csv", keep_default_na=False)
    assert set(plan.unit) == {"pcs"} and set(plan.currency) == {"EUR"}  # through the workbook
    res = CliRunner().invoke(app, [*args, str(tmp_path / "b"), "--no-xlsx"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "b" / "plan.xlsx").exists()


def test_no_explanation_once_the_time_limit_is_spent():
    import time

    inst = make_instance(2, scenarios=8)
    result = make_plan(inst, with_diagnostics=False, max_eval_scenarios=100)
    files = solve_files(inst, result, xlsx=True, deadline=time.monotonic() - 1.0)
    assert "time limit" in result.summary["explanation"]
    wb = files["plan.xlsx"]
    assert wb["explanation"]["A2"].value == "not computed"
    files = solve_files(inst, result, xlsx=True, deadline=time.monotonic() + 600)
    assert files["plan.xlsx"]["explanation"]["A1"].value == "item"
