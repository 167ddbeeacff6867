"""Causal simulation of a base-stock plan: what a planner running the plan would see.

Unlike the hindsight recourse LP, every period is decided with no knowledge of the
future: stock serves demand first (backlog before new demand, first in first out), then
the emergency source up to its (reserved) capacity, and the rest is lost or
backordered. Orders restore the inventory position to :math:`S_i` (README, "The model").
The result is a :class:`~optimizer.program.verifier.RecourseArrays`, so costs and residual checks
come from :func:`optimizer.program.verifier.evaluate_solution` like any solver output.
"""

from __future__ import annotations

import numpy as np

from optimizer.program.data import ProgramData
from optimizer.program.verifier import RecourseArrays


def simulate_plan(
    data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray
) -> RecourseArrays:
    """Play every scenario forward under the plan, vectorised over items and scenarios.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.

    Returns
    -------
    RecourseArrays
        Arrays of shape (n, N, H).
    """
    n, N, H = data.demand.shape
    d = data.demand
    S = np.asarray(base_stock, dtype=float)
    cap = np.where(data.reserves, np.minimum(data.capacity, reserved), data.capacity)
    cap = np.broadcast_to(cap[:, None], (n, N))
    out = {k: np.zeros((n, N, H)) for k in ("I", "s", "n", "e", "B", "r")}
    incoming = np.zeros((n, N, H + 1))
    incoming[:, :, :H] += data.pipeline[:, None, :]
    on_hand = np.broadcast_to((S - data.lead * data.mean)[:, None], (n, N)).copy()
    backlog = np.zeros((n, N))
    ii, ww = np.indices((n, N))
    for t in range(H):
        avail = on_hand + incoming[:, :, t]
        served_backlog = np.minimum(backlog, avail) if data.backorder else np.zeros((n, N))
        avail = avail - served_backlog
        sold = np.minimum(d[:, :, t], avail)
        emergency = np.minimum(d[:, :, t] - sold, cap)
        unmet = d[:, :, t] - sold - emergency
        backlog = backlog - served_backlog + unmet if data.backorder else backlog
        on_hand = avail - sold
        orders = d[:, :, t] - emergency if data.backorder else sold
        incoming[ii, ww, np.minimum(data.arrival[:, :, t], H)] += orders
        for k, v in (
            ("I", on_hand),
            ("s", sold),
            ("n", unmet),
            ("e", emergency),
            ("B", backlog),
            ("r", served_backlog),
        ):
            out[k][:, :, t] = v
    return RecourseArrays(**out)
