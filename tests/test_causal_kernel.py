"""The causal kernel equals simulate_plan + evaluate_solution, and its derivatives are exact.

:mod:`optimizer.program.causal_kernel` replays :func:`simulate_plan` in numba with
forward-mode tangents. These tests compare costs, cost lines and fill rates with the numpy
simulation on every instance kind, the one-sided derivatives with finite differences
(equal away from kinks and, the functions being piecewise linear, equal to the one-sided
differences with small steps at kinks too), and measure where convexity in S and in
(S, K) holds and where it fails.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.program.causal_kernel import DIRECTIONS, play_plan
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import simulate_plan
from optimizer.program.verifier import evaluate_solution
from optimizer.scenarios import arrival_periods, generate_scenarios, sample_supplier_path
from tests.factories import make_instance

KINDS = {
    "lost_sales": dict(),
    "backorder": dict(shortage="backorder"),
    "emergency": dict(emergency=True, disruption=0.3),
    "backorder_emergency": dict(shortage="backorder", emergency=True, disruption=0.3),
    "reservation": dict(emergency=True, reserve=True, n_items=6, disruption=0.3),
    "backorder_reservation": dict(shortage="backorder", emergency=True, reserve=True, n_items=6),
    "black_swan": dict(black_swan=True, emergency=True),
    "explicit_warmup": dict(warmup=4, periods=3, shortage="backorder"),
    "no_outages": dict(disruption=0.0, emergency=True, reserve=True, n_items=4),
}


def random_data(
    seed: int,
    *,
    n: int = 5,
    N: int = 25,
    backorder: bool = False,
    poisson: bool = False,
    periods: int = 8,
) -> ProgramData:
    """Random program data built directly: leads 0-4, outages, emergency with and without
    capacity, reserving items, per-item start periods, integer or continuous demand."""
    rng = np.random.default_rng(seed)
    lead = rng.integers(0, 5, n)
    start = rng.integers(0, 3, n)
    W = int(lead.max() + 4)
    H = W + periods
    mean = rng.uniform(2, 20, n).round(1)
    if poisson:
        demand = rng.poisson(mean[:, None, None], (n, N, H)).astype(float)
    else:
        demand = rng.gamma(2.0, mean[:, None, None] / 2.0, (n, N, H))
    for i in range(n):
        demand[i, :, : start[i]] = 0.0
    arrival = np.empty((n, N, H), dtype=np.int64)
    for i in range(n):
        up = sample_supplier_path(rng, [0.0, 0.2, 0.4][i % 3], 0.5, N, H)
        arrival[i] = arrival_periods(up, int(lead[i]))
    cost = rng.uniform(2, 50, n)
    kind = np.arange(n) % 4  # 0: none, 1: unlimited, 2: capacity, 3: reserved capacity
    capacity = np.select([kind == 0, kind == 1], [0.0, np.inf], np.ceil(0.6 * mean))
    penalty = cost * rng.uniform(0.5, 2.0, n)
    return ProgramData(
        backorder=backorder,
        warmup=W,
        periods=periods,
        probability=rng.dirichlet(np.ones(N)),
        demand=demand,
        arrival=arrival,
        mean=mean,
        lead=lead.astype(np.int64),
        carrying=np.vstack([cost * 0.004, cost * 0.002, cost * 0.001]),
        holding=cost * 0.007,
        penalty=penalty,
        premium=np.where(kind > 0, 0.3 * penalty, 0.0),
        capacity=capacity,
        fee=np.where(kind == 3, 0.01 * cost, np.nan),
        fill_rate=np.full(n, np.nan),
        unit_cost=cost,
        volume=np.ones(n),
        budget=None,
        storage=None,
        cvar_alpha=0.9,
        cvar_weight=0.0,
        start=start.astype(np.int64),
    )


def _plan(data: ProgramData, rng: np.random.Generator, integer: bool = False):
    S = data.min_base_stock + rng.uniform(0.0, 2.5, data.n_items) * (data.lead + 1) * data.mean
    top = np.where(np.isfinite(data.capacity), data.capacity, data.mean)
    K = rng.uniform(0.0, 1.2, data.n_items) * top
    if integer:
        S, K = np.ceil(S), np.round(K)
    return S, K


def _assert_same(data: ProgramData, S: np.ndarray, K: np.ndarray) -> None:
    play = play_plan(data, S, K)
    ev = evaluate_solution(data, S, K, simulate_plan(data, S, K))
    scale = 1.0 + np.abs(ev.item_scenario_cost).max()
    assert np.abs(play.cost - ev.item_scenario_cost).max() <= 1e-9 * scale
    assert np.abs(play.expected_lines - ev.lines).max() <= 1e-9 * scale
    assert np.allclose(play.fill_rate, ev.fill_rate, rtol=0, atol=1e-12)
    assert np.allclose(play.unmet @ data.probability, ev.stockout_units, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kernel_equals_simulation_on_every_instance_kind(kind):
    inst = make_instance(**{"scenarios": 30, "periods": 6, **KINDS[kind]})
    data = program_data(inst, generate_scenarios(inst))
    rng = np.random.default_rng(11)
    for integer in (False, True):
        _assert_same(data, *_plan(data, rng, integer))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("backorder", [False, True])
def test_kernel_equals_simulation_on_random_data(seed, backorder):
    """Leads 0-4, outages, every emergency kind, reserved capacity, item start periods,
    integer demand (ties everywhere) and continuous demand; also plans with K beyond the
    capacity and S below the pipeline (the simulation plays those too)."""
    rng = np.random.default_rng(seed)
    for poisson in (False, True):
        data = random_data(seed, backorder=backorder, poisson=poisson)
        S, K = _plan(data, rng, integer=poisson)
        _assert_same(data, S, K)
        _assert_same(data, 0.5 * data.min_base_stock, 2.0 * K)


def test_blocks_with_repeated_items_equal_single_rows():
    data = random_data(3, poisson=True)
    rng = np.random.default_rng(0)
    S, K = _plan(data, rng)
    items = np.array([2, 0, 2, 4, 4, 1])
    block = play_plan(data, S[items] + np.arange(6), K[items], items=items)
    for r, i in enumerate(items):
        one = play_plan(data, S[[i]] + r, K[[i]], items=np.array([i]))
        assert np.array_equal(block.lines[r], one.lines[0])
        assert np.array_equal(block.cost_derivative[r], one.cost_derivative[0])


def _finite_differences(data, S, K, h, column):
    """One-sided differences of the scenario costs and unmet units along DIRECTIONS[column]."""
    dS, dK = DIRECTIONS[column]
    base = play_plan(data, S, K)
    moved = play_plan(data, S + h * dS, K + h * dK)
    return (moved.cost - base.cost) / h, (moved.unmet - base.unmet) / h, base


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backorder", [False, True])
def test_derivatives_equal_finite_differences_away_from_kinks(seed, backorder):
    """Continuous demand and plans: no kink within the step, so the one-sided differences
    equal the derivatives (both sides agree); fill-rate slopes follow from the unmet ones."""
    data = random_data(seed, backorder=backorder)
    S, K = _plan(data, np.random.default_rng(seed))
    h = 1e-7
    for column in range(4):
        fd, fd_unmet, base = _finite_differences(data, S, K, h, column)
        scale = 1.0 + np.abs(base.cost_derivative).max()
        assert np.abs(fd - base.cost_derivative[:, :, column]).max() <= 1e-4 * scale
        assert np.abs(fd_unmet - base.unmet_derivative[:, :, column]).max() <= 1e-4 * (
            1.0 + np.abs(base.unmet_derivative).max()
        )
    assert np.allclose(base.right_S, -base.slope(-1.0, 0.0), rtol=1e-9, atol=1e-9)
    d_total = base.demand @ data.probability
    fill_fd = -(play_plan(data, S + h, K).unmet - base.unmet) @ data.probability / h / d_total
    assert np.allclose(base.fill_slope(1.0, 0.0), fill_fd, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backorder", [False, True])
def test_derivatives_are_exact_at_kinks(seed, backorder):
    """Integer demand, integer S and K: ties in every min. The cost is piecewise linear,
    so a one-sided difference with a step below the kink spacing equals the one-sided
    derivative exactly; left and right differ at kinks and bracket the central difference
    when the path is locally convex."""
    data = random_data(seed, backorder=backorder, poisson=True)
    S, K = _plan(data, np.random.default_rng(seed), integer=True)
    h = 1e-6
    kinks = 0
    for column in range(4):
        fd, _, base = _finite_differences(data, S, K, h, column)
        scale = 1.0 + np.abs(base.cost_derivative).max()
        assert np.abs(fd - base.cost_derivative[:, :, column]).max() <= 1e-5 * scale
    right = base.cost_derivative[:, :, 0]
    left = -base.cost_derivative[:, :, 1]
    kinks = int((np.abs(right - left) > 1e-6).sum())
    assert kinks > 0  # the test really sits on kinks


def test_nonzero_tie_tolerance_matters_for_round_off_ties():
    """With mean 0.1 the pipeline sum S - 3(0.1) + 0.1 + 0.1 + 0.1 misses S by an ulp, so
    exact comparisons see a spurious order of equal numbers; the tolerance sees the tie."""
    data = random_data(0, poisson=True)
    data = replace(data, mean=np.full(data.n_items, 0.1), lead=np.full(data.n_items, 3))
    S = np.ceil(data.min_base_stock) + 3.0
    K = np.zeros(data.n_items)
    exact = play_plan(data, S, K, tie=0.0)
    tolerant = play_plan(data, S, K)
    assert np.array_equal(exact.cost, tolerant.cost)  # values never depend on the rule
    fd, _, _ = _finite_differences(data, S, K, 1e-6, 0)
    err = np.abs(fd - tolerant.cost_derivative[:, :, 0]).max()
    assert err <= 1e-5 * (1.0 + np.abs(fd).max())


# ------------------------------------------------------------------ convexity -------
def _second_differences(data, i, grid, K=0.0):
    play = play_plan(data, grid, np.full(grid.size, K), items=np.full(grid.size, i))
    C = play.cost
    return (C[2:] - 2 * C[1:-1] + C[:-2]) / (1.0 + np.abs(C[1:-1])), play


def _all_costed(data: ProgramData) -> ProgramData:
    return replace(data, warmup=0, periods=data.horizon, start=np.zeros(data.n_items, np.int64))


@pytest.mark.parametrize("seed", range(5))
def test_lost_sales_without_lead_is_convex_in_S_on_every_path(seed):
    """Lost sales, no lead time, every period costed: every scenario's cost is convex in S
    unless a finite emergency capacity meets supplier outages; that combination is
    measurably non-convex (documented: the capped emergency source and the outage queue
    interact)."""
    data = _all_costed(random_data(seed, N=20))
    data = replace(
        data,
        lead=np.zeros(data.n_items, np.int64),
        arrival=np.minimum(data.arrival - data.lead[:, None, None], data.horizon),
        premium=np.minimum(data.premium, data.penalty),
    )
    outages = (data.arrival > np.arange(data.horizon) + 1).any(axis=(1, 2))
    capped = data.has_emergency & np.isfinite(data.capacity)
    worst_capped_outage = 0.0
    for i in range(data.n_items):
        grid = np.arange(0.0, 4.0 * data.mean[i], 0.37)
        second, play = _second_differences(data, i, grid)
        if capped[i] and outages[i]:
            worst_capped_outage = min(worst_capped_outage, second.min())
            continue
        assert second.min() >= -1e-9
        # exact one-sided slopes are monotone along the grid: right(x_k) <= left(x_k+1)
        right = play.cost_derivative[:, :, 0]
        left = -play.cost_derivative[:, :, 1]
        assert (left <= right + 1e-9).all()
        assert (right[:-1] <= left[1:] + 1e-9).all()
    assert (capped & outages).any()
    assert worst_capped_outage < -1e-3


def test_convexity_in_S_fails_on_costed_lost_sales_paths_and_nearly_holds_on_average():
    """Documents a convexity failure: with lead times, the costed periods of a lost-sales
    path after an uncosted warm-up are not convex in S (the costed cost is the full-path
    cost minus the warm-up's, both convex); costing every period leaves only small
    finite-horizon violations, and the sample average is far closer to convex."""
    worst = {"warm-up": 0.0, "all costed": 0.0, "average": 0.0}
    for seed in range(6):
        data = random_data(seed, N=20)
        data = replace(data, premium=np.minimum(data.premium, data.penalty))
        for i in np.nonzero(data.lead > 0)[0]:
            grid = data.min_base_stock[i] + np.arange(0.0, 3.0 * (data.lead[i] + 1) * data.mean[i])
            second, play = _second_differences(data, i, grid)
            worst["warm-up"] = min(worst["warm-up"], second.min())
            E = play.expected_cost
            avg = (E[2:] - 2 * E[1:-1] + E[:-2]) / (1.0 + np.abs(E[1:-1]))
            worst["average"] = min(worst["average"], avg.min())
            second_all, _ = _second_differences(_all_costed(data), i, grid)
            worst["all costed"] = min(worst["all costed"], second_all.min())
    assert worst["warm-up"] < -1e-3  # a real failure, not round-off
    assert worst["all costed"] > worst["warm-up"]
    assert worst["average"] > worst["warm-up"]


def test_joint_convexity_in_S_and_K_measured():
    """Midpoint convexity of the scenario costs in (S, K) on random pairs: it holds to
    round-off when nothing carries over between periods (no lead, no outages, every
    period costed), and fails on paths with a lead time and outages (documented)."""
    rng = np.random.default_rng(5)

    def worst_gap(data):
        worst = 0.0
        for i in np.nonzero(data.reserves)[0]:
            span = 3.0 * (data.lead[i] + 1) * data.mean[i]
            x, y = (
                np.column_stack(
                    [
                        data.min_base_stock[i] + rng.uniform(0, span, 100),
                        rng.uniform(0, data.capacity[i], 100),
                    ]
                )
                for _ in range(2)
            )
            z = 0.5 * (x + y)
            cost = [
                play_plan(data, q[:, 0], q[:, 1], items=np.full(100, i)).cost for q in (x, y, z)
            ]
            gap = (0.5 * (cost[0] + cost[1]) - cost[2]) / (1.0 + np.abs(cost[2]))
            worst = min(worst, gap.min())
        return worst

    simple, carried = 0.0, 0.0
    for seed in range(4):
        data = random_data(seed, n=8)
        flat = _all_costed(data)
        H = flat.horizon
        flat = replace(
            flat,
            lead=np.zeros(flat.n_items, np.int64),
            arrival=np.broadcast_to(np.minimum(np.arange(H) + 1, H), flat.arrival.shape).copy(),
        )
        simple = min(simple, worst_gap(flat))
        carried = min(carried, worst_gap(data))
    assert simple >= -1e-9
    assert carried < -1e-3


def test_backorders_with_emergency_supply_are_not_convex_in_S():
    """Documents the backorder + emergency case: the order stream d - e depends on S, and
    scenario costs are measurably non-convex in S even with every period costed, while
    backorders without emergency supply stay convex (orders are the demand)."""
    with_em, without = 0.0, 0.0
    for seed in range(5):
        data = _all_costed(random_data(seed, backorder=True, N=20))
        for i in range(data.n_items):
            grid = data.min_base_stock[i] + np.arange(0.0, 3.0 * (data.lead[i] + 1) * data.mean[i])
            second, _ = _second_differences(data, i, grid)
            if data.has_emergency[i]:
                with_em = min(with_em, second.min())
            else:
                without = min(without, second.min())
    assert with_em < -1e-3
    assert without >= -1e-9
