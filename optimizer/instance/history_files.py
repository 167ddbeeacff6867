r"""The planner's records: ``history/demand.csv``, ``forecast.csv`` and ``deliveries.csv``.

:func:`read_history` reads the three optional long tables with the row-numbered checks of
:mod:`optimizer.instance.tables`, fits each item's demand law and each supplier's chain
(:mod:`optimizer.history`) and fills the cells ``items.csv`` and ``suppliers.csv`` left
empty (a given cell always wins: README "From history to a plan").

Periods are one axis for the three files.  ``demand.csv`` runs from its first to its last
period, the same for every item, a missing (item, period) meaning zero demand; rows of
one item must come in increasing period order.  A forecast's costed periods are the
:math:`T` periods after the last demand period (``1..T`` without ``demand.csv``); its rows
at earlier periods are past forecasts, whose error against the actual demand of those
periods becomes the forecast's error.  Delivery records may have gaps (unobserved
periods): the chain is estimated from consecutive recorded periods only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import quoted
from optimizer.history.forecast import forecast_error, period_family
from optimizer.history.item_fit import fit_item
from optimizer.history.laws import DemandHistory, ItemFit
from optimizer.history.reliability import estimate_chain, planned_rates, pooled_recovery
from optimizer.instance.layout import (
    DELIVERIES_FILE,
    FORECAST_FILE,
    HISTORY_DEMAND_FILE,
    HISTORY_DIR,
    HISTORY_FILES,
    ITEMS_FILE,
    SUPPLIERS_FILE,
)
from optimizer.instance.problems import (
    MISSING_EXAMPLES,
    Problems,
    did_you_mean,
    fmt,
    plural_rows,
    report_rows,
)
from optimizer.instance.tables import (
    NONNEG,
    Check,
    Table,
    name_codes,
    numbers,
    read_csv,
    report_control,
    report_unknown,
)

logger = logging.getLogger(__name__)

MIN_HISTORY = 8
"""Periods of demand history needed to fit a law."""
MAX_PERIOD = 1_000_000
"""Largest period number a record may carry."""


def history_files(folder: Path) -> set[str]:
    """Return the history files present in ``folder`` (``demand.csv`` ... as in the layout)."""
    directory = folder / HISTORY_DIR
    if not directory.is_dir():
        return set()
    return {name for name in HISTORY_FILES if (directory / name).is_file()}


@dataclass
class _Records:
    """One long table ``entity, period, values...`` read and checked."""

    table: Table
    codes: np.ndarray
    period: np.ndarray
    values: dict[str, np.ndarray]
    keyed: np.ndarray


def _read_records(
    folder: Path,
    file: str,
    entity: str,
    columns: tuple[str, ...],
    optional: tuple[str, ...],
    names: list[str] | None,
    problems: Problems,
    checks: dict[str, Check],
    purpose: str,
) -> _Records | None:
    """Read one history table: names known, periods whole and in range, no repeats."""
    table = read_csv(
        folder,
        file,
        problems,
        required=(entity, "period", *columns),
        optional=optional,
        purpose=purpose,
    )
    if table is None:
        return None
    text = table.text(entity)
    table.labels = [str(s) or None for s in text]
    if table.has(entity):
        report_rows(problems, table, text == "", entity, lambda r: f"{entity} is empty")
        report_control(problems, table, text, entity, entity)
    period = numbers(
        table,
        "period",
        problems,
        required=True,
        check=Check(lambda v: (v >= 1) & (v <= MAX_PERIOD), f"must be in 1..{MAX_PERIOD:,}"),
        integer_rule="must be a whole number",
    )
    values = {
        c: numbers(table, c, problems, required=c in columns, check=checks.get(c))
        for c in (*columns, *optional)
    }
    codes = np.full(len(table), -1)
    if names is not None and table.has(entity):
        codes = name_codes(text, names)
        source = ITEMS_FILE if entity == "item" else SUPPLIERS_FILE
        report_unknown(
            problems,
            table,
            entity,
            text,
            codes,
            lambda name, n: f"unknown {entity} {quoted(name)}: not in {source} ({plural_rows(n)})",
        )
    keyed = (codes >= 0) & np.isfinite(period)
    frame = pd.DataFrame({"e": codes, "p": period})[keyed]
    repeat = np.zeros(len(table), dtype=bool)
    repeat[frame.index[frame.duplicated().to_numpy()]] = True
    report_rows(
        problems,
        table,
        repeat,
        "period",
        lambda r: f"{entity} {quoted(text[r])} has a second row for period {int(period[r])}",
    )
    return _Records(table, codes, period, values, keyed & ~repeat)


def _check_folder(folder: Path, problems: Problems) -> bool:
    """``history`` must be a folder holding only the three known CSV files."""
    directory = folder / HISTORY_DIR
    if not directory.is_dir():
        problems.add(HISTORY_DIR, f"{HISTORY_DIR} must be a folder of CSV files")
        return False
    for path in sorted(directory.glob("*.csv")):
        if path.name not in HISTORY_FILES:
            problems.add(
                f"{HISTORY_DIR}/{path.name}",
                f"unknown file in {HISTORY_DIR}/{did_you_mean(path.name, HISTORY_FILES)}; "
                f"expected {', '.join(HISTORY_FILES)}",
            )
    return True


def _demand_series(records: _Records, n_items: int, problems: Problems):
    """Dense ``(n_items, m)`` history, its first period and which items have rows."""
    table, codes, period, keyed = records.table, records.codes, records.period, records.keyed
    demand = records.values["demand"]
    # periods of one item must increase down the file
    frame = pd.DataFrame({"e": codes, "p": period})[keyed]
    previous = frame.groupby("e", sort=False)["p"].cummax().groupby(frame["e"]).shift()
    back = np.zeros(len(table), dtype=bool)
    late = frame.index[(frame["p"] < previous).to_numpy()]
    back[late] = True
    report_rows(
        problems,
        table,
        back,
        "period",
        lambda r: (
            f"period {int(period[r])} comes after a later period of the same item: rows of "
            "an item must be in period order"
        ),
    )
    ok = keyed & np.isfinite(demand)
    if not ok.any():
        return None
    first, last = int(period[ok].min()), int(period[ok].max())
    m = last - first + 1
    if m < MIN_HISTORY:
        problems.add(
            table.file,
            f"the history covers {m} period(s) ({first}..{last}); at least {MIN_HISTORY} "
            "are needed to fit a demand law",
            column="period",
        )
        return None
    series = np.zeros((n_items, m))
    series[codes[ok], period[ok].astype(int) - first] = demand[ok]
    present = np.zeros(n_items, dtype=bool)
    present[codes[ok]] = True
    return series, first, present


def read_history(folder: Path, problems: Problems, settings, items, suppliers, periods):
    """Read ``history/``, fit, fill the drafts' empty cells; the :class:`DemandHistory`.

    Parameters
    ----------
    settings : Settings
        ``[demand]`` and ``[suppliers]`` are read from it.
    items, suppliers : ItemDraft, SupplierDraft or None
        The drafts of ``items.csv`` and ``suppliers.csv`` (filled in place).
    periods : int or None
        :math:`T`, the costed periods a forecast must cover (None: unknown).

    Returns
    -------
    DemandHistory or None
        None when there is no history folder, or when what it depends on is broken
        (the problems are then recorded).
    """
    if not (folder / HISTORY_DIR).exists() or not _check_folder(folder, problems):
        return None
    present = history_files(folder)
    item_names = items.names if items is not None else None
    n_items = len(items.ids) if items is not None else 0
    fits: list[ItemFit | None] = [None] * n_items
    laws: list = [None] * n_items
    series = None
    if "demand.csv" in present:
        records = _read_records(
            folder, HISTORY_DEMAND_FILE, "item", ("demand",), (), item_names, problems,
            {"demand": NONNEG}, "item, period, demand: one row per item and period with demand",
        )  # fmt: skip
        if records is not None and items is not None:
            series = _demand_series(records, n_items, problems)
    origin = series[1] + series[0].shape[1] - 1 if series is not None else 0
    forecast = None
    if "forecast.csv" in present:
        forecast = _read_records(
            folder, FORECAST_FILE, "item", ("mean",), ("std",), item_names, problems,
            {"mean": NONNEG, "std": NONNEG},
            "item, period, mean[, std]: the forecast of each item for the costed periods",
        )  # fmt: skip
    deliveries = None
    if "deliveries.csv" in present:
        deliveries = _read_records(
            folder, DELIVERIES_FILE, "supplier", ("up",), (),
            suppliers.names if suppliers is not None else None, problems,
            {"up": Check(lambda v: (v == 0) | (v == 1), "must be 0 (down) or 1 (up)")},
            "supplier, period, up: one row per supplier and recorded period",
        )  # fmt: skip
    chains = {}
    if "deliveries.csv" in present:
        chains = _fit_suppliers(deliveries, suppliers, settings, problems)
    if items is None:
        return None
    demand_settings = settings.demand
    if series is not None:
        y, _, has = series
        for i in np.flatnonzero(has):
            family = str(items.dist[i]) if items.given["demand_dist"][i] else None
            fitted = fit_item(
                y[i], model=demand_settings.model, criterion=demand_settings.criterion,
                family=family, block=demand_settings.block,
            )  # fmt: skip
            _fill_item(items, int(i), fitted)
            own = any(items.given[c][i] for c in ("demand_mean", "demand_std", "demand_dist"))
            laws[i] = None if own else fitted.law
            report = fitted.report
            fits[i] = replace(report, model=f"items.csv (fit: {report.model})") if own else report
    n_periods = int(periods) if periods is not None else 0
    f_mean = np.full((n_items, n_periods), np.nan)
    f_std = np.full((n_items, n_periods), np.nan)
    if forecast is not None and periods is not None:
        _read_forecast(forecast, series, origin, items, f_mean, f_std, problems)
    if present & {"demand.csv", "forecast.csv"}:
        _report_missing_demand(items, problems, f_mean)
    families = []
    for i in range(n_items):
        if not np.isfinite(f_mean[i]).all() or n_periods == 0:
            families.append("")
            continue
        std = np.where(np.isfinite(f_std[i]), f_std[i], items["demand_std"][i])
        f_std[i] = std
        kind = "law" if laws[i] is not None else str(items.dist[i])
        whole = series is None or bool(np.all(series[0][i] == np.round(series[0][i])))
        families.append(period_family(kind, f_mean[i], std, whole=whole))
    return DemandHistory(
        laws=tuple(laws),
        forecast_mean=f_mean,
        forecast_std=f_std,
        forecast_family=tuple(families),
        fits=tuple(fits),
        suppliers=chains,
        settings={
            "demand": {
                "model": demand_settings.model,
                "criterion": demand_settings.criterion,
                "block": demand_settings.block,
            },
            "suppliers": {
                "reliability": settings.suppliers.reliability,
                "confidence": settings.suppliers.confidence,
                "min_events": settings.suppliers.min_events,
            },
            "history_periods": None if series is None else [series[1], origin],
        },
    )


def _fill_item(items, i: int, fitted) -> None:
    """Put the fit's stand-in law into the item's empty demand cells."""
    law = fitted.stand_in
    if not items.given["demand_dist"][i]:
        items.dist[i] = law.family
    if not items.given["demand_mean"][i]:
        items.values["demand_mean"][i] = law.mean
    if not items.given["demand_std"][i] or items.dist[i] == "poisson":
        mean = items.values["demand_mean"][i]
        items.values["demand_std"][i] = mean**0.5 if items.dist[i] == "poisson" else law.std


def _read_forecast(records, series, origin, items, f_mean, f_std, problems) -> None:
    """Fill the forecast paths; past rows give the forecast error (see the module)."""
    table, codes, period, keyed = records.table, records.codes, records.period, records.keyed
    n_periods = f_mean.shape[1]
    mean, std = records.values["mean"], records.values["std"]
    step = period - origin
    beyond = keyed & (step > n_periods)
    report_rows(
        problems,
        table,
        beyond,
        "period",
        lambda r: (
            f"period {int(period[r])} is past the costed periods: the forecast covers "
            f"{origin + 1}..{origin + n_periods} (the {n_periods} periods after the history)"
        ),
    )
    future = keyed & (step >= 1) & (step <= n_periods) & np.isfinite(mean)
    f_mean[codes[future], step[future].astype(int) - 1] = mean[future]
    given_std = future & np.isfinite(std)
    f_std[codes[given_std], step[given_std].astype(int) - 1] = std[given_std]
    past = keyed & (step < 1) & np.isfinite(mean)
    if series is not None and past.any():
        y, first, _ = series
        inside = past & (period >= first)
        for i in np.unique(codes[inside]):
            rows = inside & (codes == i)
            actual = y[i, period[rows].astype(int) - first]
            rmse, pairs = forecast_error(mean[rows], actual)
            fill = np.isnan(f_std[i])
            if np.isfinite(rmse):
                f_std[i, fill] = rmse
            logger.info(
                "%s: item %r: %d past forecast(s), error %s", FORECAST_FILE, items.ids[i],
                pairs, fmt(rmse) if np.isfinite(rmse) else "not used (too few pairs)",
            )  # fmt: skip
    forecast_items = np.unique(codes[keyed & (step >= 1)])
    for i in forecast_items:
        missing = np.flatnonzero(np.isnan(f_mean[i]))
        if missing.size:
            shown = ", ".join(str(origin + 1 + k) for k in missing[:MISSING_EXAMPLES])
            problems.add(
                FORECAST_FILE,
                f"the forecast of item {quoted(items.ids[i])} has no row for {missing.size} "
                f"costed period(s): {shown}{', ...' if missing.size > MISSING_EXAMPLES else ''}; "
                f"it must cover every period {origin + 1}..{origin + n_periods}",
                item=str(items.ids[i]),
                column="period",
            )
            f_mean[i] = np.nan
    for i in forecast_items:  # an item known only by its forecast takes its level
        if np.isfinite(f_mean[i]).all() and not items.given["demand_mean"][i]:
            if not np.isfinite(items.values["demand_mean"][i]):
                items.values["demand_mean"][i] = float(np.mean(f_mean[i]))
        if np.isfinite(f_std[i]).all() and not np.isfinite(items.values["demand_std"][i]):
            items.values["demand_std"][i] = float(np.sqrt(np.mean(f_std[i] ** 2)))


def _report_missing_demand(items, problems: Problems, f_mean: np.ndarray) -> None:
    """Items whose demand cells are empty and that no history or forecast fills."""
    for column in ("demand_mean", "demand_std"):
        empty = ~items.given[column] & ~np.isfinite(items.values[column])
        if column == "demand_std":
            empty &= items.dist != "poisson"
        for r in np.flatnonzero(empty & (items.ids != "")):
            problems.add(
                ITEMS_FILE,
                f"{column} is required but the cell is empty (item {quoted(items.ids[r])} has "
                f"no rows in {HISTORY_DEMAND_FILE} to fit it from)",
                row=int(r) + 1,
                item=str(items.ids[r]),
                column=column,
            )


def _fit_suppliers(records, suppliers, settings, problems: Problems) -> dict:
    """Estimate each recorded supplier's chain; fill the empty probability cells."""
    if suppliers is None:
        return {}
    names = suppliers.names
    chains = {}
    if records is not None and records.table.has("up"):
        up = records.values["up"]
        ok = records.keyed & np.isfinite(up)
        conf = settings.suppliers.confidence
        for s in np.unique(records.codes[ok]):
            rows = ok & (records.codes == s)
            chains[int(s)] = estimate_chain(records.period[rows], up[rows] == 1, conf)
    pooled = pooled_recovery(list(chains.values()), settings.suppliers.confidence)
    out = {}
    for r, name in enumerate(suppliers.ids):
        code = names.index(str(name)) if str(name) in names else -1
        estimate = chains.get(code)
        down_given = np.isfinite(suppliers.disruption_prob[r])
        up_given = np.isfinite(suppliers.recovery_prob[r])
        if estimate is None:
            for column, given in (("disruption_prob", down_given), ("recovery_prob", up_given)):
                if not given and str(name):
                    problems.add(
                        SUPPLIERS_FILE,
                        f"{column} is required but the cell is empty (supplier {quoted(name)} "
                        f"has no rows in {DELIVERIES_FILE} to estimate it from)",
                        row=r + 1, item=str(name), column=column,
                    )  # fmt: skip
            continue
        alpha, beta = planned_rates(estimate, pooled, reliability=settings.suppliers.reliability)
        if not down_given:
            suppliers.disruption_prob[r] = alpha
        if not up_given:
            suppliers.recovery_prob[r] = beta
        if suppliers.disruption_prob[r] > 0 and suppliers.recovery_prob[r] == 0:
            problems.add(
                DELIVERIES_FILE,
                f"supplier {quoted(name)} never recovers in its record ({estimate.counts[3]} "
                "down-to-down transitions, none back up): recovery_prob cannot be estimated; "
                f"give it in {SUPPLIERS_FILE}",
                item=str(name),
                column="up",
            )
        entry = estimate.as_dict()
        entry["planned"] = {
            "disruption_prob": float(suppliers.disruption_prob[r]),
            "recovery_prob": float(suppliers.recovery_prob[r]),
            "from": "suppliers.csv" if down_given and up_given else settings.suppliers.reliability,
        }
        entry["too_short"] = estimate.too_short(settings.suppliers.min_events)
        if entry["too_short"]:
            logger.warning(
                "%s: supplier %r: %d disruption(s) and %d recovery(ies) in the record, fewer "
                "than %d: the estimate alpha = %s [%s, %s], beta = %s is too uncertain to "
                "trust (consider [suppliers] reliability = \"pessimistic\")",
                DELIVERIES_FILE, str(name), estimate.disruptions, estimate.recoveries,
                settings.suppliers.min_events, fmt(estimate.alpha), fmt(estimate.alpha_ci[0]),
                fmt(estimate.alpha_ci[1]), fmt(estimate.beta),
            )  # fmt: skip
        out[str(name)] = entry
    return out
