"""Scenario generation: demand paths, supplier up/down paths and black-swan events.

A scenario is a sample path of :math:`H = W + T` periods (warm-up plus costed periods).
All arrays are plain numpy so the model builders and the simulator share one source.

Reproducibility: every random stream is seeded from ``(seed, stream, kind, name)`` with
:class:`numpy.random.SeedSequence`, where ``name`` is the item or supplier identifier. A
scenario set therefore does not change when the rows of ``items.csv`` are reordered, and
the out-of-sample stream (``stream="evaluate"``) is independent of the optimisation one.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optimizer.history.laws import DemandHistory
from optimizer.instance import Instance

log = logging.getLogger(__name__)

STREAMS = {"optimise": 0, "evaluate": 1}


@dataclass(frozen=True)
class ScenarioSet:
    """Scenario arrays for one instance.

    Attributes
    ----------
    demand : ndarray, shape (n_items, n_scenarios, H)
        :math:`d_{i,w,t}`, black-swan multiplier applied.
    supplier_up : ndarray of bool, shape (n_suppliers, n_scenarios, H)
        :math:`u_{s,w,t}`: 1 when the supplier ships in period t.
    probability : ndarray, shape (n_scenarios,)
        :math:`p_w`, sums to 1.
    warmup : int
        :math:`W`, uncosted leading periods.
    black_swan : ndarray of bool, shape (n_scenarios,)
        Scenarios that contain a black-swan event.
    """

    demand: np.ndarray
    supplier_up: np.ndarray
    probability: np.ndarray
    warmup: int
    black_swan: np.ndarray

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios :math:`N`."""
        return self.probability.shape[0]

    @property
    def horizon(self) -> int:
        """:math:`H = W + T`."""
        return self.demand.shape[2]

    @property
    def periods(self) -> int:
        """Costed periods :math:`T`."""
        return self.horizon - self.warmup

    def subset_items(self, index: np.ndarray | list[int]) -> ScenarioSet:
        """Scenarios restricted to the items at ``index`` (suppliers kept whole)."""
        idx = np.asarray(index, dtype=int)
        return ScenarioSet(
            self.demand[idx], self.supplier_up, self.probability, self.warmup, self.black_swan
        )

    def subset_scenarios(self, index: np.ndarray | list[int]) -> ScenarioSet:
        """Scenarios at ``index`` with probabilities renormalised to sum to 1."""
        idx = np.asarray(index, dtype=int)
        p = self.probability[idx]
        return ScenarioSet(
            self.demand[:, idx],
            self.supplier_up[:, idx],
            p / p.sum(),
            self.warmup,
            self.black_swan[idx],
        )


