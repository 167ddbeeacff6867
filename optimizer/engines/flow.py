r"""Plans from the exact lost-sales flow solver (:mod:`optimizer.engines.flow_curves`).

Puts item curves together into a solution of the whole program:

* separable programs: each item at the minimiser of its expected-cost curve; an item that
  reserves emergency capacity gets :math:`K` by Kelley's cutting planes on the convex
  function :math:`F(K) = T f K + \min_S Q(S; K)`, each evaluation an exact inner solve
  that also yields a subgradient (from the optimal flows' node potentials);
* one budget or storage row :math:`\sum_i a_i S_i \le R` (no reserving item): the exact
  Lagrangian price :math:`\lambda^*` from a sweep over every item's curve breakpoints
  (at :math:`\lambda` item :math:`i` sits where its slope plus :math:`\lambda a_i` turns
  non-negative); the item(s) indifferent at :math:`\lambda^*` fill the row exactly, which
  satisfies the KKT conditions;
* wait-and-see: each scenario at the minimiser of its own curve;
* fixed plans: the optimal recourse at the given :math:`S, K`.

:class:`FlowEngine` is the ``flow`` engine; when the solver gives up
(:class:`~optimizer.engines.flow_curves.FlowFailure`) the next engine that accepts the
program solves it.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager

import numba
import numpy as np

from optimizer.engines.base import (
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
    first_stage,
    hindsight_only,
)
from optimizer.engines.flow_curves import (
    FlowFailure,
    ItemCurve,
    ScenarioCurves,
    expected_curve,
    item_recourse,
    scenario_curves,
)
from optimizer.engines.price import certified, combine_weight
from optimizer.program.data import ProgramData
from optimizer.program.verifier import RecourseArrays

log = logging.getLogger(__name__)


def flow_refusal(data: ProgramData, request: SolveRequest) -> str | None:
    """Why :func:`solve_flow` does not solve ``data`` exactly in this mode (None: it does).

    Lost sales, no CVaR, no fill-rate row in force (wait-and-see and
    ``keep_fill_rate=False`` drop them); an optimised plan may be coupled by one budget
    or storage row; wait-and-see needs neither a plan row nor a reserving item.
    """
    anticipative = request.anticipative
    if data.backorder:
        return "it needs lost sales (this program has backorders)"
    if data.uses_cvar:
        return "it needs an objective without CVaR"
    if request.keep_fill_rate and not anticipative and not np.isnan(data.fill_rate).all():
        return "it needs items without fill-rate targets"
    if request.fixed_plan:
        return None
    if anticipative:  # plan rows hold per scenario there: left to the LP
        if not data.is_separable:
            return "it solves wait-and-see only without budget or storage rows"
        if data.reserves.any():
            return "it solves wait-and-see only without reserved capacity"
        return None
    if data.budget is not None and data.storage is not None:
        return "it handles at most one plan row (budget or storage), not both"
    return None


def flow_eligible(
    data: ProgramData,
    *,
    anticipative: bool = False,
    base_stock: np.ndarray | None = None,
    keep_fill_rate: bool = True,
) -> bool:
    """Tell whether :func:`solve_flow` solves ``data`` exactly in this mode."""
    request = SolveRequest(
        anticipative=anticipative, base_stock=base_stock, keep_fill_rate=keep_fill_rate
    )
    return flow_refusal(data, request) is None


class FlowEngine:
    """Lost sales without fill-rate targets or CVaR: exact min-cost-flow curves."""

    name = "flow"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Accept lost sales without fill-rate targets or CVaR (see :func:`flow_refusal`)."""
        if reason := hindsight_only(request):
            return reason
        return flow_refusal(data, request)

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Solve item by item on the exact min-cost-flow cost curves (:func:`solve_flow`)."""
        return solve_flow(data, request, workers=config.workers, time_limit=config.time_limit)


@contextmanager
def _threads(workers: int):
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def solve_flow(
    data: ProgramData,
    request: SolveRequest | None = None,
    *,
    workers: int = 2,
    time_limit: float | None = None,
) -> EngineResult:
    r"""Solve (or price) ``data`` with the flow solver; see the module docstring.

    Returns
    -------
    EngineResult
        With ``details["price"]`` (:math:`\lambda^*`, 0 when no row binds).

    Raises
    ------
    ValueError
        When :func:`flow_refusal` declines the program.
    FlowFailure
        When a trace or the price search gives up (the LP is then the safe answer).
    """
    request = request or SolveRequest()
    reason = flow_refusal(data, request)
    if reason is not None:
        raise ValueError(f"the flow engine cannot solve this program: {reason}")
    anticipative, base_stock, reserved = request.anticipative, request.base_stock, request.reserved
    start = time.perf_counter()

    def out_of_time() -> bool:
        return time_limit is not None and time.perf_counter() - start >= time_limit

    n, N, H = data.demand.shape
    T = data.periods
    plans = N if anticipative else 1
    S = np.zeros((n, plans))
    K = np.zeros((n, plans))
    price = 0.0
    rec = {k: np.zeros((n, N, H)) for k in ("I", "s", "n", "e", "B", "r")}
    objective = 0.0
    done = np.zeros(n, dtype=bool)

    def record(i: int, curves: ScenarioCurves | None = None) -> None:
        """Optimal recourse of item ``i`` at its plan into ``rec`` and the objective."""
        nonlocal objective
        cap = _emergency_cap(data, i, K[i, 0])
        out = item_recourse(data, i, S[i] if anticipative else S[i, 0], cap, curves=curves)
        for k in ("I", "s", "n", "e"):
            rec[k][i] = out[k]
        objective += float(data.probability @ out["cost"])
        if data.reserves[i]:
            objective += T * float(data.fee[i]) * K[i, 0]
        done[i] = True

    with _threads(workers):
        if base_stock is not None:
            S[:, 0] = np.asarray(base_stock, dtype=float)
            if reserved is not None:
                K[:, 0] = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
        elif anticipative:
            for i in range(n):
                if out_of_time():
                    return _time_limit(start)
                S[i] = data.min_base_stock[i] + _scenario_argmins(data, i)
        else:
            weight, limit = _plan_row(data)
            if limit is None:  # each item's stock straight from its traced curves
                for i in range(n):
                    if out_of_time():
                        return _time_limit(start)
                    S[i, 0], K[i, 0], traced = _best_item_plan(data, i)
                    record(i, traced)
            elif data.reserves.any():
                found = _priced_plan_with_reserves(data, weight, limit, out_of_time)
                if found is None:
                    return _time_limit(start)
                if found[0] is None:
                    return _stopped(
                        start,
                        Termination.INFEASIBLE,
                        "Infeasible (the plan row cannot cover the start-up pipelines)",
                    )
                S[:, 0], K[:, 0], price = found
            else:
                curves = []
                for i in range(n):
                    if out_of_time():
                        return _time_limit(start)
                    curves.append(expected_curve(data, i))
                x, price = _priced_plan(curves, weight, limit - float(weight @ data.min_base_stock))
                if x is None:
                    return _stopped(
                        start,
                        Termination.INFEASIBLE,
                        "Infeasible (the plan row cannot cover the start-up pipelines)",
                    )
                S[:, 0] = data.min_base_stock + x
        for i in np.nonzero(~done)[0]:
            if out_of_time():
                return _time_limit(start)
            record(int(i))
    return EngineResult(
        status=SolutionStatus.OPTIMAL,
        termination=Termination.CONVERGED,
        message="Optimal (exact lost-sales flow)",
        objective=objective,
        base_stock=first_stage(S, request),
        reserved=first_stage(K, request),
        recourse=RecourseArrays(**rec),
        solve_seconds=time.perf_counter() - start,
        gap=0.0,
        details={"price": price},
    )


def _stopped(start: float, termination: Termination, message: str) -> EngineResult:
    """Build the result of a solve that ends without a plan."""
    return EngineResult(
        SolutionStatus.NO_SOLUTION, termination, message, solve_seconds=time.perf_counter() - start
    )


def _time_limit(start: float) -> EngineResult:
    return _stopped(start, Termination.TIME_LIMIT, "Time limit reached (flow engine)")


def _plan_row(data: ProgramData) -> tuple[np.ndarray, float | None]:
    if data.budget is not None:
        return data.unit_cost, float(data.budget)
    if data.storage is not None:
        return data.volume, float(data.storage)
    return np.zeros(data.n_items), None


def _emergency_cap(data: ProgramData, i: int, reserved: float) -> float | None:
    """Emergency arcs' capacity: ``min(capacity, K)`` for a reserving item."""
    return min(float(data.capacity[i]), reserved) if data.reserves[i] else None


