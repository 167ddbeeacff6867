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
from optimizer.program.verifier import Evaluation, RecourseArrays, cvar, evaluate_solution


def simulate_plan(
    data: ProgramData, base_stock: np.ndarray, reserved: np.ndarray
) -> RecourseArrays:
    """Play every scenario forward under the plan, vectorised over items and scenarios.

    Internally time runs along the first axis (each period reads and writes contiguous
    (n, N) slices, and an order lands in the flat cell of its arrival period); the
    arrays are returned item-major.

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
    cells = n * N
    d = np.ascontiguousarray(np.moveaxis(data.demand, 2, 0))  # (H, n, N)
    # flat index of the (period, item, scenario) cell each period's order arrives in
    land = np.minimum(np.moveaxis(data.arrival, 2, 0), H) * cells + np.arange(cells).reshape(n, N)
    S = np.asarray(base_stock, dtype=float)
    cap = np.where(data.reserves, np.minimum(data.capacity, reserved), data.capacity)
    cap = np.broadcast_to(cap[:, None], (n, N))
    out = {k: np.empty((H, n, N)) for k in ("I", "s", "n", "e", "B", "r")}
    stock, sold, unmet, emergency, backlog, served = (
        out[k] for k in ("I", "s", "n", "e", "B", "r")
    )
    incoming = np.zeros((H + 1, n, N))
    incoming[:H] += data.pipeline.T[:, :, None]
    flat = incoming.reshape(-1)
    start = np.broadcast_to((S - data.lead * data.mean)[:, None], (n, N))
    avail = np.empty((n, N))
    for t in range(H):  # each quantity computed in place in its period's slice
        np.add(start if t == 0 else stock[t - 1], incoming[t], out=avail)
        if data.backorder:
            np.minimum(np.zeros((n, N)) if t == 0 else backlog[t - 1], avail, out=served[t])
            avail -= served[t]
        else:
            served[t] = 0.0
        np.minimum(d[t], avail, out=sold[t])
        np.subtract(d[t], sold[t], out=emergency[t])
        np.minimum(emergency[t], cap, out=emergency[t])
        np.subtract(d[t], sold[t], out=unmet[t])
        unmet[t] -= emergency[t]
        if data.backorder:
            if t == 0:
                np.subtract(0.0, served[t], out=backlog[t])
            else:
                np.subtract(backlog[t - 1], served[t], out=backlog[t])
            backlog[t] += unmet[t]
        else:
            backlog[t] = 0.0
        np.subtract(avail, sold[t], out=stock[t])
        flat[land[t]] += d[t] - emergency[t] if data.backorder else sold[t]  # no index repeats
    return RecourseArrays(**{k: np.ascontiguousarray(np.moveaxis(v, 0, 2)) for k, v in out.items()})


def evaluate_causal(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    check_fill_rate: bool = True,
    check_plan_rows: bool = True,
    chunk: int = 64,
) -> Evaluation:
    r"""Costs of the plan run causally, item chunk by item chunk (bounded memory).

    The plan is played by :func:`simulate_plan` and costed by
    :func:`optimizer.program.verifier.evaluate_solution` on ``chunk`` items at a time, so
    no (n, N, H) array of the whole instance is held; the chunks' figures are joined
    (per-item arrays side by side, scenario costs summed) and the CVaR blend and the
    plan rows are taken on the whole plan.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.
    check_fill_rate, check_plan_rows : bool
        Include the fill-rate and budget/storage residuals.
    chunk : int
        Items per chunk.

    Returns
    -------
    Evaluation
        Equal to ``evaluate_solution(data, S, K, simulate_plan(data, S, K))``.
    """
    n = data.n_items
    S = np.asarray(base_stock, dtype=float)
    K = np.asarray(reserved, dtype=float)
    parts: list[Evaluation] = []
    for lo in range(0, n, chunk):
        idx = np.arange(lo, min(n, lo + chunk))
        sub = data.item(idx)
        parts.append(
            evaluate_solution(
                sub,
                S[idx],
                K[idx],
                simulate_plan(sub, S[idx], K[idx]),
                check_fill_rate=check_fill_rate,
                check_plan_rows=False,
            )
        )
    scen = np.sum([p.scenario_cost for p in parts], axis=0)
    p = data.probability
    expected = float(p @ scen)
    tail = cvar(scen, p, data.cvar_alpha)
    lam = data.cvar_weight
    residual = {k: max(part.residual[k] for part in parts) for k in parts[0].residual}
    if check_plan_rows:
        for name, limit, weight in (
            ("inventory_budget", data.budget, data.unit_cost),
            ("storage_capacity", data.storage, data.volume),
        ):
            if limit is not None:
                residual[name] = float(max(0.0, weight @ S - limit))

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(part, field) for part in parts], axis=0)

    return Evaluation(
        objective=(1.0 - lam) * expected + lam * tail if lam > 0 else expected,
        expected_cost=expected,
        cvar=tail,
        scenario_cost=scen,
        item_scenario_cost=joined("item_scenario_cost"),
        lines=joined("lines"),
        fill_rate=joined("fill_rate"),
        avg_on_hand=joined("avg_on_hand"),
        stockout_units=joined("stockout_units"),
        emergency_units=joined("emergency_units"),
        residual=residual,
    )
