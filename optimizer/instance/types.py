"""Validated instance: the typed, immutable form of an instance folder.

Everything downstream of :func:`~optimizer.instance.loader.load_instance` works on these
objects only; no module past this point reads a file.  Item attributes are stored
column-wise as numpy arrays (one entry per item, in file order) so scenario generation and
matrix building stay vectorised.  The settings tables (:class:`PlanSettings`,
:class:`BlackSwan`, :class:`RiskSettings`) are declared, with their defaults and bounds,
in :mod:`optimizer.instance.schema` and re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from optimizer.history.laws import DemandHistory
from optimizer.instance.schema import BlackSwan, PlanSettings, RiskSettings, Shortage

__all__ = [
    "DEMAND_FAMILIES",
    "BlackSwan",
    "ExplicitScenarios",
    "Instance",
    "Items",
    "PlanSettings",
    "RiskSettings",
    "Shortage",
    "Suppliers",
]

DEMAND_FAMILIES = ("normal", "poisson", "gamma", "lognormal", "negbin")


def outage_allowance(alpha: float | np.ndarray, beta: float | np.ndarray) -> float | np.ndarray:
    r"""Warm-up periods for a supplier's down spell: the :math:`k` of :attr:`Instance.warmup`.

    The smallest :math:`k` with :math:`(1-\beta)^k \le 0.01` when the supplier can fail
    (:math:`\alpha > 0`), 1 when it always recovers at once (:math:`\beta = 1`), 0 when it
    never fails. A float (``inf`` for :math:`\beta = 0`), so the loader can refuse a
    warm-up too long to build before turning it into an integer.
    """
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spell = np.ceil(np.log(0.01) / np.log1p(-b))
    k = np.where(a <= 0, 0.0, np.where(b >= 1.0, 1.0, spell))
    return float(k) if k.ndim == 0 else k


@dataclass(frozen=True)
class Items:
    r"""Item table, one array entry per item (file order).

    Attributes
    ----------
    name : ndarray of str
        Item identifiers.
    supplier : ndarray of int
        Index into :attr:`Suppliers.name`.
    unit_cost : ndarray
        :math:`c_i`, value of one unit.
    demand_mean, demand_std : ndarray
        :math:`\mu_i`, :math:`\sigma_i` of demand per period.
    demand_dist : ndarray of str
        Demand family, one of ``DEMAND_FAMILIES``.
    lead_time : ndarray of int
        :math:`L_i` in whole periods.
    stockout_penalty : ndarray
        :math:`p_i` per unit lost (lost sales) or per unit-period backordered.
    emergency_premium : ndarray
        :math:`e_i` per emergency unit; ``nan`` means no emergency source.
    emergency_capacity : ndarray
        Units per period from the emergency source; ``inf`` when unlimited.
    reservation_fee : ndarray
        :math:`f_i` per reserved unit per costed period; ``nan`` means capacity
        need not be reserved (the source's capacity is simply available).
    min_fill_rate : ndarray
        :math:`\beta_i`; ``nan`` when none is required.
    volume : ndarray
        :math:`v_i`, storage volume per unit (for the storage coupling row).
    capital_rate, storage_rate, obsolescence_rate : ndarray
        Annual carrying rates per item (plan defaults filled in).
    """

    name: np.ndarray
    supplier: np.ndarray
    unit_cost: np.ndarray
    demand_mean: np.ndarray
    demand_std: np.ndarray
    demand_dist: np.ndarray
    lead_time: np.ndarray
    stockout_penalty: np.ndarray
    emergency_premium: np.ndarray
    emergency_capacity: np.ndarray
    reservation_fee: np.ndarray
    min_fill_rate: np.ndarray
    volume: np.ndarray
    capital_rate: np.ndarray
    storage_rate: np.ndarray
    obsolescence_rate: np.ndarray

    def __len__(self) -> int:
        """Return the number of items :math:`n`."""
        return len(self.name)

    @property
    def has_emergency(self) -> np.ndarray:
        """Boolean mask of items with an emergency source."""
        return ~np.isnan(self.emergency_premium)

    @property
    def reserves_capacity(self) -> np.ndarray:
        """Items whose emergency capacity :math:`K_i` is a first-stage decision."""
        return self.has_emergency & ~np.isnan(self.reservation_fee)

    def subset(self, index: np.ndarray | list[int]) -> Items:
        """Return the items at ``index`` (keeps the order given)."""
        idx = np.asarray(index, dtype=int)
        return Items(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class Suppliers:
    r"""Supplier table with its two-state Markov chain.

    Attributes
    ----------
    name : ndarray of str
    disruption_prob : ndarray
        :math:`\alpha_s = P(\text{up} \to \text{down})` per period.
    recovery_prob : ndarray
        :math:`\beta_s = P(\text{down} \to \text{up})` per period.
    """

    name: np.ndarray
    disruption_prob: np.ndarray
    recovery_prob: np.ndarray

    def __len__(self) -> int:
        """Return the number of suppliers."""
        return len(self.name)


@dataclass(frozen=True)
class ExplicitScenarios:
    """Scenarios supplied by the planner (replace sampling).

    Attributes
    ----------
    demand : ndarray, shape (n_items, n_scenarios, warmup + periods)
    supplier_up : ndarray of bool, shape (n_suppliers, n_scenarios, warmup + periods)
        All ones when ``scenarios/supply.csv`` is absent.
    probability : ndarray, shape (n_scenarios,)
    names : ndarray of str
        Scenario labels from the files.
    """

    demand: np.ndarray
    supplier_up: np.ndarray
    probability: np.ndarray
    names: np.ndarray


@dataclass(frozen=True)
class Instance:
    """A complete, validated instance."""

    name: str
    description: str
    plan: PlanSettings
    items: Items
    suppliers: Suppliers
    black_swan: BlackSwan | None = None
    risk: RiskSettings = field(default_factory=RiskSettings)
    explicit: ExplicitScenarios | None = None
    source: str = ""
    history: DemandHistory | None = None
    """Laws, forecasts and fit reports from ``history/`` (None: no history folder)."""
    item_master: pd.DataFrame | None = field(default=None, compare=False)
    """Item-master columns of ``items.csv`` (description, category, ABC class...): text,
    one row per item in item order, indexed by item name, columns as written; they pass
    through to the plan unchanged.  None: ``items.csv`` has no such column."""

    @cached_property
    def warmup(self) -> int:
        r"""Warm-up periods :math:`W`.

        Default: the largest item warm-up (:meth:`item_warmup`): :math:`2L + 3` periods
        plus, when a supplier used by an item can fail, the length :math:`k` of a down
        spell that is exceeded with at most 1% probability, :math:`(1-\beta)^{k} \le
        0.01`. Without that allowance a spell in progress at the first costed period
        could only have started at period 1, so long outages would be cut short and
        disruption risk under-stated (on Snyder & Shen's Example 9.3 the in-sample cost
        fell 23% below the true one).

        Computed once per instance (it is immutable): one pass over 100,000 items takes
        0.3 s, and the horizon, the scenarios and the item starts all ask for it.
        """
        if self.plan.warmup is not None:
            return int(self.plan.warmup)
        return max((self.item_warmup(i) for i in range(len(self.items))), default=1)

    def item_warmup(self, i: int) -> int:
        r"""Return the warm-up item ``i`` needs, in periods.

        That is :math:`2L_i + 3` periods, which bring a run started from the mean-filled
        pipeline (on hand :math:`S - L\mu`, :math:`\mu` arriving in each of the first
        :math:`L` periods) to its steady state — measured against the exact long-run
        costs of Poisson lost-sales items, every costed period is then within 0.1% of
        the long-run cost, where :math:`\max(1, L)` left the first costed period 7-35%
        above it (``tests/test_markov_reference.py``) — plus its supplier's outage
        allowance (see :attr:`warmup`).
        """
        s = int(self.items.supplier[i])
        lead = self.items.lead_time[i]
        alpha, beta = self.suppliers.disruption_prob[s], self.suppliers.recovery_prob[s]
        return int(2 * int(lead) + 3 + outage_allowance(alpha, beta))

    @property
    def horizon(self) -> int:
        """Simulated periods :math:`H = W + T`."""
        return self.warmup + self.plan.periods

    @property
    def holding_cost(self) -> np.ndarray:
        """Per-period carrying cost per unit on hand, :math:`h_i` (sum of the three lines)."""
        return self.carrying_lines().sum(axis=0)

    def carrying_lines(self) -> np.ndarray:
        """Per-period carrying cost lines, shape (3, n_items): storage, capital, obsolescence."""
        it = self.items
        per = it.unit_cost / self.plan.periods_per_year
        return np.vstack([per * it.storage_rate, per * it.capital_rate, per * it.obsolescence_rate])

    def with_plan(self, **changes: object) -> Instance:
        """Copy with ``[plan]`` fields replaced (e.g. ``scenarios``, ``seed``)."""
        return replace(self, plan=replace(self.plan, **changes))

    def with_fill_rate(self, target: float) -> Instance:
        r"""Copy where every item without a fill-rate target gets :math:`\beta` = ``target``.

        Items with their own ``min_fill_rate`` keep it (``stockplan solve --fill-rate``).
        """
        own = self.items.min_fill_rate
        items = replace(self.items, min_fill_rate=np.where(np.isnan(own), float(target), own))
        return replace(self, items=items)

    def subset_items(self, index: np.ndarray | list[int]) -> Instance:
        """Copy restricted to the items at ``index`` (explicit demand rows follow)."""
        idx = np.asarray(index, dtype=int)
        explicit = self.explicit
        if explicit is not None:
            explicit = replace(explicit, demand=explicit.demand[idx])
        history = self.history.subset(idx) if self.history is not None else None
        master = self.item_master.iloc[idx] if self.item_master is not None else None
        return replace(
            self,
            items=self.items.subset(idx),
            explicit=explicit,
            history=history,
            item_master=master,
        )
