r"""Maximum-likelihood fits of the supported families, the AIC/BIC choice and a PIT test.

:func:`fit_family` maximises one family's likelihood (:mod:`~optimizer.history.families`)
over its two parameters (Nelder-Mead from the moment estimates; ``poisson`` in closed
form); :func:`choose_family` fits every admissible family and keeps the one with the
smallest information criterion, :math:`\mathrm{AIC} = 2k - 2\ell` or
:math:`\mathrm{BIC} = k\ln m - 2\ell` for :math:`k` parameters and :math:`m` periods.

Goodness of fit (:func:`pit_pvalue`): the probability integral transform
:math:`u_t = F(y_t^-) + V_t\,(F(y_t) - F(y_t^-))`, :math:`V_t \sim U(0,1)`, is exactly
uniform under the law for discrete and censored data alike (the randomised PIT of
Brockwell 2007); the figure reported is the Kolmogorov-Smirnov p-value of the
:math:`u_t` against :math:`U(0,1)`.  With parameters fitted to the same data the test
is conservative (a p-value a little too high, as for Lilliefors' corrected KS), so a low
value is a clear sign of misfit and a high one is no proof of fit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.history.families import (
    FAMILIES,
    Law,
    admissible,
    law_from,
    parameters,
    start_from,
)

log = logging.getLogger(__name__)

CRITERIA = ("aic", "bic")
PIT_SEED = 20240614
"""Seed of the PIT's uniform draws (the figure is reproducible)."""


@dataclass(frozen=True)
class FamilyFit:
    r"""One family fitted by maximum likelihood.

    Attributes
    ----------
    law : Law
        The family at its maximum-likelihood :math:`(\hat\mu, \hat\sigma)`.
    log_likelihood : float
        :math:`\hat\ell`.
    k, m : int
        Parameters and periods.
    """

    law: Law
    log_likelihood: float
    k: int
    m: int

    @property
    def aic(self) -> float:
        r""":math:`2k - 2\hat\ell`."""
        return 2 * self.k - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        r""":math:`k \ln m - 2\hat\ell`."""
        return self.k * math.log(self.m) - 2 * self.log_likelihood

    def criterion(self, name: str) -> float:
        """Return the information criterion ``name`` (``"aic"`` or ``"bic"``)."""
        return self.aic if name == "aic" else self.bic


def whole_units(y: np.ndarray) -> bool:
    """Tell whether every demand of the history is a whole number of units."""
    return bool(np.all(np.asarray(y) == np.round(y)))


def fit_family(family: str, y: np.ndarray, *, whole: bool | None = None) -> FamilyFit:
    """Maximum-likelihood fit of one family to the history ``y``.

    Raises
    ------
    ValueError
        When the family cannot describe ``y`` (:func:`~optimizer.history.families.admissible`).
    """
    from scipy import optimize

    y = np.asarray(y, dtype=float)
    whole = whole_units(y) if whole is None else whole
    if (why := admissible(family, y, whole_units=whole)) is not None:
        raise ValueError(f"{family}: {why}")
    if family == "poisson":
        law = Law("poisson", float(np.mean(y)), float(math.sqrt(np.mean(y))))
        return FamilyFit(law, law.log_likelihood(y, whole_units=whole), 1, len(y))

    def nll(theta: np.ndarray) -> float:
        try:
            with np.errstate(all="ignore"):
                value = law_from(family, theta).log_likelihood(y, whole_units=whole)
        except (OverflowError, ValueError, ZeroDivisionError):
            return math.inf
        return -value if math.isfinite(value) else math.inf

    start = start_from(family, y)
    best = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000}
    )
    theta = best.x if best.fun <= nll(start) else start
    law = law_from(family, theta)
    return FamilyFit(law, -nll(theta), parameters(family), len(y))


def choose_family(
    y: np.ndarray, *, criterion: str = "aic", families: tuple[str, ...] = FAMILIES
) -> tuple[FamilyFit, dict[str, FamilyFit]]:
    """Fit every admissible family of ``families``; return the best and all fits.

    Raises
    ------
    ValueError
        When no family of ``families`` can describe ``y``.
    """
    y = np.asarray(y, dtype=float)
    whole = whole_units(y)
    fits: dict[str, FamilyFit] = {}
    for family in families:
        if admissible(family, y, whole_units=whole) is None:
            fits[family] = fit_family(family, y, whole=whole)
    usable = {f: fit for f, fit in fits.items() if math.isfinite(fit.log_likelihood)}
    if not usable:
        reasons = "; ".join(
            f"{f}: {admissible(f, y, whole_units=whole) or 'no finite likelihood'}"
            for f in families
        )
        raise ValueError(f"no supported family fits this history ({reasons})")
    best = min(usable.values(), key=lambda fit: fit.criterion(criterion))
    return best, usable


def pit_pvalue(cdf: Callable[[np.ndarray], np.ndarray], y: np.ndarray, *, whole: bool) -> float:
    r"""KS p-value of the randomised PIT of ``y`` under the law with cdf ``cdf``.

    Parameters
    ----------
    cdf : callable
        :math:`F(x) = P(D \le x)`, vectorised.
    whole : bool
        Whole units: :math:`F(y^-) = F(y - 1)`; else only 0 carries mass
        (:math:`F(0^-) = 0`).
    """
    from scipy import stats

    y = np.asarray(y, dtype=float)
    upper = np.clip(cdf(y), 0.0, 1.0)
    if whole:
        lower = np.clip(cdf(y - 1.0), 0.0, 1.0)
    else:
        lower = np.where(y <= 0, 0.0, upper)
    v = np.random.default_rng(PIT_SEED).random(len(y))
    u = lower + v * (upper - lower)
    return float(stats.kstest(u, "uniform").pvalue)
