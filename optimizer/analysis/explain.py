r"""Why each item got its level: critical ratio, the buffer's two causes, the cost of ±10%.

Per item :math:`i` (README "Reading the plan and the report", "Why this level"):

* **Critical ratio** :math:`\rho_i = \pi_i / (\pi_i + h_i)`, with :math:`\pi_i` the
  stockout penalty (per lost unit, or per unit backordered a period) and :math:`h_i` the
  per-period holding cost (storage + capital + obsolescence): the newsvendor's share of
  demand worth covering from stock (:func:`optimizer.analysis.policies.newsvendor_fractile`).
* **The buffer's causes.** The safety stock :math:`ss_i = S_i - (L_i+1)\mu_i` is split in
  two by re-solving each item with supplier outages switched off: the same demand draws
  (common random numbers: black-swan demand surges included) with every supplier always
  up, so an order placed at the end of period :math:`\tau` arrives in period
  :math:`\tau + 1 + L_i` — as if every ``disruption_prob`` were 0 and black swans stopped
  no supplier. Both solves are the per-item causal search the causal engine runs
  (:func:`optimizer.engines.causal_search.search_items`, whole units when
  ``[plan] integer``, fill-rate targets kept, plan rows and the CVaR blend dropped,
  reserved capacity held at the plan's :math:`K_i`), on the optimisation scenarios, all
  items in one batched search each (items whose supplier is never down in any scenario
  keep their level: nothing changes for them). With :math:`S^{out}_i` the level with outages and
  :math:`S^{0}_i` without, the **outage part** is :math:`S^{out}_i - S^{0}_i` and the
  **demand part** :math:`ss_i - (S^{out}_i - S^{0}_i)` (demand variability, and whatever a
  budget, storage row or CVaR blend moved): the two add up to :math:`ss_i`. Without
  outages in the instance the two solves coincide and the outage part is 0.
* **±10%.** The expected cost at :math:`0.9\,S_i` and :math:`1.1\,S_i` (whole units when
  the plan is, never below the pipeline :math:`L_i\mu_i`) against the cost at
  :math:`S_i`, priced as the headline prices a plan: the causal run
  (:func:`optimizer.program.causal_kernel.play_plan`) on fresh scenarios of the
  headline's first stream (``"evaluate"``), each level on the same scenarios, with the
  paired 95% interval of the difference.

The same fresh scenarios price each item's cost curve against its base-stock level (the
items with the largest expected cost), the heuristics' levels
(:mod:`optimizer.analysis.policies`) and the JIT → JIC sweep of a uniform cover
:math:`k` (:math:`S_i = (L_i+1)\mu_i + k\mu_i`), all in batched plays of the kernel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.analysis.diagnostics import mean_ci, t_quantile
from optimizer.analysis.headline import batch_stream, fixed_plan_data
from optimizer.analysis.policies import (
    classic_policy,
    cover_policy,
    newsvendor_fractile,
    newsvendor_policy,
)
from optimizer.engines.causal import scan_points_for
from optimizer.engines.causal_search import search_items
from optimizer.engines.executors import DaskItems, ItemWork, LocalItems, worker_task
from optimizer.instance import Instance
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData, program_data
from optimizer.scenarios import generate_scenarios

log = logging.getLogger(__name__)

#: Relative change of the base stock priced on either side of the plan.
STEP = 0.10
#: Uniform covers :math:`k` (periods of mean demand) of the JIT → JIC sweep.
SWEEP_COVERS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: Heuristic levels marked on the cost curves: policy name -> how it is built.
HEURISTIC_MARKS = ("jit", "jic_2", "classic_95", "newsvendor")
#: Levels of each plotted item's cost curve.
CURVE_POINTS = 25
#: Items whose cost curve is drawn (largest expected cost first).
CURVE_ITEMS = 12
#: Rows times scenarios played in one kernel call (memory: about 64 bytes each).
PLAY_CELLS = 2_000_000


@dataclass
class Explanation:
    """Why each item got its level, and the curves the report draws.

    Attributes
    ----------
    table : DataFrame
        One row per item: ``item, critical_ratio, penalty_to_holding, base_stock,
        safety_stock, demand_buffer, outage_buffer, level_without_outages,
        minus_10_level, plus_10_level, cost, minus_10_cost, plus_10_cost,
        minus_10_delta, minus_10_delta_low, minus_10_delta_high, plus_10_delta,
        plus_10_delta_low, plus_10_delta_high, tail_cost, explanation`` (``tail_cost``:
        :func:`tail_means`).
    curves : dict of str to (ndarray, ndarray)
        Item name -> (levels, expected costs) for the items with the largest cost.
    marks : dict of str to dict of str to float
        Item name -> {policy name: base-stock level} (the plan as ``"plan"``).
    sweep : DataFrame
        ``cover, expected_cost, ci_low, ci_high`` of the uniform-cover plans and a last row
        ``cover = nan`` for the plan itself (``policy`` says which).
    scenarios : int
        Fresh scenarios the costs are priced on.
    seconds : dict of str to float
        ``split`` (the two searches) and ``pricing`` (the plays).
    """

    table: pd.DataFrame
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    marks: dict[str, dict[str, float]] = field(default_factory=dict)
    sweep: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenarios: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def without_outages(data: ProgramData) -> ProgramData:
    r"""Make every supplier always up: arrival :math:`\tau + 1 + L_i`, the rest unchanged.

    Demand (black-swan surges included) and each item's start are unchanged, so costs
    with and without outages are paired on the same draws.
    """
    H = data.horizon
    t = np.arange(H, dtype=np.int64)
    arrival = np.minimum(t[None, :] + 1 + data.lead.astype(np.int64)[:, None], H)
    arrival = np.ascontiguousarray(
        np.broadcast_to(arrival[:, None, :], (data.n_items, data.n_scenarios, H))
    )
    return dataclasses.replace(data, arrival=arrival)


def _free(data: ProgramData) -> ProgramData:
    """Drop the plan rows and the CVaR blend; keep fill-rate targets."""
    return dataclasses.replace(data, budget=None, storage=None, cvar_weight=0.0)


def outage_split(
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    integer: bool,
    plan_is_free: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Split off the buffer's outage part :math:`S^{out} - S^0`; the levels with and without.

    Parameters
    ----------
    plan_is_free : bool
        The plan is already the per-item causal search's answer on ``data`` (the causal
        engine without plan rows or CVaR blend): :math:`S^{out}` is taken from it instead
        of being searched again.

    Returns
    -------
    outage, with_outages, without : ndarray (n,)
        See the module docstring; ``reserved`` fixes :math:`K_i` in both searches.
    """
    free = _free(data)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    points = scan_points_for(data)
    if plan_is_free:
        with_out = np.asarray(base_stock, dtype=float).copy()
    else:
        with_out = search_items(free, integer=integer, reserved=K, scan_points=points).base_stock
    up = without_outages(free)
    without = with_out.copy()  # an item whose supplier is never down: the same search
    hit = np.flatnonzero((free.arrival != up.arrival).any(axis=(1, 2)))
    if hit.size:
        without[hit] = search_items(
            up, hit, integer=integer, reserved=K[hit], scan_points=points
        ).base_stock
    return with_out - without, with_out, without


