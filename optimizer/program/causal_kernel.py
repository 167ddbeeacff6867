r"""Exact causal cost of a base-stock plan, with exact one-sided derivatives (numba).

A scenario's causal cost :math:`C_w(S, K)` is what running the plan period by period
costs, played exactly as :func:`optimizer.program.simulate.simulate_plan` plays it (README,
"The model"): backlog first, then new demand from stock, then emergency supply up to the
capacity :math:`\bar e` (reserved items: :math:`\min(\bar e, K)`), the rest lost or
backordered; orders restore the inventory position to :math:`S` and arrive in the
exogenous periods ``data.arrival``; only the last ``periods`` periods are costed, plus the
reservation fee :math:`T f K`. Every quantity of the play is built from the plan by
``+``, ``-`` and ``min``, so :math:`C_w` is piecewise linear in :math:`(S, K)`.

Forward-mode infinitesimal perturbation analysis propagates, next to each quantity
:math:`x`, its directional derivative :math:`x'(\delta)` for a direction
:math:`\delta = (\delta_S, \delta_K)`. Sums carry tangents linearly; for
:math:`\min(a, b)` the exact rule is :math:`a'` if :math:`a < b`, :math:`b'` if
:math:`b < a` and :math:`\min(a', b')` on a tie. The chain rule holds for directional
derivatives of Lipschitz piecewise-linear maps, so the result is the exact
:math:`C_w'((S, K); \delta)`; with :math:`\delta = +e_S` it is the right derivative in
:math:`S`, with :math:`\delta = -e_S` minus the left one (:data:`DIRECTIONS`). Averaged
with the scenario probabilities they are the exact one-sided derivatives of the sample
average, so a minimiser is certified by :math:`\partial^- \le 0 \le \partial^+`.

Ties are decided with a tolerance: :math:`|a - b| \le \tau (1 + |S| + (L+1)\mu)`
counts as a tie (``tie`` is :math:`\tau`), because a start-up pipeline of
non-integer :math:`\mu` leaves round-off of a few ulps on quantities that are equal in
exact arithmetic (integer demand, integer :math:`S`). The values are never changed; the
derivatives are then those at a point within that distance.

Memory: nothing of shape (n, N, H) is built; each (item, scenario) job keeps one
(H + 1)-vector of arrivals and its tangents. The jobs (all items of a block times all
scenarios) are cut into chunks run under ``prange``. An item index may repeat in a block
(the same item at several plans), which the searches of
:mod:`optimizer.engines.causal_search` use to try many levels in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from optimizer.program.data import ProgramData
from optimizer.program.verifier import COST_LINES

#: Default directions (rows ``(delta_S, delta_K)``): right and left in S, right and left in K.
DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
#: No direction: play for values only (the fastest call).
VALUES_ONLY = np.zeros((0, 2))
#: Relative tie tolerance :math:`\tau` of the ``min`` rule (see the module docstring).
TIE = 1e-11


@njit(cache=True, inline="always")
def _dmin(a, b, da, db, tol):
    r"""Directional derivative of :math:`\min(a, b)` given those of ``a`` and ``b``."""
    if a < b - tol:
        return da
    if b < a - tol:
        return db
    return min(da, db)


@njit(cache=True, parallel=True)
def _play(
    demand,
    arrival,
    items,
    S,
    K,
    dirs,
    backorder,
    warmup,
    mean,
    lead,
    start,
    carrying,
    penalty,
    premium,
    capacity,
    fee,
    reserves,
    tie,
    chunk,
    lines,
    unmet,
    costed_demand,
    dcost,
    dunmet,
):
    """Play jobs ``q = b N + w`` (block row ``b``, scenario ``w``); see :func:`play_plan`.

    Outputs (filled in place): ``lines`` (nb, N, 6), ``unmet`` and ``costed_demand``
    (nb, N), ``dcost`` and ``dunmet`` (nb, N, m).
    """
    nb = items.shape[0]
    N = demand.shape[1]
    H = demand.shape[2]
    m = dirs.shape[0]
    T = H - warmup
    jobs = nb * N
    n_chunks = (jobs + chunk - 1) // chunk
    for c in prange(n_chunks):
        inc = np.empty(H + 1)
        dinc = np.empty((H + 1, m))
        doh = np.empty(m)
        dB = np.empty(m)
        dcap = np.empty(m)
        dr = np.empty(m)
        dsold = np.empty(m)
        dem = np.empty(m)
        sI = np.empty(m)
        sSh = np.empty(m)
        sE = np.empty(m)
        sN = np.empty(m)
        for q in range(c * chunk, min(jobs, (c + 1) * chunk)):
            b = q // N
            w = q - b * N
            i = items[b]
            L = lead[i]
            mu = mean[i]
            s_b = S[b]
            tol = tie * (1.0 + abs(s_b) + (L + 1) * abs(mu))
            for t in range(H + 1):
                inc[t] = 0.0
                for j in range(m):
                    dinc[t, j] = 0.0
            for t in range(start[i], min(start[i] + L, H)):
                inc[t] += mu
            oh = s_b - L * mu
            B = 0.0
            if reserves[i]:
                cap = min(capacity[i], K[b])
            else:
                cap = capacity[i]
            for j in range(m):
                doh[j] = dirs[j, 0]
                dB[j] = 0.0
                if reserves[i]:
                    dcap[j] = _dmin(capacity[i], K[b], 0.0, dirs[j, 1], tol)
                else:
                    dcap[j] = 0.0
                sI[j] = 0.0
                sSh[j] = 0.0
                sE[j] = 0.0
                sN[j] = 0.0
            vI = 0.0
            vSh = 0.0
            vE = 0.0
            vN = 0.0
            vD = 0.0
            for t in range(H):
                avail = oh + inc[t]
                r = 0.0
                if backorder:
                    r = min(B, avail)
                    for j in range(m):
                        da = doh[j] + dinc[t, j]
                        dr[j] = _dmin(B, avail, dB[j], da, tol)
                    avail = avail - r
                dt = demand[i, w, t]
                sold = min(dt, avail)
                gap = dt - sold
                em = min(gap, cap)
                un = gap - em
                for j in range(m):
                    da = doh[j] + dinc[t, j]
                    if backorder:
                        da -= dr[j]
                    dsold[j] = _dmin(dt, avail, 0.0, da, tol)
                    dem[j] = _dmin(gap, cap, -dsold[j], dcap[j], tol)
                    doh[j] = da - dsold[j]
                oh = avail - sold
                if backorder:
                    B = B - r + un
                    order = dt - em
                else:
                    order = sold
                a = arrival[i, w, t]
                if a < H:
                    inc[a] += order
                for j in range(m):
                    dun = -dsold[j] - dem[j]
                    if backorder:
                        dB[j] = dB[j] - dr[j] + dun
                        dord = -dem[j]
                    else:
                        dord = dsold[j]
                    if a < H:
                        dinc[a, j] += dord
                    if t >= warmup:
                        sI[j] += doh[j]
                        sSh[j] += dB[j] if backorder else dun
                        sE[j] += dem[j]
                        sN[j] += dun
                if t >= warmup:
                    vI += oh
                    vSh += B if backorder else un
                    vE += em
                    vN += un
                    vD += dt
            f = fee[i] if reserves[i] else 0.0
            lines[b, w, 0] = carrying[0, i] * vI
            lines[b, w, 1] = carrying[1, i] * vI
            lines[b, w, 2] = carrying[2, i] * vI
            lines[b, w, 3] = penalty[i] * vSh
            lines[b, w, 4] = premium[i] * vE
            lines[b, w, 5] = T * f * K[b] if reserves[i] else 0.0
            unmet[b, w] = vN
            costed_demand[b, w] = vD
            h = carrying[0, i] + carrying[1, i] + carrying[2, i]
            for j in range(m):
                dcost[b, w, j] = (
                    h * sI[j] + penalty[i] * sSh[j] + premium[i] * sE[j] + T * f * dirs[j, 1]
                )
                dunmet[b, w, j] = sN[j]


@dataclass
class CausalPlay:
    r"""Causal costs of a block of (item, plan) rows on every scenario.

    Attributes
    ----------
    items : ndarray of int (nb,)
        Item of each row (may repeat).
    base_stock, reserved : ndarray (nb,)
        :math:`S` and :math:`K` of each row.
    probability : ndarray (N,)
        :math:`p_w`.
    directions : ndarray (m, 2)
        Rows :math:`\delta = (\delta_S, \delta_K)`.
    lines : ndarray (nb, N, 6)
        Costed cost lines per scenario (``COST_LINES``: storage, capital, obsolescence,
        stockout, emergency, reservation).
    unmet, demand : ndarray (nb, N)
        Costed unmet units :math:`\sum_{t \ge W} n_t` and costed demand (the fill-rate
        numerator is ``demand - unmet``).
    cost_derivative, unmet_derivative : ndarray (nb, N, m)
        :math:`C_w'((S, K); \delta_j)` and the same for the unmet units.
    """

    items: np.ndarray
    base_stock: np.ndarray
    reserved: np.ndarray
    probability: np.ndarray
    directions: np.ndarray
    lines: np.ndarray
    unmet: np.ndarray
    demand: np.ndarray
    cost_derivative: np.ndarray
    unmet_derivative: np.ndarray

    @property
    def cost(self) -> np.ndarray:
        """:math:`C_w(S, K)` per row and scenario, shape (nb, N)."""
        return self.lines.sum(axis=2)

    @property
    def expected_cost(self) -> np.ndarray:
        r""":math:`\sum_w p_w C_w` per row, shape (nb,)."""
        return self.cost @ self.probability

    @property
    def expected_lines(self) -> np.ndarray:
        """Expected cost lines per row, shape (nb, 6)."""
        return np.einsum("w,bwk->bk", self.probability, self.lines)

    @property
    def fill_rate(self) -> np.ndarray:
        r""":math:`1 - E[\sum n] / E[\sum d]` per row (1 without costed demand)."""
        d = self.demand @ self.probability
        u = self.unmet @ self.probability
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, 1.0 - u / d, 1.0)

    def _column(self, dS: float, dK: float) -> int:
        hit = np.nonzero((self.directions[:, 0] == dS) & (self.directions[:, 1] == dK))[0]
        if hit.size == 0:
            raise KeyError(f"direction ({dS}, {dK}) was not propagated")
        return int(hit[0])

    def slope(self, dS: float, dK: float) -> np.ndarray:
        r"""Directional derivative of the expected cost along :math:`(\delta_S, \delta_K)`.

        The direction is one of ``directions``; shape (nb,).
        """
        return self.probability @ self.cost_derivative[:, :, self._column(dS, dK)].T

    def fill_slope(self, dS: float, dK: float) -> np.ndarray:
        r"""Directional derivative of :attr:`fill_rate` along :math:`(\delta_S, \delta_K)`.

        Shape (nb,); 0 for an item without costed demand.
        """
        d = self.demand @ self.probability
        du = self.probability @ self.unmet_derivative[:, :, self._column(dS, dK)].T
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, -du / d, 0.0)

    @property
    def right_S(self) -> np.ndarray:
        r""":math:`\partial^+_S E[C]` per row."""
        return self.slope(1.0, 0.0)

    @property
    def left_S(self) -> np.ndarray:
        r""":math:`\partial^-_S E[C]` per row."""
        return -self.slope(-1.0, 0.0)

    @property
    def right_K(self) -> np.ndarray:
        r""":math:`\partial^+_K E[C]` per row (0 for items that do not reserve)."""
        return self.slope(0.0, 1.0)

    @property
    def left_K(self) -> np.ndarray:
        r""":math:`\partial^-_K E[C]` per row."""
        return -self.slope(0.0, -1.0)


def _default_chunk(jobs: int) -> int:
    """Jobs per ``prange`` chunk: about eight chunks per thread, at least one job."""
    return max(1, jobs // (8 * numba.get_num_threads()))


def play_plan(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray | None = None,
    *,
    items: np.ndarray | None = None,
    directions: np.ndarray = DIRECTIONS,
    tie: float = TIE,
) -> CausalPlay:
    r"""Play the plan causally for a block of items on every scenario.

    Parameters
    ----------
    data : ProgramData
    base_stock, reserved : ndarray (nb,)
        :math:`S` and :math:`K` of each row of the block (``reserved`` is ignored for
        items that do not reserve; default 0).
    items : ndarray of int (nb,), optional
        Item of each row; default every item once (then ``nb = n``). Indices may repeat.
    directions : ndarray (m, 2)
        Directions :math:`(\delta_S, \delta_K)` to differentiate along.
    tie : float
        Relative tie tolerance :math:`\tau` of the ``min`` rule.

    Returns
    -------
    CausalPlay
        Its costs equal ``evaluate_solution(data, S, K, simulate_plan(data, S, K))``
        per item and scenario (``item_scenario_cost``, ``lines``, ``fill_rate``).
    """
    idx = np.arange(data.n_items) if items is None else np.asarray(items, dtype=np.int64)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    nb = idx.size
    S = np.ascontiguousarray(np.broadcast_to(np.asarray(base_stock, dtype=float), (nb,)))
    K = np.zeros(nb) if reserved is None else np.asarray(reserved, dtype=float)
    K = np.ascontiguousarray(np.broadcast_to(K, (nb,)))
    dirs = np.ascontiguousarray(np.atleast_2d(np.asarray(directions, dtype=float)))
    N = data.n_scenarios
    m = dirs.shape[0]
    lines = np.empty((nb, N, len(COST_LINES)))
    unmet = np.empty((nb, N))
    demand = np.empty((nb, N))
    dcost = np.empty((nb, N, m))
    dunmet = np.empty((nb, N, m))
    if nb and N:
        _play(
            np.ascontiguousarray(data.demand, dtype=float),
            np.ascontiguousarray(data.arrival, dtype=np.int64),
            idx,
            S,
            K,
            dirs,
            bool(data.backorder),
            int(data.warmup),
            np.ascontiguousarray(data.mean, dtype=float),
            np.ascontiguousarray(data.lead, dtype=np.int64),
            np.ascontiguousarray(data.start, dtype=np.int64),
            np.ascontiguousarray(data.carrying, dtype=float),
            np.ascontiguousarray(data.penalty, dtype=float),
            np.ascontiguousarray(data.premium, dtype=float),
            np.ascontiguousarray(data.capacity, dtype=float),
            np.ascontiguousarray(np.nan_to_num(data.fee), dtype=float),
            np.ascontiguousarray(data.reserves, dtype=np.bool_),
            float(tie),
            _default_chunk(nb * N),
            lines,
            unmet,
            demand,
            dcost,
            dunmet,
        )
    return CausalPlay(
        items=idx,
        base_stock=S,
        reserved=K,
        probability=np.asarray(data.probability, dtype=float),
        directions=dirs,
        lines=lines,
        unmet=unmet,
        demand=demand,
        cost_derivative=dcost,
        unmet_derivative=dunmet,
    )
