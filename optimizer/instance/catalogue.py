"""The rules of ``items.csv`` and ``suppliers.csv``, and of the plan settings against them.

:func:`read_suppliers` and :func:`read_items` read the two tables with the vectorised
column checks of :mod:`optimizer.instance.tables` and add the rules that are particular
to them (demand families, emergency sources, volumes); :func:`check_plan_against_items`
checks ``[plan]`` limits against the pipeline stock; :func:`build_items` and
:func:`build_suppliers` type the checked drafts.

``poisson`` demand ignores ``demand_std``: the Poisson variance equals its mean, so the
loaded ``demand_std`` is ``sqrt(demand_mean)``.  A given ``demand_std`` that differs from
that by more than 1 % only triggers a logging warning; the cell may also be left empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import quoted
from optimizer.instance.layout import (
    ITEM_OPTIONAL,
    ITEM_REQUIRED,
    ITEMS_FILE,
    PLAN_COLUMNS,
    RATE_COLUMNS,
    SUPPLIER_COLUMNS,
    SUPPLIERS_FILE,
)
from optimizer.instance.problems import Problems, fmt, report_rows
from optimizer.instance.settings import UNKNOWN, Settings
from optimizer.instance.tables import (
    FRACTION,
    NONNEG,
    POSITIVE,
    Check,
    Table,
    check_ids,
    name_codes,
    numbers,
    read_csv,
    report_control,
    unique_names,
)
from optimizer.instance.types import DEMAND_FAMILIES, Items, Suppliers

logger = logging.getLogger(__name__)

POISSON_STD_TOLERANCE = 0.01
"""Relative gap between a given poisson ``demand_std`` and ``sqrt(demand_mean)`` that is logged."""
LIMIT_TOLERANCE = 1e-9
"""Relative gap by which a budget or capacity must fall short of the pipeline to be refused
(the sum is rounded differently from the figure a planner writes down)."""


def falls_short(limit: float, need: float) -> bool:
    """Tell whether ``limit`` is below ``need`` by more than :data:`LIMIT_TOLERANCE` (relative)."""
    return need - limit > LIMIT_TOLERANCE * max(abs(need), abs(limit))


@dataclass
class SupplierDraft:
    """Parsed supplier table (``nan`` where a cell is invalid)."""

    ids: np.ndarray
    disruption_prob: np.ndarray
    recovery_prob: np.ndarray
    lines: np.ndarray | None = None
    """Spreadsheet row number of each supplier (None: rows 2, 3, ...)."""

    @property
    def names(self) -> list[str]:
        """Non-empty supplier names in file order, each once."""
        return unique_names(self.ids)


def read_suppliers(
    folder: Path, problems: Problems, *, from_records: bool = False
) -> SupplierDraft | None:
    """Read and check ``suppliers.csv``.

    With ``from_records`` (``history/deliveries.csv`` exists) the two probabilities may
    be left out: :mod:`~optimizer.instance.history_files` estimates them.
    """
    required = SUPPLIER_COLUMNS[:1] if from_records else SUPPLIER_COLUMNS
    table = read_csv(
        folder,
        SUPPLIERS_FILE,
        problems,
        required=required,
        optional=SUPPLIER_COLUMNS[len(required) :],
        purpose="one row per supplier: supplier, disruption_prob, recovery_prob",
    )
    if table is None:
        return None
    ids = check_ids(table, "supplier", problems, "supplier")
    need = not from_records
    down = numbers(table, "disruption_prob", problems, required=need, check=FRACTION)
    up = numbers(table, "recovery_prob", problems, required=need, check=FRACTION)
    report_rows(
        problems,
        table,
        (down > 0) & (up == 0),
        "recovery_prob",
        lambda r: (
            f"supplier never recovers: recovery_prob is 0 while disruption_prob is "
            f"{fmt(down[r])} > 0, so one disruption would stop it for ever"
        ),
    )
    if not table.has("supplier"):
        return None
    return SupplierDraft(ids=ids, disruption_prob=down, recovery_prob=up, lines=table.lines)


# --------------------------------------------------------------------------------------
# items.csv
# --------------------------------------------------------------------------------------

# column -> (required, rule, integer rule)
_ITEM_NUMBERS: dict[str, tuple[bool, Check | None, str | None]] = {
    "unit_cost": (True, POSITIVE, None),
    "demand_mean": (True, NONNEG, None),
    "demand_std": (False, NONNEG, None),  # may be empty for poisson; checked separately
    "lead_time": (True, NONNEG, "must be a whole number of periods"),
    "stockout_penalty": (True, NONNEG, None),
    "emergency_premium": (False, NONNEG, None),
    "emergency_capacity": (False, NONNEG, None),
    "reservation_fee": (False, NONNEG, None),
    "min_fill_rate": (False, FRACTION, None),
    "volume": (False, NONNEG, None),
    "capital_rate": (False, NONNEG, None),
    "storage_rate": (False, NONNEG, None),
    "obsolescence_rate": (False, NONNEG, None),
}


@dataclass
class ItemDraft:
    """Parsed item table; numbers are ``nan`` where a cell is empty or invalid."""

    ids: np.ndarray
    supplier: np.ndarray
    dist: np.ndarray
    values: dict[str, np.ndarray]
    given: dict[str, np.ndarray]
    lines: np.ndarray | None = None
    """Spreadsheet row number of each item (None: rows 2, 3, ...)."""
    master: pd.DataFrame | None = None
    """Item-master columns of ``items.csv`` (text), one row per item row."""

    @property
    def names(self) -> list[str]:
        """Non-empty item names in file order, each once."""
        return unique_names(self.ids)

    def __getitem__(self, column: str) -> np.ndarray:
        """Return the parsed numbers of ``column`` (``nan`` where empty or invalid)."""
        return self.values[column]


def read_items(
    folder: Path,
    problems: Problems,
    settings: Settings,
    suppliers: SupplierDraft | None,
    *,
    from_history: bool = False,
) -> ItemDraft | None:
    """Read and check ``items.csv`` (column types, ranges, distributions, emergency).

    With ``from_history`` (``history/`` holds demand or a forecast) ``demand_mean`` and
    ``demand_std`` may be left out: :mod:`~optimizer.instance.history_files` fills them.
    """
    fitted = ("demand_mean", "demand_std") if from_history else ()
    table = read_csv(
        folder,
        ITEMS_FILE,
        problems,
        required=tuple(c for c in ITEM_REQUIRED if c not in fitted),
        optional=(*fitted, *ITEM_OPTIONAL),
        purpose="one row per item",
        extras=True,
        reserved=PLAN_COLUMNS,
    )
    if table is None:
        return None
    ids = check_ids(table, "item", problems, "item")
    supplier = _item_suppliers(table, problems, suppliers)
    dist = _demand_dists(table, problems)
    values = {
        column: numbers(
            table, column, problems, required=req and column not in fitted, check=check,
            integer_rule=whole,
        )
        for column, (req, check, whole) in _ITEM_NUMBERS.items()
    }  # fmt: skip
    given = {column: table.text(column) != "" for column in (*_ITEM_NUMBERS, "demand_dist")}
    draft = ItemDraft(ids=ids, supplier=supplier, dist=dist, values=values, given=given)
    draft.lines, draft.master = table.lines, table.extras
    _check_distributions(table, draft, problems, from_history=from_history)
    _check_emergency(table, draft, problems)
    _check_volume(table, draft, settings, problems)
    return draft


def _item_suppliers(
    table: Table, problems: Problems, suppliers: SupplierDraft | None
) -> np.ndarray:
    """Supplier index of each item (``-1`` when empty or unknown)."""
    text = table.text("supplier")
    if not table.has("supplier"):
        return np.full(len(table), -1)
    report_rows(
        problems,
        table,
        text == "",
        "supplier",
        lambda r: "supplier is empty: every item needs a supplier listed in suppliers.csv",
    )
    report_control(problems, table, text, "supplier", "supplier")
    if suppliers is None or not suppliers.names:
        return np.full(len(table), -1)  # suppliers.csv is unusable: reported there
    codes = name_codes(text, suppliers.names)
    report_rows(
        problems,
        table,
        (codes < 0) & (text != ""),
        "supplier",
        lambda r: f"unknown supplier {quoted(text[r])}: it is not listed in suppliers.csv",
    )
    return codes


def _demand_dists(table: Table, problems: Problems) -> np.ndarray:
    """Demand family per item, lower-cased; empty means ``normal``."""
    text = np.array([str(t).lower() for t in table.text("demand_dist")], dtype=object)
    text[text == ""] = "normal"
    bad = ~np.isin(text, DEMAND_FAMILIES)
    raw = table.text("demand_dist")
    report_rows(
        problems,
        table,
        bad,
        "demand_dist",
        lambda r: f"demand_dist must be one of {', '.join(DEMAND_FAMILIES)}; got {quoted(raw[r])}",
    )
    return text


def _check_distributions(
    table: Table, draft: ItemDraft, problems: Problems, *, from_history: bool = False
) -> None:
    """Family-specific rules on ``demand_mean`` / ``demand_std``.

    ``poisson`` ignores ``demand_std`` (it becomes ``sqrt(demand_mean)``; a given value more
    than 1 % off is logged); ``negbin`` needs variance > mean; ``gamma`` and ``lognormal``
    need a positive mean when the spread is positive.  ``demand_std`` is required for every
    other family.
    """
    mean, std, dist = draft["demand_mean"], draft["demand_std"], draft.dist
    poisson = dist == "poisson"
    std_given = draft.given["demand_std"]
    if table.has("demand_std") and not from_history:
        report_rows(
            problems,
            table,
            ~std_given & ~poisson,
            "demand_std",
            lambda r: (
                "demand_std is required but the cell is empty "
                "(it may be left empty only for poisson items)"
            ),
        )
    root = np.sqrt(np.where(mean >= 0, mean, np.nan))
    off = poisson & std_given & np.isfinite(std) & np.isfinite(root)
    gap = np.abs(np.nan_to_num(std) - np.nan_to_num(root))
    off &= gap > POISSON_STD_TOLERANCE * np.nan_to_num(root)
    for r in np.flatnonzero(off):
        logger.warning(
            "%s row %d, item %r: poisson demand ignores demand_std = %s; its standard "
            "deviation is sqrt(demand_mean) = %s",
            ITEMS_FILE,
            table.line(int(r)),
            table.label(int(r)),
            fmt(std[r]),
            fmt(root[r]),
        )
    draft.values["demand_std"] = np.where(poisson, root, std)
    both = np.isfinite(mean) & np.isfinite(std)
    negbin = both & (dist == "negbin") & ~(std**2 > mean)
    report_rows(
        problems,
        table,
        negbin,
        "demand_std",
        lambda r: (
            f"negbin demand needs variance > mean, but demand_std² = {fmt(std[r] ** 2)} "
            f"is not above demand_mean = {fmt(mean[r])} (use poisson when they are equal, "
            "normal for less spread)"
        ),
    )
    skewed = both & np.isin(dist, ("gamma", "lognormal")) & (std > 0) & ~(mean > 0)
    report_rows(
        problems,
        table,
        skewed,
        "demand_mean",
        lambda r: f"{dist[r]} demand with demand_std > 0 needs demand_mean > 0, got {fmt(mean[r])}",
    )


def _check_emergency(table: Table, draft: ItemDraft, problems: Problems) -> None:
    """``emergency_capacity`` and ``reservation_fee`` only make sense with a premium."""
    premium = draft.given["emergency_premium"]
    for column in ("emergency_capacity", "reservation_fee"):
        report_rows(
            problems,
            table,
            draft.given[column] & ~premium,
            column,
            lambda r, c=column: (
                f"{c} needs an emergency_premium (the price per emergency unit) in the same row"
            ),
        )


def _check_volume(table: Table, draft: ItemDraft, settings: Settings, problems: Problems) -> None:
    """``volume`` is required on every row when ``[plan] storage_capacity`` is set."""
    capacity = settings.value("storage_capacity")
    if capacity is None or capacity is UNKNOWN:
        return
    if not table.has("volume"):
        problems.add(
            ITEMS_FILE,
            "missing column 'volume': it is required because [plan] storage_capacity is set",
            column="volume",
        )
        return
    report_rows(
        problems,
        table,
        ~draft.given["volume"],
        "volume",
        lambda r: "volume is required on every item because [plan] storage_capacity is set",
    )


# --------------------------------------------------------------------------------------
# checks across instance.toml and items.csv
# --------------------------------------------------------------------------------------


def check_plan_against_items(
    settings: Settings, items: ItemDraft | None, problems: Problems
) -> None:
    """Warm-up vs lead times, budget and storage capacity vs the pipeline stock."""
    if items is None or len(items.ids) == 0:
        return
    lead, mean, cost = items["lead_time"], items["demand_mean"], items["unit_cost"]
    warmup = settings.value("warmup")
    if warmup is not None and warmup is not UNKNOWN and np.isfinite(lead).any():
        longest = int(np.nanargmax(lead))
        if warmup < lead[longest]:
            problems.add(
                settings.file,
                f"warmup = {warmup} is shorter than the longest lead time, "
                f"{int(lead[longest])} periods (item {quoted(items.ids[longest])}): the warm-up "
                "must be at least that long to fill the pipeline",
                item=str(items.ids[longest]),
                column="plan.warmup",
            )
    pipeline = lead * mean
    for key, per_unit, what, word in (
        ("inventory_budget", cost, "value", "unit_cost"),
        ("storage_capacity", items["volume"], "volume", "volume"),
    ):
        limit = settings.value(key)
        if limit is None or limit is UNKNOWN:
            continue
        need = per_unit * pipeline
        if not np.isfinite(need).all():
            continue
        total = float(need.sum())
        if falls_short(limit, total):
            fits = "budget" if key == "inventory_budget" else "storage"
            problems.add(
                settings.file,
                f"{key} = {fmt(limit)} is below {fmt(total)}, the {what} of the pipeline "
                f"stock alone (sum over items of {word} × lead_time × demand_mean); every "
                f"base-stock level must cover its pipeline (S ≥ L·μ), so no plan fits the "
                f"{fits}",
                column=f"plan.{key}",
            )
        elif limit < total:
            # short by rounding only: the limit is the pipeline itself, a hair above it so
            # that no engine sees the pipeline levels as infeasible
            lifted = total * (1.0 + LIMIT_TOLERANCE)
            logger.info(
                "%s = %s is the pipeline %s %s: read as %s",
                key,
                fmt(limit),
                what,
                fmt(total),
                fmt(lifted),
            )
            settings.plan = replace(settings.plan, **{key: lifted})


def build_items(draft: ItemDraft, settings: Settings) -> Items:
    """Typed :class:`Items` from a draft without problems (defaults filled in)."""
    v = draft.values
    has_premium = draft.given["emergency_premium"]
    capacity = np.where(draft.given["emergency_capacity"], v["emergency_capacity"], np.inf)
    rates = {
        rate: np.where(draft.given[rate], v[rate], float(settings.value(rate)))
        for rate in RATE_COLUMNS
    }
    return Items(
        name=np.array([str(x) for x in draft.ids], dtype=str),
        supplier=draft.supplier.astype(int),
        unit_cost=v["unit_cost"].copy(),
        demand_mean=v["demand_mean"].copy(),
        demand_std=v["demand_std"].copy(),
        demand_dist=np.array([str(x) for x in draft.dist], dtype=str),
        lead_time=v["lead_time"].astype(int),
        stockout_penalty=v["stockout_penalty"].copy(),
        emergency_premium=v["emergency_premium"].copy(),
        emergency_capacity=np.where(has_premium, capacity, np.inf),
        reservation_fee=v["reservation_fee"].copy(),
        min_fill_rate=v["min_fill_rate"].copy(),
        volume=np.where(draft.given["volume"], v["volume"], 0.0),
        **rates,
    )


def build_item_master(draft: ItemDraft) -> pd.DataFrame | None:
    """Return the item-master columns of ``items.csv`` as text, by item name (None: none).

    Columns keep their names and order as written; cells are the stripped text (``""``
    where empty).  See :attr:`Instance.item_master
    <optimizer.instance.types.Instance.item_master>`.
    """
    if draft.master is None or draft.master.shape[1] == 0:
        return None
    master = draft.master.copy()
    master.index = pd.Index([str(x) for x in draft.ids], name="item")
    return master


def build_suppliers(draft: SupplierDraft) -> Suppliers:
    """Typed :class:`Suppliers` from a draft without problems."""
    return Suppliers(
        name=np.array([str(x) for x in draft.ids], dtype=str),
        disruption_prob=draft.disruption_prob.copy(),
        recovery_prob=draft.recovery_prob.copy(),
    )
