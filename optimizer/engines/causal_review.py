r"""The causal item search with one base-stock level per review block (``review_levels``).

Starting from each item's single causal optimum :math:`S^*_i`
(:func:`optimizer.engines.causal_search.search_items`), the :math:`k` block levels are
improved by a pattern search on whole units: each block's level is moved up and down by a
step, a move kept where the item's sample-average causal cost
(:func:`optimizer.program.review.evaluate_levels`) falls, the step halved when no block of
the item moves, down to one unit.  All items move at once (they are independent without
a plan row); every accepted move lowers the in-sample cost, so the answer costs no more
in sample than the single level.  The last block's level is kept at or above the single
level (``hand_over``): the quarter must not end on emptier shelves than the single level
leaves, a cost the costed horizon does not see.  It is a local search: the blocks' levels interact
through the pipeline, and the causal cost is not convex (README "Modelling decisions").

In ``stockplan solve`` (``[plan] review_levels``, README "Review levels") the program
holds two quarters and the blocks cover the first (``span``): the warm-up and the second
quarter run at the single level :math:`S^*_i`, fitted to the same two quarters, so the
quarter starts from the stock the single level leaves and the plan pays in the second
quarter for the state its blocks hand over (the terminal condition; no ``hand_over``
floor is needed then).
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.engines.causal_search import search_items
from optimizer.program.data import ProgramData
from optimizer.program.review import evaluate_levels


def item_costs(
    data: ProgramData, levels: np.ndarray, reserved: np.ndarray, **path: object
) -> np.ndarray:
    """Return the expected causal cost of each item under block levels (n, k)."""
    ev = evaluate_levels(data, levels, reserved, **path)
    return ev.item_scenario_cost @ data.probability


def search_levels(
    data: ProgramData,
    k: int,
    *,
    start: np.ndarray | None = None,
    hand_over: bool = True,
    span: int | None = None,
    reserved: np.ndarray | None = None,
    max_rounds: int = 200,
    deadline: float | None = None,
    report: dict | None = None,
    movable: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Block levels (n, k) of every item by the module's pattern search.

    Parameters
    ----------
    k : int
        Review blocks :math:`k`.
    start : ndarray (n,), optional
        The single levels to start from (default: the causal item search's).
    hand_over : bool
        Keep the last block's level at or above the single level: the costed quarter
        does not see the next one, so without this floor a plan gains by selling its
        shelves empty at the quarter's end (on flat demand 8% of the cost at k = 3, 22%
        at k = 13: ``studies/review_levels.py``), which the next quarter would pay for.
    span : int, optional
        Costed periods the blocks cover; the warm-up and the later costed periods run at
        the single level (the quarter starts from the stock the single level leaves, and
        a next quarter pays for the state the blocks hand over: no ``hand_over`` floor is
        needed then).
    reserved : ndarray (n,), optional
        Reserved emergency capacity :math:`K_i` held through the search (default: the
        causal item search's with ``start`` unset, else none).
    max_rounds : int
        Rounds of the pattern search at most.
    deadline : float, optional
        A :func:`time.perf_counter` time after which no further round starts.
    movable : ndarray of bool (n,), optional
        The items whose block levels may move (default all); the others keep ``start``.
    report : dict, optional
        Filled with ``rounds`` (rounds run) and ``converged`` (no block of any item moved
        by one unit in the last round).

    Returns
    -------
    tuple
        ``(levels, cost)``: the levels (n, k) and each item's in-sample cost.
    """
    if start is None:
        plans = search_items(data, integer=True, fill_rates=False)
        start, reserved = plans.base_stock, plans.reserved
    elif reserved is None:
        reserved = np.zeros(data.n_items)
    floor = np.repeat(np.ceil(data.min_base_stock - 1e-9)[:, None], k, axis=1)
    if (
        hand_over and span is None
    ):  # the quarter ends no leaner than the single level would leave it
        floor[:, -1] = np.maximum(floor[:, -1], np.asarray(start, dtype=float))
    levels = np.repeat(np.asarray(start, dtype=float)[:, None], k, axis=1)
    path = {"span": span, "tail": None if span is None else np.asarray(start, dtype=float)}
    cost = item_costs(data, levels, reserved, **path)
    step = np.maximum(1.0, np.floor(np.asarray(start, dtype=float) / 4))
    converged, rounds = False, 0
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        rounds += 1
        moved = np.zeros(data.n_items, dtype=bool)
        for b in range(k):
            for sign in (1.0, -1.0):
                trial = levels.copy()
                moved_to = np.maximum(floor[:, b], levels[:, b] + sign * step)
                trial[:, b] = (
                    moved_to if movable is None else np.where(movable, moved_to, levels[:, b])
                )
                trial_cost = item_costs(data, trial, reserved, **path)
                better = trial_cost < cost - 1e-9 * (1.0 + np.abs(cost))
                levels[better], cost[better] = trial[better], trial_cost[better]
                moved |= better
        if np.all(step <= 1.0) and not moved.any():
            converged = True
            break
        step = np.where(moved, step, np.maximum(1.0, np.floor(step / 2)))
    if report is not None:
        report.update(rounds=rounds, converged=converged)
    return levels, cost
