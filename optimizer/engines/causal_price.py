r"""One budget or storage row over the causal item searches: its Lagrange price.

The row use :math:`\sum_i a_i S_i(\lambda)` of the item answers of
:func:`optimizer.engines.causal_search.search_items` falls with the price
:math:`\lambda`; the price is bracketed and narrowed (regula falsi with bisection steps)
until the row holds at the upper end, each item's search warm-started between its answers at
the two ends. The Lagrangian bound :math:`\sum_i \min (F_i + \lambda a_i S_i) - \lambda R`
gives the optimality gap.

The item answers run wherever the program's items are (:mod:`optimizer.engines.executors`:
in this process, or in chunks on a cluster's workers); the price is coordinated here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

import numpy as np

from optimizer.engines.causal_plays import S_DIRECTIONS, PlayMemo
from optimizer.engines.causal_search import Counter, ItemPlans
from optimizer.engines.executors import ItemWork, as_work, play, search
from optimizer.program.causal_kernel import VALUES_ONLY
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)

#: Rounds of price steps at fixed reservations checked by joint answers, at most.
MAX_K_ROUNDS = 4
#: Bracket widths (levels per item on average) from which the price is finished on a
#: table of the items' values between their answers at the two ends.
TABLE_LEVELS = 16


@dataclass
class PricedRow:
    r"""Plans under the price :math:`\lambda^*` of one budget or storage row.

    Attributes
    ----------
    price : float
        :math:`\lambda^*` (the upper end of the final bracket; 0 when the row is slack).
    plans : ItemPlans
        The answers at ``price``: the row holds.
    use, limit : float
        :math:`\sum_i a_i S_i` of ``plans`` and :math:`R`.
    lower_bound : float
        Best Lagrangian bound :math:`\sum_i \min_S (F_i + \lambda a_i S) - \lambda R` met.
    low_price : float
        Lower end of the final bracket (row violated there).
    low_plans : ItemPlans or None
    combined_base_stock, combined_reserved : ndarray (n,)
        Continuous search only: the convex combination of the answers at the two ends that
        fills the row exactly (else ``plans``' levels).
    """

    price: float
    plans: ItemPlans
    use: float
    limit: float
    lower_bound: float
    low_price: float
    low_plans: ItemPlans | None
    combined_base_stock: np.ndarray
    combined_reserved: np.ndarray

    @property
    def cost(self) -> float:
        r""":math:`\sum_i F_i` of ``plans``."""
        return float(self.plans.cost.sum())

    @property
    def gap(self) -> float:
        """Relative gap of ``plans`` to :attr:`lower_bound`."""
        return (self.cost - self.lower_bound) / max(1.0, abs(self.cost))


def price_for_row(
    data: ProgramData | ItemWork,
    weight: np.ndarray,
    limit: float,
    *,
    integer: bool = True,
    fill_rates: bool = True,
    rel_tol: float = 1e-9,
    max_iter: int = 100,
    scan_points: int = 48,
    counter: Counter | None = None,
) -> PricedRow:
    r"""Find the price :math:`\lambda^*` of one row :math:`\sum_i a_i S_i \le R`.

    The result carries the item answers under that price too (see the module docstring).

    Parameters
    ----------
    data : ProgramData or ItemWork
        The program, or its items in chunks (:mod:`optimizer.engines.executors`).
    weight : ndarray (n,)
        :math:`a_i` (``data.unit_cost`` for the budget, ``data.volume`` for storage).
    limit : float
        :math:`R`.
    rel_tol : float
        Stop when the Lagrangian gap or the price bracket is this small (relative).
    scan_points : int
        Levels of the item searches' convexity scan (the engine's
        :func:`~optimizer.engines.causal.scan_points_for`: fewer with many scenarios).

    Raises
    ------
    ValueError
        When the row cannot hold the lower bounds (pipelines, fill-rate floors).
    """
    counter = counter or Counter()
    work = as_work(data)
    a = np.asarray(weight, dtype=float)
    # one memo of plays over every search of the loop (in this process; the same items
    # at the same reservations come back under every price)
    kw = dict(integer=integer, counter=counter, weight=a, scan_points=scan_points, memo=PlayMemo())
    reserves = np.asarray(data_reserves(work, data), dtype=bool)
    reserving = bool(reserves.any())

    def answer(lam: float, lo_hint=None, hi_hint=None, fixed=None) -> tuple:
        """Item answers at ``lam``: joint (S, K), or S at the fixed K, floors and scan mask."""
        if fixed is not None:
            extra = fixed
        elif lam > 0.0:  # plain items as at fixed K; reserving ones scanned at every K
            extra = dict(fill_rates=fill_rates, scan=~convex0 | reserves)
        else:
            extra = dict(fill_rates=fill_rates)
        plans = search(work, price=lam, hint_lo=lo_hint, hint_hi=hi_hint, **kw, **extra)
        return _used(plans, lam)

    def _used(plans: ItemPlans, lam: float) -> tuple:
        use = float(a @ plans.base_stock)
        bound = float(plans.cost.sum() + lam * (use - limit))
        return plans, use, bound

    joints: dict[float, tuple] = {}

    def joint(lam: float, at_fixed: ItemPlans, lo_hint=None, hi_hint=None) -> tuple:
        """Joint (S, K) answers at ``lam`` > 0, given the fixed-K answers ``at_fixed`` there.

        Only the reserving items are searched: the others' joint answers are their
        fixed-K ones (their K is 0 either way, their floors and scans the same). The
        answers at a price are kept, since the rounds come back to the bracket's ends.
        """
        if lam not in joints:
            rows = np.flatnonzero(reserves)
            extra = dict(fill_rates=fill_rates, scan=~convex0 | reserves, scan_k=~convex0)
            sub = search(work, items=rows, price=lam, hint_lo=lo_hint, hint_hi=hi_hint,
                         **kw, **extra)  # fmt: skip
            joints[lam] = _used(_overlay(at_fixed, sub), lam)
        return joints[lam]

    lo, (lo_plans, lo_use, bound) = 0.0, answer(0.0)
    if lo_use <= limit:
        S, K = lo_plans.base_stock, lo_plans.reserved
        return PricedRow(0.0, lo_plans, lo_use, limit, bound, 0.0, None, S, K)
    floor = float(a @ lo_plans.lower)
    if floor > limit * (1 + 1e-12) + 1e-12:
        raise ValueError(f"the row cannot hold the lower bounds of S ({floor:.6g} > {limit:.6g})")
    # The price steps search S at fixed K (the price-0 answer's, then the last joint
    # answer's), on the price-0 answer's lower bounds (fill-rate floors at that K do not
    # move with the price) and scanning only the items whose price-0 grid was not convex
    # (a price term lambda a_i S leaves second differences unchanged). Without reserving
    # items that is the same search as a joint one; with them, the bracket found is
    # checked by joint answers, K refixed and the steps resumed until K stays (bounds
    # come from joint answers only: a fixed-K minimum lies above the joint one).
    convex0 = lo_plans.convex.copy()
    K_fix = lo_plans.reserved.copy()

    def fixed_at(plans: ItemPlans) -> dict:
        """Search S at the reservations of ``plans``, on their lower bounds."""
        return dict(reserved=plans.reserved.copy(), lower=plans.lower.copy(), fill_rates=False,
                    scan=~convex0)  # fmt: skip

    fixed = fixed_at(lo_plans)
    exact = not reserving  # fixed-K answers are the joint ones
    # first upper price: where every item's priced right derivative at its lower bound >= 0
    pos = a > 0
    at_low = play(work, lo_plans.lower, lo_plans.reserved, directions=S_DIRECTIONS)
    counter.calls += 1
    hi = float(np.max(np.where(pos, np.maximum(0.0, -at_low.right_S) / np.where(pos, a, 1), 0)))
    hi = max(hi, 1e-12)
    hi_plans, hi_use, b = answer(hi, None, lo_plans.base_stock, fixed)
    bound = max(bound, b) if exact else bound
    settled, held = exact, None  # held: the last joint answer that holds the row
    for _round in range(MAX_K_ROUNDS):
        # stop once every item sits at its lower bound: a limit below the floor by
        # round-off only (accepted above) is then held as well as it can be
        while hi_use > limit and hi_use > floor * (1 + 1e-12) + 1e-12 and hi < 1e300:
            lo, lo_plans, lo_use = hi, hi_plans, hi_use
            hi *= 4.0
            hi_plans, hi_use, b = answer(hi, None, lo_plans.base_stock, fixed)
            bound = max(bound, b) if exact else bound
        side, tabled = 0, False
        for it in range(max_iter):
            cost = float(hi_plans.cost.sum())
            if (cost - bound) <= rel_tol * max(1.0, abs(cost)) or hi - lo <= rel_tol * hi:
                break
            if integer and np.count_nonzero(hi_plans.base_stock != lo_plans.base_stock) <= 1:
                break  # one item's answer switches in the bracket: fill_row places its units
            span = float(np.sum(lo_plans.base_stock - hi_plans.base_stock))
            if integer and span <= TABLE_LEVELS * work.n_items:
                if tabled:  # the table's price did not hold under the searches (ties or
                    break  # levels off the table): fill_row spends the room at hi
                tabled = True
                # every answer in the bracket lies between its ends: finish on tables
                lam = _table_price(work, a, limit, lo, hi, lo_plans, hi_plans, fixed, counter)
                if lam is not None and lo < lam < hi:
                    plans, use, b = answer(lam, hi_plans.base_stock, lo_plans.base_stock, fixed)
                    bound = max(bound, b) if exact else bound
                    if use <= limit:
                        hi, hi_plans, hi_use = lam, plans, use
                        break
                    lo, lo_plans, lo_use = lam, plans, use
            # regula falsi on use(lambda) - R, Illinois-weighted, every third step a bisection
            f_lo, f_hi = lo_use - limit, hi_use - limit
            if side == 1:
                f_lo *= 0.5
            elif side == -1:
                f_hi *= 0.5
            lam = lo + f_lo * (hi - lo) / (f_lo - f_hi) if f_lo != f_hi else 0.5 * (lo + hi)
            if it % 3 == 2 or not lo < lam < hi:
                lam = 0.5 * (lo + hi)
            plans, use, b = answer(lam, hi_plans.base_stock, lo_plans.base_stock, fixed)
            bound = max(bound, b) if exact else bound
            if use > limit:
                lo, lo_plans, lo_use = lam, plans, use
                side = 1 if side != 1 else side
            else:
                hi, hi_plans, hi_use = lam, plans, use
                side = -1
        if exact:
            break
        # joint answers at both ends of the bracket
        hints = (hi_plans.base_stock, lo_plans.base_stock)
        hi_plans, hi_use, b = joint(hi, hi_plans, *hints)
        bound = max(bound, b)
        moved = not np.array_equal(hi_plans.reserved, K_fix)
        if lo > 0.0 and (moved or not integer):  # continuous plans mix both ends
            lo_plans, lo_use, b = joint(lo, lo_plans, *hints)
            bound = max(bound, b)
        log.debug("causal price search: round %d, K moved for %d items", _round,
                  int(np.sum(hi_plans.reserved != K_fix)))  # fmt: skip
        if hi_use <= limit:
            held = (hi, hi_plans, hi_use)
        if not moved and hi_use <= limit and lo_use > limit:
            settled = True
            break
        # the steps resume at hi's reservations; a joint answer is the fixed-K answer at
        # its own K, so the bracket's joint ends need no search again
        K_fix = hi_plans.reserved.copy()
        fixed = fixed_at(hi_plans)
        if lo_use <= limit:  # the joint answer at lo already holds: the bracket moves down
            hi, hi_plans, hi_use = lo, lo_plans, lo_use
            K_fix, fixed = hi_plans.reserved.copy(), fixed_at(hi_plans)
            lo, lo_plans, lo_use = 0.0, *answer(0.0, fixed=fixed)[:2]
        elif hi_use > limit:  # K moved the use up: the bracket moves up
            lo, lo_plans, lo_use = hi, hi_plans, hi_use
    if not settled:  # K kept moving: the last joint answer that holds, or raise to one
        if held is not None:
            hi, hi_plans, hi_use = held
        else:
            while True:
                hi_plans, hi_use, b = answer(hi, None, hi_plans.base_stock)
                bound = max(bound, b)
                if hi_use <= limit or hi >= 1e300:
                    break
                hi *= 4.0
        log.info("causal price search: reservations still moving after %d rounds; the "
                 "plan holds the row, its gap is to the joint bound", MAX_K_ROUNDS)  # fmt: skip
    S, K = hi_plans.base_stock, hi_plans.reserved
    if integer:
        S = fill_row(work, a, limit, S, K, hi_plans.lower, counter=counter)
    elif lo_use > hi_use:
        theta = float(np.clip((limit - hi_use) / (lo_use - hi_use), 0.0, 1.0))
        S = theta * lo_plans.base_stock + (1 - theta) * hi_plans.base_stock
        K = theta * lo_plans.reserved + (1 - theta) * hi_plans.reserved
    log.debug("causal price search: lambda* in [%.6g, %.6g], %d calls", lo, hi, counter.calls)
    return PricedRow(hi, hi_plans, hi_use, limit, bound, lo, lo_plans, S, K)


def _table_price(
    work: ItemWork,
    a: np.ndarray,
    limit: float,
    lo: float,
    hi: float,
    lo_plans: ItemPlans,
    hi_plans: ItemPlans,
    fixed: dict,
    counter: Counter,
) -> float | None:
    r"""Find the least price in :math:`(\lambda_{lo}, \lambda_{hi}]` whose answers hold the row.

    Each item's whole-unit answer under a price between the bracket's ends lies between
    its answers there (:math:`S_i(\lambda)` falls with :math:`\lambda` where
    :math:`F_i` is convex); its values :math:`F_i(S)` on those levels, at the fixed
    reservations, are played once, and the price where
    :math:`\sum_i a_i \arg\min_S (F_i(S) + \lambda a_i S) \le R` first holds is found
    on the table by bisection. ``None`` when the table never holds the row.
    """
    S_hi, S_lo = hi_plans.base_stock, lo_plans.base_stock
    width = np.maximum(0, np.round(S_lo - S_hi)).astype(np.int64)
    rows = np.repeat(np.arange(work.n_items), width + 1)
    offset = np.arange(rows.size) - np.repeat(np.cumsum(width + 1) - (width + 1), width + 1)
    levels = S_hi[rows] + offset
    K = np.asarray(fixed["reserved"], dtype=float)
    counter.calls += 1
    values = play(work, levels, K[rows], items=rows, directions=VALUES_ONLY).expected_cost

    def use_at(lam: float) -> float:
        priced = values + lam * a[rows] * levels
        # smallest minimiser per item: the first level of the lowest priced value
        order = np.lexsort((levels, priced, rows))
        first = order[np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]]
        chosen = np.empty(work.n_items)
        chosen[rows[first]] = levels[first]
        return float(a @ chosen)

    if use_at(hi) > limit:
        return None
    left, right = lo, hi
    for _ in range(200):
        if right - left <= 1e-12 * right:
            break
        mid = 0.5 * (left + right)
        if use_at(mid) <= limit:
            right = mid
        else:
            left = mid
    # ``right`` is a breakpoint, where an item is indifferent between two levels: the
    # price returned lies halfway to the next change of the table's use, where no tie is
    used, top = use_at(right), hi
    low = right
    for _ in range(200):
        if top - low <= 1e-12 * top:
            break
        mid = 0.5 * (low + top)
        if use_at(mid) == used:
            low = mid
        else:
            top = mid
    return 0.5 * (right + low) if low > right else right


def _overlay(base: ItemPlans, sub: ItemPlans) -> ItemPlans:
    """Return ``base`` with the rows of ``sub`` (plans of some of its items) put in."""
    fields = {f.name: getattr(base, f.name) for f in dataclass_fields(ItemPlans)}
    rows = np.asarray(sub.items, dtype=np.int64)
    for name, value in fields.items():
        if name in ("items", "counter"):
            continue
        value = np.array(value, copy=True)
        value[rows] = getattr(sub, name)
        fields[name] = value
    return ItemPlans(**fields)


def data_reserves(work: ItemWork, data: ProgramData | ItemWork) -> np.ndarray:
    """Which items reserve capacity (from the program, or the chunks' instance)."""
    if isinstance(data, ProgramData):
        return data.reserves
    inner = getattr(work, "data", None)
    if isinstance(inner, ProgramData):
        return inner.reserves
    return np.asarray(work.instance.items.reserves_capacity, dtype=bool)


def fill_row(
    data: ProgramData | ItemWork,
    weight: np.ndarray,
    limit: float,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    lower: np.ndarray,
    *,
    swap_candidates: int = 40,
    max_exchanges: int = 200,
    counter: Counter | None = None,
) -> np.ndarray:
    r"""Spend the room a whole-unit priced plan leaves in its row, one unit at a time.

    At the price that makes the row hold, whole-unit answers leave room
    :math:`R - \sum_i a_i S_i` unused (the Lagrangian has a duality gap with integers).
    Greedy marginal allocation adds the unit with the largest saving per unit of row
    :math:`-\Delta^+_i / a_i` while one fits; when none fits, one more unit of an item
    :math:`i` (among the ``swap_candidates`` whose unit saves most) is paid for by the
    fewest units :math:`\lceil (a_i - \text{room}) / a_j \rceil` of another item
    :math:`j`, or one unit less of :math:`j` makes room for the most units
    :math:`\lfloor (\text{room} + a_j) / a_i \rfloor` of :math:`i`, whichever saves
    most (at most ``max_exchanges`` times), and the additions resume. :math:`K` stays.

    Parameters
    ----------
    data : ProgramData or ItemWork
    weight : ndarray (n,)
        :math:`a_i`.
    limit : float
        :math:`R`.
    base_stock, reserved : ndarray (n,)
        A plan that holds the row.
    lower : ndarray (n,)
        Lower bounds of :math:`S` (pipeline, fill-rate floors).

    Returns
    -------
    ndarray (n,)
        Whole-unit :math:`S` that holds the row and costs no more.
    """
    counter = counter or Counter()
    work = as_work(data)
    a = np.asarray(weight, dtype=float)
    S = np.asarray(base_stock, dtype=float).copy()
    K = np.asarray(reserved, dtype=float)
    n = S.size

    known: dict[tuple[int, float], float] = {}  # K stays: a value per (item, level)

    def costs(levels: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return F_i at the rows' levels, each (item, level) played once.

        The exchanges try the same levels for many partners.
        """
        keys = list(zip(rows.tolist(), np.asarray(levels, dtype=float).tolist(), strict=True))
        new = list(dict.fromkeys(k for k in keys if k not in known))
        if new:
            r = np.array([k[0] for k in new], dtype=np.int64)
            lv = np.array([k[1] for k in new], dtype=float)
            counter.calls += 1
            known.update(
                zip(new, play(work, lv, K[r], items=r).expected_cost.tolist(), strict=True)
            )
        return np.array([known[k] for k in keys], dtype=float)

    every = np.arange(n)
    here = costs(S, every)
    room = 1e-9 * max(1.0, abs(limit))
    exchanges = 0
    for _ in range(100 * n):
        # greedy additions: the unit of best saving per unit of row while one fits; the
        # items are separable, so after a unit only that item's next unit is re-priced
        up = costs(S + 1.0, every) - here
        tol = 1e-12 * (1.0 + np.abs(here))
        while True:
            slack = limit - float(a @ S)
            gain = np.where((up < -tol) & (a <= slack + room), up / np.maximum(a, 1e-300), np.inf)
            j = int(np.argmin(gain))
            if not np.isfinite(gain[j]):
                break
            S[j] += 1.0
            here[j] += up[j]
            up[j] = costs(S[j : j + 1] + 1.0, every[j : j + 1])[0] - here[j]
        if exchanges >= max_exchanges:
            break
        exchanges += 1
        # exchanges (``up`` and ``slack`` are those the additions ended with): one more
        # unit of i paid for by the fewest units m of j, or one unit less of j making
        # room for the most units m of i
        moves = []  # (saving, item up, its units, item down, its units)
        ups = np.argsort(up)[:swap_candidates]
        ups = ups[up[ups] < 0]
        if ups.size:
            m = np.ceil(np.maximum(a[ups][:, None] - slack, 0.0) / np.maximum(a, 1e-300) - 1e-9)
            ok = (S - m >= lower - 1e-9) & (ups[:, None] != every) & (a > 0)
            pi, pj = np.nonzero(ok)
            if pi.size:
                down = costs(S[pj] - m[pi, pj], pj) - here[pj]
                gain = up[ups[pi]] + down
                k = int(np.argmin(gain))
                moves.append((gain[k], ups[pi[k]], 1.0, pj[k], m[pi[k], pj[k]]))
        down1 = np.full(n, np.inf)
        can = np.flatnonzero(S - 1.0 >= lower - 1e-9)
        if can.size:
            down1[can] = costs(S[can] - 1.0, can) - here[can]
            downs = can[np.argsort(down1[can])[:swap_candidates]]
            m = np.floor((slack + a[downs][:, None]) / np.maximum(a, 1e-300) + 1e-9)
            ok = (m >= 1) & (downs[:, None] != every) & (a > 0) & np.isfinite(m)
            pj, pi = np.nonzero(ok)
            if pi.size:
                gain_up = costs(S[pi] + m[pj, pi], pi) - here[pi]
                gain = gain_up + down1[downs[pj]]
                k = int(np.argmin(gain))
                moves.append((gain[k], pi[k], m[pj[k], pi[k]], downs[pj[k]], 1.0))
        if not moves:
            break
        best = min(moves, key=lambda mv: mv[0])
        if not best[0] < -1e-12 * (1.0 + abs(float(here.sum()))):
            break
        _, i_, m_up, j_, m_down = best
        S[i_] += m_up
        S[j_] -= m_down
        here[[i_, j_]] = costs(S[[i_, j_]], np.array([i_, j_]))
    return S
