"""Numbers the two-stage program needs, derived once from an instance and its scenarios.

This is the single place where instance fields become model coefficients, so the Pyomo
formulation (:mod:`models.two_stage`) and the sparse-matrix fast path
(:mod:`optimizer.program.matrices`) read identical data. Models take a
:class:`ProgramData`, never an instance or a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.instance import Instance
from optimizer.scenarios import ScenarioSet, arrival_periods


@dataclass(frozen=True)
class ProgramData:
    r"""Coefficients of the two-stage program for ``n`` items and ``N`` scenarios.

    The program is stated in the README section "The model".

    Attributes
    ----------
    backorder : bool
        Shortage mode: backorders (True) or lost sales (False).
    warmup, periods : int
        :math:`W` and :math:`T`; :math:`H = W + T`.
    probability : ndarray (N,)
        :math:`p_w`.
    demand : ndarray (n, N, H)
        :math:`d_{i,w,t}`.
    arrival : ndarray of int (n, N, H)
        Arrival period of the order placed at the end of period :math:`\tau`
        (``>= H``: after the horizon).
    mean, lead : ndarray (n,)
        :math:`\mu_i`, :math:`L_i`.
    carrying : ndarray (3, n)
        Per-period carrying cost per unit on hand: storage, capital, obsolescence.
    holding : ndarray (n,)
        :math:`h_i`, their sum.
    penalty : ndarray (n,)
        :math:`p_i` per lost unit, or per backordered unit per period.
    premium : ndarray (n,)
        Emergency premium per unit; 0 where there is no source.
    capacity : ndarray (n,)
        Emergency capacity per period; ``inf`` when unlimited, 0 without a source.
    fee : ndarray (n,)
        Reservation fee per reserved unit per costed period; ``nan`` when not reserved.
    fill_rate : ndarray (n,)
        Minimum expected fill rate :math:`\beta_i`; ``nan`` when none.
    unit_cost, volume : ndarray (n,)
        :math:`c_i`, :math:`v_i` for the coupling rows.
    budget, storage : float or None
        :math:`B`, :math:`V`.
    start : ndarray of int (n,)
        First live period of each item: the item's own warm-up is ``warmup - start``
        periods. Before it the item is inert (no demand, nothing ordered); at it the item
        starts from inventory position :math:`S_i` with its start-up pipeline.
    cvar_alpha, cvar_weight : float
        :math:`\alpha`, :math:`\lambda`.
    """

    backorder: bool
    warmup: int
    periods: int
    probability: np.ndarray
    demand: np.ndarray
    arrival: np.ndarray
    mean: np.ndarray
    lead: np.ndarray
    carrying: np.ndarray
    holding: np.ndarray
    penalty: np.ndarray
    premium: np.ndarray
    capacity: np.ndarray
    fee: np.ndarray
    fill_rate: np.ndarray
    unit_cost: np.ndarray
    volume: np.ndarray
    budget: float | None
    storage: float | None
    cvar_alpha: float
    cvar_weight: float
    start: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Default ``start`` to period 0 for every item (the full warm-up)."""
        if self.start is None:
            object.__setattr__(self, "start", np.zeros(self.demand.shape[0], dtype=np.int64))

    @property
    def pipeline(self) -> np.ndarray:
        r"""Start-up pipeline arrivals, shape (n, H).

        :math:`\mu_i` in the :math:`L_i` periods from the item's first live period on (the
        shipments in transit when it starts at inventory position :math:`S_i`).
        """
        return self.pipeline_of(slice(None))

    def pipeline_of(self, i: int | slice) -> np.ndarray:
        """Build :attr:`pipeline` of item ``i`` (shape (H,)) or of a slice of items alone.

        The other items' rows are not built.
        """
        t = np.arange(self.horizon)
        first = np.asarray(self.start[i])[..., None]
        lead = np.asarray(self.lead[i])[..., None]
        mean = np.asarray(self.mean[i], dtype=float)[..., None]
        return ((t >= first) & (t < first + lead)) * mean

    @property
    def n_items(self) -> int:
        """:math:`n`, the number of items."""
        return self.demand.shape[0]

    @property
    def n_scenarios(self) -> int:
        """:math:`N`, the number of scenarios."""
        return self.demand.shape[1]

    @property
    def horizon(self) -> int:
        """:math:`H = W + T`, the periods per scenario."""
        return self.demand.shape[2]

    @property
    def has_emergency(self) -> np.ndarray:
        """Items with an emergency source (capacity :math:`> 0`), bool (n,)."""
        return self.capacity > 0

    @property
    def reserves(self) -> np.ndarray:
        """Items whose emergency capacity :math:`K_i` must be reserved at a fee, bool (n,)."""
        return self.has_emergency & ~np.isnan(self.fee)

    @property
    def min_base_stock(self) -> np.ndarray:
        r""":math:`L_i \mu_i`: the start-up stock must cover the pipeline."""
        return self.lead * self.mean

    @property
    def uses_cvar(self) -> bool:
        r"""True when the objective blends in :math:`CVaR_\alpha` (:math:`\lambda > 0`)."""
        return self.cvar_weight > 0

    @property
    def is_separable(self) -> bool:
        """True when nothing couples items (no budget, storage row or CVaR)."""
        return self.budget is None and self.storage is None and not self.uses_cvar

    def scenario_subset(self, index: np.ndarray) -> tuple[float, ProgramData]:
        r"""Scenarios ``index`` with renormalised probabilities, and their mass :math:`\sum p_w`."""
        p = self.probability[index]
        mass = float(p.sum())
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(
            demand=self.demand[:, index], arrival=self.arrival[:, index], probability=p / mass
        )
        return mass, ProgramData(**fields)

    def item(self, i: int | np.ndarray) -> ProgramData:
        """Restrict to one item or an index array of items (plan-level limits kept as they are)."""
        idx = np.atleast_1d(np.asarray(i, dtype=int))
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in (
            "demand",
            "arrival",
            "mean",
            "lead",
            "holding",
            "penalty",
            "premium",
            "capacity",
            "fee",
            "fill_rate",
            "unit_cost",
            "volume",
            "start",
        ):
            fields[k] = fields[k][idx]
        fields["carrying"] = self.carrying[:, idx]
        return ProgramData(**fields)


