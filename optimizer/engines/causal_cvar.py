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

from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
)
from optimizer.engines.causal import ROW_GAP_TOLERANCE, causal_only, scan_points_for
from optimizer.engines.causal_cvar_master import MasterLP
from optimizer.engines.causal_search import fill_rate_floor, reserve_top, search_items
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData
from optimizer.program.verifier import blend, cvar

log = logging.getLogger(__name__)

#: Relative gap between the master's value and the best bound that ends the loop.
GAP_TOLERANCE = 1e-6
#: Column-generation iterations at most.
MAX_ITERATIONS = 60
#: Pricing steps at most in a phase coarser than one unit (its prices bound nothing).
COARSE_ITERATIONS = 20
#: Wentges smoothing factor :math:`\beta` of the pricing weights.
SMOOTHING = 0.5
#: Relative tolerance of value comparisons in the pricing tables.
VALUE_TOL = 1e-10
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
    local_bound : float or None
        A pricing bound that came out above the plan's blend (so not a bound: the item
        costs under the tail weights were not convex where the windows looked); then
        ``lower_bound`` is ``-inf`` and ``gap`` is ``nan``.
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
    local_bound: float | None = None


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


#: Levels of :math:`S` per window (centre, four steps below, four above).
S_WINDOW = 9
#: Levels of :math:`K` per window of a reserving item.
K_WINDOW = 5
#: A phase's step is the previous one divided by this (rounded up), down to one unit.
REFINE = 4
#: Scenario-cost cells played per kernel call when a table is filled (memory bound).
CHUNK_CELLS = 4_000_000


