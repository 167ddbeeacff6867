"""``stockplan solve``: the stochastic plan of an instance, its diagnostics and files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from optimizer.analysis.headline import MAX_EVAL_SCENARIOS
from optimizer.analysis.outputs import solve_files
from optimizer.cli.common import (
    FollowLinks,
    InstanceArg,
    Threads,
    TimeLimit,
    Verbose,
    console,
    deadline_of,
    elapsed,
    fail,
    fmt,
    load,
    print_plan,
    setup_logging,
    use_threads,
)
from optimizer.engines.base import RECOURSES, MpiSppyOptions, SolveConfig
from optimizer.engines.registry import engine_names
from optimizer.errors import StockplanError
from optimizer.instance.limits import check_solve_work
from optimizer.planning import make_plan
from optimizer.program.review import REVIEW_LEVELS
from optimizer.report import check_out, write_outputs


def _print_summary(summary: dict) -> None:
    t = Table(title="Summary", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("status", escape(f"{summary['status']} ({summary['termination']})"))
    if summary.get("expected_cost") is not None:
        low, high = summary["expected_cost_ci95"]
        t.add_row(
            "[bold]expected cost (causal, out of sample)[/]",
            f"[bold]{fmt(summary['expected_cost'])}[/] {escape(f'[{fmt(low)}, {fmt(high)}]')}",
        )
        t.add_row("  how many fresh scenarios", escape(summary["expected_cost_stop"]))
    vs = summary.get("review", {}).get("vs_single_level")
    if vs:
        low, high = vs["difference_ci95"]
        t.add_row(
            f"  {summary['review_levels']} levels against one (paired, two quarters)",
            f"{fmt(vs['difference'])} {escape(f'[{fmt(low)}, {fmt(high)}]')}",
        )
    budget = summary.get("time_limit", {})
    if "seconds" in budget:
        t.add_row(
            "time limit (whole command)",
            f"{budget['seconds']:g} s: {budget.get('plan_stage_seconds', 0.0):.2f} s left for "
            f"the plan, {budget['command_seconds_before_writing']:.2f} s used before writing",
        )
    if "expected_cost" in budget and budget["expected_cost"] != "complete":
        t.add_row("[yellow]expected cost (time limit)[/]", escape(budget["expected_cost"]))
    if "diagnostics" in budget and budget["diagnostics"] != "complete":
        t.add_row("[yellow]diagnostics (time limit)[/]", escape(budget["diagnostics"]))
    t.add_row(f"in-sample optimum ({summary['recourse']} recourse)", fmt(summary["objective"]))
    t.add_row(
        "postures JIT / hybrid / JIC",
        " / ".join(str(summary["postures"][k]) for k in ("JIT", "hybrid", "JIC")),
    )
    if "fill_rate" in summary:
        t.add_row("fill rate (out of sample)", f"{summary['fill_rate']:.2%}")
    t.add_row("capital tied up (avg)", fmt(summary["capital_tied_up"]))
    t.add_row(
        "plan / pricing / diagnostics seconds",
        f"{summary['plan_seconds']:.2f} / {summary['headline_seconds']:.2f} / "
        f"{summary['diagnostics_seconds']:.2f}",
    )
    d = summary.get("diagnostics")
    if d:
        t.add_row("EV (mean-value, = JIT)", fmt(d["EV"]))
        t.add_row("EEV (JIT plan under uncertainty)", fmt(d["EEV"]))
        t.add_row("VSS = EEV - RP (value of hedging)", fmt(d["VSS"]))
        t.add_row(
            "WS (hindsight wait-and-see) / EVPI", f"{fmt(d['WS_hindsight'])} / {fmt(d['EVPI'])}"
        )
        t.add_row(
            "in sample: causal run / hindsight bound",
            f"{fmt(d['in_sample_causal'])} / {fmt(d['hindsight_bound'])}",
        )
    if "warning" in summary:
        t.add_row("[yellow]warning[/]", escape(summary["warning"]))
    console.print(t)


def solve(
    ctx: typer.Context,
    instance: InstanceArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    scenarios: Annotated[
        int | None,
        typer.Option(
            min=1, help="Optimisation scenarios to sample (overrides \\[plan] scenarios)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    time_limit: TimeLimit = None,
    threads: Threads = None,
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
    decomposition: Annotated[
        str,
        typer.Option(
            help="mpi-sppy method: lshaped (Benders; converges on this small first stage) "
            "or ph (progressive hedging with bound spokes)."
        ),
    ] = MpiSppyOptions.method,
    recourse: Annotated[
        str | None,
        typer.Option(
            help=(
                "Second stage the plan is fitted to: causal (run period by period, the "
                "default) or hindsight (the classical recourse LP, a bound); overrides "
                "\\[plan] recourse."
            )
        ),
    ] = None,
    fill_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fill-rate target for every item without its own min_fill_rate (e.g. "
            "0.98): the plan meets it at least cost and plan.csv shows the stockout "
            "penalty it implies.",
        ),
    ] = None,
    review_levels: Annotated[
        int | None,
        typer.Option(
            help="Base-stock levels per item in the quarter: 1 (one level, the default), 3 "
            "(one a month) or 13 (one a week); fitted and priced with the next quarter at "
            "the single level (README 'Review levels'); overrides \\[plan] review_levels.",
        ),
    ] = None,
    eval_scenarios: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Fresh scenarios of the out-of-sample estimate's first batch (later "
            "rounds are sized from its variance).",
        ),
    ] = None,
    max_eval_scenarios: Annotated[
        int,
        typer.Option(
            min=2,
            help="Cap on the fresh scenarios of the out-of-sample estimate (sampled "
            "until its 95% interval is within 2% of the mean).",
        ),
    ] = MAX_EVAL_SCENARIOS,
    no_diagnostics: Annotated[
        bool,
        typer.Option(
            "--no-diagnostics", help="Skip EV, EEV, VSS, WS, EVPI and the hindsight bound."
        ),
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the item-separable work (causal searches, a plan row's priced "
            "answers, the out-of-sample pricing, the diagnostics) on a Dask cluster: a "
            "scheduler address tcp://HOST:8786, or local:N for N local worker processes "
            "(needs the 'cluster' extra).",
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Also write report.html: the plan, its cost and why, with plots (no network).",
        ),
    ] = False,
    xlsx: Annotated[
        bool | None,
        typer.Option(
            "--xlsx/--no-xlsx",
            help="Also write plan.xlsx (plan, summary, diagnostics, explanation); default: "
            "when the instance is a workbook.",
        ),
    ] = None,
    follow_links: FollowLinks = False,
    verbose: Verbose = 0,
) -> None:
    """Compute the stochastic stocking plan; write plan.csv and summary.json."""
    setup_logging(verbose)
    if engine not in engine_names():
        raise typer.BadParameter(
            f"choose one of {', '.join(engine_names())}", param_hint="--engine"
        )
    if decomposition not in ("lshaped", "ph"):
        raise typer.BadParameter("choose one of lshaped, ph", param_hint="--decomposition")
    if method not in ("choose", "simplex", "ipm"):
        raise typer.BadParameter("choose one of choose, simplex, ipm", param_hint="--method")
    deadline = deadline_of(time_limit)
    config = SolveConfig(
        engine=engine,
        threads=threads,
        gap=gap,
        method=method,
        mpisppy=MpiSppyOptions(
            rel_gap=rel_gap, max_iterations=max_iterations, method=decomposition
        ),
    )
    if recourse is not None and recourse not in RECOURSES:
        raise typer.BadParameter(f"choose one of {', '.join(RECOURSES)}", param_hint="--recourse")
    if review_levels is not None and review_levels not in REVIEW_LEVELS:
        raise typer.BadParameter(
            f"choose one of {', '.join(map(str, REVIEW_LEVELS))}", param_hint="--review-levels"
        )
    if cluster is not None:
        _check_cluster(cluster)
    with use_threads(threads):  # the kernels on --threads, given back after
        try:
            check_out(out)  # before any work: a file, a path under a file, a read-only place
            inst = load(instance, follow_links, one_machine=cluster is None)
            check_solve_work(  # bounded before anything is built: refused, or its cost said
                inst,
                scenarios=scenarios,
                threads=threads,
                fill_rate=fill_rate,
                eval_scenarios=eval_scenarios,
                max_eval_scenarios=max_eval_scenarios,
                time_limit=time_limit,
                one_machine=cluster is None,
            )
            if recourse is not None:
                inst = inst.with_plan(recourse=recourse)
            if fill_rate is not None:
                inst = inst.with_fill_rate(fill_rate)
            if review_levels is not None:
                inst = inst.with_plan(review_levels=review_levels)
            with _local_cluster(cluster) as client:  # one local cluster for the whole command
                with console.status("solving") as status:
                    result = make_plan(
                        inst,
                        config,
                        scenarios=scenarios,
                        seed=seed,
                        eval_scenarios=eval_scenarios,
                        max_eval_scenarios=max_eval_scenarios,
                        with_diagnostics=not no_diagnostics,
                        progress=lambda msg: status.update(escape(msg)),  # names are data
                        cluster=cluster if client is None else client,
                        deadline=deadline,
                    )
                if not result.solution.primary:  # another rank of a distributed engine reports
                    return
                if client is not None:  # where it ran, as given (not the local scheduler's port)
                    result.summary["cluster"]["address"] = cluster
                if time_limit is not None:
                    budget = result.summary.setdefault("time_limit", {})
                    budget.update(seconds=time_limit, command_seconds_before_writing=elapsed())
                from optimizer.cli.provenance import instance_files, provenance

                result.summary["provenance"] = provenance(
                    instance_files(Path(inst.source)), settings=ctx.params
                )
                files = {"plan.csv": result.plan, "summary.json": result.summary}
                if report or xlsx is not False:  # report.html, plan.xlsx
                    with console.status("explaining the plan"):
                        files = solve_files(
                            inst, result, report=report, xlsx=xlsx, deadline=deadline, client=client
                        )
            write_outputs(out, files)
        except StockplanError as exc:
            fail(exc)
    print_plan(result.plan, result.summary)
    _print_summary(result.summary)
    console.print(escape(f"wrote {', '.join(str(out / name) for name in files)}"))


@contextlib.contextmanager
def _local_cluster(spec: str | None) -> Iterator[Any]:
    """Start a ``local:N`` cluster for the whole command; yield its client (else None).

    The solve and the plan's explanation (``--report``, ``--xlsx``) then share one cluster
    instead of starting a second one for the explanation; a scheduler address is connected
    to by each as before.
    """
    if spec is None or not spec.startswith("local:"):
        yield None
        return
    from optimizer.engines.executors import open_cluster  # dask only when asked for

    with open_cluster(spec) as client:
        yield client


def _check_cluster(spec: str) -> None:
    """Refuse a malformed ``--cluster`` value, or a cluster without the ``cluster`` extra."""
    if spec.startswith("local:"):
        n = spec.removeprefix("local:")
        if not n.isdigit() or int(n) < 1:
            raise typer.BadParameter(
                f"local:N needs a number of workers N >= 1, not {spec!r}", param_hint="--cluster"
            )
    elif "://" not in spec:
        raise typer.BadParameter(
            f"a scheduler address such as tcp://host:8786, or local:N, not {spec!r}",
            param_hint="--cluster",
        )
    from importlib.util import find_spec

    if find_spec("distributed") is None:
        raise typer.BadParameter(
            "needs Dask distributed: pip install 'stockplan[cluster]'", param_hint="--cluster"
        )


def register(app: typer.Typer) -> None:
    """Add the ``solve`` command to ``app``."""
    app.command()(solve)
