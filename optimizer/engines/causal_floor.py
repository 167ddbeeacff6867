r"""The fill-rate floor of an item: the least base-stock level that meets its target.

A fill-rate target :math:`\beta_i` (share of demand served from stock or emergency
supply over the costed periods) bounds :math:`S_i` from below: the causal fill rate
rises with :math:`S` (more stock never serves less), so the smallest level that meets
the target is found by bracketing and bisection on the causal play of
:mod:`optimizer.program.causal_kernel`. The item searches of
:mod:`optimizer.engines.causal_search` start from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.program.causal_kernel import play_plan
from optimizer.program.data import ProgramData

#: Bisection steps of a floor at most (whole units halve the bracket each step, so
#: 64 steps cover any bracket of doubles; a bound, not a tolerance).
MAX_BISECTIONS = 200


@dataclass
class Counter:
    """Kernel calls and rows played (one row = one item at one plan on all scenarios)."""

    calls: int = 0
    rows: int = 0


def start_step(data: ProgramData, items: np.ndarray) -> np.ndarray:
    r"""First bracket width: :math:`(L+1)\mu` (at least one unit)."""
    return np.maximum(1.0, (data.lead[items] + 1) * data.mean[items])


def fill_rate_floor(
    data: ProgramData,
    items: np.ndarray | None = None,
    reserved: np.ndarray | None = None,
    *,
    target: np.ndarray | None = None,
    integer: bool = True,
    x_tol: float = 1e-9,
    max_doublings: int = 60,
    counter: Counter | None = None,
) -> np.ndarray:
    r"""Smallest :math:`S \ge L\mu` whose causal fill rate meets the target.

    Parameters
    ----------
    items : ndarray of int (nb,), optional
        Default every item.
    reserved : ndarray (nb,), optional
        :math:`K` of each row (emergency units count as served).
    target : ndarray (nb,), optional
        :math:`\beta`; default ``data.fill_rate`` of the items (``nan``: no target, the
        floor is :math:`L\mu`).
    integer : bool
        Whole units (the smallest integer level) or continuous (to ``x_tol`` relative;
        the returned level meets the target).

    Returns
    -------
    ndarray (nb,)
        The floor; ``inf`` where no level reaches the target.
    """
    counter = counter or Counter()
    idx = np.arange(data.n_items) if items is None else np.asarray(items, dtype=np.int64)
    K = np.zeros(idx.size) if reserved is None else np.asarray(reserved, dtype=float)
    beta = data.fill_rate[idx] if target is None else np.asarray(target, dtype=float)
    lo = data.min_base_stock[idx].astype(float)
    if integer:
        lo = np.ceil(lo - 1e-9)
    floor = lo.copy()
    want = ~np.isnan(beta)
    if not want.any():
        return floor
    none = np.empty((0, 2))

    def fill(rows: np.ndarray, S: np.ndarray) -> np.ndarray:
        counter.calls += 1
        counter.rows += rows.size
        return play_plan(data, S, K[rows], items=idx[rows], directions=none).fill_rate

    rows = np.nonzero(want)[0]
    met = fill(rows, lo[rows]) >= beta[rows]
    rows = rows[~met]
    if rows.size == 0:
        return floor
    a = lo[rows].copy()  # fails the target
    width = start_step(data, idx[rows])
    # whole units: both ends whole, so the bisection's floor((a + b) / 2) lies strictly
    # inside (with a fractional width it could equal a and loop for ever)
    b = np.ceil(a + width) if integer else a + width
    ok = fill(rows, b) >= beta[rows]
    for _ in range(max_doublings):
        if ok.all():
            break
        grow = ~ok
        a[grow] = b[grow]
        width[grow] *= 2.0
        b[grow] = np.ceil(a[grow] + width[grow]) if integer else a[grow] + width[grow]
        ok[grow] = fill(rows[grow], b[grow]) >= beta[rows[grow]]
    b[~ok] = np.inf
    live = ok.copy()
    for _ in range(MAX_BISECTIONS):
        span = b - a
        if integer:
            live &= span > 1.0
        else:
            live &= span > x_tol * (1.0 + np.abs(b))
        if not live.any():
            break
        r = np.nonzero(live)[0]
        mid = np.floor(0.5 * (a[r] + b[r])) if integer else 0.5 * (a[r] + b[r])
        good = fill(rows[r], mid) >= beta[rows[r]]
        b[r[good]] = mid[good]
        a[r[~good]] = mid[~good]
    floor[rows] = b
    return floor