def program_data(
    instance: Instance,
    scenarios: ScenarioSet,
    *,
    consume: bool = False,
    items: np.ndarray | None = None,
) -> ProgramData:
    """Derive :class:`ProgramData` from a validated instance and its scenarios.

    With ``consume`` the program takes over ``scenarios.demand`` (zeroing its inert
    periods in place) instead of copying it: for callers that drop the scenarios next.
    With ``items`` (indices into ``instance.items``) ``scenarios`` holds those items' rows
    only (``generate_scenarios(..., items=items)``) and the program is theirs, on the whole
    instance's horizon and warm-up: equal to ``program_data(instance, full).item(items)``.
    """
    idx = np.arange(len(instance.items)) if items is None else np.asarray(items, dtype=int)
    n, n_scen, horizon = scenarios.demand.shape
    arrival = np.empty((n, n_scen, horizon), dtype=np.int64)
    cache: dict[tuple[int, int], np.ndarray] = {}
    supplier, lead = instance.items.supplier[idx], instance.items.lead_time[idx]
    for i in range(n):
        key = (int(supplier[i]), int(lead[i]))
        if key not in cache:
            cache[key] = arrival_periods(scenarios.supplier_up[key[0]], key[1])
        arrival[i] = cache[key]
    start = item_starts(instance, scenarios, items=idx)
    # a copy unless consumed: the inert periods are zeroed in place
    demand = scenarios.demand.astype(float, copy=not consume)
    for i in np.nonzero(start)[0]:
        demand[i, :, : start[i]] = 0.0
    return ProgramData(
        warmup=scenarios.warmup,
        periods=horizon - scenarios.warmup,
        probability=scenarios.probability.astype(float),
        demand=demand,
        arrival=arrival,
        start=start,
        **_item_fields(instance, idx),
    )