def _stable_key(text: str) -> int:
    """Return a run-independent 32-bit key for a name (Python's ``hash`` is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def stream_rng(seed: int, stream: str, kind: str, name: str = "") -> np.random.Generator:
    """Independent generator for one (stream, kind, name) triple."""
    entropy = [
        int(seed),
        STREAMS.get(stream, _stable_key(stream)),
        _stable_key(kind),
        _stable_key(name),
    ]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def sample_demand(
    rng: np.random.Generator, family: str, mean: float, std: float, size: tuple[int, ...]
) -> np.ndarray:
    r"""Draw non-negative demand with the given mean :math:`\mu` and std :math:`\sigma`.

    Parameters
    ----------
    family : {"normal", "poisson", "gamma", "lognormal", "negbin"}
        ``normal`` is censored at 0 (a negative draw is zero demand, which lifts the mean
        by :math:`\sigma\varphi(\mu/\sigma) - \mu\Phi(-\mu/\sigma)`; negligible when
        :math:`\mu \ge 2\sigma`). ``poisson`` has variance :math:`\mu` and ignores
        :math:`\sigma`. ``gamma`` and ``lognormal`` match both moments exactly.
        ``negbin`` needs :math:`\sigma^2 > \mu` (validated on input). With
        :math:`\sigma = 0` the continuous families are deterministic.
    """
    if mean <= 0:
        return np.zeros(size)
    if family == "poisson":
        return rng.poisson(mean, size=size).astype(float)
    if std <= 0:
        return np.full(size, float(mean))
    if family == "normal":
        return np.maximum(rng.normal(mean, std, size=size), 0.0)
    if family == "gamma":
        shape = (mean / std) ** 2
        return rng.gamma(shape, std**2 / mean, size=size)
    if family == "lognormal":
        s2 = np.log1p((std / mean) ** 2)
        return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size=size)
    if family == "negbin":
        var = std**2
        if var <= mean:  # validated upstream; fall back rather than fail mid-run
            log.warning("negbin needs std^2 > mean; using poisson for mean %s", mean)
            return rng.poisson(mean, size=size).astype(float)
        return rng.negative_binomial(mean**2 / (var - mean), mean / var, size=size).astype(float)
    raise ValueError(f"unknown demand family {family!r}")


def sample_supplier_path(
    rng: np.random.Generator, disruption: float, recovery: float, n: int, horizon: int
) -> np.ndarray:
    r"""Two-state Markov chain started from its stationary law.

    Returns
    -------
    ndarray of bool, shape (n, horizon)
        ``True`` where the supplier is up. :math:`P(\text{up}) = \beta/(\alpha+\beta)`
        at every period.
    """
    up = np.ones((n, horizon), dtype=bool)
    if disruption <= 0:
        return up
    stationary_up = recovery / (disruption + recovery)
    u = rng.random((n, horizon))
    up[:, 0] = u[:, 0] < stationary_up
    for t in range(1, horizon):
        prev = up[:, t - 1]
        up[:, t] = np.where(prev, u[:, t] >= disruption, u[:, t] < recovery)
    return up


#: Demand draws per item above which items are drawn in threads (numpy's generators
#: release the GIL while they sample; each item has its own generator, so the draws
#: are the same in any order).
THREADED_DRAWS = 20_000


def _for_each_item(draw: Callable[[int], None], n_items: int, per_item: int) -> None:
    """Call ``draw(i)`` for every item, over a few threads when the draws are large."""
    workers = min(4, os.cpu_count() or 1, n_items)
    if workers <= 1 or per_item * n_items < THREADED_DRAWS:
        for i in range(n_items):
            draw(i)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(draw, range(n_items)):
            pass


def follow_forecast(
    demand: np.ndarray, history: DemandHistory, i: int, warmup: int, rng: np.random.Generator
) -> None:
    r"""Redraw item ``i``'s costed periods from its forecast path, in place.

    Period :math:`W + t` is drawn from ``history.forecast_family[i]`` with mean
    :math:`f_{i,t}` and standard deviation :math:`\sigma_{i,t}`
    (:mod:`optimizer.history.forecast`); the warm-up keeps the item's own law.

    Parameters
    ----------
    demand : ndarray (N, H)
        The item's demand paths.
    """
    family = history.forecast_family[i]
    n = demand.shape[0]
    for t in range(history.forecast_mean.shape[1]):
        mean, std = float(history.forecast_mean[i, t]), float(history.forecast_std[i, t])
        demand[:, warmup + t] = sample_demand(rng, family, mean, std, (n,))


#: Stream suffixes that fix the black-swan indicator of every scenario of a batch (the
#: strata of :func:`optimizer.analysis.headline.honest_cost`).
SWAN_STRATA = {"|calm": False, "|swan": True}


def swan_stratum(stream: str) -> bool | None:
    """Return the black-swan state a stream's suffix fixes (None: drawn freely)."""
    for suffix, state in SWAN_STRATA.items():
        if stream.endswith(suffix):
            return state
    return None


