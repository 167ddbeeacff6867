"""The main job: instance → scenarios → program → HiGHS → plan table and summary.

This module strings the stages together for the CLI and for scripts; each stage lives in
its own module and can be used alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis.diagnostics import Diagnostics, compute_diagnostics, diagnostics_budget
from optimizer.analysis.headline import MAX_EVAL_SCENARIOS, Headline, headline_budget, honest_cost
from optimizer.analysis.service_price import add_service_columns
from optimizer.engines.base import SolutionStatus, SolveConfig, SolveRequest
from optimizer.engines.dispatch import Solution, require_plan, solve_program
from optimizer.engines.rounding import whole_solution
from optimizer.errors import UnsupportedOptionError
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.program.review import (
    block_mean_demand,
    block_periods,
    review_refusal,
    shaped_items,
)
from optimizer.report import plan_table, posture, versions
from optimizer.report.history_columns import history_summary
from optimizer.scenarios import generate_scenarios

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class PlanResult:
    """Everything ``stockplan solve`` reports."""

    plan: pd.DataFrame
    summary: dict
    solution: Solution
    data: ProgramData
    diagnostics: Diagnostics | None
    headline: Headline | None = None
    block_demand: np.ndarray | None = None


def make_plan(
    instance: Instance,
    config: SolveConfig | None = None,
    *,
    scenarios: int | None = None,
    seed: int | None = None,
    eval_scenarios: int | None = None,
    max_eval_scenarios: int = MAX_EVAL_SCENARIOS,
    with_diagnostics: bool = True,
    progress: Progress | None = None,
    cluster: str | Any | None = None,
    deadline: float | None = None,
) -> PlanResult:
    """Compute the stochastic plan of ``instance``, its honest cost and its diagnostics.

    The plan is fitted to the recourse of ``instance.plan.recourse`` (whole units when
    ``instance.plan.integer``); its headline cost and the per-item figures of the plan
    table are its causal out-of-sample costs (:func:`optimizer.analysis.headline.honest_cost`:
    a first batch of ``eval_scenarios`` fresh scenarios, then rounds sized from its
    variance, until the 95% interval is within 2% of the mean or ``max_eval_scenarios``
    are used).

    Parameters
    ----------
    config : SolveConfig, optional
        Engine and solver settings of the plan (the diagnostics' programs use ``auto``
        with the same settings). A distributed engine's non-primary ranks skip the
        diagnostics.
    with_diagnostics : bool
        Also compute EV, EEV, VSS, WS, EVPI and the plan's hindsight bound.
    cluster : str or distributed.Client, optional
        Run the item-separable work on a Dask cluster: a scheduler address
        (``tcp://host:8786``), ``local:N`` (:func:`optimizer.engines.executors.open_cluster`)
        or a connected client.
        The scenarios are generated on the workers, chunk by chunk; the plan is the
        single-machine plan.
    deadline : float, optional
        The whole job's budget as a :func:`time.monotonic` time (``--time-limit``): the
        plan stage's engine gets the time left when it starts (no LP runs past the
        deadline: :meth:`~optimizer.engines.base.SolveConfig.within`), the honest cost
        samples no batch after it (its first batch is taken if any time is left, else it
        is skipped and the plan table's figures are in sample), and the diagnostics are
        skipped when less time is left than the plan stage took (they solve programs of
        its size). ``summary["time_limit"]`` says what was cut.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        When the engine does not return a usable plan
        (see :func:`optimizer.engines.dispatch.require_plan`).
    EngineDeclinedError
        When ``config.engine`` cannot solve this program.
    """
    config = config or SolveConfig()
    say = progress or (lambda _msg: None)
    if scenarios is not None or seed is not None:
        instance = instance.with_plan(
            **{k: v for k, v in (("scenarios", scenarios), ("seed", seed)) if v is not None}
        )
    if instance.plan.review_levels > 1:  # README "Review levels"
        if reason := review_refusal(instance, cluster=cluster is not None, engine=config.engine):
            raise UnsupportedOptionError(reason)
        return _make_block_plan(instance, config, eval_scenarios, max_eval_scenarios, say,
                                deadline)  # fmt: skip
    request = SolveRequest(recourse=instance.plan.recourse, integer=instance.plan.integer)
    if cluster is not None:  # README "Beyond one machine"
        from optimizer.planning_cluster import solve_on_cluster  # dask only when asked for

        run = solve_on_cluster(cluster, instance, config, request, eval_scenarios,
                               max_eval_scenarios, with_diagnostics, say, deadline)  # fmt: skip
        summary = build_summary(instance, run.data, run.solution, run.diagnostics,
                                run.headline, run.plan, _timings(*run.clock))  # fmt: skip
        summary.update(run.summary)
        return PlanResult(run.plan, summary, run.solution, run.data, run.diagnostics, run.headline)
    t0 = time.perf_counter()
    say("sampling scenarios")
    data = program_data(instance, generate_scenarios(instance), consume=True)
    t_scen = time.perf_counter() - t0
    say(f"solving {data.n_items} items x {data.n_scenarios} scenarios x {data.horizon} periods")
    budget: dict = {}
    if deadline is not None:
        config = config.within(deadline)  # the plan stage gets what is left
        budget["plan_stage_seconds"] = config.time_limit
    sol = require_plan(solve_program(data, config, request), data, config)
    sol = whole_solution(sol, data, instance.plan.integer)  # hindsight LPs are fractional
    t1 = time.perf_counter()
    diag = headline = None
    if sol.primary and (deadline is None or time.monotonic() < deadline):
        say("pricing the plan causally on fresh scenarios")
        headline = honest_cost(
            instance,
            sol.base_stock,
            sol.reserved,
            batch=eval_scenarios,
            max_scenarios=max_eval_scenarios,
            seed=instance.plan.seed,
            deadline=deadline,
        )
    if deadline is not None and sol.primary:
        budget["expected_cost"] = headline_budget(headline)
    t2 = time.perf_counter()
    if with_diagnostics and sol.primary:
        left = None if deadline is None else deadline - time.monotonic()
        if left is None or left >= t1 - t0:
            say("diagnostics: EV, EEV, WS, hindsight bound")
            config = config.within(deadline)
            diag = compute_diagnostics(instance, data, sol, config=config, request=request)
            if deadline is not None:
                budget["diagnostics"] = diagnostics_budget(deadline, None, t1 - t0)
        else:
            budget["diagnostics"] = diagnostics_budget(deadline, left, t1 - t0)
    t3 = time.perf_counter()
    costs = headline.evaluation if headline is not None else sol.evaluation
    table = plan_table(instance, sol.base_stock, sol.reserved, costs)
    add_service_columns(table, data, sol.base_stock, sol.reserved)
    summary = build_summary(
        instance,
        data,
        sol,
        diag,
        headline,
        table,
        _timings(t0, t_scen, t1, t2, t3),
    )
    if budget:
        summary["time_limit"] = budget
    return PlanResult(table, summary, sol, data, diag, headline)


def _timings(t0: float, t_scen: float, t1: float, t2: float, t3: float) -> dict:
    """Give the phase times of ``summary.json`` from the clock readings between phases."""
    return {
        "scenarios_seconds": t_scen,
        "plan_seconds": t1 - t0,
        "headline_seconds": t2 - t1,
        "diagnostics_seconds": t3 - t2,
        "total_seconds": time.perf_counter() - t0,
    }


def build_summary(
    instance: Instance,
    data: ProgramData,
    sol: Solution,
    diag: Diagnostics | None,
    headline: Headline | None,
    table: pd.DataFrame,
    timings: dict,
) -> dict:
    """Assemble the ``summary.json`` document."""
    ev = sol.evaluation
    optimal = sol.status is SolutionStatus.OPTIMAL
    counts = pd.Series(posture(table["cover_periods"].to_numpy())).value_counts()
    summary = {
        "instance": instance.name,
        "status": sol.outcome.value,
        "proven_optimal": optimal,
        "termination": sol.message,
        "termination_condition": sol.termination.value,
        "recourse": instance.plan.recourse,
        "integer": instance.plan.integer,
        "review_levels": instance.plan.review_levels,
        "expected_cost": None,
        "expected_cost_ci95": None,
        "objective": sol.objective,
        "objective_is": (
            f"the in-sample optimum of the {instance.plan.recourse} program on the "
            "optimisation scenarios (plan on expected_cost)"
        ),
        "gap": sol.gap,
        "engine": sol.engine,
        "scenarios": data.n_scenarios,
        "seed": instance.plan.seed,
        "periods": data.periods,
        "warmup": data.warmup,
        "shortage": instance.plan.shortage,
        "items": data.n_items,
        "build_seconds": sol.build_seconds,
        "solve_seconds": sol.solve_seconds,
        "wall_solve_seconds": sol.wall_seconds,
        **timings,
        "lp_size": {
            "rows": sol.size[0],
            "columns": sol.size[1],
            "nonzeros": sol.size[2],
            "subproblems": sol.subproblems,
        },
        "in_sample_cost": ev.expected_cost,
        "cvar": {"alpha": data.cvar_alpha, "weight": data.cvar_weight, "value": ev.cvar},
        "cost_lines": {
            c.removesuffix("_cost"): float(table[c].sum())
            for c in table.columns
            if c.endswith("_cost") and c != "expected_cost"
        },
        "capital_tied_up": float(table["capital_tied_up"].sum()),
        "base_stock_value": float(np.dot(instance.items.unit_cost, sol.base_stock)),
        "postures": {k: int(counts.get(k, 0)) for k in ("JIT", "hybrid", "JIC")},
        "max_residual": ev.max_residual,
        "versions": versions(),
    }
    if headline is not None:
        iv = headline.interval
        summary.update(
            {
                "expected_cost": iv.mean,
                "expected_cost_ci95": [iv.low, iv.high],
                "expected_cost_is": (
                    "the plan run causally on fresh out-of-sample scenarios, per costed "
                    "horizon: the figure to plan on"
                ),
                "expected_cost_scenarios": iv.scenarios,
                "expected_cost_stop": headline.stop,
                "expected_cost_tight": headline.tight,
                "fill_rate": headline.fill_rate,
            }
        )
        summary["cvar"]["out_of_sample_causal"] = headline.evaluation.cvar
        if headline.strata:  # stratified on the black swan (README "Reading the results")
            summary["expected_cost_strata"] = [
                {"stratum": name, "weight": w, "scenarios": n} for name, w, n in headline.strata
            ]
    if sol.details:  # engine figures: mpi-sppy's bounds, the price of a plan row
        summary["engine_details"] = sol.details
    if instance.history is not None:  # README "From history to a plan"
        summary["history"] = history_summary(instance)
    if not optimal:
        why = "at a limit" if sol.termination.is_limit else "with an open optimality gap"
        summary["warning"] = (
            f"plan returned {why} ({sol.message}); not proven optimal, relative gap "
            + (f"{sol.gap:.3g}" if np.isfinite(sol.gap) else "unknown")
        )
    if diag is not None:
        summary["diagnostics"] = {
            "recourse": diag.recourse,
            "RP": diag.rp,
            "EV": diag.ev,
            "EEV": diag.eev,
            "VSS": diag.vss,
            "WS_hindsight": diag.ws,
            "EVPI": diag.evpi,
            "in_sample_causal": diag.in_sample_causal,
            "hindsight_bound": diag.hindsight_bound,
            "hindsight_scenarios": diag.hindsight_scenarios,
            "note": diag.note,
        }
    return summary


def _make_block_plan(
    instance: Instance,
    config: SolveConfig,
    eval_scenarios: int | None,
    max_eval_scenarios: int,
    say: Progress,
    deadline: float | None,
) -> PlanResult:
    r""":func:`make_plan` for ``[plan] review_levels`` :math:`k > 1` (README "Review levels").

    Fitted and priced on two quarters (:func:`optimizer.program.review.fair_instance`):
    the single level :math:`S^*` over both, then the :math:`k` block levels of the first
    (the warm-up and the next quarter at :math:`S^*`), the headline over the same two
    quarters with the paired difference against :math:`S^*` alone
    (:mod:`optimizer.analysis.review_headline`). plan.csv's ``base_stock`` is
    :math:`S^*`, ``base_stock_b1`` ... ``base_stock_bk`` follow it; its costs are per
    two quarters. No diagnostics (EV, EEV, WS are figures of one level per item).
    """
    from optimizer.analysis.review_headline import BlockBatches, paired_difference
    from optimizer.program.review import fair_instance

    k, T = int(instance.plan.review_levels), int(instance.plan.periods)
    two = fair_instance(instance)
    t0 = time.perf_counter()
    say("sampling scenarios of two quarters (the blocks' quarter and the next)")
    data = program_data(two, generate_scenarios(two), consume=True)
    t_scen = time.perf_counter() - t0
    say(f"solving {data.n_items} items x {k} review blocks x {data.n_scenarios} scenarios")
    budget: dict = {}
    if deadline is not None:
        config = config.within(deadline)
        budget["plan_stage_seconds"] = config.time_limit
    request = SolveRequest(
        recourse=instance.plan.recourse,
        integer=instance.plan.integer,
        review_levels=k,
        review_span=T,
        review_items=shaped_items(instance, k),
    )
    if not request.review_items.any():
        log.warning(
            "review_levels = %d: no item has a forecast that changes from block to block "
            "(history/forecast.csv): every block keeps the single level",
            k,
        )
    sol = require_plan(solve_program(data, config, request), data, config)
    S, K, levels = sol.base_stock, sol.reserved, sol.block_levels
    t1 = time.perf_counter()
    batches = BlockBatches(instance, S, K, levels, seed=instance.plan.seed)
    headline = None
    if deadline is None or time.monotonic() < deadline:
        say("pricing the block plan causally on fresh scenarios of two quarters")
        headline = honest_cost(
            two,
            S,
            K,
            batch=eval_scenarios,
            max_scenarios=max_eval_scenarios,
            seed=instance.plan.seed,
            play_batch=batches,
            deadline=deadline,
        )
    elif deadline is not None:
        budget["expected_cost"] = (
            "skipped: the time limit was spent by the plan stage (plan.csv's figures are "
            "the plan's in-sample costs)"
        )
    t2 = time.perf_counter()
    table = plan_table(instance, S, K, headline.evaluation if headline else sol.evaluation)
    at = table.columns.get_loc("base_stock") + 1
    for b in range(k):
        table.insert(at + b, f"base_stock_b{b + 1}", levels[:, b] + 0.0)
    summary = build_summary(two, data, sol, None, headline, table,
                            _timings(t0, t_scen, t1, t2, time.perf_counter()))  # fmt: skip
    summary["review_levels"] = k
    review = {
        "levels": k,
        "quarter_periods": T,
        "costed_periods": 2 * T,
        "blocks": block_periods(T, k),
        "items_with_blocks": int(request.review_items.sum()),
        "items_with_blocks_are": (
            "the items whose forecast (history/forecast.csv) changes from block to block by "
            "at least 2% of its mean; the others keep base_stock in every block (on "
            "stationary demand extra levels only fit the scenarios' noise)"
        ),
        "costing": (
            "two quarters: the blocks' levels over the first (from the stock the single "
            "level leaves after the warm-up), the single level base_stock over the next; "
            "the single level is fitted to the same two quarters"
        ),
        "diagnostics": "not computed: EV, EEV, WS and the hindsight bound are figures of "
        "one level per item",
    }
    if headline is not None:
        review["vs_single_level"] = paired_difference(
            headline.evaluation.scenario_cost, batches.single_costs()
        )
        summary["expected_cost_is"] = (
            "the block plan run causally on fresh out-of-sample scenarios, per two "
            "quarters (the blocks' quarter, then the next at the single level): the "
            "figure to plan on"
        )
    summary["review"] = review
    if budget:
        summary["time_limit"] = budget
    return PlanResult(
        table, summary, sol, data, None, headline, block_demand=block_mean_demand(data, k, T)
    )
