"""Writing an instance folder: :func:`write_instance`, the inverse of ``load_instance``.

``instance.toml`` is written with ``tomli-w`` from the settings dataclasses of
:mod:`optimizer.instance.schema`; numbers in the CSV files are written exactly (shortest
round-trip ``repr``), so :func:`~optimizer.instance.loader.load_instance` of the written
folder gives back an equal instance (README, "Instance files").  Text cells that start
like a spreadsheet formula are written with a leading apostrophe, which reading drops.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from optimizer.instance.layout import (
    ITEMS_FILE,
    RATE_COLUMNS,
    SCENARIO_DIR,
    SCENARIO_FILES,
    SUPPLIERS_FILE,
    TOML_FILE,
)
from optimizer.instance.tables import spreadsheet_safe
from optimizer.instance.types import Instance

logger = logging.getLogger(__name__)


def _table(settings: Any) -> dict[str, Any]:
    """Turn a settings dataclass into a TOML table, leaving out keys not set (``None``)."""
    return {k: v for k, v in dataclasses.asdict(settings).items() if v is not None}


def instance_toml(instance: Instance) -> str:
    """``instance.toml`` of ``instance``: name, description and the three tables."""
    document: dict[str, Any] = {
        "name": instance.name,
        "description": instance.description,
        "plan": _table(instance.plan),
    }
    if instance.black_swan is not None:
        document["black_swan"] = _table(instance.black_swan)
    document["risk"] = _table(instance.risk)
    return tomli_w.dumps(document)


def _cells(values: np.ndarray, *, blank: Callable[[float], bool] = math.isnan) -> list[str]:
    """Exact text of numbers (shortest round-trip ``repr``); ``blank`` ones become ``""``."""
    return ["" if blank(float(x)) else repr(float(x)) for x in values]


def _items_frame(instance: Instance) -> pd.DataFrame:
    """``items.csv`` content; optional columns only when they carry information."""
    it, plan = instance.items, instance.plan
    columns: dict[str, list[str]] = {
        "item": [str(x) for x in it.name],
        "supplier": [str(instance.suppliers.name[k]) for k in it.supplier],
        "unit_cost": _cells(it.unit_cost),
        "demand_mean": _cells(it.demand_mean),
        "demand_std": _cells(it.demand_std),
        "lead_time": [str(int(x)) for x in it.lead_time],
        "stockout_penalty": _cells(it.stockout_penalty),
        "demand_dist": [str(x) for x in it.demand_dist],
    }
    has_em = it.has_emergency
    if has_em.any():
        columns["emergency_premium"] = _cells(it.emergency_premium)
        capacity = np.where(has_em, it.emergency_capacity, np.inf)
        if np.isfinite(capacity).any():
            columns["emergency_capacity"] = _cells(capacity, blank=lambda x: not math.isfinite(x))
        fee = np.where(has_em, it.reservation_fee, np.nan)
        if np.isfinite(fee).any():
            columns["reservation_fee"] = _cells(fee)
    if np.isfinite(it.min_fill_rate).any():
        columns["min_fill_rate"] = _cells(it.min_fill_rate)
    if plan.storage_capacity is not None or (it.volume != 0).any():
        columns["volume"] = _cells(it.volume)
    for rate in RATE_COLUMNS:
        values, default = getattr(it, rate), float(getattr(plan, rate))
        if (values != default).any():
            columns[rate] = _cells(np.where(values == default, np.nan, values))
    if instance.item_master is not None:
        for name in instance.item_master.columns:
            columns[str(name)] = [str(x) for x in instance.item_master[name].to_numpy()]
    return pd.DataFrame(columns)


def _scenario_frames(instance: Instance) -> dict[str, pd.DataFrame]:
    """``scenarios/*.csv`` content of an instance with explicit scenarios."""
    ex = instance.explicit
    assert ex is not None
    n_items, n_scen, horizon = ex.demand.shape
    if horizon != instance.horizon:
        raise ValueError(
            f"explicit scenarios cover {horizon} periods but warm-up + periods is "
            f"{instance.horizon}"
        )
    s, p, i = np.meshgrid(np.arange(n_scen), np.arange(horizon), np.arange(n_items), indexing="ij")
    s, p, i = s.ravel(), p.ravel(), i.ravel()
    names = np.asarray(ex.names, dtype=str)
    frames = {
        "demand.csv": pd.DataFrame(
            {
                "scenario": names[s],
                "period": p + 1,
                "item": np.asarray(instance.items.name, dtype=str)[i],
                "demand": _cells(ex.demand[i, s, p]),
            }
        ),
        "probability.csv": pd.DataFrame(
            {"scenario": names, "probability": _cells(np.asarray(ex.probability, dtype=float))}
        ),
    }
    if not np.asarray(ex.supplier_up, dtype=bool).all():
        n_sup = ex.supplier_up.shape[0]
        grid = np.meshgrid(np.arange(n_scen), np.arange(horizon), np.arange(n_sup), indexing="ij")
        s, p, k = (g.ravel() for g in grid)
        frames["supply.csv"] = pd.DataFrame(
            {
                "scenario": names[s],
                "period": p + 1,
                "supplier": np.asarray(instance.suppliers.name, dtype=str)[k],
                "up": np.asarray(ex.supplier_up, dtype=bool)[k, s, p].astype(int),
            }
        )
    return frames


def instance_frames(instance: Instance) -> dict[str, pd.DataFrame]:
    """Return the CSV tables of ``instance`` as text frames, by file name (folder order).

    ``items.csv``, ``suppliers.csv`` and, for explicit scenarios, the files of
    ``scenarios/`` (``scenarios/demand.csv``...); numbers as exact text, not yet made
    spreadsheet-safe.  The workbook writer (:mod:`~optimizer.instance.workbook`) writes
    the same tables as sheets.
    """
    sup = instance.suppliers
    frames = {
        ITEMS_FILE: _items_frame(instance),
        SUPPLIERS_FILE: pd.DataFrame(
            {
                "supplier": [str(x) for x in sup.name],
                "disruption_prob": _cells(sup.disruption_prob),
                "recovery_prob": _cells(sup.recovery_prob),
            }
        ),
    }
    if instance.explicit is not None:
        for name, frame in _scenario_frames(instance).items():
            frames[f"{SCENARIO_DIR}/{name}"] = frame
    return frames


def write_instance(instance: Instance, folder: Path) -> None:
    """Write ``instance`` to ``folder`` in the instance-folder format (README, "Instance files").

    Writes ``instance.toml``, ``items.csv``, ``suppliers.csv`` and, for explicit
    scenarios, ``scenarios/demand.csv``, ``scenarios/probability.csv`` and (unless every
    supplier is always up) ``scenarios/supply.csv``.  Numbers are written exactly, so
    :func:`load_instance` of the folder returns an equal instance (except ``source``).
    Scenario files of an earlier instance in the same folder that this one does not need
    are removed; nothing else is deleted.

    Parameters
    ----------
    instance : Instance
        A valid instance (for example from a synthetic generator).
    folder : Path
        Target folder; created when missing.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TOML_FILE).write_text(instance_toml(instance), encoding="utf-8")
    tables = instance_frames(instance)
    spreadsheet_safe(tables[ITEMS_FILE]).to_csv(folder / ITEMS_FILE, index=False)
    spreadsheet_safe(tables[SUPPLIERS_FILE]).to_csv(folder / SUPPLIERS_FILE, index=False)
    directory = folder / SCENARIO_DIR
    prefix = f"{SCENARIO_DIR}/"
    frames = {k.removeprefix(prefix): v for k, v in tables.items() if k.startswith(prefix)}
    if frames:
        directory.mkdir(exist_ok=True)
    for name in SCENARIO_FILES:
        target = directory / name
        if name in frames:
            spreadsheet_safe(frames[name]).to_csv(target, index=False)
        elif target.exists():
            target.unlink()
    if directory.is_dir() and not frames and not any(directory.iterdir()):
        directory.rmdir()
    logger.info("wrote instance %r to %s", instance.name, folder)
