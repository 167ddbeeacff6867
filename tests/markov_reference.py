"""Exact long-run cost of a lost-sales base-stock item from its Markov chain (test oracle).

One item, Poisson demand :math:`D \\sim \\text{Poisson}(\\mu)`, lead time :math:`L`, a
two-state supplier (:math:`\\alpha = P(\\text{up} \\to \\text{down})`, :math:`\\beta =
P(\\text{down} \\to \\text{up})`; a down supplier ships nothing and orders wait in its
queue, an up supplier ships its whole queue, which arrives :math:`L` periods later),
optional emergency supply of capacity :math:`\\bar e` per period (same period, after
stock; emergency units are neither stocked nor re-ordered) and base-stock level
:math:`S`: each period orders the units sold from stock. The timing is the one of
:func:`optimizer.program.simulate.simulate_plan` (README, "The model").

State at the end of a period: the supplier's state :math:`u`, the queue :math:`Q`
(ordered, not shipped) and the shipments in transit :math:`y_1, \\dots, y_L` (:math:`y_k`
arrives :math:`k` periods later); on hand is :math:`I = S - Q - \\sum_k y_k \\ge 0`, as
the inventory position stays :math:`S`. One period: the supplier moves to :math:`u'`;
if up it ships :math:`z = Q` (then :math:`Q = 0`), else :math:`z = 0`; :math:`y_1`
arrives (:math:`z` itself when :math:`L = 0`), :math:`a = I + y_1` is available; sales
:math:`\\min(D, a)`, emergency :math:`\\min((D - a)^+, \\bar e)`, the rest lost; then
:math:`Q \\leftarrow Q + \\text{sold}` and the transit shifts, :math:`z` entering last.
The period's cost is :math:`h\\,(a - \\text{sold}) + \\pi e + p\\,\\text{lost}`.

No truncation is needed: the demand enters the transitions only through
:math:`P(D = k)` for :math:`k < a` and :math:`P(D \\ge a) = 1 - \\sum_{k<a} P(D = k)`,
and the expected costs through :math:`E(D - k)^+ = \\mu - k + \\sum_{j<k}(k-j) P(D = j)`,
all finite sums, exact to round-off (the 1e-12 tail truncation one would use for a
sum over all demands is not needed).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


@dataclass(frozen=True)
class MarkovItem:
    """One lost-sales item for :func:`long_run_cost`.

    Attributes
    ----------
    mean : float
        :math:`\\mu` (Poisson).
    lead : int
        :math:`L \\ge 0`.
    holding, penalty : float
        :math:`h` per unit on hand at period end, :math:`p` per lost unit.
    alpha, beta : float
        Supplier chain; ``alpha = 0``: always up.
    capacity, premium : float
        Emergency capacity :math:`\\bar e` per period (0: none, ``inf``: unlimited) and
        premium :math:`\\pi` per emergency unit.
    """

    mean: float
    lead: int
    holding: float
    penalty: float
    alpha: float = 0.0
    beta: float = 1.0
    capacity: float = 0.0
    premium: float = 0.0


def _pmf(mu: float, k_max: int) -> np.ndarray:
    """:math:`P(D = k)`, :math:`k = 0..k_{max}` (recursively, no factorials)."""
    p = np.empty(k_max + 1)
    p[0] = math.exp(-mu)
    for k in range(1, k_max + 1):
        p[k] = p[k - 1] * mu / k
    return p


def _excess(mu: float, pmf: np.ndarray, k: float) -> float:
    """:math:`E(D - k)^+` exactly (``k`` a non-negative integer or ``inf``)."""
    if math.isinf(k):
        return 0.0
    k = int(k)
    j = np.arange(k)
    return float(mu - k + ((k - j) * pmf[:k]).sum())


@dataclass
class Chain:
    """The chain of one item at one level: states, transition matrix, cost per state.

    Attributes
    ----------
    states : list of tuple
        ``(u, Q, y_1, ..., y_L)`` with ``u`` 1 (up) or 0 (down).
    index : dict
        State to row.
    P : scipy.sparse.csr_matrix
        Row-stochastic transition matrix.
    cost : ndarray
        Expected cost of the period that follows each state.
    """

    states: list
    index: dict
    P: sp.csr_matrix
    cost: np.ndarray

    def stationary(self) -> np.ndarray:
        """Stationary distribution :math:`\\pi = \\pi P`, :math:`\\sum \\pi = 1`."""
        n = len(self.states)
        A = (self.P.T - sp.identity(n, format="csr")).tolil()
        A[n - 1, :] = np.ones(n)
        b = np.zeros(n)
        b[n - 1] = 1.0
        pi = spla.spsolve(A.tocsc(), b)
        pi = np.maximum(pi, 0.0)
        return pi / pi.sum()

    def transient_costs(self, start: np.ndarray, periods: int) -> np.ndarray:
        """Expected cost of periods ``0..periods-1`` from the end-of-period-(-1) law."""
        out = np.empty(periods)
        law = start.copy()
        PT = self.P.T.tocsr()
        for t in range(periods):
            out[t] = law @ self.cost
            law = PT @ law
        return out


def build_chain(item: MarkovItem, S: int) -> Chain:
    """The chain of ``item`` under base-stock level ``S`` (an integer), built vectorised."""
    L = int(item.lead)
    S = int(S)
    cap = float(item.capacity)
    extra = 0 if math.isinf(cap) else int(cap)
    pmf = _pmf(item.mean, S + extra + 1)
    ups = (1,) if item.alpha <= 0 else (1, 0)
    grid = np.array(list(itertools.product(range(S + 1), repeat=L + 1)), dtype=np.int64)
    grid = grid[grid.sum(axis=1) <= S]
    arr = np.vstack([np.column_stack([np.full(len(grid), u), grid]) for u in ups])
    states = [tuple(int(v) for v in row) for row in arr]
    index = {s: k for k, s in enumerate(states)}
    radix = S + 1
    code_of = np.full(2 * radix ** (L + 1), -1, dtype=np.int64)

    def encode(cols: np.ndarray) -> np.ndarray:
        code = cols[:, 0].copy()
        for j in range(1, cols.shape[1]):
            code = code * radix + cols[:, j]
        return code

    code_of[encode(arr)] = np.arange(len(arr))
    # expected period costs by units available a = 0..S
    a = np.arange(S + 1)
    beyond = np.array([_excess(item.mean, pmf, k) for k in a])
    lost = np.array([_excess(item.mean, pmf, k + cap) for k in a]) if cap > 0 else beyond
    held = a - (item.mean - beyond)
    period_cost = item.holding * held + item.premium * (beyond - lost) + item.penalty * lost
    tail = 1.0 - np.concatenate([[0.0], np.cumsum(pmf)])[: S + 1]  # P(D >= a)
    u, Q, y = arr[:, 0], arr[:, 1], arr[:, 2:]
    on_hand = S - Q - y.sum(axis=1)
    n = len(arr)
    rows_all, cols_all, vals_all = [], [], []
    cost = np.zeros(n)
    for u2 in ups:
        if item.alpha <= 0:
            pu = np.ones(n)
        elif u2 == 1:
            pu = np.where(u == 1, 1.0 - item.alpha, item.beta)
        else:
            pu = np.where(u == 1, item.alpha, 1.0 - item.beta)
        z = Q if u2 == 1 else np.zeros(n, dtype=np.int64)
        Q1 = np.zeros(n, dtype=np.int64) if u2 == 1 else Q
        if L == 0:
            arrive, transit = z, np.empty((n, 0), dtype=np.int64)
        else:
            arrive, transit = y[:, 0], np.column_stack([y[:, 1:], z])
        avail = on_hand + arrive
        cost += pu * period_cost[avail]
        count = avail + 1
        rows = np.repeat(np.arange(n), count)
        first = np.repeat(np.cumsum(count) - count, count)
        sold = np.arange(rows.size) - first
        prob = np.where(sold < avail[rows], pmf[np.minimum(sold, S)], tail[avail[rows]])
        target = np.column_stack([np.full(rows.size, u2), Q1[rows] + sold, transit[rows]]).astype(
            np.int64
        )
        keep = (prob > 0) & (pu[rows] > 0)
        rows_all.append(rows[keep])
        cols_all.append(code_of[encode(target[keep])])
        vals_all.append(pu[rows][keep] * prob[keep])
    P = sp.csr_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n, n),
    )
    return Chain(states, index, P, cost)


def long_run_cost(item: MarkovItem, S: int) -> float:
    """Exact long-run expected cost per period of ``item`` at level ``S``."""
    chain = build_chain(item, S)
    return float(chain.stationary() @ chain.cost)


def start_law(item: MarkovItem, chain: Chain) -> np.ndarray:
    """Law at the end of period -1 of a simulated path: queue empty, :math:`\\mu` in each
    transit slot (the start-up pipeline; ``mean`` must be an integer), the supplier at its
    stationary law."""
    mu = int(round(item.mean))
    if abs(item.mean - mu) > 0 or item.lead * mu > max(s[1] + sum(s[2:]) for s in chain.states):
        raise ValueError("the start-up pipeline needs an integer mean and S >= L mu")
    law = np.zeros(len(chain.states))
    up = 1.0 if item.alpha <= 0 else item.beta / (item.alpha + item.beta)
    for u, pu in ((1, up), (0, 1.0 - up)):
        key = (u, 0, *([mu] * item.lead))
        if pu > 0:
            law[chain.index[key]] = pu
    return law


def optimum(item: MarkovItem, low: int | None = None) -> tuple[int, float, dict[int, float]]:
    """Best level by exact long-run cost: ``(S*, cost, {S: cost})``.

    Levels are scanned upwards from ``low`` (default :math:`\\lceil L\\mu \\rceil`) until
    the cost has risen twice in a row (the long-run cost is convex in :math:`S` with lost
    sales, as the sample-path costs are).
    """
    S = int(math.ceil(item.lead * item.mean - 1e-9)) if low is None else int(low)
    costs: dict[int, float] = {}
    rises = 0
    while rises < 2:
        costs[S] = long_run_cost(item, S)
        rises = rises + 1 if S - 1 in costs and costs[S] > costs[S - 1] else 0
        S += 1
    best = min(costs, key=costs.get)
    return best, costs[best], costs
