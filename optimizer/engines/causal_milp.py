"""HiGHS as a MILP solver for Pyomo models with integer variables (the causal program).

The reference route of :mod:`optimizer.engines.highs` hands HiGHS an LP without
integrality. Here a model with binaries (such as :func:`models.causal.build_causal_model`)
is compiled the same way, with Pyomo's
:class:`~pyomo.repn.plugins.standard_form.LinearStandardFormCompiler` (several times faster
than Pyomo's persistent ``highs`` interface on these models, which spends most of a
small solve building its own representation), and the integrality of every column is
passed to highspy. The outcome is told in the two words of Pyomo's ``contrib.solver``
results, the termination condition (why HiGHS stopped) and the solution status (what came
back); callers decide on them, never on the objective value alone.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

import optimizer.engines.highs  # noqa: F401  (its import keeps the HiGHS banner off stdout)

log = logging.getLogger(__name__)
INF = highspy.kHighsInf

#: HiGHS settings that make a MILP optimum good to the 1e-6 the engines are held to: the
#: default gaps (1e-4 relative) and integrality tolerance (1e-6, which lets a big-M row
#: with M ~ 100 leak 1e-4 units) are too loose for that.
TIGHT = {
    "mip_rel_gap": 1e-9,
    "mip_abs_gap": 1e-9,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
}


@dataclass
class MILPResult:
    """Outcome of one MILP solve.

    Attributes
    ----------
    termination : TerminationCondition
        Why HiGHS stopped (Pyomo's ``contrib.solver`` vocabulary).
    solution : SolutionStatus
        What came back.
    objective : float
        Incumbent objective (``nan`` without an incumbent).
    bound : float
        Best dual bound (``nan`` when HiGHS reports none).
    seconds : float
        Wall time of the solve call (hand-over included).
    n_vars, n_integer, n_rows : int
        Model size before presolve: variables (fixed ones included), integer ones (binary
        included), active constraints.
    """

    termination: TerminationCondition
    solution: SolutionStatus
    objective: float = float("nan")
    bound: float = float("nan")
    seconds: float = 0.0
    n_vars: int = 0
    n_integer: int = 0
    n_rows: int = 0

    @property
    def optimal(self) -> bool:
        """Proven optimal (to :data:`TIGHT`): the only case whose objective is the optimum."""
        return (
            self.termination is TerminationCondition.convergenceCriteriaSatisfied
            and self.solution is SolutionStatus.optimal
        )

    @property
    def has_plan(self) -> bool:
        """An incumbent came back (optimal, or feasible at a limit)."""
        return self.solution in (SolutionStatus.feasible, SolutionStatus.optimal)

    @property
    def gap(self) -> float:
        """Relative gap between incumbent and bound (0 when optimal)."""
        if self.optimal:
            return 0.0
        if math.isfinite(self.objective) and math.isfinite(self.bound):
            return abs(self.objective - self.bound) / max(1.0, abs(self.objective))
        return float("nan")

    def __str__(self) -> str:
        """Format as ``termination/solution`` (Pyomo's enum names)."""
        return f"{self.termination.name}/{self.solution.name}"


_MS = highspy.HighsModelStatus
_TC = TerminationCondition
#: HiGHS model status -> why it stopped (anything else is an error).
_TERMINATION = {
    _MS.kOptimal: _TC.convergenceCriteriaSatisfied,
    _MS.kModelEmpty: _TC.emptyModel,
    _MS.kInfeasible: _TC.provenInfeasible,
    _MS.kUnbounded: _TC.unbounded,
    _MS.kUnboundedOrInfeasible: _TC.infeasibleOrUnbounded,
    _MS.kTimeLimit: _TC.maxTimeLimit,
    _MS.kIterationLimit: _TC.iterationLimit,
    _MS.kObjectiveBound: _TC.objectiveLimit,
    _MS.kObjectiveTarget: _TC.objectiveLimit,
    _MS.kSolutionLimit: _TC.iterationLimit,
    _MS.kInterrupt: _TC.interrupted,
    _MS.kHighsInterrupt: _TC.interrupted,
}


def model_size(model: pyo.ConcreteModel) -> tuple[int, int, int]:
    """Count the variables, integer variables and active constraints of ``model``.

    Fixed variables are counted: these are the sizes before HiGHS's presolve.
    """
    variables = list(model.component_data_objects(pyo.Var, descend_into=True))
    n_int = sum(1 for v in variables if v.is_integer())
    rows = sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True))
    return len(variables), n_int, rows


