r"""Price (Lagrangian) decomposition of one plan-level row: the budget or the storage limit.

The row :math:`\sum_i a_i S_i \le R` (``a = unit_cost, R = B`` or ``a = volume, R = V``)
is the only tie between items. Pricing it at :math:`\lambda \ge 0` separates the
program into item problems :math:`\min f_i(x_i) + \lambda a_i S_i`; each is kept in its
own persistent HiGHS instance, so a new price is a cost change and a warm re-solve.

Bisection brackets the optimal price :math:`\lambda^*` between :math:`\lambda_{lo}`
(row violated) and :math:`\lambda_{hi}` (row satisfied). The solutions at both ends stay
optimal at :math:`\lambda^*` (an LP's optimal basis is optimal on a closed interval of
prices), so the convex combination that meets the row with equality is feasible for every
item and satisfies complementary slackness: an exactly feasible, optimal plan. Tests
prove it equal to the extensive form.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import time
from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
    hindsight_only,
)
from optimizer.engines.children import die_with_parent
from optimizer.engines.highs import SolverOptions, _configure, _highs_lp, _status_of
from optimizer.program.data import ProgramData
from optimizer.program.matrices import KINDS, Layout, build_lp
from optimizer.program.verifier import RecourseArrays

log = logging.getLogger(__name__)
_NONE = SolutionStatus.NO_SOLUTION


#: From this many item x scenario x period cells ``auto`` prices a lone budget/storage row
#: instead of solving the whole extensive form: measured at 50 items x 100 scenarios
#: (0.2 M cells) the single LP was still a little faster (42.9 s vs 46.2 s) but needs
#: ~1 GB; beyond a few million cells the extensive form no longer fits in memory.
PRICE_MIN_CELLS = 5_000_000


@dataclass
class _ItemSolve:
    termination: Termination
    status: SolutionStatus
    message: str
    objective: float  # f_i(x_i), without the price term
    x: np.ndarray | None


class PersistentItems:
    """One warm HiGHS instance per item of a separable program (the plan row left out)."""

    def __init__(self, data: ProgramData, options: SolverOptions):
        self.options = options
        self.layouts: list[Layout] = []
        self.base_cost: list[np.ndarray] = []
        self.highs: list[highspy.Highs] = []
        self.build_seconds = 0.0
        self.solve_seconds = 0.0
        self.size = (0, 0, 0)
        for i in range(data.n_items):
            t0 = time.perf_counter()
            lp, layout = build_lp(data.item(i))
            h = highspy.Highs()
            _configure(h, options)
            h.passModel(_highs_lp(lp))
            self.build_seconds += time.perf_counter() - t0
            self.layouts.append(layout)
            self.base_cost.append(lp.c.copy())
            self.highs.append(h)
            if lp.shape[1] > self.size[1]:
                self.size = (*lp.shape, lp.A.nnz)

    def solve(self, price_per_unit: np.ndarray) -> list[_ItemSolve]:
        """Solve every item with cost ``price_per_unit[i]`` added on :math:`S_i`."""
        out = []
        for i, h in enumerate(self.highs):
            col = int(self.layouts[i].S_col[0, 0])
            h.changeColCost(col, float(self.base_cost[i][col] + price_per_unit[i]))
            t0 = time.perf_counter()
            h.run()
            self.solve_seconds += time.perf_counter() - t0
            ms = h.getModelStatus()
            info = h.getInfo()
            termination, status = _status_of(ms, info.primal_solution_status == 2)
            x = np.asarray(h.getSolution().col_value) if status is not _NONE else None
            obj = float(self.base_cost[i] @ x) if x is not None else float("nan")
            out.append(_ItemSolve(termination, status, h.modelStatusToString(ms), obj, x))
        return out


class _LocalPool:
    """Persistent item LPs of some items, remembering the bracket ends' solutions."""

    def __init__(self, data: ProgramData, index: np.ndarray, options: SolverOptions):
        self.index = index
        self.items = PersistentItems(data.item(index) if len(index) else data, options)
        self.last: list[_ItemSolve] = []
        self.kept: dict[str, list[_ItemSolve]] = {}

    def solve(self, price_per_unit: np.ndarray) -> tuple[_ItemSolve | None, np.ndarray, np.ndarray]:
        self.last = self.items.solve(price_per_unit)
        bad = next((x for x in self.last if x.status is not SolutionStatus.OPTIMAL), None)
        if bad is not None:
            return dataclasses.replace(bad, x=None), np.empty(0), np.empty(0)
        objs = np.array([x.objective for x in self.last])
        S = np.array(
            [
                x.x[int(lay.S_col[0, 0])]
                for x, lay in zip(self.last, self.items.layouts, strict=True)
            ]
        )
        return None, objs, S

    def keep(self, end: str) -> None:
        self.kept[end] = self.last

    def combine(self, theta: float) -> dict:
        lo, hi = self.kept.get("lo", self.kept["hi"]), self.kept["hi"]
        out = {"S": [], "K": [], "rec": {k: [] for k in KINDS}, "objective": 0.0}
        for a, b, lay, c in zip(lo, hi, self.items.layouts, self.items.base_cost, strict=True):
            x = theta * a.x + (1.0 - theta) * b.x
            s_i, k_i = lay.first_stage(x)
            out["S"].append(s_i[0, 0])
            out["K"].append(k_i[0, 0])
            for k in KINDS:
                out["rec"][k].append(lay.recourse(x, k)[0])
            out["objective"] += float(c @ x)
        return out

    def stats(self) -> tuple[float, float, tuple[int, int, int]]:
        return self.items.build_seconds, self.items.solve_seconds, self.items.size


