"""``stockplan`` command line (DESIGN §4).

Exit codes: 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan within limits, 1 bug.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from optimizer.diagnostics import causal_evaluation, mean_ci, price_plan
from optimizer.engine import ENGINES
from optimizer.errors import InputProblem, InvalidInstanceError, NoPlanError, StockplanError
from optimizer.highs_backend import SolverOptions
from optimizer.instance import Instance
from optimizer.instance_io import load_instance
from optimizer.planning import make_plan
from optimizer.program_data import program_data
from optimizer.report import plan_table, write_outputs
from optimizer.scenarios import generate_scenarios

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Stocking plans that weigh Just-in-Time against Just-in-Case.")
console = Console()
err = Console(stderr=True)
log = logging.getLogger("optimizer")

REPO_DEMO = Path(__file__).resolve().parent.parent / "instances" / "demo"

InstanceArg = Annotated[Path | None, typer.Argument(
    help="Instance folder or its instance.toml (default: the bundled demo).")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")]


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s", force=True,
                        handlers=[RichHandler(console=err, show_path=False)])


def _load(path: Path | None) -> Instance:
    if path is None:
        if not REPO_DEMO.exists():
            raise InvalidInstanceError([InputProblem(
                str(REPO_DEMO), "the bundled demo is not here; pass an instance folder "
                "(install with 'pip install -e .' from the repository to keep the demo)")])
        path = REPO_DEMO
    return load_instance(path)


def _fail(exc: StockplanError) -> None:
    """Print the error unwrapped (planners grep these lines) and exit with its code."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _print_plan(plan: pd.DataFrame, summary: dict, limit: int = 40) -> None:
    table = Table(title=f"Stocking plan — {summary['instance']} (costs per {summary['periods']}"
                        f"-period horizon)", show_lines=False)
    cols = [("item", "item"), ("posture", "posture"), ("base_stock", "S"),
            ("safety_stock", "ss"), ("cover_periods", "cover"),
            ("reserved_capacity", "K"), ("expected_fill_rate", "fill"),
            ("expected_cost", "E[cost]")]
    for _, label in cols:
        table.add_column(label, justify="left" if label in ("item", "posture") else "right")
    for _, row in plan.head(limit).iterrows():
        table.add_row(str(row["item"]), str(row["posture"]), _fmt(row["base_stock"], 1),
                      _fmt(row["safety_stock"], 1), _fmt(row["cover_periods"]),
                      _fmt(row["reserved_capacity"], 1), f"{row['expected_fill_rate']:.1%}",
                      _fmt(row["expected_cost"]))
    console.print(table)
    if len(plan) > limit:
        console.print(f"... {len(plan) - limit} more items in plan.csv")