def _highs_model(model: pyo.ConcreteModel) -> tuple[highspy.HighsLp, list]:
    """Compile ``model`` to standard form, with the integrality of each column.

    Fixed variables become constants.
    """
    repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    columns = list(repn.columns)
    n_col = len(columns)
    c = np.asarray(repn.c.toarray()).ravel() if repn.c.shape[0] else np.zeros(n_col)
    sense = np.array([r[1] for r in repn.rows], dtype=int)
    rhs = np.asarray(repn.rhs, dtype=float)
    A = sp.csc_array(repn.A)
    A.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, A.shape[0]
    lp.col_cost_ = c.astype(float)
    lp.offset_ = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
    lp.col_lower_ = np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float)
    lp.col_upper_ = np.array([INF if v.ub is None else v.ub for v in columns], dtype=float)
    lp.row_lower_ = np.where(sense <= 0, rhs, -INF).astype(float)
    lp.row_upper_ = np.where(sense >= 0, rhs, INF).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, A.shape[0]
    kinds = highspy.HighsVarType
    lp.integrality_ = [kinds.kInteger if v.is_integer() else kinds.kContinuous for v in columns]
    return lp, columns


def solve_milp(
    model: pyo.ConcreteModel,
    *,
    time_limit: float | None = None,
    threads: int | None = None,
    presolve: bool = True,
    highs_options: dict | None = None,
) -> MILPResult:
    """Solve a linear Pyomo model with integer variables by HiGHS branch and bound.

    Parameters
    ----------
    model : pyomo.environ.ConcreteModel
        One active linear objective (minimised); integer and binary domains are kept.
    time_limit : float, optional
        Wall-clock seconds.
    threads : int, optional
        HiGHS threads.
    presolve : bool
    highs_options : dict, optional
        Extra HiGHS options, applied over :data:`TIGHT`.

    Returns
    -------
    MILPResult
        The model's variables hold the incumbent only when ``has_plan``; its objective
        is the optimum only when ``optimal``.
    """
    n_vars, n_int, n_rows = model_size(model)
    start = time.perf_counter()
    lp, columns = _highs_model(model)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    settings: dict = dict(TIGHT)
    settings["presolve"] = "on" if presolve else "off"
    if time_limit is not None:
        settings["time_limit"] = float(time_limit)
    if threads is not None:
        settings["threads"] = int(threads)
    settings.update(highs_options or {})
    for key, value in settings.items():
        h.setOptionValue(key, value)
    h.passModel(lp)
    h.run()
    ms = h.getModelStatus()
    if ms == _MS.kUnboundedOrInfeasible and presolve:
        h.setOptionValue("presolve", "off")  # presolve could not tell which; the solve can
        h.run()
        ms = h.getModelStatus()
    seconds = time.perf_counter() - start
    info = h.getInfo()
    termination = _TERMINATION.get(ms, _TC.error)
    if termination in (_TC.convergenceCriteriaSatisfied, _TC.emptyModel):
        solution = SolutionStatus.optimal
    elif info.primal_solution_status == 2 and termination not in (_TC.provenInfeasible, _TC.error):
        solution = SolutionStatus.feasible  # an incumbent at a limit (2: feasible point)
    else:
        solution = SolutionStatus.noSolution
    result = MILPResult(
        termination=termination,
        solution=solution,
        seconds=seconds,
        n_vars=n_vars,
        n_integer=n_int,
        n_rows=n_rows,
    )
    if result.has_plan:
        x = h.getSolution().col_value
        for var, value in zip(columns, x, strict=True):
            var.set_value(float(value), skip_validation=True)
        result.objective = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if n_int else result.objective
        result.bound = bound if math.isfinite(bound) else float("nan")
    log.debug(
        "HiGHS MILP %d vars (%d integer), %d rows in %.3fs: %s",
        n_vars,
        n_int,
        n_rows,
        seconds,
        result,
    )
    return result
