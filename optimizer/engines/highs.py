"""HiGHS through highspy: one place that hands an LP over and reads the outcome back.

Two routes reach it: a Pyomo model compiled with Pyomo's
:class:`~pyomo.repn.plugins.standard_form.LinearStandardFormCompiler` (the reference
route; measured ~5x faster than the appsi hand-over, README "Engines") and the sparse
matrices of :mod:`optimizer.program.matrices` (the fast path). Both end in :func:`solve_lp`.

Every HiGHS model status maps to a :class:`~optimizer.engines.base.Termination` (why HiGHS
stopped) and a :class:`~optimizer.engines.base.SolutionStatus` (what came back); callers
decide on those, never on the objective value alone.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.engines.base import EngineResult, SolutionStatus, SolveConfig, Termination
from optimizer.program.matrices import StandardLP

if TYPE_CHECKING:  # Pyomo is imported where a model is compiled (start-up: ~1.4 s)
    import pyomo.environ as pyo

log = logging.getLogger(__name__)
INF = highspy.kHighsInf


def _swallow_banner() -> None:
    """Make the process's first HiGHS instance with stdout pointed away.

    HiGHS prints its banner on stdout when the first instance of a process is made,
    whatever ``output_flag`` says; this keeps the banner out of tables and JSON lines.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced (e.g. captured)
        fd = 1
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


_swallow_banner()


@dataclass(frozen=True)
class SolverOptions:
    """HiGHS settings exposed to planners.

    Attributes
    ----------
    time_limit : float or None
        Wall-clock seconds per LP.
    threads : int or None
        HiGHS threads (its dual simplex is serial; IPM uses them).
    method : {"choose", "simplex", "ipm"}
        LP algorithm.
    gap : float
        Relative optimality tolerance of the interior-point method (and the tolerance
        under which a limit-stopped primal/dual pair counts as optimal).
    presolve : bool
    deadline : float or None
        :func:`time.monotonic` time no LP runs past (each LP gets at most the time left).
    """

    time_limit: float | None = None
    threads: int | None = None
    method: str = "choose"
    gap: float = 1e-8
    presolve: bool = True
    deadline: float | None = None

    @classmethod
    def of(cls, config: SolveConfig) -> SolverOptions:
        """Take the HiGHS part of a :class:`~optimizer.engines.base.SolveConfig`."""
        return cls(
            time_limit=config.time_limit,
            deadline=config.deadline,
            threads=config.threads,
            method=config.method,
            gap=config.gap,
            presolve=config.presolve,
        )


@dataclass
class LPResult:
    """Outcome of one LP solve.

    Attributes
    ----------
    status : SolutionStatus
        What came back.
    termination : Termination
        Why HiGHS stopped.
    message : str
        HiGHS's own model-status text (kept for the report).
    objective : float
        Primal objective (``nan`` without a plan).
    x : ndarray or None
        Primal values (``None`` without a plan).
    dual_bound : float
        Dual objective when HiGHS has a dual feasible point, else ``nan``.
    seconds : float
        HiGHS run time.
    """

    status: SolutionStatus
    termination: Termination
    message: str
    objective: float = float("nan")
    x: np.ndarray | None = None
    row_dual: np.ndarray | None = None
    dual_bound: float = float("nan")
    seconds: float = 0.0
    iterations: int = 0

    @property
    def gap(self) -> float:
        """Relative gap between primal objective and dual bound (0 when optimal)."""
        if self.status is SolutionStatus.OPTIMAL:
            return 0.0
        if np.isfinite(self.objective) and np.isfinite(self.dual_bound):
            return abs(self.objective - self.dual_bound) / max(1.0, abs(self.objective))
        return float("nan")


