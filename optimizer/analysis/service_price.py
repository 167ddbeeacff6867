r"""The price of a service target: the stockout penalty a fill-rate target implies.

A planner may state service as a target :math:`\beta_i` (``min_fill_rate``, or
``stockplan solve --fill-rate``) instead of, or beside, a stockout penalty
:math:`\pi_i`. Where the target binds, the plan holds the least level :math:`S_i` that
meets it, more than the penalty alone would buy. The last unit of that level costs
:math:`\Delta H_i = H_i(S_i) - H_i(S_i - 1)` in the other cost lines (carrying,
obsolescence, emergency, reservation) and saves
:math:`\Delta Q_i = Q_i(S_i - 1) - Q_i(S_i)` penalised shortage units (units lost, or
unit-periods of backlog), both causal sample averages on the optimisation scenarios. The
implied penalty

.. math:: \hat\pi_i = \Delta H_i / \Delta Q_i

is the penalty per shortage unit at which that last unit pays for itself: with
:math:`\pi_i \ge \hat\pi_i` the level would be chosen without the target. It puts a
target and a penalty on one scale (a 98% target that implies 400 a unit on an item whose
margin is 20 is worth questioning).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from optimizer.engines.executors import ItemWork, play_lines
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData
from optimizer.program.verifier import COST_LINES

STOCKOUT = COST_LINES.index("stockout")


def implied_penalty(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    work: ItemWork | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per item, the implied penalty :math:`\hat\pi_i` and whether its target binds.

    Parameters
    ----------
    data : ProgramData
        The optimisation program (its ``fill_rate`` holds the targets, ``nan`` none; with
        ``work``, its skeleton will do).
    base_stock, reserved : ndarray (n,)
        The plan :math:`(S, K)`.
    work : ItemWork, optional
        The program's items in chunks on a cluster (:mod:`optimizer.engines.executors`):
        the plays of :math:`S_i` and :math:`S_i - 1` run there, each on its item's chunk.

    Returns
    -------
    tuple of ndarray (n,)
        ``(penalty, binds)``: :math:`\hat\pi_i` where item :math:`i` has a target and one
        unit less would miss it (``nan`` elsewhere), and that condition.
    """
    n = data.n_items
    S = np.asarray(base_stock, dtype=float)
    K = np.asarray(reserved, dtype=float)
    penalty = np.full(n, np.nan)
    binds = np.zeros(n, dtype=bool)
    lower = np.ceil(data.min_base_stock - 1e-9)
    rows = np.flatnonzero(~np.isnan(data.fill_rate) & (S - 1.0 >= lower - 1e-9))
    if rows.size == 0:
        return penalty, binds
    # a unit penalty: the stockout line then counts the penalised shortage units (the
    # causal run's decisions do not depend on the penalty)
    both = np.concatenate([rows, rows])
    levels = np.concatenate([S[rows], S[rows] - 1.0])
    if work is None:
        play = play_plan(
            replace(data, penalty=np.ones(n)),
            levels,
            np.concatenate([K[rows], K[rows]]),
            items=both,
            directions=VALUES_ONLY,
        )
        lines, fill = play.expected_lines, play.fill_rate
    else:
        lines, fill = play_lines(work, levels, K[both], items=both, penalty=np.ones(n))
    m = rows.size
    short = lines[:, STOCKOUT]
    other = lines.sum(axis=1) - short
    dH = other[:m] - other[m:]
    dQ = short[m:] - short[:m]
    missed = fill[m:] < data.fill_rate[rows]  # one unit less misses the target
    ok = missed & (dQ > 0)
    penalty[rows[ok]] = np.maximum(0.0, dH[ok]) / dQ[ok]
    binds[rows[missed]] = True
    return penalty, binds


def add_service_columns(
    table: pd.DataFrame,
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    work: ItemWork | None = None,
) -> None:
    r"""Put each item's fill-rate target and :math:`\hat\pi_i` beside its fill rate.

    ``target_fill_rate``, ``target_binds`` and ``implied_stockout_penalty`` after
    ``expected_fill_rate``; only when some item has a target (``min_fill_rate``,
    ``--fill-rate``). ``work`` as in :func:`implied_penalty`.
    """
    if np.isnan(data.fill_rate).all():
        return
    penalty, binds = implied_penalty(data, base_stock, reserved, work=work)
    at = table.columns.get_loc("expected_fill_rate") + 1
    table.insert(at, "target_fill_rate", data.fill_rate + 0.0)
    table.insert(at + 1, "target_binds", binds)
    table.insert(at + 2, "implied_stockout_penalty", penalty)
