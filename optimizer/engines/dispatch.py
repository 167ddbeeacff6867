"""Solving the program: choose an engine, solve with HiGHS, verify, return arrays.

Engines
-------
``ef``
    The Pyomo extensive form (:mod:`models.two_stage`) compiled to standard form and
    handed to HiGHS: the reference.
``decomposed``
    Items are independent when no budget, storage row or CVaR ties them; each item's
    program is assembled by :mod:`optimizer.program.matrices` and solved on its own, spread over
    worker processes (HiGHS's dual simplex is serial, so processes use the cores).
``matrix``
    The whole extensive form from :mod:`optimizer.program.matrices` (coupled instances).
``quantile``
    Backorders without emergency supply or fill-rate targets: the exact weighted
    newsvendor quantile of :mod:`optimizer.engines.quantile` (the recourse is then the causal
    simulation, which is optimal there).
``price``
    One budget or storage row and nothing else coupling items: Lagrangian price
    decomposition with persistent per-item HiGHS instances
    (:mod:`optimizer.engines.price`).
``flow``
    Lost sales without fill-rate targets or CVaR: the exact min-cost-flow curves of
    :mod:`optimizer.engines.flow_curves`, assembled by :mod:`optimizer.engines.flow` (item by
    item, or with the exact price of one budget/storage row).
``auto``
    ``flow`` or ``quantile`` when eligible, else ``decomposed`` when separable, else
    ``price`` when one plan row is the only coupling, else ``matrix``.

Every solution is re-evaluated in numpy (:func:`optimizer.program.verifier.evaluate_solution`)
and rejected when its objective or residuals disagree with the solver.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from models.two_stage import build_extensive_form, fix_plan
from optimizer.engines.flow import flow_eligible, solve_flow
from optimizer.engines.flow_curves import FlowFailure
from optimizer.engines.highs import LPResult, SolverOptions, SolveStatus, solve_lp, solve_pyomo
from optimizer.engines.price import solve_priced_row
from optimizer.engines.quantile import backorder_quantile_plan, quantile_eligible
from optimizer.errors import InfeasiblePlanError, NoPlanError
from optimizer.program.data import ProgramData
from optimizer.program.matrices import KINDS, build_lp
from optimizer.program.simulate import simulate_plan
from optimizer.program.verifier import Evaluation, RecourseArrays, check_solution, evaluate_solution

log = logging.getLogger(__name__)
#: Below this many item x scenario x period cells the decomposition runs in-process
#: (starting workers costs more than it saves).
POOL_MIN_CELLS = 20_000
#: From this many cells ``auto`` prices a lone budget/storage row instead of solving the
#: whole extensive form: measured at 50 items x 100 scenarios (0.2 M cells) the single LP
#: was still a little faster (42.9 s vs 46.2 s) but needs ~1 GB; beyond a few million
#: cells the extensive form no longer fits in memory.
PRICE_MIN_CELLS = 5_000_000
ENGINES = ("auto", "ef", "decomposed", "matrix", "quantile", "price", "flow")
_SEVERITY = [
    SolveStatus.OPTIMAL,
    SolveStatus.LIMIT_FEASIBLE,
    SolveStatus.NUMERICAL,
    SolveStatus.LIMIT_NO_SOLUTION,
    SolveStatus.UNBOUNDED,
    SolveStatus.INFEASIBLE,
]


@dataclass
class Solution:
    """A solved program.

    Attributes
    ----------
    status : SolveStatus
        Worst status over the sub-problems.
    termination : str
        HiGHS's words for it.
    objective : float
        Solver objective (sum over items when decomposed).
    base_stock, reserved : ndarray (n,) or (n, N) in wait-and-see mode
        :math:`S`, :math:`K`.
    recourse : RecourseArrays or None
    evaluation : Evaluation or None
        Independent re-evaluation (set when the solution carries a plan).
    engine : str
    build_seconds, solve_seconds : float
        Model building (Pyomo or matrix, plus hand-over) and HiGHS time, summed over
        sub-problems; ``wall_seconds`` is elapsed time.
    size : tuple of int
        Rows, columns, non-zeros (largest sub-problem when decomposed).
    """

    status: SolveStatus
    termination: str
    objective: float
    base_stock: np.ndarray
    reserved: np.ndarray
    recourse: RecourseArrays | None
    evaluation: Evaluation | None
    engine: str
    build_seconds: float
    solve_seconds: float
    wall_seconds: float
    size: tuple[int, int, int]
    gap: float = 0.0
    subproblems: int = 1

    @property
    def has_plan(self) -> bool:
        return self.status.has_plan


def _worst(statuses: list[SolveStatus]) -> SolveStatus:
    return max(statuses, key=_SEVERITY.index)


# ----------------------------------------------------------------- matrix engines ----
def _solve_matrix(
    data: ProgramData,
    options: SolverOptions,
    anticipative: bool,
    base_stock: np.ndarray | None,
    reserved: np.ndarray | None,
    keep_fill_rate: bool,
) -> dict:
    t0 = time.perf_counter()
    lp, layout = build_lp(
        data,
        anticipative=anticipative,
        base_stock=base_stock,
        reserved=reserved,
        keep_fill_rate=keep_fill_rate,
    )
    built = time.perf_counter() - t0
    res = solve_lp(lp, options)
    out = {"result": res, "build": built, "size": (*lp.shape, lp.A.nnz)}
    if res.x is not None:
        S, K = layout.first_stage(res.x)
        out["S"], out["K"] = S, K
        out["rec"] = {k: layout.recourse(res.x, k) for k in KINDS}
    return out


_POOL_JOB: dict = {}


def _solve_items(indices: list[int]) -> list[dict]:
    job = _POOL_JOB
    return [
        _solve_matrix(
            job["data"].item(i),
            job["options"],
            job["anticipative"],
            None if job["S"] is None else job["S"][[i]],
            None if job["K"] is None else job["K"][[i]],
            job["keep_fill_rate"],
        )
        for i in indices
    ]


def _run_decomposed(
    data: ProgramData,
    options: SolverOptions,
    anticipative: bool,
    base_stock,
    reserved,
    keep_fill_rate: bool,
    workers: int,
) -> list[dict]:
    n = data.n_items
    _POOL_JOB.update(
        data=data,
        options=options,
        anticipative=anticipative,
        S=base_stock,
        K=reserved,
        keep_fill_rate=keep_fill_rate,
    )
    try:
        cells = n * data.n_scenarios * data.horizon
        forkable = "fork" in mp.get_all_start_methods()
        if workers <= 1 or n < 2 or cells < POOL_MIN_CELLS or not forkable:
            return _solve_items(list(range(n)))
        chunks = [list(range(k, n, workers * 4)) for k in range(min(n, workers * 4))]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            parts = list(pool.map(_solve_items, chunks))
        results: list[dict] = [{}] * n
        for chunk, part in zip(chunks, parts, strict=True):
            for i, r in zip(chunk, part, strict=True):
                results[i] = r
        return results
    finally:
        _POOL_JOB.clear()


def _one_priced_row(data: ProgramData, anticipative: bool, base_stock) -> bool:
    return (
        not anticipative
        and base_stock is None
        and not data.uses_cvar
        and (data.budget is None) != (data.storage is None)
    )


def _solve_quantile(data: ProgramData, base_stock: np.ndarray | None) -> dict:
    t0 = time.perf_counter()
    S = backorder_quantile_plan(data) if base_stock is None else np.asarray(base_stock, float)
    K = np.zeros(data.n_items)
    rec = simulate_plan(data, S, K)
    seconds = time.perf_counter() - t0
    ev = evaluate_solution(data, S, K, rec, check_plan_rows=False)
    result = LPResult(
        SolveStatus.OPTIMAL,
        "Optimal (closed form: weighted quantile)",
        objective=ev.objective,
        seconds=seconds,
    )
    n, N, H = data.demand.shape
    return {
        "result": result,
        "build": 0.0,
        "size": (0, n, 0),
        "S": S[:, None],
        "K": K[:, None],
        "rec": {k: getattr(rec, k) for k in KINDS},
    }


# --------------------------------------------------------------------- Pyomo EF ------
def _solve_pyomo_ef(
    data: ProgramData,
    options: SolverOptions,
    anticipative: bool,
    base_stock,
    reserved,
    keep_fill_rate: bool,
) -> dict:
    t0 = time.perf_counter()
    m = build_extensive_form(data, nonanticipative=not anticipative)
    if base_stock is not None:
        fix_plan(
            m,
            base_stock,
            reserved if reserved is not None else np.zeros(data.n_items),
            keep_fill_rate=keep_fill_rate,
        )
    elif not keep_fill_rate and hasattr(m, "fill_rate"):
        m.fill_rate.deactivate()
    pyomo_build = time.perf_counter() - t0
    res, compiled = solve_pyomo(m, options)
    out = {
        "result": res,
        "build": pyomo_build + compiled.compile_seconds,
        "size": (*compiled.lp.shape, compiled.lp.A.nnz),
    }
    if res.x is not None:
        n, N, H = data.demand.shape
        owners = [m] if not anticipative else [m.scenario[w] for w in range(N)]
        S = np.array([[o.S[i].value for o in owners] for i in range(n)], dtype=float)
        K = np.zeros_like(S)
        for j, o in enumerate(owners):
            for i in o.K:
                K[i, j] = o.K[i].value
        rec = {k: np.zeros((n, N, H)) for k in KINDS}
        for w in range(N):
            b = m.scenario[w]
            for k in KINDS:
                if hasattr(b, k):
                    for (i, t), v in getattr(b, k).extract_values().items():
                        rec[k][i, w, t] = 0.0 if v is None else v
        out.update(S=S, K=K, rec=rec)
    return out


# ------------------------------------------------------------------------ driver -----
def solve_program(
    data: ProgramData,
    *,
    engine: str = "auto",
    options: SolverOptions | None = None,
    workers: int = 2,
    anticipative: bool = False,
    base_stock: np.ndarray | None = None,
    reserved: np.ndarray | None = None,
    keep_fill_rate: bool = True,
    verify: bool = True,
) -> Solution:
    """Solve the program of ``data`` (or price a fixed plan) and verify the answer.

    Parameters
    ----------
    engine : {"auto", "ef", "decomposed", "matrix", "quantile", "price", "flow"}
    anticipative : bool
        Wait-and-see relaxation (one plan per scenario).
    base_stock, reserved : ndarray (n,), optional
        A fixed plan to price (its recourse is still optimised).
    keep_fill_rate : bool
        Whether fill-rate rows constrain the recourse.
    verify : bool
        Re-evaluate in numpy and raise on disagreement (always on in the CLI).

    Returns
    -------
    Solution
        Callers must read ``status`` before trusting ``objective``.
    """
    options = options or SolverOptions()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        engine = (
            "quantile"
            if quantile_eligible(data, anticipative)
            else "flow"
            if flow_eligible(
                data,
                anticipative=anticipative,
                base_stock=base_stock,
                keep_fill_rate=keep_fill_rate,
            )
            else "decomposed"
            if data.is_separable
            else "price"
            if (
                _one_priced_row(data, anticipative, base_stock)
                and data.demand.size >= PRICE_MIN_CELLS
            )
            else "matrix"
        )
    if engine == "quantile" and not quantile_eligible(data, anticipative):
        raise ValueError(
            "the quantile engine needs backorders without emergency supply, "
            "fill-rate targets or coupling"
        )
    if engine == "flow" and not flow_eligible(
        data, anticipative=anticipative, base_stock=base_stock, keep_fill_rate=keep_fill_rate
    ):
        raise ValueError(
            "the flow engine needs lost sales without fill-rate targets or "
            "CVaR (and no reserved capacity in a coupled or wait-and-see solve)"
        )
    if engine == "decomposed" and not data.is_separable:
        raise ValueError(
            "the decomposed engine needs an instance without budget, storage "
            "or CVaR coupling; use 'matrix' or 'ef'"
        )
    start = time.perf_counter()
    if engine == "price" and not _one_priced_row(data, anticipative, base_stock):
        raise ValueError(
            "the price engine needs exactly one budget or storage row as the only "
            "coupling (no CVaR, no fixed plan, no wait-and-see)"
        )
    if engine == "quantile":
        parts = [_solve_quantile(data, base_stock)]
    elif engine == "price":
        parts = [solve_priced_row(data, options, workers=workers)]
    elif engine == "flow":
        try:
            parts = [
                solve_flow(
                    data,
                    anticipative=anticipative,
                    base_stock=base_stock,
                    reserved=reserved,
                    keep_fill_rate=keep_fill_rate,
                    workers=workers,
                    time_limit=options.time_limit,
                )
            ]
        except FlowFailure as err:  # never seen in tests; the LP is the safe answer
            log.warning("flow engine gave up (%s); solving the LP instead", err)
            fallback = "decomposed" if data.is_separable else "matrix"
            return solve_program(
                data,
                engine=fallback,
                options=options,
                workers=workers,
                anticipative=anticipative,
                base_stock=base_stock,
                reserved=reserved,
                keep_fill_rate=keep_fill_rate,
                verify=verify,
            )
    elif engine == "decomposed":
        parts = _run_decomposed(
            data, options, anticipative, base_stock, reserved, keep_fill_rate, workers
        )
    elif engine == "matrix":
        parts = [_solve_matrix(data, options, anticipative, base_stock, reserved, keep_fill_rate)]
    else:
        parts = [_solve_pyomo_ef(data, options, anticipative, base_stock, reserved, keep_fill_rate)]
    wall = time.perf_counter() - start
    results: list[LPResult] = [p["result"] for p in parts]
    status = _worst([r.status for r in results])
    worst = next(r for r in results if r.status is status)
    size = max((p["size"] for p in parts), key=lambda s: s[1])
    sol = Solution(
        status=status,
        termination=worst.termination,
        objective=float(sum(r.objective for r in results)),
        base_stock=np.empty(0),
        reserved=np.empty(0),
        recourse=None,
        evaluation=None,
        engine=engine,
        build_seconds=float(sum(p["build"] for p in parts)),
        solve_seconds=float(sum(r.seconds for r in results)),
        wall_seconds=wall,
        size=size,
        gap=float(max(r.gap for r in results)) if status.has_plan else float("nan"),
        subproblems=len(parts),
    )
    if not status.has_plan:
        return sol

    def joined(arrays: list[np.ndarray]) -> np.ndarray:  # no copy of a single part
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)

    sol.base_stock = joined([p["S"] for p in parts])
    sol.reserved = joined([p["K"] for p in parts])
    sol.recourse = RecourseArrays(**{k: joined([p["rec"][k] for p in parts]) for k in KINDS})
    if not anticipative:
        sol.base_stock, sol.reserved = sol.base_stock[:, 0], sol.reserved[:, 0]
        sol.evaluation = evaluate_solution(
            data,
            sol.base_stock,
            sol.reserved,
            sol.recourse,
            check_fill_rate=keep_fill_rate,
            check_plan_rows=base_stock is None,
        )
        if verify:
            check_solution(sol.evaluation, sol.objective, what=f"{engine} solve")
    return sol


def require_plan(sol: Solution, data: ProgramData, options: SolverOptions) -> Solution:
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
    if sol.status is SolveStatus.INFEASIBLE:
        group = diagnose_infeasibility(data, options)
        raise InfeasiblePlanError(
            f"the stocking program is infeasible ({sol.termination}); conflicting "
            f"constraint group: {group}",
            conflict=group,
        )
    raise NoPlanError(f"no plan within the limits: {sol.status.value} ({sol.termination})")


def diagnose_infeasibility(data: ProgramData, options: SolverOptions) -> str:
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
        trial = solve_program(relaxed, engine=engine, options=options, verify=False)
        if trial.status is not SolveStatus.INFEASIBLE:
            return name
    return "joint (no single group explains it)"
