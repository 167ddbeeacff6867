"""The per-item causal search reaches the best level of a brute-force scan.

:mod:`optimizer.engines.causal_search` minimises each item's causal sample-average cost
with the kernel's exact one-sided derivatives. The tests compare its whole-unit answers
with an exhaustive scan over levels (and reservations), check the continuous certificate
:math:`\\partial^- \\le 0 \\le \\partial^+`, the fill-rate floor, and the priced row
against the Lagrangian bound and a brute-force optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from optimizer.engines.causal_floor import fill_rate_floor
from optimizer.engines.causal_price import price_for_row
from optimizer.engines.causal_search import search_items
from optimizer.program.causal_kernel import play_plan
from tests.test_causal_kernel import random_data


def _scan(data, i, K=0.0, top=None, step=1.0):
    lo = np.ceil(data.min_base_stock[i] - 1e-9)
    top = lo + 5 * (data.lead[i] + 1) * data.mean[i] if top is None else top
    grid = np.arange(lo, top, step)
    play = play_plan(data, grid, np.full(grid.size, K), items=np.full(grid.size, i))
    return grid, play.expected_cost


def _plain(data):
    """The data without reserved capacity (every item's K fixed at its capacity)."""
    return replace(data, fee=np.full(data.n_items, np.nan))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("backorder", [False, True])
def test_whole_units_equal_the_brute_force_best(seed, backorder):
    data = _plain(random_data(seed, backorder=backorder, poisson=seed % 2 == 0))
    plans = search_items(data)
    assert plans.certified.all()
    for i in range(data.n_items):
        _, cost = _scan(data, i)
        assert plans.cost[i] <= cost.min() + 1e-9 * (1 + abs(cost.min())), i
        assert plans.base_stock[i] == np.round(plans.base_stock[i])


@pytest.mark.parametrize("seed", range(5))
def test_continuous_search_is_certified_and_beats_a_fine_grid(seed):
    data = _plain(random_data(seed))
    plans = search_items(data, integer=False)
    assert plans.certified.all()
    at_lower = np.isclose(plans.base_stock, plans.lower)
    assert (plans.right >= -1e-9).all()
    assert ((plans.left <= 1e-9) | at_lower).all()
    for i in range(data.n_items):
        _, cost = _scan(data, i, step=0.05)
        assert plans.cost[i] <= cost.min() + 1e-9 * (1 + abs(cost.min())), i
    whole = search_items(data)  # the integer answer is the floor or ceiling of this one
    assert (np.abs(whole.base_stock - plans.base_stock) <= 1.0 + 1e-9).all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_joint_search_of_reservations_equals_the_brute_force_best(seed):
    data = random_data(seed, n=8, poisson=True)
    data = replace(data, fee=np.where(data.reserves, 0.002 * data.unit_cost, np.nan))
    plans = search_items(data)
    reserving = np.nonzero(data.reserves)[0]
    assert reserving.size > 0
    assert (plans.reserved[reserving] > 0).any()  # the fee is low enough to reserve
    for i in reserving:
        best = np.inf
        for k in np.arange(0.0, np.floor(data.capacity[i]) + 1):
            _, cost = _scan(data, i, K=k)
            best = min(best, cost.min())
        assert plans.cost[i] <= best + 1e-9 * (1 + abs(best)), i
        assert plans.reserved[i] == np.round(plans.reserved[i])
    # continuous (S, K): a local search on a function that is not exactly convex here; it
    # lands within 0.1% of the whole-unit optimum (measured: one item 0.07% above it)
    cont = search_items(data, integer=False)
    assert (cont.cost[reserving] <= 1.001 * plans.cost[reserving]).all()


@pytest.mark.parametrize("scale", [1.37, 2.71, 0.61])
def test_fill_rate_floor_ends_with_fractional_bracket_widths(scale):
    """A first width (L+1)mu that is not whole: the floor is still the brute-force one.

    With fractional bracket ends the integer bisection's midpoint could equal its lower
    end and loop for ever (1,000 items x 1,000 scenarios with 98% targets never ended).
    """
    import signal

    data = _plain(random_data(3, poisson=True))
    # mu only sizes the first bracket (the scenarios hold the demand): make it fractional
    data = replace(data, mean=data.mean * scale + 0.123)
    target = np.full(data.n_items, 0.98)

    def hang(*_):
        raise TimeoutError("fill_rate_floor did not return within 60 s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        floor = fill_rate_floor(data, target=target)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    for i in range(data.n_items):
        lo = np.ceil(data.min_base_stock[i] - 1e-9)
        grid = np.arange(lo, lo + 400.0)
        fills = play_plan(data, grid, np.zeros(grid.size), items=np.full(grid.size, i)).fill_rate
        assert floor[i] == grid[np.argmax(fills >= 0.98)], i


def test_fill_rate_floor_is_the_smallest_level_meeting_the_target():
    data = _plain(random_data(2, poisson=True))
    target = np.full(data.n_items, 0.97)
    floor = fill_rate_floor(data, target=target)
    fills = play_plan(data, floor).fill_rate
    below = play_plan(data, floor - 1).fill_rate
    raised = floor > np.ceil(data.min_base_stock - 1e-9)
    assert (fills >= 0.97).all()
    assert (below[raised] < 0.97).all()
    assert raised.any()
    cont = fill_rate_floor(data, target=target, integer=False)
    assert (play_plan(data, cont).fill_rate >= 0.97).all()
    assert (cont <= floor + 1e-9).all() and (cont > floor - 1 - 1e-9).all()
    # the search keeps every item at or above its floor and meets the target
    data = replace(data, fill_rate=target)
    plans = search_items(data)
    assert (plans.base_stock >= floor - 1e-9).all()
    assert (plans.fill_rate >= 0.97).all()
    assert np.array_equal(plans.lower, np.maximum(floor, plans.lower))


def test_a_price_lowers_every_level():
    data = _plain(random_data(4))
    free = search_items(data)
    priced = search_items(data, price=0.5, weight=data.unit_cost)
    assert (priced.base_stock <= free.base_stock + 1e-9).all()
    assert (priced.base_stock < free.base_stock).any()


@pytest.mark.slow
@pytest.mark.parametrize("integer", [True, False])
def test_priced_row_holds_and_meets_the_brute_force_optimum(integer):
    """Three items, a budget at 70% of the free plan's value: the row holds, the
    Lagrangian bound is below the brute-force optimum over whole levels, and the plan is
    within 1% of it (within 0.1% of the bound for the continuous combination)."""
    data = _plain(random_data(7, n=3, N=30))
    free = search_items(data)
    limit = 0.7 * float(data.unit_cost @ free.base_stock)
    row = price_for_row(data, data.unit_cost, limit, integer=integer)
    assert row.price > 0
    assert row.use <= limit * (1 + 1e-12)
    assert row.lower_bound <= row.cost + 1e-9 * row.cost
    grids = [_scan(data, i, top=free.base_stock[i] + 1) for i in range(3)]
    best = np.inf
    for picks in itertools.product(*(range(g[0].size) for g in grids)):
        S = np.array([grids[i][0][j] for i, j in enumerate(picks)])
        if data.unit_cost @ S <= limit:
            best = min(best, sum(grids[i][1][j] for i, j in enumerate(picks)))
    assert row.lower_bound <= best + 1e-9 * best
    if integer:
        assert row.cost <= 1.01 * best
    else:
        S = row.combined_base_stock
        assert data.unit_cost @ S == pytest.approx(limit, rel=1e-9)
        cost = play_plan(data, S).expected_cost.sum()
        assert cost <= best + 1e-9 * best
        assert cost - row.lower_bound <= 1e-3 * cost


def test_infeasible_row_is_reported():
    data = _plain(random_data(1, n=3))
    with pytest.raises(ValueError, match="cannot hold"):
        price_for_row(data, data.unit_cost, 0.5 * float(data.unit_cost @ data.min_base_stock))


def test_safeguard_flags_non_convex_items_and_still_finds_the_scan_best():
    """Backorders with emergency supply (and premiums above the penalty) are scanned; on
    these random cases the flagged items still end at the brute-force best level."""
    data = random_data(3, backorder=True, n=8)
    data = replace(data, fee=np.full(data.n_items, np.nan), premium=data.premium * 4.0)
    plans = search_items(data)
    assert plans.convex[~data.has_emergency].all()  # not scanned: convex by assumption
    for i in range(data.n_items):
        _, cost = _scan(data, i)
        assert plans.cost[i] <= cost.min() + 1e-9 * (1 + abs(cost.min())), i


# ------------------------------------------------------------------ the memo of plays --
def _same_plans(a, b):
    """Same levels and flags; the same values to round-off (the kernel's sums over the
    scenarios run in BLAS, whose order can depend on the rows played together)."""
    for f in ("base_stock", "reserved", "lower", "certified", "convex"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for f in ("cost", "right", "left", "right_K", "left_K", "fill_rate"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_memo_lookups_equal_fresh_plays(seed):
    from optimizer.engines.causal_plays import S_DIRECTIONS, PlayMemo
    from optimizer.engines.causal_plays import evaluate as _evaluate
    from optimizer.engines.causal_search import Counter
    from optimizer.program.causal_kernel import VALUES_ONLY

    data = random_data(seed, backorder=seed == 1)
    rng = np.random.default_rng(seed)
    items = rng.integers(0, data.n_items, 40)
    S = np.ceil(data.min_base_stock[items]) + rng.integers(0, 30, 40)
    K = np.where(data.reserves[items], rng.integers(0, 4, 40), 0.0).astype(float)
    slope = rng.uniform(0, 3, 40)
    memo, counter = PlayMemo(), Counter()
    first = _evaluate(data, items[:25], S[:25], K[:25], slope[:25], counter, VALUES_ONLY, memo)
    assert counter.rows == 25
    # derivatives are played for rows that only had values; values come back from the memo
    mixed = _evaluate(data, items, S, K, slope, counter, S_DIRECTIONS, memo)
    fresh = _evaluate(data, items, S, K, slope, Counter(), S_DIRECTIONS)
    for got, want in zip(mixed, fresh, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    again = _evaluate(data, items[:25], S[:25], K[:25], slope[:25], counter, VALUES_ONLY, memo)
    assert np.array_equal(again[0], first[0])  # looked up: the very values stored
    assert counter.rows == 25 + 40  # the repeat played nothing


@pytest.mark.parametrize("seed", range(3))
def test_a_shared_memo_leaves_every_priced_search_unchanged(seed):
    from optimizer.engines.causal_plays import PlayMemo

    data = random_data(seed, backorder=seed == 2)
    memo = PlayMemo()
    for price in (0.0, 0.7, 0.2, 1.5, 0.7):
        shared = search_items(data, price=price, weight=data.unit_cost, memo=memo)
        alone = search_items(data, price=price, weight=data.unit_cost)
        _same_plans(shared, alone)
    assert len(memo.rows) > 0


def test_a_search_of_some_items_equals_those_rows_of_the_whole_search():
    from optimizer.engines.executors import search

    data = random_data(4)
    whole = search(data, weight=data.unit_cost, price=0.5)
    rows = np.array([5, 0, 3]) % data.n_items
    part = search(data, items=rows, weight=data.unit_cost, price=0.5)
    assert np.array_equal(part.items, rows)
    for f in ("base_stock", "reserved", "cost", "fill_rate"):
        assert np.array_equal(getattr(part, f), getattr(whole, f)[rows]), f
