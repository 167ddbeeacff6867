r"""How good is a sample-average plan? Optimality-gap estimates and sample-size studies.

The stochastic plan :math:`\hat x_N` solves the sample-average approximation (SAA) on
:math:`N` scenarios. Its optimality gap :math:`f(\hat x_N) - z^*` (true expected cost
minus true optimum) is estimated with the multiple-replication procedure of Mak, Morton &
Wood (1999, Operations Research Letters 24, 47–56):

for :math:`r = 1..R`, draw :math:`n` fresh scenarios (independent stream ``f"mrp{r}"``),
solve the SAA on them (optimum :math:`\hat v_n^r`) and price the candidate on the same
scenarios (:math:`\hat f_n^r(\hat x_N)`, the optimal recourse of the fixed plan); then

.. math::

    G_r = \hat f_n^r(\hat x_N) - \hat v_n^r \ge 0,\qquad
    \bar G = \frac1R \sum_r G_r,\qquad
    \text{UCB}_{0.95} = \bar G + t_{0.95,R-1}\, s_G / \sqrt R .

Because :math:`E[\hat v_n] \le z^*`, :math:`E[G_r] \ge f(\hat x_N) - z^*`: the bound is
conservative, the more so for small :math:`n` (its bias shrinks as :math:`n` grows).

The sample-size study repeats this for several :math:`N` (with :math:`n = N`) and adds the
stability of the plan: the spread of the replication plans :math:`S^r_i` across
replications (in periods of mean demand, :math:`\mathrm{sd}_r(S^r_i)/\mu_i`) and the
relative change of the candidate plan from one :math:`N` to the next,
:math:`\sum_i c_i|S_i^{(N)} - S_i^{(N')}| / \sum_i c_i S_i^{(N)}`.

The objective is the program's own (hindsight recourse, with its CVaR blend if any); the
candidate is priced with the fill-rate rows kept, so a candidate that misses a fill-rate
target on a replication has an infinite gap there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import require_plan, solve_program
from optimizer.instance import Instance
from optimizer.program.data import program_data
from optimizer.scenarios import ScenarioSet, generate_scenarios

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

#: Sample sizes of the default study.
DEFAULT_SIZES: tuple[int, ...] = (25, 50, 100, 200, 400)


@dataclass
class GapEstimate:
    r"""Multiple-replication estimate of a plan's optimality gap.

    Attributes
    ----------
    n_scenarios : int
        :math:`n`, scenarios per replication.
    gaps : ndarray (R,)
        :math:`G_r = \hat f_n^r(\hat x) - \hat v_n^r`.
    saa_values : ndarray (R,)
        :math:`\hat v_n^r`, SAA optima of the replications.
    candidate_values : ndarray (R,)
        :math:`\hat f_n^r(\hat x)`, the candidate's cost on each replication.
    plans : ndarray (R, n_items)
        :math:`S^r`, the replication optima (for plan stability).
    level : float
        One-sided confidence level of :attr:`upper_bound`.
    seconds : float
    """

    n_scenarios: int
    gaps: np.ndarray
    saa_values: np.ndarray
    candidate_values: np.ndarray
    plans: np.ndarray
    level: float = 0.95
    seconds: float = 0.0

    @property
    def replications(self) -> int:
        """:math:`R`, the number of replications."""
        return int(self.gaps.size)

    @property
    def mean_gap(self) -> float:
        r""":math:`\bar G`."""
        return float(self.gaps.mean())

    @property
    def std_gap(self) -> float:
        """:math:`s_G` (sample standard deviation, ``ddof=1``)."""
        return float(self.gaps.std(ddof=1)) if self.gaps.size > 1 else float("nan")

    @property
    def upper_bound(self) -> float:
        r"""One-sided :math:`\bar G + t_{level,R-1} s_G/\sqrt R`."""
        R = self.replications
        if R < 2:
            return float("nan")
        return float(self.mean_gap + stats.t.ppf(self.level, R - 1) * self.std_gap / np.sqrt(R))

    @property
    def lower_bound_estimate(self) -> float:
        r""":math:`\bar v_n = \frac1R\sum_r \hat v_n^r`, a lower bound on :math:`z^*`.

        The bound holds in expectation (a statistical lower bound).
        """
        return float(self.saa_values.mean())

    @property
    def candidate_estimate(self) -> float:
        r""":math:`\frac1R\sum_r \hat f_n^r(\hat x)`, the candidate's expected cost."""
        return float(self.candidate_values.mean())


def replication_scenarios(
    instance: Instance, r: int, n: int, seed: int | None = None
) -> ScenarioSet:
    """Scenarios of replication ``r`` (stream ``f"mrp{r}"``, independent of the others)."""
    return generate_scenarios(instance, n, seed=seed, stream=f"mrp{r}")


