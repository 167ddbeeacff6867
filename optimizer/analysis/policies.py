r"""Stocking policies as first-class objects: heuristic baselines and the two optimised plans.

Every policy produces a plan in the same form as the stochastic program: a base-stock level
:math:`S_i` and a reserved emergency capacity :math:`K_i` per item (README "The model"). The
plan is then priced by :mod:`optimizer.analysis.comparison` on common out-of-sample scenarios and
tabulated with :func:`optimizer.report.plan_table`.

Notation (per item :math:`i`, per period): mean demand :math:`\mu_i`, standard deviation
:math:`\sigma_i`, lead time :math:`L_i`, holding cost :math:`h_i` (storage + capital +
obsolescence, :attr:`Instance.holding_cost <optimizer.instance.Instance.holding_cost>`) and
stockout penalty :math:`\pi_i`. The protection interval of a periodic base-stock policy is
:math:`L_i + 1` periods, so every heuristic is "(L+1)-period mean demand plus a safety
stock":

========================  ==================================================================
name                      base stock :math:`S_i`
========================  ==================================================================
``jit``                   :math:`(L_i+1)\mu_i` (safety stock 0, the mean-value plan)
``jic_<k>``               :math:`(L_i+1)\mu_i + k\mu_i` (k periods of mean-demand cover)
``classic_<pct>``         :math:`(L_i+1)\mu_i + z_{pct}\,\sigma_i\sqrt{L_i+1}`,
                          :math:`z_{pct} = \Phi^{-1}(pct/100)` (cycle service level)
``newsvendor``            :math:`F^{-1}_{D^{(L+1)}}\big(\pi_i/(\pi_i+h_i)\big)` on the law of
                          :math:`L_i+1` periods of demand of the item's own family
``ev``                    the program solved on the mean-value scenario (the EV problem)
``stochastic``            the two-stage program solved on the optimisation scenarios (RP)
========================  ==================================================================

Heuristics reserve no emergency capacity (:math:`K_i = 0`; an item whose emergency source
needs a reservation therefore has none under a heuristic, an item whose source needs no
reservation keeps using it). Every heuristic :math:`S_i` is raised to the pipeline floor
:math:`L_i\mu_i` when it falls below (the model's start-up rule :math:`S_i \ge L_i\mu_i`,
README "The model"); this can only happen for a service level or fractile below 50 %.
Nothing else is clipped.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from optimizer.engines.base import CAUSAL, HINDSIGHT, SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, require_plan, solve_program
from optimizer.errors import NoPlanError
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.scenarios import ScenarioSet, generate_scenarios, mean_value_scenario

log = logging.getLogger(__name__)

#: Default periods of cover of the ``jic_<k>`` policies.
DEFAULT_JIC_COVER: tuple[float, ...] = (1.0, 2.0, 4.0)
#: Default cycle service levels (percent) of the ``classic_<pct>`` policies.
DEFAULT_SERVICE_LEVELS: tuple[float, ...] = (90.0, 95.0, 99.0)
HEURISTICS = ("jit", "jic", "classic", "newsvendor")


@dataclass
class PolicyPlan:
    r"""A plan produced by one policy.

    Attributes
    ----------
    name : str
        Policy identifier, e.g. ``"jit"``, ``"jic_2"``, ``"classic_95"``, ``"stochastic"``.
    family : str
        ``"jit"``, ``"jic"``, ``"classic"``, ``"newsvendor"``, ``"ev"`` or ``"stochastic"``.
    base_stock : ndarray (n,)
        :math:`S_i`.
    reserved : ndarray (n,)
        :math:`K_i` (0 for heuristics).
    description : str
        The rule in words, for reports.
    parameter : float or None
        :math:`k` (periods of cover) for ``jic``, the service level in percent for
        ``classic``; ``None`` otherwise.
    clipped : ndarray of bool (n,)
        Items whose heuristic level was raised to the pipeline floor :math:`L_i\mu_i`.
    fit_seconds : float
        Time to compute the plan (solves included).
    solution : Solution or None
        The solver's answer for ``ev`` and ``stochastic``.
    data : ProgramData or None
        The program the plan was solved on (``ev``: the mean-value scenario;
        ``stochastic``: the optimisation scenarios).
    """

    name: str
    family: str
    base_stock: np.ndarray
    reserved: np.ndarray
    description: str
    parameter: float | None = None
    clipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    fit_seconds: float = 0.0
    solution: Solution | None = None
    data: ProgramData | None = None

    @property
    def is_heuristic(self) -> bool:
        """True for the heuristic families (``jit``, ``jic``, ``classic``, ``newsvendor``)."""
        return self.family in HEURISTICS


# ------------------------------------------------------------------ building blocks ----
def cycle_mean(instance: Instance) -> np.ndarray:
    r"""Mean demand over the protection interval, :math:`(L_i+1)\mu_i`."""
    it = instance.items
    return (it.lead_time + 1) * it.demand_mean.astype(float)


def pipeline_floor(instance: Instance) -> np.ndarray:
    r"""Smallest admissible base stock, :math:`L_i\mu_i` (the start-up rule)."""
    it = instance.items
    return it.lead_time * it.demand_mean.astype(float)


def demand_std(instance: Instance) -> np.ndarray:
    r"""Per-period standard deviation :math:`\sigma_i` of the law scenarios are drawn from.

    ``poisson`` items use :math:`\sqrt{\mu_i}` (their sampling ignores ``demand_std``);
    every other family uses ``demand_std`` as given.
    """
    it = instance.items
    mean = it.demand_mean.astype(float)
    return np.where(
        it.demand_dist == "poisson", np.sqrt(np.maximum(mean, 0.0)), it.demand_std.astype(float)
    )


def _floor(instance: Instance, S: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    r"""Raise ``S`` to :math:`L_i\mu_i` where it falls below; log the items concerned."""
    low = pipeline_floor(instance)
    clipped = S < low
    if clipped.any():
        log.info(
            "%s: base stock raised to the pipeline floor L*mu for %d item(s): %s",
            name,
            int(clipped.sum()),
            ", ".join(map(str, instance.items.name[clipped])),
        )
    return np.maximum(S, low), clipped


def _heuristic(
    instance: Instance,
    name: str,
    family: str,
    S: np.ndarray,
    description: str,
    parameter: float | None,
    started: float,
) -> PolicyPlan:
    S, clipped = _floor(instance, np.asarray(S, dtype=float), name)
    return PolicyPlan(
        name=name,
        family=family,
        base_stock=S,
        reserved=np.zeros(len(instance.items)),
        description=description,
        parameter=parameter,
        clipped=clipped,
        fit_seconds=time.perf_counter() - started,
    )


def _label(x: float) -> str:
    """Compact number for a policy name: 2 -> "2", 0.5 -> "0.5", 97.5 -> "97.5"."""
    return f"{float(x):g}"


# ------------------------------------------------------------------------ heuristics ----
def cover_policy(instance: Instance, k: float) -> PolicyPlan:
    r"""``jic_<k>``: :math:`S_i = (L_i+1)\mu_i + k\mu_i`; :math:`k = 0` is ``jit``.

    Parameters
    ----------
    k : float
        Periods of mean-demand cover held as safety stock (:math:`ss_i = k\mu_i`).
    """
    started = time.perf_counter()
    k = float(k)
    if not math.isfinite(k):
        raise ValueError(f"periods of cover must be finite, got {k!r}")
    mean = instance.items.demand_mean.astype(float)
    S = cycle_mean(instance) + k * mean
    if k == 0:
        return _heuristic(
            instance, "jit", "jit", S, "Just-in-Time: S = (L+1)·mu, no safety stock", None, started
        )
    return _heuristic(
        instance,
        f"jic_{_label(k)}",
        "jic",
        S,
        f"Just-in-Case: S = (L+1)·mu + {_label(k)}·mu ({_label(k)} periods of cover)",
        k,
        started,
    )


def jit_policy(instance: Instance) -> PolicyPlan:
    r"""``jit``: safety stock 0, :math:`S_i = (L_i+1)\mu_i`."""
    return cover_policy(instance, 0.0)


def classic_policy(instance: Instance, service: float) -> PolicyPlan:
    r"""``classic_<pct>``: :math:`S_i = (L_i+1)\mu_i + z\,\sigma_i\sqrt{L_i+1}`.

    Parameters
    ----------
    service : float
        Cycle service level in percent, :math:`0 < pct < 100`;
        :math:`z = \Phi^{-1}(pct/100)` (normal approximation whatever the demand family,
        as the textbook safety-stock formula does). :math:`\sigma_i` from
        :func:`demand_std`.
    """
    started = time.perf_counter()
    pct = float(service)
    if not 0.0 < pct < 100.0:
        raise ValueError(f"a cycle service level is a percentage in (0, 100), got {service!r}")
    z = float(stats.norm.ppf(pct / 100.0))
    it = instance.items
    S = cycle_mean(instance) + z * demand_std(instance) * np.sqrt(it.lead_time + 1.0)
    return _heuristic(
        instance,
        f"classic_{_label(pct)}",
        "classic",
        S,
        f"classic safety stock: S = (L+1)·mu + z·sigma·sqrt(L+1), "
        f"z = Phi^-1({_label(pct)}%) = {z:.4f}",
        pct,
        started,
    )


def newsvendor_fractile(instance: Instance) -> np.ndarray:
    r"""Critical fractile :math:`\pi_i/(\pi_i+h_i)` per item.

    :math:`h_i` is the per-period holding cost (storage + capital + obsolescence) and
    :math:`\pi_i` the stockout penalty. With backorders :math:`\pi_i` is the penalty per
    unit backordered per period and the fractile is the exact single-item optimum (no
    disruption, no emergency supply). With lost sales :math:`\pi_i` is the
    penalty per lost unit and the same ratio is the usual lost-sales fractile, an
    approximation of the lost-sales optimum (exact for :math:`L_i = 0`).
    """
    pen = instance.items.stockout_penalty.astype(float)
    h = instance.holding_cost.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pen + h > 0, pen / (pen + h), 0.5)


def lead_time_demand(family: str, mean: float, std: float, periods: int) -> Any | None:
    r"""Law of the sum of ``periods`` i.i.d. periods of demand, as a frozen scipy law.

    Parameters
    ----------
    family : {"normal", "poisson", "gamma", "lognormal", "negbin"}
        Per-period family with mean :math:`\mu` and standard deviation :math:`\sigma`
        (matched as in :func:`optimizer.scenarios.sample_demand`).
    periods : int
        :math:`m = L + 1`.

    Returns
    -------
    scipy.stats frozen distribution, or None
        ``None`` when demand is deterministic (:math:`\mu \le 0`, or :math:`\sigma = 0`
        for a continuous family): the sum is then :math:`m\mu`.

    Notes
    -----
    * normal: :math:`N(m\mu, \sigma^2 m)` (exact; the sampler's censoring at 0 is
      ignored, negligible for :math:`\mu \ge 2\sigma`);
    * poisson: :math:`\mathrm{Poisson}(m\mu)` (exact);
    * gamma: shape :math:`m(\mu/\sigma)^2`, scale :math:`\sigma^2/\mu` (exact: shapes add);
    * negbin: ``nbinom(m·r, q)`` with :math:`r = \mu^2/(\sigma^2-\mu)`,
      :math:`q = \mu/\sigma^2` (exact: :math:`r` adds); Poisson when
      :math:`\sigma^2 \le \mu`, as the sampler does;
    * lognormal: the lognormal with the sum's mean :math:`m\mu` and variance
      :math:`m\sigma^2` (moment-matched; a sum of lognormals has no closed form).
    """
    m = int(periods)
    if m < 1:
        raise ValueError(f"periods must be >= 1, got {periods}")
    if mean <= 0:
        return None
    if family == "poisson":
        return stats.poisson(m * mean)
    if std <= 0:
        return None
    if family == "normal":
        return stats.norm(m * mean, std * math.sqrt(m))
    if family == "gamma":
        return stats.gamma((mean / std) ** 2 * m, scale=std**2 / mean)
    if family == "negbin":
        var = std**2
        if var <= mean:
            return stats.poisson(m * mean)
        return stats.nbinom(m * mean**2 / (var - mean), mean / var)
    if family == "lognormal":
        total, total_var = m * mean, m * std**2
        s2 = math.log1p(total_var / total**2)
        return stats.lognorm(math.sqrt(s2), scale=total * math.exp(-s2 / 2))
    raise ValueError(f"unknown demand family {family!r}")


def newsvendor_policy(instance: Instance) -> PolicyPlan:
    r"""``newsvendor``: :math:`S_i = F^{-1}_i(\pi_i/(\pi_i+h_i))`.

    :math:`F_i` is the law of :math:`L_i+1` periods of the item's demand
    (:func:`lead_time_demand`, the item's own family) and the fractile is
    :func:`newsvendor_fractile`: with backorders the exact base-stock optimum without
    disruptions; with lost sales the lost-sales fractile :math:`\pi/(\pi+h)` (an
    approximation for :math:`L_i \ge 1`). Supply disruptions, black swans and emergency
    supply are ignored, as the textbook formula does.
    """
    started = time.perf_counter()
    it = instance.items
    q = newsvendor_fractile(instance)
    sd = demand_std(instance)
    S = np.empty(len(it))
    for i in range(len(it)):
        m = int(it.lead_time[i]) + 1
        law = lead_time_demand(str(it.demand_dist[i]), float(it.demand_mean[i]), float(sd[i]), m)
        S[i] = m * float(it.demand_mean[i]) if law is None else float(law.ppf(q[i]))
    rule = "backorder fractile" if instance.plan.shortage == "backorder" else "lost-sales fractile"
    return _heuristic(
        instance,
        "newsvendor",
        "newsvendor",
        S,
        f"newsvendor: S = F^-1(pi/(pi+h)) on (L+1)-period demand ({rule})",
        None,
        started,
    )


# ------------------------------------------------------------------ optimised plans ----
def _solved(
    instance: Instance,
    name: str,
    family: str,
    data: ProgramData,
    description: str,
    config: SolveConfig | None,
    request: SolveRequest | None = None,
) -> PolicyPlan:
    started = time.perf_counter()
    sol = require_plan(solve_program(data, config, request), data, config)
    return PolicyPlan(
        name=name,
        family=family,
        base_stock=np.asarray(sol.base_stock, float),
        reserved=np.asarray(sol.reserved, float),
        description=description,
        clipped=np.zeros(len(instance.items), dtype=bool),
        fit_seconds=time.perf_counter() - started,
        solution=sol,
        data=data,
    )


def ev_policy(instance: Instance, *, config: SolveConfig | None = None) -> PolicyPlan:
    r"""``ev``: the program solved on :func:`~optimizer.scenarios.mean_value_scenario`.

    Mean demand and suppliers always up; its plan is JIT, :math:`S_i = (L_i+1)\mu_i`
    (README "How to read the results": EV), up to the solver's choice among ties.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        See :func:`optimizer.engines.dispatch.require_plan`.
    """
    data = program_data(instance, mean_value_scenario(instance))
    return _solved(
        instance,
        "ev",
        "ev",
        data,
        "mean-value (EV) plan: the program on average demand, no disruption",
        config,
    )


def stochastic_policy(
    instance: Instance,
    scenarios: ScenarioSet | None = None,
    *,
    config: SolveConfig | None = None,
    recourse: str | None = None,
) -> PolicyPlan:
    """``stochastic``: the two-stage plan (RP) on the optimisation scenarios.

    Parameters
    ----------
    scenarios : ScenarioSet, optional
        Default: ``generate_scenarios(instance)`` (stream ``"optimise"``,
        ``plan.scenarios`` scenarios, ``plan.seed``).
    recourse : {"causal", "hindsight"}, optional
        The second stage the plan is fitted to (default ``plan.recourse``); a plan of the
        other recourse than the instance's is named ``stochastic_<recourse>``.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        See :func:`optimizer.engines.dispatch.require_plan`.
    """
    scen = scenarios if scenarios is not None else generate_scenarios(instance)
    data = program_data(instance, scen)
    recourse = recourse or instance.plan.recourse
    name = "stochastic" if recourse == instance.plan.recourse else f"stochastic_{recourse}"
    return _solved(
        instance,
        name,
        "stochastic",
        data,
        f"two-stage stochastic plan (RP, {recourse} recourse) on {data.n_scenarios} scenarios",
        config,
        SolveRequest(recourse=recourse, integer=instance.plan.integer),
    )


# ---------------------------------------------------------------------- by name --------
_NAME = re.compile(
    r"^(jit|newsvendor|ev|stochastic|jic_(?P<k>[0-9.]+)|"
    r"classic_(?P<pct>[0-9.]+))$"
)


def policy_names(
    jic_cover: Iterable[float] = DEFAULT_JIC_COVER,
    service_levels: Iterable[float] = DEFAULT_SERVICE_LEVELS,
    *,
    include_ev: bool = True,
    include_stochastic: bool = True,
    include_hindsight: bool = True,
) -> list[str]:
    """Names of the standard policy set, in report order.

    ``include_hindsight`` adds ``stochastic_hindsight``, the plan of the hindsight
    recourse that :func:`make_policies` adds for an instance of the causal recourse.
    """
    names = ["jit"]
    names += [f"jic_{_label(k)}" for k in jic_cover]
    names += [f"classic_{_label(p)}" for p in service_levels]
    names.append("newsvendor")
    if include_ev:
        names.append("ev")
    if include_stochastic:
        names.append("stochastic")
        if include_hindsight:
            names.append("stochastic_hindsight")
    return list(dict.fromkeys(names))


def heuristic_policy(instance: Instance, name: str) -> PolicyPlan:
    """Build a heuristic plan from its name.

    The names are ``jit``, ``jic_<k>``, ``classic_<pct>`` and ``newsvendor``.

    Raises
    ------
    ValueError
        For an unknown or non-heuristic name.
    """
    m = _NAME.match(name)
    if m is None or name in ("ev", "stochastic"):
        raise ValueError(
            f"unknown heuristic policy {name!r}; use jit, jic_<k>, classic_<pct> or newsvendor"
        )
    if name == "jit":
        return jit_policy(instance)
    if name == "newsvendor":
        return newsvendor_policy(instance)
    if m.group("k") is not None:
        return cover_policy(instance, float(m.group("k")))
    return classic_policy(instance, float(m.group("pct")))


def make_policies(
    instance: Instance,
    *,
    jic_cover: Sequence[float] = DEFAULT_JIC_COVER,
    service_levels: Sequence[float] = DEFAULT_SERVICE_LEVELS,
    scenarios: ScenarioSet | None = None,
    include_ev: bool = True,
    include_stochastic: bool = True,
    config: SolveConfig | None = None,
) -> list[PolicyPlan]:
    r"""Build the standard policy set: jit, jic_<k>, classic_<pct>, newsvendor, ev, stochastic.

    Parameters
    ----------
    jic_cover : sequence of float
        Periods of cover :math:`k` of the ``jic_<k>`` policies (must be > 0; 0 is ``jit``).
    service_levels : sequence of float
        Cycle service levels in percent of the ``classic_<pct>`` policies.
    scenarios : ScenarioSet, optional
        Optimisation scenarios of the stochastic plan (default: the instance's own).
    config : SolveConfig, optional
        Passed to :func:`optimizer.engines.dispatch.solve_program` for ``stochastic``; ``ev``
        and ``stochastic_hindsight`` take its settings with the ``auto`` engine.

    Raises
    ------
    ValueError
        For a cover :math:`k \le 0` or a service level outside (0, 100).
    InfeasiblePlanError, NoPlanError
        When a solve has no usable plan (under a time budget, ``config.deadline``, the
        ``ev`` and ``stochastic_hindsight`` benchmarks are left out instead, with a
        warning).
    """
    bad = [k for k in jic_cover if not (math.isfinite(float(k)) and float(k) > 0)]
    if bad:
        raise ValueError(f"periods of cover must be > 0 (0 is jit), got {bad}")
    policies = [jit_policy(instance)]
    seen = {"jit"}
    for k in jic_cover:
        p = cover_policy(instance, k)
        if p.name not in seen:
            policies.append(p)
            seen.add(p.name)
    for pct in service_levels:
        p = classic_policy(instance, pct)
        if p.name not in seen:
            policies.append(p)
            seen.add(p.name)
    policies.append(newsvendor_policy(instance))
    # ev and the hindsight plan by auto's choice: an engine named for the stochastic plan
    # may serve only its recourse (the causal engines do not solve the hindsight program)
    auto = config.with_engine("auto") if config is not None else None
    budget = config is not None and config.deadline is not None

    def benchmark(name: str, fit: Callable[[], PolicyPlan]) -> None:
        """Add a benchmark plan; under a time budget leave it out if it found none."""
        try:
            policies.append(fit())
        except NoPlanError as exc:
            if not budget:
                raise
            log.warning("%s left out of the comparison: %s", name, exc)

    if include_ev:
        benchmark("ev", lambda: ev_policy(instance, config=auto))
    if include_stochastic:
        policies.append(stochastic_policy(instance, scenarios, config=config))
        if instance.plan.recourse == CAUSAL:  # the classical plan, to show what it costs
            benchmark(
                "stochastic_hindsight",
                lambda: stochastic_policy(instance, scenarios, config=auto, recourse=HINDSIGHT),
            )
    log.info("policies of %s: %s", instance.name, ", ".join(p.name for p in policies))
    return policies
