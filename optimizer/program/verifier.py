"""Independent numpy re-evaluation of a plan and its recourse.

Given the first stage (:math:`S, K`) and the second-stage arrays (:math:`I, s, n, e, B, r`)
returned by any engine, or produced by the causal simulator, this module recomputes every
constraint residual and every cost line without looking at the LP matrix or the solver's
objective. :func:`check_solution` fails loudly when the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.errors import VerificationError
from optimizer.program.data import ProgramData

COST_LINES = ("storage", "capital", "obsolescence", "stockout", "emergency", "reservation")


@dataclass
class RecourseArrays:
    """Second-stage quantities, each of shape (n_items, N, H).

    Attributes
    ----------
    I : on hand at period end.
    s : demand of the period served from stock.
    n : demand of the period not served (lost, or newly backordered).
    e : emergency buys.
    B : backlog at period end (zeros with lost sales).
    r : backlog served from stock (zeros with lost sales).
    """

    I: np.ndarray  # noqa: E741 - the textbook symbol
    s: np.ndarray
    n: np.ndarray
    e: np.ndarray
    B: np.ndarray
    r: np.ndarray


@dataclass
class Evaluation:
    r"""Costs and service of one plan on one scenario set (costed periods only).

    Attributes
    ----------
    objective : float
        :math:`(1-\lambda) E[C] + \lambda\, CVaR_\alpha[C]`.
    expected_cost : float
        :math:`E[C] = \sum_w p_w C_w`.
    cvar : float
        :math:`CVaR_\alpha[C]` of the scenario costs (exact, from the discrete law).
    scenario_cost : ndarray (N,)
        :math:`C_w` summed over items.
    item_scenario_cost : ndarray (n, N)
    lines : ndarray (n, 6)
        Expected cost per item and line (``COST_LINES``) over the horizon.
    fill_rate : ndarray (n,)
        :math:`1 - E[\sum n]/E[\sum d]`.
    avg_on_hand, stockout_units, emergency_units : ndarray (n,)
        Expected average on-hand per period, expected unmet and emergency units per horizon.
    residual : dict of str to float
        Largest violation of each constraint group (0 when feasible).
    """

    objective: float
    expected_cost: float
    cvar: float
    scenario_cost: np.ndarray
    item_scenario_cost: np.ndarray
    lines: np.ndarray
    fill_rate: np.ndarray
    avg_on_hand: np.ndarray
    stockout_units: np.ndarray
    emergency_units: np.ndarray
    residual: dict[str, float]

    @property
    def max_residual(self) -> float:
        """Largest violation over all constraint groups (0 when feasible)."""
        return max(self.residual.values(), default=0.0)


def cvar(values: np.ndarray, prob: np.ndarray, alpha: float) -> float:
    r"""Exact :math:`CVaR_\alpha` of a discrete law (mean of the worst :math:`1-\alpha` mass)."""
    order = np.argsort(values)[::-1]
    v, p = values[order], prob[order]
    tail = 1.0 - alpha
    if tail <= 0:
        return float(v[0])
    before = np.concatenate([[0.0], np.cumsum(p)[:-1]])
    take = np.clip(tail - before, 0.0, p)
    return float((take * v).sum() / tail)


def blend(totals: np.ndarray, probability: np.ndarray, alpha: float, weight: float) -> float:
    r""":math:`(1-\lambda) \sum_w p_w C_w + \lambda\, CVaR_\alpha[C]` of scenario totals ``C``."""
    return (1.0 - weight) * float(probability @ totals) + weight * cvar(totals, probability, alpha)


def arrivals(data: ProgramData, orders: np.ndarray) -> np.ndarray:
    """Units arriving in each period from orders placed at period ends, shape (n, N, H)."""
    n, N, H = orders.shape
    out = np.empty((n, N, H))
    offset = (np.arange(N) * (H + 1))[:, None]
    for i in range(n):  # one bincount per item: no (n, N, H) index arrays
        idx = (offset + np.minimum(data.arrival[i], H)).ravel()
        out[i] = np.bincount(idx, weights=orders[i].ravel(), minlength=N * (H + 1)).reshape(
            N, H + 1
        )[:, :H]
    return out


#: Items per chunk when residuals are recomputed.
_CHUNK = 64


def _chunk(rec: RecourseArrays, part: slice) -> RecourseArrays:
    return RecourseArrays(
        I=rec.I[part], s=rec.s[part], n=rec.n[part], e=rec.e[part], B=rec.B[part], r=rec.r[part]
    )


def level_orders(data: ProgramData, rec: RecourseArrays, path: np.ndarray) -> np.ndarray:
    r"""Orders of the order-up-to rule under per-period levels ``path`` (n, H).

    The inventory position starts at :math:`S_{i,0}`, falls by what each period's demand
    takes from it (sales, or under backorders demand less emergency units) and is raised
    at the period's end to the next period's level: :math:`q_t = \max(0, S_{t+1} - IP_t)`
    (README "Review levels"). With one level throughout the orders are the sales.
    """
    n, N, H = data.demand.shape
    use = data.demand - rec.e if data.backorder else rec.s
    position = np.broadcast_to(path[:, :1], (n, N)).copy()
    orders = np.empty((n, N, H))
    for t in range(H):
        position -= use[:, :, t]
        orders[:, :, t] = np.maximum(0.0, path[:, min(t + 1, H - 1)][:, None] - position)
        position += orders[:, :, t]
    return orders


def _balance_residuals(
    data: ProgramData, S: np.ndarray, rec: RecourseArrays, path: np.ndarray | None = None
) -> dict[str, float]:
    """Largest violation of the demand split, stock and backlog balances and sign rows."""
    n, N, H = data.demand.shape
    d = data.demand
    res = {"demand_split": float(np.abs(rec.s + rec.n + rec.e - d).max(initial=0.0))}
    if path is None:
        orders = d - rec.e if data.backorder else rec.s
    else:  # levels that change: the orders follow from the positions
        orders = level_orders(data, rec, path)
    prev = np.concatenate(
        [(S - data.lead * data.mean)[:, None, None].repeat(N, 1), rec.I[:, :, :-1]], axis=2
    )
    balance = rec.I - prev - data.pipeline[:, None, :] - arrivals(data, orders) + rec.s + rec.r
    res["stock_balance"] = float(np.abs(balance).max(initial=0.0))
    if data.backorder:
        prevB = np.concatenate([np.zeros((n, N, 1)), rec.B[:, :, :-1]], axis=2)
        res["backlog_balance"] = float(np.abs(rec.B - prevB - rec.n + rec.r).max(initial=0.0))
        res["backlog_served"] = float(max(0.0, (rec.r - prevB).max(initial=0.0)))
    else:
        res["backlog_balance"] = float(
            max(np.abs(rec.B).max(initial=0.0), np.abs(rec.r).max(initial=0.0))
        )
        res["backlog_served"] = 0.0
    neg = min(a.min(initial=0.0) for a in (rec.I, rec.s, rec.n, rec.e, rec.B, rec.r))
    res["nonnegativity"] = float(max(0.0, -neg))
    return res


def evaluate_solution(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    rec: RecourseArrays,
    *,
    check_fill_rate: bool = True,
    check_plan_rows: bool = True,
    path: np.ndarray | None = None,
) -> Evaluation:
    """Recompute residuals and costs of a plan with its recourse.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i` (``K`` ignored for items that do not reserve).
    rec : RecourseArrays
    check_fill_rate, check_plan_rows : bool
        Include the fill-rate and budget/storage residuals.
    path : ndarray (n, H), optional
        Per-period levels :math:`S_{i,t}` of a plan whose level changes within the
        horizon (review blocks, :mod:`optimizer.program.review`): the stock balance is
        checked against the orders they imply (:func:`level_orders`), and every level
        against the pipeline. ``base_stock`` is then the first period's level.
    """
    n, N, H = data.demand.shape
    W = data.warmup
    p = data.probability
    d = data.demand
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, reserved, 0.0)
    scale = 1.0 + np.abs(d).max(initial=0.0) + np.abs(S).max(initial=0.0)
    res: dict[str, float] = {}

    for key in (
        "demand_split",
        "stock_balance",
        "backlog_balance",
        "backlog_served",
        "nonnegativity",
    ):
        res[key] = 0.0
    for lo in range(0, n, _CHUNK):  # item chunks bound the temporaries' memory
        part = slice(lo, min(n, lo + _CHUNK))
        for key, value in _balance_residuals(
            data.item(np.arange(n)[part]),
            S[part],
            _chunk(rec, part),
            None if path is None else path[part],
        ).items():
            res[key] = max(res[key], value)
    cap = np.where(data.reserves, np.minimum(data.capacity, K), data.capacity)
    res["emergency_capacity"] = float(max(0.0, (rec.e - cap[:, None, None]).max(initial=0.0)))
    lowest = S if path is None else np.asarray(path, dtype=float).min(axis=1)
    res["pipeline_start"] = float(max(0.0, (data.min_base_stock - lowest).max(initial=0.0)))
    res["reservation_bounds"] = float(
        max(0.0, -K.min(initial=0.0), (K - data.capacity).max(initial=0.0))
    )

    costed = slice(W, H)
    demand_total = (p[None, :] * d[:, :, costed].sum(axis=2)).sum(axis=1)
    unmet = (p[None, :] * rec.n[:, :, costed].sum(axis=2)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = np.where(demand_total > 0, 1.0 - unmet / demand_total, 1.0)
    if check_fill_rate:
        target = np.nan_to_num(data.fill_rate, nan=0.0)
        gap = unmet - (1.0 - target) * demand_total
        res["fill_rate"] = float(
            max(0.0, np.where(np.isnan(data.fill_rate), 0.0, gap).max(initial=0.0))
        )
    if check_plan_rows:
        for name, limit, weight in (
            ("inventory_budget", data.budget, data.unit_cost),
            ("storage_capacity", data.storage, data.volume),
        ):
            if limit is not None:
                res[name] = float(max(0.0, weight @ S - limit))
    res = {
        k: v / scale if k.endswith("balance") or k == "demand_split" else v for k, v in res.items()
    }

    on_hand = rec.I[:, :, costed].sum(axis=2)  # (n, N)
    short = (rec.B if data.backorder else rec.n)[:, :, costed].sum(axis=2)
    emerg = rec.e[:, :, costed].sum(axis=2)
    per_scen = np.stack(
        [
            data.carrying[0][:, None] * on_hand,
            data.carrying[1][:, None] * on_hand,
            data.carrying[2][:, None] * on_hand,
            data.penalty[:, None] * short,
            data.premium[:, None] * emerg,
            np.broadcast_to((data.periods * np.nan_to_num(data.fee) * K)[:, None], (n, N)),
        ],
        axis=2,
    )  # (n, N, 6)
    item_scen = per_scen.sum(axis=2)
    scen_cost = item_scen.sum(axis=0)
    expected = float(p @ scen_cost)
    tail = cvar(scen_cost, p, data.cvar_alpha)
    lam = data.cvar_weight
    return Evaluation(
        objective=(1.0 - lam) * expected + lam * tail if lam > 0 else expected,
        expected_cost=expected,
        cvar=tail,
        scenario_cost=scen_cost,
        item_scenario_cost=item_scen,
        lines=np.einsum("w,nwk->nk", p, per_scen),
        fill_rate=fill,
        avg_on_hand=(p[None, :] * on_hand).sum(axis=1) / max(1, data.periods),
        stockout_units=unmet,
        emergency_units=(p[None, :] * emerg).sum(axis=1),
        residual=res,
    )


def cost_scale(data: ProgramData) -> float:
    r"""Cost of one unit of slack in every costed period of every item.

    :math:`T \sum_i \max(h_i, p_i, e_i, f_i)`: what the objective moves when each of the
    program's flows is off by one unit, so that a solver's absolute feasibility tolerance
    times this scale bounds the objective error it can make.  It is the absolute part of
    :func:`check_solution`'s tolerance.
    """
    prices = np.vstack([data.holding, data.penalty, data.premium, np.nan_to_num(data.fee)])
    return float(data.periods * np.nanmax(np.abs(prices), axis=0).sum()) if prices.size else 0.0


def check_solution(
    evaluation: Evaluation,
    reported_objective: float,
    *,
    what: str,
    tol: float = 1e-6,
    scale: float = 1.0,
) -> None:
    """Raise :class:`VerificationError` when residuals or the objective disagree.

    The objective must match to ``10 tol`` relative to its size plus ``10 tol`` times
    ``scale`` absolute (:func:`cost_scale`; at least 1): an objective near 0 is compared
    to the size of the program's prices, not to 1.  Residuals are relative to the
    data's magnitude for balance rows.
    """
    bad = {k: v for k, v in evaluation.residual.items() if v > max(tol, 1e-6) * 10}
    diff = abs(evaluation.objective - reported_objective)
    if bad or diff > tol * (abs(reported_objective) + max(1.0, scale)) * 10:
        raise VerificationError(
            f"{what}: independent re-evaluation disagrees with the solver: objective "
            f"{reported_objective:.10g} vs recomputed {evaluation.objective:.10g}; "
            f"residuals above tolerance: {bad or 'none'}"
        )
