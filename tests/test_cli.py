"""The stockplan command line end to end: outputs, exit codes, nothing written on failure."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.instance import write_instance
from tests.factories import make_instance
from tests.hand_cases import hand_instance

runner = CliRunner()
PLAN_COLUMNS = {
    "item",
    "base_stock",
    "safety_stock",
    "cover_periods",
    "expected_fill_rate",
    "expected_cost",
    "reserved_capacity",
    "posture",
    "avg_on_hand",
    "expected_stockout_units",
    "expected_emergency_units",
    "storage_cost",
    "capital_cost",
    "obsolescence_cost",
    "stockout_cost",
    "emergency_cost",
    "reservation_cost",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inst") / "small"
    write_instance(
        make_instance(n_items=3, scenarios=15, periods=6, emergency=True, reserve=True), folder
    )
    return folder


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_solve_writes_plan_and_summary(small, tmp_path):
    out = tmp_path / "out"
    res = run("solve", small, "--out", out, "--eval-scenarios", "30")
    assert res.exit_code == 0, res.output
    plan = pd.read_csv(out / "plan.csv")
    assert PLAN_COLUMNS <= set(plan.columns)
    assert len(plan) == 3
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "status",
        "objective",
        "scenarios",
        "seed",
        "solve_seconds",
        "build_seconds",
        "gap",
        "versions",
    ):
        assert key in summary
    assert summary["status"] == "optimal" and summary["scenarios"] == 15
    d = summary["diagnostics"]
    assert d["VSS"] >= -1e-6 and d["EVPI"] >= -1e-6
    assert d["EVPI"] == pytest.approx(d["RP"] - d["WS_hindsight"])
    assert d["recourse"] == summary["recourse"] == "causal"
    assert d["RP"] == pytest.approx(summary["objective"])
    # the hindsight recourse of the same plan can only be cheaper than its causal run
    assert d["hindsight_bound"] <= d["in_sample_causal"] + 1e-6
    assert d["in_sample_causal"] == pytest.approx(summary["objective"], rel=1e-9)
    # the headline: causal, out of sample, a first batch of 30, then rounds sized from
    # the variance until tight or the cap
    low, high = summary["expected_cost_ci95"]
    assert low <= summary["expected_cost"] <= high
    n = summary["expected_cost_scenarios"]
    assert 30 <= n <= 20_000
    half = (high - low) / 2 / summary["expected_cost"]
    assert summary["expected_cost_tight"] == (half <= 0.02)
    assert summary["expected_cost_tight"] or n == 20_000
    # per-item costs are the headline's lines and add up to it
    assert plan["expected_cost"].sum() == pytest.approx(summary["expected_cost"], rel=1e-9)
    assert (plan["base_stock"] == plan["base_stock"].round()).all()  # whole units
    assert "Stocking plan" in res.output and "VSS" in res.output


def test_solve_default_is_the_bundled_demo(tmp_path):
    res = run("solve", "--out", tmp_path, "--scenarios", "12", "--eval-scenarios", "12")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "summary.json").read_text())["instance"] == "demo"


def test_scenarios_and_seed_options_change_the_sample(small, tmp_path):
    res = run(
        "solve",
        small,
        "--out",
        tmp_path,
        "--scenarios",
        "7",
        "--seed",
        "5",
        "--eval-scenarios",
        "10",
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["scenarios"] == 7 and summary["seed"] == 5


def test_validate(small, tmp_path):
    assert run("validate", small).exit_code == 0
    bad = tmp_path / "bad"
    write_instance(make_instance(n_items=2), bad)
    items = (bad / "items.csv").read_text().splitlines()
    items[2] = items[2].replace("item001", "item000")  # duplicate id in data row 2
    (bad / "items.csv").write_text("\n".join(items) + "\n")
    res = run("validate", bad)
    assert res.exit_code == 3
    assert "items.csv" in res.output and "row 2" in res.output and "duplicate" in res.output


def test_invalid_instance_exits_3_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad"
    write_instance(make_instance(n_items=2), bad)
    (bad / "suppliers.csv").write_text(
        "supplier,disruption_prob,recovery_prob\nnear,0,1\nfar,0.5,0\n"
    )
    out = tmp_path / "out"
    res = run("solve", bad, "--out", out)
    assert res.exit_code == 3
    assert "never recovers" in res.output
    assert not out.exists()


def test_infeasible_exits_4_naming_the_group(tmp_path):
    folder = tmp_path / "tight"
    write_instance(hand_instance(n_items=2, budget=25.0, fill_rate=1.0), folder)
    out = tmp_path / "out"
    res = run("solve", folder, "--out", out)
    assert res.exit_code == 4
    assert "inventory budget" in res.output
    assert not out.exists()


def test_time_limit_without_plan_exits_5(small, tmp_path):
    folder = tmp_path / "big"
    write_instance(
        replace(make_instance(n_items=2, scenarios=80, periods=13, emergency=True)), folder
    )
    out = tmp_path / "out"
    # a budget spent before the plan stage: the LP gets no time and finds no plan
    res = run("solve", folder, "--out", out, "--time-limit", "1e-6", "--recourse", "hindsight")
    assert res.exit_code == 5
    assert "limit" in res.output
    assert not out.exists()


def test_usage_errors_exit_2(small):
    assert runner.invoke(app, ["solve", str(small), "--bogus"]).exit_code == 2
    assert runner.invoke(app, ["solve", str(small), "--engine", "nope"]).exit_code == 2
    assert runner.invoke(app, ["solve", str(small), "--scenarios", "0"]).exit_code == 2


def test_evaluate_prices_a_plan(small, tmp_path):
    assert run("solve", small, "--out", tmp_path / "s", "--eval-scenarios", "10").exit_code == 0
    res = run(
        "evaluate",
        small,
        "--plan",
        tmp_path / "s" / "plan.csv",
        "--scenarios",
        "25",
        "--out",
        tmp_path / "e",
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "e" / "evaluation.csv")
    assert {"expected_cost", "causal_expected_cost"} <= set(table.columns)
    summary = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert summary["ci95_low"] <= summary["expected_cost"] <= summary["ci95_high"]
    assert summary["scenarios"] == 25


def test_evaluate_rejects_a_bad_plan(small, tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("item,base_stock\nitem000,abc\nghost,3\n")
    res = run("evaluate", small, "--plan", plan)
    assert res.exit_code == 3
    assert "not a number" in res.output and "ghost" in res.output and "item002" in res.output


def test_a_command_loads_only_its_own_module():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from optimizer.cli import app\n"
        "try:\n"
        "    app(['solve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('optimizer.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['optimizer.cli.common', 'optimizer.cli.solve']"
    listing = run("--help").output
    for name in ("solve", "validate", "evaluate", "compare", "generate"):
        assert name in listing
    assert run("nosuch").exit_code == 2
