"""One solve's item-separable work on a Dask cluster: ``stockplan solve --cluster``.

:func:`solve_on_cluster` is :func:`optimizer.planning.make_plan`'s cluster branch (README
"Beyond one machine"): the items in chunks on the workers
(:class:`optimizer.engines.executors.DaskItems`, each chunk's scenarios generated there
from the seed), and every stage the single-machine branch runs, on those chunks:

* the plan stage held to the command's time limit (``--time-limit``: the causal search's
  tasks that finish within the time left keep their plans, the other items get their
  cover level; :func:`optimizer.engines.causal.search_on`);
* whole units for a fractional plan (:func:`optimizer.engines.rounding.whole_solution`,
  the floor and ceiling candidates played on the workers);
* the headline on fresh scenarios generated chunk by chunk on the workers, no batch
  after the deadline (:func:`optimizer.analysis.cluster_diagnostics.fresh_batch`);
* the diagnostics, skipped when less time is left than the plan stage took
  (:func:`optimizer.analysis.cluster_diagnostics.cluster_diagnostics`);
* the service-target columns (:func:`optimizer.analysis.service_price.add_service_columns`).

The plan explanation of ``--report`` and ``--xlsx`` runs on the cluster too, after the
solve (:func:`optimizer.analysis.explain.explain_on_cluster`: ``summary["cluster"]``
says where). The summary is assembled by :mod:`optimizer.planning` from the
:class:`ClusterRun` returned here, exactly as for one machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.analysis.diagnostics import Diagnostics, diagnostics_budget
from optimizer.analysis.headline import Headline, headline_budget, honest_cost
from optimizer.analysis.service_price import add_service_columns
from optimizer.engines.base import SolveConfig, SolveRequest, SolveStatus
from optimizer.engines.dispatch import Solution, solve_program
from optimizer.engines.rounding import whole_solution
from optimizer.errors import InfeasiblePlanError, NoPlanError
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_skeleton
from optimizer.report import plan_table

log = logging.getLogger(__name__)


@dataclass
class ClusterRun:
    """What a cluster solve hands back for :mod:`optimizer.planning`'s summary.

    Attributes
    ----------
    plan : DataFrame
        The plan table (service-target columns included).
    solution : Solution
    data : ProgramData
        The program's skeleton (the scenarios stay on the workers).
    diagnostics : Diagnostics or None
    headline : Headline or None
        ``None`` when the time limit was spent by the plan stage.
    clock : tuple of float
        ``(t0, t_scen, t1, t2, t3)``: the clock readings of ``_timings``.
    summary : dict
        Entries of ``summary.json`` beyond the single-machine ones: ``cluster`` (workers,
        chunks, address) and, with a time limit, ``time_limit``.
    """

    plan: pd.DataFrame
    solution: Solution
    data: ProgramData
    diagnostics: Diagnostics | None
    headline: Headline | None
    clock: tuple[float, float, float, float, float]
    summary: dict = field(default_factory=dict)


def solve_on_cluster(
    cluster: str | Any,
    instance: Instance,
    config: SolveConfig,
    request: SolveRequest,
    eval_scenarios: int | None,
    max_eval_scenarios: int,
    with_diagnostics: bool,
    say: Callable[[str], None],
    deadline: float | None,
) -> ClusterRun:
    """Run :func:`optimizer.planning.make_plan`'s stages on a cluster (see the module doc).

    Parameters
    ----------
    cluster : str or distributed.Client
        A scheduler address (``tcp://host:8786``), ``local:N``
        (:func:`optimizer.engines.executors.open_cluster`: started and ended here) or a
        connected client.
    deadline : float, optional
        The whole command's budget as a :func:`time.monotonic` time, used as
        :func:`optimizer.planning.make_plan` uses it.

    Raises
    ------
    InfeasiblePlanError, NoPlanError
        When the engine does not return a usable plan.
    """
    from optimizer.engines.executors import open_cluster  # dask only when asked for

    args = (instance, config, request, eval_scenarios, max_eval_scenarios, with_diagnostics)
    if not isinstance(cluster, str):  # a connected distributed.Client
        return _solve_on(cluster, cluster.scheduler.address, *args, say, deadline)
    with open_cluster(cluster) as client:
        return _solve_on(client, cluster, *args, say, deadline)


def _solve_on(
    client,
    address: str,
    instance: Instance,
    config: SolveConfig,
    request: SolveRequest,
    eval_scenarios: int | None,
    max_eval_scenarios: int,
    with_diagnostics: bool,
    say: Callable[[str], None],
    deadline: float | None,
) -> ClusterRun:
    """:func:`solve_on_cluster` on a connected ``client`` (``address``: how to reach it)."""
    from optimizer.analysis.cluster_diagnostics import cluster_diagnostics, fresh_batch
    from optimizer.engines.executors import DaskItems

    t0 = time.perf_counter()
    say("generating the scenarios on the cluster's workers")
    work = DaskItems(client, instance)
    budget: dict = {}
    try:
        data = program_skeleton(instance)
        t_scen = time.perf_counter() - t0
        say(f"solving {data.n_items} items x {data.n_scenarios} scenarios on the cluster")
        if deadline is not None:
            config = config.within(deadline)  # the plan stage gets what is left
            budget["plan_stage_seconds"] = config.time_limit
        sol = solve_program(data, config, request, work=work)
        if not sol.has_plan:
            raise (
                InfeasiblePlanError(f"the stocking program is infeasible ({sol.message})")
                if sol.outcome is SolveStatus.INFEASIBLE
                else NoPlanError(f"no plan within the limits: {sol.outcome.value} ({sol.message})")
            )
        sol = whole_solution(sol, data, instance.plan.integer, work=work)
        t1 = time.perf_counter()
        S, K, seed = sol.base_stock, sol.reserved, instance.plan.seed
        headline = None
        if deadline is None or time.monotonic() < deadline:
            say("pricing the plan causally on fresh scenarios (on the workers)")
            headline = honest_cost(
                instance,
                S,
                K,
                batch=eval_scenarios,
                max_scenarios=max_eval_scenarios,
                seed=seed,
                play_batch=lambda size, stream: fresh_batch(work, S, K, size, seed, stream),
                deadline=deadline,
            )
        if deadline is not None:
            budget["expected_cost"] = headline_budget(headline)
        t2 = time.perf_counter()
        diag = None
        if with_diagnostics:
            left = None if deadline is None else deadline - time.monotonic()
            if left is None or left >= t1 - t0:
                say("diagnostics: EV, EEV, WS, hindsight bound (item by item on the workers)")
                diag = cluster_diagnostics(
                    work, instance, data, sol, config=config.within(deadline), request=request
                )
                if deadline is not None:
                    budget["diagnostics"] = diagnostics_budget(deadline, None, t1 - t0)
            else:
                budget["diagnostics"] = diagnostics_budget(deadline, left, t1 - t0)
        t3 = time.perf_counter()
        costs = headline.evaluation if headline is not None else sol.evaluation
        table = plan_table(instance, S, K, costs)
        add_service_columns(table, data, S, K, work=work)
    finally:
        work.close()
    extra: dict = {
        "cluster": {
            "workers": len(client.scheduler_info(n_workers=-1).get("workers", {})),
            "chunks": len(work.chunks),
            "address": address,
        }
    }
    if budget:
        extra["time_limit"] = budget
    return ClusterRun(table, sol, data, diag, headline, (t0, t_scen, t1, t2, t3), extra)