def _item_fields(instance: Instance, idx: np.ndarray) -> dict:
    """Collect the per-item coefficients and plan settings of ``instance``'s items ``idx``."""
    items = instance.items
    has_em = items.has_emergency[idx]
    return dict(
        backorder=instance.plan.shortage == "backorder",
        mean=items.demand_mean[idx].astype(float),
        lead=items.lead_time[idx].astype(np.int64),
        carrying=instance.carrying_lines()[:, idx].astype(float),
        holding=instance.holding_cost[idx].astype(float),
        penalty=items.stockout_penalty[idx].astype(float),
        premium=np.where(has_em, items.emergency_premium[idx], 0.0).astype(float),
        capacity=np.where(has_em, items.emergency_capacity[idx], 0.0).astype(float),
        fee=np.where(items.reserves_capacity[idx], items.reservation_fee[idx], np.nan).astype(
            float
        ),
        fill_rate=items.min_fill_rate[idx].astype(float),
        unit_cost=items.unit_cost[idx].astype(float),
        volume=items.volume[idx].astype(float),
        budget=instance.plan.inventory_budget,
        storage=instance.plan.storage_capacity,
        cvar_alpha=float(instance.risk.cvar_alpha),
        cvar_weight=float(instance.risk.cvar_weight),
    )


def program_skeleton(instance: Instance, n_scenarios: int | None = None) -> ProgramData:
    r"""Build the program of ``instance`` without its scenario arrays (a cluster's client).

    Every per-item coefficient and plan setting is real; ``demand`` and ``arrival`` are
    read-only broadcast views of one ``nan`` (and one ``-1``) of the full shape
    :math:`(n, N, H)`, so the shape figures (:attr:`ProgramData.n_scenarios`, cell counts)
    are those of the program while the scenarios themselves live on the workers
    (:mod:`optimizer.engines.executors`); anything that plays it gets ``nan``.
    """
    n = len(instance.items)
    if instance.explicit is not None:
        probability = instance.explicit.probability.astype(float)
    else:
        N = int(n_scenarios or instance.plan.scenarios)
        probability = np.full(N, 1.0 / N)
    shape = (n, probability.size, instance.horizon)
    warmup = instance.warmup
    dummy = ScenarioSet(np.empty((0, 0, 0)), np.empty((0, 0, 0), bool), probability, warmup,
                        np.zeros(0, bool))  # fmt: skip
    return ProgramData(
        warmup=warmup,
        periods=instance.plan.periods,
        probability=probability,
        demand=np.broadcast_to(np.float64(np.nan), shape),
        arrival=np.broadcast_to(np.int64(-1), shape),
        start=item_starts(instance, dummy),
        **_item_fields(instance, np.arange(n)),
    )


def item_starts(
    instance: Instance, scenarios: ScenarioSet, items: np.ndarray | None = None
) -> np.ndarray:
    """First live period of each item (0 unless the default warm-up is in force).

    The instance-wide default warm-up covers the slowest item (longest lead time plus the
    outage allowance of :attr:`Instance.warmup`). An item of a reliable supplier needs
    less: it starts later, from inventory position :math:`S_i`, with its own warm-up
    :math:`W_i` = its lead time (at least 1) plus its own supplier's allowance. Its
    supplier chain is stationary, so the costed periods see the same law, and the LP for
    it loses the inert periods. Explicit warm-ups and explicit scenarios start at 0.
    ``items`` (default all) selects the items whose starts are returned.
    """
    idx = np.arange(len(instance.items)) if items is None else np.asarray(items, dtype=int)
    n = idx.size
    if instance.plan.warmup is not None or instance.explicit is not None:
        return np.zeros(n, dtype=np.int64)
    if scenarios.warmup != instance.warmup:
        return np.zeros(n, dtype=np.int64)
    own = np.array([instance.item_warmup(int(i)) for i in idx], dtype=np.int64)
    return np.maximum(scenarios.warmup - own, 0)