def _scenario_argmins(data: ProgramData, i: int) -> np.ndarray:
    r""":math:`S_w - L\mu` minimising each scenario's own curve (wait-and-see)."""
    curves = scenario_curves(data, i)
    seg_x, seg_g, n_seg = curves.x, curves.slope, curves.n_seg
    valid = np.arange(seg_x.shape[1])[None, :] < n_seg[:, None]
    scale = max(1.0, float(np.abs(np.where(valid, seg_g, 0.0)).max()))
    turned = valid & (seg_g >= -1e-12 * scale)
    j = np.argmax(turned, axis=1)
    return seg_x[np.arange(seg_x.shape[0]), j]


def _best_item_plan(data: ProgramData, i: int) -> tuple[float, float, ScenarioCurves]:
    """Find the optimal :math:`(S_i, K_i)` of one item on its own.

    Also returns its scenario curves at :math:`K_i`, traced with stock (for the recourse).
    """
    if not data.reserves[i]:
        curves = scenario_curves(data, i, with_stock=True)
        curve = expected_curve(data, i, curves=curves)
        return data.min_base_stock[i] + curve.argmin(), 0.0, curves
    fee = data.periods * float(data.fee[i])
    cap = _reserve_range(data, i)
    argmin_at: dict[float, float] = {}

    def total(k: float) -> tuple[float, float]:
        r""":math:`F(K) = T f K + \min_S Q(S; K)` (exact inner solve) and a subgradient."""
        curve = expected_curve(data, i, emergency_cap=k, with_cap_gradient=True)
        j = curve.argmin_index()
        argmin_at[k] = float(curve.x[j])
        return fee * k + curve.value(argmin_at[k]), fee + curve.cap_subgradient(j=j)

    best_k = minimise_with_subgradients(total, 0.0, cap)
    curves = scenario_curves(data, i, _emergency_cap(data, i, best_k), with_stock=True)
    return data.min_base_stock[i] + argmin_at[best_k], best_k, curves


