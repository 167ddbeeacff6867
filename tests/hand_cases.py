"""Tiny instances whose optimum is worked out by hand (explicit scenarios, no sampling).

One supplier, demand 10 every period, lead time 0, warm-up 1 and three costed periods
(0-based periods 0..3, costed 1..3); the supplier is down in period 2 only. Holding
cost h = 1 per unit-period unless said otherwise. With S = 10 + x the on-hand path of a
lost-sales item is: end of period 1: x; period 2 (no delivery): serves x, short 10 - x,
ends at 0; period 3: receives the orders of periods 1 and 2 (10 + x), ends at x.
"""

from __future__ import annotations

import numpy as np

from optimizer.instance import ExplicitScenarios, Instance, Items, PlanSettings, Suppliers

H = 4


def hand_instance(
    *,
    n_items: int = 1,
    shortage: str = "lost_sales",
    holding: float = 1.0,
    penalty: float = 100.0,
    premium: float = np.nan,
    capacity: float = np.inf,
    fee: float = np.nan,
    fill_rate: float = np.nan,
    budget: float | None = None,
    down: tuple[int, ...] = (2,),
) -> Instance:
    """Deterministic hand case; ``down`` lists the 0-based periods the supplier is down."""
    n = n_items
    up = np.ones((1, 1, H), dtype=bool)
    up[0, 0, list(down)] = False
    items = Items(
        name=np.array([f"x{i}" for i in range(n)]),
        supplier=np.zeros(n, dtype=int),
        unit_cost=np.ones(n),
        demand_mean=np.full(n, 10.0),
        demand_std=np.zeros(n),
        demand_dist=np.array(["normal"] * n),
        lead_time=np.zeros(n, dtype=int),
        stockout_penalty=np.full(n, penalty),
        emergency_premium=np.full(n, premium),
        emergency_capacity=np.full(n, capacity),
        reservation_fee=np.full(n, fee),
        min_fill_rate=np.full(n, fill_rate),
        volume=np.zeros(n),
        capital_rate=np.zeros(n),
        storage_rate=np.full(n, holding),
        obsolescence_rate=np.zeros(n),
    )
    plan = PlanSettings(
        periods=3,
        periods_per_year=1.0,
        scenarios=1,
        seed=0,
        shortage=shortage,
        capital_rate=0.0,
        storage_rate=holding,
        obsolescence_rate=0.0,
        warmup=1,
        inventory_budget=budget,
    )
    explicit = ExplicitScenarios(
        demand=np.full((n, 1, H), 10.0),
        supplier_up=up,
        probability=np.ones(1),
        names=np.array(["only"]),
    )
    return Instance(
        "hand",
        "worked by hand",
        plan,
        items,
        Suppliers(np.array(["s"]), np.array([0.5]), np.array([0.5])),
        explicit=explicit,
    )