def _print_summary(summary: dict) -> None:
    t = Table(title="Summary", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("status", f"{summary['status']} ({summary['termination']})")
    t.add_row("objective (expected cost)", _fmt(summary["objective"]))
    t.add_row("postures JIT / hybrid / JIC",
              " / ".join(str(summary["postures"][k]) for k in ("JIT", "hybrid", "JIC")))
    t.add_row("fill rate", f"{summary['fill_rate']:.2%}")
    t.add_row("capital tied up (avg)", _fmt(summary["capital_tied_up"]))
    t.add_row("model build / solve seconds",
              f"{summary['build_seconds']:.2f} / {summary['solve_seconds']:.2f}")
    d = summary.get("diagnostics")
    if d:
        t.add_row("EV (mean-value, = JIT)", _fmt(d["EV"]))
        t.add_row("EEV (JIT plan under uncertainty)", _fmt(d["EEV"]))
        t.add_row("VSS = EEV - RP (value of hedging)", _fmt(d["VSS"]))
        t.add_row("WS / EVPI", f"{_fmt(d['WS'])} / {_fmt(d['EVPI'])}")
        o = d["out_of_sample"]
        t.add_row(f"out-of-sample ({o['scenarios']} fresh scenarios)",
                  f"{_fmt(o['expected_cost'])} [{_fmt(o['ci95_low'])}, {_fmt(o['ci95_high'])}]")
        c = d["causal_simulation"]
        t.add_row("causal simulation / hindsight LP",
                  f"{_fmt(c['cost'])} / {_fmt(c['hindsight_cost'])} (gap {_fmt(c['gap'])})")
    if "warning" in summary:
        t.add_row("[yellow]warning[/]", summary["warning"])
    console.print(t)


@app.command()
def solve(
    instance: InstanceArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    scenarios: Annotated[int | None, typer.Option(min=1, help="Scenarios to sample.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    time_limit: Annotated[float | None, typer.Option(min=0.0, help="Seconds per LP.")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="HiGHS threads.")] = None,
    gap: Annotated[float, typer.Option(min=0.0, max=0.5, help=(
        "Relative optimality tolerance of HiGHS's interior-point method."))] = 1e-8,
    method: Annotated[str, typer.Option(help="HiGHS LP method: choose, simplex or ipm.")
                      ] = "choose",
    engine: Annotated[str, typer.Option(help=(
        f"One of {', '.join(ENGINES)}, or mpi-sppy (progressive hedging; launch with "
        "'mpiexec -n K stockplan solve ... --engine mpi-sppy'))."))] = "auto",
    rel_gap: Annotated[float, typer.Option(
        min=0.0, help="mpi-sppy: stop at this relative gap between its bounds.")] = 1e-4,
    eval_scenarios: Annotated[int | None, typer.Option(
        min=2, help="Fresh scenarios for the out-of-sample estimate.")] = None,
    verbose: Verbose = 0,
) -> None:
    """Compute the stochastic stocking plan; write plan.csv and summary.json."""
    _setup_logging(verbose)
    if engine == "mpi-sppy":
        _solve_distributed(instance, out, scenarios, seed, time_limit, rel_gap, verbose)
        return
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}, mpi-sppy",
                                 param_hint="--engine")
    try:
        inst = _load(instance)
        if method not in ("choose", "simplex", "ipm"):
            raise typer.BadParameter("choose one of choose, simplex, ipm",
                                     param_hint="--method")
        options = SolverOptions(time_limit=time_limit, threads=threads, gap=gap, method=method)
        with console.status("solving") as status:
            result = make_plan(inst, scenarios=scenarios, seed=seed, engine=engine,
                               options=options, eval_scenarios=eval_scenarios,
                               progress=lambda msg: status.update(msg))
        write_outputs(out, {"plan.csv": result.plan, "summary.json": result.summary})
    except StockplanError as exc:
        _fail(exc)
    _print_plan(result.plan, result.summary)
    _print_summary(result.summary)
    console.print(f"wrote {out / 'plan.csv'} and {out / 'summary.json'}")


def _solve_distributed(instance: Path | None, out: Path, scenarios: int | None,
                       seed: int | None, time_limit: float | None, rel_gap: float,
                       verbose: int) -> None:
    """Run :mod:`optimizer.distributed` on every MPI rank; rank 0 writes the outputs."""
    try:
        from optimizer.distributed import main as distributed_main
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        typer.echo("error: --engine mpi-sppy needs the distributed extra: "
                   "pip install -e '.[distributed]'", err=True)
        raise typer.Exit(2) from exc
    argv = [str(instance or REPO_DEMO), "--out", str(out), "--rel-gap", str(rel_gap)]
    for flag, value in (("--scenarios", scenarios), ("--seed", seed),
                        ("--time-limit", time_limit)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["-v"] * verbose
    try:
        code = distributed_main(argv)
    except StockplanError as exc:
        _fail(exc)
    raise typer.Exit(code)


@app.command()
def validate(instance: Annotated[Path, typer.Argument(help="Instance folder or toml.")],
             verbose: Verbose = 0) -> None:
    """Check an instance; list every problem (exit 3) or say it is valid."""
    _setup_logging(verbose)
    try:
        inst = _load(instance)
    except StockplanError as exc:
        _fail(exc)
    console.print(f"[green]valid[/]: {inst.name} — {len(inst.items)} items, "
                  f"{len(inst.suppliers)} suppliers, {inst.plan.periods} periods, warm-up "
                  f"{inst.warmup}, "
                  + ("explicit scenarios" if inst.explicit is not None
                     else f"{inst.plan.scenarios} sampled scenarios"))


def read_plan(path: Path, instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Read a plan CSV (``item, base_stock[, reserved_capacity]``) in instance item order."""
    name = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInstanceError([InputProblem(name, f"cannot read the plan: {exc}")]) from exc
    problems: list[InputProblem] = []
    for col in ("item", "base_stock"):
        if col not in df.columns:
            problems.append(InputProblem(name, "required column is missing", column=col))
    if problems:
        raise InvalidInstanceError(problems)
    it = instance.items
    index = {str(n): k for k, n in enumerate(it.name)}
    S = np.full(len(it), np.nan)
    K = np.zeros(len(it))
    for row, rec in enumerate(df.to_dict("records"), start=1):
        item = rec["item"]
        if item not in index:
            problems.append(InputProblem(name, "item is not in the instance", row, item, "item"))
            continue
        for col, target in (("base_stock", S), ("reserved_capacity", K)):
            if col not in rec or (col == "reserved_capacity" and rec[col] == ""):
                continue
            try:
                value = float(rec[col])
            except ValueError:
                problems.append(InputProblem(name, "not a number", row, item, col))
                continue
            if not np.isfinite(value) or value < 0:
                problems.append(InputProblem(name, "must be a finite number >= 0", row, item,
                                             col))
            target[index[item]] = value
    for k in np.flatnonzero(np.isnan(S)):
        if not any(p.item == it.name[k] for p in problems):
            problems.append(InputProblem(name, "item of the instance has no row in the plan",
                                         item=str(it.name[k])))
    low = it.lead_time * it.demand_mean
    for k in np.flatnonzero(S < low - 1e-9):
        problems.append(InputProblem(
            name, f"base_stock {S[k]:g} is below the pipeline L*mu = {low[k]:g}",
            item=str(it.name[k]), column="base_stock"))
    if problems:
        raise InvalidInstanceError(problems)
    return S, K


@app.command()
def evaluate(
    instance: Annotated[Path, typer.Argument(help="Instance folder or toml.")],
    plan: Annotated[Path, typer.Option("--plan", help="Plan CSV (item, base_stock, ...).")],
    scenarios: Annotated[int | None, typer.Option(min=2, help="Fresh scenarios.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write evaluation.csv here.")] = None,
    verbose: Verbose = 0,
) -> None:
    """Price a given plan on fresh out-of-sample scenarios (hindsight LP and causal run)."""
    _setup_logging(verbose)
    try:
        inst = _load(instance)
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
        summary = {"instance": inst.name, "scenarios": data.n_scenarios,
                   "expected_cost": ci.mean, "ci95_low": ci.low, "ci95_high": ci.high,
                   "causal_expected_cost": cci.mean, "causal_ci95_low": cci.low,
                   "causal_ci95_high": cci.high, "cvar": priced.evaluation.cvar,
                   "instance_name": inst.name, "periods": data.periods,
                   "status": priced.status.value, "termination": priced.termination,
                   "objective": priced.objective, "postures": {}}
        if out is not None:
            write_outputs(out, {"evaluation.csv": table, "evaluation.json": summary})
    except StockplanError as exc:
        _fail(exc)
    _print_plan(table, summary)
    console.print(f"expected cost {_fmt(ci.mean)} (95% CI {_fmt(ci.low)} – {_fmt(ci.high)}) on "
                  f"{data.n_scenarios} fresh scenarios; causal run {_fmt(cci.mean)} "
                  f"({_fmt(cci.low)} – {_fmt(cci.high)})")


def _register_commands() -> None:
    """Commands that live in their own modules (each imports this one for helpers)."""
    from optimizer.cli_compare import register as register_compare
    from optimizer.cli_generate import register as register_generate

    register_compare(app)
    register_generate(app)


_register_commands()


def main() -> None:  # pragma: no cover
    app()
