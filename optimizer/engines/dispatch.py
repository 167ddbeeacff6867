"""Solving the program: run an engine, verify its answer, name what went wrong.

:func:`solve_program` hands the program to the engine ``config.engine`` names, or to
``auto``'s choice (:mod:`optimizer.engines.registry`), and re-evaluates every answer in
numpy (:func:`optimizer.program.verifier.evaluate_solution`), rejecting it when its
objective or residuals disagree with the engine. :func:`require_plan` turns a solve without
a plan into the right error (with the conflicting constraint group when infeasible).

Engines (README "Engines"): ``quantile``, ``flow``, ``decomposed``, ``price``, ``matrix``
(``auto`` tries them in this order), ``ef`` (the Pyomo reference) and ``mpi-sppy``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from optimizer.engines.base import CAUSAL, EngineResult, SolveConfig, SolveRequest, SolveStatus
from optimizer.engines.causal import CausalEngine
from optimizer.engines.executors import ItemWork
from optimizer.engines.executors import evaluate as evaluate_items
from optimizer.engines.registry import run_engines
from optimizer.errors import EngineDeclinedError, InfeasiblePlanError, NoPlanError
from optimizer.program.data import ProgramData
from optimizer.program.review import evaluate_levels
from optimizer.program.simulate import evaluate_causal
from optimizer.program.verifier import (
    Evaluation,
    check_solution,
    cost_scale,
    evaluate_solution,
)

log = logging.getLogger(__name__)


@dataclass
class Solution(EngineResult):
    """A solved program: an engine's result, checked.

    Attributes
    ----------
    engine : str
        The engine that produced it (``auto``'s choice when asked for ``auto``).
    evaluation : Evaluation or None
        Independent re-evaluation (set when the solution carries one plan).
    wall_seconds : float
        Elapsed time of the engine run.
    declined : dict of str to str
        Engines ``auto`` passed over (or that gave up), with their reasons.

    Callers must read ``status`` (or ``has_plan``) before trusting ``objective``; see
    :class:`~optimizer.engines.base.EngineResult` for the other attributes.
    """

    engine: str = ""
    evaluation: Evaluation | None = None
    wall_seconds: float = 0.0
    declined: dict[str, str] = field(default_factory=dict)


def solve_program(
    data: ProgramData,
    config: SolveConfig | None = None,
    request: SolveRequest | None = None,
    *,
    work: ItemWork | None = None,
) -> Solution:
    """Solve the program of ``data`` (or price a fixed plan) and verify the answer.

    Parameters
    ----------
    data : ProgramData
        The program; with ``work``, its skeleton may do
        (:func:`optimizer.program.data.program_skeleton`).
    config : SolveConfig, optional
        Engine and settings (default: ``auto`` with HiGHS defaults).
    request : SolveRequest, optional
        Wait-and-see, a fixed plan, fill-rate rows (default: the stochastic program).
    work : ItemWork, optional
        The program's items in chunks on a cluster (:mod:`optimizer.engines.executors`):
        the ``causal`` engine solves it there and the plan is re-evaluated there.

    Raises
    ------
    EngineDeclinedError
        ``config.engine`` names an engine that cannot solve this program.
    VerificationError
        The numpy re-evaluation disagrees with the engine (``config.verify``).
    """
    config = config or SolveConfig()
    request = request or SolveRequest()
    start = time.perf_counter()
    if work is not None:
        return _solve_on(work, data, config, request, start)
    name, result, declined = run_engines(data, request, config)
    sol = Solution(
        **result.as_fields(),
        engine=name,
        wall_seconds=time.perf_counter() - start,
        declined=declined,
    )
    if not sol.has_plan or request.anticipative:
        return sol
    checks = dict(check_fill_rate=request.keep_fill_rate, check_plan_rows=not request.fixed_plan)
    if sol.block_levels is not None:  # one level per review block, played in numpy
        sol.evaluation = evaluate_levels(
            data, sol.block_levels, sol.reserved, span=request.review_span, tail=sol.base_stock
        )
    elif request.recourse == CAUSAL:  # the plan played by the independent numpy simulation
        sol.evaluation = evaluate_causal(data, sol.base_stock, sol.reserved, **checks)
    else:
        sol.evaluation = evaluate_solution(
            data, sol.base_stock, sol.reserved, sol.recourse, **checks
        )
    if config.verify:
        scale = cost_scale(data)
        check_solution(sol.evaluation, sol.objective, what=f"{name} solve", scale=scale)
    return sol


def _solve_on(
    work: ItemWork, data: ProgramData, config: SolveConfig, request: SolveRequest, start: float
) -> Solution:
    """Solve with the ``causal`` engine on ``work``'s chunks and re-evaluate there too."""
    engine = CausalEngine()
    if config.engine not in ("auto", engine.name):
        raise EngineDeclinedError(
            config.engine, "--cluster runs the item-separable 'causal' engine only"
        )
    if reason := engine.accepts(data, request):
        raise EngineDeclinedError(engine.name, f"{reason} (--cluster runs 'causal' only)")
    result = engine.solve(data, request, config, work=work)
    sol = Solution(
        **result.as_fields(), engine=engine.name, wall_seconds=time.perf_counter() - start
    )
    if not sol.has_plan:
        return sol
    checks = dict(check_fill_rate=request.keep_fill_rate, check_plan_rows=not request.fixed_plan)
    sol.evaluation = evaluate_items(work, data, sol.base_stock, sol.reserved, **checks)
    if config.verify:
        check_solution(sol.evaluation, sol.objective, what="causal solve", scale=cost_scale(data))
    return sol


def require_plan(sol: Solution, data: ProgramData, config: SolveConfig | None = None) -> Solution:
    """Turn a solution without a usable plan into the right error.

    Raises
    ------
    InfeasiblePlanError
        With the constraint group whose removal restores feasibility.
    NoPlanError
        Time or iteration limit without a feasible plan, unbounded, numerical trouble.
    """
    if sol.has_plan:
        return sol
    if sol.outcome is SolveStatus.INFEASIBLE:
        group = diagnose_infeasibility(data, config or SolveConfig())
        raise InfeasiblePlanError(
            f"the stocking program is infeasible ({sol.message}); conflicting "
            f"constraint group: {group}",
            conflict=group,
        )
    raise NoPlanError(f"no plan within the limits: {sol.outcome.value} ({sol.message})")


def diagnose_infeasibility(data: ProgramData, config: SolveConfig) -> str:
    """Name the constraint group whose removal makes the program feasible."""
    groups = {
        "inventory budget (sum of unit_cost x base stock <= inventory_budget)": {"budget": None},
        "storage capacity (sum of volume x base stock <= storage_capacity)": {"storage": None},
        "minimum fill rate (min_fill_rate per item)": {
            "fill_rate": np.full_like(data.fill_rate, np.nan)
        },
    }
    present = {
        "budget": data.budget is not None,
        "storage": data.storage is not None,
        "fill_rate": bool((~np.isnan(data.fill_rate)).any()),
    }
    for name, change in groups.items():
        if not present[next(iter(change))]:
            continue
        relaxed = dataclasses.replace(data, **change)
        engine = "decomposed" if relaxed.is_separable else "matrix"
        trial = solve_program(relaxed, dataclasses.replace(config, engine=engine, verify=False))
        if trial.outcome is not SolveStatus.INFEASIBLE:
            return name
    return "joint (no single group explains it)"
