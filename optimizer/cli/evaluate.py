"""``stockplan evaluate``: price a given plan on fresh out-of-sample scenarios.

The pricing is :func:`optimizer.analysis.evaluation.evaluate_plan`, the same as every
policy's in ``stockplan compare``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.analysis.evaluation import evaluate_plan, evaluation_scenarios, policy_plan_table
from optimizer.cli.common import (
    FollowLinks,
    Verbose,
    console,
    fail,
    fmt,
    load,
    print_plan,
    setup_logging,
)
from optimizer.errors import StockplanError
from optimizer.instance.limits import check_instance_size
from optimizer.instance.plan_file import read_plan
from optimizer.report import check_out, write_outputs


def evaluate(
    ctx: typer.Context,
    instance: Annotated[Path, typer.Argument(help="Instance folder, toml or .xlsx.")],
    plan: Annotated[
        Path,
        typer.Option(
            "--plan",
            help="Plan CSV: item, base_stock and, for items that reserve emergency "
            "capacity, reserved_capacity (the columns plan.csv has; a safety_stock column "
            "must agree with base_stock).",
        ),
    ],
    eval_scenarios: Annotated[
        int | None,
        typer.Option(
            "--eval-scenarios", min=2, help="Fresh out-of-sample scenarios the plan is priced on."
        ),
    ] = None,
    scenarios: Annotated[
        int | None,
        typer.Option(
            "--scenarios", min=2, hidden=True, help="Deprecated spelling of --eval-scenarios."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write evaluation.csv here.")] = None,
    follow_links: FollowLinks = False,
    verbose: Verbose = 0,
) -> None:
    """Price a given plan on fresh out-of-sample scenarios (hindsight LP and causal run)."""
    setup_logging(verbose)
    if scenarios is not None:  # the old spelling, kept so scripts keep working
        if eval_scenarios is not None and eval_scenarios != scenarios:
            raise typer.BadParameter(
                "give --eval-scenarios only (--scenarios is its deprecated spelling)",
                param_hint="--scenarios",
            )
        typer.echo(
            "warning: evaluate --scenarios is deprecated; use --eval-scenarios, as solve "
            "and compare do",
            err=True,
        )
        eval_scenarios = scenarios
    scenarios = eval_scenarios
    try:
        if out is not None:
            check_out(out)  # before any work
        inst = load(instance, follow_links)
        check_instance_size(inst, scenarios, what="--eval-scenarios")
        S, K = read_plan(plan, inst)
        with console.status("evaluating"):
            fresh = evaluation_scenarios(inst, scenarios, seed)
            ev = evaluate_plan(inst, fresh, S, K, name=str(plan))
        table = policy_plan_table(inst, ev).drop(columns="policy")
        ci, cci = ev.expected(), ev.expected(causal=True)
        summary = {
            "instance": inst.name,
            "scenarios": fresh.n_scenarios,
            "expected_cost": ci.mean,
            "ci95_low": ci.low,
            "ci95_high": ci.high,
            "causal_expected_cost": cci.mean,
            "causal_ci95_low": cci.low,
            "causal_ci95_high": cci.high,
            "cvar": ev.hindsight.cvar,
            "fill_rate": ev.fill_rate(),
            "causal_fill_rate": ev.fill_rate(causal=True),
            "instance_name": inst.name,
            "periods": inst.plan.periods,
            "objective": ev.hindsight.objective,
            "postures": {},
        }
        if out is not None:
            from optimizer.cli.provenance import instance_files, provenance

            summary["provenance"] = provenance(
                [*instance_files(Path(inst.source)), plan], settings=ctx.params
            )
            write_outputs(out, {"evaluation.csv": table, "evaluation.json": summary})
    except StockplanError as exc:
        fail(exc)
    print_plan(table, summary)
    console.print(
        f"expected cost, the plan run causally: {fmt(cci.mean)} (95% CI {fmt(cci.low)} – "
        f"{fmt(cci.high)}) on {fresh.n_scenarios} fresh scenarios; the hindsight recourse "
        f"(a lower bound): {fmt(ci.mean)} ({fmt(ci.low)} – {fmt(ci.high)})",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""
    app.command()(evaluate)
