"""Optima worked out by hand (see tests/hand_cases.py for the path of S = 10 + x)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engines.base import SolveConfig, SolveStatus
from optimizer.engines.dispatch import require_plan, solve_program
from optimizer.errors import InfeasiblePlanError
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios
from tests.hand_cases import hand_instance

ALL = ["ef", "matrix", "decomposed"]


def solve(inst, engine="matrix"):
    data = program_data(inst, generate_scenarios(inst))
    if engine == "decomposed" and not data.is_separable:
        engine = "matrix"
    return solve_program(data, SolveConfig(engine)), data


@pytest.mark.parametrize("engine", ALL)
def test_reliable_supplier_deterministic_demand_needs_one_period_of_stock(engine):
    sol, _ = solve(hand_instance(down=()), engine)
    assert sol.outcome is SolveStatus.OPTIMAL
    assert sol.base_stock[0] == pytest.approx(10.0, abs=1e-7)
    assert sol.objective == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("engine", ALL)
def test_lost_sales_outage_buffers_the_whole_outage(engine):
    # cost(x) = x + 100 (10 - x) + x, minimised at x = 10: S = 20, cost 20
    sol, _ = solve(hand_instance(), engine)
    assert sol.base_stock[0] == pytest.approx(20.0, abs=1e-6)
    assert sol.objective == pytest.approx(20.0, abs=1e-6)


@pytest.mark.parametrize("engine", ALL)
def test_backorder_cheap_penalty_rides_out_the_outage(engine):
    # backorder, p = 1.5 per unit-period: cost(x) = x + 1.5 (10 - x) + x -> x = 0, cost 15
    sol, _ = solve(hand_instance(shortage="backorder", penalty=1.5), engine)
    assert sol.base_stock[0] == pytest.approx(10.0, abs=1e-6)
    assert sol.objective == pytest.approx(15.0, abs=1e-6)
    assert sol.recourse.B[0, 0].tolist() == pytest.approx([0, 0, 10, 0], abs=1e-6)
    # backlog can only be served once carried in, so unmet demand is the real shortfall:
    # 10 of the 30 costed units wait a period -> fill rate 2/3
    assert sol.recourse.n[0, 0].tolist() == pytest.approx([0, 0, 10, 0], abs=1e-6)
    assert sol.evaluation.fill_rate[0] == pytest.approx(2 / 3, abs=1e-9)


@pytest.mark.parametrize("engine", ALL)
def test_emergency_supply_with_capacity(engine):
    # h = 3, premium 4, capacity 6: x in [4, 10] costs 6x + 4 (10 - x) -> x = 4, cost 48
    sol, _ = solve(hand_instance(holding=3.0, premium=4.0, capacity=6.0), engine)
    assert sol.base_stock[0] == pytest.approx(14.0, abs=1e-6)
    assert sol.objective == pytest.approx(48.0, abs=1e-6)
    assert sol.recourse.e[0, 0, 2] == pytest.approx(6.0, abs=1e-6)


@pytest.mark.parametrize("fee, S, K, cost", [(0.5, 14.0, 6.0, 57.0), (1.0, 20.0, 0.0, 60.0)])
@pytest.mark.parametrize("engine", ALL)
def test_reserved_capacity_is_bought_only_when_the_fee_pays(engine, fee, S, K, cost):
    # cost(x, K) = 6x + 4 min(K, 10-x) + 100 (10-x-K)+ + 3 fee K, K <= 6
    inst = hand_instance(holding=3.0, premium=4.0, capacity=6.0, fee=fee)
    sol, _ = solve(inst, engine)
    assert sol.base_stock[0] == pytest.approx(S, abs=1e-6)
    assert sol.reserved[0] == pytest.approx(K, abs=1e-6)
    assert sol.objective == pytest.approx(cost, abs=1e-6)


@pytest.mark.parametrize("engine", ["matrix", "ef"])
def test_budget_splits_between_identical_items(engine):
    # two copies of the lost-sales case, budget 35 = 20 + 15: total 2000 - 98 * 15
    sol, _ = solve(hand_instance(n_items=2, budget=35.0), engine)
    assert sol.base_stock.sum() == pytest.approx(35.0, abs=1e-6)
    assert sol.objective == pytest.approx(2000 - 98 * 15, abs=1e-6)


def test_fill_rate_target_forces_the_buffer():
    # backorder p = 1.5 alone would keep S = 10 (fill 2/3 in the costed periods);
    # a 100% fill rate needs S = 20: cost 20 instead of 15
    sol, _ = solve(hand_instance(shortage="backorder", penalty=1.5, fill_rate=1.0))
    assert sol.base_stock[0] == pytest.approx(20.0, abs=1e-6)
    assert sol.objective == pytest.approx(20.0, abs=1e-6)
    assert sol.evaluation.fill_rate[0] == pytest.approx(1.0)


def test_infeasible_budget_is_named_as_the_conflict():
    inst = hand_instance(n_items=2, budget=25.0, fill_rate=1.0)
    data = program_data(inst, generate_scenarios(inst))
    sol = solve_program(data, SolveConfig("matrix"))
    assert sol.outcome is SolveStatus.INFEASIBLE
    assert not sol.has_plan and sol.recourse is None
    with pytest.raises(InfeasiblePlanError, match="inventory budget") as info:
        require_plan(sol, data, SolveConfig())
    assert info.value.exit_code == 4


def test_causal_simulator_follows_the_hand_path():
    from optimizer.program.simulate import simulate_plan

    inst = hand_instance()
    data = program_data(inst, generate_scenarios(inst))
    rec = simulate_plan(data, np.array([14.0]), np.zeros(1))
    assert rec.I[0, 0].tolist() == pytest.approx([4, 4, 0, 4])
    assert rec.n[0, 0].tolist() == pytest.approx([0, 0, 6, 0])
    assert rec.s[0, 0].tolist() == pytest.approx([10, 10, 4, 10])
