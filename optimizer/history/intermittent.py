r"""Intermittent demand: the Syntetos-Boylan classes and a compound Bernoulli law for them.

Classes (Syntetos, Boylan & Croston, JORS 56, 2005): with :math:`\mathrm{ADI}` the average
interval between periods of non-zero demand (:math:`m / \#\{y_t > 0\}`) and
:math:`\mathrm{CV}^2` the squared coefficient of variation of the non-zero sizes,
``smooth`` (ADI < 1.32, CV² < 0.49), ``erratic`` (ADI < 1.32, CV² ≥ 0.49),
``intermittent`` (ADI ≥ 1.32, CV² < 0.49), ``lumpy`` (ADI ≥ 1.32, CV² ≥ 0.49).

For the last two a law made for them (:func:`fit_compound`): demand occurs with
probability :math:`p` each period, independently, with a size :math:`Z = 1 + X` (whole
units: :math:`X` Poisson or negative binomial) or :math:`Z` gamma or lognormal (fractional
sizes), the size family chosen by AIC/BIC.  This is the law Croston's method assumes
(Bernoulli occurrences, i.e. geometric intervals of mean :math:`1/p`, and i.i.d. sizes);
:math:`\hat p` and the size parameters are its maximum-likelihood estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.history.demand_fit import FamilyFit, choose_family, pit_pvalue, whole_units
from optimizer.history.families import TINY
from optimizer.history.laws import IntermittentLaw

ADI_CUT = 1.32
CV2_CUT = 0.49
"""The Syntetos-Boylan cut-offs."""


def classify(y: np.ndarray) -> tuple[float, float, str]:
    r"""Return :math:`(\mathrm{ADI}, \mathrm{CV}^2, \text{class})` of the history ``y``."""
    y = np.asarray(y, dtype=float)
    sizes = y[y > 0]
    if sizes.size == 0:
        return math.inf, math.nan, "none"
    adi = len(y) / sizes.size
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2) if sizes.size > 1 else 0.0
    if adi < ADI_CUT:
        return adi, cv2, "smooth" if cv2 < CV2_CUT else "erratic"
    return adi, cv2, "intermittent" if cv2 < CV2_CUT else "lumpy"


def is_intermittent(demand_class: str) -> bool:
    """Tell whether a class asks for the compound law."""
    return demand_class in ("intermittent", "lumpy")


@dataclass(frozen=True)
class CompoundFit:
    r"""A compound Bernoulli law fitted to a history.

    Attributes
    ----------
    law : IntermittentLaw
    size_fit : FamilyFit
        The maximum-likelihood fit of the size law (to :math:`Z - c`).
    log_likelihood : float
        :math:`\ell = m_0 \ln(1-\hat p) + m_+ \ln\hat p + \ell_{\text{size}}`.
    k, m : int
        Parameters (1 + the size law's) and periods.
    """

    law: IntermittentLaw
    size_fit: FamilyFit
    log_likelihood: float
    k: int
    m: int

    @property
    def aic(self) -> float:
        r""":math:`2k - 2\ell`."""
        return 2 * self.k - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        r""":math:`k \ln m - 2\ell`."""
        return self.k * math.log(self.m) - 2 * self.log_likelihood

    def cdf(self, x: np.ndarray, *, whole: bool) -> np.ndarray:
        r""":math:`P(D \le x) = (1-p) + p\,P(Z \le x)` for :math:`x \ge 0`."""
        x = np.asarray(x, dtype=float)
        p, c = self.law.occurrence, self.law.shift
        size = self.law.size.cdf(x - c, whole_units=whole)
        return np.where(x < 0, 0.0, (1.0 - p) + p * size)

    def pit_pvalue(self, y: np.ndarray) -> float:
        """KS p-value of the randomised PIT (:func:`~optimizer.history.demand_fit.pit_pvalue`)."""
        whole = whole_units(y)
        return pit_pvalue(lambda x: self.cdf(x, whole=whole), y, whole=whole)


def fit_compound(y: np.ndarray, *, criterion: str = "aic") -> CompoundFit:
    """Fit the compound Bernoulli law of the module to ``y`` (at least one non-zero).

    Raises
    ------
    ValueError
        When ``y`` has no period of positive demand.
    """
    y = np.asarray(y, dtype=float)
    sizes = y[y > 0]
    if sizes.size == 0:
        raise ValueError("no period of positive demand: nothing to fit")
    whole = whole_units(y)
    shift = 1.0 if whole else 0.0
    families = ("poisson", "negbin") if whole else ("gamma", "lognormal")
    excess = sizes - shift
    if whole and not excess.any():  # every size is one unit: X = 0
        from optimizer.history.families import Law

        size_fit = FamilyFit(Law("poisson", 0.0, 0.0), 0.0, 1, int(sizes.size))
    else:
        size_fit, _ = choose_family(excess, criterion=criterion, families=families)
    p = sizes.size / len(y)
    zeros = len(y) - sizes.size
    ll = sizes.size * math.log(p) + (zeros * math.log(max(1.0 - p, TINY)) if zeros else 0.0)
    ll += size_fit.log_likelihood
    law = IntermittentLaw(occurrence=p, size=size_fit.law, shift=shift)
    return CompoundFit(law=law, size_fit=size_fit, log_likelihood=ll, k=1 + size_fit.k, m=len(y))
