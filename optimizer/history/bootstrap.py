r"""The circular block bootstrap of a demand history and the choice of its block length.

Resampling single periods destroys a history's autocorrelation; resampling blocks of
:math:`b` consecutive periods keeps it within blocks and breaks it only at the joins,
where :math:`1` lag-1 pair in :math:`b` is independent.  The lag-1 autocorrelation of
the bootstrap paths is therefore about :math:`\hat\rho_1 (b-1)/b` (the circular scheme of
Politis & Romano 1992 has no end effects).  :func:`block_length` takes the larger of

* the Politis-White (2004, with Patton, Politis & White 2009's correction) estimate
  for the circular bootstrap of the mean, :math:`b = (2\hat G^2/\hat D)^{1/3} m^{1/3}`
  from flat-top lag-window sums of the sample autocovariances, and
* the length whose join bias :math:`|\hat\rho_1|/b` is at most half the sampling error of
  :math:`\hat\rho_1` (Bartlett: :math:`\sqrt{(1-\hat\rho_1^2)/m}`),

within :math:`1..\lfloor m/4 \rfloor`, so the paths keep the history's lag-1
autocorrelation within its own sampling error.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.history.laws import BootstrapLaw


def autocorrelation(y: np.ndarray, lags: int) -> np.ndarray:
    r"""Sample autocorrelations :math:`\hat\rho_0..\hat\rho_{lags}` (biased, divisor :math:`m`)."""
    y = np.asarray(y, dtype=float)
    m = len(y)
    x = y - y.mean()
    c0 = float(x @ x) / m
    if c0 <= 0:
        return np.r_[1.0, np.zeros(lags)]
    return np.array([float(x[: m - k] @ x[k:]) / m / c0 for k in range(lags + 1)])


def politis_white(y: np.ndarray) -> float:
    r"""Politis-White block length of the circular bootstrap (see the module)."""
    y = np.asarray(y, dtype=float)
    m = len(y)
    if m < 4:
        return 1.0
    k_n = max(5, int(math.sqrt(math.log10(m))))
    max_lag = min(m - 1, 2 * int(math.ceil(math.sqrt(m))) + k_n)
    rho = autocorrelation(y, max_lag)
    bound = 2.0 * math.sqrt(math.log10(m) / m)
    small = np.abs(rho[1:]) < bound
    lag = max_lag // 2
    for j in range(max_lag - k_n + 1):
        if small[j : j + k_n].all():
            lag = j
            break
    window = max(1, 2 * lag)
    x = y - y.mean()
    gamma = np.array([float(x[: m - k] @ x[k:]) / m for k in range(min(window, m - 1) + 1)])
    t = np.arange(len(gamma)) / window
    flat = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    g = 2.0 * float(np.sum(flat[1:] * np.arange(1, len(gamma)) * gamma[1:]))
    spectral0 = gamma[0] + 2.0 * float(np.sum(flat[1:] * gamma[1:]))
    d = (4.0 / 3.0) * spectral0**2
    if d <= 0 or g == 0:
        return 1.0
    return float((2.0 * g**2 / d) ** (1.0 / 3.0) * m ** (1.0 / 3.0))


def block_length(y: np.ndarray) -> int:
    """Return the block length: Politis-White or the lag-1 rule, whichever is longer."""
    m = len(y)
    rho1 = float(autocorrelation(y, 1)[1]) if m > 1 else 0.0
    error = math.sqrt(max(1.0 - rho1**2, 1e-12) / max(m, 1))
    lag_rule = abs(rho1) / (0.5 * error)
    b = math.ceil(max(politis_white(y), lag_rule, 1.0))
    return int(min(max(b, 1), max(1, m // 4)))


def bootstrap_law(y: np.ndarray, block: int | None = None) -> BootstrapLaw:
    """Return the circular block bootstrap of ``y`` (blocks of :func:`block_length`)."""
    y = np.asarray(y, dtype=float)
    return BootstrapLaw(history=y.copy(), block=int(block or block_length(y)))
