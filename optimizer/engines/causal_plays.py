r"""Playing rows :math:`(i, S, K)` for the causal item searches, and a memo of the plays.

:func:`evaluate` returns :math:`F_i + \text{slope} \cdot S` with its one-sided
S-derivatives and fill rate for rows of a program (the kernel of
:mod:`optimizer.program.causal_kernel`); :class:`PlayMemo` keeps the plays made so that
:mod:`optimizer.engines.causal_search` and the price loop of
:mod:`optimizer.engines.causal_price` play each row once.
"""

from __future__ import annotations

import numpy as np

from optimizer.engines.causal_floor import Counter
from optimizer.program.causal_kernel import play_plan
from optimizer.program.data import ProgramData

#: Directions the searches differentiate along: right and left in S.
S_DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0]])
#: Right and left in S, then in K.
SK_DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


class PlayMemo:
    r"""Plays of rows :math:`(i, S, K)` already made, without a price term.

    Each holds :math:`F_i`, :math:`\partial^\pm_S F_i` and the fill rate.
    One item search evaluates the same levels more than once (the bracket's ends, then
    their neighbours for the whole-unit check, the descent and the certificate), and
    the price loop of :mod:`optimizer.engines.causal_price` searches the same items at
    the same reservations under many prices: the lower bounds, the hints (earlier
    answers) and much of the scan come back. Evaluations look their rows up here and
    play only the rest. A row's play does not depend on the other rows it is played with
    (to round-off: the sums over scenarios run in BLAS, whose order can depend on the
    batch), so a value looked up equals the one played again. At most ``max_rows`` rows
    are kept (then the memo starts afresh).
    """

    def __init__(self, max_rows: int = 2_000_000) -> None:
        self.rows: dict[tuple[int, float, float], tuple[float, float, float, float]] = {}
        self.max_rows = max_rows

    def lookup(self, items: np.ndarray, S: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Return the stored ``(F, right, left, fill)`` of the rows, (nb, 4) (NaN: none)."""
        get, none = self.rows.get, (np.nan,) * 4
        keys = zip(items.tolist(), S.tolist(), K.tolist(), strict=True)
        return np.array([get(key, none) for key in keys], dtype=float).reshape(-1, 4)

    def store(self, items: np.ndarray, S: np.ndarray, K: np.ndarray, found: np.ndarray) -> None:
        """Store plays ``found`` (nb, 4); a value-only play does not replace a derivative."""
        if len(self.rows) + items.size > self.max_rows:
            self.rows.clear()
        keys = zip(items.tolist(), S.tolist(), K.tolist(), strict=True)
        if np.isnan(found[:, 1]).all():
            for key, row in zip(keys, map(tuple, found.tolist()), strict=True):
                self.rows.setdefault(key, row)
        else:
            self.rows.update(zip(keys, map(tuple, found.tolist()), strict=True))


def evaluate(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    slope: np.ndarray,
    counter: Counter,
    directions: np.ndarray = S_DIRECTIONS,
    memo: PlayMemo | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r""":math:`F + \text{slope} \cdot S`, its right and left S-derivatives, the fill rate.

    Values only when ``directions`` is empty (the derivatives are then NaN). With a
    ``memo`` only the rows it does not hold are played, and they are stored.
    """
    values_only = directions.shape[0] == 0
    if memo is None or not (values_only or np.array_equal(directions, S_DIRECTIONS)):
        found = play_rows(data, items, S, K, directions, counter)
    else:
        found = memo.lookup(items, S, K)
        need = np.flatnonzero(np.isnan(found[:, 0] if values_only else found[:, 1]))
        if need.size or items.size == 0:
            new = play_rows(data, items[need], S[need], K[need], directions, counter)
            memo.store(items[need], S[need], K[need], new)
            found[need] = new
    return (
        found[:, 0] + slope * S,
        found[:, 1] + slope,
        found[:, 2] + slope,
        found[:, 3],
    )


def play_rows(
    data: ProgramData,
    items: np.ndarray,
    S: np.ndarray,
    K: np.ndarray,
    directions: np.ndarray,
    counter: Counter,
) -> np.ndarray:
    """Play rows: ``(F, right_S, left_S, fill rate)`` per row (nb, 4).

    The derivatives are NaN for a values-only play.
    """
    counter.calls += 1
    counter.rows += items.size
    out = np.full((items.size, 4), np.nan)
    if items.size == 0:
        return out
    play = play_plan(data, S, K, items=items, directions=directions)
    out[:, 0], out[:, 3] = play.expected_cost, play.fill_rate
    if directions.shape[0]:
        out[:, 1], out[:, 2] = play.right_S, play.left_S
    return out
