"""Heuristic and optimised policies reproduce their formulas (issue #3, part 1).

Every expected value is computed here from the formula itself (scipy.stats quantiles,
hand-written holding costs), not by calling the code under test.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from optimizer.analysis.policies import (
    classic_policy,
    cover_policy,
    ev_policy,
    heuristic_policy,
    jit_policy,
    lead_time_demand,
    make_policies,
    newsvendor_fractile,
    newsvendor_policy,
    policy_names,
)
from optimizer.instance import Instance, Items, PlanSettings, Suppliers, load_instance
from tests.factories import make_instance

ROOT = Path(__file__).resolve().parent.parent


def single_family(family: str, *, shortage: str = "lost_sales", n: int = 4) -> Instance:
    """``n`` items of one demand family, lead times 0..n-1, known costs."""
    mean = np.array([50.0, 20.0, 8.0, 120.0])[:n]
    std = {"poisson": np.sqrt(mean), "negbin": np.array([12.0, 9.0, 5.0, 30.0])[:n]}.get(
        family, np.array([8.0, 6.0, 3.0, 30.0])[:n]
    )
    cost = np.array([10.0, 40.0, 150.0, 4.0])[:n]
    items = Items(
        name=np.array([f"{family}{i}" for i in range(n)]),
        supplier=np.zeros(n, dtype=int),
        unit_cost=cost,
        demand_mean=mean,
        demand_std=std,
        demand_dist=np.array([family] * n),
        lead_time=np.arange(n),
        stockout_penalty=cost * np.array([0.3, 0.7, 1.2, 1.5])[:n],
        emergency_premium=np.full(n, np.nan),
        emergency_capacity=np.full(n, np.inf),
        reservation_fee=np.full(n, np.nan),
        min_fill_rate=np.full(n, np.nan),
        volume=np.ones(n),
        capital_rate=np.full(n, 0.10),
        storage_rate=np.full(n, 0.12),
        obsolescence_rate=np.full(n, 0.05),
    )
    sup = Suppliers(np.array(["s"]), np.array([0.0]), np.array([1.0]))
    plan = PlanSettings(periods=4, periods_per_year=52.0, scenarios=10, seed=1, shortage=shortage)
    return Instance(name=family, description="", plan=plan, items=items, suppliers=sup)


def holding(inst: Instance) -> np.ndarray:
    """h_i per period: unit cost x (0.10 + 0.12 + 0.05) / 52."""
    return inst.items.unit_cost * (0.10 + 0.12 + 0.05) / 52.0


# ------------------------------------------------------------------ simple rules ------
def test_jit_is_lead_time_plus_one_periods_of_mean_demand():
    inst = make_instance(5, seed=11)
    p = jit_policy(inst)
    it = inst.items
    np.testing.assert_allclose(p.base_stock, (it.lead_time + 1) * it.demand_mean, rtol=1e-12)
    assert p.name == "jit" and p.family == "jit"
    assert np.all(p.reserved == 0) and not p.clipped.any()


@pytest.mark.parametrize("k", [0.5, 1, 2, 4])
def test_jic_adds_k_periods_of_cover(k):
    inst = make_instance(5, seed=12)
    p = cover_policy(inst, k)
    it = inst.items
    np.testing.assert_allclose(
        p.base_stock, (it.lead_time + 1) * it.demand_mean + k * it.demand_mean, rtol=1e-12
    )
    assert p.name == f"jic_{k:g}" and p.parameter == k
    assert np.all(p.reserved == 0)


@pytest.mark.parametrize("pct", [90, 95, 99, 97.5])
def test_classic_safety_stock(pct):
    inst = make_instance(6, seed=13)  # normal, gamma, lognormal, poisson items
    p = classic_policy(inst, pct)
    it = inst.items
    sigma = np.where(it.demand_dist == "poisson", np.sqrt(it.demand_mean), it.demand_std)
    z = stats.norm.ppf(pct / 100)
    expected = (it.lead_time + 1) * it.demand_mean + z * sigma * np.sqrt(it.lead_time + 1)
    np.testing.assert_allclose(p.base_stock, expected, rtol=1e-12)
    assert p.name == f"classic_{pct:g}"


def test_low_service_level_is_clipped_to_the_pipeline_and_nothing_else():
    inst = single_family("normal")
    p = classic_policy(inst, 1.0)  # z = -2.33: below L*mu where sigma*sqrt(L+1) > mu/2.33
    it = inst.items
    raw = (it.lead_time + 1) * it.demand_mean + stats.norm.ppf(0.01) * it.demand_std * np.sqrt(
        it.lead_time + 1
    )
    floor = it.lead_time * it.demand_mean
    assert p.clipped.any() and not p.clipped.all()
    np.testing.assert_allclose(p.base_stock, np.maximum(raw, floor), rtol=1e-12)
    np.testing.assert_array_equal(p.clipped, raw < floor)
    for name in ("jit", "jic_1", "classic_95", "newsvendor"):
        assert not heuristic_policy(inst, name).clipped.any()


# -------------------------------------------------------------------- newsvendor ------
@pytest.mark.parametrize("shortage", ["lost_sales", "backorder"])
def test_newsvendor_normal_fractile(shortage):
    inst = single_family("normal", shortage=shortage)
    it = inst.items
    pi = it.stockout_penalty
    z = stats.norm.ppf(pi / (pi + holding(inst)))
    expected = (it.lead_time + 1) * it.demand_mean + z * it.demand_std * np.sqrt(it.lead_time + 1)
    np.testing.assert_allclose(newsvendor_fractile(inst), pi / (pi + holding(inst)), rtol=1e-12)
    np.testing.assert_allclose(newsvendor_policy(inst).base_stock, expected, rtol=1e-10)


def test_newsvendor_poisson_quantile():
    inst = single_family("poisson")
    it = inst.items
    q = it.stockout_penalty / (it.stockout_penalty + holding(inst))
    expected = stats.poisson.ppf(q, (it.lead_time + 1) * it.demand_mean)
    np.testing.assert_array_equal(newsvendor_policy(inst).base_stock, expected)


def test_newsvendor_gamma_shapes_add():
    inst = single_family("gamma")
    it = inst.items
    q = it.stockout_penalty / (it.stockout_penalty + holding(inst))
    m = it.lead_time + 1
    shape, scale = (it.demand_mean / it.demand_std) ** 2, it.demand_std**2 / it.demand_mean
    expected = stats.gamma.ppf(q, m * shape, scale=scale)
    np.testing.assert_allclose(newsvendor_policy(inst).base_stock, expected, rtol=1e-10)


def test_newsvendor_matches_snyder_shen_example_4_3():
    """mu=50, sigma=8, h=0.18, p=0.70, L=0, backorder: S* = 56.604."""
    inst = load_instance(ROOT / "instances" / "textbook_4_3")
    assert newsvendor_policy(inst).base_stock[0] == pytest.approx(56.604, abs=5e-4)


@pytest.mark.parametrize("family", ["normal", "poisson", "gamma", "lognormal", "negbin"])
@pytest.mark.parametrize("periods", [1, 3])
def test_lead_time_demand_has_the_moments_of_the_sum(family, periods):
    mean, std = 20.0, (np.sqrt(20.0) if family == "poisson" else 9.0)
    law = lead_time_demand(family, mean, std, periods)
    assert law.mean() == pytest.approx(periods * mean, rel=1e-9)
    assert law.var() == pytest.approx(periods * std**2, rel=1e-9)


def test_lead_time_demand_deterministic_and_monte_carlo_negbin():
    assert lead_time_demand("normal", 10.0, 0.0, 2) is None
    assert lead_time_demand("gamma", 0.0, 3.0, 2) is None
    # the negbin sum law agrees with sums of numpy draws parametrised as the sampler does
    mean, std, m = 6.0, 4.0, 3
    r, q = mean**2 / (std**2 - mean), mean / std**2
    draws = np.random.default_rng(5).negative_binomial(r, q, size=(200_000, m)).sum(axis=1)
    law = lead_time_demand("negbin", mean, std, m)
    for x in (10, 18, 30):
        assert (draws <= x).mean() == pytest.approx(law.cdf(x), abs=4e-3)


# --------------------------------------------------------------- optimised + sets -----
def test_ev_plan_is_jit():
    inst = make_instance(4, seed=14, emergency=True, reserve=True)
    ev = ev_policy(inst)
    np.testing.assert_allclose(ev.base_stock, jit_policy(inst).base_stock, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(ev.reserved, 0.0, atol=1e-9)
    assert ev.solution is not None and ev.data is not None and ev.data.n_scenarios == 1


def test_make_policies_default_set_and_validation():
    inst = make_instance(3, seed=15, scenarios=6)
    pols = make_policies(inst)
    names = [p.name for p in pols]
    assert names == policy_names()
    assert names == [
        "jit",
        "jic_1",
        "jic_2",
        "jic_4",
        "classic_90",
        "classic_95",
        "classic_99",
        "newsvendor",
        "ev",
        "stochastic",
        "stochastic_hindsight",
    ]
    hindsight = make_policies(inst.with_plan(recourse="hindsight"), include_ev=False)
    assert [p.name for p in hindsight][-1] == "stochastic"  # no second plan of its kind
    custom = make_policies(
        inst, jic_cover=[0.5, 3], service_levels=[80], include_ev=False, include_stochastic=False
    )
    assert [p.name for p in custom] == ["jit", "jic_0.5", "jic_3", "classic_80", "newsvendor"]
    assert all(p.is_heuristic for p in custom)
    with pytest.raises(ValueError, match="cover"):
        make_policies(inst, jic_cover=[0])
    with pytest.raises(ValueError, match="percentage"):
        classic_policy(inst, 100)
    with pytest.raises(ValueError, match="unknown heuristic"):
        heuristic_policy(inst, "stochastic")


def test_heuristics_ignore_reservation():
    inst = make_instance(4, seed=16, emergency=True, reserve=True)
    assert inst.items.reserves_capacity.any()
    for name in ("jit", "jic_2", "classic_95", "newsvendor"):
        assert np.all(heuristic_policy(inst, name).reserved == 0)


def test_poisson_std_is_sqrt_mean_even_if_the_table_says_otherwise():
    inst = single_family("poisson")
    wrong = replace(inst, items=replace(inst.items, demand_std=inst.items.demand_std * 3))
    np.testing.assert_allclose(
        classic_policy(wrong, 95).base_stock, classic_policy(inst, 95).base_stock
    )
