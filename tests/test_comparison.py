"""Fair evaluation of policies and the ``compare`` command (issue #3, parts 2, 3 and 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.analysis.comparison import (
    TABLE_COLUMNS,
    compare_policies,
    cover_sweep,
    run_comparison,
)
from optimizer.analysis.diagnostics import price_plan
from optimizer.analysis.evaluation import PlanEvaluator, evaluate_plan, evaluation_scenarios
from optimizer.analysis.policies import heuristic_policy, make_policies, stochastic_policy
from optimizer.cli import app
from optimizer.cli.compare import register
from optimizer.instance import write_instance
from optimizer.program.data import program_data
from optimizer.program.verifier import COST_LINES
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

if "compare" not in [
    c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands
]:
    register(app)

KINDS = {
    "lost_sales": dict(emergency=True, reserve=True),
    "backorder": dict(shortage="backorder", emergency=True),
    "black_swan": dict(black_swan=True, disruption=0.2),
}


@pytest.fixture(scope="module", params=list(KINDS))
def case(request):
    """A small instance, its optimisation scenarios and every policy fitted on them."""
    inst = make_instance(3, scenarios=10, periods=4, seed=21, **KINDS[request.param])
    opt = generate_scenarios(inst)
    policies = make_policies(inst, scenarios=opt, jic_cover=[1, 2], service_levels=[90, 99])
    return inst, opt, policies


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


# ------------------------------------------------------------ in-sample agreement -----
def test_evaluator_reproduces_the_rp_objective_on_the_optimisation_scenarios(case):
    inst, opt, policies = case
    # the causal plan's objective is its causal run; the hindsight plan's its recourse LP
    for name, figure in (("stochastic", "causal"), ("stochastic_hindsight", "hindsight")):
        rp = next(p for p in policies if p.name == name)
        for chunk in (None, 3):
            ev = evaluate_plan(inst, opt, rp.base_stock, rp.reserved, chunk=chunk)
            assert rel(getattr(ev, figure).expected_cost, rp.solution.objective) < 1e-6, name
            assert ev.expected().mean == pytest.approx(ev.hindsight.expected_cost, rel=1e-12)


def test_chunked_pricing_equals_one_lp_per_item(case):
    inst, opt, policies = case
    data = program_data(inst, opt)
    plan = heuristic_policy(inst, "classic_95")
    whole = price_plan(data, plan.base_stock, plan.reserved)
    ev = evaluate_plan(inst, opt, plan.base_stock, plan.reserved, chunk=4)
    assert rel(ev.hindsight.expected_cost, whole.objective) < 1e-7
    np.testing.assert_allclose(
        ev.hindsight.scenario_cost, whole.evaluation.scenario_cost, rtol=1e-6, atol=1e-6
    )


def test_stochastic_plan_is_never_beaten_in_sample(case):
    inst, opt, policies = case
    evaluator = PlanEvaluator(inst, opt)
    plans = {p.name: p for p in policies}
    causal = plans["stochastic"]
    hindsight = plans["stochastic_hindsight"]
    rp_c = evaluator.evaluate(causal.base_stock, causal.reserved, name="stochastic")
    rp_h = evaluator.evaluate(hindsight.base_stock, hindsight.reserved, name="hindsight")
    for p in policies:
        if p.is_heuristic or p.name == "ev":
            cost = evaluator.evaluate(p.base_stock, p.reserved, name=p.name)
            # each plan is the best of its own recourse in sample (the causal one among
            # whole-unit plans, so it is compared with whole-unit heuristics only)
            assert rp_h.hindsight.expected_cost <= cost.hindsight.expected_cost * (1 + 1e-7)
            if np.allclose(p.base_stock, np.round(p.base_stock)):
                assert rp_c.causal.expected_cost <= cost.causal.expected_cost * (1 + 1e-7)


def test_causal_run_is_feasible_and_never_cheaper_than_hindsight(case):
    inst, opt, policies = case
    evaluator = PlanEvaluator(inst, evaluation_scenarios(inst, 12))
    for p in policies:
        ev = evaluator.evaluate(p.base_stock, p.reserved, name=p.name)
        assert ev.causal.max_residual < 1e-9
        # hindsight optimises each scenario's recourse, so it is a lower bound per scenario
        assert np.all(ev.hindsight.scenario_cost <= ev.causal.scenario_cost + 1e-6)


# ---------------------------------------------------------- common random numbers -----
def test_common_random_numbers():
    inst = make_instance(3, scenarios=8, periods=4, seed=22, emergency=True)
    plan = heuristic_policy(inst, "classic_95")
    # two independent evaluators built from the same seed: identical plans, identical costs
    a = PlanEvaluator(inst, evaluation_scenarios(inst, 15, seed=5)).evaluate(
        plan.base_stock, plan.reserved, use_cache=False
    )
    b = PlanEvaluator(inst, evaluation_scenarios(inst, 15, seed=5)).evaluate(
        plan.base_stock.copy(), plan.reserved.copy(), use_cache=False
    )
    np.testing.assert_array_equal(a.hindsight.scenario_cost, b.hindsight.scenario_cost)
    np.testing.assert_array_equal(a.causal.scenario_cost, b.causal.scenario_cost)
    assert a.digest == b.digest
    # evaluation scenarios are not the optimisation ones, and another seed changes them
    c = PlanEvaluator(inst, evaluation_scenarios(inst, 15, seed=6))
    assert c.digest != a.digest
    assert PlanEvaluator(inst, generate_scenarios(inst, 15, seed=5)).digest != a.digest
    with pytest.raises(ValueError, match="common random numbers"):
        a.difference(c.evaluate(plan.base_stock, plan.reserved))

    # in a comparison every plan is priced on the very same arrays
    policies = make_policies(inst, jic_cover=[1], service_levels=[95], include_ev=False)
    comp = compare_policies(inst, policies, eval_scenarios=15, seed=5)
    assert {e.digest for e in comp.evaluations.values()} == {a.digest}
    assert all(e.probability is comp.evaluator.data.probability for e in comp.evaluations.values())
    np.testing.assert_array_equal(
        comp.evaluations["classic_95"].hindsight.scenario_cost, a.hindsight.scenario_cost
    )
    # paired difference = difference of the means
    jit, rp = comp.evaluations["jit"], comp.evaluations["stochastic"]
    d = jit.difference(rp)
    assert d.mean == pytest.approx(jit.expected().mean - rp.expected().mean, rel=1e-9)
    row = comp.table.set_index("policy").loc["jit"]
    assert row["vs_stochastic"] == pytest.approx(d.mean)
    assert row["vs_stochastic_ci_low"] <= d.mean <= row["vs_stochastic_ci_high"]


# ---------------------------------------------------------------- the table -----------
def test_comparison_table_figures():
    inst = make_instance(3, scenarios=8, periods=4, seed=23, emergency=True, reserve=True)
    comp = run_comparison(inst, eval_scenarios=12, jic_cover=[1, 2], service_levels=[95])
    t = comp.table
    assert list(t.columns) == list(TABLE_COLUMNS)
    assert set(t["policy"]) == {
        "jit",
        "jic_1",
        "jic_2",
        "classic_95",
        "newsvendor",
        "ev",
        "stochastic",
        "stochastic_hindsight",
    }
    assert t["expected_cost"].is_monotonic_increasing
    assert t["rank"].iloc[0] == 1 and t["rank"].is_monotonic_increasing
    assert t["causal_rank"].min() == 1
    lines = t[[f"{c}_cost" for c in COST_LINES]].sum(axis=1)
    np.testing.assert_allclose(lines, t["expected_cost"], rtol=1e-9)
    assert ((t["ci_low"] <= t["expected_cost"]) & (t["expected_cost"] <= t["ci_high"])).all()
    assert (t["cvar95"] >= t["expected_cost"] - 1e-9).all()
    assert t["fill_rate"].between(0, 1).all() and t["causal_fill_rate"].between(0, 1).all()
    stoch = t.set_index("policy").loc["stochastic"]
    assert stoch["vs_stochastic"] == 0.0
    assert (
        t.loc[t["family"].isin(["jit", "jic", "classic", "newsvendor"]), "reserved_capacity"] == 0
    ).all()
    for name, plan in comp.plans.items():
        row = t.set_index("policy").loc[name]
        assert len(plan) == 3 and (plan["policy"] == name).all()
        assert plan["capital_tied_up"].sum() == pytest.approx(row["capital_tied_up"])
        assert plan["expected_cost"].sum() == pytest.approx(row["expected_cost"])
        assert plan["causal_expected_cost"].sum() == pytest.approx(row["causal_expected_cost"])
    ev = comp.evaluations["jic_2"]
    assert ev.capital_tied_up() == pytest.approx(
        float(inst.items.unit_cost @ ev.hindsight.avg_on_hand)
    )

    sweep = cover_sweep(comp, [0, 1, 1.5])
    assert list(sweep["cover"]) == [0, 1, 1.5]
    by_name = t.set_index("policy")
    assert sweep["expected_cost"].iloc[0] == pytest.approx(by_name.loc["jit", "expected_cost"])
    assert sweep["expected_cost"].iloc[1] == pytest.approx(by_name.loc["jic_1", "expected_cost"])
    assert sweep["capital_tied_up"].is_monotonic_increasing


def test_rp_objective_consistency_with_own_solution():
    inst = make_instance(2, scenarios=6, periods=3, seed=24)
    rp = stochastic_policy(inst)
    assert rp.solution is not None and rp.data is not None
    assert rp.data.n_scenarios == 6


# --------------------------------------------------------------------- the CLI --------
def test_compare_cli_end_to_end(tmp_path):
    inst = make_instance(3, scenarios=8, periods=4, seed=25, emergency=True)
    folder = tmp_path / "tiny"
    write_instance(inst, folder)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "compare",
            str(folder),
            "--out",
            str(out),
            "--eval-scenarios",
            "10",
            "--jic-k",
            "1,3",
            "--service",
            "90,97.5",
            "--seed",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "comparison.csv")
    for col in (
        "policy",
        "expected_cost",
        "ci_low",
        "ci_high",
        "fill_rate",
        "capital_tied_up",
        "cvar95",
        "causal_expected_cost",
        "causal_ci_low",
        "causal_ci_high",
        "causal_fill_rate",
        "rank",
        *(f"{c}_cost" for c in COST_LINES),
    ):
        assert col in table.columns, col
    names = [
        "jit",
        "jic_1",
        "jic_3",
        "classic_90",
        "classic_97.5",
        "newsvendor",
        "ev",
        "stochastic",
        "stochastic_hindsight",
    ]
    assert sorted(table["policy"]) == sorted(names)
    assert list(table["rank"]) == sorted(table["rank"]) and table["rank"].iloc[0] == 1
    assert table["expected_cost"].is_monotonic_increasing
    assert (table["scenarios"] == 10).all()
    assert sorted(p.stem for p in (out / "plans").glob("*.csv")) == sorted(names)
    plan = pd.read_csv(out / "plans" / "stochastic.csv")
    assert {"item", "base_stock", "safety_stock", "cover_periods", "expected_cost"} <= set(
        plan.columns
    )
    assert not list(out.glob(".*")) and not list((out / "plans").glob(".*"))  # no temp files
    assert table.iloc[0]["policy"] in res.output

    # usage errors: exit 2, nothing written
    bad_k = runner.invoke(
        app, ["compare", str(folder), "--out", str(tmp_path / "o2"), "--jic-k", "0,1"]
    )
    assert bad_k.exit_code == 2
    bad_s = runner.invoke(
        app, ["compare", str(folder), "--out", str(tmp_path / "o2"), "--service", "120"]
    )
    assert bad_s.exit_code == 2
    assert not (tmp_path / "o2").exists()


def test_compare_cli_bad_instance_exit_3(tmp_path):
    inst = make_instance(2, scenarios=6, periods=3, seed=26)
    folder = tmp_path / "broken"
    write_instance(inst, folder)
    items = folder / "items.csv"
    items.write_text(items.read_text().replace("item001,far", "item001,nowhere"))
    res = CliRunner().invoke(app, ["compare", str(folder), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3, res.output
    assert "nowhere" in res.output
    assert not (tmp_path / "o").exists()
    missing = CliRunner().invoke(app, ["compare", str(tmp_path / "absent")])
    assert missing.exit_code == 3


def test_register_is_idempotent():
    before = len(app.registered_commands)
    register(app)
    assert len(app.registered_commands) == before


def test_backorders_without_emergency_hindsight_equals_causal():
    """Orders equal demand, so the net stock path is fixed by the plan: no hindsight gain.

    The service measure must then agree too (the LP may backorder and serve a unit in the
    same period; the fill rate counts units still in the backlog at period end, FIFO).
    """
    inst = make_instance(3, scenarios=8, periods=5, seed=27, shortage="backorder")
    plan = heuristic_policy(inst, "jic_1")
    ev = evaluate_plan(inst, evaluation_scenarios(inst, 12), plan.base_stock, plan.reserved)
    assert ev.hindsight.expected_cost == pytest.approx(ev.causal.expected_cost, rel=1e-7)
    np.testing.assert_allclose(
        ev.stockout_units(), ev.stockout_units(causal=True), rtol=1e-7, atol=1e-7
    )
    assert 0.5 < ev.fill_rate() < 1.0
    assert ev.fill_rate() == pytest.approx(ev.fill_rate(causal=True), abs=1e-9)


# ------------------------------------------------------------- sampling quality -------
def test_mrp_gap_is_zero_for_a_replication_optimum_and_bound_formula():
    from scipy import stats

    from optimizer.analysis.sampling_quality import (
        mrp_gap,
        replication_scenarios,
        sample_size_study,
    )
    from optimizer.engines.dispatch import solve_program

    inst = make_instance(2, scenarios=6, periods=3, seed=28, emergency=True)
    own = program_data(inst, replication_scenarios(inst, 1, 8))
    cand = solve_program(own)
    est = mrp_gap(inst, cand.base_stock, cand.reserved, n_scenarios=8, replications=3)
    assert est.gaps[0] == pytest.approx(0.0, abs=1e-6 * max(1.0, cand.objective))
    assert est.saa_values[0] == pytest.approx(cand.objective, rel=1e-9)
    assert (est.gaps >= -1e-6 * max(1.0, cand.objective)).all()
    ucb = est.gaps.mean() + stats.t.ppf(0.95, 2) * est.gaps.std(ddof=1) / np.sqrt(3)
    assert est.upper_bound == pytest.approx(ucb, rel=1e-12)
    with pytest.raises(ValueError):
        mrp_gap(inst, cand.base_stock, cand.reserved, n_scenarios=8, replications=1)

    study = sample_size_study(inst, [4, 8], replications=2)
    assert list(study["N"]) == [4, 8]
    assert (study["gap_ucb"] >= study["mean_gap"]).all()
    assert np.isnan(study["plan_change"].iloc[0]) and study["plan_change"].iloc[1] >= 0


def test_coupled_instance_budget_use_and_cvar_pricing():
    """Budget and CVaR couple the stochastic program; pricing a fixed plan stays separable."""
    inst = make_instance(
        3, scenarios=8, periods=4, seed=29, budget_share=0.7, cvar_weight=0.5, fill_rate=0.5
    )
    policies = make_policies(inst, jic_cover=[4], service_levels=[95], include_ev=False)
    comp = compare_policies(inst, policies, eval_scenarios=10)
    t = comp.table.set_index("policy")
    B = inst.plan.inventory_budget
    for p in policies:
        assert t.loc[p.name, "budget_use"] == pytest.approx(
            float(inst.items.unit_cost @ p.base_stock) / B
        )
        assert np.isnan(t.loc[p.name, "storage_use"])
        assert 0 <= t.loc[p.name, "fill_targets_missed"] <= 3
    assert t.loc["stochastic", "budget_use"] <= 1 + 1e-9
    assert t.loc["jic_4", "budget_use"] > 1  # the heuristic ignores the budget
    ev = comp.evaluations["stochastic"]
    assert ev.cvar95() >= ev.expected().mean
    assert ev.hindsight.expected_cost == pytest.approx(ev.expected().mean)


def test_compare_says_it_ranks_single_level_plans(caplog):
    """``review_levels`` > 1 is not silently dropped: compare warns, with the way to it."""
    inst = make_instance(2, scenarios=8, periods=4, seed=26)
    warned = []
    for levels in (1, 3):
        caplog.clear()
        with caplog.at_level("WARNING", logger="optimizer.analysis.comparison"):
            comp = run_comparison(inst.with_plan(review_levels=levels), eval_scenarios=10)
        assert len(comp.table) > 0
        warned.append([r.getMessage() for r in caplog.records if "review_levels" in r.getMessage()])
    assert warned[0] == []
    assert len(warned[1]) == 1 and "review_levels = 3 is not used" in warned[1][0]
    assert "stockplan solve" in warned[1][0]
