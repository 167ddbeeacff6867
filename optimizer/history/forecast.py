r"""A forecast's path over the costed periods and its error from past forecasts.

A forecast gives :math:`f_{i,t}` for each costed period :math:`t = 1..T`; scenarios then
draw period :math:`t`'s demand from a law of mean :math:`f_{i,t}` and standard deviation
:math:`\sigma_{i,t}` (README "From history to a plan").  :math:`\sigma_{i,t}` is, in this
order: the forecast's own ``std`` cell; the root-mean-square error
:math:`\sqrt{\frac1q\sum (y_p - f_p)^2}` of the item's past forecasts against the actual
demand of the same periods, when at least :data:`MIN_PAIRS` such pairs exist; else the
item's ``demand_std`` (from ``items.csv`` or the fit).  The RMSE keeps the forecasts'
bias in the error (a biased forecaster's plans hedge more).
"""

from __future__ import annotations

import math

import numpy as np

MIN_PAIRS = 4
"""Past forecast-actual pairs needed before their error replaces ``demand_std``."""


def forecast_error(forecast: np.ndarray, actual: np.ndarray) -> tuple[float, int]:
    """RMSE of past forecasts against actuals where both are given (``nan``: too few pairs).

    Returns
    -------
    tuple
        ``(rmse, pairs)``.
    """
    f, y = np.asarray(forecast, dtype=float), np.asarray(actual, dtype=float)
    both = np.isfinite(f) & np.isfinite(y)
    q = int(both.sum())
    if q < MIN_PAIRS:
        return math.nan, q
    return float(np.sqrt(np.mean((y[both] - f[both]) ** 2))), q


def period_family(family: str, mean: np.ndarray, std: np.ndarray, *, whole: bool) -> str:
    r"""Return the family a forecast item's costed periods are drawn from.

    The item's own family where it can take every :math:`(f_t, \sigma_t)` of the path;
    a ``negbin`` path with some :math:`\sigma_t^2 \le f_t` becomes ``poisson``.  Items
    sampled by a law of their own (``intermittent``, ``bootstrap``) take ``negbin`` for
    whole units when every :math:`\sigma_t^2 > f_t`, ``poisson`` for whole units
    otherwise, else ``gamma``.
    """
    over = bool(np.all(std**2 > mean))
    if family in ("normal", "gamma", "lognormal", "poisson"):
        return family
    if family == "negbin":
        return "negbin" if over else "poisson"
    if whole:
        return "negbin" if over else "poisson"
    return "gamma"