def _reserve_range(data: ProgramData, i: int) -> float:
    """Return the largest useful :math:`K`: the emergency capacity, else the peak demand."""
    cap = float(data.capacity[i])
    return cap if np.isfinite(cap) else float(data.demand[i].max(initial=0.0))


def minimise_with_subgradients(
    f,
    lo: float,
    hi: float,
    *,
    rel_tol: float = 1e-9,
    x_tol: float = 1e-9,
    max_iter: int = 100,
    hint: float | None = None,
) -> float:
    r"""Minimise a convex function of one variable on ``[lo, hi]`` by Kelley's cutting planes.

    ``f(x)`` returns ``(F(x), g)`` with :math:`g \in \partial F(x)`.

    An end is the answer when its subgradient points outwards (one evaluation each).
    Otherwise a bracket :math:`[a, b]` with :math:`g_a < 0 < g_b` shrinks: the tangents
    at :math:`a` and :math:`b` bound :math:`F` from below, lowest where they cross; that
    crossing is the next trial and replaces the end on its side of the minimiser. On a
    piecewise-linear :math:`F` (the expected cost in :math:`K`) the crossing of the
    tangents on the two pieces next to the minimising kink is that kink. It stops when
    the best value is within ``rel_tol`` of the bound or the bracket is ``x_tol`` of the
    range wide, and returns the best point evaluated. A ``hint`` inside the range (say
    the minimiser of a nearby function) is evaluated first and replaces the end on its
    side.
    """
    span = max(abs(hi - lo), 1e-300)
    f_a, g_a = f(lo)
    if g_a >= 0.0:
        return lo
    f_b, g_b = f(hi)
    if g_b <= 0.0:
        return hi
    a, b = lo, hi
    best_x, best = (lo, f_a) if f_a <= f_b else (hi, f_b)
    for _ in range(max_iter):
        if hint is not None and a < hint < b:  # the first trial
            c, hint = hint, None
        else:
            c = min(max((f_b - f_a + g_a * a - g_b * b) / (g_a - g_b), a), b)
            lower = f_a + g_a * (c - a)
            if best - lower <= rel_tol * max(1.0, abs(best)) or b - a <= x_tol * span:
                break
        f_c, g_c = f(c)
        if f_c < best:
            best_x, best = c, f_c
        if g_c == 0.0:
            return c
        if g_c < 0.0:
            a, f_a, g_a = c, f_c, g_c
        else:
            b, f_b, g_b = c, f_c, g_c
    return best_x


