"""The causal kernel and search against exact long-run costs from Markov chains.

Six lost-sales items with Poisson demand (leads 1-3, with and without supplier outages,
with and without capped emergency supply), each with its own supplier, are sampled
through the library (instance -> scenarios -> program data, default warm-up and per-item
start periods). :mod:`tests.markov_reference` gives each item's exact long-run cost per
period at every level and the exact cost of every period from the simulation's start-up
state, so the sample average, the searched level and the warm-up can be checked.

Sample size: 2,000 scenarios x 52 costed periods (104,000 item-periods per item); the
standard error of the costed mean is then 0.3-0.6% of the cost.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.engines.causal_search import search_items
from optimizer.instance import Instance, Items, PlanSettings, RiskSettings, Suppliers
from optimizer.program.causal_kernel import play_plan
from optimizer.program.data import program_data
from optimizer.program.simulate import simulate_plan
from optimizer.scenarios import generate_scenarios
from tests.markov_reference import MarkovItem, build_chain, long_run_cost, optimum, start_law

ITEMS = [
    MarkovItem(4, 1, 1.0, 9.0),
    MarkovItem(3, 2, 1.0, 9.0, alpha=0.1, beta=0.5),
    MarkovItem(4, 1, 1.0, 9.0, capacity=2, premium=3.0),
    MarkovItem(3, 2, 1.0, 12.0, alpha=0.1, beta=0.4, capacity=3, premium=4.0),
    MarkovItem(2, 3, 1.0, 9.0, alpha=0.05, beta=0.3),
    MarkovItem(2, 3, 1.0, 19.0, capacity=1, premium=2.0),
]
SCENARIOS, PERIODS = 2000, 52


def markov_instance(items: list[MarkovItem], scenarios: int, periods: int, seed: int = 1):
    """An instance whose items are ``items`` (one supplier each, holding = unit cost)."""
    n = len(items)

    def col(k: str) -> np.ndarray:
        return np.array([getattr(m, k) for m in items], dtype=float)

    has_em = col("capacity") > 0
    it = Items(
        name=np.array([f"m{i}" for i in range(n)]),
        supplier=np.arange(n),
        unit_cost=col("holding"),
        demand_mean=col("mean"),
        demand_std=np.sqrt(col("mean")),
        demand_dist=np.array(["poisson"] * n),
        lead_time=col("lead").astype(int),
        stockout_penalty=col("penalty"),
        emergency_premium=np.where(has_em, col("premium"), np.nan),
        emergency_capacity=np.where(has_em, col("capacity"), np.inf),
        reservation_fee=np.full(n, np.nan),
        min_fill_rate=np.full(n, np.nan),
        volume=np.ones(n),
        capital_rate=np.full(n, 0.3),
        storage_rate=np.full(n, 0.5),
        obsolescence_rate=np.full(n, 0.2),
    )
    sup = Suppliers(
        np.array([f"s{i}" for i in range(n)]),
        col("alpha"),
        np.where(col("alpha") > 0, col("beta"), 1.0),
    )
    plan = PlanSettings(
        periods=periods,
        periods_per_year=1.0,
        scenarios=scenarios,
        seed=seed,
        shortage="lost_sales",
    )
    return Instance(
        name="markov",
        description="Markov-chain reference items",
        plan=plan,
        items=it,
        suppliers=sup,
        black_swan=None,
        risk=RiskSettings(0.9, 0.0),
    )


@pytest.fixture(scope="module")
def sampled():
    inst = markov_instance(ITEMS, SCENARIOS, PERIODS)
    return program_data(inst, generate_scenarios(inst))


@pytest.fixture(scope="module")
def optima():
    return [optimum(m) for m in ITEMS]


def test_chain_rows_are_laws_and_costs_are_sane():
    for m in ITEMS:
        chain = build_chain(m, 10)
        assert np.allclose(np.asarray(chain.P.sum(axis=1)).ravel(), 1.0, atol=1e-12)
        assert (chain.cost >= 0).all()
        assert abs(chain.stationary().sum() - 1.0) < 1e-12
    # a huge level never stocks out: cost is holding on the expected stock S - (L+1) mu
    big = MarkovItem(2, 1, 1.0, 9.0)
    assert long_run_cost(big, 30) == pytest.approx(30 - 2 * 2, rel=1e-9)


def test_instance_holds_the_chain_parameters(sampled):
    assert np.allclose(sampled.holding, [m.holding for m in ITEMS])
    assert np.allclose(sampled.capacity, [m.capacity for m in ITEMS])
    assert np.allclose(sampled.premium, [m.premium for m in ITEMS])


@pytest.mark.slow
def test_sample_average_cost_matches_the_exact_long_run_cost(sampled, optima):
    """At the exact optimum and one level either side, the sample-average cost per costed
    period is within 3% of the exact long-run cost (measured: within 1.1%; within 3
    standard errors)."""
    for i, (m, (S_star, _, costs)) in enumerate(zip(ITEMS, optima, strict=True)):
        levels = np.array([S_star - 1, S_star, S_star + 1], dtype=float)
        play = play_plan(sampled, levels, items=np.full(3, i))
        per_period = play.expected_cost / PERIODS
        se = play.cost.std(axis=1) / np.sqrt(SCENARIOS) / PERIODS
        exact = np.array([costs.get(int(S), long_run_cost(m, int(S))) for S in levels])
        assert np.all(np.abs(per_period / exact - 1.0) <= 0.03), (i, per_period, exact)
        assert np.all(np.abs(per_period - exact) <= 3.5 * se + 0.008 * exact), (i, se)


@pytest.mark.slow
def test_searched_level_is_near_the_exact_optimum(sampled, optima):
    """The causal search on the sample gives levels whose exact long-run cost is within
    0.5% of the exact optimum (whole units and continuous)."""
    for integer in (True, False):
        plans = search_items(sampled, integer=integer)
        assert plans.certified.all()
        for i, m in enumerate(ITEMS):
            S_star, best, _ = optima[i]
            S = plans.base_stock[i]
            if integer:
                exact = long_run_cost(m, int(S))
            else:  # the long-run cost is linear between integer levels (integer demand)
                lo = int(np.floor(S))
                frac = S - lo
                exact = (1 - frac) * long_run_cost(m, lo) + frac * long_run_cost(m, lo + 1)
            assert exact <= 1.005 * best, (i, S, S_star, exact, best)


def test_costed_periods_start_in_steady_state(sampled):
    """The default warm-up removes the start-up bias. The start-up state (on hand
    S - L mu, mu arriving in each of the first L periods) is not the steady state: its
    first periods cost 7-35% more than the long run (exact, from the chain's transient
    law). Items of reliable suppliers get their own warm-up of 2L + 3 periods, after
    which every period is within 0.1% of the long-run cost (exact), far below the
    sampling error; items with outages add the outage allowance and start unbiased too.
    The simulation's first costed period agrees with the long-run cost within its
    sampling error."""
    W = sampled.warmup
    for i, m in enumerate(ITEMS):
        S = int(round((m.lead + 1) * m.mean + 2))
        chain = build_chain(m, S)
        long_run = float(chain.stationary() @ chain.cost)
        transient = chain.transient_costs(start_law(m, chain), 80) / long_run - 1.0
        own = W - int(sampled.start[i])
        assert own >= 2 * m.lead + 3
        if m.alpha == 0:
            assert own == 2 * m.lead + 3
            assert transient[max(1, m.lead)] > 0.05  # a warm-up of max(1, L) is biased
        assert np.abs(transient[own:]).max() < 1e-3
        one = sampled.item(i)
        rec = simulate_plan(one, np.array([float(S)]), np.zeros(1))
        cost = one.holding[0] * rec.I[0] + one.penalty[0] * rec.n[0] + one.premium[0] * rec.e[0]
        first = cost[:, W]
        assert abs(first.mean() - long_run) < 4.0 * first.std() / np.sqrt(SCENARIOS)
