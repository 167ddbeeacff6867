"""Stochastic-programming diagnostics of a plan: RP, EV, EEV, VSS, WS, EVPI, bounds.

All on the optimisation scenarios (in sample), per costed horizon:

* RP  — the program's optimum (the stochastic plan), under the plan's recourse.
* EV  — the mean-value problem (mean demand, suppliers always up); its plan is JIT.
* EEV — the EV plan priced under the same recourse; VSS = EEV − RP: what hedging is worth.
* WS  — the hindsight wait-and-see relaxation (one plan per scenario, a recourse that sees
  the future); EVPI = RP − WS >= 0 bounds what perfect information could save.
* The plan run causally (``in_sample_causal``) and its hindsight recourse cost
  (``hindsight_bound``), a lower bound on the causal one for the same plan.

The plan's honest cost — causal, out of sample, with a tight interval — is
:mod:`optimizer.analysis.headline`'s.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from optimizer.engines.base import CAUSAL, HINDSIGHT, SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, solve_program
from optimizer.engines.registry import auto_choice
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import evaluate_causal
from optimizer.program.verifier import Evaluation
from optimizer.scenarios import mean_value_scenario

log = logging.getLogger(__name__)


@dataclass
class Interval:
    """Mean with a two-sided 95% confidence interval."""

    mean: float
    low: float
    high: float
    scenarios: int


def mean_ci(values: np.ndarray, prob: np.ndarray | None = None, level: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval of i.i.d. scenario costs (equal weights)."""
    v = np.asarray(values, dtype=float)
    if prob is not None and not np.allclose(prob, prob[0]):
        mean = float(prob @ v)
        var = float(prob @ (v - mean) ** 2) / max(1, v.size - 1) * v.size
    else:
        mean, var = float(v.mean()), float(v.var(ddof=1)) if v.size > 1 else 0.0
    half = stats.t.ppf(0.5 + level / 2, max(1, v.size - 1)) * np.sqrt(var / v.size)
    return Interval(mean, mean - half, mean + half, int(v.size))


@dataclass
class Diagnostics:
    """Figures a planner and an OR engineer expect next to the plan (per quarter).

    Attributes
    ----------
    recourse : str
        The second stage the plan was fitted to (``"causal"`` or ``"hindsight"``).
    rp : float
        The program's optimum on the optimisation scenarios (in sample).
    ev, eev, vss : float
        The mean-value (JIT) program's optimum, its plan's cost under the same recourse
        on the optimisation scenarios, and ``VSS = EEV - RP``.
    ws, evpi : float
        The hindsight wait-and-see bound (a plan per scenario and a recourse that sees
        the future) and ``EVPI = RP - WS``: what perfect information could save at most.
    in_sample_causal : float
        The plan run causally on the optimisation scenarios.
    hindsight_bound : float
        The plan's hindsight recourse cost on the same scenarios: a lower bound on
        ``in_sample_causal`` for this plan.
    hindsight_scenarios : int
        Scenarios of ``ws``, ``evpi`` and ``hindsight_bound``: all of them, or the first
        :data:`HINDSIGHT_SCENARIOS` of a program above :data:`HINDSIGHT_CELLS` cells.
    """

    recourse: str
    rp: float
    ev: float
    eev: float | None
    vss: float | None
    ws: float
    evpi: float
    in_sample_causal: float
    hindsight_bound: float
    hindsight_scenarios: int = 0
    note: str = ""

    def as_dict(self) -> dict:
        """Return the figures as a plain dict (for ``summary.json``)."""
        return asdict(self)


def price_plan(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    config: SolveConfig | None = None,
    keep_fill_rate: bool = False,
) -> Solution:
    """Optimal hindsight recourse of a fixed plan (its cost on ``data``'s scenarios)."""
    return solve_program(
        data, config, SolveRequest.fixed(base_stock, reserved, keep_fill_rate=keep_fill_rate)
    )


def causal_evaluation(
    data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray
) -> Evaluation:
    """Costs of the plan run causally (:func:`optimizer.program.simulate.evaluate_causal`)."""
    return evaluate_causal(data, base_stock, reserved, check_fill_rate=False, check_plan_rows=False)


#: Above this many item-scenario-period cells the hindsight figures (WS, EVPI, the plan's
#: hindsight bound) are taken on the first :data:`HINDSIGHT_SCENARIOS` scenarios: they are
#: bounds and context, and at planner scale they took as long as the plan itself.
HINDSIGHT_CELLS = 5_000_000
HINDSIGHT_SCENARIOS = 200
#: Engines fast enough for a diagnostic at any size (exact closed forms and kernels).
FAST_ENGINES = ("quantile", "flow", "causal")
#: Above this many item-scenario-period cells a diagnostic that only an LP engine can
#: solve is relaxed or skipped (the LPs take minutes at planner scale), with a note.
LP_DIAGNOSTIC_CELLS = 1_000_000


def _quick(data: ProgramData, request: SolveRequest) -> bool:
    """Whether ``auto`` solves ``request`` fast: a fast engine, or a small program."""
    return auto_choice(data, request) in FAST_ENGINES or data.demand.size <= LP_DIAGNOSTIC_CELLS