_MS = highspy.HighsModelStatus
_LIMITS = {
    _MS.kTimeLimit: Termination.TIME_LIMIT,
    _MS.kIterationLimit: Termination.ITERATION_LIMIT,
    _MS.kSolutionLimit: Termination.OTHER_LIMIT,
    _MS.kObjectiveBound: Termination.OTHER_LIMIT,
    _MS.kObjectiveTarget: Termination.OTHER_LIMIT,
    _MS.kMemoryLimit: Termination.OTHER_LIMIT,
    _MS.kInterrupt: Termination.INTERRUPTED,
    _MS.kHighsInterrupt: Termination.INTERRUPTED,
}


def _status_of(
    model_status: highspy.HighsModelStatus, primal_feasible: bool
) -> tuple[Termination, SolutionStatus]:
    """Tell why HiGHS stopped and what came back.

    Both follow from its model status and whether it holds a feasible primal point (a
    limit with one is a plan with a gap).
    """
    if model_status in (_MS.kOptimal, _MS.kModelEmpty):
        return Termination.CONVERGED, SolutionStatus.OPTIMAL
    if model_status == _MS.kInfeasible:
        return Termination.INFEASIBLE, SolutionStatus.NO_SOLUTION
    if model_status == _MS.kUnbounded:
        return Termination.UNBOUNDED, SolutionStatus.NO_SOLUTION
    if model_status == _MS.kUnboundedOrInfeasible:
        return Termination.INFEASIBLE_OR_UNBOUNDED, SolutionStatus.NO_SOLUTION
    if model_status in _LIMITS:
        found = SolutionStatus.FEASIBLE if primal_feasible else SolutionStatus.NO_SOLUTION
        return _LIMITS[model_status], found
    # kNotset, kLoadError, kModelError, k*solveError, kUnknown
    return Termination.ERROR, SolutionStatus.NO_SOLUTION


def _configure(h: highspy.Highs, options: SolverOptions) -> None:
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    limit = options.time_limit
    if options.deadline is not None:  # the command's budget: at most the time left
        left = max(0.0, options.deadline - time.monotonic())
        limit = left if limit is None else min(limit, left)
    if limit is not None:
        h.setOptionValue("time_limit", float(limit))
    if options.threads is not None:
        # HiGHS keeps one task scheduler per process; a different thread count is only
        # accepted after resetting it
        highspy.Highs.resetGlobalScheduler(True)
        h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("solver", options.method)
    h.setOptionValue("presolve", "on" if options.presolve else "off")
    h.setOptionValue("ipm_optimality_tolerance", float(max(options.gap, 1e-12)))


def _highs_lp(lp: StandardLP) -> highspy.HighsLp:
    A = sp.csc_array(lp.A)
    A.sort_indices()
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = A.shape[1], A.shape[0]
    model.col_cost_ = np.asarray(lp.c, dtype=float)
    model.offset_ = float(lp.offset)
    model.col_lower_ = np.where(np.isfinite(lp.col_lb), lp.col_lb, -INF).astype(float)
    model.col_upper_ = np.where(np.isfinite(lp.col_ub), lp.col_ub, INF).astype(float)
    model.row_lower_ = np.where(np.isfinite(lp.row_lb), lp.row_lb, -INF).astype(float)
    model.row_upper_ = np.where(np.isfinite(lp.row_ub), lp.row_ub, INF).astype(float)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = A.indptr.astype(np.int32)
    model.a_matrix_.index_ = A.indices.astype(np.int32)
    model.a_matrix_.value_ = A.data.astype(float)
    model.a_matrix_.num_col_, model.a_matrix_.num_row_ = A.shape[1], A.shape[0]
    return model


