"""What ``history/`` gave each item: the plan's fit columns and ``summary.json``'s ``history``.

Only instances with a ``history/`` folder get them (README "From history to a plan"), so
the plans of every other instance keep their columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.instance import Instance

HISTORY_COLUMNS = (
    "demand_model",
    "demand_class",
    "fit_pvalue",
    "fit_mean",
    "fit_std",
    "forecast_mean",
)
"""Plan columns of a history instance, after ``posture``'s block."""


def with_history_fields(instance: Instance, table: pd.DataFrame) -> pd.DataFrame:
    """Append :data:`HISTORY_COLUMNS` to ``table`` when the instance has a history."""
    history = instance.history
    if history is None:
        return table
    out = table.copy()
    fits = history.fits
    nan = float("nan")
    out["demand_model"] = ["items.csv" if f is None else f.model for f in fits]
    out["demand_class"] = ["" if f is None else f.demand_class for f in fits]
    out["fit_pvalue"] = [nan if f is None else f.pit_pvalue for f in fits]
    out["fit_mean"] = [nan if f is None else f.mean for f in fits]
    out["fit_std"] = [nan if f is None else f.std for f in fits]
    with np.errstate(invalid="ignore"):
        fmean = history.forecast_mean.mean(axis=1) if history.forecast_mean.shape[1] else nan
    out["forecast_mean"] = fmean
    return out


def history_summary(instance: Instance) -> dict | None:
    """``summary.json``'s ``history``: settings, each item's fit and each supplier's chain."""
    history = instance.history
    if history is None:
        return None
    items = {}
    for i, fit in enumerate(history.fits):
        name = str(instance.items.name[i])
        entry = fit.as_dict() if fit is not None else {"model": "items.csv"}
        if history.has_forecast(i):
            entry["forecast"] = {
                "family": history.forecast_family[i],
                "mean": [float(x) for x in history.forecast_mean[i]],
                "std": [float(x) for x in history.forecast_std[i]],
            }
        items[name] = entry
    return {**history.settings, "items": items, "suppliers": history.suppliers}
