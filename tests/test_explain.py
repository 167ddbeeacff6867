"""Why this level (optimizer/analysis/explain.py): the buffer's two causes and the cost of ±10%."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.analysis.explain import (
    explain_plan,
    outage_split,
    plan_is_free,
    tail_means,
    without_outages,
)
from optimizer.analysis.policies import newsvendor_fractile
from optimizer.instance import Instance, Items, PlanSettings, Suppliers
from optimizer.planning import make_plan
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import program_data
from optimizer.scenarios import arrival_periods, generate_scenarios
from tests.factories import make_instance


def one_item(disruption: float, *, scenarios: int = 200, seed: int = 5) -> Instance:
    """One item of a supplier that is down ``disruption`` of the periods it is up (per period)."""
    items = Items(
        name=np.array(["widget"]),
        supplier=np.array([0]),
        unit_cost=np.array([10.0]),
        demand_mean=np.array([20.0]),
        demand_std=np.array([6.0]),
        demand_dist=np.array(["normal"]),
        lead_time=np.array([2]),
        stockout_penalty=np.array([15.0]),
        emergency_premium=np.array([np.nan]),
        emergency_capacity=np.array([np.inf]),
        reservation_fee=np.array([np.nan]),
        min_fill_rate=np.array([np.nan]),
        volume=np.array([1.0]),
        capital_rate=np.array([0.1]),
        storage_rate=np.array([0.12]),
        obsolescence_rate=np.array([0.05]),
    )
    sup = Suppliers(np.array(["s"]), np.array([disruption]), np.array([0.4]))
    plan = PlanSettings(periods=13, scenarios=scenarios, seed=seed, unit="pcs", currency="EUR")
    return Instance(name="one", description="", plan=plan, items=items, suppliers=sup)


def _plan(instance: Instance):
    result = make_plan(instance, with_diagnostics=False, max_eval_scenarios=400)
    return result, result.solution


def test_always_up_arrivals_are_those_of_a_supplier_that_is_never_down():
    inst = make_instance(4, scenarios=6, disruption=0.4)
    data = program_data(inst, generate_scenarios(inst))
    up = without_outages(data)
    for i in range(data.n_items):
        want = arrival_periods(np.ones((data.n_scenarios, data.horizon), bool), data.lead[i])
        np.testing.assert_array_equal(up.arrival[i], want)
    np.testing.assert_array_equal(up.demand, data.demand)  # same draws
    assert not np.array_equal(up.arrival, data.arrival)  # the instance does have outages


def test_without_outages_the_outage_share_is_zero():
    inst = one_item(0.0)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, eval_scenarios=300)
    row = ex.table.iloc[0]
    assert row.outage_buffer == 0.0
    assert row.demand_buffer == pytest.approx(row.safety_stock, abs=1e-9)
    assert row.level_without_outages == row.base_stock
    assert "0 for supplier outages" in row.explanation


def test_with_outages_the_split_adds_up_to_the_buffer_and_outages_take_a_share():
    inst = one_item(0.15)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, eval_scenarios=300)
    row = ex.table.iloc[0]
    ss = sol.base_stock[0] - 3 * 20.0
    assert row.safety_stock == pytest.approx(ss)
    assert row.outage_buffer > 0
    assert row.demand_buffer + row.outage_buffer == pytest.approx(ss, abs=1e-9)
    # the same item with its supplier never down is the level without outages
    calm, calm_sol = _plan(one_item(0.0))
    assert row.level_without_outages < sol.base_stock[0]
    assert row.level_without_outages == pytest.approx(calm_sol.base_stock[0], abs=3)


def test_reusing_a_causal_plan_gives_the_split_of_a_fresh_search():
    inst = make_instance(5, scenarios=40, disruption=0.2, emergency=True)
    result, sol = _plan(inst)
    assert plan_is_free(inst, result.data, sol)
    kept = outage_split(result.data, sol.base_stock, sol.reserved, integer=True, plan_is_free=True)
    fresh = outage_split(result.data, sol.base_stock, sol.reserved, integer=True)
    np.testing.assert_array_equal(kept[1], fresh[1])
    np.testing.assert_array_equal(kept[0], fresh[0])


def test_a_hindsight_plan_is_not_taken_for_the_causal_search():
    inst = make_instance(3, scenarios=20).with_plan(recourse="hindsight")
    result, sol = _plan(inst)
    assert not plan_is_free(inst, result.data, sol)


def test_ten_percent_either_way_costs_no_less_at_the_optimum():
    inst = one_item(0.1, scenarios=400, seed=11)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, eval_scenarios=2000)
    row = ex.table.iloc[0]
    S = sol.base_stock[0]
    assert row.minus_10_level == np.round(0.9 * S)
    assert row.plus_10_level == np.round(1.1 * S)
    # same scenarios: a paired difference; at the optimum neither side is cheaper beyond noise
    for side in ("minus_10", "plus_10"):
        low, mean, high = (getattr(row, f"{side}_delta{k}") for k in ("_low", "", "_high"))
        assert low <= mean <= high
        assert high >= 0.0, side
        assert getattr(row, f"{side}_cost") == pytest.approx(row.cost + mean)
    assert row.minus_10_cost > row.cost  # a 10% cut with a 15x penalty is clearly dearer


def test_costs_are_the_causal_play_on_the_headline_stream():
    inst = one_item(0.1)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, eval_scenarios=150)
    fresh = program_data(
        inst, generate_scenarios(inst, 150, seed=inst.plan.seed, stream="evaluate")
    )
    play = play_plan(fresh, np.array([ex.table.minus_10_level[0]]), directions=VALUES_ONLY)
    assert ex.table.minus_10_cost[0] == pytest.approx(play.expected_cost[0], rel=1e-12)


def test_critical_ratio_and_sentence():
    inst = one_item(0.1)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, eval_scenarios=120)
    row = ex.table.iloc[0]
    h = float(inst.holding_cost[0])
    assert row.critical_ratio == pytest.approx(15.0 / (15.0 + h))
    assert row.critical_ratio == pytest.approx(newsvendor_fractile(inst)[0])
    assert row.penalty_to_holding == pytest.approx(15.0 / h)
    assert "critical ratio" in row.explanation and "pcs" in row.explanation
    assert "EUR" in row.explanation


def test_tail_means_add_up_to_the_tail_of_the_total():
    rng = np.random.default_rng(0)
    cost = rng.gamma(2.0, 3.0, (4, 1000))
    total = cost.sum(axis=0)
    p = np.full(1000, 1e-3)
    tail = tail_means(cost, total, p, 0.95)
    worst = np.sort(total)[-50:].mean()
    assert tail.sum() == pytest.approx(worst)


def test_sweep_and_curves_for_the_costliest_items():
    inst = make_instance(6, scenarios=30, disruption=0.2)
    result, sol = _plan(inst)
    ex = explain_plan(inst, result.data, sol.base_stock, sol.reserved, curve_items=3)
    assert len(ex.curves) == 3
    costliest = ex.table.sort_values("cost", ascending=False).item.head(3).tolist()
    assert list(ex.curves) == costliest
    for name, (levels, costs) in ex.curves.items():
        assert np.all(np.diff(levels) > 0)
        i = list(inst.items.name).index(name)
        assert sol.base_stock[i] in levels
        at = costs[list(levels).index(sol.base_stock[i])]
        assert at == pytest.approx(ex.table.cost[i])  # the same scenarios as the table
    assert list(ex.sweep.policy)[-1] == "plan"
    assert ex.sweep.expected_cost.iloc[-1] == pytest.approx(ex.table.cost.sum())


def test_paired_intervals_are_those_of_mean_ci_row_by_row():
    from optimizer.analysis.diagnostics import mean_ci
    from optimizer.analysis.explain import paired_ci

    rng = np.random.default_rng(2)
    d = rng.normal(1.0, 3.0, (3, 50))
    for p in (np.full(50, 0.02), rng.dirichlet(np.ones(50))):
        mean, low, high = paired_ci(d, p)
        for k in range(3):
            iv = mean_ci(d[k], p)
            assert (mean[k], low[k], high[k]) == pytest.approx((iv.mean, iv.low, iv.high))
