r"""The supported demand families as likelihoods, in the sampler's own parameters.

Each family is given by the mean :math:`\mu` and standard deviation :math:`\sigma` that
:func:`optimizer.scenarios.sample_demand` draws with (README "Instance files",
``demand_dist``): ``normal`` is a latent :math:`N(\mu, \sigma^2)` censored at 0,
``gamma`` and ``lognormal`` match both moments, ``poisson`` has variance :math:`\mu`,
``negbin`` has :math:`n = \mu^2/(\sigma^2-\mu)`, :math:`p = \mu/\sigma^2`.

Whole-unit histories are compared on one footing: a continuous family's probability of
:math:`k` units is the mass it puts on :math:`[k-\tfrac12, k+\tfrac12)` (on
:math:`[0, \tfrac12)` for 0), so a likelihood of counts is a probability for every family
and AIC/BIC compare them fairly.  Fractional histories only admit the continuous
families; ``gamma`` and ``lognormal`` then cannot hold a zero (its density is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAMILIES = ("normal", "poisson", "gamma", "lognormal", "negbin")
"""The families stockplan samples (``optimizer.instance.types.DEMAND_FAMILIES``)."""
DISCRETE = ("poisson", "negbin")
TINY = 1e-300
"""Floor of a probability before its logarithm (a count the law puts no mass on)."""


@dataclass(frozen=True)
class Law:
    r"""One family at one :math:`(\mu, \sigma)`.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    mean, std : float
        :math:`\mu`, :math:`\sigma` in the sampler's parametrisation (for ``normal`` the
        latent law before censoring at 0).
    """

    family: str
    mean: float
    std: float

    def frozen(self):  # noqa: ANN201 - a scipy frozen distribution
        """Return the scipy distribution of the uncensored law (``normal``: the latent normal)."""
        from scipy import stats

        mu, sd = self.mean, self.std
        if self.family == "normal":
            return stats.norm(mu, sd)
        if self.family == "poisson":
            return stats.poisson(mu)
        if self.family == "gamma":
            return stats.gamma((mu / sd) ** 2, scale=sd**2 / mu)
        if self.family == "lognormal":
            s2 = math.log1p((sd / mu) ** 2)
            return stats.lognorm(math.sqrt(s2), scale=mu * math.exp(-s2 / 2))
        if self.family == "negbin":
            var = sd**2
            return stats.nbinom(mu**2 / (var - mu), mu / var)
        raise ValueError(f"unknown demand family {self.family!r}")

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        r""":math:`P(X \le x)` of the uncensored law (scipy.special, no frozen objects)."""
        from scipy import special

        mu, sd = self.mean, self.std
        x = np.asarray(x, dtype=float)
        if self.family == "normal":
            return special.ndtr((x - mu) / sd)
        if self.family == "poisson":
            return np.where(x < 0, 0.0, special.pdtr(np.floor(np.maximum(x, 0)), mu))
        if self.family == "negbin":
            var = sd**2
            n, p = mu**2 / (var - mu), mu / var
            k = np.floor(np.maximum(x, 0))
            return np.where(x < 0, 0.0, special.betainc(n, k + 1, p))
        pos = np.maximum(x, 1e-300)
        if self.family == "gamma":
            shape, scale = (mu / sd) ** 2, sd**2 / mu
            return np.where(x <= 0, 0.0, special.gammainc(shape, pos / scale))
        if self.family == "lognormal":
            s2 = math.log1p((sd / mu) ** 2)
            z = (np.log(pos) - (math.log(mu) - s2 / 2)) / math.sqrt(s2)
            return np.where(x <= 0, 0.0, special.ndtr(z))
        raise ValueError(f"unknown demand family {self.family!r}")

    def _logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density (log mass for the count laws) of the uncensored law."""
        from scipy import special

        mu, sd = self.mean, self.std
        x = np.asarray(x, dtype=float)
        if self.family == "normal":
            return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)
        if self.family == "poisson":
            return x * math.log(mu) - mu - special.gammaln(x + 1)
        if self.family == "negbin":
            var = sd**2
            n, p = mu**2 / (var - mu), mu / var
            return (
                special.gammaln(x + n) - special.gammaln(n) - special.gammaln(x + 1)
                + n * math.log(p) + x * math.log1p(-p)
            )  # fmt: skip
        if self.family == "gamma":
            shape, scale = (mu / sd) ** 2, sd**2 / mu
            return (
                (shape - 1) * np.log(x) - x / scale - special.gammaln(shape)
                - shape * math.log(scale)
            )  # fmt: skip
        if self.family == "lognormal":
            s2 = math.log1p((sd / mu) ** 2)
            z = (np.log(x) - (math.log(mu) - s2 / 2)) ** 2 / (2 * s2)
            return -z - np.log(x) - 0.5 * math.log(2 * math.pi * s2)
        raise ValueError(f"unknown demand family {self.family!r}")

    def cdf(self, x: np.ndarray, *, whole_units: bool) -> np.ndarray:
        r""":math:`P(D \le x)` of demand (censored at 0; rounded to units when whole)."""
        x = np.asarray(x, dtype=float)
        if self.family in DISCRETE:
            return self._cdf(x)
        edge = np.floor(x) + 0.5 if whole_units else x
        return np.where(x < 0, 0.0, self._cdf(edge))

    def log_likelihood(self, y: np.ndarray, *, whole_units: bool) -> float:
        """Log-likelihood of the history ``y`` (``-inf`` when the law cannot produce it)."""
        y = np.asarray(y, dtype=float)
        if self.family in DISCRETE:
            if not whole_units:
                return -math.inf
            return float(np.sum(self._logpdf(y)))
        if whole_units:
            upper = self._cdf(y + 0.5)
            lower = np.where(y > 0, self._cdf(np.maximum(y - 0.5, 0.0)), 0.0)
            return float(np.sum(np.log(np.maximum(upper - lower, TINY))))
        zero = y <= 0
        if self.family == "normal":
            at_zero = math.log(max(float(self._cdf(np.array(0.0))), TINY)) * int(zero.sum())
            return float(at_zero + np.sum(self._logpdf(y[~zero])))
        if zero.any():
            return -math.inf
        return float(np.sum(self._logpdf(y)))

    def moments(self) -> tuple[float, float]:
        r"""Mean and standard deviation of the demand drawn (``normal`` after censoring)."""
        if self.family != "normal" or self.std <= 0:
            return (max(self.mean, 0.0), self.std if self.family != "poisson" else self.mean**0.5)
        from scipy import stats

        mu, sd = self.mean, self.std
        a = mu / sd
        m1 = mu * stats.norm.cdf(a) + sd * stats.norm.pdf(a)
        m2 = (mu**2 + sd**2) * stats.norm.cdf(a) + mu * sd * stats.norm.pdf(a)
        return float(m1), float(math.sqrt(max(m2 - m1**2, 0.0)))


