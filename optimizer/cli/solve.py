"""``stockplan solve``: the stochastic plan of an instance, its diagnostics and files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from optimizer.cli.common import (
    InstanceArg,
    Verbose,
    console,
    fail,
    fmt,
    load,
    print_plan,
    setup_logging,
)
from optimizer.engines.base import MpiSppyOptions, SolveConfig
from optimizer.engines.registry import engine_names
from optimizer.errors import StockplanError
from optimizer.planning import make_plan
from optimizer.report import write_outputs


def _print_summary(summary: dict) -> None:
    t = Table(title="Summary", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("status", f"{summary['status']} ({summary['termination']})")
    t.add_row("objective (expected cost)", fmt(summary["objective"]))
    t.add_row(
        "postures JIT / hybrid / JIC",
        " / ".join(str(summary["postures"][k]) for k in ("JIT", "hybrid", "JIC")),
    )
    t.add_row("fill rate", f"{summary['fill_rate']:.2%}")
    t.add_row("capital tied up (avg)", fmt(summary["capital_tied_up"]))
    t.add_row(
        "model build / solve seconds",
        f"{summary['build_seconds']:.2f} / {summary['solve_seconds']:.2f}",
    )
    d = summary.get("diagnostics")
    if d:
        t.add_row("EV (mean-value, = JIT)", fmt(d["EV"]))
        t.add_row("EEV (JIT plan under uncertainty)", fmt(d["EEV"]))
        t.add_row("VSS = EEV - RP (value of hedging)", fmt(d["VSS"]))
        t.add_row("WS / EVPI", f"{fmt(d['WS'])} / {fmt(d['EVPI'])}")
        o = d["out_of_sample"]
        t.add_row(
            f"out-of-sample ({o['scenarios']} fresh scenarios)",
            f"{fmt(o['expected_cost'])} [{fmt(o['ci95_low'])}, {fmt(o['ci95_high'])}]",
        )
        c = d["causal_simulation"]
        t.add_row(
            "causal simulation / hindsight LP",
            f"{fmt(c['cost'])} / {fmt(c['hindsight_cost'])} (gap {fmt(c['gap'])})",
        )
    if "warning" in summary:
        t.add_row("[yellow]warning[/]", summary["warning"])
    console.print(t)


def solve(
    instance: InstanceArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    scenarios: Annotated[int | None, typer.Option(min=1, help="Scenarios to sample.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    time_limit: Annotated[
        float | None, typer.Option(min=0.0, help="Seconds per LP (mpi-sppy: hub seconds).")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="HiGHS threads.")] = None,
    gap: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help=("Relative optimality tolerance of HiGHS's interior-point method."),
        ),
    ] = 1e-8,
    method: Annotated[
        str, typer.Option(help="HiGHS LP method: choose, simplex or ipm.")
    ] = "choose",
    engine: Annotated[
        str,
        typer.Option(
            help=(
                f"One of {', '.join(engine_names())} (mpi-sppy: progressive hedging; launch "
                "with 'mpiexec -n K stockplan solve ... --engine mpi-sppy')."
            )
        ),
    ] = "auto",
    rel_gap: Annotated[
        float, typer.Option(min=0.0, help="mpi-sppy: stop at this relative gap between its bounds.")
    ] = MpiSppyOptions.rel_gap,
    max_iterations: Annotated[
        int, typer.Option(min=1, help="mpi-sppy: progressive-hedging iteration limit.")
    ] = MpiSppyOptions.max_iterations,
    eval_scenarios: Annotated[
        int | None, typer.Option(min=2, help="Fresh scenarios for the out-of-sample estimate.")
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Compute the stochastic stocking plan; write plan.csv and summary.json."""
    setup_logging(verbose)
    if engine not in engine_names():
        raise typer.BadParameter(
            f"choose one of {', '.join(engine_names())}", param_hint="--engine"
        )
    if method not in ("choose", "simplex", "ipm"):
        raise typer.BadParameter("choose one of choose, simplex, ipm", param_hint="--method")
    config = SolveConfig(
        engine=engine,
        time_limit=time_limit,
        threads=threads,
        gap=gap,
        method=method,
        mpisppy=MpiSppyOptions(rel_gap=rel_gap, max_iterations=max_iterations),
    )
    try:
        inst = load(instance)
        with console.status("solving") as status:
            result = make_plan(
                inst,
                config,
                scenarios=scenarios,
                seed=seed,
                eval_scenarios=eval_scenarios,
                progress=lambda msg: status.update(msg),
            )
        if not result.solution.primary:  # another rank of a distributed engine reports
            return
        write_outputs(out, {"plan.csv": result.plan, "summary.json": result.summary})
    except StockplanError as exc:
        fail(exc)
    print_plan(result.plan, result.summary)
    _print_summary(result.summary)
    console.print(f"wrote {out / 'plan.csv'} and {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    """Add the ``solve`` command to ``app``."""
    app.command()(solve)
