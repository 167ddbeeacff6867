r"""The fitted laws that scenario generation samples, and what was fitted per item.

A standard family fitted to a history needs no law of its own: its
:math:`(\mu, \sigma)` and name go into the item table and
:func:`optimizer.scenarios.sample_demand` draws it as if ``items.csv`` had said so.
Two laws do not fit that mould:

* :class:`IntermittentLaw` — a compound Bernoulli law, :math:`D = B\,Z` with
  :math:`B \sim \mathrm{Bernoulli}(p)` and a size :math:`Z = c + X` (:math:`c = 1` for
  whole units, so a demand is at least one unit; :math:`X` Poisson or negative binomial;
  :math:`c = 0` and :math:`X` gamma or lognormal for fractional sizes);
* :class:`BootstrapLaw` — the circular block bootstrap of the history
  (:mod:`~optimizer.history.bootstrap`).

:class:`DemandHistory` holds, per item, the law to sample (``None``: the item table's
family), the forecast path over the costed periods and the report of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.history.families import Law


def draw(law: Law, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    r"""Draws of ``law`` (no censoring: the size laws are non-negative), numpy only."""
    mu, sd = law.mean, law.std
    if mu <= 0:
        return np.zeros(size)
    if law.family == "poisson":
        return rng.poisson(mu, size=size).astype(float)
    if sd <= 0:
        return np.full(size, float(mu))
    if law.family == "negbin":
        var = sd**2
        return rng.negative_binomial(mu**2 / (var - mu), mu / var, size=size).astype(float)
    if law.family == "gamma":
        return rng.gamma((mu / sd) ** 2, sd**2 / mu, size=size)
    if law.family == "lognormal":
        s2 = np.log1p((sd / mu) ** 2)
        return rng.lognormal(np.log(mu) - s2 / 2, np.sqrt(s2), size=size)
    return np.maximum(rng.normal(mu, sd, size=size), 0.0)


@dataclass(frozen=True)
class IntermittentLaw:
    r"""Compound Bernoulli demand :math:`D = B\,(c + X)` (see the module).

    Attributes
    ----------
    occurrence : float
        :math:`p = P(D > 0)`.
    size : Law
        The law of :math:`X = Z - c`.
    shift : float
        :math:`c`: 1 for whole units, 0 for fractional sizes.
    """

    occurrence: float
    size: Law
    shift: float

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        """Draw demand of shape ``size``."""
        occurs = rng.random(size) < self.occurrence
        return np.where(occurs, self.shift + draw(self.size, rng, size), 0.0)

    def moments(self) -> tuple[float, float]:
        r"""Mean :math:`pE[Z]` and std of :math:`\sqrt{p\,E[Z^2] - (pE[Z])^2}`."""
        p = self.occurrence
        z_mean = self.shift + self.size.mean
        z_var = self.size.std**2
        mean = p * z_mean
        return mean, float(np.sqrt(max(p * (z_var + z_mean**2) - mean**2, 0.0)))

    def describe(self) -> str:
        """Short label for the plan table (``"intermittent: 1+negbin"``)."""
        shift = "1+" if self.shift else ""
        return f"intermittent: {shift}{self.size.family}"


@dataclass(frozen=True)
class BootstrapLaw:
    r"""Circular block bootstrap of a history :math:`y_1..y_m` with blocks of :math:`b`.

    A path is a run of blocks :math:`y_{s}, y_{s+1}, \dots, y_{s+b-1}` (indices modulo
    :math:`m`), each start :math:`s` uniform on :math:`1..m` (Politis & Romano 1992).
    """

    history: np.ndarray
    block: int

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        """Draw paths: ``size = (..., horizon)``, the last axis is time."""
        *lead, horizon = size
        m, b = len(self.history), max(1, int(self.block))
        blocks = -(-horizon // b)
        starts = rng.integers(0, m, size=(*lead, blocks))
        index = (starts[..., None] + np.arange(b)) % m
        paths = self.history[index.reshape(*lead, blocks * b)[..., :horizon]]
        return paths.astype(float)

    def moments(self) -> tuple[float, float]:
        """Mean and standard deviation of the history."""
        return float(np.mean(self.history)), float(np.std(self.history))

    def describe(self) -> str:
        """Short label for the plan table (``"bootstrap: blocks of 6"``)."""
        return f"bootstrap: blocks of {self.block}"


@dataclass(frozen=True)
class ItemFit:
    r"""What was fitted to one item's history, for the plan table and ``summary.json``.

    Attributes
    ----------
    model : str
        The law sampled: a family name, ``intermittent: 1+poisson``, ``bootstrap: ...``,
        or ``items.csv`` when the item's own columns fix it.
    demand_class : str
        ``smooth``, ``erratic``, ``intermittent`` or ``lumpy`` (Syntetos-Boylan).
    adi, cv2 : float
        Average inter-demand interval and squared coefficient of variation of sizes.
    periods : int
        Periods of history :math:`m`.
    mean, std : float
        Mean and standard deviation of the fitted law's demand.
    pit_pvalue : float
        KS p-value of the randomised PIT (``nan`` when there is nothing to test).
    aic, bic : float
        Of the chosen law.
    candidates : dict
        AIC and BIC of every family fitted, by name.
    """

    model: str
    demand_class: str
    adi: float
    cv2: float
    periods: int
    mean: float
    std: float
    pit_pvalue: float
    aic: float
    bic: float
    candidates: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready form (non-finite numbers as ``None``)."""

        def clean(x: object) -> object:
            if isinstance(x, float) and not np.isfinite(x):
                return None
            return x

        out = {k: clean(getattr(self, k)) for k in self.__dataclass_fields__ if k != "candidates"}
        out["candidates"] = {
            f: {k: clean(float(v)) for k, v in c.items()} for f, c in self.candidates.items()
        }
        return out


