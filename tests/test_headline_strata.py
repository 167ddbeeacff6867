"""The headline stratified on the black swan: unbiased, weighted right, and cheaper.

:func:`optimizer.analysis.headline.honest_cost` samples the fresh scenarios without a
black swan (weight 1 - p) and with one (weight p) apart, in streams of their own, and
pools them with those weights; the rounds after the first follow Neyman's allocation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from optimizer.analysis import headline
from optimizer.analysis.diagnostics import mean_ci, t_quantile
from optimizer.analysis.policies import newsvendor_policy
from optimizer.instance import load_instance
from optimizer.scenarios import generate_scenarios
from tests.factories import make_instance

DEMO = Path(__file__).resolve().parent.parent / "optimizer" / "demo"


def _swan_instance():
    return make_instance(4, scenarios=20, periods=6, seed=3, black_swan=True, disruption=0.2)


def test_a_stratum_stream_fixes_the_swan_of_every_scenario():
    inst = _swan_instance()
    free = generate_scenarios(inst, 400, stream="evaluate")
    assert 0 < free.black_swan.mean() < 1  # p = 0.2: both states drawn
    assert generate_scenarios(inst, 50, stream="evaluate|swan").black_swan.all()
    assert not generate_scenarios(inst, 50, stream="evaluate|calm").black_swan.any()
    # the suffix names its own draws: a stratum is not the free stream relabelled
    calm = generate_scenarios(inst, 50, stream="evaluate|calm")
    assert not np.array_equal(calm.demand, generate_scenarios(inst, 50, stream="evaluate").demand)


def test_without_a_swan_the_headline_is_the_plain_one():
    inst = make_instance(3, scenarios=10, periods=4, seed=5, disruption=0.3)
    plan = newsvendor_policy(inst)
    args = (inst, plan.base_stock, plan.reserved)
    a = headline.honest_cost(*args, batch=50, rel_half_width=0.04)
    b = headline.honest_cost(*args, batch=50, rel_half_width=0.04, stratify=False)
    assert a.interval == b.interval and a.totals == b.totals and a.scenario_weight is None
    np.testing.assert_array_equal(a.evaluation.lines, b.evaluation.lines)


def test_stratified_mean_agrees_with_plain_sampling_and_is_weighted():
    inst = _swan_instance()
    plan = newsvendor_policy(inst)
    args = (inst, plan.base_stock, plan.reserved)
    strat = headline.honest_cost(*args, batch=300, max_scenarios=3000, rel_half_width=0.005)
    plain = headline.honest_cost(
        *args, batch=4000, max_scenarios=4000, rel_half_width=1e-9, stratify=False
    )
    w = strat.scenario_weight
    assert w is not None and w.sum() == pytest.approx(1.0, rel=1e-12)
    # the swan scenarios (the last ones) carry p in all, the calm ones 1 - p
    (calm, w_calm, n_calm), (swan, w_swan, n_swan) = strat.strata
    assert (calm, swan) == ("calm", "swan") and n_calm + n_swan == w.size
    assert w_swan == inst.black_swan.probability and w_calm == 1 - w_swan
    assert w[n_calm:].sum() == pytest.approx(w_swan, rel=1e-12)
    assert float(w @ strat.evaluation.scenario_cost) == pytest.approx(strat.interval.mean, rel=1e-9)
    # per-item lines are weighted means too: they add up to the mean
    assert strat.evaluation.lines.sum() == pytest.approx(strat.interval.mean, rel=1e-9)
    # two independent estimates of one expectation: within their joint sampling error
    se = lambda iv: (iv.high - iv.low) / 2 / 1.96  # noqa: E731
    gap = abs(strat.interval.mean - plain.interval.mean)
    assert gap <= 4 * math.hypot(se(strat.interval), se(plain.interval))


def test_rounds_follow_neyman_allocation():
    inst = _swan_instance()
    plan = newsvendor_policy(inst)
    args = (inst, plan.base_stock, plan.reserved)
    first = headline.honest_cost(*args, batch=100, max_scenarios=100, rel_half_width=1e-9)
    p = inst.black_swan.probability
    calm_n, swan_n = 100, max(headline.MIN_STRATUM, math.ceil(p * 100))
    assert first.totals == (calm_n + swan_n,)  # the first round is taken whole
    costs = first.evaluation.scenario_cost
    calm, swan = costs[:calm_n], costs[calm_n:]
    # the interval: Welch-Satterthwaite on the strata's weighted variances
    parts = [(1 - p) ** 2 * calm.var(ddof=1) / calm_n, p**2 * swan.var(ddof=1) / swan_n]
    df = sum(parts) ** 2 / (parts[0] ** 2 / (calm_n - 1) + parts[1] ** 2 / (swan_n - 1))
    mean = (1 - p) * calm.mean() + p * swan.mean()
    half = t_quantile(0.975, df) * math.sqrt(sum(parts))
    assert first.interval.mean == pytest.approx(mean, rel=1e-12)
    assert (first.interval.high - first.interval.low) / 2 == pytest.approx(half, rel=1e-12)
    # the next round: the total for the target, shared in proportion to W_h s_h
    r = 0.02
    spread = [(1 - p) * calm.std(ddof=1), p * swan.std(ddof=1)]
    t = t_quantile(0.975, calm_n + swan_n - 1)
    need = (t * sum(spread) / (r * mean)) ** 2
    pairs = zip((calm_n, swan_n), spread, strict=True)
    want = [max(n, math.ceil(need * s / sum(spread))) for n, s in pairs]
    assert sum(want) - calm_n - swan_n >= math.ceil(0.1 * (calm_n + swan_n))  # not the floor
    got = headline.honest_cost(*args, batch=100, max_scenarios=10**6, rel_half_width=r)
    assert got.totals[1] == sum(want)
    assert all(n >= w for (_name, _w, n), w in zip(got.strata, want, strict=True))
    assert got.tight


def test_on_the_demo_strata_reach_the_target_with_fewer_scenarios():
    inst = load_instance(DEMO)
    plan = newsvendor_policy(inst)
    args = (inst, plan.base_stock, plan.reserved)
    strat = headline.honest_cost(*args, max_scenarios=60_000)
    plain = headline.honest_cost(*args, max_scenarios=60_000, stratify=False)
    assert strat.tight
    assert strat.interval.scenarios < 0.5 * plain.interval.scenarios
    assert "stratified on the black swan" in strat.stop
    iv = mean_ci(plain.evaluation.scenario_cost)
    assert iv.low - (strat.interval.high - strat.interval.mean) <= strat.interval.mean
    assert strat.interval.mean <= iv.high + (strat.interval.high - strat.interval.mean)