def _levels(instance: Instance, S: np.ndarray, factor: float, integer: bool) -> np.ndarray:
    low = instance.items.lead_time * instance.items.demand_mean.astype(float)
    x = np.asarray(S, dtype=float) * factor
    if integer:
        return np.maximum(np.round(x), np.ceil(low - 1e-9))
    return np.maximum(x, low)


def _play_rows(data: ProgramData, items: np.ndarray, S: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Scenario costs (rows, N) of (item, S, K) rows, in chunks of :data:`PLAY_CELLS`."""
    out = np.empty((items.size, data.n_scenarios))
    step = max(1, PLAY_CELLS // max(1, data.n_scenarios))
    for a in range(0, items.size, step):
        b = min(items.size, a + step)
        play = play_plan(data, S[a:b], K[a:b], items=items[a:b], directions=VALUES_ONLY)
        out[a:b] = play.cost
    return out


def paired_ci(
    diff: np.ndarray, p: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t interval of each row of paired differences (rows at once).

    The formulas of :func:`optimizer.analysis.diagnostics.mean_ci`, row by row.
    """
    n = diff.shape[1]
    if np.allclose(p, p[0]):
        mean = diff.mean(axis=1)
        var = diff.var(axis=1, ddof=1) if n > 1 else np.zeros(diff.shape[0])
    else:
        mean = diff @ p
        var = ((diff - mean[:, None]) ** 2) @ p / max(1, n - 1) * n
    half = t_quantile(0.5 + level / 2, max(1, n - 1)) * np.sqrt(var / n)
    return mean, mean - half, mean + half


def heuristic_levels(instance: Instance) -> dict[str, np.ndarray]:
    """Base-stock levels of the heuristics marked on the curves (:data:`HEURISTIC_MARKS`)."""
    return {
        "jit": cover_policy(instance, 0.0).base_stock,
        "jic_2": cover_policy(instance, 2.0).base_stock,
        "classic_95": classic_policy(instance, 95.0).base_stock,
        "newsvendor": newsvendor_policy(instance).base_stock,
    }


def _split_chunk(data: ProgramData, S, K, *, integer: bool, plan_is_free: bool):
    worker_task()
    return outage_split(data, S, K, integer=integer, plan_is_free=plan_is_free)


def _fresh_data(instance: Instance, items: np.ndarray | None, *, size: int, seed: int, stream: str):
    """Build a chunk's fixed-plan program on ``size`` fresh scenarios (every item: None)."""
    worker_task()
    fresh = generate_scenarios(instance, size, seed=seed, stream=stream, items=items)
    return fixed_plan_data(program_data(instance, fresh, consume=True, items=items))


def _price_chunk(pdata: ProgramData, levels, K, *, keep_costs: bool) -> dict:
    """Play a chunk's blocks of levels (B, nc) on the fresh scenarios; keep what is summed.

    Returns each block's expected cost per item (B, nc), the paired intervals of the
    -10% and +10% blocks against the plan, each block's total per scenario (B, m), the
    probabilities, and with ``keep_costs`` the plan's scenario costs (nc, m).
    """
    worker_task()
    B, nc = levels.shape
    items = np.tile(np.arange(nc), B)
    cost = _play_rows(pdata, items, levels.reshape(-1), np.tile(K, B))
    cost = cost.reshape(B, nc, -1)  # (block, item, scenario)
    p = pdata.probability
    return {
        "expected": cost @ p,
        "minus": paired_ci(cost[1] - cost[0], p),
        "plus": paired_ci(cost[2] - cost[0], p),
        "totals": cost.sum(axis=1),
        "p": p,
        "plan_cost": cost[0] if keep_costs else None,
    }


def _tail_chunk(pdata: ProgramData, S, K, keep, w) -> np.ndarray:
    """Replay a chunk's plan and weight its costs on the tail (:func:`tail_means`)."""
    worker_task()
    return _play_rows(pdata, np.arange(S.size), S, K)[:, keep] @ w


def _rows_chunk(pdata: ProgramData, items, S, K) -> np.ndarray:
    worker_task()
    return _play_rows(pdata, items, S, K) @ pdata.probability


def explain_plan(
    instance: Instance,
    data: ProgramData,
    base_stock: np.ndarray,
    reserved: np.ndarray,
    *,
    eval_scenarios: int | None = None,
    seed: int | None = None,
    curve_items: int = CURVE_ITEMS,
    covers: Sequence[float] = SWEEP_COVERS,
    plan_is_free: bool = False,
    work: DaskItems | None = None,
) -> Explanation:
    r"""Explain the plan :math:`(S, K)` item by item (see the module docstring).

    Parameters
    ----------
    data : ProgramData
        The optimisation scenarios (for the outage split; with ``work``, the skeleton).
    eval_scenarios : int, optional
        Fresh scenarios of the pricing: default the headline's first batch,
        ``max(100, plan.scenarios)``.
    seed : int, optional
        Root seed (default ``plan.seed``).
    curve_items : int
        Items whose cost curve is drawn (largest expected cost first).
    plan_is_free : bool
        See :func:`outage_split`.
    work : DaskItems, optional
        The optimisation program's items in chunks on a cluster
        (:mod:`optimizer.engines.executors`): the outage split runs on each chunk, the
        fresh scenarios are generated chunk by chunk on the workers and played there; the
        client gets per-item figures and per-scenario totals (not the scenario costs).
    """
    integer = bool(instance.plan.integer)
    S = np.asarray(base_stock, dtype=float)
    K = np.where(data.reserves, np.asarray(reserved, dtype=float), 0.0)
    t0 = time.perf_counter()
    if work is None:
        split = outage_split(data, S, K, integer=integer, plan_is_free=plan_is_free)
        outage, without = split[0], split[2]
    else:
        parts = work.run(
            _split_chunk, range(len(work.chunks)), [(S[i], K[i]) for i in work.chunks],
            integer=integer, plan_is_free=plan_is_free,
        )  # fmt: skip
        outage = np.concatenate([q[0] for q in parts])
        without = np.concatenate([q[2] for q in parts])
    t1 = time.perf_counter()

    m = int(eval_scenarios or max(100, instance.plan.scenarios))
    seed = instance.plan.seed if seed is None else int(seed)
    fresh_kw = {"size": m, "seed": seed, "stream": batch_stream(0)}
    priced = (
        LocalItems(_fresh_data(instance, None, **fresh_kw))
        if work is None
        else work.derive(_fresh_data, **fresh_kw)
    )
    try:
        return _explain_priced(instance, priced, S, K, outage, without, m, covers,
                               curve_items, integer, t0, t1)  # fmt: skip
    finally:
        if work is not None:
            priced.close()


def _explain_priced(
    instance: Instance,
    priced: ItemWork,
    S: np.ndarray,
    K: np.ndarray,
    outage: np.ndarray,
    without: np.ndarray,
    m: int,
    covers: Sequence[float],
    curve_items: int,
    integer: bool,
    t0: float,
    t1: float,
) -> Explanation:
    """Price the plan for :func:`explain_plan` on ``priced``, the fresh scenarios' chunks."""
    it = instance.items
    n = len(it)
    mean = it.demand_mean.astype(float)
    cycle = (it.lead_time + 1) * mean
    ss = S - cycle
    local = isinstance(priced, LocalItems)
    marks = heuristic_levels(instance)
    minus, plus = _levels(instance, S, 1 - STEP, integer), _levels(instance, S, 1 + STEP, integer)
    sweep_S = [cycle + float(k) * mean for k in covers]
    blocks = np.stack([S, minus, plus, *marks.values(), *sweep_S])  # (block, item)
    ids = list(range(len(priced.chunks)))
    parts = priced.run(
        _price_chunk, ids, [(blocks[:, i], K[i]) for i in priced.chunks],
        keep_costs=local,
    )  # fmt: skip
    expected = np.concatenate([q["expected"] for q in parts], axis=1)  # (block, item)
    totals = parts[0]["totals"].copy()  # (block, scenario): the portfolio's per scenario
    for q in parts[1:]:
        totals += q["totals"]
    p = parts[0]["p"]
    at, lo, hi = expected[0], expected[1], expected[2]
    dm, dm_lo, dm_hi = (np.concatenate([q["minus"][j] for q in parts]) for j in range(3))
    dp, dp_lo, dp_hi = (np.concatenate([q["plus"][j] for q in parts]) for j in range(3))
    ratio = newsvendor_fractile(instance)
    pen, h = it.stockout_penalty.astype(float), instance.holding_cost.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_holding = np.where(h > 0, pen / h, np.inf)
    table = pd.DataFrame(
        {
            "item": it.name,
            "critical_ratio": ratio,
            "penalty_to_holding": to_holding,
            "base_stock": S,
            "safety_stock": ss,
            "demand_buffer": ss - outage,
            "outage_buffer": outage,
            "level_without_outages": without,
            "minus_10_level": minus,
            "plus_10_level": plus,
            "cost": at,
            "minus_10_cost": lo,
            "plus_10_cost": hi,
            "minus_10_delta": dm,
            "minus_10_delta_low": dm_lo,
            "minus_10_delta_high": dm_hi,
            "plus_10_delta": dp,
            "plus_10_delta_low": dp_lo,
            "plus_10_delta_high": dp_hi,
        }
    )
    alpha = instance.risk.cvar_alpha
    if local:
        table["tail_cost"] = tail_means(parts[0]["plan_cost"], totals[0], p, alpha)
    else:  # the plan replayed on each chunk, weighted by the portfolio's tail
        keep, w = tail_weights(totals[0], p, alpha)
        tails = priced.run(_tail_chunk, ids, [(S[i], K[i], keep, w) for i in priced.chunks])
        table["tail_cost"] = np.concatenate(tails)
    table["explanation"] = [
        sentence(r, instance.plan.unit, instance.plan.currency) for r in table.itertuples()
    ]
    # JIT -> JIC sweep, portfolio totals with their intervals, then the plan itself
    rows = []
    first = 3 + len(marks)
    for j, k in enumerate(covers):
        iv = mean_ci(totals[first + j], p)
        rows.append({"policy": f"cover {k:g}", "cover": float(k), "expected_cost": iv.mean,
                     "ci_low": iv.low, "ci_high": iv.high})  # fmt: skip
    iv = mean_ci(totals[0], p)
    rows.append({"policy": "plan", "cover": float("nan"), "expected_cost": iv.mean,
                 "ci_low": iv.low, "ci_high": iv.high})  # fmt: skip
    sweep = pd.DataFrame(rows)
    item_marks = {
        str(it.name[i]): {"plan": float(S[i]), **{k: float(v[i]) for k, v in marks.items()}}
        for i in range(n)
    }
    curves = _curves(instance, priced, S, K, at, marks, curve_items, integer)
    t2 = time.perf_counter()
    log.info("explanation: split %.2f s, pricing %.2f s on %d scenarios", t1 - t0, t2 - t1, m)
    return Explanation(table, curves, item_marks, sweep, m, {"split": t1 - t0, "pricing": t2 - t1})


def _curves(
    instance: Instance,
    priced: ItemWork,
    S: np.ndarray,
    K: np.ndarray,
    cost: np.ndarray,
    marks: dict[str, np.ndarray],
    count: int,
    integer: bool,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Price the cost curves of the ``count`` costliest items against their level."""
    if count <= 0:
        return {}
    top = np.argsort(-cost, kind="stable")[:count]
    low = instance.items.lead_time * instance.items.demand_mean.astype(float)
    levels = []
    for i in top:
        marked = [S[i], *(v[i] for v in marks.values())]
        a = max(low[i], 0.6 * min(marked))
        b = max(1.4 * max(marked), a + 2.0)
        grid = np.linspace(a, b, CURVE_POINTS)
        if integer:
            grid = np.unique(np.maximum(np.round(grid), np.ceil(low[i] - 1e-9)))
        levels.append(np.union1d(grid, [S[i]]))
    items = np.concatenate([np.full(g.size, i) for i, g in zip(top, levels, strict=True)])
    rows_S = np.concatenate(levels)
    routes = priced.route(items)
    got = priced.run(
        _rows_chunk, [c for c, _r, _l in routes],
        [(loc, rows_S[r], K[items[r]]) for _c, r, loc in routes],
    )  # fmt: skip
    costs = np.empty(items.size)
    for (_c, r, _l), part in zip(routes, got, strict=True):
        costs[r] = part
    out, at = {}, 0
    for i, g in zip(top, levels, strict=True):
        out[str(instance.items.name[i])] = (g, costs[at : at + g.size])
        at += g.size
    return out


def tail_means(item_cost: np.ndarray, total: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    r"""Each item's mean cost in the portfolio's worst :math:`1-\alpha` of scenarios.

    The scenarios are those whose total :math:`C_w = \sum_i C_{i,w}` is at or above its
    :math:`\alpha`-quantile (the CVaR tail); the items' tail means add up to the mean
    total there, so each one's share says how much of the risk it carries.
    """
    keep, w = tail_weights(total, p, alpha)
    return item_cost[:, keep] @ w


def tail_weights(total: np.ndarray, p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Give the tail scenarios of :func:`tail_means` and their weights (summing to 1)."""
    order = np.argsort(-total, kind="stable")
    mass = np.cumsum(p[order])
    keep = order[: int(np.searchsorted(mass, 1.0 - alpha - 1e-12)) + 1]
    return keep, p[keep] / p[keep].sum()


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == round(x) else f"{x:,.1f}"


def sentence(row, unit: str | None = None, currency: str | None = None) -> str:
    """One short sentence on why the item holds its level (a row of the table)."""
    u = f" {unit}" if unit else " units"
    cur = f" {currency}" if currency else ""
    ratio = (
        "stockouts are free"
        if row.critical_ratio == 0
        else f"a stockout costs {_num(row.penalty_to_holding)}x a period of holding"
        if np.isfinite(row.penalty_to_holding)
        else "holding is free"
    )
    head = (
        f"critical ratio {row.critical_ratio:.1%} ({ratio}); safety stock "
        f"{_num(row.safety_stock)}{u}"
    )
    if row.outage_buffer >= 0:
        split = (
            f": {_num(row.demand_buffer)} for demand variability, {_num(row.outage_buffer)} "
            "for supplier outages"
        )
    else:  # outages lower the best level (sales lost in an outage need no stock after it)
        split = (
            f": {_num(row.demand_buffer)} for demand variability, less "
            f"{_num(-row.outage_buffer)} because of supplier outages"
        )
    costs = (
        f"; 10% less stock costs {row.minus_10_delta:+,.0f}{cur} a horizon, 10% more "
        f"{row.plus_10_delta:+,.0f}{cur}"
    )
    return head + split + costs + "."


def plan_is_free(instance: Instance, data: ProgramData, solution) -> bool:
    """Whether ``solution`` is the per-item causal search's answer on ``data``.

    The causal engine on a program without plan rows or CVaR blend, every item searched
    (no time limit cut it short).
    """
    details = getattr(solution, "details", None) or {}
    return (
        instance.plan.recourse == "causal"
        and getattr(solution, "engine", "") == "causal"
        and data.is_separable
        and "items_searched" not in details
    )


def explain_on_cluster(
    instance: Instance, result, *, eval_scenarios: int | None = None, client=None
) -> Explanation:
    """:func:`explain_plan` of a ``solve --cluster`` result, on a cluster of the same kind.

    On ``client``, the cluster of the solve still connected (``stockplan solve`` keeps a
    ``local:N`` cluster for the whole command); without it
    ``result.summary["cluster"]["address"]`` says where it was solved: a scheduler address
    is connected to again, ``local:N`` starts a local cluster of ``N`` workers. The
    optimisation scenarios are generated again on the workers from the seed (the solve
    released them), as are the fresh ones of the pricing.
    """
    from optimizer.engines.executors import open_cluster  # dask only when asked for

    data, sol = result.data, result.solution
    inst = instance.with_plan(seed=int(result.summary.get("seed", instance.plan.seed)))
    if inst.explicit is None:
        inst = inst.with_plan(scenarios=data.n_scenarios)
    with (
        contextlib.nullcontext(client)
        if client is not None
        else open_cluster(result.summary["cluster"]["address"])
    ) as client:
        work = DaskItems(client, inst)
        try:
            return explain_plan(
                inst,
                data,
                sol.base_stock,
                sol.reserved,
                eval_scenarios=eval_scenarios,
                plan_is_free=plan_is_free(inst, data, sol),
                work=work,
            )
        finally:
            work.close()