def _priced_plan_with_reserves(
    data: ProgramData,
    weight: np.ndarray,
    limit: float,
    out_of_time,
    *,
    rel_tol: float = 1e-10,
    max_iter: int = 200,
):
    r"""One plan row :math:`\sum_i a_i S_i \le R` when some items reserve capacity.

    An item's answer to a price :math:`\lambda` is then a two-dimensional problem
    (:math:`S` and :math:`K`), so the breakpoint sweep of :func:`_priced_plan` does not
    apply. Instead trial prices bracket :math:`\lambda^*` between one at which the row
    is violated and one at which it holds; plain items answer from their curves,
    reserving items by the :math:`K` line search (curves memoised per :math:`K`).

    The trial prices come from a model of the row use: the exact sweep
    (:class:`PriceSweep`) over every item's curve with reserving items frozen at their
    unpriced :math:`K`, shifted by how far the last answer's use lay from it (reserving
    items also trade :math:`S` for :math:`K` as the price rises, which the frozen
    curves miss). A trial outside the bracket is pulled inside. On the 300 x 1,000
    benchmark this needs five priced answers where bisection needed fifteen.

    The convex combination of the two bracketing answers that fills the row is
    feasible; the search stops when its cost meets the Lagrangian lower bound to
    ``rel_tol`` (the certificate of :mod:`optimizer.engines.price`).

    Returns ``(S, K, lambda*)``, ``(None, None, 0)`` when the row cannot hold the
    pipelines, ``None`` when out of time.
    """
    n = data.n_items
    T = data.periods
    if float(weight @ data.min_base_stock) > limit * (1 + 1e-12):
        return None, None, 0.0
    plain = {i: expected_curve(data, i) for i in range(n) if not data.reserves[i]}
    memo: dict[tuple[int, float], ItemCurve] = {}

    def curve_at(i: int, k: float) -> ItemCurve:
        if (i, k) not in memo:
            memo[(i, k)] = expected_curve(
                data, i, emergency_cap=_emergency_cap(data, i, k), with_cap_gradient=True
            )
        return memo[(i, k)]

    previous: dict[int, float] = {}  # last K of each reserving item

    def answer(price: float):
        """Each item's optimum at ``price``: S, K, cost without the price, row use."""
        S, K, cost = np.empty(n), np.zeros(n), np.empty(n)
        for i in range(n):
            a = price * float(weight[i])
            if i in plain:
                x = plain[i].argmin(a)
                cost[i] = plain[i].value(x)
            else:
                fee = T * float(data.fee[i])
                hi = _reserve_range(data, i)

                def total(k: float, i=i, a=a, fee=fee) -> tuple[float, float]:
                    c = curve_at(i, k)
                    j = c.argmin_index(a)
                    x = float(c.x[j])
                    return fee * k + c.value(x) + a * x, fee + c.cap_subgradient(a, j)

                k = _still_optimal(total, previous.get(i), hi)
                if k is None:
                    k = minimise_with_subgradients(total, 0.0, hi, hint=previous.get(i))
                previous[i] = k
                c = curve_at(i, k)
                x = c.argmin(a)
                K[i] = k
                cost[i] = fee * k + c.value(x)
            S[i] = data.min_base_stock[i] + x
        return S, K, cost, float(weight @ S)

    lo = 0.0
    lo_ans = answer(0.0)
    if lo_ans[3] <= limit:
        return lo_ans[0], lo_ans[1], 0.0
    # price model: every item along its curve at its unpriced K (an exact sweep), plus
    # an offset for what reserving items do beyond that, refitted at each trial price
    model = PriceSweep(
        [plain[i] if i in plain else curve_at(i, float(lo_ans[1][i])) for i in range(n)], weight
    )
    floor = float(weight @ data.min_base_stock)
    room = limit - floor
    hi, hi_ans = math.inf, None
    trial = model.price(room)
    nudge, climb = 1e-9, 1e-6  # relative steps off a stuck model, growing on each use
    for _ in range(max_iter):
        if out_of_time():
            return None
        ans = answer(trial)
        if ans[3] > limit:
            lo, lo_ans = trial, ans
        else:
            hi, hi_ans = trial, ans
        if hi_ans is not None and (
            hi - lo <= 1e-13 * max(1.0, hi)
            or certified(lo_ans[2], lo_ans[3], hi_ans[2], hi_ans[3], hi, limit, rel_tol)
        ):
            break
        offset = ans[3] - floor - model.use_at(trial)
        trial = model.price(room - offset)
        if hi_ans is None:  # no price holds the row yet: climb at least geometrically
            if trial > 1e15:
                return (None, None, 0.0)
            if not trial >= lo * (1.0 + climb) + climb:
                trial = lo * (1.0 + climb) + climb
                climb *= 4.0
            continue
        # keep strictly inside the bracket; a model stuck at an end steps off it
        gap = nudge * max(hi, 1e-300)
        if trial <= lo + gap or trial >= hi - gap:
            trial = min(max(trial, lo + gap), hi - gap)
            nudge *= 4.0
        if not lo < trial < hi:
            trial = 0.5 * (lo + hi)
    if hi_ans is None:
        raise FlowFailure("the price search found no price at which the plan row holds")
    theta = combine_weight(lo_ans[3], hi_ans[3], limit)
    S = theta * lo_ans[0] + (1 - theta) * hi_ans[0]
    K = theta * lo_ans[1] + (1 - theta) * hi_ans[1]
    log.debug("flow price search: lambda* in [%.6g, %.6g], %d memoised curves", lo, hi, len(memo))
    return S, K, hi