def generate_scenarios(
    instance: Instance,
    n_scenarios: int | None = None,
    seed: int | None = None,
    stream: str = "optimise",
    items: np.ndarray | None = None,
) -> ScenarioSet:
    """Sample (or take the explicit) scenarios of ``instance``.

    Parameters
    ----------
    n_scenarios : int, optional
        :math:`N`; defaults to ``plan.scenarios``. Ignored for explicit scenarios.
    seed : int, optional
        Root seed; defaults to ``plan.seed``.
    stream : str
        ``"optimise"`` for the scenarios a plan is fitted on, ``"evaluate"`` for fresh
        out-of-sample ones. Explicit scenarios are used for ``"optimise"`` only; other
        streams are sampled from the item/supplier laws. A stream ending in ``"|swan"``
        or ``"|calm"`` (:data:`SWAN_STRATA`) has a black swan in every scenario, or in
        none: the strata of a stratified estimate (its draws are those of its own name).
    items : ndarray of int, optional
        Only the demand rows of these items (in this order), drawn from their own streams
        on the whole instance's horizon, with every supplier's path and the black swans
        of the whole set: rows equal to those of the full set (a chunk of items generated
        where it is solved, :mod:`optimizer.engines.executors`).
    """
    plan = instance.plan
    horizon, warmup = instance.horizon, instance.warmup
    if instance.explicit is not None and stream == "optimise":
        ex = instance.explicit
        return ScenarioSet(
            (ex.demand if items is None else ex.demand[np.asarray(items, dtype=int)]).astype(float),
            ex.supplier_up.astype(bool),
            ex.probability.astype(float),
            warmup,
            np.zeros(ex.probability.shape[0], dtype=bool),
        )
    n = int(n_scenarios or plan.scenarios)
    seed = plan.seed if seed is None else int(seed)
    items_ = instance.items if items is None else instance.items.subset(items)
    sup = instance.suppliers

    history = instance.history
    if history is not None and items is not None:
        history = history.subset(items)

    demand = np.empty((len(items_), n, horizon))

    def draw(i: int) -> None:
        rng = stream_rng(seed, stream, "demand", str(items_.name[i]))
        law = history.laws[i] if history is not None else None
        if law is not None:  # a law fitted to the item's history (README "From history")
            demand[i] = law.sample(rng, (n, horizon))
        else:
            demand[i] = sample_demand(
                rng,
                str(items_.demand_dist[i]),
                float(items_.demand_mean[i]),
                float(items_.demand_std[i]),
                (n, horizon),
            )
        if history is not None and history.has_forecast(i):
            path_rng = stream_rng(seed, stream, "forecast", str(items_.name[i]))
            follow_forecast(demand[i], history, i, warmup, path_rng)

    _for_each_item(draw, len(items_), n * horizon)
    up = np.empty((len(sup), n, horizon), dtype=bool)
    for s in range(len(sup)):
        rng = stream_rng(seed, stream, "supply", str(sup.name[s]))
        up[s] = sample_supplier_path(
            rng, float(sup.disruption_prob[s]), float(sup.recovery_prob[s]), n, horizon
        )

    swan = np.zeros(n, dtype=bool)
    bs = instance.black_swan
    if bs is not None and bs.probability > 0:
        rng = stream_rng(seed, stream, "black_swan")
        swan = rng.random(n) < bs.probability
        if (state := swan_stratum(stream)) is not None:
            swan = np.full(n, state)
        start = warmup + rng.integers(0, plan.periods, size=n)
        t = np.arange(horizon)
        during = swan[:, None] & (t >= start[:, None]) & (t < start[:, None] + bs.duration)
        up &= ~during[None]
        np.multiply(demand, bs.demand_multiplier, out=demand, where=during[None])
    return ScenarioSet(demand, up, np.full(n, 1.0 / n), warmup, swan)


def mean_value_scenario(instance: Instance) -> ScenarioSet:
    r"""Build the single expected-value scenario: mean demand, every supplier always up.

    Solving the program on it gives the EV plan, which is exactly JIT
    (:math:`S_i = (L_i+1)\mu_i`).
    """
    items, horizon = instance.items, instance.horizon
    demand = np.repeat(items.demand_mean[:, None, None].astype(float), horizon, axis=2)
    up = np.ones((len(instance.suppliers), 1, horizon), dtype=bool)
    return ScenarioSet(demand, up, np.ones(1), instance.warmup, np.zeros(1, dtype=bool))


def arrival_periods(supplier_up: np.ndarray, lead_time: int) -> np.ndarray:
    r"""Period in which an order placed at the end of period :math:`\tau` arrives.

    The order waits in the supplier's queue until the first up period
    :math:`k > \tau`, ships then and arrives in period :math:`k + L`.

    Parameters
    ----------
    supplier_up : ndarray of bool, shape (n_scenarios, H)
    lead_time : int
        :math:`L`.

    Returns
    -------
    ndarray of int, shape (n_scenarios, H)
        0-based arrival period; ``H`` (or more) means "not within the horizon".
    """
    n, horizon = supplier_up.shape
    nxt = np.full((n, horizon + 1), horizon, dtype=np.int64)
    for k in range(horizon - 1, -1, -1):
        nxt[:, k] = np.where(supplier_up[:, k], k, nxt[:, k + 1])
    ship = nxt[:, 1:]  # order at end of tau ships at the first up period >= tau + 1
    return np.minimum(ship + lead_time, horizon)