def _wait_and_see(data: ProgramData, config: SolveConfig) -> tuple[float, str]:
    """Solve the hindsight wait-and-see relaxation, exactly or (large, LP-only) as a bound.

    When only an LP engine solves the exact relaxation at this size, the plan rows and the
    reservation fees are dropped as well (every item may use its whole emergency
    capacity for free): a relaxation of the wait-and-see program, so its value is a lower
    bound on WS and ``RP - value`` an upper bound on EVPI. Returns the value and a note.
    """
    request = SolveRequest.wait_and_see()
    if _quick(data, request):
        ws = solve_program(data, config, request)
        return (ws.objective if ws.has_plan else float("nan")), ""
    relaxed = dataclasses.replace(
        data, budget=None, storage=None, fee=np.full(data.n_items, np.nan)
    )
    if not _quick(relaxed, request):
        return float("nan"), (
            f"WS_hindsight skipped: only an LP engine solves it, too slow above "
            f"{LP_DIAGNOSTIC_CELLS:,} item-scenario-period cells"
        )
    ws = solve_program(relaxed, config, request)
    return (ws.objective if ws.has_plan else float("nan")), (
        "WS_hindsight is a lower bound (plan rows and reservation fees relaxed: the exact "
        "wait-and-see LP is too slow at this size), so EVPI is an upper bound"
    )


def compute_diagnostics(
    instance: Instance,
    data: ProgramData,
    rp: Solution,
    *,
    config: SolveConfig | None = None,
    request: SolveRequest | None = None,
) -> Diagnostics:
    """Compute the stochastic-programming diagnostics of the RP plan ``rp``.

    EV and EEV are solved and priced under the recourse of ``request`` (the plan's);
    WS is the hindsight wait-and-see relaxation, which bounds both recourses from below.
    The programs are solved by ``auto`` with the settings of ``config`` (the engine that
    made the plan need not accept them).
    """
    config = (config or SolveConfig()).with_engine("auto")
    request = request or SolveRequest()
    recourse = request.recourse
    S, K = rp.base_stock, rp.reserved
    notes = []

    ev_data = program_data(instance, mean_value_scenario(instance))
    ev = solve_program(ev_data, config, SolveRequest(recourse=recourse, integer=request.integer))
    eev = vss = None
    if ev.has_plan:
        keep = recourse == HINDSIGHT  # the causal run has no choice to meet a target with
        eev_sol = solve_program(
            data,
            config,
            SolveRequest.fixed(ev.base_stock, ev.reserved, keep_fill_rate=keep, recourse=recourse),
        )
        if eev_sol.has_plan:
            eev = eev_sol.objective
            vss = eev - rp.objective
        else:
            notes.append(
                f"EEV: the EV (JIT) plan is {eev_sol.outcome.value} in the stochastic "
                "program (it cannot meet the fill-rate targets)"
            )
    # the hindsight figures: on the first HINDSIGHT_SCENARIOS scenarios of a large program
    hs = data
    if data.demand.size > HINDSIGHT_CELLS and data.n_scenarios > HINDSIGHT_SCENARIOS:
        _, hs = data.scenario_subset(np.arange(HINDSIGHT_SCENARIOS))
        notes.append(
            f"WS_hindsight, EVPI and hindsight_bound on the first {HINDSIGHT_SCENARIOS} of "
            f"the {data.n_scenarios} optimisation scenarios (the program is large); EVPI "
            "is the plan's cost on those scenarios minus WS_hindsight"
        )
    ws_value, ws_note = _wait_and_see(hs, config)
    if ws_note:
        notes.append(ws_note)
    if recourse == CAUSAL and rp.evaluation is not None:
        causal_cost = rp.evaluation.objective  # the dispatcher's numpy run of the plan
    else:
        causal_cost = evaluate_causal(
            data, S, K, check_fill_rate=False, check_plan_rows=False
        ).objective
    bound = float("nan")
    fixed = SolveRequest.fixed(S, K, keep_fill_rate=False)
    if recourse == HINDSIGHT and rp.evaluation is not None and hs is data:
        bound = rp.evaluation.objective
    elif _quick(hs, fixed):
        priced = price_plan(hs, S, K, config=config)
        bound = priced.objective if priced.has_plan else float("nan")
    else:
        notes.append(
            "hindsight_bound skipped: only an LP engine prices this plan's hindsight "
            f"recourse, too slow above {LP_DIAGNOSTIC_CELLS:,} item-scenario-period cells"
        )
    if hs is data:
        rp_hs = rp.objective
    elif recourse == CAUSAL:
        rp_hs = evaluate_causal(hs, S, K, check_fill_rate=False, check_plan_rows=False).objective
    else:
        rp_hs = bound
    return Diagnostics(
        recourse=recourse,
        rp=rp.objective,
        ev=ev.objective if ev.has_plan else float("nan"),
        eev=eev,
        vss=vss,
        ws=ws_value,
        evpi=rp_hs - ws_value,
        in_sample_causal=causal_cost,
        hindsight_bound=bound,
        hindsight_scenarios=hs.n_scenarios,
        note="; ".join(notes),
    )
