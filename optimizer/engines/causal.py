r"""The causal engines: plans fitted to what running them costs, period by period.

Under the causal recourse (README "The model", "Recourse") a scenario's cost for a plan
:math:`(S, K)` is the cost of playing it forward with no knowledge of the future, as
:func:`optimizer.program.simulate.simulate_plan` does. Two engines solve that program:

``causal``
    The fast path. Each item's causal sample-average cost :math:`F_i(S_i, K_i)` is
    minimised by :func:`optimizer.engines.causal_search.search_items` with the exact
    one-sided derivatives of :mod:`optimizer.program.causal_kernel` (whole units unless
    the request says otherwise; a grid scan guards against the non-convexity the uncosted
    warm-up brings); a fill-rate target raises the lower bound of :math:`S` to the
    smallest level that meets it; one budget or storage row is priced by
    :func:`optimizer.engines.causal_price.price_for_row`. A fixed plan is simply played.
``causal-milp``
    The Pyomo model of :mod:`models.causal` (every causal ``min`` as one binary and two
    big-M rows) solved by HiGHS's branch and bound: the source of truth the fast path is
    tested against, for small programs and for what the fast path does not cover (the
    CVaR blend, wait-and-see, several plan rows).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from optimizer.engines.base import (
    CAUSAL,
    EngineResult,
    SolutionStatus,
    SolveConfig,
    SolveRequest,
    Termination,
)
from optimizer.engines.causal_price import price_for_row
from optimizer.engines.causal_search import ItemPlans, fill_rate_floor, search_items
from optimizer.engines.executors import ItemWork, play, search, search_until, worker_task
from optimizer.program.causal_kernel import VALUES_ONLY, play_plan
from optimizer.program.data import ProgramData
from optimizer.program.verifier import blend

log = logging.getLogger(__name__)

#: From this many scenarios the grid scan of the item search uses 16 levels, not 48.
SCAN_MANY_SCENARIOS = 500
#: Relative gap to the Lagrangian bound under which a priced plan counts as optimal.
ROW_GAP_TOLERANCE = 1e-6
#: ``auto`` hands a causal program the fast engine cannot take to the MILP only up to
#: this many item-scenario-period cells (branch and bound grows fast beyond it).
MILP_MAX_CELLS = 20_000


def scan_points_for(data: ProgramData) -> int:
    """Levels of the convexity safeguard's grid scan: fewer when the sample is large.

    The sample average's departures from convexity shrink with the number of scenarios
    (relative second differences -0.3% at 20 scenarios, -0.02% at 500:
    ``tests/test_causal_kernel.py``); on 200 generated items x 1,000 scenarios a 16-level
    scan gave the same plan as 48 levels (and as no scan) in 60% of the time.
    """
    return 48 if data.n_scenarios < SCAN_MANY_SCENARIOS else 16


def causal_only(request: SolveRequest, *, blocks: bool = False) -> str | None:
    """Why an engine of the causal recourse declines ``request`` (None: it serves it).

    ``blocks``: the engine fits block levels (``review_levels`` > 1); only ``causal`` does.
    """
    if request.recourse != CAUSAL:
        return f"it solves the causal recourse (this request is {request.recourse!r})"
    if request.review_levels > 1 and not blocks:
        return "it fits one level per item (review_levels > 1 is fitted by 'causal')"
    return None


#: Items per chunk of a time-limited search.
TIME_CHUNK = 64
#: Items of a time-limited search's first chunk, which times the rest (small, so a short
#: limit is kept: 64 items took 1.4-4.7 s on a shared machine).
FIRST_TIME_CHUNK = 8


def search_within(
    data: ProgramData, *, integer: bool, fill_rates: bool, time_limit: float | None
) -> tuple[ItemPlans, int]:
    r"""Every item's search, in chunks of items once a time limit is set.

    Items are independent without a plan row, so a chunked search gives the plans of
    one search over all items. With ``time_limit`` the items are searched
    :data:`TIME_CHUNK` at a time (:data:`FIRST_TIME_CHUNK` first, always searched unless
    the limit is 0) while the time spent so far, plus the next chunk's estimate from the chunks
    before, stays within the limit; the items left get their
    cover level :math:`\lceil (L+1)\mu \rceil` (no safety stock; the fill-rate floor
    where a target is set), played for their costs and marked uncertified.

    Returns
    -------
    tuple
        ``(plans, searched)``: the :class:`ItemPlans` of every item and how many were
        searched.
    """
    points = scan_points_for(data)
    if time_limit is None:
        return search_items(data, integer=integer, fill_rates=fill_rates, scan_points=points), (
            data.n_items
        )
    t0 = time.perf_counter()
    n = data.n_items
    parts: list[ItemPlans] = []
    done = 0
    while done < n:
        spent = time.perf_counter() - t0
        per_item = spent / done if done else 0.0
        size = min(TIME_CHUNK if done else min(FIRST_TIME_CHUNK, TIME_CHUNK), n - done)
        if time_limit <= 0 or (done and spent + per_item * size > time_limit):
            break
        items = np.arange(done, done + size)
        parts.append(
            search_items(data, items, integer=integer, fill_rates=fill_rates, scan_points=points)
        )
        done += size
    if done < n:
        parts.append(cover_plans(data, np.arange(done, n), integer=integer, fill_rates=fill_rates))
        log.warning(
            "causal search: time limit of %.3g s: %d of %d items searched, the rest at "
            "their cover level",
            time_limit,
            done,
            n,
        )
    return join_plans(parts), done


_FIELDS = ("items", "base_stock", "reserved", "cost", "right", "left", "right_K",
           "left_K", "fill_rate", "lower", "certified", "convex")  # fmt: skip


def join_plans(parts: list[ItemPlans]) -> ItemPlans:
    """One :class:`ItemPlans` of parts over disjoint items, in ascending item order."""
    items = np.concatenate([q.items for q in parts])
    order = np.argsort(items, kind="stable")
    return ItemPlans(**{f: np.concatenate([getattr(q, f) for q in parts])[order] for f in _FIELDS})


def cover_plans(
    data: ProgramData, rest: np.ndarray, *, integer: bool, fill_rates: bool
) -> ItemPlans:
    r"""Give the items a time limit left unsearched their cover level, played.

    :math:`S_i = (L_i+1)\mu_i` (whole units when ``integer``; at least the fill-rate floor
    where a target is set), no reserved capacity, marked uncertified.
    """
    cover = (data.lead[rest] + 1.0) * data.mean[rest]  # (L + 1) mu >= L mu
    if integer:
        cover = np.ceil(cover - 1e-9)
    if fill_rates and not np.isnan(data.fill_rate[rest]).all():
        cover = np.maximum(cover, fill_rate_floor(data, rest, integer=integer))
    play = play_plan(data, cover, np.zeros(rest.size), items=rest, directions=VALUES_ONLY)
    nan = np.full(rest.size, np.nan)
    return ItemPlans(
        items=rest, base_stock=cover, reserved=np.zeros(rest.size),
        cost=play.expected_cost, right=nan, left=nan, right_K=nan, left_K=nan,
        fill_rate=play.fill_rate, lower=data.min_base_stock[rest].astype(float),
        certified=np.zeros(rest.size, dtype=bool),
        convex=np.ones(rest.size, dtype=bool),
    )  # fmt: skip


def _cover_chunk(data: ProgramData, rest, *, integer: bool, fill_rates: bool) -> ItemPlans:
    worker_task()
    return cover_plans(data, rest, integer=integer, fill_rates=fill_rates)


def search_on(
    work: ItemWork, data: ProgramData, *, integer: bool, fill_rates: bool, time_limit: float | None
) -> tuple[ItemPlans, int]:
    """:func:`search_within` on a cluster's chunks of items (``data``: the skeleton).

    With ``time_limit`` the items are searched in tasks of :data:`TIME_CHUNK` items
    (:func:`optimizer.engines.executors.search_until`): those finished within the limit
    keep their plans, the others get :func:`cover_plans`, on their workers.
    """
    points = scan_points_for(data)
    if time_limit is None:
        plans = search(work, integer=integer, fill_rates=fill_rates, scan_points=points)
        return plans, data.n_items
    got, searched = search_until(
        work, time_limit, block=TIME_CHUNK, integer=integer, fill_rates=fill_rates,
        scan_points=points,
    )  # fmt: skip
    done = int(searched.sum())
    if done == data.n_items:
        return got, done
    routes = work.route(np.flatnonzero(~searched))
    covered = work.run(
        _cover_chunk, [c for c, _r, _l in routes], [(loc,) for _c, _r, loc in routes],
        integer=integer, fill_rates=fill_rates,
    )  # fmt: skip
    parts = [] if got is None else [got]
    for (c, _r, _l), part in zip(routes, covered, strict=True):
        part.items = work.chunks[c][part.items]
        parts.append(part)
    log.warning(
        "causal search on a cluster: time limit of %.3g s: %d of %d items searched, the "
        "rest at their cover level",
        time_limit,
        done,
        data.n_items,
    )
    return join_plans(parts), done


class CausalEngine:
    """``causal``: per-item exact-derivative searches, one priced row (see module)."""

    name = "causal"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Causal recourse; no CVaR blend, no wait-and-see, at most one plan row."""
        if reason := causal_only(request, blocks=True):
            return reason
        if request.fixed_plan:
            return None
        if request.review_levels > 1 and (data.budget is not None or data.storage is not None):
            return "block levels (review_levels > 1) are fitted without a budget or storage row"
        if request.anticipative:
            return "it does not solve the wait-and-see relaxation (use 'causal-milp')"
        if data.uses_cvar:
            return "the CVaR blend couples scenarios across items (use 'causal-milp')"
        if data.budget is not None and data.storage is not None:
            return "it prices one plan row, and this program has a budget and a storage row"
        return None

    def solve(
        self,
        data: ProgramData,
        request: SolveRequest,
        config: SolveConfig,
        *,
        work: ItemWork | None = None,
    ) -> EngineResult:
        """Search every item's causal optimum (or play a fixed plan).

        With ``work`` the item searches and plays run on its chunks of items (a cluster,
        :mod:`optimizer.engines.executors`) and ``data`` may be the program's skeleton
        (:func:`optimizer.program.data.program_skeleton`); the price of a plan row is
        coordinated here all the same; a time limit cuts the chunked search as it cuts
        :func:`search_within` (:func:`search_on`).
        """
        t0 = time.perf_counter()
        if request.review_levels > 1 and not request.fixed_plan:
            if work is not None:
                raise ValueError("block levels are fitted on one machine (no --cluster)")
            return self._solve_blocks(data, request, config, t0)
        items = data if work is None else work
        details: dict = {}
        timed_out = False
        if request.fixed_plan:
            S = np.asarray(request.base_stock, dtype=float)
            K = np.zeros(data.n_items) if request.reserved is None else request.reserved
            K = np.where(data.reserves, np.asarray(K, dtype=float), 0.0)
            if work is not None and not data.uses_cvar:
                objective = float(play(work, S, K).expected_cost.sum())
            else:
                played = play_plan(data, S, K, directions=VALUES_ONLY)
                objective = float(played.expected_cost.sum())
                if data.uses_cvar:  # the blend of the scenario totals
                    objective = blend(
                        played.cost.sum(axis=0),
                        data.probability,
                        data.cvar_alpha,
                        data.cvar_weight,
                    )
            certified = True
        else:
            keep = request.keep_fill_rate
            row = (
                ("inventory_budget", data.unit_cost, data.budget)
                if data.budget is not None
                else ("storage_capacity", data.volume, data.storage)
                if data.storage is not None
                else None
            )
            if row is None and work is not None:
                plans, searched = search_on(
                    work, data, integer=request.integer, fill_rates=keep,
                    time_limit=config.time_limit,
                )  # fmt: skip
            elif row is None:
                plans, searched = search_within(
                    data, integer=request.integer, fill_rates=keep, time_limit=config.time_limit
                )
            if row is None:
                S, K, cost = plans.base_stock, plans.reserved, plans.cost
                certified = bool(plans.certified.all())
                details["items_not_convex"] = int((~plans.convex).sum())
                if searched < data.n_items:
                    timed_out = True
                    details["items_searched"] = searched
            else:
                name, weight, limit = row
                try:
                    priced = price_for_row(
                        items,
                        weight,
                        float(limit),
                        integer=request.integer,
                        fill_rates=keep,
                        scan_points=scan_points_for(data),
                    )
                except ValueError as exc:  # the row cannot hold the lower bounds
                    return EngineResult(
                        status=SolutionStatus.NO_SOLUTION,
                        termination=Termination.INFEASIBLE,
                        message=f"infeasible: {exc}",
                        solve_seconds=time.perf_counter() - t0,
                    )
                S, K = priced.combined_base_stock, priced.combined_reserved
                cost = play(items, S, K).expected_cost
                # the Lagrangian bound certifies the plan up to the duality gap (whole
                # units and a non-convex F leave one): a plan with a gap is feasible,
                # not proven optimal
                row_gap = max(0.0, float(cost.sum()) - priced.lower_bound) / max(
                    1.0, abs(float(cost.sum()))
                )
                certified = row_gap <= ROW_GAP_TOLERANCE
                details.update(
                    {
                        "row": name,
                        "price": priced.price,
                        "row_use": float(weight @ S),
                        "lagrangian_bound": priced.lower_bound,
                        "gap_to_bound": row_gap,
                    }
                )
            objective = float(cost.sum())
        gap = details.get("gap_to_bound", 0.0)
        details["certificate"] = (
            f"time limit: {details['items_searched']:,} of {data.n_items:,} items searched, "
            "the others at their cover level (L+1) mu (no safety stock) or fill-rate floor"
            if timed_out
            else "every item at a level no worse than its neighbours and than a grid scan"
            if certified
            else f"within {gap:.3g} of the Lagrangian bound of the plan row"
            if gap > 0
            else "some item not certified locally"
        )
        certified &= not timed_out
        if timed_out:  # items left at their cover level: no bound, the gap is unknown
            gap = float("nan")
        return EngineResult(
            status=SolutionStatus.OPTIMAL if certified else SolutionStatus.FEASIBLE,
            termination=Termination.TIME_LIMIT if timed_out else Termination.CONVERGED,
            message="causal search converged" if certified else details["certificate"],
            objective=objective,
            base_stock=S,
            reserved=K,
            recourse=None,
            solve_seconds=time.perf_counter() - t0,
            size=(0, data.n_items * (1 + int(data.reserves.any())), 0),
            gap=0.0 if certified else gap,
            subproblems=data.n_items,
            details=details,
        )

    def _solve_blocks(
        self, data: ProgramData, request: SolveRequest, config: SolveConfig, t0: float
    ) -> EngineResult:
        r"""One level per review block: the single level :math:`S^*`, then the blocks.

        :math:`S^*_i` (and :math:`K_i`) come from the item search on ``data`` (both
        quarters); :func:`optimizer.engines.causal_review.search_levels` then moves the
        :math:`k` block levels of the first ``request.review_span`` costed periods from
        it, the warm-up and the later periods held at :math:`S^*_i` (README "Review
        levels"). ``base_stock`` is :math:`S^*`, ``block_levels`` the blocks'. The
        pattern search stops at a local optimum (no block one unit up or down costs
        less): the plan is feasible, not proven optimal.
        """
        from optimizer.engines.causal_review import search_levels

        limit = config.time_limit
        plans, searched = search_within(
            data, integer=request.integer, fill_rates=False, time_limit=limit
        )
        report: dict = {}
        levels, cost = search_levels(
            data,
            request.review_levels,
            start=plans.base_stock,
            reserved=plans.reserved,
            span=request.review_span,
            deadline=None if limit is None else t0 + limit,
            report=report,
            movable=request.review_items,
        )
        timed_out = searched < data.n_items or not report["converged"]
        details = {
            "review_levels": request.review_levels,
            "pattern_search_rounds": report["rounds"],
            "items_not_convex": int((~plans.convex).sum()),
            "certificate": (
                "time limit: the single levels or the block levels' search cut short"
                if timed_out
                else "every block level no worse than one unit up or down (a local "
                "optimum of the pattern search, from the single causal optimum)"
            ),
        }
        if searched < data.n_items:
            details["items_searched"] = searched
        return EngineResult(
            status=SolutionStatus.FEASIBLE,
            termination=Termination.TIME_LIMIT if timed_out else Termination.CONVERGED,
            message=details["certificate"],
            objective=float(cost.sum()),
            base_stock=plans.base_stock,
            reserved=plans.reserved,
            solve_seconds=time.perf_counter() - t0,
            size=(0, data.n_items * request.review_levels, 0),
            gap=float("nan"),
            subproblems=data.n_items,
            details=details,
            block_levels=levels,
        )


