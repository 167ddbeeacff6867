"""Hypothesis properties of the stochastic program (small random instances).

EVPI >= 0 and VSS >= 0; scaling every cost by k scales the optimum by k and keeps the
plan optimal; permuting scenarios or items changes nothing; a higher stockout penalty
never lowers the (largest optimal) base-stock level.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import solve_program
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios, mean_value_scenario
from tests.factories import make_instance

SETTINGS = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

instances = st.builds(
    make_instance,
    n_items=st.integers(1, 3),
    scenarios=st.integers(3, 8),
    periods=st.integers(2, 4),
    seed=st.integers(0, 10_000),
    shortage=st.sampled_from(["lost_sales", "backorder"]),
    emergency=st.booleans(),
    reserve=st.booleans(),
    disruption=st.sampled_from([0.0, 0.2, 0.5]),
    black_swan=st.booleans(),
    cvar_weight=st.sampled_from([0.0, 0.5]),
    budget_share=st.sampled_from([None, 0.4]),
)


def _solve(inst, **kw):
    data = program_data(inst, generate_scenarios(inst))
    sol = solve_program(data, SolveConfig("matrix"), **kw)
    assert sol.status.value == "optimal"
    return data, sol


@SETTINGS
@given(inst=instances)
def test_evpi_and_vss_are_nonnegative(inst):
    data, rp = _solve(inst)
    ws = solve_program(data, SolveConfig("matrix"), SolveRequest.wait_and_see())
    assert rp.objective - ws.objective >= -1e-7 * max(1.0, abs(rp.objective))
    ev = solve_program(program_data(inst, mean_value_scenario(inst)), SolveConfig("matrix"))
    eev = solve_program(
        data, SolveConfig("matrix"), SolveRequest(base_stock=ev.base_stock, reserved=ev.reserved)
    )
    assert eev.objective - rp.objective >= -1e-7 * max(1.0, abs(rp.objective))


def _scale_costs(inst, k):
    it = inst.items
    items = replace(
        it,
        unit_cost=it.unit_cost * k,
        stockout_penalty=it.stockout_penalty * k,
        emergency_premium=it.emergency_premium * k,
        reservation_fee=it.reservation_fee * k,
    )
    plan = inst.plan
    if plan.inventory_budget is not None:  # the budget is in money too
        plan = replace(plan, inventory_budget=plan.inventory_budget * k)
    return replace(inst, items=items, plan=plan)


@SETTINGS
@given(inst=instances, k=st.sampled_from([0.1, 3.0, 250.0]))
def test_scaling_costs_scales_the_objective_and_keeps_the_plan(inst, k):
    data, sol = _solve(inst)
    scaled = _scale_costs(inst, k)
    sdata, ssol = _solve(scaled)
    assert ssol.objective == pytest.approx(k * sol.objective, rel=1e-6, abs=1e-9)
    kept = solve_program(
        sdata,
        SolveConfig("matrix"),
        SolveRequest(base_stock=sol.base_stock, reserved=sol.reserved, keep_fill_rate=True),
    )
    assert kept.objective == pytest.approx(ssol.objective, rel=1e-6, abs=1e-9)


@SETTINGS
@given(inst=instances, seed=st.integers(0, 1000))
def test_permuting_scenarios_changes_nothing(inst, seed):
    data, sol = _solve(inst)
    perm = np.random.default_rng(seed).permutation(data.n_scenarios)
    pdata = program_data(inst, generate_scenarios(inst).subset_scenarios(perm))
    psol = solve_program(pdata, SolveConfig("matrix"))
    assert psol.objective == pytest.approx(sol.objective, rel=1e-7, abs=1e-9)


@SETTINGS
@given(inst=instances, seed=st.integers(0, 1000))
def test_permuting_items_changes_nothing(inst, seed):
    _, sol = _solve(inst)
    perm = np.random.default_rng(seed).permutation(len(inst.items))
    pinst = inst.subset_items(perm)
    # items keep their own random streams, so their scenarios follow them
    pdata, psol = _solve(pinst)
    assert psol.objective == pytest.approx(sol.objective, rel=1e-7, abs=1e-9)
    priced = solve_program(
        pdata,
        SolveConfig("matrix"),
        SolveRequest(base_stock=sol.base_stock[perm], reserved=sol.reserved[perm]),
    )
    assert priced.objective == pytest.approx(psol.objective, rel=1e-7, abs=1e-9)


@SETTINGS
@given(inst=instances, factor=st.sampled_from([1.5, 4.0]))
def test_higher_stockout_penalty_never_lowers_the_level(inst, factor):
    """Largest optimal level is monotone: max(S_low, S_high) is optimal at the high penalty."""
    if inst.plan.inventory_budget is not None or inst.risk.cvar_weight > 0:
        inst = replace(
            inst,
            plan=replace(inst.plan, inventory_budget=None),
            risk=replace(inst.risk, cvar_weight=0.0),
        )
    _, low = _solve(inst)
    it = inst.items
    high_inst = replace(inst, items=replace(it, stockout_penalty=it.stockout_penalty * factor))
    hdata, high = _solve(high_inst)
    top = np.maximum(low.base_stock, high.base_stock)
    priced = solve_program(
        hdata, SolveConfig("matrix"), SolveRequest(base_stock=top, reserved=high.reserved)
    )
    assert priced.objective == pytest.approx(high.objective, rel=1e-7, abs=1e-9)
