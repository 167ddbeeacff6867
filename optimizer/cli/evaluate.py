"""``stockplan evaluate``: price a given plan on fresh out-of-sample scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.analysis.diagnostics import causal_evaluation, mean_ci, price_plan
from optimizer.cli.common import Verbose, console, fail, fmt, load, print_plan, setup_logging
from optimizer.errors import NoPlanError, StockplanError
from optimizer.instance.plan_file import read_plan
from optimizer.program.data import program_data
from optimizer.report import plan_table, write_outputs
from optimizer.scenarios import generate_scenarios


def evaluate(
    instance: Annotated[Path, typer.Argument(help="Instance folder or toml.")],
    plan: Annotated[Path, typer.Option("--plan", help="Plan CSV (item, base_stock, ...).")],
    scenarios: Annotated[int | None, typer.Option(min=2, help="Fresh scenarios.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write evaluation.csv here.")] = None,
    verbose: Verbose = 0,
) -> None:
    """Price a given plan on fresh out-of-sample scenarios (hindsight LP and causal run)."""
    setup_logging(verbose)
    try:
        inst = load(instance)
        S, K = read_plan(plan, inst)
        with console.status("evaluating"):
            fresh = generate_scenarios(inst, scenarios, seed=seed, stream="evaluate")
            data = program_data(inst, fresh)
            priced = price_plan(data, S, K)
            if not priced.has_plan:
                raise NoPlanError(f"evaluation LP ended {priced.status.value}")
            causal_eval = causal_evaluation(data, S, K)
        table = plan_table(inst, S, K, priced.evaluation)
        table["causal_expected_cost"] = causal_eval.lines.sum(axis=1)
        table["causal_fill_rate"] = causal_eval.fill_rate
        ci = mean_ci(priced.evaluation.scenario_cost, data.probability)
        cci = mean_ci(causal_eval.scenario_cost, data.probability)
        summary = {
            "instance": inst.name,
            "scenarios": data.n_scenarios,
            "expected_cost": ci.mean,
            "ci95_low": ci.low,
            "ci95_high": ci.high,
            "causal_expected_cost": cci.mean,
            "causal_ci95_low": cci.low,
            "causal_ci95_high": cci.high,
            "cvar": priced.evaluation.cvar,
            "instance_name": inst.name,
            "periods": data.periods,
            "status": priced.status.value,
            "termination": priced.termination,
            "objective": priced.objective,
            "postures": {},
        }
        if out is not None:
            write_outputs(out, {"evaluation.csv": table, "evaluation.json": summary})
    except StockplanError as exc:
        fail(exc)
    print_plan(table, summary)
    console.print(
        f"expected cost {fmt(ci.mean)} (95% CI {fmt(ci.low)} – {fmt(ci.high)}) on "
        f"{data.n_scenarios} fresh scenarios; causal run {fmt(cci.mean)} "
        f"({fmt(cci.low)} – {fmt(cci.high)})"
    )


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""
    app.command()(evaluate)
