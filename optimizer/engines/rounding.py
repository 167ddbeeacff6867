r"""Whole units from a fractional plan: per item, the best of floor and ceiling.

The causal engines return whole units when ``[plan] integer`` (README "Modelling
decisions", "Whole units"); the hindsight recourse LPs are continuous. A fractional plan
:math:`(S_i, K_i)` is turned into whole units item by item: the candidates are
:math:`\lfloor S_i \rfloor, \lceil S_i \rceil` (only levels at or above the pipeline
:math:`\lceil L_i\mu_i \rceil` when the floor falls below it) and, for items that reserve,
:math:`\lfloor K_i \rfloor, \lceil K_i \rceil`; each is played causally on the scenarios
the plan was fitted to (:func:`optimizer.program.causal_kernel.play_plan`, the cost a
planner running the plan sees; on a cluster, on the workers that hold each item's
scenarios) and the cheapest is kept (ties to the lower level). With a
budget or storage row, items whose rounding up breaks the row are put back to their
floors, those that save least by rounding up first, until the row holds.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from optimizer.engines.executors import ItemWork, play
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData

log = logging.getLogger(__name__)

#: A level within this of a whole number is already whole.
WHOLE_TOL = 1e-6


@dataclass
class WholePlan:
    """A plan in whole units.

    Attributes
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i` in whole units.
    changed : ndarray of bool (n,)
        Items whose level was fractional and was rounded.
    """

    base_stock: np.ndarray
    reserved: np.ndarray
    changed: np.ndarray


def is_whole(values: np.ndarray) -> bool:
    """Say whether every value lies within :data:`WHOLE_TOL` of a whole number."""
    v = np.asarray(values, dtype=float)
    return bool(np.all(np.abs(v - np.round(v)) <= WHOLE_TOL))


def whole_units(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    work: ItemWork | None = None,
) -> WholePlan:
    r"""Round ``(S, K)`` to whole units item by item, by its causal cost on ``data``.

    Parameters
    ----------
    data : ProgramData
        The scenarios the plan was fitted to (with ``work``, its skeleton will do).
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i` (``reserved`` is ignored for items that do not reserve).
    work : ItemWork, optional
        The program's items in chunks on a cluster (:mod:`optimizer.engines.executors`):
        the candidates are played there, each on its item's chunk.

    Returns
    -------
    WholePlan
        Levels already whole (within :data:`WHOLE_TOL`) are kept as they are, snapped.
    """
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    n = S.size
    low = np.ceil(data.min_base_stock - 1e-9)
    s_cands = [np.maximum(np.floor(S + WHOLE_TOL), low), np.maximum(np.ceil(S - WHOLE_TOL), low)]
    k_cands = [np.floor(K + WHOLE_TOL), np.ceil(K - WHOLE_TOL)]
    combos = [(a, b) for a in range(2) for b in range(2)]
    rows_S = np.concatenate([s_cands[a] for a, _ in combos])
    rows_K = np.concatenate([k_cands[b] for _, b in combos])
    items = np.tile(np.arange(n), len(combos))
    if work is None:
        cost = play_plan(data, rows_S, rows_K, items=items, directions=VALUES_ONLY).expected_cost
    else:
        cost = play(work, rows_S, rows_K, items=items).expected_cost
    cost = cost.reshape(len(combos), n)
    best = np.argmin(cost, axis=0)  # first minimum: floors before ceilings
    pick_S = np.choose(best, [s_cands[a] for a, _ in combos])
    pick_K = np.choose(best, [k_cands[b] for _, b in combos])
    for limit, weight in ((data.budget, data.unit_cost), (data.storage, data.volume)):
        if limit is None:
            continue
        up = np.flatnonzero(pick_S > s_cands[0])
        saving = cost[best, np.arange(n)] - cost[combos.index((0, 0)), np.arange(n)]
        for i in up[np.argsort(-saving[up])]:  # least saving (closest to 0) first
            if float(weight @ pick_S) <= limit * (1 + 1e-12):
                break
            pick_S[i] = s_cands[0][i]
    pick_K = np.where(data.reserves, pick_K, 0.0)
    changed = (np.abs(pick_S - S) > WHOLE_TOL) | (np.abs(pick_K - K) > WHOLE_TOL)
    if changed.any():
        log.info("whole units: %d of %d items rounded to floor or ceiling", changed.sum(), n)
    return WholePlan(pick_S, pick_K, changed)


def whole_solution(solution, data: ProgramData, integer: bool, *, work: ItemWork | None = None):
    """``solution`` with its plan in whole units (:func:`whole_units`) when ``integer``.

    With ``work`` (a cluster's chunks) the candidates are played on its workers.

    A solution that is already whole, or ``integer = False``, is returned as it is; a
    rounded one is a copy whose ``details`` say how many items were rounded (its
    ``objective`` and ``evaluation`` remain those of the fractional plan the engine solved).
    """
    if not integer or solution.base_stock is None:
        return solution
    S = np.asarray(solution.base_stock, dtype=float)
    K = np.zeros_like(S) if solution.reserved is None else np.asarray(solution.reserved, float)
    if is_whole(S) and is_whole(np.where(data.reserves, K, 0.0)):
        return solution
    whole = whole_units(data, S, K, work=work)
    details = dict(solution.details or {})
    details["whole_units"] = {
        "rule": "per item the best of floor and ceiling by its causal cost on the "
        "optimisation scenarios",
        "items_rounded": int(whole.changed.sum()),
    }
    return dataclasses.replace(
        solution, base_stock=whole.base_stock, reserved=whole.reserved, details=details
    )
