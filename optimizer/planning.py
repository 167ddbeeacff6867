"""The main job: instance → scenarios → program → HiGHS → plan table and summary.

This module strings the stages together for the CLI and for scripts; each stage lives in
its own module and can be used alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.analysis.diagnostics import Diagnostics, compute_diagnostics
from optimizer.engines.base import SolutionStatus, SolveConfig
from optimizer.engines.dispatch import Solution, require_plan, solve_program
from optimizer.instance import Instance
from optimizer.program.data import ProgramData, program_data
from optimizer.report import plan_table, posture, versions
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


def make_plan(
    instance: Instance,
    config: SolveConfig | None = None,
    *,
    scenarios: int | None = None,
    seed: int | None = None,
    eval_scenarios: int | None = None,
    with_diagnostics: bool = True,
    progress: Progress | None = None,
) -> PlanResult:
    """Compute the stochastic plan of ``instance`` and its diagnostics.

    Parameters
    ----------
    config : SolveConfig, optional
        Engine and solver settings of the plan (the diagnostics' programs use ``auto``
        with the same settings). A distributed engine's non-primary ranks skip the
        diagnostics.

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
    t0 = time.perf_counter()
    say("sampling scenarios")
    scen = generate_scenarios(instance)
    data = program_data(instance, scen)
    t_scen = time.perf_counter() - t0
    say(f"solving {data.n_items} items x {data.n_scenarios} scenarios x {data.horizon} periods")
    sol = require_plan(solve_program(data, config), data, config)
    diag = None
    t1 = time.perf_counter()
    if with_diagnostics and sol.primary:
        say("diagnostics: EV, EEV, WS, out-of-sample, causal simulation")
        diag = compute_diagnostics(
            instance,
            data,
            sol,
            eval_scenarios=eval_scenarios,
            seed=instance.plan.seed,
            config=config,
        )
    t_diag = time.perf_counter() - t1
    table = plan_table(instance, sol.base_stock, sol.reserved, sol.evaluation)
    summary = build_summary(
        instance,
        data,
        sol,
        diag,
        table,
        {
            "scenarios_seconds": t_scen,
            "diagnostics_seconds": t_diag,
            "total_seconds": time.perf_counter() - t0,
        },
    )
    return PlanResult(table, summary, sol, data, diag)


def build_summary(
    instance: Instance,
    data: ProgramData,
    sol: Solution,
    diag: Diagnostics | None,
    table: pd.DataFrame,
    timings: dict,
) -> dict:
    """Build the ``summary.json`` document."""
    ev = sol.evaluation
    optimal = sol.status is SolutionStatus.OPTIMAL
    counts = pd.Series(posture(table["cover_periods"].to_numpy())).value_counts()
    demand = (data.probability[None, :] * data.demand[:, :, data.warmup :].sum(axis=2)).sum()
    summary = {
        "instance": instance.name,
        "status": sol.outcome.value,
        "proven_optimal": optimal,
        "termination": sol.message,
        "termination_condition": sol.termination.value,
        "objective": sol.objective,
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
        "expected_cost": ev.expected_cost,
        "cvar": {"alpha": data.cvar_alpha, "weight": data.cvar_weight, "value": ev.cvar},
        "cost_lines": {
            c.removesuffix("_cost"): float(table[c].sum())
            for c in table.columns
            if c.endswith("_cost") and c != "expected_cost"
        },
        "fill_rate": float(1.0 - ev.stockout_units.sum() / demand) if demand > 0 else 1.0,
        "capital_tied_up": float(table["capital_tied_up"].sum()),
        "base_stock_value": float(np.dot(instance.items.unit_cost, sol.base_stock)),
        "postures": {k: int(counts.get(k, 0)) for k in ("JIT", "hybrid", "JIC")},
        "max_residual": ev.max_residual,
        "versions": versions(),
    }
    if sol.details:  # engine figures: mpi-sppy's bounds, the price of a plan row
        summary["engine_details"] = sol.details
    if not optimal:
        summary["warning"] = (
            f"plan returned at a limit ({sol.message}); not proven "
            f"optimal, relative gap {sol.gap:.3g}"
        )
    if diag is not None:
        d = diag.as_dict()
        summary["diagnostics"] = {
            "RP": d["rp"],
            "EV": d["ev"],
            "EEV": d["eev"],
            "VSS": d["vss"],
            "WS": d["ws"],
            "EVPI": d["evpi"],
            "out_of_sample": {
                "expected_cost": d["out_of_sample"]["mean"],
                "ci95_low": d["out_of_sample"]["low"],
                "ci95_high": d["out_of_sample"]["high"],
                "scenarios": d["out_of_sample"]["scenarios"],
                "causal_expected_cost": d["out_of_sample_causal"]["mean"],
                "causal_ci95_low": d["out_of_sample_causal"]["low"],
                "causal_ci95_high": d["out_of_sample_causal"]["high"],
            },
            "causal_simulation": {
                "cost": d["causal_cost"],
                "hindsight_cost": d["hindsight_cost"],
                "gap": d["causal_gap"],
            },
            "note": d["note"],
        }
    return summary