def mrp_gap(
    instance: Instance,
    base_stock: np.ndarray,
    reserved: np.ndarray | None = None,
    *,
    n_scenarios: int,
    replications: int = 10,
    seed: int | None = None,
    level: float = 0.95,
    config: SolveConfig | None = None,
    progress: Progress | None = None,
) -> GapEstimate:
    r"""Mak–Morton–Wood multiple-replication gap estimate of the plan :math:`(S, K)`.

    Parameters
    ----------
    base_stock, reserved : ndarray (n_items,)
        The candidate plan :math:`\hat x`.
    n_scenarios : int
        :math:`n` scenarios per replication.
    replications : int
        :math:`R \ge 2`.
    seed : int, optional
        Root seed (default ``plan.seed``); replication ``r`` uses stream ``f"mrp{r}"``.
    level : float
        One-sided confidence level of the upper bound.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        When a replication's SAA has no usable plan.
    """
    if replications < 2:
        raise ValueError("the multiple-replication procedure needs at least 2 replications")
    say = progress or (lambda _msg: None)
    S = np.asarray(base_stock, dtype=float)
    K = np.zeros_like(S) if reserved is None else np.asarray(reserved, dtype=float)
    t0 = time.perf_counter()
    gaps, saa, cand, plans = [], [], [], []
    for r in range(1, replications + 1):
        say(f"replication {r}/{replications} ({n_scenarios} scenarios)")
        data = program_data(instance, replication_scenarios(instance, r, n_scenarios, seed))
        opt = require_plan(solve_program(data, config), data, config)
        priced = solve_program(data, config, SolveRequest.fixed(S, K, keep_fill_rate=True))
        value = priced.objective if priced.has_plan else float("inf")
        if not priced.has_plan:
            log.warning(
                "replication %d: the candidate has no feasible recourse (%s)",
                r,
                priced.outcome.value,
            )
        gap = value - opt.objective
        if gap < -1e-6 * max(1.0, abs(opt.objective)):
            log.warning("replication %d: negative gap %.6g (solver tolerance?)", r, gap)
        gaps.append(gap)
        saa.append(opt.objective)
        cand.append(value)
        plans.append(np.asarray(opt.base_stock, dtype=float))
        log.info(
            "MRP replication %d: candidate %.4f, SAA optimum %.4f, gap %.4f",
            r,
            value,
            opt.objective,
            gap,
        )
    return GapEstimate(
        n_scenarios=int(n_scenarios),
        gaps=np.array(gaps),
        saa_values=np.array(saa),
        candidate_values=np.array(cand),
        plans=np.array(plans),
        level=level,
        seconds=time.perf_counter() - t0,
    )


def sample_size_study(
    instance: Instance,
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    replications: int = 10,
    seed: int | None = None,
    level: float = 0.95,
    config: SolveConfig | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    r"""Gap bound and plan stability of the stochastic plan for each sample size :math:`N`.

    For each :math:`N`: the candidate is the SAA plan on :math:`N` optimisation scenarios
    (stream ``"optimise"``), and :func:`mrp_gap` runs with :math:`n = N`.

    Returns
    -------
    DataFrame
        One row per :math:`N`: ``N, rp_objective`` (in-sample), ``candidate_estimate``,
        ``lower_bound_estimate``, ``mean_gap, gap_std, gap_ucb`` (one-sided ``level``),
        ``gap_ucb_rel`` (relative to ``candidate_estimate``), ``cover_spread`` (mean over
        items of :math:`\mathrm{sd}_r(S^r_i)/\mu_i`, periods), ``plan_spread`` (mean
        over items of :math:`\mathrm{sd}_r(S^r_i)/\mathrm{mean}_r(S^r_i)`),
        ``plan_change`` (value-weighted relative change of the candidate from the
        previous :math:`N`), ``base_stock_value`` (:math:`\sum_i c_i S_i`), ``seconds``.
    """
    say = progress or (lambda _msg: None)
    seed = instance.plan.seed if seed is None else int(seed)
    cost = instance.items.unit_cost.astype(float)
    mean = instance.items.demand_mean.astype(float)
    rows = []
    previous: np.ndarray | None = None
    for N in sizes:
        t0 = time.perf_counter()
        say(f"N = {N}: candidate")
        data = program_data(instance, generate_scenarios(instance, int(N), seed=seed))
        cand = require_plan(solve_program(data, config), data, config)
        est = mrp_gap(
            instance,
            cand.base_stock,
            cand.reserved,
            n_scenarios=int(N),
            replications=replications,
            seed=seed,
            level=level,
            config=config,
            progress=progress,
        )
        S = np.asarray(cand.base_stock, dtype=float)
        sd = est.plans.std(axis=0, ddof=1)
        avg = est.plans.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cover_spread = np.where(mean > 0, sd / mean, 0.0)
            plan_spread = np.where(avg > 0, sd / avg, 0.0)
        change = (
            float(cost @ np.abs(S - previous) / (cost @ S))
            if previous is not None
            else float("nan")
        )
        previous = S
        rows.append(
            {
                "N": int(N),
                "replications": est.replications,
                "rp_objective": cand.objective,
                "candidate_estimate": est.candidate_estimate,
                "lower_bound_estimate": est.lower_bound_estimate,
                "mean_gap": est.mean_gap,
                "gap_std": est.std_gap,
                "gap_ucb": est.upper_bound,
                "gap_ucb_rel": est.upper_bound / est.candidate_estimate
                if est.candidate_estimate
                else float("nan"),
                "cover_spread": float(cover_spread.mean()),
                "plan_spread": float(plan_spread.mean()),
                "plan_change": change,
                "base_stock_value": float(cost @ S),
                "seconds": time.perf_counter() - t0,
            }
        )
        log.info(
            "N=%d: gap %.4f (UCB %.4f), cover spread %.3f periods",
            N,
            est.mean_gap,
            est.upper_bound,
            rows[-1]["cover_spread"],
        )
    return pd.DataFrame(rows)
