r"""Per-item minimisation of the causal sample-average cost (pure functions, no engine).

The item's objective is :math:`F_i(S, K) = \sum_w p_w C_{i,w}(S, K)` (plus
:math:`\lambda a_i S` under a price on a budget or storage row), with :math:`C_{i,w}` the
causal scenario cost of :mod:`optimizer.program.causal_kernel`. With lost sales,
exogenous non-crossing arrivals and every period costed, the sample-path cost is convex
in :math:`S` (Janakiraman & Roundy, Operations Research 52(5), 2004) and shortage costs
jointly convex in :math:`(S, K)` (Huh & Janakiraman); the searches below rely on
:math:`F_i` being convex or at least unimodal, and guard the cases where it is not
(see "Safeguards"). The kernel gives the exact one-sided derivatives
:math:`\partial^\pm_S`.

* :math:`S` (:func:`search_items`): the smallest minimiser :math:`a` is where the right
  derivative turns non-negative, so a bracket :math:`\partial^+(lo) < 0 \le
  \partial^+(hi)` is grown from the lower bound and shrunk. Whole units: integer
  bisection to :math:`hi = lo + 1`, then the better of the two (with a convex
  :math:`F`, the best integer is the floor or the ceiling of :math:`a`). Continuous:
  alternately the crossing of the tangents at the ends (exact once one kink is left in
  the bracket, :math:`F` being piecewise linear) and the midpoint, until a point has
  :math:`\partial^- \le 0 \le \partial^+`.
* :math:`K` for reserving items: :math:`g(K) = \min_S F(S, K)` is convex (partial
  minimisation of a jointly convex function); integer bisection on the sign of
  :math:`g(k+1) - g(k)`, each :math:`g` an exact inner solve in :math:`S`; continuous
  :math:`K` then by golden section in :math:`[k-1, k+1]`.
* Safeguards, because convexity does fail with this accounting (``tests/test_causal_kernel.py``
  measures it): the uncosted warm-up makes the costed part of a lost-sales path a
  difference of convex functions, capped emergency supply during outages and
  backorders with emergency supply (the order stream :math:`d - e` depends on
  :math:`S`) break it even when every period is costed, and a premium above the penalty
  makes the shortage cost concave. The sample average is close to convex, but with few
  scenarios it can have several local minima. So every item (``scan="all"``, the
  default) is also scanned on a grid of levels; where the grid beats the search, the
  answer is the grid's best level refined by a local search and the item is flagged
  ``convex = False``; whole-unit answers then descend to a level no worse than both
  neighbours :math:`F(S \pm 1)`.
* Fill-rate targets (:func:`fill_rate_floor`): the fill rate rises with :math:`S`, so
  the smallest level meeting :math:`\beta_i` (bisection) raises the lower bound.
* One priced row: :mod:`optimizer.engines.causal_price` prices a budget or storage row
  over these item answers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from optimizer.engines.causal_floor import Counter, fill_rate_floor, start_step
from optimizer.engines.causal_plays import SK_DIRECTIONS, PlayMemo
from optimizer.engines.causal_plays import evaluate as _evaluate
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)

#: Relative tolerance of value comparisons (round-off in sums over scenarios and periods).
VALUE_TOL = 1e-10
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass
class ItemPlans:
    r"""Each item's searched plan.

    Attributes
    ----------
    items : ndarray of int (nb,)
    base_stock, reserved : ndarray (nb,)
        :math:`S_i`, :math:`K_i` (0 for items that do not reserve).
    cost : ndarray (nb,)
        :math:`F_i(S_i, K_i)`, the expected causal cost over the costed periods, without
        the price term.
    right, left : ndarray (nb,)
        :math:`\partial^\pm_S` of :math:`F_i + \lambda a_i S` at the plan.
    right_K, left_K : ndarray (nb,)
        :math:`\partial^\pm_K F_i` at the plan (0 for items that do not reserve).
    fill_rate : ndarray (nb,)
    lower : ndarray (nb,)
        The lower bound of :math:`S` in force (:math:`L\mu`, or the fill-rate floor).
    certified : ndarray of bool (nb,)
        Continuous: :math:`\partial^- \le 0 \le \partial^+` (or :math:`S` at its lower
        bound with :math:`\partial^+ \ge 0`). Whole units: :math:`F(S) \le F(S \pm 1)`.
    convex : ndarray of bool (nb,)
        False where the safeguard found :math:`F` not convex in :math:`S`.
    counter : Counter
    """

    items: np.ndarray
    base_stock: np.ndarray
    reserved: np.ndarray
    cost: np.ndarray
    right: np.ndarray
    left: np.ndarray
    right_K: np.ndarray
    left_K: np.ndarray
    fill_rate: np.ndarray
    lower: np.ndarray
    certified: np.ndarray
    convex: np.ndarray
    counter: Counter = field(default_factory=Counter)


def _tol(F: np.ndarray) -> np.ndarray:
    return VALUE_TOL * (1.0 + np.abs(F))


# ------------------------------------------------------------------ search in S -----
def _minimise_S(
    data: ProgramData,
    items: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    lower: np.ndarray,
    *,
    integer: bool,
    counter: Counter,
    hint_lo: np.ndarray | None = None,
    hint_hi: np.ndarray | None = None,
    x_tol: float = 1e-9,
    max_iter: int = 200,
    memo: PlayMemo | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Find per row the smallest minimiser of :math:`F(\cdot, K) + \text{slope}\, S`.

    The search is convex, on :math:`[\text{lower}, \infty)` (see the module docstring).

    Returns ``(S, F, right, left)`` at the answers (``F`` includes the slope term).
    """
    nb = items.size
    lo = np.ceil(lower - 1e-9) if integer else lower.astype(float).copy()
    if nb == 0:
        e = np.empty(0)
        return e, e, e, e
    F_lo, r_lo, l_lo, _ = _evaluate(data, items, lo, K, slope, counter, memo=memo)
    S_out, F_out, r_out, l_out = lo.copy(), F_lo.copy(), r_lo.copy(), l_lo.copy()
    active = r_lo < 0.0
    if not active.any():
        return S_out, F_out, r_out, l_out
    # hints (must lie above lo): evaluated together, each replaces the bracket end it fits
    hi = np.full(nb, np.nan)
    F_hi, r_hi, l_hi = np.full(nb, np.nan), np.full(nb, np.nan), np.full(nb, np.nan)
    for hint in (hint_lo, hint_hi):
        if hint is None:
            continue
        h = np.ceil(hint - 1e-9) if integer else np.asarray(hint, dtype=float)
        r = np.nonzero(active & (h > lo) & (np.isnan(hi) | (h < hi)))[0]
        if r.size == 0:
            continue
        F_h, r_h, l_h, _ = _evaluate(data, items[r], h[r], K[r], slope[r], counter, memo=memo)
        below = r_h < 0.0
        u, v = r[below], r[~below]
        lo[u], F_lo[u], r_lo[u], l_lo[u] = h[u], F_h[below], r_h[below], l_h[below]
        hi[v], F_hi[v], r_hi[v], l_hi[v] = h[v], F_h[~below], r_h[~below], l_h[~below]
    # grow the bracket upwards until the right derivative turns non-negative
    width = start_step(data, items)
    for _ in range(200):
        r = np.nonzero(active & np.isnan(hi))[0]
        if r.size == 0:
            break
        trial = lo[r] + width[r]
        if integer:
            trial = np.ceil(trial)
        F_t, r_t, l_t, _ = _evaluate(data, items[r], trial, K[r], slope[r], counter, memo=memo)
        turned = r_t >= 0.0
        u, v = r[turned], r[~turned]
        hi[u], F_hi[u], r_hi[u], l_hi[u] = trial[turned], F_t[turned], r_t[turned], l_t[turned]
        lo[v], F_lo[v], r_lo[v], l_lo[v] = trial[~turned], F_t[~turned], r_t[~turned], l_t[~turned]
        width[v] *= 2.0
    else:
        raise ValueError("the causal cost keeps falling in S (no holding cost?)")
    step = 0
    while active.any() and step < max_iter:
        step += 1
        if integer:
            active &= hi - lo > 1.0
        else:
            done = active & (l_hi <= 0.0)  # hi is a certified minimiser
            active &= ~done
            active &= hi - lo > x_tol * (1.0 + np.abs(hi))
        r = np.nonzero(active)[0]
        if r.size == 0:
            break
        if integer:
            trial = np.floor(0.5 * (lo[r] + hi[r]))
        else:
            mid = 0.5 * (lo[r] + hi[r])
            if step % 2:
                denom = r_lo[r] - l_hi[r]  # < 0: r_lo < 0 < l_hi
                cross = (F_hi[r] - F_lo[r] + r_lo[r] * lo[r] - l_hi[r] * hi[r]) / np.where(
                    denom < 0.0, denom, -1.0
                )
                ok = (denom < 0.0) & (cross > lo[r]) & (cross < hi[r])
                trial = np.where(ok, cross, mid)
            else:
                trial = mid
        F_t, r_t, l_t, _ = _evaluate(data, items[r], trial, K[r], slope[r], counter, memo=memo)
        below = r_t < 0.0
        u, v = r[below], r[~below]
        lo[u], F_lo[u], r_lo[u], l_lo[u] = trial[below], F_t[below], r_t[below], l_t[below]
        hi[v], F_hi[v], r_hi[v], l_hi[v] = trial[~below], F_t[~below], r_t[~below], l_t[~below]
    went = r_lo < 0.0  # rows that needed a bracket
    take_lo = went & integer & (F_lo <= F_hi + _tol(F_hi))
    take_hi = went & ~take_lo
    for m, S_, F_, R_, L_ in ((take_lo, lo, F_lo, r_lo, l_lo), (take_hi, hi, F_hi, r_hi, l_hi)):
        S_out[m], F_out[m], r_out[m], l_out[m] = S_[m], F_[m], R_[m], L_[m]
    return S_out, F_out, r_out, l_out