class CausalMILPEngine:
    """``causal-milp``: the Pyomo causal model solved exactly by HiGHS (see module)."""

    name = "causal-milp"

    def accepts(
        self, data: ProgramData, request: SolveRequest, *, auto: bool = False
    ) -> str | None:
        """Every causal program; in ``auto`` only small ones."""
        if reason := causal_only(request):
            return reason
        if auto and data.demand.size > MILP_MAX_CELLS:
            return (
                f"above {MILP_MAX_CELLS:,} item-scenario-period cells branch and bound is "
                "too slow (name it with --engine causal-milp to try anyway)"
            )
        return None

    def solve(self, data: ProgramData, request: SolveRequest, config: SolveConfig) -> EngineResult:
        """Build :func:`models.causal.build_causal_model` and solve it by branch and bound."""
        import pyomo.environ as pyo  # Pyomo only when the MILP runs (start-up)

        from models.causal import build_causal_model, plan_values, recourse_values
        from optimizer.engines.causal_milp import model_size, solve_milp

        t0 = time.perf_counter()
        model = build_causal_model(
            data,
            nonanticipative=not request.anticipative,
            integer=request.integer,
            base_stock=request.base_stock,
            reserved=request.reserved,
            keep_fill_rate=request.keep_fill_rate,
        )
        built = time.perf_counter() - t0
        n_vars, _, n_rows = model_size(model)
        res = solve_milp(model, time_limit=config.time_limit, threads=config.threads)
        termination = {
            "convergenceCriteriaSatisfied": Termination.CONVERGED,
            "maxTimeLimit": Termination.TIME_LIMIT,
            "iterationLimit": Termination.ITERATION_LIMIT,
            "objectiveLimit": Termination.OTHER_LIMIT,
            "interrupted": Termination.INTERRUPTED,
            "provenInfeasible": Termination.INFEASIBLE,
            "unbounded": Termination.UNBOUNDED,
            "infeasibleOrUnbounded": Termination.INFEASIBLE_OR_UNBOUNDED,
        }.get(res.termination.name, Termination.ERROR)
        status = (
            SolutionStatus.OPTIMAL
            if res.optimal
            else SolutionStatus.FEASIBLE
            if res.has_plan
            else SolutionStatus.NO_SOLUTION
        )
        out = EngineResult(
            status=status,
            termination=termination,
            message=f"HiGHS MILP: {res}",
            objective=res.objective if res.has_plan else float("nan"),
            build_seconds=built,
            solve_seconds=res.seconds,
            size=(n_rows, n_vars, 0),
            gap=res.gap if res.has_plan else float("nan"),
            objective_bound=res.bound,
        )
        if res.has_plan:
            if request.anticipative:  # one plan per scenario block, shape (n, N)
                owners = [model.scenario[w] for w in range(data.n_scenarios)]
                S = np.array([[pyo.value(o.S[i]) for o in owners] for i in range(data.n_items)])
                K = np.zeros_like(S)
                for j, o in enumerate(owners):
                    for i in o.K:
                        K[i, j] = pyo.value(o.K[i])
            else:
                S, K = plan_values(model, data)
            out.base_stock, out.reserved = S, K
            out.recourse = recourse_values(model, data)
        return out