@dataclass(frozen=True)
class DemandHistory:
    r"""Per-item laws, forecasts and fit reports from ``history/`` (all in item order).

    Attributes
    ----------
    laws : tuple
        :class:`IntermittentLaw`, :class:`BootstrapLaw` or ``None`` (the item table's
        family) per item.
    forecast_mean, forecast_std : ndarray (n, T)
        The forecast path :math:`f_{i,t}` and its error :math:`\sigma_{i,t}` over the
        costed periods; ``nan`` rows for items without a forecast.
    forecast_family : tuple of str
        The family each forecast period is drawn from (moment-matched to
        :math:`(f_{i,t}, \sigma_{i,t})`; ``""`` without a forecast).
    fits : tuple
        :class:`ItemFit` or ``None`` (no history) per item.
    suppliers : dict
        Chain estimates by supplier name (``reliability.ChainEstimate.as_dict``).
    settings : dict
        The ``[demand]`` and ``[suppliers]`` settings in force.
    """

    laws: tuple
    forecast_mean: np.ndarray
    forecast_std: np.ndarray
    forecast_family: tuple
    fits: tuple
    suppliers: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def subset(self, index: np.ndarray) -> DemandHistory:
        """Return the items at ``index``."""
        idx = [int(i) for i in np.asarray(index, dtype=int)]
        return DemandHistory(
            laws=tuple(self.laws[i] for i in idx),
            forecast_mean=self.forecast_mean[idx],
            forecast_std=self.forecast_std[idx],
            forecast_family=tuple(self.forecast_family[i] for i in idx),
            fits=tuple(self.fits[i] for i in idx),
            suppliers=self.suppliers,
            settings=self.settings,
        )

    def has_forecast(self, i: int) -> bool:
        """Tell whether item ``i`` has a forecast path."""
        return bool(np.isfinite(self.forecast_mean[i]).all()) and self.forecast_mean.shape[1] > 0
