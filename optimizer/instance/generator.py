"""Synthetic instances of any size for scaling studies, demos and tests.

:func:`generate_instance` draws a catalogue that looks like a distributor's: a few fast
movers and a long tail of slow ones, cheap fast movers and dear slow movers, suppliers
of three archetypes (domestic, nearshore, overseas) with their lead times and
reliability, some items with a capacitated emergency source, and an optional inventory
budget that binds.

Reproducibility: every item draws a fixed number of uniforms from its own stream
(``SeedSequence(seed).spawn``-style children keyed by item index), so item ``i`` is the
same in every instance generated with the same ``seed`` and ``n_suppliers``, whatever
``n_items`` is; suppliers likewise. Names are ``SKU000000``, ``SKU000001``, … and
``domestic000``, ``overseas001``, … (archetype + index).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from scipy.special import ndtri

from optimizer.instance.types import Instance, Items, PlanSettings, Suppliers

log = logging.getLogger(__name__)

#: Supplier archetypes: share of suppliers, lead-time range (periods), share unreliable.
ARCHETYPES: dict[str, dict[str, float | tuple[int, int]]] = {
    "domestic": {"share": 0.4, "lead": (0, 1), "unreliable": 0.10},
    "nearshore": {"share": 0.3, "lead": (1, 3), "unreliable": 0.25},
    "overseas": {"share": 0.3, "lead": (4, 8), "unreliable": 0.50},
}
DEMAND_RANGE = (1.0, 500.0)
COST_RANGE = (1.0, 2000.0)
EMERGENCY_SHARE = 0.30
RESERVATION_SHARE = 0.25  # of the items with an emergency source
_ITEM_UNIFORMS = 16
_SUPPLIER_UNIFORMS = 6
_STREAM_ITEM, _STREAM_SUPPLIER = 1, 2


def _uniforms(seed: int, stream: int, count: int, width: int) -> np.ndarray:
    """``count`` rows of ``width`` uniforms, row ``k`` from its own seeded stream."""
    out = np.empty((count, width))
    for k in range(count):
        out[k] = np.random.default_rng([int(seed), stream, k]).random(width)
    return out


def _normal(u: np.ndarray) -> np.ndarray:
    """Map uniforms to standard normal quantiles (clipped away from 0 and 1)."""
    return ndtri(np.clip(u, 1e-12, 1.0 - 1e-12))


def _suppliers(n_suppliers: int, seed: int) -> tuple[Suppliers, np.ndarray, np.ndarray]:
    """Suppliers, their archetype index and their base lead time."""
    u = _uniforms(seed, _STREAM_SUPPLIER, n_suppliers, _SUPPLIER_UNIFORMS)
    names_arch = list(ARCHETYPES)
    cum = np.cumsum([float(ARCHETYPES[a]["share"]) for a in names_arch])
    arch = np.searchsorted(cum / cum[-1], u[:, 0], side="right")
    arch = np.minimum(arch, len(names_arch) - 1)
    # the first suppliers cover every archetype, so small instances mix them too
    k = min(n_suppliers, len(names_arch))
    arch[:k] = np.arange(k)
    lo = np.array([ARCHETYPES[names_arch[a]]["lead"][0] for a in arch])
    hi = np.array([ARCHETYPES[names_arch[a]]["lead"][1] for a in arch])
    lead = lo + np.floor(u[:, 1] * (hi - lo + 1)).astype(int)
    share_bad = np.array([float(ARCHETYPES[names_arch[a]]["unreliable"]) for a in arch])
    unreliable = u[:, 2] < share_bad
    disruption = np.where(unreliable, 0.02 + 0.06 * u[:, 3], 0.01 * u[:, 3])
    recovery = np.where(unreliable, 0.2 + 0.4 * u[:, 4], 0.5 + 0.4 * u[:, 4])
    # a few perfectly reliable domestic suppliers (never down)
    never = (arch == 0) & (u[:, 5] < 0.5)
    disruption = np.where(never, 0.0, disruption).round(4)
    recovery = np.where(never, 1.0, recovery).round(3)
    names = np.array([f"{names_arch[a]}{s:03d}" for s, a in enumerate(arch)])
    return Suppliers(names, disruption, recovery), arch, lead


def _demand(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Mean :math:`\mu`, std :math:`\sigma` and family of weekly demand per item.

    :math:`\log \mu \sim N(\log 12, 1.4^2)` clipped to [1, 500]: a long tail of slow
    movers and a few fast ones. Families: slow movers (:math:`\mu < 4`) poisson or
    negbin, medium ones a mix of poisson, gamma, negbin and lognormal, fast movers
    (:math:`\mu \ge 30`) mostly normal. negbin gets :math:`\sigma^2 = k\mu`,
    :math:`k \in [1.5, 3]` (it needs :math:`\sigma^2 > \mu`); normal gets a CV of
    0.1–0.4 (rarely censored at zero); gamma and lognormal 0.2–0.8.
    """
    lo, hi = DEMAND_RANGE
    mean = np.clip(np.exp(np.log(12.0) + 1.4 * _normal(u[:, 0])), lo, hi).round(2)
    v = u[:, 1]
    slow, fast = mean < 4.0, mean >= 30.0
    medium = ~slow & ~fast
    family = np.full(mean.shape, "normal", dtype=object)
    family[slow] = np.where(v[slow] < 0.7, "poisson", "negbin")
    family[medium] = np.select(
        [v[medium] < 0.3, v[medium] < 0.55, v[medium] < 0.8],
        ["poisson", "gamma", "negbin"],
        "lognormal",
    )
    family[fast] = np.select([v[fast] < 0.7, v[fast] < 0.85], ["normal", "gamma"], "lognormal")
    w = u[:, 2]
    cv = np.where(family == "normal", 0.1 + 0.3 * w, 0.2 + 0.6 * w)
    std = (mean * cv).round(3)
    negbin = family == "negbin"
    std = np.where(negbin, np.sqrt(mean * (1.5 + 1.5 * w)).round(3), std)
    std = np.where(family == "poisson", np.sqrt(mean), std)
    return mean, std, family.astype(str)


