"""``[plan] review_levels`` as a ``solve`` option: K = 1 unchanged, block plans priced fairly."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.engines.causal_review import search_levels
from optimizer.engines.causal_search import search_items
from optimizer.instance import load_instance
from optimizer.planning import make_plan
from optimizer.program.data import program_data
from optimizer.program.review import (
    evaluate_levels,
    fair_instance,
    level_path,
    shaped_items,
    simulate_levels,
)
from optimizer.program.verifier import evaluate_solution
from optimizer.scenarios import generate_scenarios

ROOT = Path(__file__).resolve().parent.parent
RETAIL = ROOT / "instances" / "retail_history"
runner = CliRunner()


def _retail(select) -> object:
    inst = load_instance(RETAIL)
    return inst.subset_items([i for i in range(len(inst.items)) if select(inst, i)])


def _reliable_seasonal(inst, i) -> bool:
    name = str(inst.items.name[i])
    return (
        name.startswith("SEASON-") and inst.suppliers.disruption_prob[inst.items.supplier[i]] < 0.05
    )


def _folder(tmp_path: Path, prefix: str) -> Path:
    """retail_history cut to the items whose names start with ``prefix`` (files and all)."""
    dst = tmp_path / prefix.strip("-").lower()
    shutil.copytree(RETAIL, dst)
    for name in ("items.csv", "history/demand.csv", "history/forecast.csv"):
        df = pd.read_csv(dst / name, dtype=str, keep_default_na=False)
        keep = df[df["item"].str.startswith(prefix)]
        if len(keep):
            keep.to_csv(dst / name, index=False)
        else:
            (dst / name).unlink()
    return dst


def test_one_level_is_todays_plan(tmp_path):
    demo = ROOT / "optimizer" / "demo"
    args = ["solve", str(demo), "--no-diagnostics", "--max-eval-scenarios", "300"]
    plain = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    one = runner.invoke(app, [*args, "--review-levels", "1", "--out", str(tmp_path / "b")])
    assert plain.exit_code == 0 and one.exit_code == 0, (plain.output, one.output)
    a = (tmp_path / "a" / "plan.csv").read_bytes()
    assert a == (tmp_path / "b" / "plan.csv").read_bytes()
    assert b"base_stock_b1" not in a
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["review_levels"] == 1 and "review" not in summary
    # and the plan is the causal item search's, not something the option path made
    inst = load_instance(demo)
    plan = pd.read_csv(tmp_path / "a" / "plan.csv")
    data = program_data(inst, generate_scenarios(inst))
    S = search_items(data, integer=True).base_stock
    assert np.array_equal(plan["base_stock"].to_numpy(float), S)


def _loop_costs(data, path: np.ndarray, reserved: np.ndarray) -> np.ndarray:
    """Each scenario's cost of per-period levels, by a plain loop (lost sales or backorders)."""
    n, N, H = data.demand.shape
    W = data.warmup
    out = np.zeros(N)
    cap = np.where(data.reserves, np.minimum(data.capacity, reserved), data.capacity)
    hold = sum(data.carrying[k] for k in range(3))
    for i in range(n):
        for w in range(N):
            arriving = np.zeros(H + 1)
            arriving[:H] += data.pipeline[i]
            stock = path[i, 0] - data.lead[i] * data.mean[i]
            position, backlog, cost = path[i, 0], 0.0, 0.0
            for t in range(H):
                avail = stock + arriving[t]
                served = min(backlog, avail) if data.backorder else 0.0
                avail -= served
                d = data.demand[i, w, t]
                sold = min(d, avail)
                emergency = min(d - sold, cap[i])
                unmet = d - sold - emergency
                backlog = backlog - served + unmet if data.backorder else 0.0
                stock = avail - sold
                position -= d - emergency if data.backorder else sold
                order = max(0.0, path[i, min(t + 1, H - 1)] - position)
                position += order
                arriving[min(int(data.arrival[i, w, t]), H)] += order
                if t >= W:
                    short = backlog if data.backorder else unmet
                    cost += hold[i] * stock + data.penalty[i] * short + data.premium[i] * emergency
            fee = (
                data.periods * np.nan_to_num(data.fee[i]) * (reserved[i] if data.reserves[i] else 0)
            )
            out[w] += cost + fee
    return out