def _neighbours_ok(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    F: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    lower: np.ndarray,
    counter: Counter,
    memo: PlayMemo | None = None,
) -> np.ndarray:
    r""":math:`F(S) \le F(S \pm 1)` per row (the lower neighbour only when feasible)."""
    nb = items.size
    below = S - 1.0 >= np.ceil(lower - 1e-9) - 1e-9
    rows = np.concatenate([np.arange(nb), np.nonzero(below)[0]])
    trial = np.concatenate([S + 1.0, S[below] - 1.0])
    F_t, _, _, _ = _evaluate(
        data, items[rows], trial, K[rows], slope[rows], counter, VALUES_ONLY, memo
    )
    ok = np.ones(nb, dtype=bool)
    np.logical_and.at(ok, rows, F_t >= F[rows] - _tol(F[rows]))
    return ok


def _scan(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    lower: np.ndarray,
    points: int,
    counter: Counter,
    memo: PlayMemo | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Scan each row's :math:`F` on ``points`` whole levels above its lower bound.

    The grid runs to twice the searched level (and at least :math:`(L+2)\mu` above the
    bound).

    Returns the grid's best level and value, the grid step, and whether the grid values
    are convex (second differences non-negative to round-off).
    """
    nb = items.size
    lo = np.ceil(lower - 1e-9)
    top = np.maximum(2.0 * S, lo + (data.lead[items] + 2) * data.mean[items])
    step = np.maximum(1.0, np.ceil((top - lo) / (points - 1)))
    grid = lo[:, None] + step[:, None] * np.arange(points)[None, :]
    rows = np.repeat(np.arange(nb), points)
    F_g, _, _, _ = _evaluate(
        data, items[rows], grid.ravel(), K[rows], slope[rows], counter, VALUES_ONLY, memo
    )
    F_g = F_g.reshape(nb, points)
    second = F_g[:, 2:] - 2.0 * F_g[:, 1:-1] + F_g[:, :-2]
    convex = (second >= -4.0 * _tol(F_g[:, 1:-1])).all(axis=1)
    j = np.argmin(F_g, axis=1)
    return grid[np.arange(nb), j], F_g[np.arange(nb), j], step, convex


def _descend(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    F: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    lower: np.ndarray,
    counter: Counter,
    max_steps: int = 1000,
    memo: PlayMemo | None = None,
) -> np.ndarray:
    """Move whole-unit levels to a better neighbour until none is better (in place).

    Returns which rows moved (their :math:`F` has a local minimum the convex search did not
    land on).
    """
    nb = items.size
    floor = np.ceil(lower - 1e-9)
    moved = np.zeros(nb, dtype=bool)
    live = np.ones(nb, dtype=bool)
    for _ in range(max_steps):
        r = np.nonzero(live)[0]
        if r.size == 0:
            break
        up, down = S[r] + 1.0, np.maximum(S[r] - 1.0, floor[r])
        vals, _, _, _ = _evaluate(
            data, items[np.concatenate([r, r])], np.concatenate([up, down]),
            K[np.concatenate([r, r])], slope[np.concatenate([r, r])], counter, VALUES_ONLY, memo,
        )  # fmt: skip
        F_up, F_down = vals[: r.size], vals[r.size :]
        go_down = (F_down < F[r] - _tol(F[r])) & (F_down <= F_up) & (down < S[r])
        go_up = ~go_down & (F_up < F[r] - _tol(F[r]))
        S[r[go_down]], F[r[go_down]] = down[go_down], F_down[go_down]
        S[r[go_up]], F[r[go_up]] = up[go_up], F_up[go_up]
        step = go_down | go_up
        moved[r[step]] = True
        live[r[~step]] = False
    return moved


def _guard(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    F: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    lower: np.ndarray,
    *,
    integer: bool,
    scan: str | np.ndarray,
    scan_points: int,
    x_tol: float,
    counter: Counter,
    memo: PlayMemo | None = None,
) -> np.ndarray:
    """Apply the convexity safeguard (module docstring), updating ``S`` and ``F`` in place.

    ``scan`` is ``"all"``, ``"risky"``, ``"none"`` or a boolean mask of the rows to scan.

    Returns per row whether nothing contradicted convexity.
    """
    nb = items.size
    convex = np.ones(nb, dtype=bool)
    certified_nb = np.ones(nb, dtype=bool)
    if integer:
        certified_nb = _neighbours_ok(data, items, S, F, K, slope, lower, counter, memo)
    risky = data.has_emergency[items] & (
        data.backorder | (data.premium[items] > data.penalty[items])
    )
    if isinstance(scan, str):
        chosen = {"all": np.ones(nb, dtype=bool), "risky": risky, "none": np.zeros(nb, dtype=bool)}
        scanned = chosen[scan]
    else:
        scanned = np.asarray(scan, dtype=bool)
    suspect = np.nonzero(scanned | ~certified_nb)[0]
    if suspect.size and scan_points >= 3:
        best, best_F, step, grid_convex = _scan(
            data, items[suspect], S[suspect], K[suspect], slope[suspect],
            lower[suspect], scan_points, counter, memo,
        )  # fmt: skip
        convex[suspect] = grid_convex & certified_nb[suspect]
        redo = best_F < F[suspect] - _tol(F[suspect])
        r = suspect[redo]
        if r.size:
            convex[r] = False
            S[r], F[r] = best[redo], best_F[redo]
            local_lo = np.maximum(lower[r], best[redo] - step[redo])
            S_r, F_r, _, _ = _minimise_S(
                data, items[r], K[r], slope[r], local_lo, integer=integer, counter=counter,
                hint_hi=best[redo] + step[redo], x_tol=x_tol, memo=memo,
            )  # fmt: skip
            take = F_r < F[r]
            S[r[take]], F[r[take]] = S_r[take], F_r[take]
            log.info("causal search: F not convex in S for items %s", items[r].tolist())
    if integer:
        convex &= ~_descend(data, items, S, F, K, slope, lower, counter, memo=memo)
    return convex


# ------------------------------------------------------------------ items -----------
def search_items(
    data: ProgramData,
    items: np.ndarray | None = None,
    *,
    price: float = 0.0,
    weight: np.ndarray | None = None,
    integer: bool = True,
    fill_rates: bool = True,
    reserved: np.ndarray | None = None,
    hint_lo: np.ndarray | None = None,
    hint_hi: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    scan: str | np.ndarray = "all",
    scan_k: str | np.ndarray | None = None,
    scan_points: int = 48,
    x_tol: float = 1e-9,
    counter: Counter | None = None,
    memo: PlayMemo | None = None,
) -> ItemPlans:
    r"""Each item's plan minimising its causal sample-average cost (plus a price term).

    Parameters
    ----------
    items : ndarray of int (nb,), optional
        Default every item.
    price, weight : float, ndarray (n,)
        :math:`\lambda` and :math:`a` (``data.unit_cost`` or ``data.volume``): the
        objective is :math:`F_i + \lambda a_i S_i`.
    integer : bool
        Whole units for :math:`S` and :math:`K` (default) or the continuous optimum.
    fill_rates : bool
        Raise the lower bound of :math:`S` to the fill-rate floor where a target is set.
    reserved : ndarray (nb,), optional
        Fix :math:`K` instead of searching it (reserving items).
    hint_lo, hint_hi : ndarray (nb,), optional
        Levels expected below / above the answer (say from neighbouring prices); they
        only shorten the bracketing.
    lower : ndarray (nb,), optional
        A lower bound of :math:`S` per row on top of :math:`L\mu` (say fill-rate floors
        worked out under other scenario weights than ``data.probability``).
    scan : {"all", "risky", "none"}
        Items scanned on a grid of ``scan_points`` levels by the convexity safeguard:
        every item (default: the uncosted warm-up breaks convexity even with lost
        sales), or only those with emergency supply under backorders or with a premium
        above the penalty, or a boolean mask (nb,) of the rows to scan (the price loop
        of :mod:`optimizer.engines.causal_price` scans only the items whose grid was not
        convex at price 0: a price term :math:`\lambda a_i S` leaves second differences
        unchanged); items whose whole-unit answer fails its neighbour check are scanned
        in any case.
    scan_k : {"all", "risky", "none"} or ndarray, optional
        The rows scanned at every reservation the joint search tries (default ``scan``);
        the chosen plan is scanned by ``scan`` in any case (the price loop scans the
        reserving items at every :math:`K` only at price 0).
    memo : PlayMemo, optional
        Plays already made on ``data`` (the price loop keeps one over its searches);
        default a fresh one for this search.
    """
    counter = counter or Counter()
    idx = np.arange(data.n_items) if items is None else np.asarray(items, dtype=np.int64)
    nb = idx.size
    a = np.zeros(data.n_items) if weight is None else np.asarray(weight, dtype=float)
    slope = price * a[idx]
    reserves = data.reserves[idx]
    target = data.fill_rate[idx] if fill_rates else np.full(nb, np.nan)
    base_lower = data.min_base_stock[idx].astype(float)
    if lower is not None:
        base_lower = np.maximum(base_lower, np.asarray(lower, dtype=float))
    S = np.empty(nb)
    K = np.zeros(nb) if reserved is None else np.where(reserves, reserved, 0.0).astype(float)
    lower = base_lower.copy()
    memo = PlayMemo() if memo is None else memo
    each_k = scan if scan_k is None else scan_k

    def inner(rows, k, lo_hint=None, hi_hint=None, guarded=False):
        """Solve in S at reservations ``k`` for ``rows``; return (S, F, r, l, lower).

        With ``guarded``, apply the convexity safeguard (for the joint search's g).
        """
        low = base_lower[rows]
        has = ~np.isnan(target[rows])
        if has.any():
            low = low.copy()
            low[has] = np.maximum(
                low[has],
                fill_rate_floor(
                    data,
                    idx[rows[has]],
                    k[has],
                    target=target[rows[has]],
                    integer=integer,
                    counter=counter,
                ),
            )
        if not np.isfinite(low).all():
            bad = idx[rows[~np.isfinite(low)]]
            raise ValueError(f"no base-stock level meets the fill-rate target of items {bad}")
        out = _minimise_S(
            data,
            idx[rows],
            k,
            slope[rows],
            low,
            integer=integer,
            counter=counter,
            hint_lo=lo_hint,
            hint_hi=hi_hint,
            x_tol=x_tol,
            memo=memo,
        )
        if guarded:
            _guard(
                data, idx[rows], out[0], out[1], k, slope[rows], low, integer=integer,
                scan=each_k if isinstance(each_k, str) else np.asarray(each_k, dtype=bool)[rows],
                scan_points=scan_points, x_tol=x_tol, counter=counter, memo=memo,
            )  # fmt: skip
        return (*out, low)

    plain = np.nonzero(~reserves | (reserved is not None))[0]
    F = np.empty(nb)
    if plain.size:
        h_lo = None if hint_lo is None else np.asarray(hint_lo, dtype=float)[plain]
        h_hi = None if hint_hi is None else np.asarray(hint_hi, dtype=float)[plain]
        S[plain], F[plain], _, _, lower[plain] = inner(plain, K[plain], h_lo, h_hi)
    joint = np.nonzero(reserves & (reserved is None))[0]
    if joint.size:
        S[joint], K[joint], F[joint], lower[joint] = _search_reserve(
            data, idx[joint], joint, inner, integer
        )
    convex = _guard(
        data, idx, S, F, K, slope, lower, integer=integer, scan=scan,
        scan_points=scan_points, x_tol=x_tol, counter=counter, memo=memo,
    )  # fmt: skip
    # the plans' values and S-derivatives (mostly played already), K-derivatives of the
    # reserving rows
    cost, right, left, fill = _evaluate(data, idx, S, K, np.zeros(nb), counter, memo=memo)
    right, left = right + slope, left + slope
    right_K, left_K = np.zeros(nb), np.zeros(nb)
    rk = np.flatnonzero(reserves)
    if rk.size:
        at = play_plan(data, S[rk], K[rk], items=idx[rk], directions=SK_DIRECTIONS)
        counter.calls += 1
        counter.rows += rk.size
        right_K[rk], left_K[rk] = at.right_K, at.left_K
    scale = 1e-9 * (1.0 + np.abs(cost)) / np.maximum(1.0, np.abs(S))
    if integer:
        certified = _neighbours_ok(data, idx, S, F, K, slope, lower, counter, memo)
    else:
        at_lower = np.abs(S - lower) <= 1e-12 * (1.0 + np.abs(lower))
        certified = (right >= -scale) & ((left <= scale) | at_lower)
    return ItemPlans(
        items=idx,
        base_stock=S,
        reserved=np.where(reserves, K, 0.0),
        cost=cost,
        right=right,
        left=left,
        right_K=right_K,
        left_K=left_K,
        fill_rate=fill,
        lower=lower,
        certified=certified,
        convex=convex,
        counter=counter,
    )


def reserve_top(data: ProgramData, items: np.ndarray, integer: bool) -> np.ndarray:
    """Largest useful :math:`K`: the capacity, else the largest demand."""
    cap = data.capacity[items].astype(float)
    top = np.where(np.isfinite(cap), cap, data.demand[items].max(axis=(1, 2)))
    return np.floor(top + 1e-9) if integer else top


def _search_reserve(data: ProgramData, items: np.ndarray, rows: np.ndarray, inner, integer: bool):
    r"""Joint :math:`(S, K)` for reserving rows: convex search on :math:`g(K)`.

    Integer bisection on the sign of :math:`g(k+1) - g(k)` over :math:`k \in
    [0, \bar K]`; then, as :math:`g` need not be unimodal, the best of 17 reservations
    across the range if it is better, and a descent to a whole :math:`k` no worse than
    :math:`k \pm 1`; continuous :math:`K` then by golden section on :math:`[k-1, k+1]`.
    Returns ``(S, K, F, lower)``.
    """
    top = reserve_top(data, items, True)
    memo: dict[tuple[int, float], tuple[float, float, float]] = {}

    def g(sub: np.ndarray, k: np.ndarray) -> np.ndarray:
        """:math:`g` at ``k`` for local rows ``sub`` (memoised per row and K)."""
        need = [j for j, (s, kk) in enumerate(zip(sub, k, strict=True)) if (s, kk) not in memo]
        if need:
            nsel = np.array(need)
            S_, F_, _, _, low = inner(rows[sub[nsel]], k[nsel], guarded=True)
            for j, s_, f_, lw in zip(nsel, S_, F_, low, strict=True):
                memo[(int(sub[j]), float(k[j]))] = (float(s_), float(f_), float(lw))
        return np.array([memo[(int(s), float(kk))][1] for s, kk in zip(sub, k, strict=True)])

    n = items.size
    lo = np.zeros(n)
    hi = top.copy()
    while True:
        live = np.nonzero(hi > lo)[0]
        if live.size == 0:
            break
        mid = np.floor(0.5 * (lo[live] + hi[live]))
        both = g(np.concatenate([live, live]), np.concatenate([mid, mid + 1.0]))
        rising = both[live.size :] >= both[: live.size] - _tol(both[: live.size])
        hi[live[rising]] = mid[rising]
        lo[live[~rising]] = mid[~rising] + 1.0
    k = lo
    # safeguard (g need not be unimodal): a coarse grid of reservations, then a descent;
    # every item's grid in one call, the descents side by side
    cands = [np.unique(np.round(np.linspace(0.0, top[j], min(17, int(top[j]) + 1))))
             for j in range(n)]  # fmt: skip
    owner = np.concatenate([np.full(c.size, j) for j, c in enumerate(cands)])
    vals = g(np.concatenate([owner, np.arange(n)]), np.concatenate([*cands, k]))
    grid_vals, here = vals[: owner.size], vals[owner.size :]
    starts = np.cumsum([0] + [c.size for c in cands[:-1]])
    for j in range(n):
        part = grid_vals[starts[j] : starts[j] + cands[j].size]
        if part.min() < here[j] - _tol(part.min()):
            k[j] = cands[j][np.argmin(part)]
    live = np.arange(n)
    while live.size:
        here = g(live, k[live])
        down, up = np.maximum(0.0, k[live] - 1.0), np.minimum(top[live], k[live] + 1.0)
        both = g(np.concatenate([live, live]), np.concatenate([down, up]))
        v_down, v_up = both[: live.size], both[live.size :]
        best = np.minimum(v_down, v_up)
        move = best < here - _tol(here)
        k[live[move]] = np.where(v_down <= v_up, down, up)[move]
        live = live[move]
    if not integer:
        cap = reserve_top(data, items, False)
        a, b = np.maximum(0.0, k - 1.0), np.minimum(cap, k + 1.0)
        for _ in range(60):
            live = np.nonzero(b - a > 1e-7 * (1.0 + b))[0]
            if live.size == 0:
                break
            c = b[live] - _GOLDEN * (b[live] - a[live])
            d = a[live] + _GOLDEN * (b[live] - a[live])
            both = g(np.concatenate([live, live]), np.concatenate([c, d]))
            left_better = both[: live.size] <= both[live.size :]
            b[live[left_better]] = d[left_better]
            a[live[~left_better]] = c[~left_better]
        cand = np.stack([k, 0.5 * (a + b)])
        vals = np.stack([g(np.arange(n), cand[0]), g(np.arange(n), cand[1])])
        k = cand[np.argmin(vals, axis=0), np.arange(n)]
    g(np.arange(n), k)
    S = np.array([memo[(j, float(k[j]))][0] for j in range(n)])
    F = np.array([memo[(j, float(k[j]))][1] for j in range(n)])
    low = np.array([memo[(j, float(k[j]))][2] for j in range(n)])
    return S, k, F, low