def _worker(
    conn, data: ProgramData, index: np.ndarray, options: SolverOptions, parent: int
) -> None:
    die_with_parent(parent)
    pool = _LocalPool(data, index, options)
    conn.send("ready")
    while True:
        name, args = conn.recv()
        if name == "stop":
            break
        conn.send(getattr(pool, name)(*args))


class _ForkedPool:
    """A :class:`_LocalPool` living in a forked worker process."""

    def __init__(self, data: ProgramData, index: np.ndarray, options: SolverOptions):
        ctx = mp.get_context("fork")
        self.index = index
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker, args=(child, data, index, options, os.getpid()), daemon=True
        )
        self.proc.start()
        self.conn.recv()

    def send(self, name: str, *args) -> None:
        self.conn.send((name, args))

    def receive(self):
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(("stop", ()))
        self.proc.join(timeout=10)


def _call_all(pools: list, name: str, *per_pool_args) -> list:
    """Call ``name`` on every pool (in parallel for forked pools)."""
    for k, pool in enumerate(pools):
        args = tuple(a[k] for a in per_pool_args)
        if isinstance(pool, _ForkedPool):
            pool.send(name, *args)
    results = []
    for k, pool in enumerate(pools):
        args = tuple(a[k] for a in per_pool_args)
        results.append(
            pool.receive() if isinstance(pool, _ForkedPool) else getattr(pool, name)(*args)
        )
    return results


def solve_priced_row(
    data: ProgramData,
    options: SolverOptions | None = None,
    *,
    workers: int = 2,
    rel_tol: float = 1e-12,
    max_iter: int = 200,
) -> EngineResult:
    r"""Solve a program whose only coupling is one budget or storage row.

    Parameters
    ----------
    workers : int
        Processes holding the item LPs (items are dealt round-robin).

    Returns
    -------
    EngineResult
        With ``details["price"]``, the optimal multiplier :math:`\lambda^*` (what one more
        unit of budget or storage is worth per horizon).
    """
    options = options or SolverOptions()
    if (data.budget is None) == (data.storage is None) or data.uses_cvar:
        raise ValueError("price decomposition handles exactly one budget or storage row")
    weight, limit = (
        (data.unit_cost, data.budget) if data.budget is not None else (data.volume, data.storage)
    )
    free = ProgramData(
        **{
            **{k: getattr(data, k) for k in data.__dataclass_fields__},
            "budget": None,
            "storage": None,
        }
    )
    n = data.n_items
    k = max(1, min(workers, n)) if "fork" in mp.get_all_start_methods() else 1
    groups = [np.arange(j, n, k) for j in range(k)]
    pools = (
        [_ForkedPool(free, g, options) for g in groups]
        if k > 1
        else [_LocalPool(free, groups[0], options)]
    )
    weights = [weight[g] for g in groups]
    start = time.perf_counter()

    def at(price: float) -> tuple[np.ndarray, float]:
        answers = _call_all(pools, "solve", [price * w for w in weights])
        for bad, _, _ in answers:
            if bad is not None:
                raise _Stop(bad)
        objs = np.concatenate([a[1] for a in answers])
        use = float(sum(w @ a[2] for w, a in zip(weights, answers, strict=True)))
        return objs, use

    def keep(end: str) -> None:
        _call_all(pools, "keep", [end] * len(pools))

    try:
        lo, hi = 0.0, 0.0
        lo_obj, lo_use = at(0.0)
        hi_obj, hi_use = lo_obj, lo_use
        keep("hi")
        if lo_use > limit:
            keep("lo")
            hi = 1.0
            hi_obj, hi_use = at(hi)
            while hi_use > limit:  # grow the bracket
                keep("lo")
                lo, lo_obj, lo_use = hi, hi_obj, hi_use
                hi *= 4.0
                if hi > 1e15:
                    raise _Stop(
                        _ItemSolve(
                            Termination.INFEASIBLE,
                            _NONE,
                            "Infeasible (row cannot be met)",
                            float("nan"),
                            None,
                        )
                    )
                hi_obj, hi_use = at(hi)
            keep("hi")
            for _ in range(max_iter):
                if hi - lo <= rel_tol * max(1.0, hi) or certified(
                    lo_obj, lo_use, hi_obj, hi_use, hi, limit, rel_tol
                ):
                    break
                mid = 0.5 * (lo + hi)
                obj, use = at(mid)
                end = "lo" if use > limit else "hi"
                keep(end)
                if end == "lo":
                    lo, lo_obj, lo_use = mid, obj, use
                else:
                    hi, hi_obj, hi_use = mid, obj, use
        theta = combine_weight(lo_use, hi_use, limit)
        parts = _call_all(pools, "combine", [theta] * len(pools))
        stats = _call_all(pools, "stats")
    except _Stop as stop:
        stats = _call_all(pools, "stats")
        return EngineResult(
            status=_NONE,  # a plan is only returned once every item LP is optimal
            termination=stop.item.termination,
            message=stop.item.message,
            build_seconds=sum(s[0] for s in stats),
            solve_seconds=sum(s[1] for s in stats),
            size=max((s[2] for s in stats), key=lambda z: z[1]),
        )
    finally:
        for pool in pools:
            if isinstance(pool, _ForkedPool):
                pool.close()

    S = np.empty(n)
    K = np.zeros(n)
    rec = {kind: np.zeros(data.demand.shape) for kind in KINDS}
    for g, part in zip(groups, parts, strict=True):
        S[g], K[g] = part["S"], part["K"]
        for kind in KINDS:
            rec[kind][g] = np.array(part["rec"][kind])
    log.debug("price decomposition: lambda* = %.6g in %.2fs", hi, time.perf_counter() - start)
    return EngineResult(
        status=SolutionStatus.OPTIMAL,
        termination=Termination.CONVERGED,
        message="Optimal (price decomposition)",
        objective=float(sum(p["objective"] for p in parts)),
        base_stock=S,
        reserved=K,
        recourse=RecourseArrays(**rec),
        build_seconds=sum(s[0] for s in stats),
        solve_seconds=sum(s[1] for s in stats),
        size=max((s[2] for s in stats), key=lambda z: z[1]),
        gap=0.0,
        details={"price": hi},
    )


