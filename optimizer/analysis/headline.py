r"""The plan's honest cost: causal, out of sample, sampled until its interval is tight.

The headline a planner budgets on is what the plan costs when it is run period by period
(the causal recourse, README "The model") on scenarios it was never fitted to. Fresh
scenarios are sampled in batches (stream ``"evaluate"`` for the first, ``"evaluate-k"``
for the k-th after it, so every batch is independent of the others and of the
optimisation scenarios) and played by the compiled causal kernel. After the first batch
of ``batch`` scenarios the 95% Student-t interval of the mean scenario cost is taken, and
sampling stops when its half-width is at most ``rel_half_width`` :math:`r` of the mean
(2% by default) or when ``max_scenarios`` are used (the cap, reported). Otherwise the
next round is sized from the variance seen so far: :math:`n` scenarios in all, with
:math:`n = \lceil (t\, s / (r\, |\bar C|))^2 \rceil` (:math:`s` the sample standard
deviation, :math:`t \approx 1.96` the 97.5% Student quantile), at least a tenth more than
so far and at most the cap; a round of many scenarios is sampled as several batches of at
most :data:`BATCH_CELLS` item-scenario-period cells (or the first batch's size), so memory
stays that of one batch. The interval is taken again after each round. The plan rows,
fill-rate targets and CVaR blend are dropped: a fixed plan is priced, not re-optimised.

The per-item figures of ``plan.csv`` (cost lines, fill rate, stock on hand, stockout and
emergency units) are the pooled means over every scenario sampled.

An instance with a black swan of probability :math:`p \in (0, 1)` is priced in two
strata, scenarios without a swan and with one, sampled apart and pooled with weights
:math:`1 - p` and :math:`p`; the rounds then follow Neyman's allocation
(:func:`honest_cost`). The pooled figures are the strata's weighted means.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.analysis.diagnostics import Interval, mean_ci, t_quantile
from optimizer.instance import Instance
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import evaluate_causal
from optimizer.program.verifier import Evaluation, cvar
from optimizer.scenarios import generate_scenarios

log = logging.getLogger(__name__)

#: Stop when the 95% half-width is at most this share of the mean.
REL_HALF_WIDTH = 0.02
#: Default cap on the fresh scenarios of the headline.
MAX_EVAL_SCENARIOS = 20_000
#: A round of fresh scenarios is sampled in batches of at most this many
#: item-scenario-period cells, or of the first batch's scenarios if that is more
#: (each cell holds its demand, a copy and its arrival period while it is played).
BATCH_CELLS = 10_000_000


@dataclass
class Headline:
    """The plan's causal out-of-sample cost per costed horizon.

    Attributes
    ----------
    interval : Interval
        Mean :math:`E[C]` and its 95% confidence interval over every fresh scenario.
    batches : int
        Batches of fresh scenarios sampled (independent streams).
    stop : str
        Why sampling stopped: the interval was tight, or the cap was reached.
    tight : bool
        Whether the half-width reached ``rel_half_width`` of the mean.
    evaluation : Evaluation
        Pooled per-item figures (``item_scenario_cost`` is left empty to bound memory).
    demand : ndarray (n,)
        Expected costed demand per item (the fill rate's denominator).
    totals : tuple of int
        Scenarios in all after each round (the first batch, then each variance-sized
        round): the interval was taken at each.
    scenario_weight : ndarray or None
        Probability of each of ``evaluation.scenario_cost`` when the scenarios were
        stratified (None: equal weights).
    strata : tuple of (str, float, int)
        Each stratum's name, weight and scenarios, in the order of ``scenario_cost``
        (empty without strata).
    """

    interval: Interval
    batches: int
    stop: str
    tight: bool
    evaluation: Evaluation
    demand: np.ndarray
    totals: tuple[int, ...] = ()
    scenario_weight: np.ndarray | None = None
    strata: tuple[tuple[str, float, int], ...] = ()

    @property
    def rounds(self) -> int:
        """Times the interval was taken."""
        return len(self.totals)

    @property
    def fill_rate(self) -> float:
        """Share of all costed demand served from stock or emergency supply."""
        total = float(self.demand.sum())
        return 1.0 - float(self.evaluation.stockout_units.sum()) / total if total > 0 else 1.0

    @property
    def rel_half_width(self) -> float:
        """Half-width of the interval as a share of the mean."""
        iv = self.interval
        return (iv.high - iv.low) / 2 / abs(iv.mean) if iv.mean else 0.0


def headline_budget(headline: Headline | None) -> str:
    """Say what a ``--time-limit`` left of the headline (summary.json's ``time_limit``)."""
    if headline is None:
        return (
            "skipped: the time limit was spent by the plan stage (plan.csv's figures are "
            "the plan's in-sample costs)"
        )
    return f"cut short: {headline.stop}" if headline.stop.startswith("time limit") else "complete"


def fixed_plan_data(data: ProgramData) -> ProgramData:
    """Drop plan rows, CVaR blend and fill-rate rows from ``data``: a fixed plan is priced."""
    return dataclasses.replace(
        data,
        budget=None,
        storage=None,
        cvar_weight=0.0,
        fill_rate=np.full(data.n_items, np.nan),
    )


def _play_batch(
    data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray
) -> tuple[Evaluation, np.ndarray]:
    r"""Causal costs of the plan on one batch, by the compiled kernel.

    :func:`optimizer.program.causal_kernel.play_plan` gives each item's cost lines, unmet
    and costed demand per scenario; stock on hand and emergency units follow from the
    lines (:math:`\sum_t I_t = (\text{storage} + \text{capital} + \text{obsolescence}) /
    h_i`, emergency units = emergency cost / premium). Items for which those divisions
    are undefined (:math:`h_i = 0`, or a source with premium 0) are played by the numpy
    simulation instead. The kernel equals the numpy simulation to round-off (tested).

    Returns
    -------
    Evaluation, ndarray (n,)
        The batch's costs, and each item's expected costed demand
        :math:`E[\sum_{t \ge W} d_{i,t}]` (the fill rate's denominator).
    """
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    play = play_plan(data, S, K, directions=VALUES_ONLY)
    p = data.probability
    lines = play.expected_lines
    cost = play.cost  # (n, N): summed once
    expected = float((cost @ p).sum())
    carry = lines[:, :3].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        on_hand = np.where(data.holding > 0, carry / data.holding, 0.0) / max(1, data.periods)
        emergency = np.where(data.premium > 0, lines[:, 4] / data.premium, 0.0)
    out = Evaluation(
        objective=expected,
        expected_cost=expected,
        cvar=float("nan"),
        scenario_cost=cost.sum(axis=0),
        item_scenario_cost=np.empty((0, 0)),
        lines=lines,
        fill_rate=play.fill_rate,
        avg_on_hand=on_hand,
        stockout_units=play.unmet @ p,
        emergency_units=emergency,
        residual={},
    )
    odd = np.flatnonzero((data.holding <= 0) | (data.has_emergency & (data.premium <= 0)))
    if odd.size:
        ev = evaluate_causal(
            data.item(odd), S[odd], K[odd], check_fill_rate=False, check_plan_rows=False
        )
        out.avg_on_hand[odd] = ev.avg_on_hand
        out.emergency_units[odd] = ev.emergency_units
    return out, play.demand @ p


def batch_stream(k: int) -> str:
    """Random stream of the k-th batch of fresh scenarios (the first is ``"evaluate"``)."""
    return "evaluate" if k == 0 else f"evaluate-{k}"


def scenarios_needed(costs: np.ndarray, rel_half_width: float, level: float = 0.95) -> float:
    r"""Scenarios for a half-width of ``rel_half_width`` of the mean, from these costs' spread.

    :math:`(t\, s / (r\, |\bar C|))^2` with :math:`s` the sample standard deviation and
    :math:`t` the Student quantile of the interval at the sample's degrees of freedom
    (``inf`` for a zero mean with spread, 0 without spread).
    """
    sd = float(np.std(costs, ddof=1)) if costs.size > 1 else 0.0
    if sd == 0.0:
        return 0.0
    mean = abs(float(np.mean(costs)))
    if mean == 0.0:
        return float("inf")
    t = t_quantile(0.5 + level / 2, max(1, costs.size - 1))
    return (t * sd / (rel_half_width * mean)) ** 2


#: Fewest scenarios of a stratum in the first round (its spread is estimated from them).
MIN_STRATUM = 50


@dataclass
class _Stratum:
    """The fresh scenarios of one stratum, pooled batch by batch.

    ``weight`` is the stratum's probability :math:`W_h`; its batches' streams end in
    ``suffix`` (:data:`optimizer.scenarios.SWAN_STRATA`; empty: no strata).
    """

    weight: float
    suffix: str
    costs: list = dataclasses.field(default_factory=list)
    sums: dict = dataclasses.field(default_factory=dict)
    demand: np.ndarray | None = None
    unmet: np.ndarray | None = None
    n: int = 0
    batches: int = 0

    def add(self, ev: Evaluation, d: np.ndarray, size: int) -> None:
        """Pool one batch of ``size`` scenarios."""
        self.batches += 1
        self.n += size
        self.costs.append(ev.scenario_cost)
        for name in ("lines", "avg_on_hand", "stockout_units", "emergency_units"):
            self.sums[name] = self.sums.get(name, 0.0) + size * getattr(ev, name)
        self.demand = size * d if self.demand is None else self.demand + size * d
        unmet = size * ev.stockout_units
        self.unmet = unmet if self.unmet is None else self.unmet + unmet

    def every(self) -> np.ndarray:
        """Return the stratum's scenario costs so far (the batches joined once)."""
        if len(self.costs) > 1:
            self.costs = [np.concatenate(self.costs)]
        return self.costs[0]


def _strata(instance: Instance, stratify: bool) -> list[_Stratum]:
    """One stratum, or two on the black swan when it has a probability in (0, 1)."""
    bs = instance.black_swan
    p = 0.0 if bs is None else float(bs.probability)
    if not stratify or not 0.0 < p < 1.0:
        return [_Stratum(1.0, "")]
    return [_Stratum(1.0 - p, "|calm"), _Stratum(p, "|swan")]


def _stratified_interval(strata: list[_Stratum], level: float = 0.95) -> Interval:
    r"""Mean :math:`\sum_h W_h \bar C_h` and its Student-t interval.

    The variance of the mean is :math:`\sum_h W_h^2 s_h^2 / n_h`; its degrees of freedom
    are Welch and Satterthwaite's. One stratum gives :func:`mean_ci` itself.
    """
    if len(strata) == 1:
        return mean_ci(strata[0].every())
    mean = sum(h.weight * float(h.every().mean()) for h in strata)
    parts = [h.weight**2 * float(h.every().var(ddof=1)) / h.n if h.n > 1 else 0.0 for h in strata]
    var = sum(parts)
    denom = sum(v**2 / max(1, h.n - 1) for v, h in zip(parts, strata, strict=True))
    df = var**2 / denom if denom > 0 else max(1, sum(h.n for h in strata) - 1)
    half = t_quantile(0.5 + level / 2, max(1.0, df)) * math.sqrt(var)
    return Interval(mean, mean - half, mean + half, sum(h.n for h in strata))


def _next_sizes(
    strata: list[_Stratum], iv: Interval, rel_half_width: float, max_scenarios: int
) -> list[int]:
    r"""Scenarios each stratum should hold after the next round.

    One stratum: :func:`scenarios_needed`. Strata: Neyman's allocation of the total
    :math:`n = (t \sum_h W_h s_h / (r |\bar C|))^2` in proportion to :math:`W_h s_h`.
    Either way at least a tenth more scenarios than so far, and at most the cap.
    """
    total = sum(h.n for h in strata)
    if len(strata) == 1:
        need = scenarios_needed(strata[0].every(), rel_half_width)
        grow = (
            max(math.ceil(need) - total, math.ceil(0.1 * total))
            if math.isfinite(need)
            else max_scenarios
        )
        return [min(max_scenarios, total + grow)]
    spread = [h.weight * float(h.every().std(ddof=1)) for h in strata]
    t = t_quantile(0.5 + 0.95 / 2, max(1, total - 1))
    mean = abs(iv.mean)
    need = (t * sum(spread) / (rel_half_width * mean)) ** 2 if mean > 0 else float("inf")
    if not math.isfinite(need):
        need = float(max_scenarios)
    want = [
        max(h.n, math.ceil(need * w / sum(spread))) for h, w in zip(strata, spread, strict=True)
    ]
    extra = [w - h.n for w, h in zip(want, strata, strict=True)]
    floor = math.ceil(0.1 * total)
    if sum(extra) < floor:  # at least a tenth more, shared as Neyman would
        share = [w / sum(spread) for w in spread]
        extra = [e + math.ceil(floor * s) for e, s in zip(extra, share, strict=True)]
    room = max_scenarios - total
    if sum(extra) > room:  # at most the cap
        scale = room / sum(extra)
        extra = [int(e * scale) for e in extra]
    return [h.n + e for h, e in zip(strata, extra, strict=True)]


def honest_cost(
    instance: Instance,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    batch: int | None = None,
    max_scenarios: int = MAX_EVAL_SCENARIOS,
    rel_half_width: float = REL_HALF_WIDTH,
    seed: int | None = None,
    play_batch: Callable[[int, str], tuple[Evaluation, np.ndarray]] | None = None,
    deadline: float | None = None,
    stratify: bool = True,
) -> Headline:
    r"""Price the plan causally on fresh scenarios until its interval is tight (or the cap).

    With a black swan of probability :math:`p \in (0, 1)` the fresh scenarios are
    stratified on it: scenarios without a swan (weight :math:`1 - p`) and with one
    (weight :math:`p`) are sampled apart, each in its own streams, and pooled with those
    weights; after the first round (``batch`` without, :data:`MIN_STRATUM` or
    :math:`\lceil p\, m \rceil` with) the rounds follow Neyman's allocation. A rare,
    costly swan then needs far fewer scenarios for the same interval than plain sampling.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.
    batch : int, optional
        Scenarios of the first batch; default ``plan.scenarios`` (at least 100). Later
        rounds are sized from the variance (see the module docstring).
    max_scenarios : int
        Cap on the scenarios sampled in all (the first round is always taken whole).
    rel_half_width : float
        Target half-width :math:`r` of the 95% interval as a share of the mean.
    seed : int, optional
        Root seed (default ``plan.seed``).
    play_batch : callable, optional
        ``play_batch(size, stream)`` samples and plays one batch elsewhere and returns
        what :func:`_play_batch` does (a cluster's workers, each generating its chunk of
        items: :func:`optimizer.analysis.cluster_diagnostics.fresh_batch`); default here.
        One with an attribute ``stratify = False`` is not given strata.
    deadline : float, optional
        A :func:`time.monotonic` time after which no further batch is sampled (the first
        batch is always taken whole): the interval is then that of the scenarios so far,
        and ``stop`` says the time limit cut it short.
    stratify : bool
        Stratify on the black swan (above) where there is one.
    """
    out_of_time = False
    m = int(batch or max(100, instance.plan.scenarios))
    cells = max(1, len(instance.items) * instance.horizon)
    largest = max(m, BATCH_CELLS // cells)  # scenarios of one sampled batch
    strata = _strata(instance, stratify and getattr(play_batch, "stratify", True))
    first = [m] if len(strata) == 1 else [m, max(MIN_STRATUM, math.ceil(strata[1].weight * m))]
    residual: dict[str, float] = {}
    k = 0
    totals: list[int] = []
    wants = first  # scenarios of each stratum after this round
    while True:
        for h, want in zip(strata, wants, strict=True):
            while h.n < want:
                if k and deadline is not None and time.monotonic() >= deadline:
                    out_of_time = True
                    break
                size = want - h.n if h.batches == 0 else min(largest, want - h.n)
                stream = batch_stream(h.batches) + h.suffix
                if play_batch is not None:
                    ev, d = play_batch(size, stream)
                else:
                    fresh = generate_scenarios(instance, size, seed=seed, stream=stream)
                    data = fixed_plan_data(program_data(instance, fresh, consume=True))
                    del fresh
                    ev, d = _play_batch(data, base_stock, reserved)
                    del data
                k += 1
                h.add(ev, d, size)
                residual = {key: max(residual.get(key, 0.0), v) for key, v in ev.residual.items()}
        total = sum(h.n for h in strata)
        if out_of_time and totals and totals[-1] == total:
            break  # no batch since the last interval
        totals.append(total)
        iv = _stratified_interval(strata)
        half = (iv.high - iv.low) / 2
        tight = half <= rel_half_width * abs(iv.mean) or half == 0.0
        log.info("headline: %d scenarios in %d batches, E[C] %.6g +- %.3g", total, k, iv.mean, half)
        if tight or total >= max_scenarios or out_of_time:
            break
        wants = _next_sizes(strata, iv, rel_half_width, max_scenarios)
        if sum(wants) <= total:
            break
    share = 100 * (half / abs(iv.mean) if iv.mean else 0.0)
    stop = (
        f"95% half-width {share:.2f}% of the mean <= {100 * rel_half_width:g}% after "
        f"{total:,} fresh scenarios"
        if tight
        else f"time limit reached after {total:,} fresh scenarios, the 95% half-width at "
        f"{share:.2f}% of the mean (target {100 * rel_half_width:g}%)"
        if out_of_time
        else f"cap of {max_scenarios:,} fresh scenarios reached with the 95% half-width at "
        f"{share:.2f}% of the mean (target {100 * rel_half_width:g}%)"
    )
    if len(strata) > 1:
        calm, swan = strata
        stop += (
            f" (stratified on the black swan: {calm.n:,} scenarios without it, {swan.n:,} "
            f"with it, weighted {calm.weight:.4g} and {swan.weight:.4g})"
        )

    # pooled per-item figures: each stratum's means, weighted
    def pooled_mean(name: str) -> np.ndarray:
        if len(strata) == 1:
            return strata[0].sums[name] / strata[0].n
        return sum(h.weight * h.sums[name] / h.n for h in strata)

    if len(strata) == 1:
        demand, unmet = strata[0].demand, strata[0].unmet  # sums: the ratio as it was
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.where(demand > 0, 1.0 - unmet / demand, 1.0)
        demand = demand / strata[0].n
    else:
        demand = sum(h.weight * h.demand / h.n for h in strata)
        unmet = sum(h.weight * h.unmet / h.n for h in strata)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.where(demand > 0, 1.0 - unmet / demand, 1.0)
    every = np.concatenate([h.every() for h in strata]) if len(strata) > 1 else strata[0].every()
    p = np.concatenate([np.full(h.n, h.weight / h.n) for h in strata])
    pooled = Evaluation(
        objective=iv.mean,
        expected_cost=iv.mean,
        cvar=cvar(every, p, instance.risk.cvar_alpha),
        scenario_cost=every,
        item_scenario_cost=np.empty((0, 0)),
        lines=pooled_mean("lines"),
        fill_rate=fill,
        avg_on_hand=pooled_mean("avg_on_hand"),
        stockout_units=pooled_mean("stockout_units"),
        emergency_units=pooled_mean("emergency_units"),
        residual=residual,
    )
    if len(strata) == 1:
        return Headline(iv, k, stop, tight, pooled, demand, tuple(totals))
    named = tuple((h.suffix.lstrip("|"), h.weight, h.n) for h in strata)
    return Headline(iv, k, stop, tight, pooled, demand, tuple(totals), p, named)
