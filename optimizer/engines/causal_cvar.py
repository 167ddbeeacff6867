r"""The CVaR blend of the causal program at scale: plans priced item by item under tail weights.

The objective :math:`\Phi(x) = (1-\lambda) E[C(x)] + \lambda\,CVaR_\alpha[C(x)]` couples the
items through the scenario totals :math:`C_w(x) = \sum_i C_{i,w}(x_i)`, but by the dual form
of CVaR it is :math:`\max_q \sum_w q_w C_w(x)` over the weights
:math:`q = (1-\lambda)p + \pi` with :math:`\pi \ge 0`, :math:`\sum_w \pi_w = \lambda`,
:math:`\pi_w \le \lambda p_w/(1-\alpha)`. For fixed weights the program separates into the
item searches of :func:`optimizer.engines.causal_search.search_items` (the same program
with ``probability = q``). Column generation (a Dantzig-Wolfe decomposition, the dual
view of an L-shaped method) alternates the two:

1. the restricted master of :mod:`models.cvar_master` (Pyomo, solved by HiGHS) mixes the
   plans found so far; its value is an upper bound :math:`\bar\Phi \ge \Phi(\bar x)` of the
   mixed plan :math:`\bar x = \sum_j \mu_j x^j` (each :math:`C_{i,w}` convex in
   :math:`x_i`: Janakiraman & Roundy; the blend monotone and convex in :math:`C`), and
   its tail duals :math:`\pi` give the next weights :math:`q`;
2. pricing: every item's plan under :math:`q`. Its value
   :math:`g(q) = \min_x \sum_w q_w C_w(x)` is a lower bound of :math:`\min \Phi` for every
   admissible :math:`q` (weak duality), and the plan joins the master.

The loop stops when :math:`(\bar\Phi - \max g)/\bar\Phi` is within the tolerance, or at
the iteration or time limit, and says which. The pricing steps use smoothed duals
(Wentges: :math:`q = \beta q^\ast + (1-\beta) q_{\text{master}}` around the weights of the
best bound :math:`q^\ast`), which damps the oscillation of plain column generation.

Whole units: the mixed plan is rounded to the nearest whole units and improved by a local
search that moves one item by one unit of :math:`S` (or :math:`K`) at a time while
:math:`\Phi` falls, :math:`\Phi` evaluated exactly from the per-item scenario costs. The
result is certified by the gap to the bound; a gap that stays is reported as such
(``feasible_with_gap``), not hidden. Fill-rate targets are expected-value constraints
under :math:`p`: their floors are worked out once under :math:`p` and held as lower
bounds while pricing under :math:`q`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from models.cvar_master import build_cvar_master
from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
)
from optimizer.engines.causal import ROW_GAP_TOLERANCE, causal_only, scan_points_for
from optimizer.engines.causal_search import fill_rate_floor, search_items
from optimizer.engines.highs import compile_pyomo, solve_lp
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData
from optimizer.program.verifier import cvar

log = logging.getLogger(__name__)

#: Relative gap between the master's value and the best bound that ends the loop.
GAP_TOLERANCE = 1e-6
#: Column-generation iterations at most.
MAX_ITERATIONS = 60
#: Wentges smoothing factor :math:`\beta` of the pricing weights.
SMOOTHING = 0.5
#: Relative improvement of :math:`\Phi` a whole-unit move must bring to be taken.
MOVE_TOL = 1e-12


@dataclass
class CVaRPlan:
    r"""Outcome of :func:`solve_cvar`.

    Attributes
    ----------
    base_stock, reserved : ndarray (n,)
        The plan :math:`(S, K)`.
    objective : float
        :math:`\Phi` of the plan (exact, on the program's scenarios).
    expected_cost, tail_cost : float
        :math:`E[C]` and :math:`CVaR_\alpha[C]` of the plan.
    lower_bound : float
        The best :math:`g(q)` found (a bound on :math:`\min \Phi`; ``-inf`` when no
        pricing step was certified).
    gap : float
        :math:`\max(0, \Phi - g)/\max(1, |\Phi|)`.
    iterations : int
        Pricing steps run.
    stopped_by : str
        ``"gap"``, ``"iterations"``, ``"time"`` or ``"no new column"``.
    history : list of tuple
        ``(master value, bound)`` per iteration.
    """

    base_stock: np.ndarray
    reserved: np.ndarray
    objective: float
    expected_cost: float
    tail_cost: float
    lower_bound: float
    gap: float
    iterations: int
    stopped_by: str
    history: list = field(default_factory=list)


def blend(totals: np.ndarray, probability: np.ndarray, alpha: float, weight: float) -> float:
    r""":math:`(1-\lambda) \sum_w p_w C_w + \lambda CVaR_\alpha[C]` of scenario totals ``C``."""
    return (1.0 - weight) * float(probability @ totals) + weight * cvar(totals, probability, alpha)


def blend_rows(totals: np.ndarray, probability: np.ndarray, alpha: float, weight: float):
    r"""Blend each row of ``totals`` (shape (m, N)) at once; shape (m,)."""
    order = np.argsort(-totals, axis=1)
    v = np.take_along_axis(totals, order, axis=1)
    p = probability[order]
    tail = 1.0 - alpha
    before = np.cumsum(p, axis=1) - p
    take = np.clip(tail - before, 0.0, p)
    cv = (take * v).sum(axis=1) / tail if tail > 0 else v[:, 0]
    return (1.0 - weight) * (totals @ probability) + weight * cv


def _master(columns: np.ndarray, p: np.ndarray, alpha: float, weight: float):
    r"""Solve the restricted master; return its value, :math:`\mu` and the weights :math:`q`.

    Raises
    ------
    RuntimeError
        When HiGHS does not end the LP optimal (its status is told, never trusted).
    """
    model = build_cvar_master(columns, p, alpha, weight)
    compiled = compile_pyomo(model)
    res = solve_lp(compiled.lp)
    if res.x is None or res.row_dual is None or res.status is not SolutionStatus.OPTIMAL:
        raise RuntimeError(f"the CVaR master LP ended {res.status.value}: {res.message}")
    position = {id(v): j for j, v in enumerate(compiled.columns)}
    mu = np.clip([res.x[position[id(model.mu[j])]] for j in model.J], 0.0, None)
    mu /= mu.sum()
    row_of = {id(con): r for r, con in enumerate(compiled.rows)}
    pi = np.array([res.row_dual[row_of[id(model.tail[w])]] for w in model.W])
    # duals are >= 0 for these >= rows of a minimisation; clip the round-off and restore
    # the sum lambda that the column of eta imposes
    cap = weight * p / (1.0 - alpha)
    pi = np.clip(pi, 0.0, cap)
    if pi.sum() > 0:
        pi *= weight / pi.sum()
    return float(res.objective), mu, (1.0 - weight) * p + pi


def _item_costs(data: ProgramData, S: np.ndarray, K: np.ndarray, items=None) -> np.ndarray:
    """:math:`C_{i,w}` of each row (every item once by default), shape (nb, N)."""
    return play_plan(data, S, K, items=items, directions=VALUES_ONLY).cost


def _lower_S(data: ProgramData, floors: np.ndarray | None, integer: bool) -> np.ndarray:
    low = data.min_base_stock.astype(float)
    if floors is not None:
        low = np.maximum(low, floors)
    return np.ceil(low - 1e-9) if integer else low


def _top_K(data: ProgramData) -> np.ndarray:
    cap = data.capacity.astype(float)
    top = np.where(np.isfinite(cap), cap, data.demand.max(axis=(1, 2)))
    return np.where(data.reserves, np.floor(top + 1e-9), 0.0)


def polish(
    data: ProgramData,
    S: np.ndarray,
    K: np.ndarray,
    lower: np.ndarray,
    *,
    max_rounds: int = 200,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Whole-unit local search on :math:`\Phi`: one unit of :math:`S` or :math:`K` at a time.

    Each round plays every item one unit up and down in :math:`S` (and in :math:`K` for
    reserving items), prices each move exactly through the scenario totals
    :math:`C_w - C_{i,w}(x_i) + C_{i,w}(x_i')`, and takes the improving moves of as many
    items as still improve :math:`\Phi` together (halving the set until they do; the single
    best move always does). It stops when no move improves :math:`\Phi`.

    Returns
    -------
    tuple
        ``(S, K, Phi)``.
    """
    p, alpha, lam = data.probability, data.cvar_alpha, data.cvar_weight
    S, K = S.astype(float).copy(), np.where(data.reserves, K, 0.0).astype(float)
    top = _top_K(data)
    c = _item_costs(data, S, K)
    C = c.sum(axis=0)
    phi = blend(C, p, alpha, lam)
    n = data.n_items
    for _ in range(max_rounds):
        item = np.concatenate([np.arange(n), np.arange(n)])
        dS = np.concatenate([np.ones(n), -np.ones(n)])
        dK = np.zeros(2 * n)
        res = np.nonzero(data.reserves)[0]
        if res.size:
            item = np.concatenate([item, res, res])
            dS = np.concatenate([dS, np.zeros(2 * res.size)])
            dK = np.concatenate([dK, np.ones(res.size), -np.ones(res.size)])
        newS, newK = S[item] + dS, K[item] + dK
        ok = (newS >= lower[item] - 1e-9) & (newK >= -1e-9) & (newK <= top[item] + 1e-9)
        item, newS, newK = item[ok], newS[ok], newK[ok]
        if item.size == 0:
            break
        moved = _item_costs(data, newS, newK, items=item)
        delta = moved - c[item]
        phis = blend_rows(C[None, :] + delta, p, alpha, lam)
        gain = phi - phis
        best = {}
        for r in np.argsort(-gain):
            if gain[r] <= MOVE_TOL * max(1.0, abs(phi)):
                break
            best.setdefault(int(item[r]), r)
        if not best:
            break
        chosen = np.array(list(best.values()))
        while True:
            trial = C + delta[chosen].sum(axis=0)
            value = blend(trial, p, alpha, lam)
            if value < phi - MOVE_TOL * max(1.0, abs(phi)) or chosen.size == 1:
                break
            chosen = chosen[: max(1, chosen.size // 2)]
        if value >= phi - MOVE_TOL * max(1.0, abs(phi)):
            break
        rows = item[chosen]
        S[rows], K[rows] = newS[chosen], newK[chosen]
        c[rows] = moved[chosen]
        C = c.sum(axis=0)
        phi = blend(C, p, alpha, lam)
    return S, K, phi


def solve_cvar(
    data: ProgramData,
    *,
    integer: bool = True,
    fill_rates: bool = True,
    tol: float = GAP_TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
    time_limit: float | None = None,
    scan_points: int = 48,
) -> CVaRPlan:
    r"""Minimise :math:`\Phi` over causal plans by column generation (see the module).

    Parameters
    ----------
    data : ProgramData
        A program with :math:`\lambda > 0`, no budget or storage row.
    integer : bool
        Whole units (default) or continuous levels.
    fill_rates : bool
        Hold each target's floor (under :math:`p`) as a lower bound of :math:`S`.
    tol : float
        Relative gap between the master and the best bound that ends the loop.
    max_iterations : int
    time_limit : float, optional
        Seconds; the loop stops (with its best plan and gap) once they are spent.
    scan_points : int
        Grid of the item searches' convexity safeguard.

    Raises
    ------
    ValueError
        When no level meets an item's fill-rate target.
    """
    t0 = time.perf_counter()
    p = np.asarray(data.probability, dtype=float)
    alpha, lam = float(data.cvar_alpha), float(data.cvar_weight)
    n = data.n_items
    floors = None
    if fill_rates and not np.isnan(data.fill_rate).all():
        floors = fill_rate_floor(data, integer=integer)
        if not np.isfinite(floors).all():
            bad = np.nonzero(~np.isfinite(floors))[0]
            raise ValueError(f"no base-stock level meets the fill-rate target of items {bad}")
    base = replace(data, fill_rate=np.full(n, np.nan))

    def price(q: np.ndarray, lo=None, hi=None, scan="all"):
        return search_items(
            replace(base, probability=q), integer=integer, fill_rates=False, lower=floors,
            hint_lo=lo, hint_hi=hi, scan=scan, scan_points=scan_points,
        )  # fmt: skip

    plans = [price(p)]
    Ss, Ks = [plans[0].base_stock], [plans[0].reserved]
    totals = [_item_costs(base, Ss[0], Ks[0]).sum(axis=0)]
    best_lb = float(plans[0].cost.sum()) if plans[0].certified.all() else -np.inf
    q_center = p if np.isfinite(best_lb) else None
    history: list[tuple[float, float]] = []
    stopped = "iterations"
    iterations = 1
    value, mu = blend(totals[0], p, alpha, lam), np.ones(1)
    for _ in range(max_iterations):
        value, mu, q_master = _master(np.array(totals), p, alpha, lam)
        history.append((value, best_lb))
        log.info("CVaR column generation: master %.6g, bound %.6g", value, best_lb)
        if np.isfinite(best_lb) and value - best_lb <= tol * max(1.0, abs(value)):
            stopped = "gap"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped = "time"
            break
        lo, hi = np.min(Ss, axis=0), np.max(Ss, axis=0)
        fresh = None
        for q in (
            [SMOOTHING * q_center + (1.0 - SMOOTHING) * q_master, q_master]
            if q_center is not None
            else [q_master]
        ):
            cand = price(q, lo, hi)
            iterations += 1
            if cand.certified.all():
                g = float(cand.cost.sum())
                if g > best_lb:
                    best_lb, q_center = g, q
            if not any(
                np.array_equal(cand.base_stock, s) and np.array_equal(cand.reserved, k)
                for s, k in zip(Ss, Ks, strict=True)
            ):
                fresh = cand
                break
        if fresh is None:
            stopped = "no new column"
            break
        Ss.append(fresh.base_stock)
        Ks.append(fresh.reserved)
        totals.append(_item_costs(base, fresh.base_stock, fresh.reserved).sum(axis=0))
    else:
        value, mu, _ = _master(np.array(totals), p, alpha, lam)
    S = mu @ np.array(Ss)
    K = mu @ np.array(Ks)
    lower = _lower_S(base, floors, integer)
    if integer:
        starts = [(np.maximum(np.round(S), lower), np.round(K))]
        j = int(np.argmin([blend(t, p, alpha, lam) for t in totals]))
        starts.append((Ss[j], Ks[j]))
        S, K, phi = min((polish(base, s, k, lower) for s, k in starts), key=lambda r: r[2])
    else:
        phi = blend(_item_costs(base, S, K).sum(axis=0), p, alpha, lam)
    C = _item_costs(base, S, K).sum(axis=0)
    gap = max(0.0, phi - best_lb) / max(1.0, abs(phi)) if np.isfinite(best_lb) else np.inf
    return CVaRPlan(
        base_stock=S,
        reserved=np.where(data.reserves, K, 0.0),
        objective=phi,
        expected_cost=float(p @ C),
        tail_cost=cvar(C, p, alpha),
        lower_bound=best_lb,
        gap=gap,
        iterations=iterations,
        stopped_by=stopped,
        history=history,
    )


class CausalCVaREngine:
    """``causal-cvar``: the CVaR blend of the causal program by column generation."""

    name = "causal-cvar"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Causal recourse with a CVaR weight, whole units, no plan row."""
        if reason := causal_only(request):
            return reason
        if request.fixed_plan:
            return "a fixed plan is played by 'causal'"
        if request.anticipative:
            return "it does not solve the wait-and-see relaxation (use 'causal-milp')"
        if not data.uses_cvar:
            return "it solves the CVaR blend, and this program has none (use 'causal')"
        if data.budget is not None or data.storage is not None:
            return (
                "it does not price a budget or storage row under the CVaR blend (use 'causal-milp')"
            )
        if not request.integer:
            return (
                "continuous levels under the CVaR blend: the item costs are not convex "
                "enough for its bound to be trusted (use whole units or 'causal-milp')"
            )
        if request.keep_fill_rate and (data.reserves & ~np.isnan(data.fill_rate)).any():
            return "a fill-rate target on an item that reserves capacity (use 'causal-milp')"
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Run :func:`solve_cvar`; the gap to its bound decides optimal or feasible."""
        t0 = time.perf_counter()
        try:
            plan = solve_cvar(
                data,
                integer=request.integer,
                fill_rates=request.keep_fill_rate,
                time_limit=config.time_limit,
                scan_points=scan_points_for(data),
            )
        except ValueError as exc:
            return EngineResult(
                status=SolutionStatus.NO_SOLUTION,
                termination=Termination.INFEASIBLE,
                message=f"infeasible: {exc}",
                solve_seconds=time.perf_counter() - t0,
            )
        certified = plan.gap <= ROW_GAP_TOLERANCE
        certificate = (
            f"within {plan.gap:.3g} of the column-generation bound {plan.lower_bound:.6g}"
            f" ({plan.iterations} pricing steps, stopped by {plan.stopped_by})"
        )
        return EngineResult(
            status=SolutionStatus.OPTIMAL if certified else SolutionStatus.FEASIBLE,
            termination=Termination.TIME_LIMIT
            if plan.stopped_by == "time"
            else Termination.CONVERGED,
            message="CVaR column generation converged" if certified else certificate,
            objective=plan.objective,
            base_stock=plan.base_stock,
            reserved=plan.reserved,
            recourse=None,
            solve_seconds=time.perf_counter() - t0,
            size=(data.n_scenarios + 1, data.n_items * (1 + int(data.reserves.any())), 0),
            gap=0.0 if certified else plan.gap,
            objective_bound=plan.lower_bound,
            iterations=plan.iterations,
            subproblems=data.n_items,
            details={
                "certificate": certificate,
                "lower_bound": plan.lower_bound,
                "gap_to_bound": plan.gap,
                "stopped_by": plan.stopped_by,
                "expected_cost": plan.expected_cost,
                "cvar": plan.tail_cost,
                "pricing_steps": plan.iterations,
            },
        )
