r"""Base-stock levels that change within the quarter: one per review block, played causally.

``review_levels`` :math:`k \in \{1, 3, 13\}` splits the :math:`T` costed periods into
:math:`k` consecutive blocks (:func:`review_blocks`: a quarter, its months, its weeks) and
gives item :math:`i` one level :math:`S_{i,b}` per block.  The plan is run as
:func:`optimizer.program.simulate.simulate_plan` runs a single level, except for the
order: at the end of period :math:`t` the inventory position :math:`IP` (on hand, in
transit and queued, less backlog) is raised to the level of period :math:`t+1`,
:math:`q_t = \max(0, S_{t+1} - IP_t)`; a level that falls leaves the excess to be sold
down.  The warm-up runs at the first block's level, or at a given outside level.  With
:math:`k = 1` the orders, and so every cost, equal
:func:`~optimizer.program.simulate.simulate_plan`'s (``tests/test_review_levels.py``).

``stockplan solve`` with ``[plan] review_levels`` :math:`k > 1` (README "Review levels")
fits and prices the blocks under a terminal condition: the program holds two quarters
(:func:`fair_instance`), the blocks cover the first, and the warm-up and the second
quarter run at the single level :math:`S^*_i`, so the quarter starts from the stock
:math:`S^*` leaves and the plan pays, in the second quarter, for the stock its last block
hands over. :func:`review_refusal` says which programs this does not cover.
"""

from __future__ import annotations

import numpy as np

from optimizer.instance import Instance
from optimizer.instance.schema import MAX_HORIZON
from optimizer.program.data import ProgramData
from optimizer.program.verifier import Evaluation, RecourseArrays, evaluate_solution

REVIEW_LEVELS = (1, 3, 13)


def review_blocks(periods: int, levels: int) -> np.ndarray:
    """Block index of each costed period: ``levels`` consecutive, near-equal blocks."""
    k = max(1, min(int(levels), int(periods)))
    return np.concatenate(
        [np.full(len(c), b) for b, c in enumerate(np.array_split(np.arange(periods), k))]
    )


def level_path(
    data: ProgramData,
    levels: np.ndarray,
    *,
    span: int | None = None,
    tail: np.ndarray | None = None,
) -> np.ndarray:
    r"""Per-period levels :math:`S_{i,t}` of shape (n, H) from block levels (n, k).

    Parameters
    ----------
    span : int, optional
        Costed periods the blocks cover (default all :math:`T`).
    tail : ndarray (n,), optional
        The level of the periods outside the blocks: the warm-up (the quarter then starts
        from the stock this level leaves, not from one the blocks chose) and the costed
        periods after ``span`` (a next quarter that continues at it). Without it the
        warm-up runs at the first block's level.
    """
    levels = np.atleast_2d(np.asarray(levels, dtype=float))
    span = data.periods if span is None else int(span)
    blocks = review_blocks(span, levels.shape[1])
    path = np.empty((levels.shape[0], data.horizon))
    outside = levels[:, :1] if tail is None else np.asarray(tail, dtype=float)[:, None]
    path[:, : data.warmup] = outside
    path[:, data.warmup : data.warmup + span] = levels[:, blocks]
    path[:, data.warmup + span :] = outside
    return path


def simulate_levels(data: ProgramData, path: np.ndarray, reserved: np.ndarray) -> RecourseArrays:
    """Play every scenario under per-period levels ``path`` (n, H) (see the module)."""
    n, N, H = data.demand.shape
    d = np.moveaxis(data.demand, 2, 0)
    arrival = np.minimum(np.moveaxis(data.arrival, 2, 0), H)
    cap = np.where(data.reserves, np.minimum(data.capacity, reserved), data.capacity)
    cap = np.broadcast_to(cap[:, None], (n, N))
    out = {k: np.zeros((H, n, N)) for k in ("I", "s", "n", "e", "B", "r")}
    incoming = np.zeros((H + 1, n, N))
    incoming[:H] += data.pipeline.T[:, :, None]
    flat = incoming.reshape(-1)
    cells = np.arange(n * N).reshape(n, N)
    stock = np.broadcast_to((path[:, 0] - data.lead * data.mean)[:, None], (n, N)).copy()
    backlog = np.zeros((n, N))
    position = np.broadcast_to(path[:, :1], (n, N)).copy()
    for t in range(H):
        avail = stock + incoming[t]
        served = np.minimum(backlog, avail) if data.backorder else np.zeros((n, N))
        avail = avail - served
        sold = np.minimum(d[t], avail)
        emergency = np.minimum(d[t] - sold, cap)
        unmet = d[t] - sold - emergency
        backlog = backlog - served + unmet if data.backorder else backlog
        stock = avail - sold
        position -= d[t] - emergency if data.backorder else sold
        target = path[:, min(t + 1, H - 1)][:, None]
        order = np.maximum(0.0, target - position)
        position += order
        flat[arrival[t] * n * N + cells] += order
        for key, value in (("I", stock), ("s", sold), ("n", unmet), ("e", emergency)):
            out[key][t] = value
        out["B"][t], out["r"][t] = backlog, served
    return RecourseArrays(**{k: np.ascontiguousarray(np.moveaxis(v, 0, 2)) for k, v in out.items()})