def test_block_headline_equals_an_independent_re_evaluation():
    inst = _retail(_reliable_seasonal).with_plan(review_levels=3)
    m = 300
    result = make_plan(inst, eval_scenarios=m, max_eval_scenarios=m, with_diagnostics=False)
    sol = result.solution
    levels, S, K = sol.block_levels, sol.base_stock, sol.reserved
    assert levels.shape == (len(inst.items), 3)
    assert np.array_equal(result.plan["base_stock"].to_numpy(float), S)
    for b in range(3):
        assert np.array_equal(result.plan[f"base_stock_b{b + 1}"].to_numpy(float), levels[:, b])
    two = fair_instance(inst)
    fresh = generate_scenarios(two, m, seed=inst.plan.seed, stream="evaluate")
    data = program_data(two, fresh)
    path = level_path(data, levels, span=inst.plan.periods, tail=S)
    assert (path[:, : data.warmup] == S[:, None]).all()
    assert (path[:, data.warmup + inst.plan.periods :] == S[:, None]).all()
    costs = _loop_costs(data, path, K)
    assert result.summary["expected_cost"] == pytest.approx(costs.mean(), rel=1e-9)
    single = _loop_costs(data, np.repeat(S[:, None], data.horizon, axis=1), K)
    vs = result.summary["review"]["vs_single_level"]
    assert vs["difference"] == pytest.approx((costs - single).mean(), rel=1e-9)
    assert result.summary["periods"] == 2 * inst.plan.periods
    assert [b["first_period"] for b in result.summary["review"]["blocks"]] == [1, 6, 10]


def test_the_verifier_checks_the_orders_the_levels_imply():
    inst = _retail(_reliable_seasonal)
    data = program_data(inst, generate_scenarios(inst, n_scenarios=40))
    S = np.ceil((data.lead + 2) * data.mean)
    levels = np.c_[S, S + 30, S + 60]
    path = level_path(data, levels)
    rec = simulate_levels(data, path, np.zeros(data.n_items))
    right = evaluate_solution(data, path[:, 0], np.zeros(3), rec, check_fill_rate=False,
                              check_plan_rows=False, path=path)  # fmt: skip
    wrong = evaluate_solution(data, path[:, 0], np.zeros(3), rec, check_fill_rate=False,
                              check_plan_rows=False)  # fmt: skip
    assert right.residual["stock_balance"] < 1e-9
    assert wrong.residual["stock_balance"] > 1e-3  # the single-level orders do not fit


def test_three_levels_beat_one_on_a_seasonal_instance():
    inst = _retail(_reliable_seasonal).with_plan(review_levels=3)
    assert shaped_items(inst, 3).all()  # every item's forecast ramps
    m = 3000
    result = make_plan(inst, eval_scenarios=m, max_eval_scenarios=m, with_diagnostics=False)
    vs = result.summary["review"]["vs_single_level"]
    assert vs["scenarios"] == m
    assert vs["difference_ci95"][1] < 0, vs  # measured -11.3 [-13.1, -9.5] of 316
    levels = result.solution.block_levels
    assert (levels[:, 2] > levels[:, 0]).all()  # the levels rise with the ramp


def test_flat_demand_claims_no_gain():
    inst = _retail(lambda inst, i: str(inst.items.name[i]).startswith("FAST-"))
    inst = inst.subset_items(range(6))
    assert not shaped_items(inst, 3).any()
    # the option keeps one level for stationary items: no difference at all
    result = make_plan(inst.with_plan(review_levels=3), eval_scenarios=500,
                       max_eval_scenarios=500, with_diagnostics=False)  # fmt: skip
    levels = result.solution.block_levels
    assert np.array_equal(levels, np.repeat(result.solution.base_stock[:, None], 3, axis=1))
    assert result.summary["review"]["vs_single_level"]["difference"] == 0.0
    # forced onto them, the blocks fit noise: no gain out of sample (measured +, CI above 0)
    two = fair_instance(inst)
    fit = program_data(two, generate_scenarios(two))
    single = search_items(fit, integer=True, fill_rates=False).base_stock
    forced, _ = search_levels(fit, 3, start=single, span=inst.plan.periods)
    test = program_data(two, generate_scenarios(two, n_scenarios=2000, stream="evaluate"))
    zero = np.zeros(len(single))
    d = (
        evaluate_levels(test, forced, zero, span=inst.plan.periods, tail=single).scenario_cost
        - evaluate_levels(test, single[:, None], zero).scenario_cost
    )
    half = 1.96 * d.std(ddof=1) / np.sqrt(d.size)
    assert d.mean() + half > 0, (d.mean(), half)  # the interval is not below 0


