"""Scenario sampling: moments, Markov supply, black swans, reproducibility, arrivals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.instance import BlackSwan
from optimizer.scenarios import (
    arrival_periods,
    generate_scenarios,
    sample_demand,
    sample_supplier_path,
)
from tests.factories import make_instance


@pytest.mark.parametrize(
    "family, mean, std",
    [
        ("normal", 100.0, 15.0),
        ("gamma", 20.0, 12.0),
        ("lognormal", 50.0, 40.0),
        ("negbin", 8.0, 5.0),
        ("poisson", 3.0, np.sqrt(3.0)),
    ],
)
def test_families_match_mean_and_std(family, mean, std):
    x = sample_demand(np.random.default_rng(1), family, mean, std, (200_000,))
    assert x.min() >= 0
    assert x.mean() == pytest.approx(mean, rel=0.02)
    assert x.std() == pytest.approx(std, rel=0.03)


def test_normal_is_censored_at_zero_and_zero_std_is_deterministic():
    x = sample_demand(np.random.default_rng(2), "normal", 1.0, 3.0, (10_000,))
    assert x.min() == 0.0 and (x == 0).mean() > 0.3
    for family in ("normal", "gamma", "lognormal"):
        assert np.all(sample_demand(np.random.default_rng(3), family, 7.0, 0.0, (50,)) == 7.0)


def test_supplier_chain_is_stationary_with_the_right_spells():
    alpha, beta = 0.1, 0.25
    up = sample_supplier_path(np.random.default_rng(4), alpha, beta, 20_000, 30)
    assert up.mean(axis=0) == pytest.approx(np.full(30, beta / (alpha + beta)), abs=0.015)
    # P(down | up before) = alpha, P(up | down before) = beta
    prev, nxt = up[:, :-1], up[:, 1:]
    assert (~nxt[prev]).mean() == pytest.approx(alpha, abs=0.01)
    assert nxt[~prev].mean() == pytest.approx(beta, abs=0.01)


def test_reproducible_and_independent_of_item_order():
    inst = make_instance(n_items=4, scenarios=20)
    a = generate_scenarios(inst)
    b = generate_scenarios(inst)
    np.testing.assert_array_equal(a.demand, b.demand)
    perm = [2, 0, 3, 1]
    c = generate_scenarios(inst.subset_items(perm))
    np.testing.assert_array_equal(c.demand, a.demand[perm])
    np.testing.assert_array_equal(c.supplier_up, a.supplier_up)
    fresh = generate_scenarios(inst, stream="evaluate")
    assert not np.array_equal(fresh.demand, a.demand)
    other_seed = generate_scenarios(inst, seed=inst.plan.seed + 1)
    assert not np.array_equal(other_seed.demand, a.demand)


def test_black_swan_stops_every_supplier_and_lifts_demand():
    inst = make_instance(n_items=2, scenarios=4000, periods=10, disruption=0.0)
    inst = replace(inst, black_swan=BlackSwan(probability=0.25, duration=3, demand_multiplier=2.0))
    calm = generate_scenarios(replace(inst, black_swan=None))
    sc = generate_scenarios(inst)
    assert sc.black_swan.mean() == pytest.approx(0.25, abs=0.02)
    hit = sc.black_swan
    down = ~sc.supplier_up.any(axis=0)  # (N, H): every supplier down
    assert down[~hit].sum() == 0
    assert np.all(down[hit].sum(axis=1) <= 3) and down[hit].sum(axis=1).mean() > 2.5
    ratio = sc.demand[:, hit][:, down[hit]] / calm.demand[:, hit][:, down[hit]]
    np.testing.assert_allclose(ratio[np.isfinite(ratio)], 2.0)
    assert not down[:, : inst.warmup].any()  # events start in costed periods


def test_arrival_periods_by_hand():
    up = np.array([[True, False, False, True, True]])
    # order at end of 0 waits for period 3; of 1 and 2 also 3; of 3 -> 4; of 4 -> never
    np.testing.assert_array_equal(arrival_periods(up, 0), [[3, 3, 3, 4, 5]])
    np.testing.assert_array_equal(arrival_periods(up, 1), [[4, 4, 4, 5, 5]])


def test_default_warmup_covers_lead_time_and_long_outages():
    # 2L + 3 periods bring the start-up pipeline to its steady state
    # (tests/test_markov_reference.py measures it against exact long-run costs)
    inst = make_instance(disruption=0.0)
    assert inst.warmup == 2 * int(inst.items.lead_time.max()) + 3
    flaky = make_instance(disruption=0.2)  # recovery 0.5 -> (0.5)^k <= 0.01 -> k = 7
    lead = flaky.items.lead_time
    assert flaky.warmup == max(
        2 * int(L) + 3 + (7 if s == 1 else 0)
        for L, s in zip(lead, flaky.items.supplier, strict=True)
    )


def test_items_of_reliable_suppliers_start_later_and_keep_their_costed_law():
    from optimizer.program.data import program_data

    inst = make_instance(n_items=4, disruption=0.2)  # near: never down; far: allowance 7
    scen = generate_scenarios(inst)
    data = program_data(inst, scen)
    W = inst.warmup
    for i in range(4):
        expected = W - inst.item_warmup(i)
        assert data.start[i] == expected
        assert np.all(data.demand[i, :, :expected] == 0)
        np.testing.assert_array_equal(data.demand[i, :, expected:], scen.demand[i, :, expected:])
        assert data.pipeline[i].sum() == pytest.approx(
            inst.items.lead_time[i] * inst.items.demand_mean[i]
        )
    assert data.start[inst.items.supplier == 0].min() > 0  # the reliable supplier's items
    # an explicit warm-up keeps every item live from period 1
    fixed = replace(inst, plan=replace(inst.plan, warmup=W))
    assert not program_data(fixed, generate_scenarios(fixed)).start.any()