def _item_costs(data: ProgramData, S: np.ndarray, K: np.ndarray, items=None) -> np.ndarray:
    """:math:`C_{i,w}` of each row (every item once by default), shape (nb, N)."""
    idx = np.arange(data.n_items) if items is None else np.asarray(items, dtype=np.int64)
    S = np.broadcast_to(np.asarray(S, dtype=float), idx.shape)
    K = np.broadcast_to(np.asarray(K, dtype=float), idx.shape)
    out = np.empty((idx.size, data.n_scenarios))
    rows = max(1, CHUNK_CELLS // max(1, data.n_scenarios))
    for a in range(0, idx.size, rows):
        b = min(idx.size, a + rows)
        out[a:b] = play_plan(data, S[a:b], K[a:b], items=idx[a:b], directions=VALUES_ONLY).cost
    return out


def _lower_S(data: ProgramData, floors: np.ndarray | None) -> np.ndarray:
    """Whole-unit lower bound of :math:`S` (the pipeline, or the fill-rate floor)."""
    low = data.min_base_stock.astype(float)
    if floors is not None:
        low = np.maximum(low, floors)
    return np.ceil(low - 1e-9)


def _top_K(data: ProgramData) -> np.ndarray:
    """Largest useful whole-unit :math:`K` per item (0 for items that do not reserve)."""
    return np.where(data.reserves, reserve_top(data, np.arange(data.n_items), True), 0.0)


def _first_steps(data: ProgramData) -> np.ndarray:
    r"""First step of each item's window: a quarter of :math:`\sigma_{L+1}`, whole units.

    :math:`\sigma_{L+1} = \sigma_d \sqrt{L+1}` with :math:`\sigma_d` the spread of the
    item's period demands over the scenarios, so the first window spans about
    :math:`\pm\sigma_{L+1}` around the risk-neutral plan.
    """
    sd = np.array([data.demand[i].std() for i in range(data.n_items)])
    return np.maximum(1.0, np.floor(sd * np.sqrt(data.lead + 1.0) / 4.0))


@dataclass
class LevelTable:
    r"""Scenario costs of a window of plans per item: the pricing problems' whole data.

    Attributes
    ----------
    items : ndarray of int (m,)
    S, K : ndarray (m, W)
        The plans of each row's window.
    cost : ndarray (m, W, N)
        :math:`C_{i,w}(S, K)` of each plan of the window.
    """

    items: np.ndarray
    S: np.ndarray
    K: np.ndarray
    cost: np.ndarray


def _windows(center, step, low, high, width):
    """``width`` levels ``center + step (k - width // 2)`` slid inside ``[low, high]``."""
    k = np.arange(width) - width // 2
    first = np.clip(center - step * (width // 2), low, np.maximum(low, high - step * (width - 1)))
    levels = first[:, None] + step[:, None] * (k + width // 2)[None, :]
    return np.minimum(levels, np.maximum(high, low)[:, None])


def _fill(data: ProgramData, items, S, K) -> LevelTable:
    m, W = S.shape
    cost = _item_costs(data, S.ravel(), K.ravel(), items=np.repeat(items, W))
    return LevelTable(items, S, K, cost.reshape(m, W, data.n_scenarios))


class Tables:
    r"""The window tables of every item, slid until each item's priced optimum is inside.

    Plain items have a window of :data:`S_WINDOW` levels of :math:`S`; reserving items the
    product of :data:`S_WINDOW` levels of :math:`S` and :data:`K_WINDOW` of :math:`K`.
    Pricing under weights :math:`q` is then :math:`\min` over each window of
    ``cost @ q``; a minimum on a window's edge (not pinned by a bound) slides that
    window there and is priced again, so every priced plan is the best of the
    :math:`\pm 4` steps around it.
    """

    def __init__(
        self, data, lower, top, centre_S, centre_K, step_S, step_K, grid_points: int = 16,
        grids: list[LevelTable] | None = None,
    ) -> None:  # fmt: skip
        self.data, self.lower, self.top = data, lower, top
        self.step_S, self.step_K = step_S, step_K
        res = data.reserves
        self.plain = np.nonzero(~res)[0]
        self.reserving = np.nonzero(res)[0]
        self.high = np.full(data.n_items, np.inf)
        self.parts: list[LevelTable] = []
        self.grids: list[LevelTable] = grids or []
        self.slides = 0
        self.where = {  # item -> (table, row): where costs_of looks an item up
            int(i): (part, r)
            for part, rows in enumerate((self.plain, self.reserving))
            for r, i in enumerate(rows)
        }
        for rows in (self.plain, self.reserving):
            self.parts.append(self._table(rows, centre_S[rows], centre_K[rows]))
            if grids is None:  # the wide grid is filled once, around the risk-neutral plan
                self.grids.append(self._grid(rows, centre_S[rows], centre_K[rows], grid_points))

    def _grid(self, rows, cS, cK, points) -> LevelTable:
        r"""Fill the safeguard's wide grid of ``points`` levels per row.

        From the lower bound to :math:`\max(2 S, \text{lower} + (L+2)\mu)` (as the item
        search scans), at :math:`K \in \{0, K, \bar K\}` for reserving items.
        """
        lo = self.lower[rows]
        hi = np.maximum(2.0 * cS, lo + (self.data.lead[rows] + 2) * self.data.mean[rows])
        step = np.maximum(1.0, np.ceil((hi - lo) / (points - 1)))
        S = lo[:, None] + step[:, None] * np.arange(points)[None, :]
        if rows.size and self.data.reserves[rows[0]]:
            K = np.stack([np.zeros_like(cK), cK, self.top[rows]], axis=1)
            S = np.repeat(S, 3, axis=1)
            K = np.tile(K, (1, points))
        else:
            K = np.zeros_like(S)
        return _fill(self.data, rows, S, K)

    def _table(self, rows, cS, cK) -> LevelTable:
        S = _windows(cS, self.step_S[rows], self.lower[rows], self.high[rows], S_WINDOW)
        if rows.size and self.data.reserves[rows[0]]:
            K = _windows(cK, self.step_K[rows], 0.0 * cK, self.top[rows], K_WINDOW)
            S = np.repeat(S, K_WINDOW, axis=1)
            K = np.tile(K, (1, S_WINDOW))
        else:
            K = np.zeros_like(S)
        return _fill(self.data, rows, S, K)

    def price(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        r"""Each item's best window plan under ``q``: ``(S, K, g, totals)``.

        ``g`` is :math:`\sum_i \min_{\text{window}} \sum_w q_w C_{i,w}` and ``totals`` the
        scenario costs :math:`C_w` of the priced plan.
        """
        n = self.data.n_items
        S, K = np.empty(n), np.zeros(n)
        g, totals = 0.0, np.zeros(self.data.n_scenarios)
        for part_no, rows in enumerate((self.plain, self.reserving)):
            if rows.size == 0:
                continue
            wide = self.grids[part_no]
            F_grid = wide.cost @ q
            j = np.argmin(F_grid, axis=1)
            r = np.arange(rows.size)
            g_best, gS, gK = F_grid[r, j], wide.S[r, j], wide.K[r, j]
            for _ in range(64):
                t = self.parts[part_no]
                F = t.cost @ q  # (m, W)
                best = np.argmin(F, axis=1)
                s, k = t.S[r, best], t.K[r, best]
                edge = self._on_edge(t, best, s, k, rows)
                # the wide grid beats the window: the window moves to the grid's best
                far = F[r, best] > g_best + VALUE_TOL * (1.0 + np.abs(g_best))
                s, k = np.where(far, gS, s), np.where(far, gK, k)
                edge |= far
                if not edge.any():
                    break
                self.slides += int(edge.sum())
                moved = self._table(rows[edge], s[edge], k[edge])
                t.S[edge], t.K[edge], t.cost[edge] = moved.S, moved.K, moved.cost
            S[rows], K[rows] = s, k
            g += float(F[r, best].sum())
            totals += t.cost[r, best].sum(axis=0)
        return S, K, g, totals

    def _on_edge(self, t: LevelTable, best, s, k, rows) -> np.ndarray:
        """Rows whose optimum lies on an edge of the window that no bound pins."""
        lo_s, hi_s = t.S.min(axis=1), t.S.max(axis=1)
        out = ((s <= lo_s) & (s > self.lower[rows])) | (s >= hi_s)
        if rows.size and self.data.reserves[rows[0]]:
            lo_k, hi_k = t.K.min(axis=1), t.K.max(axis=1)
            out |= ((k <= lo_k) & (k > 0)) | ((k >= hi_k) & (k < self.top[rows]))
        return out

    def costs_of(self, items: np.ndarray, S: np.ndarray, K: np.ndarray) -> np.ndarray:
        """:math:`C_{i,w}` of plans ``(S, K)`` of ``items``: from the tables, else played."""
        out = np.empty((items.size, self.data.n_scenarios))
        missing = np.ones(items.size, dtype=bool)
        for j, (i, s, k) in enumerate(zip(items, S, K, strict=True)):
            part_no, r = self.where[int(i)]
            t = self.parts[part_no]
            hit = np.nonzero((t.S[r] == s) & (t.K[r] == k))[0]
            if hit.size:
                out[j] = t.cost[r, hit[0]]
                missing[j] = False
        if missing.any():
            out[missing] = _item_costs(self.data, S[missing], K[missing], items=items[missing])
        return out


def polish(
    data: ProgramData,
    S: np.ndarray,
    K: np.ndarray,
    lower: np.ndarray,
    *,
    costs_of=None,
    max_rounds: int = 200,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Whole-unit local search on :math:`\Phi`: one unit of :math:`S` or :math:`K` at a time.

    Each round prices every item one unit up and down in :math:`S` (and in :math:`K` for
    reserving items) exactly through the scenario totals
    :math:`C_w - C_{i,w}(x_i) + C_{i,w}(x_i')`, and takes the improving moves of as many
    items as still improve :math:`\Phi` together (halving the set until they do; the single
    best move always does). It stops when no move improves :math:`\Phi`.

    Parameters
    ----------
    costs_of : callable, optional
        ``costs_of(items, S, K) -> (m, N)`` scenario costs (default: play them).

    Returns
    -------
    tuple
        ``(S, K, Phi)``.
    """
    p, alpha, lam = data.probability, data.cvar_alpha, data.cvar_weight
    costs_of = costs_of or (lambda i, s, k: _item_costs(data, s, k, items=i))
    S, K = S.astype(float).copy(), np.where(data.reserves, K, 0.0).astype(float)
    top = _top_K(data)
    n = data.n_items
    c = costs_of(np.arange(n), S, K)
    C = c.sum(axis=0)
    phi = blend(C, p, alpha, lam)
    res = np.nonzero(data.reserves)[0]
    item = np.concatenate([np.arange(n), np.arange(n), res, res])
    dS = np.concatenate([np.ones(n), -np.ones(n), np.zeros(2 * res.size)])
    dK = np.concatenate([np.zeros(2 * n), np.ones(res.size), -np.ones(res.size)])
    for _ in range(max_rounds):
        newS, newK = S[item] + dS, K[item] + dK
        ok = (newS >= lower[item] - 1e-9) & (newK >= -1e-9) & (newK <= top[item] + 1e-9)
        it, nS, nK = item[ok], newS[ok], newK[ok]
        if it.size == 0:
            break
        moved = costs_of(it, nS, nK)
        delta = moved - c[it]
        gain = phi - blend_rows(C[None, :] + delta, p, alpha, lam)
        best: dict[int, int] = {}
        for r in np.argsort(-gain):
            if gain[r] <= MOVE_TOL * max(1.0, abs(phi)):
                break
            best.setdefault(int(it[r]), int(r))
        if not best:
            break
        chosen = np.array(list(best.values()))
        while True:
            value = blend(C + delta[chosen].sum(axis=0), p, alpha, lam)
            if value < phi - MOVE_TOL * max(1.0, abs(phi)) or chosen.size == 1:
                break
            chosen = chosen[: max(1, chosen.size // 2)]
        if value >= phi - MOVE_TOL * max(1.0, abs(phi)):
            break
        rows = it[chosen]
        S[rows], K[rows] = nS[chosen], nK[chosen]
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
    r"""Minimise :math:`\Phi` over whole-unit causal plans by column generation (module).

    The first column is the risk-neutral plan of
    :func:`~optimizer.engines.causal_search.search_items`. Pricing then works on window
    tables (:class:`Tables`) in phases: the first windows step a quarter of
    :math:`\sigma_{L+1}`, each next phase centres them on the mixed plan with a step
    :data:`REFINE` times finer, down to one unit; only unit-step prices are bounds.

    Parameters
    ----------
    data : ProgramData
        A program with :math:`\lambda > 0`, no budget or storage row.
    integer : bool
        Must be True (whole units); continuous levels are the MILP's.
    fill_rates : bool
        Hold each target's floor (under :math:`p`) as a lower bound of :math:`S`.
    tol : float
        Relative gap between the master and the best bound that ends a phase.
    max_iterations : int
        Pricing steps per phase at most.
    time_limit : float, optional
        Seconds; the loop stops (with its best plan and gap) once they are spent.
    scan_points : int
        Grid of the first search's convexity safeguard.

    Raises
    ------
    ValueError
        When no level meets an item's fill-rate target, or with ``integer=False``.
    """
    if not integer:
        raise ValueError("the CVaR column generation works in whole units")
    t0 = time.perf_counter()
    p = np.asarray(data.probability, dtype=float)
    alpha, lam = float(data.cvar_alpha), float(data.cvar_weight)
    n = data.n_items
    floors = None
    if fill_rates and not np.isnan(data.fill_rate).all():
        floors = fill_rate_floor(data, integer=True)
        if not np.isfinite(floors).all():
            bad = np.nonzero(~np.isfinite(floors))[0]
            raise ValueError(f"no base-stock level meets the fill-rate target of items {bad}")
    base = replace(data, fill_rate=np.full(n, np.nan))
    lower, top = _lower_S(base, floors), _top_K(base)
    first = search_items(
        base, integer=True, fill_rates=False, lower=floors, scan_points=scan_points
    )
    Ss, Ks = [first.base_stock], [first.reserved]
    totals = [_item_costs(base, Ss[0], Ks[0]).sum(axis=0)]
    best_lb = float(first.cost.sum()) if first.certified.all() else -np.inf
    history: list[tuple[float, float]] = []
    stopped, iterations = "iterations", 1
    step_S = _first_steps(base)
    step_K = np.where(base.reserves, np.maximum(1.0, np.floor(top / 8.0)), 1.0)
    centre_S, centre_K = Ss[0], Ks[0]
    master = MasterLP(p, alpha, lam)
    master.add(totals[0])
    tables = None
    while True:
        final = bool((step_S == 1).all() and (step_K == 1).all())
        tables = Tables(
            base, lower, top, centre_S, centre_K, step_S, step_K, grid_points=scan_points,
            grids=None if tables is None else tables.grids,
        )  # fmt: skip
        q_center = p if final and np.isfinite(best_lb) else None
        stopped = "iterations"
        for _ in range(max_iterations if final else COARSE_ITERATIONS):
            value, mu, q_master = master.solve()
            history.append((value, best_lb))
            log.debug("CVaR column generation: master %.8g, bound %.8g", value, best_lb)
            if final and np.isfinite(best_lb) and value - best_lb <= tol * max(1.0, abs(value)):
                stopped = "gap"
                break
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                stopped = "time"
                break
            trials = [q_master]
            if q_center is not None:
                trials.insert(0, SMOOTHING * q_center + (1.0 - SMOOTHING) * q_master)
            fresh = None
            for q in trials:
                S, K, g, tot = tables.price(q)
                iterations += 1
                if final and g > best_lb:
                    best_lb, q_center = g, q
                elif not final and q_center is None:
                    q_center = q
                known = any(
                    np.array_equal(S, s) and np.array_equal(K, k)
                    for s, k in zip(Ss, Ks, strict=True)
                )
                if not known:
                    fresh = (S, K, tot)
                    break
            if fresh is None:
                stopped = "no new column"
                break
            Ss.append(fresh[0])
            Ks.append(fresh[1])
            totals.append(fresh[2])
            master.add(fresh[2])
        value, mu, _ = master.solve()
        centre_S = np.maximum(lower, np.round(mu @ np.array(Ss)))
        centre_K = np.clip(np.round(mu @ np.array(Ks)), 0.0, top)
        log.info(
            "CVaR column generation: phase of step up to %g done (%s), master %.8g, bound %.8g",
            step_S.max(), stopped, value, best_lb,
        )  # fmt: skip
        if final or stopped == "time":
            break
        step_S = np.maximum(1.0, np.ceil(step_S / REFINE))
        step_K = np.maximum(1.0, np.ceil(step_K / REFINE))
    starts = [(centre_S, centre_K)]
    j = int(np.argmin([blend(t, p, alpha, lam) for t in totals]))
    starts.append((Ss[j], Ks[j]))
    S, K, phi = min(
        (polish(base, s, k, lower, costs_of=tables.costs_of) for s, k in starts),
        key=lambda r: r[2],
    )
    C = tables.costs_of(np.arange(n), S, K).sum(axis=0)
    local_bound = None
    if best_lb > phi + 1e-9 * max(1.0, abs(phi)):
        # a bound above a plan's exact cost: some item's cost under the tail weights is
        # not convex, and its window and grid missed its minimum (1,000 x 300: by 1.5e-6)
        log.warning(
            "CVaR plan: the pricing bound %.8g exceeds the plan's blend %.8g; no bound is "
            "certified", best_lb, phi,
        )  # fmt: skip
        local_bound, best_lb = best_lb, -np.inf
    gap = max(0.0, phi - best_lb) / max(1.0, abs(phi)) if np.isfinite(best_lb) else np.nan
    log.info(
        "CVaR plan: blend %.8g, bound %.8g (gap %.2g), %d pricing steps, %d window slides, "
        "%.1f s", phi, best_lb, gap, iterations, tables.slides, time.perf_counter() - t0,
    )  # fmt: skip
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
        local_bound=local_bound,
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
        certified = bool(plan.gap <= ROW_GAP_TOLERANCE)  # False for nan
        steps = f"{plan.iterations} pricing steps, stopped by {plan.stopped_by}"
        certificate = (
            f"within {plan.gap:.3g} of the column-generation bound {plan.lower_bound:.6g} ({steps})"
            if plan.local_bound is None
            else f"no certified bound: the pricing value {plan.local_bound:.6g} came out "
            f"above the plan's {plan.objective:.6g} (item costs under the tail weights are "
            f"not convex; {steps})"
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