def test_solve_and_evaluate_a_block_plan(tmp_path):
    folder = _folder(tmp_path, "SEASON-")
    out = tmp_path / "out"
    solve = ["solve", str(folder), "--review-levels", "3", "--eval-scenarios", "400"]
    r = runner.invoke(app, [*solve, "--max-eval-scenarios", "400", "--report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    plan = pd.read_csv(out / "plan.csv")
    assert {"base_stock_b1", "base_stock_b2", "base_stock_b3"} <= set(plan.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["review_levels"] == 3 and summary["review"]["costed_periods"] == 26
    html = (out / "report.html").read_text()
    assert "Levels by review block" in html and "Demand laws fitted from history" in html
    assert "fit_pvalue" in html
    ev = runner.invoke(app, ["evaluate", str(folder), "--plan", str(out / "plan.csv"),
                             "--eval-scenarios", "400", "--out", str(tmp_path / "ev")])  # fmt: skip
    assert ev.exit_code == 0, ev.output
    figures = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    # the same fresh scenarios (stream "evaluate", 400 of them): the same cost
    assert figures["causal_expected_cost"] == pytest.approx(summary["expected_cost"], rel=1e-9)
    bad = plan.drop(columns="base_stock_b3")
    bad.to_csv(tmp_path / "bad.csv", index=False)
    refused = runner.invoke(app, ["evaluate", str(folder), "--plan", str(tmp_path / "bad.csv")])
    assert refused.exit_code == 3 and "base_stock_b1 .. base_stock_bk" in refused.output


@pytest.mark.parametrize(
    ("extra", "toml", "words"),
    [
        (["--fill-rate", "0.95"], "", "fill-rate targets"),
        ([], "inventory_budget = 1e9\n", "inventory_budget or storage_capacity"),
        (["--recourse", "hindsight"], "", "needs the causal recourse"),
    ],
)
def test_what_block_levels_refuse(tmp_path, extra, toml, words):
    folder = _folder(tmp_path, "SEASON-")
    text = (folder / "instance.toml").read_text()
    (folder / "instance.toml").write_text(text.replace("[plan]\n", "[plan]\n" + toml, 1))
    r = runner.invoke(app, ["solve", str(folder), "--review-levels", "3", *extra,
                            "--out", str(tmp_path / "out")])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert words in r.output


def test_review_levels_is_validated(tmp_path):
    folder = _folder(tmp_path, "SEASON-")
    text = (folder / "instance.toml").read_text()
    (folder / "instance.toml").write_text(text.replace("[plan]\n", "[plan]\nreview_levels = 2\n"))
    r = runner.invoke(app, ["validate", str(folder)])
    assert r.exit_code == 3
    assert "plan.review_levels" in r.output and "must be 1, 3 or 13, got 2" in r.output
    r = runner.invoke(app, ["solve", str(RETAIL), "--review-levels", "4"])
    assert r.exit_code == 2 and "--review-levels" in r.output


@pytest.mark.parametrize("shortage", ["lost_sales", "backorder"])
def test_block_engine_keeps_reservations_and_is_verified(shortage):
    from optimizer.engines.base import SolveConfig, SolveRequest
    from optimizer.engines.dispatch import solve_program
    from tests.factories import make_instance

    inst = make_instance(4, scenarios=60, periods=6, shortage=shortage, emergency=True,
                         reserve=True, disruption=0.3)  # fmt: skip
    # a cheap reservation on the disrupted supplier, so the single search reserves (K > 0)
    fee = np.where(np.isnan(inst.items.reservation_fee), np.nan, 1e-3)
    items = dataclasses.replace(inst.items, reservation_fee=fee, supplier=np.ones(4, dtype=int))
    inst = dataclasses.replace(inst, items=items)
    data = program_data(fair_instance(inst), generate_scenarios(fair_instance(inst)))
    request = SolveRequest(recourse="causal", integer=True, review_levels=3, review_span=6)
    sol = solve_program(data, SolveConfig(engine="causal", verify=True), request)
    single = search_items(data, integer=True, fill_rates=False)
    assert np.array_equal(sol.base_stock, single.base_stock)
    assert np.array_equal(sol.reserved, single.reserved) and (sol.reserved[data.reserves] > 0).any()
    assert sol.block_levels.shape == (4, 3)
    # the verifier re-played the blocks: its cost is the engine's, its balances hold
    assert sol.evaluation.expected_cost == pytest.approx(sol.objective, rel=1e-9)
    assert max(sol.evaluation.residual.values()) < 1e-6
    one = evaluate_levels(data, single.base_stock[:, None], single.reserved).expected_cost
    assert sol.objective <= one + 1e-9 * abs(one)  # never worse in sample than one level


@pytest.mark.slow
def test_readme_review_walk_runs_as_written(tmp_path, monkeypatch):
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- review-walk -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "the README has no review-levels walk"
    commands = [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["stockplan", "solve"], ["stockplan", "evaluate"]]
    shutil.copytree(RETAIL, tmp_path / "instances" / "retail_history")
    monkeypatch.chdir(tmp_path)
    for command in commands:
        result = runner.invoke(app, command[1:])
        assert result.exit_code == 0, result.output
    out = tmp_path / commands[0][commands[0].index("--out") + 1]
    plan = pd.read_csv(out / "plan.csv")
    seasonal = plan["item"].str.startswith("SEASON-")
    blocks = plan[["base_stock_b1", "base_stock_b2", "base_stock_b3"]].to_numpy()
    flat = (blocks == plan["base_stock"].to_numpy()[:, None]).all(axis=1)
    assert flat[~seasonal.to_numpy()].all()  # no forecast shape: one level in every block
    summary = json.loads((out / "summary.json").read_text())
    assert summary["review"]["items_with_blocks"] == int(seasonal.sum())
    assert (tmp_path / commands[1][commands[1].index("--out") + 1] / "evaluation.json").exists()