def generate_instance(
    n_items: int,
    n_suppliers: int,
    seed: int = 0,
    *,
    shortage: str = PlanSettings.shortage,
    scenarios: int = PlanSettings.scenarios,
    periods: int = PlanSettings.periods,
    budget_share: float | None = None,
    reservation_share: float = RESERVATION_SHARE,
) -> Instance:
    r"""Generate a realistic synthetic instance of ``n_items`` items, ``n_suppliers`` suppliers.

    Parameters
    ----------
    n_items, n_suppliers : int
        Sizes (at least 1 each).
    seed : int
        Root seed; the instance is a pure function of the arguments. Also the
        ``[plan] seed`` of the scenarios.
    shortage : {"lost_sales", "backorder"}
    scenarios, periods : int
        :math:`N` and :math:`T` of the ``[plan]`` table (defaults: the schema's).
    budget_share : float, optional
        Sets :math:`B = P + \text{share}\,(U - P)` with the pipeline value
        :math:`P = \sum_i c_i L_i \mu_i` and the value of a generous plan
        :math:`U = \sum_i c_i [(L_i+1)\mu_i + 2\sigma_i\sqrt{L_i+1}]`; below about 0.6
        the budget binds.

    Returns
    -------
    Instance
        Unit costs :math:`c_i \in [1, 2000]` falling with demand (log-linear with noise),
        stockout penalties :math:`0.3`–:math:`1.5\,c_i`, lead times 0–8 periods from the
        supplier's archetype (domestic 0–1, nearshore 1–3, overseas 4–8, ±1 per item
        within the range), reliable suppliers with :math:`\alpha \le 0.01` and
        :math:`\beta \in [0.5, 0.9]` (some never down), unreliable ones with
        :math:`\alpha \in [0.02, 0.08]`, :math:`\beta \in [0.2, 0.6]`; about 30% of
        items with an emergency source (premium 15–50% of :math:`c_i`, capacity 20–80% of
        :math:`\mu_i` per period), a quarter of those with a reservation fee
        (0.5–3% of :math:`c_i` per unit per period); volumes 0.01–5 per unit.
    """
    if n_items < 1 or n_suppliers < 1:
        raise ValueError("n_items and n_suppliers must be at least 1")
    if shortage not in ("lost_sales", "backorder"):
        raise ValueError(f"shortage must be 'lost_sales' or 'backorder', not {shortage!r}")
    if budget_share is not None and not 0.0 <= budget_share:
        raise ValueError("budget_share must be >= 0")
    # the [plan] table but its budget; periods per year and the carrying rates every item
    # takes are the schema's defaults
    plan = PlanSettings(periods=periods, scenarios=scenarios, seed=seed, shortage=shortage)
    suppliers, arch, sup_lead = _suppliers(n_suppliers, seed)
    u = _uniforms(seed, _STREAM_ITEM, n_items, _ITEM_UNIFORMS)

    supplier = np.minimum((u[:, 3] * n_suppliers).astype(int), n_suppliers - 1)
    mean, std, family = _demand(u)

    # unit cost falls with demand: log c = log 2000 (1 - z) * 0.85 + noise, z = log mu / log 500
    z = np.log(mean) / np.log(DEMAND_RANGE[1])
    log_cost = np.log(COST_RANGE[1]) * 0.85 * (1.0 - z) + 0.3 + 0.7 * _normal(u[:, 4])
    cost = np.clip(np.exp(log_cost), *COST_RANGE).round(2)

    names_arch = list(ARCHETYPES)
    lo = np.array([ARCHETYPES[names_arch[a]]["lead"][0] for a in arch])[supplier]
    hi = np.array([ARCHETYPES[names_arch[a]]["lead"][1] for a in arch])[supplier]
    shift = np.select([u[:, 5] < 0.15, u[:, 5] > 0.85], [-1, 1], 0)
    lead = np.clip(sup_lead[supplier] + shift, lo, hi).astype(int)

    penalty = (cost * (0.3 + 1.2 * u[:, 6])).round(2)
    emergency = u[:, 7] < EMERGENCY_SHARE
    premium = np.where(emergency, (cost * (0.15 + 0.35 * u[:, 8])).round(2), np.nan)
    capacity = np.where(emergency, np.maximum(1.0, np.ceil(mean * (0.2 + 0.6 * u[:, 9]))), np.inf)
    reserve = emergency & (u[:, 10] < reservation_share)
    fee = np.where(reserve, np.maximum(0.01, (cost * (0.005 + 0.025 * u[:, 11])).round(2)), np.nan)
    volume = np.clip(np.exp(np.log(0.4) + 0.9 * _normal(u[:, 12])), 0.01, 5.0).round(3)

    items = Items(
        name=np.array([f"SKU{i:06d}" for i in range(n_items)]),
        supplier=supplier,
        unit_cost=cost,
        demand_mean=mean,
        demand_std=std,
        demand_dist=family,
        lead_time=lead,
        stockout_penalty=penalty,
        emergency_premium=premium,
        emergency_capacity=capacity,
        reservation_fee=fee,
        min_fill_rate=np.full(n_items, np.nan),
        volume=volume,
        capital_rate=np.full(n_items, plan.capital_rate),
        storage_rate=np.full(n_items, plan.storage_rate),
        obsolescence_rate=np.full(n_items, plan.obsolescence_rate),
    )
    budget = None if budget_share is None else budget_for_share(items, budget_share)
    inst = Instance(
        name=f"synthetic_{n_items}x{n_suppliers}_seed{seed}",
        description=(
            f"synthetic catalogue: {n_items} items, {n_suppliers} suppliers "
            f"(generate_instance seed={seed}"
            + (f", budget_share={budget_share:g}" if budget_share is not None else "")
            + ")"
        ),
        plan=replace(plan, inventory_budget=budget),
        items=items,
        suppliers=suppliers,
    )
    log.info(
        "generated %s: warm-up %d periods, %d items with emergency supply",
        inst.name,
        inst.warmup,
        int(emergency.sum()),
    )
    return inst


def budget_for_share(items: Items, share: float) -> float:
    r""":math:`B = P + \text{share}\,(U - P)` (see :func:`generate_instance`)."""
    c, mu, sd, L = items.unit_cost, items.demand_mean, items.demand_std, items.lead_time
    pipeline = float(c @ (L * mu))
    generous = float(c @ ((L + 1) * mu + 2.0 * sd * np.sqrt(L + 1.0)))
    return pipeline + share * (generous - pipeline)
