r"""mpi-sppy's L-shaped method (Benders) over the scenario models, under MPI.

Progressive hedging spreads the scenarios over ranks and agrees on the first stage by
penalties; on this program it converged slowly (a 3-item x 40-scenario instance with a
binding budget and reserved capacity: gap 10.7% after 227 iterations and 890 s). The
first stage here is small (:math:`S_i`, :math:`K_i` per item and :math:`\eta` for CVaR),
which is the case the L-shaped method serves: a root problem in the first-stage variables
(with the plan rows: :math:`\sum_i c_i S_i \le B`, :math:`\sum_i v_i S_i \le V`) and one
value :math:`\theta_w` per scenario, cut from below by each scenario's recourse LP
(mpi-sppy's ``LShapedMethod`` over Pyomo's Benders cut generator, every rank solving its
share of the scenarios). The same instance: the extensive form's optimum to 1e-12 in 9 s
on two ranks.

Every scenario's recourse cost is non-negative (costs are), so :math:`\theta_w \ge 0` is a
valid lower bound (mpi-sppy's default, :math:`-2^{63} p_w`, is numerically fragile). The
method stops when no scenario adds a cut (the root's bound is then the optimum), at the
iteration limit, or at the time limit (a converger that watches the clock); the plan of the
last root is then priced exactly by the caller.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from models.mpisppy_scenarios import (
    check_decomposable,
    kw_creator,
    scenario_creator,
    scenario_names_creator,
)
from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
)
from optimizer.engines.matrix import MatrixEngine
from optimizer.program.data import ProgramData

#: Pyomo solver of the root and the scenario LPs (Pyomo's Benders cut generator knows its
#: dual sign convention; ``appsi_highs`` it does not).
LSHAPED_SOLVER = "highs"


def _clock_converger(limit: float | None):
    """Build a converger class for ``lshaped_algorithm`` that stops after ``limit`` s."""

    class Clock:
        def __init__(self, opt: Any, rank: int, n_proc: int) -> None:
            self.start = time.perf_counter()

        def convergence_value(self) -> float:
            return time.perf_counter() - self.start

        def is_converged(self) -> bool:
            return limit is not None and self.convergence_value() > limit

    return Clock


def solve_with_lshaped(
    data: ProgramData,
    *,
    max_iterations: int,
    time_limit: float | None,
    comm: Any,
) -> dict[str, Any]:
    r"""Run the L-shaped method on every rank of ``comm`` (collective).

    Returns
    -------
    dict
        ``base_stock``, ``reserved``, ``eta`` (CVaR only) of the last root, the root's
        lower bound ``outer_bound`` (a valid bound on the optimum), ``converged`` (no
        cut was added in the last iteration), ``iterations`` and ``seconds``; the same
        on every rank.
    """
    from mpisppy.opt.lshaped import LShapedMethod

    check_decomposable(data)
    names = scenario_names_creator(data.n_scenarios)
    options = {
        "root_solver": LSHAPED_SOLVER,
        "sp_solver": LSHAPED_SOLVER,
        "max_iter": int(max_iterations),
        "verbose": False,
        "valid_eta_lb": {name: 0.0 for name in names},
    }
    start = time.perf_counter()
    method = LShapedMethod(
        options,
        names,
        scenario_creator,
        mpicomm=comm,
        scenario_creator_kwargs=kw_creator(data=data),
    )
    res = method.lshaped_algorithm(converger=_clock_converger(time_limit))
    seconds = time.perf_counter() - start
    # the root's first-stage values, by name (mpi-sppy's own per-scenario values are
    # also called eta on the root, so the CVaR level is taken from the nonant list)
    S, K, eta = np.zeros(data.n_items), np.zeros(data.n_items), None
    for var in method.root_vars:
        base, _, index = var.name.partition("[")
        if base == "S":
            S[int(index.rstrip("]"))] = float(var.value)
        elif base == "K":
            K[int(index.rstrip("]"))] = float(var.value)
        elif base == "eta":
            eta = float(var.value)
    outer = float(res.Problem[0].Lower_bound) if res is not None else -math.inf
    iterations = int(method.iter) + 1
    timed_out = time_limit is not None and seconds > time_limit
    converged = iterations < max_iterations and not timed_out
    out = {
        "base_stock": S,
        "reserved": K,
        "eta": eta,
        "outer_bound": outer,
        "converged": converged,
        "iterations": iterations,
        "seconds": seconds,
        "timed_out": timed_out,
    }
    return comm.bcast(out, root=0)


def lshaped_result(data: ProgramData, config: SolveConfig, comm: Any) -> EngineResult:
    r"""Answer for the ``mpi-sppy`` engine by the L-shaped method (collective).

    The last root's plan is priced by its exact recourse LP (the inner bound
    :math:`\bar z`); with the root's bound :math:`\underline z` the gap is
    :math:`(\bar z - \underline z)/\max(1, |\bar z|)`, optimal within ``--rel-gap``.
    """
    o = config.mpisppy
    run = solve_with_lshaped(
        data, max_iterations=o.max_iterations, time_limit=config.time_limit, comm=comm
    )
    primary = comm.Get_rank() == 0
    details = {
        "method": "L-shaped (mpi-sppy LShapedMethod)",
        "outer_bound": run["outer_bound"],
        "iterations": run["iterations"],
        "ranks": comm.Get_size(),
        "no_cut_added": run["converged"],
        "layout": "L-shaped root and scenario LPs over every rank",
    }
    if run["converged"]:
        termination = Termination.CONVERGED
    elif run["timed_out"]:
        termination = Termination.TIME_LIMIT
    else:
        termination = Termination.ITERATION_LIMIT
    priced = MatrixEngine().solve(
        data,
        SolveRequest.fixed(run["base_stock"], run["reserved"]),
        config.with_engine(MatrixEngine.name),
    )
    if not priced.has_plan:
        priced.message = f"pricing the L-shaped plan: {priced.message}"
        priced.details, priced.primary = details, primary
        return priced
    inner, outer = priced.objective, run["outer_bound"]
    gap = max(0.0, inner - outer) / max(1.0, abs(inner)) if math.isfinite(outer) else math.inf
    optimal = gap <= o.rel_gap
    details.update({"inner_bound": inner, "rel_gap": gap, "converged": optimal})
    return EngineResult(
        status=SolutionStatus.OPTIMAL if optimal else SolutionStatus.FEASIBLE,
        termination=termination,
        message=(
            f"{'Converged' if optimal else 'Stopped'} (L-shaped, relative gap {gap:.3g} "
            f"after {run['iterations']} iterations on {comm.Get_size()} ranks)"
        ),
        objective=inner,
        base_stock=run["base_stock"],
        reserved=run["reserved"],
        recourse=priced.recourse,
        build_seconds=priced.build_seconds,
        solve_seconds=run["seconds"] + priced.solve_seconds,
        size=priced.size,
        gap=gap,
        subproblems=data.n_scenarios,
        objective_bound=outer,
        iterations=run["iterations"],
        details=details,
        primary=primary,
    )
