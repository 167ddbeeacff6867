"""Stochastic-programming diagnostics of a plan: RP, EV, EEV, VSS, WS, EVPI, out-of-sample.

* RP  — the recourse problem's optimum (the stochastic plan).
* EV  — the mean-value problem (mean demand, suppliers always up); its plan is JIT.
* EEV — the EV plan priced in the stochastic program; VSS = EEV − RP >= 0.
* WS  — the wait-and-see relaxation (one plan per scenario); EVPI = RP − WS >= 0.
* Out-of-sample — the plan priced on fresh scenarios (stream ``"evaluate"``), with a 95%
  confidence interval from the per-scenario costs.
* Causal — the plan run by :func:`optimizer.program.simulate.simulate_plan` on the optimisation
  scenarios; its gap to the hindsight recourse cost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from optimizer.engines.base import SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, solve_program
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.program.simulate import simulate_plan
from optimizer.program.verifier import Evaluation, evaluate_solution
from optimizer.scenarios import generate_scenarios, mean_value_scenario

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
    """Figures a planner and an OR engineer expect next to the plan (per quarter)."""

    rp: float
    ev: float
    eev: float | None
    vss: float | None
    ws: float
    evpi: float
    out_of_sample: Interval
    out_of_sample_causal: Interval
    causal_cost: float
    hindsight_cost: float
    causal_gap: float
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
    """Costs of the plan run causally by :func:`optimizer.program.simulate.simulate_plan`."""
    return evaluate_solution(
        data,
        base_stock,
        reserved,
        simulate_plan(data, base_stock, reserved),
        check_fill_rate=False,
        check_plan_rows=False,
    )


def compute_diagnostics(
    instance: Instance,
    data: ProgramData,
    rp: Solution,
    *,
    eval_scenarios: int | None = None,
    seed: int | None = None,
    config: SolveConfig | None = None,
) -> Diagnostics:
    """Compute every diagnostic of the RP plan ``rp`` (which must carry a plan).

    The EV, EEV, WS and out-of-sample programs are solved by ``auto`` with the settings
    of ``config`` (the engine that made the plan need not accept them).
    """
    config = (config or SolveConfig()).with_engine("auto")
    S, K = rp.base_stock, rp.reserved
    notes = []

    ev_data = program_data(instance, mean_value_scenario(instance))
    ev = solve_program(ev_data, config)
    eev = vss = None
    if ev.has_plan:
        eev_sol = price_plan(data, ev.base_stock, ev.reserved, config=config, keep_fill_rate=True)
        if eev_sol.has_plan:
            eev = eev_sol.objective
            vss = eev - rp.objective
        else:
            notes.append(
                f"EEV: the EV (JIT) plan is {eev_sol.outcome.value} in the stochastic "
                "program (it cannot meet the fill-rate targets)"
            )
    ws = solve_program(data, config, SolveRequest.wait_and_see())
    ws_value = ws.objective if ws.has_plan else float("nan")

    causal = causal_evaluation(data, S, K)
    hindsight = rp.evaluation.objective if rp.evaluation is not None else rp.objective

    n_eval = int(eval_scenarios or max(instance.plan.scenarios, data.n_scenarios))
    fresh = generate_scenarios(instance, n_eval, seed=seed, stream="evaluate")
    fresh_data = program_data(instance, fresh)
    oos = price_plan(fresh_data, S, K, config=config)
    oos_ci = (
        mean_ci(oos.evaluation.scenario_cost, fresh_data.probability)
        if oos.has_plan
        else Interval(float("nan"), float("nan"), float("nan"), n_eval)
    )
    oos_causal = causal_evaluation(fresh_data, S, K)
    return Diagnostics(
        rp=rp.objective,
        ev=ev.objective if ev.has_plan else float("nan"),
        eev=eev,
        vss=vss,
        ws=ws_value,
        evpi=rp.objective - ws_value,
        out_of_sample=oos_ci,
        out_of_sample_causal=mean_ci(oos_causal.scenario_cost, fresh_data.probability),
        causal_cost=causal.objective,
        hindsight_cost=hindsight,
        causal_gap=causal.objective - hindsight,
        note="; ".join(notes),
    )
