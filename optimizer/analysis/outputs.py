"""The files of a run beyond plan.csv and summary.json: report.html and plan.xlsx.

:func:`solve_files` and :func:`compare_files` gather what ``stockplan solve`` and
``stockplan compare`` write, so :func:`optimizer.report.write_outputs` can put them in
place all-or-nothing: with a report or a workbook asked for, the plan is explained item by
item first (:func:`optimizer.analysis.explain.explain_plan`; after ``solve --cluster`` on
the cluster's workers, :func:`~optimizer.analysis.explain.explain_on_cluster`), and its
time is recorded in the summary (``explanation_seconds``, ``report_seconds``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.instance import Instance

if TYPE_CHECKING:  # imported when a report or workbook is asked for (scipy.stats: ~1 s)
    from optimizer.analysis.explain import Explanation

log = logging.getLogger(__name__)


def wants_workbook(instance: Instance, xlsx: bool | None) -> bool:
    """``--xlsx`` / ``--no-xlsx``, or by default whether the instance was read from a workbook."""
    if xlsx is not None:
        return bool(xlsx)
    return str(getattr(instance, "source", "") or "").lower().endswith((".xlsx", ".xlsm"))


def _explain(instance: Instance, result: Any, client: Any = None) -> Explanation | None:
    from optimizer.analysis.explain import explain_on_cluster, explain_plan, plan_is_free

    batch = result.headline.totals[0] if result.headline and result.headline.totals else None
    if "cluster" in result.summary:  # solve --cluster: the scenarios live on the workers
        return explain_on_cluster(instance, result, eval_scenarios=batch, client=client)
    data = result.data
    if data.demand.size == 0 or not np.isfinite(data.demand.flat[0]):
        log.warning("no explanation: the scenarios are not held here (a cluster run)")
        return None
    seed = result.summary.get("seed", instance.plan.seed)
    sol = result.solution
    return explain_plan(
        instance.with_plan(seed=int(seed)),
        data,
        sol.base_stock,
        sol.reserved,
        eval_scenarios=batch,
        plan_is_free=plan_is_free(instance, data, sol),
    )


def solve_files(
    instance: Instance,
    result: Any,
    *,
    report: bool = False,
    xlsx: bool | None = None,
    deadline: float | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Gather the files of ``stockplan solve``: plan.csv, summary.json, report.html, plan.xlsx.

    Parameters
    ----------
    result : PlanResult
        :func:`optimizer.planning.make_plan`'s answer.
    report : bool
        Add ``report.html``.
    xlsx : bool, optional
        Add ``plan.xlsx``; default: when the instance was read from a workbook.
    deadline : float, optional
        :func:`time.monotonic` time the command's ``--time-limit`` runs out: past it the
        plan is not explained (the report and the workbook say so).
    client : distributed.Client, optional
        The cluster a ``solve --cluster`` result was solved on, still connected: its
        explanation runs there (default: connected to, or started, again).
    """
    files: dict[str, Any] = {"plan.csv": result.plan, "summary.json": result.summary}
    book = wants_workbook(instance, xlsx)
    if not (report or book):
        return files
    t0 = time.perf_counter()
    if deadline is not None and time.monotonic() >= deadline:
        log.warning("the time limit is spent: the plan is not explained")
        result.summary["explanation"] = "not computed: the time limit was reached"
        explanation = None
    elif getattr(result.solution, "block_levels", None) is not None:
        result.summary["explanation"] = (
            "not computed: the per-item explanation (cost curves, buffers, the cover "
            "sweep) is of one level per item; the report shows each block's level beside "
            "its mean demand"
        )
        explanation = None
    else:
        explanation = _explain(instance, result, client)
    t1 = time.perf_counter()
    result.summary["explanation_seconds"] = t1 - t0
    if report:
        from optimizer.report.html import render_report

        headline = result.headline
        files["report.html"] = render_report(
            title=instance.name,
            description=instance.description,
            summary=result.summary,
            plan=result.plan,
            scenario_cost=None if headline is None else headline.evaluation.scenario_cost,
            scenario_weight=None if headline is None else headline.scenario_weight,
            explanation=explanation,
            unit=instance.plan.unit,
            currency=instance.plan.currency,
            blocks=block_table(result),
        )
        result.summary["report_seconds"] = time.perf_counter() - t1
    if book:
        from optimizer.report.workbook import results_workbook

        files["plan.xlsx"] = results_workbook(
            result.plan,
            result.summary,
            None if explanation is None else explanation.table,
            integer=instance.plan.integer,
        )
    return files


def block_table(result: Any, top: int | None = None) -> pd.DataFrame | None:
    r"""Each block's level :math:`S_{i,b}` beside its mean demand, costliest items first.

    ``None`` for a plan of one level per item. Columns ``item``, ``base_stock`` (the
    single level before and after the blocks), then per block ``level_b`` and
    ``demand_b`` (mean demand per period over the block's periods, on the optimisation
    scenarios); ``top`` rows at most (default the report's
    :data:`~optimizer.report.html.TOP_ITEMS`).
    """
    levels = getattr(result.solution, "block_levels", None)
    demand = getattr(result, "block_demand", None)
    if levels is None or demand is None:
        return None
    from optimizer.report.html import TOP_ITEMS

    plan = result.plan
    order = np.argsort(-plan["expected_cost"].to_numpy(dtype=float), kind="stable")
    order = order[: TOP_ITEMS if top is None else top]
    table = pd.DataFrame(
        {"item": plan["item"].to_numpy()[order], "base_stock": plan["base_stock"].to_numpy()[order]}
    )
    for b in range(levels.shape[1]):
        table[f"level_b{b + 1}"] = levels[order, b]
        table[f"demand_b{b + 1}"] = demand[order, b]
    return table


def compare_files(comparison: Any, *, report: bool = False) -> dict[str, Any]:
    """Gather the files of ``stockplan compare`` beyond comparison.csv and plans/: report.html."""
    if not report:
        return {}
    from optimizer.analysis.explain import explain_plan, plan_is_free
    from optimizer.report.html import comparison_summary, render_report

    instance = comparison.instance
    rp = comparison.policy("stochastic")
    explanation = scenario_cost = None
    if rp is not None and rp.data is not None:
        explanation = explain_plan(
            instance,
            rp.data,
            rp.base_stock,
            rp.reserved,
            eval_scenarios=comparison.eval_scenarios,
            seed=comparison.seed,
            plan_is_free=plan_is_free(instance, rp.data, rp.solution),
        )
        scenario_cost = comparison.evaluations["stochastic"].causal.scenario_cost
    plan = comparison.plans.get("stochastic")
    if plan is None:
        plan = next(iter(comparison.plans.values()))
    return {
        "report.html": render_report(
            title=f"{instance.name}: policies compared",
            description=instance.description,
            summary=comparison_summary(comparison.table, comparison.eval_scenarios),
            plan=plan,
            scenario_cost=scenario_cost,
            explanation=explanation,
            comparison=comparison.table,
            unit=instance.plan.unit,
            currency=instance.plan.currency,
        )
    }