def evaluate_levels(
    data: ProgramData,
    levels: np.ndarray,
    reserved: np.ndarray,
    *,
    span: int | None = None,
    tail: np.ndarray | None = None,
) -> Evaluation:
    """Costs of block levels (n, k) run causally (the verifier's lines; :func:`level_path`)."""
    path = level_path(data, levels, span=span, tail=tail)
    rec = simulate_levels(data, path, np.asarray(reserved, dtype=float))
    return evaluate_solution(
        data, path[:, 0], reserved, rec, check_fill_rate=False, check_plan_rows=False, path=path
    )


def fair_instance(instance: Instance) -> Instance:
    r"""Return the two-quarter instance block levels are fitted and priced on (see module).

    The costed periods become :math:`2T` (the quarter, then the next one, which follows
    the items' own laws where a forecast covers only the quarter); the warm-up stays
    that of ``instance``.
    """
    return instance.with_plan(periods=2 * instance.plan.periods, warmup=instance.warmup)


def block_periods(periods: int, levels: int) -> list[dict[str, int]]:
    """Each block's first and last costed period (1-based), as ``summary.json`` lists them."""
    blocks = review_blocks(periods, levels)
    return [
        {
            "block": b + 1,
            "first_period": int(np.flatnonzero(blocks == b)[0]) + 1,
            "last_period": int(np.flatnonzero(blocks == b)[-1]) + 1,
        }
        for b in range(int(blocks.max()) + 1)
    ]


def block_mean_demand(data: ProgramData, levels: int, span: int | None = None) -> np.ndarray:
    r"""Mean demand per period of each block, :math:`E[d_{i,t}]` averaged over block :math:`b`.

    Returns an (n, k) array over the first ``span`` costed periods (default all).
    """
    span = data.periods if span is None else int(span)
    blocks = review_blocks(span, levels)
    costed = data.demand[:, :, data.warmup : data.warmup + span]
    mean = np.einsum("int,n->it", costed, data.probability)
    return np.stack([mean[:, blocks == b].mean(axis=1) for b in range(blocks.max() + 1)], axis=1)


#: A forecast whose block means differ by less than this share of their mean is flat.
SHAPE_TOLERANCE = 0.02


def shaped_items(instance: Instance, levels: int) -> np.ndarray:
    r"""Items whose expected demand changes from block to block: the ones given block levels.

    An item has a shape when ``history/forecast.csv`` gives it a path whose block means
    differ by at least :data:`SHAPE_TOLERANCE` of their mean. Every other item's demand
    is stationary over the quarter, and under the fair costing (module docstring) its
    extra levels can only fit the optimisation scenarios' noise: on the example's flat
    fast movers three levels cost +124 [+87, +160] more out of sample than one (README
    "Review levels"), so they keep the single level :math:`S^*_i` in every block.
    """
    n = len(instance.items)
    history = instance.history
    out = np.zeros(n, dtype=bool)
    if history is None or history.forecast_mean.shape[1] == 0:
        return out
    T = instance.plan.periods
    blocks = review_blocks(T, levels)
    for i in range(n):
        if not history.has_forecast(i):
            continue
        path = np.asarray(history.forecast_mean[i], dtype=float)[:T]
        if path.size < T:
            continue
        means = np.array([path[blocks == b].mean() for b in range(blocks.max() + 1)])
        centre = float(means.mean())
        out[i] = centre > 0 and float(means.max() - means.min()) >= SHAPE_TOLERANCE * centre
    return out


def review_refusal(
    instance: Instance, *, cluster: bool = False, engine: str = "auto"
) -> str | None:
    """Why ``[plan] review_levels`` > 1 cannot be solved for ``instance`` (None: it can).

    Block levels are fitted by the ``causal`` engine's item search and pattern search:
    causal recourse, items independent (no budget or storage row, no CVaR blend),
    no fill-rate targets (a target is the quarter's), sampled scenarios (explicit ones
    cover one quarter, not two), on one machine.
    """
    k = int(instance.plan.review_levels)
    if k <= 1:
        return None
    say = f"review_levels = {k}"
    plan = instance.plan
    if plan.recourse != "causal":
        return f"{say} needs the causal recourse (this plan's is {plan.recourse!r})"
    if engine not in ("auto", "causal"):
        return f"{say} is fitted by the 'causal' engine only (asked for {engine!r})"
    if plan.inventory_budget is not None or plan.storage_capacity is not None:
        return (
            f"{say} is not supported with an inventory_budget or storage_capacity row: "
            "the block levels are fitted item by item (drop the row or use review_levels = 1)"
        )
    if not np.isnan(np.asarray(instance.items.min_fill_rate, dtype=float)).all():
        return (
            f"{say} is not supported with fill-rate targets (min_fill_rate, --fill-rate): "
            "a target is the quarter's, the blocks are fitted on cost alone"
        )
    if instance.risk.cvar_weight > 0:
        return f"{say} is not supported with a CVaR blend ([risk] cvar_weight > 0)"
    if instance.explicit is not None:
        return (
            f"{say} needs sampled scenarios: the fair costing runs two quarters and "
            "scenarios/demand.csv holds one"
        )
    if cluster:
        return f"{say} runs on one machine (drop --cluster)"
    if instance.warmup + 2 * plan.periods > MAX_HORIZON:
        return (
            f"{say} costs two quarters, {2 * plan.periods} periods plus the warm-up "
            f"{instance.warmup}: more than {MAX_HORIZON}"
        )
    return None
