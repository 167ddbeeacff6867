"""In-memory instances for tests (no files), with every optional feature switchable."""

from __future__ import annotations

import numpy as np

from optimizer.instance import BlackSwan, Instance, Items, PlanSettings, RiskSettings, Suppliers

DEFAULT_PLAN = PlanSettings()
"""The schema's ``[plan]`` defaults; the items take its carrying rates."""


def make_items(
    n: int,
    rng: np.random.Generator,
    *,
    n_suppliers: int = 2,
    emergency: bool = False,
    reserve: bool = False,
    fill_rate: float | None = None,
) -> Items:
    """``n`` random items; optional emergency sources, reservation fees and fill-rate targets."""
    mean = rng.uniform(5, 60, n).round(1)
    cost = rng.uniform(2, 100, n).round(2)
    prem = np.where(np.arange(n) % 2 == 0, 0.3 * cost, np.nan) if emergency else np.full(n, np.nan)
    cap = np.where(np.isnan(prem), np.inf, np.ceil(0.5 * mean))
    fee = (
        np.where(~np.isnan(prem) & (np.arange(n) % 4 == 0), 0.02 * cost, np.nan)
        if reserve
        else np.full(n, np.nan)
    )
    return Items(
        name=np.array([f"item{i:03d}" for i in range(n)]),
        supplier=np.arange(n) % n_suppliers,
        unit_cost=cost,
        demand_mean=mean,
        demand_std=(mean * rng.uniform(0.1, 0.5, n)).round(2),
        demand_dist=np.array(["normal", "gamma", "lognormal", "poisson"] * n)[:n],
        lead_time=rng.integers(0, 3, n),
        stockout_penalty=(cost * rng.uniform(0.3, 1.5, n)).round(2),
        emergency_premium=prem,
        emergency_capacity=cap,
        reservation_fee=fee,
        min_fill_rate=np.full(n, np.nan if fill_rate is None else fill_rate),
        volume=rng.uniform(0.1, 2.0, n).round(2),
        capital_rate=np.full(n, DEFAULT_PLAN.capital_rate),
        storage_rate=np.full(n, DEFAULT_PLAN.storage_rate),
        obsolescence_rate=np.full(n, DEFAULT_PLAN.obsolescence_rate),
    )


def make_instance(
    n_items: int = 3,
    *,
    scenarios: int = 12,
    periods: int = 4,
    seed: int = 3,
    shortage: str = "lost_sales",
    emergency: bool = False,
    reserve: bool = False,
    fill_rate: float | None = None,
    budget_share: float | None = None,
    storage_share: float | None = None,
    cvar_weight: float = 0.0,
    disruption: float = 0.1,
    black_swan: bool = False,
    periods_per_year: float = 52.0,
    warmup: int | None = None,
) -> Instance:
    """A small random instance.

    ``budget_share`` / ``storage_share`` put the budget / storage limit at that share of
    the way between the pipeline minimum and the value of twice the (L+1)-period mean.
    """
    rng = np.random.default_rng(seed)
    items = make_items(n_items, rng, emergency=emergency, reserve=reserve, fill_rate=fill_rate)
    sup = Suppliers(np.array(["near", "far"]), np.array([0.0, disruption]), np.array([1.0, 0.5]))
    pipe = items.lead_time * items.demand_mean
    full = 2 * (items.lead_time + 1) * items.demand_mean

    def limit(share, weight):
        if share is None:
            return None
        return float(weight @ pipe + share * (weight @ full - weight @ pipe))

    plan = PlanSettings(
        periods=periods,
        periods_per_year=periods_per_year,
        scenarios=scenarios,
        seed=seed,
        shortage=shortage,
        warmup=warmup,
        inventory_budget=limit(budget_share, items.unit_cost),
        storage_capacity=limit(storage_share, items.volume),
    )
    return Instance(
        name="test",
        description="generated for tests",
        plan=plan,
        items=items,
        suppliers=sup,
        black_swan=BlackSwan(0.2, 2, 1.5) if black_swan else None,
        risk=RiskSettings(0.9, cvar_weight),
    )