def combine_weight(lo_use: float, hi_use: float, limit: float) -> float:
    """Weight on the low-price end so that the combined row use equals the limit."""
    if lo_use <= hi_use:
        return 0.0
    return float(np.clip((limit - hi_use) / (lo_use - hi_use), 0.0, 1.0))


def certified(
    lo_obj: np.ndarray,
    lo_use: float,
    hi_obj: np.ndarray,
    hi_use: float,
    price: float,
    limit: float,
    tol: float,
) -> bool:
    r"""Duality-gap test: the combined plan's cost against the Lagrangian bound at ``price``.

    :math:`L(\lambda) = \sum_i \min (f_i + \lambda a_i S_i) - \lambda R` bounds the
    optimum from below; the combination of both ends is feasible, so it bounds it from
    above. Equal to ``tol``: the combination is optimal.
    """
    theta = combine_weight(lo_use, hi_use, limit)
    upper = float(theta * lo_obj.sum() + (1 - theta) * hi_obj.sum())
    lower = float(hi_obj.sum()) + price * (hi_use - limit)
    return upper - lower <= tol * max(1.0, abs(upper)) * 1e3


class _Stop(Exception):
    def __init__(self, item: _ItemSolve):
        self.item = item


def price_refusal(data: ProgramData, request: SolveRequest) -> str | None:
    """Why the price decomposition does not apply (None: exactly one plan row couples)."""
    if request.anticipative:
        return "it does not solve the wait-and-see relaxation"
    if request.fixed_plan:
        return "it does not price a fixed plan (its plan rows are dropped)"
    if data.uses_cvar:
        return "it needs an objective without CVaR"
    if (data.budget is None) == (data.storage is None):
        return "it needs exactly one budget or storage row as the only coupling"
    return None


class PriceEngine:
    """One budget or storage row as the only coupling: Lagrangian price decomposition."""

    name = "price"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Accept one budget or storage row as the only coupling (with ``auto``: large only)."""
        if reason := hindsight_only(request):
            return reason
        reason = price_refusal(data, request)
        if reason is None and auto and data.demand.size < PRICE_MIN_CELLS:
            return f"below {PRICE_MIN_CELLS:,} item-scenario-period cells the single LP is faster"
        return reason

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        r"""Find the row's price :math:`\lambda^*` by item LPs, then recover the exact plan."""
        return solve_priced_row(data, SolverOptions.of(config), workers=config.workers)
