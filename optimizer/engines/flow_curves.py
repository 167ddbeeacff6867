"""Exact single-item solver for lost sales: cost curves and recourse from the flow kernels.

The compiled kernels (:mod:`optimizer.engines.flow_kernels`, whose docstring derives the
flow) trace each scenario's recourse cost :math:`Q_w(S)` as a convex piecewise-linear
function by successive shortest paths. This module sums them into an item's expected cost
curve (:class:`ItemCurve`, with the subgradient in the emergency cap :math:`K`), keeps the
scenario curves (:class:`ScenarioCurves`) and reads the optimal recourse at a plan off
them (:func:`item_recourse`).

The Pyomo model stays the reference: ``tests/test_lost_sales_flow.py`` proves this path
reaches its optimum on every eligible instance kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from optimizer.engines.base import EngineGaveUp
from optimizer.engines.flow_kernels import interpolate_flows, item_curves, item_flows
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)

#: Most segments a scenario curve may have before the item falls back to the LP.
MAX_SEGMENTS_PER_PERIOD = 8


@dataclass
class ItemCurve:
    r"""Expected cost of one item as a convex piecewise-linear function of :math:`S`.

    Attributes
    ----------
    x : ndarray (m,)
        Breakpoints of :math:`x = S - L\mu`, ascending, ``x[0] = 0``.
    slope : ndarray (m,)
        Right slope :math:`Q'(S)` on ``[x[j], x[j+1])`` (the last one continues forever).
    value0 : float
        :math:`Q(L\mu)`.
    cap_left, cap_right : ndarray (m,) or None
        At each breakpoint, :math:`E\sum_t \mu_t` (the cap duals of
        :mod:`~optimizer.engines.flow_kernels`) for the scenario potentials of the
        segments left and right of it (from curves traced ``with_cap_gradient``);
        :meth:`cap_subgradient` mixes them.
    """

    x: np.ndarray
    slope: np.ndarray
    value0: float
    cap_left: np.ndarray | None = None
    cap_right: np.ndarray | None = None

    def value(self, x: float) -> float:
        r""":math:`Q(L\mu + x)`."""
        ends = np.append(self.x[1:], np.inf)
        length = np.clip(np.minimum(ends, x) - self.x, 0.0, None)
        return float(self.value0 + np.dot(length, self.slope))

    def argmin(self, price: float = 0.0) -> float:
        r"""Smallest minimiser of :math:`Q(L\mu + x) + \text{price}\cdot x`."""
        return float(self.x[self.argmin_index(price)])

    def argmin_index(self, price: float = 0.0) -> int:
        """Index of the breakpoint :meth:`argmin` returns."""
        scale = max(1.0, float(np.abs(self.slope).max(initial=0.0)))
        j = int(np.argmax(self.slope + price >= -1e-12 * scale))
        if self.slope[j] + price < -1e-12 * scale:  # never turns (no holding cost)
            raise ValueError("expected cost decreases without bound in S")
        return j

    def cap_subgradient(self, price: float = 0.0, j: int | None = None) -> float:
        r"""Return :math:`E\sum_t \mu_t` at the minimiser for ``price``: a cap subgradient.

        It comes from one optimal dual of the whole item problem and is a subgradient of
        :math:`\min_x [Q(x; \bar e) + \text{price}\cdot x]` in the cap :math:`\bar e`.

        At a breakpoint :math:`x_j` the scenarios with a breakpoint there may take the
        potentials of either segment; the mix :math:`\theta` of left ones is the one
        whose expected slope is :math:`-\text{price}`, which makes :math:`x_j`
        stationary (the dual of :math:`x`), so the dual is optimal for :math:`(x, \bar e)`
        jointly. (:math:`\theta = 0` at :math:`x_0`, where :math:`x \ge 0` binds.)
        ``j``: :meth:`argmin_index` for ``price`` when the caller has it.
        """
        if j is None:
            j = self.argmin_index(price)
        if j == 0:
            return float(self.cap_right[0])
        left, right = float(self.slope[j - 1]), float(self.slope[j])
        theta = float(np.clip((right + price) / (right - left), 0.0, 1.0))
        return theta * float(self.cap_left[j]) + (1 - theta) * float(self.cap_right[j])


class FlowFailure(EngineGaveUp):
    """The flow solver could not trace a scenario (the next engine, an LP, takes over)."""


def _item_args(data: ProgramData, i: int, emergency_cap: float | None = None) -> tuple:
    cap_e = float(data.capacity[i]) if emergency_cap is None else float(emergency_cap)
    return (
        int(data.start[i]),
        int(data.warmup),
        np.ascontiguousarray(data.demand[i]),
        np.ascontiguousarray(data.arrival[i]),
        float(data.holding[i]),
        float(data.penalty[i]),
        float(data.premium[i]),
        cap_e,
        np.ascontiguousarray(data.pipeline_of(i)),
    )


@dataclass
class ScenarioCurves:
    r"""Each scenario's cost curve of one item (:math:`x = S - L\mu`).

    Attributes
    ----------
    x, slope : ndarray (N, M)
        Segment starts and slopes; row ``w`` uses its first ``n_seg[w]`` entries.
    n_seg : ndarray of int (N,)
    value0 : ndarray (N,)
        :math:`Q_w(L\mu)`.
    I, s : ndarray (N, M, H) or None
        Stock and sales at each segment start (when traced with ``with_stock``).
    cap_grad : ndarray (N, M) or None
        The cap duals :math:`\sum_t \mu_t` of each segment's potentials
        (``with_cap_gradient``).
    """

    x: np.ndarray
    slope: np.ndarray
    n_seg: np.ndarray
    value0: np.ndarray
    I: np.ndarray | None = None  # noqa: E741 - the textbook symbol
    s: np.ndarray | None = None
    cap_grad: np.ndarray | None = None

    def values(self, x: np.ndarray) -> np.ndarray:
        r""":math:`Q_w(L\mu + x_w)` for every scenario."""
        valid = np.arange(self.x.shape[1])[None, :] < self.n_seg[:, None]
        ends = np.where(
            np.arange(self.x.shape[1])[None, :] + 1 < self.n_seg[:, None],
            np.roll(self.x, -1, axis=1),
            np.inf,
        )
        length = np.clip(np.minimum(ends, x[:, None]) - self.x, 0.0, None)
        return self.value0 + np.where(valid, length * self.slope, 0.0).sum(axis=1)


def scenario_curves(
    data: ProgramData,
    i: int,
    emergency_cap: float | None = None,
    *,
    with_stock: bool = False,
    with_cap_gradient: bool = False,
) -> ScenarioCurves:
    """Per-scenario cost curves of item ``i``.

    Raises
    ------
    FlowFailure
        When a scenario needs more than ``MAX_SEGMENTS_PER_PERIOD * H`` segments or its
        path search fails.
    """
    N, H = data.n_scenarios, data.horizon
    for width in (3 * H + 8, MAX_SEGMENTS_PER_PERIOD * H):
        seg_x = np.zeros((N, width))
        seg_g = np.zeros((N, width))
        n_seg = np.zeros(N, dtype=np.int64)
        q0 = np.zeros(N)
        shape = (N, width, H) if with_stock else (N, 1, 1)
        seg_I, seg_s = np.empty(shape), np.empty(shape)
        seg_k = np.zeros((N, width) if with_cap_gradient else (N, 1))
        item_curves(
            *_item_args(data, i, emergency_cap),
            seg_x,
            seg_g,
            n_seg,
            q0,
            seg_I,
            seg_s,
            with_stock,
            seg_k,
            with_cap_gradient,
        )
        if (n_seg > 0).all():
            return ScenarioCurves(
                seg_x,
                seg_g,
                n_seg,
                q0,
                seg_I if with_stock else None,
                seg_s if with_stock else None,
                seg_k if with_cap_gradient else None,
            )
    raise FlowFailure(f"item {i}: a scenario curve could not be traced")


def expected_curve(
    data: ProgramData,
    i: int,
    emergency_cap: float | None = None,
    curves: ScenarioCurves | None = None,
    *,
    with_cap_gradient: bool = False,
) -> ItemCurve:
    r"""Build :math:`Q_i(S) = \sum_w p_w Q_{i,w}(S)` as an :class:`ItemCurve`.

    It is built from ``curves`` when given, with the cap duals at its breakpoints when
    traced with them.
    """
    if curves is None:
        curves = scenario_curves(data, i, emergency_cap, with_cap_gradient=with_cap_gradient)
    seg_x, seg_g, n_seg, q0 = curves.x, curves.slope, curves.n_seg, curves.value0
    prob = data.probability
    w_idx, k_idx = np.nonzero(np.arange(seg_x.shape[1])[None, :] < n_seg[:, None])
    later = k_idx > 0
    w_idx, k_idx = w_idx[later], k_idx[later]
    at = seg_x[w_idx, k_idx]
    order = np.argsort(at)
    at = at[order]
    first_of_run = np.concatenate([[True], at[1:] != at[:-1]]) if at.size else np.empty(0, bool)
    start_idx = np.nonzero(first_of_run)[0]
    xs = at[start_idx]

    def on_breakpoints(per_segment: np.ndarray) -> tuple[float, np.ndarray]:
        """Take the expectation of a per-segment quantity at the breakpoints ``xs``.

        Returns its expected value on the first segments and its change at each distinct
        breakpoint (the quantity is constant on every scenario's segments).
        """
        first = float(np.dot(prob, per_segment[:, 0]))
        if not at.size:
            return first, np.empty(0)
        change = prob[w_idx] * (per_segment[w_idx, k_idx] - per_segment[w_idx, k_idx - 1])
        return first, np.add.reduceat(change[order], start_idx)

    first_slope, sums = on_breakpoints(seg_g)
    x = np.concatenate([[0.0], xs[xs > 0]])
    slope = first_slope + np.concatenate([[0.0], np.cumsum(sums)])
    if xs.size and xs[0] == 0.0:  # a jump at 0 belongs to the first segment
        slope = np.concatenate([[first_slope + sums[0]], slope[2:]])
    keep = np.concatenate([[True], np.diff(slope) != 0.0])  # merge equal-slope segments
    curve = ItemCurve(x=x[keep], slope=slope[keep], value0=float(np.dot(prob, q0)))
    if curves.cap_grad is not None:
        # each scenario's share at a point: its segment containing the point (right), or
        # for one with a breakpoint there the segment before it (left)
        first, grouped = on_breakpoints(curves.cap_grad)
        if at.size:
            right = first + np.cumsum(grouped)
            left = right - grouped
            at_x = xs > 0
            cap_right = np.concatenate([[right[0] if xs[0] == 0 else first], right[at_x]])
            cap_left = np.concatenate([[first], left[at_x]])
        else:
            cap_right = cap_left = np.array([first])
        curve.cap_left, curve.cap_right = cap_left[keep], cap_right[keep]
    return curve


def item_recourse(
    data: ProgramData,
    i: int,
    base_stock: np.ndarray | float,
    emergency_cap: float | None = None,
    curves: ScenarioCurves | None = None,
) -> dict[str, np.ndarray]:
    """Optimal recourse of item ``i`` at plan ``base_stock`` (scalar, or (N,) per scenario).

    With ``curves`` traced ``with_stock`` (at the same emergency cap) the stock is
    interpolated from them instead of solved again.

    Returns ``I, s, n, e`` of shape (N, H) and ``cost`` (N,): :math:`Q_{i,w}(S)`.
    """
    N, H = data.n_scenarios, data.horizon
    S = np.broadcast_to(np.asarray(base_stock, dtype=float), (N,))
    target = np.ascontiguousarray(np.maximum(S - data.min_base_stock[i], 0.0))
    I = np.zeros((N, H))  # noqa: E741 - the textbook symbol
    s = np.zeros((N, H))
    args = _item_args(data, i, emergency_cap)
    if curves is not None and curves.I is not None:
        q = np.zeros(N)
        interpolate_flows(
            curves.x, curves.slope, curves.n_seg, curves.value0, curves.I, curves.s, target, I, s, q
        )
    else:
        q = np.zeros(N)
        item_flows(*args, target, I, s, q)
        if np.isnan(q).any():
            raise FlowFailure(f"item {i}: a scenario's recourse could not be solved")
    d = data.demand[i]
    unmet = np.maximum(d - s, 0.0)
    s = np.minimum(s, d)
    cap_e = args[7]
    costed = np.arange(H) >= data.warmup
    if data.premium[i] < data.penalty[i] and cap_e > 0:
        e = np.where(costed[None, :], np.minimum(unmet, cap_e), 0.0)
    else:
        e = np.zeros_like(unmet)
    return {"I": I, "s": s, "n": unmet - e, "e": e, "cost": q}