def solve_lp(lp: StandardLP, options: SolverOptions | None = None) -> LPResult:
    """Solve ``lp`` with HiGHS and classify the outcome.

    Returns
    -------
    LPResult
        ``x`` is set only when the status carries a plan.
    """
    options = options or SolverOptions()
    h = highspy.Highs()
    _configure(h, options)
    h.passModel(_highs_lp(lp))
    start = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - start
    ms = h.getModelStatus()
    if ms == _MS.kUnboundedOrInfeasible and options.presolve:
        # presolve could not tell which; the plain simplex can
        h.setOptionValue("presolve", "off")
        h.run()
        seconds = time.perf_counter() - start
        ms = h.getModelStatus()
    info = h.getInfo()
    primal_ok = info.primal_solution_status == 2  # kSolutionStatusFeasible
    termination, status = _status_of(ms, primal_ok)
    result = LPResult(
        status=status,
        termination=termination,
        message=h.modelStatusToString(ms),
        seconds=seconds,
        iterations=int(info.simplex_iteration_count + info.ipm_iteration_count),
    )
    if status is not SolutionStatus.NO_SOLUTION:
        sol = h.getSolution()
        result.x = np.asarray(sol.col_value, dtype=float)
        result.row_dual = np.asarray(sol.row_dual, dtype=float)
        result.objective = float(info.objective_function_value)
        if status is SolutionStatus.OPTIMAL:
            result.dual_bound = result.objective
        elif info.dual_solution_status == 2 and info.primal_dual_objective_error >= 0:
            # both points feasible: HiGHS reports |primal - dual| / (1 + |primal| + |dual|)
            err = float(info.primal_dual_objective_error)
            scale = 1.0 + 2.0 * abs(result.objective)
            result.dual_bound = result.objective - err * scale
    log.debug("HiGHS %s in %.3fs: %s", lp.shape, seconds, result.message)
    return result


def engine_result(
    res: LPResult, *, build_seconds: float, size: tuple[int, int, int]
) -> EngineResult:
    """Wrap one LP solve as an :class:`~optimizer.engines.base.EngineResult` without plans.

    The caller reads the plan off ``res.x``.
    """
    return EngineResult(
        status=res.status,
        termination=res.termination,
        message=res.message,
        objective=res.objective,
        build_seconds=build_seconds,
        solve_seconds=res.seconds,
        size=size,
        gap=res.gap if res.x is not None else float("nan"),
        objective_bound=res.dual_bound,
        iterations=res.iterations,
    )


@dataclass
class CompiledModel:
    """A Pyomo model in standard form plus the maps back to its variables and rows."""

    lp: StandardLP
    columns: list
    compile_seconds: float
    rows: list = field(default_factory=list)


def compile_pyomo(model: pyo.ConcreteModel) -> CompiledModel:
    """Compile a linear Pyomo model to a :class:`StandardLP` (mixed row senses kept)."""
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    start = time.perf_counter()
    repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    c = np.asarray(repn.c.toarray()).ravel() if repn.c.shape[0] else np.zeros(len(repn.columns))
    sense = np.array([r[1] for r in repn.rows], dtype=int)
    rhs = np.asarray(repn.rhs, dtype=float)
    row_lb = np.where(sense <= 0, rhs, -np.inf)
    row_ub = np.where(sense >= 0, rhs, np.inf)
    col_lb = np.array([-np.inf if v.lb is None else v.lb for v in repn.columns], dtype=float)
    col_ub = np.array([np.inf if v.ub is None else v.ub for v in repn.columns], dtype=float)
    offset = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
    lp = StandardLP(c, sp.csc_array(repn.A), row_lb, row_ub, col_lb, col_ub, offset)
    return CompiledModel(
        lp, list(repn.columns), time.perf_counter() - start, [r.constraint for r in repn.rows]
    )


def solve_pyomo(
    model: pyo.ConcreteModel, options: SolverOptions | None = None
) -> tuple[LPResult, CompiledModel]:
    """Compile, solve and load the primal values back into ``model``'s variables."""
    compiled = compile_pyomo(model)
    result = solve_lp(compiled.lp, options)
    if result.x is not None:
        for var, value in zip(compiled.columns, result.x, strict=True):
            var.set_value(float(value), skip_validation=True)
    return result, compiled