def _still_optimal(f, k: float | None, hi: float) -> float | None:
    """``k`` when the convex ``f`` does not decrease ``delta`` either side of it, else None.

    Between nearby prices the best reservation usually stays on the same kink; with the
    curves memoised, confirming it then costs no new trace.
    """
    if k is None:
        return None
    delta = 1e-8 * max(1.0, hi)
    here = f(k)[0]
    for side in (k - delta, k + delta):
        if 0.0 <= side <= hi and f(side)[0] < here - 1e-12 * max(1.0, abs(here)):
            return None
    return k


def _priced_plan(
    curves: list[ItemCurve], weight: np.ndarray, room: float
) -> tuple[np.ndarray | None, float]:
    r"""Solve :math:`\min \sum_i Q_i(x_i)` s.t. :math:`\sum_i a_i x_i \le` ``room`` exactly.

    Here :math:`x = S - L\mu`.

    Returns ``(x, lambda*)``; ``x`` is None when ``room < 0`` (infeasible).
    """
    return PriceSweep(curves, weight).solve(room)


class PriceSweep:
    r"""The breakpoint sweep for :math:`\min \sum_i Q_i(x_i)` s.t. :math:`\sum_i a_i x_i \le R`.

    Its events are sorted once, for any number of rooms :math:`R`.

    Every curve segment with a negative slope is an event: below the price
    :math:`-Q_i'/a_i` item :math:`i` moves from the segment's start to its end. Sorted by
    falling price, the cumulative row use of the events tells at which price a room
    fills.
    """

    def __init__(self, curves: list[ItemCurve], weight: np.ndarray):
        self.curves = curves
        self.weight = weight
        self.free = np.array([c.argmin() for c in curves])
        self.free_use = float(weight @ self.free)
        theta, width = [np.empty(0)], [np.empty(0)]
        item, seg = [np.empty(0, int)], [np.empty(0, int)]
        for i, c in enumerate(curves):
            if weight[i] <= 0:
                continue
            neg = np.nonzero(c.slope < 0)[0]  # never the last segment: it ends at slope >= 0
            theta.append(-c.slope[neg] / weight[i])
            item.append(np.full(neg.size, i))
            seg.append(neg)
            width.append(np.diff(c.x)[neg])
        theta_a, item_a, seg_a, length = (np.concatenate(v) for v in (theta, item, seg, width))
        order = np.argsort(-theta_a, kind="stable")
        self.theta, self.item, self.seg = theta_a[order], item_a[order], seg_a[order]
        self.use = weight[self.item] * length[order]
        self.cum = np.cumsum(self.use)

    def _overshoot(self, room: float) -> int:
        """Find the first event whose row use overshoots ``room``."""
        return int(np.searchsorted(self.cum, room, side="right"))

    def price(self, room: float) -> float:
        r""":math:`\lambda^*` for ``room`` (0 when the unpriced plan fits)."""
        if self.free_use <= room:
            return 0.0
        k = self._overshoot(room)
        return float(self.theta[k]) if k < self.use.size else 0.0

    def use_at(self, price: float) -> float:
        r"""Row use :math:`\sum_i a_i x_i` of the smallest minimisers at ``price``."""
        if price <= 0.0:
            return self.free_use
        k = int(np.searchsorted(-self.theta, -price, side="left"))  # events above price
        return float(self.cum[k - 1]) if k > 0 else 0.0

    def solve(self, room: float) -> tuple[np.ndarray | None, float]:
        """``(x, lambda*)`` filling ``room``; ``x`` is None when ``room < 0``."""
        if room < -1e-9 * max(1.0, abs(room)):
            return None, 0.0
        if self.free_use <= room:
            return self.free, 0.0
        weight, curves = self.weight, self.curves
        k = self._overshoot(room)
        if k >= self.use.size:  # cannot happen: the free plan overshoots
            return self.free, 0.0
        price = float(self.theta[k])
        ties = np.nonzero(np.abs(self.theta - price) <= 1e-12 * max(1.0, abs(price)))[0]
        full = np.setdiff1d(np.arange(k), ties)
        x = np.where(weight > 0, 0.0, self.free)
        for e in full:
            i, j = self.item[e], self.seg[e]
            x[i] = max(x[i], curves[i].x[j + 1])
        used = float(weight @ x)
        tied_use = float(self.use[ties].sum())
        share = 0.0 if tied_use <= 0 else float(np.clip((room - used) / tied_use, 0.0, 1.0))
        for e in ties:
            i, j = self.item[e], self.seg[e]
            x[i] = max(x[i], curves[i].x[j] + share * (curves[i].x[j + 1] - curves[i].x[j]))
        log.debug("flow price decomposition: lambda* = %.6g, %d tied segment(s)", price, ties.size)
        return x, price
