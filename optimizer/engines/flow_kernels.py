r"""Compiled kernels of the lost-sales flow solver: the recourse as a min-cost flow of stock units.

With lost sales the inventory position of an item never changes: every unit sold is
re-ordered at once, so the :math:`S` units of an item circulate. In one scenario a unit
either sits on hand from period :math:`t` to :math:`t+1` (costing :math:`h` in costed
periods) or serves a demand in period :math:`t` and comes back when the re-order arrives,
in period :math:`a_t > t` (:math:`a_t \ge H`: after the horizon). Serving a unit of
demand saves what the demand would otherwise cost: :math:`p` for the part beyond the
emergency capacity :math:`\bar e`, the premium :math:`\pi < p` for the part within it,
nothing in the uncosted warm-up. So the recourse of scenario :math:`w` at plan :math:`S` is
a min-cost flow on the time-ordered graph

* nodes :math:`t = t_0..H-1` and a sink, supplies :math:`S - L\mu` at the item's first
  live period :math:`t_0` and :math:`\mu` at each start-up pipeline arrival;
* hold arcs :math:`t \to t+1` (the last into the sink), cost :math:`h [t \ge W]`,
  unbounded (the flow is :math:`I_t`);
* sale arcs :math:`t \to a_t`: capacity :math:`(d_t - \bar e)^+` at cost :math:`-p` and
  :math:`\min(d_t, \bar e)` at cost :math:`-\pi` in costed periods, :math:`d_t` at cost 0
  in the warm-up (the flow is :math:`s_t`; :math:`e_t, n_t` follow).

Successive shortest paths from :math:`t_0` give each scenario's cost
:math:`Q_w(S)` as a convex piecewise-linear function exactly: every augmentation is a
segment whose slope is the path's cost. Summing the slopes with probabilities
:math:`p_w` gives the item's expected cost curve :math:`Q(S)`; the optimal plan is the
first breakpoint where its right slope (plus a price :math:`\lambda a_i` for a priced
budget or storage row) turns non-negative. A reserved capacity :math:`K` (fee
:math:`f` per costed period) caps the emergency arcs at :math:`\min(\bar e, K)`; the
expected cost is jointly convex in :math:`(S, K)` and :math:`K` is found by a convex
line search around the exact inner solve in :math:`S`. The shortest-path distances of
each augmentation are an optimal dual of the flow; from them follow the duals of the caps
:math:`e_t \le K` (:func:`_cap_gradient`) and so an exact subgradient of the
expected cost in :math:`K` (:meth:`ItemCurve.cap_subgradient`), which lets the line
search use tangents instead of secants.

:mod:`optimizer.engines.flow_curves` turns the kernels' output into curves and recourse
arrays. The Pyomo model stays the reference: ``tests/test_lost_sales_flow.py`` proves this path
reaches its optimum on every eligible instance kind.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

INF = np.inf
#: Residual capacities below this are treated as zero (units of stock).
TOL = 1e-9


# ------------------------------------------------------------------ numba kernel ----
@njit(cache=True)
def _arc(m, u, v, capacity, unit_cost, tail, head, cap, cost):
    """Append arc ``u -> v``; return the new arc count."""
    tail[m] = u
    head[m] = v
    cap[m] = capacity
    cost[m] = unit_cost
    return m + 1


@njit(cache=True)
def _build_arcs(first, W, H, d, a, h, p, prem, cap_e, tail, head, cap, cost):
    r"""Arcs of one scenario's graph (local node ``t - first``, sink ``H - first``).

    Returns the number of arcs and the no-sale cost :math:`\sum_{t \ge W} f_t(d_t)`.
    Arcs are listed by tail period, hold arc first, so a forward sweep in list order
    follows time.
    """
    m = 0
    base = 0.0
    sink = H - first
    for t in range(first, H):
        u = t - first
        m = _arc(m, u, u + 1, INF, h if t >= W else 0.0, tail, head, cap, cost)
        dt = d[t]
        if dt <= 0.0:
            continue
        v = min(min(a[t], H) - first, sink)
        if t < W:  # warm-up: a sale saves nothing but frees the unit until it returns
            m = _arc(m, u, v, dt, 0.0, tail, head, cap, cost)
            continue
        low = 0.0
        if prem < p and cap_e > 0.0:
            low = min(dt, cap_e)
        high = dt - low
        base += p * high + prem * low
        if high > 0.0:
            m = _arc(m, u, v, high, -p, tail, head, cap, cost)
        if low > 0.0:
            m = _arc(m, u, v, low, -prem, tail, head, cap, cost)
    return m, base


@njit(cache=True)
def _shortest(n_nodes, m, tail, head, cap, cost, flow, dist, pred, eps):
    """Bellman-Ford on the residual graph from the nodes whose ``dist`` is preset to 0.

    Arcs are listed by tail period, so one sweep in list order relaxes every forward
    residual arc in topological order and one sweep in reverse order every backward one;
    the sweeps alternate until one changes nothing (two sweeps on most calls). Labels
    improve only by more than ``eps`` (round-off on a zero-cost cycle must not pass for
    a negative one). ``pred[v]``: arc into ``v`` (``k`` forward, ``-k-1`` backward,
    ``-(m+1)`` none). Returns False if the sweeps do not settle or the path into the
    sink is not simple.
    """
    forward = True
    sweeps = 0
    while sweeps < 2 * n_nodes + 4:
        changed = False
        if forward:
            for k in range(m):
                if flow[k] < cap[k] - TOL:
                    du = dist[tail[k]]
                    if du < INF:
                        nd = du + cost[k]
                        if nd < dist[head[k]] - eps:
                            dist[head[k]] = nd
                            pred[head[k]] = k
                            changed = True
        else:
            for k in range(m - 1, -1, -1):
                if flow[k] > TOL:
                    du = dist[head[k]]
                    if du < INF:
                        nd = du - cost[k]
                        if nd < dist[tail[k]] - eps:
                            dist[tail[k]] = nd
                            pred[tail[k]] = -k - 1
                            changed = True
        if sweeps > 0 and not changed:
            v = n_nodes - 1  # the sink: its predecessor chain must end within n_nodes steps
            for _ in range(n_nodes + 1):
                k = pred[v]
                if k == -(m + 1):
                    return True
                v = tail[k] if k >= 0 else head[-k - 1]
            return False
        forward = not forward
        sweeps += 1
    return False


@njit(cache=True)
def _augment(sink, m, cap, flow, tail, head, pred, limit):
    """Push up to ``limit`` along the predecessor path into ``sink``.

    Returns the amount and the node where the path starts.
    """
    amount = limit
    v = sink
    while pred[v] != -(m + 1):
        k = pred[v]
        if k >= 0:
            amount = min(amount, cap[k] - flow[k])
            v = tail[k]
        else:
            k = -k - 1
            amount = min(amount, flow[k])
            v = head[k]
    if amount < INF:
        _push(sink, m, flow, tail, head, pred, amount)
    return amount, v


@njit(cache=True)
def _scenario(
    first,
    W,
    H,
    d,
    a,
    h,
    p,
    prem,
    cap_e,
    pipe,
    target,
    seg_x,
    seg_g,
    I_out,
    s_out,
    seg_I,
    seg_s,
    store,
    seg_k,
    k_grad,
):
    r"""One scenario's recourse.

    ``target < 0``: trace the curve :math:`Q_w(L\mu + x)` into ``seg_x`` (segment starts)
    and ``seg_g`` (slopes), and with ``store`` the stock :math:`I_t, s_t` at each segment
    start into ``seg_I, seg_s``; return ``(Q_w(L\mu), n_segments)``,
    ``n_segments = -1`` on overflow or a failed shortest-path search. ``target >= 0``:
    solve at :math:`x = S - L\mu` = ``target``, write :math:`I_t, s_t` and return
    ``(Q_w(S), 0)``.

    With ``k_grad`` (tracing) ``seg_k[k]`` gets :func:`_cap_gradient` for the node
    potentials of segment ``k``.
    """
    n_nodes = H - first + 1
    sink = n_nodes - 1
    cap_arcs = 3 * n_nodes
    tail = np.empty(cap_arcs, np.int64)
    head = np.empty(cap_arcs, np.int64)
    cap = np.empty(cap_arcs)
    cost = np.empty(cap_arcs)
    m, q = _build_arcs(first, W, H, d, a, h, p, prem, cap_e, tail, head, cap, cost)
    flow = np.zeros(m)
    big = 1.0
    for k in range(m):
        big = max(big, abs(cost[k]))
    eps = 1e-12 * big * n_nodes
    dist = np.empty(n_nodes)
    pred = np.empty(n_nodes, np.int64)
    none = -(m + 1)
    # phase 1: route the start-up pipeline (fixed supplies) at least cost
    remaining = np.zeros(n_nodes)
    left = 0.0
    for t in range(first, H):
        remaining[t - first] = pipe[t]
        left += pipe[t]
    while left > TOL:
        sources = 0
        for v in range(n_nodes):
            dist[v] = INF
            pred[v] = none
            if remaining[v] > TOL:
                dist[v] = 0.0
                sources += 1
        if sources == 0:  # only round-off crumbs (each below TOL) are left
            break
        if not _shortest(n_nodes, m, tail, head, cap, cost, flow, dist, pred, eps):
            return q, -1
        if dist[sink] == INF:
            return q, -1
        amount, source = _augment(
            sink,
            m,
            cap,
            flow,
            tail,
            head,
            pred,
            _limit_from(sink, m, cap, flow, tail, head, pred, remaining),
        )
        q += amount * dist[sink]
        remaining[source] -= amount
        left -= amount
    # phase 2: units of S - L mu enter at the first live period
    x = 0.0
    n_seg = 0
    max_seg = seg_x.shape[0]
    while True:
        if target >= 0.0 and x >= target - TOL:
            break
        for v in range(n_nodes):
            dist[v] = INF
            pred[v] = none
        dist[0] = 0.0
        if not _shortest(n_nodes, m, tail, head, cap, cost, flow, dist, pred, eps):
            return q, -1
        if dist[sink] == INF:
            return q, -1
        slope = dist[sink]
        if target < 0.0:
            if n_seg >= max_seg:
                return q, -1
            seg_x[n_seg] = x
            seg_g[n_seg] = slope
            if store:
                _write_stock(first, H, m, tail, head, cap, flow, x, seg_I[n_seg], seg_s[n_seg])
            if k_grad:
                seg_k[n_seg] = _cap_gradient(first, W, H, d, a, p, prem, cap_e, dist)
            n_seg += 1
            amount, _ = _augment(sink, m, cap, flow, tail, head, pred, INF)
            if amount == INF:
                return q, n_seg
            x += amount
        else:
            amount, _ = _augment(sink, m, cap, flow, tail, head, pred, target - x)
            if amount == INF:  # the unbounded hold path: push the rest along it
                amount = target - x
                _push(sink, m, flow, tail, head, pred, amount)
            q += amount * slope
            x += amount
    _write_stock(first, H, m, tail, head, cap, flow, target, I_out, s_out)
    return q, 0


@njit(cache=True)
def _cap_gradient(first, W, H, d, a, p, prem, cap_e, dist):
    r"""Compute :math:`\sum_t \mu_t`, the duals of the emergency caps :math:`e_t \le \bar e`.

    They go with node potentials ``dist`` (shortest-path distances of the current
    residual graph, an optimal dual of the current flow).

    A period whose demand reaches the cap has
    :math:`\mu_t = -(p - \pi)\,\mathrm{clip}((r_t - \pi)/(p - \pi), 0, 1)` with
    :math:`r_t = \phi(t) - \phi(a_t)` the value of a unit of stock sold in period
    :math:`t` against its return: one more unit of cap saves :math:`p - \pi` where
    demand goes unmet even at that value (:math:`r_t \ge p`), nothing where stock is
    cheaper than the premium (:math:`r_t \le \pi`), and :math:`r_t - \pi` between.
    Demand below the cap leaves it slack (:math:`\mu_t = 0`).
    """
    total = 0.0
    if prem >= p:
        return total
    sink = H - first
    for t in range(max(first, W), H):
        dt = d[t]
        if dt <= 0.0 or dt < cap_e:
            continue
        u = t - first
        v = min(min(a[t], H) - first, sink)
        r = dist[u] - dist[v]
        total -= min(max(r - prem, 0.0), p - prem)
    return total


@njit(cache=True)
def _write_stock(first, H, m, tail, head, cap, flow, x, I_out, s_out):
    """Write on hand :math:`I_t` and sales :math:`s_t` of the current flow.

    :math:`I_t` are the hold-arc flows (``x`` before the first live period), :math:`s_t`
    the sale-arc flows.
    """
    for t in range(H):
        I_out[t] = 0.0
        s_out[t] = 0.0
    for t in range(first):
        I_out[t] = x
    for k in range(m):
        t = tail[k] + first
        if head[k] == tail[k] + 1 and cap[k] == INF:
            if t < H:
                I_out[t] = flow[k]
        else:
            s_out[t] += flow[k]


@njit(cache=True)
def _limit_from(sink, m, cap, flow, tail, head, pred, remaining):
    v = sink
    while pred[v] != -(m + 1):
        k = pred[v]
        v = tail[k] if k >= 0 else head[-k - 1]
    return remaining[v]


@njit(cache=True)
def _push(sink, m, flow, tail, head, pred, amount):
    """Send ``amount`` along the predecessor path into ``sink``."""
    v = sink
    while pred[v] != -(m + 1):
        k = pred[v]
        if k >= 0:
            flow[k] += amount
            v = tail[k]
        else:
            k = -k - 1
            flow[k] -= amount
            v = head[k]


@njit(cache=True, parallel=True)
def item_curves(
    first,
    W,
    d,
    a,
    h,
    p,
    prem,
    cap_e,
    pipe,
    seg_x,
    seg_g,
    n_seg,
    q0,
    seg_I,
    seg_s,
    store,
    seg_k,
    k_grad,
):
    r"""Trace every scenario's curve :math:`Q_w(L\mu + x)`, in parallel (:func:`_scenario`).

    Writes segment starts and slopes into ``seg_x[w]``, ``seg_g[w]``, :math:`Q_w(L\mu)`
    into ``q0[w]`` and the segment count (-1 on failure) into ``n_seg[w]``.
    """
    N, H = d.shape
    for w in prange(N):
        I_tmp = np.empty(H)
        s_tmp = np.empty(H)
        q, k = _scenario(
            first,
            W,
            H,
            d[w],
            a[w],
            h,
            p,
            prem,
            cap_e,
            pipe,
            -1.0,
            seg_x[w],
            seg_g[w],
            I_tmp,
            s_tmp,
            seg_I[w],
            seg_s[w],
            store,
            seg_k[w],
            k_grad,
        )
        q0[w] = q
        n_seg[w] = k


@njit(cache=True, parallel=True)
def item_flows(first, W, d, a, h, p, prem, cap_e, pipe, target, I_out, s_out, q_out):
    r"""Solve every scenario's flow at :math:`x = S - L\mu` = ``target[w]``, in parallel.

    Writes :math:`I_t, s_t` into ``I_out[w], s_out[w]`` and :math:`Q_w(S)` into
    ``q_out[w]`` (nan on failure).
    """
    N, H = d.shape
    for w in prange(N):
        dummy = np.empty(1)
        dummy2 = np.empty((1, 1))
        q, k = _scenario(
            first,
            W,
            H,
            d[w],
            a[w],
            h,
            p,
            prem,
            cap_e,
            pipe,
            target[w],
            dummy,
            dummy,
            I_out[w],
            s_out[w],
            dummy2,
            dummy2,
            False,
            dummy,
            False,
        )
        q_out[w] = q if k == 0 else np.nan


@njit(cache=True, parallel=True)
def interpolate_flows(seg_x, seg_g, n_seg, q0, seg_I, seg_s, target, I_out, s_out, q_out):
    """Interpolate the stock and the cost :math:`Q_w` at ``target`` from the segment starts.

    The stock is linear inside a segment (one augmenting path); on the last (unbounded)
    segment the extra units are held all along.
    """
    N = seg_x.shape[0]
    H = I_out.shape[1]
    for w in prange(N):
        x = target[w]
        k = 0
        q = q0[w]
        while k + 1 < n_seg[w] and seg_x[w, k + 1] <= x:
            q += seg_g[w, k] * (seg_x[w, k + 1] - seg_x[w, k])
            k += 1
        q_out[w] = q + seg_g[w, k] * (x - seg_x[w, k])
        if k + 1 < n_seg[w]:
            frac = (x - seg_x[w, k]) / (seg_x[w, k + 1] - seg_x[w, k])
            for t in range(H):
                I_out[w, t] = seg_I[w, k, t] + frac * (seg_I[w, k + 1, t] - seg_I[w, k, t])
                s_out[w, t] = seg_s[w, k, t] + frac * (seg_s[w, k + 1, t] - seg_s[w, k, t])
        else:
            for t in range(H):
                I_out[w, t] = seg_I[w, k, t] + (x - seg_x[w, k])
                s_out[w, t] = seg_s[w, k, t]


# ------------------------------------------------------------------ item level ------