def parameters(family: str) -> int:
    """Free parameters of a family (for the AIC/BIC penalty)."""
    return 1 if family == "poisson" else 2


def admissible(family: str, y: np.ndarray, *, whole_units: bool) -> str | None:
    """Why ``family`` cannot describe the history ``y`` (None: it can)."""
    mean, var = float(np.mean(y)), float(np.var(y))
    if family in DISCRETE and not whole_units:
        return "a count law, and the history has fractional demand"
    if family == "negbin" and not var > mean:
        return "needs variance > mean (the history's is not)"
    if family in ("gamma", "lognormal") and not whole_units and (y <= 0).any():
        return "a positive law, and the history has periods of zero demand"
    if family in ("gamma", "lognormal", "poisson") and not mean > 0:
        return "needs a positive mean"
    return None


def law_from(family: str, theta: np.ndarray) -> Law:
    r"""Return the law of unconstrained parameters :math:`\theta` (what the optimiser moves).

    ``normal``: :math:`(\mu, \log\sigma)`; ``gamma``, ``lognormal``:
    :math:`(\log\mu, \log\sigma)`; ``negbin``: :math:`(\log\mu, \log(\sigma^2-\mu))`;
    ``poisson``: :math:`(\log\mu)`.
    """
    t = np.asarray(theta, dtype=float)
    if family == "normal":
        return Law(family, float(t[0]), float(math.exp(t[1])))
    mu = float(math.exp(t[0]))
    if family == "poisson":
        return Law(family, mu, math.sqrt(mu))
    if family == "negbin":
        return Law(family, mu, float(math.sqrt(mu + math.exp(t[1]))))
    return Law(family, mu, float(math.exp(t[1])))


def start_from(family: str, y: np.ndarray) -> np.ndarray:
    r"""Moment estimates as a starting :math:`\theta` for :func:`law_from`."""
    mean = max(float(np.mean(y)), 1e-9)
    sd = max(float(np.std(y)), 1e-6 * (1.0 + mean))
    if family == "normal":
        return np.array([float(np.mean(y)), math.log(sd)])
    if family == "poisson":
        return np.array([math.log(mean)])
    if family == "negbin":
        return np.array([math.log(mean), math.log(max(sd**2 - mean, 1e-6 * mean))])
    return np.array([math.log(mean), math.log(sd)])
