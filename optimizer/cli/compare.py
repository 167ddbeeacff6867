"""``stockplan compare``: the stochastic plan against the heuristic policies (README "JIT or JIC?").

Registered on the main application by :func:`register`.

Writes ``DIR/comparison.csv`` (one row per policy, ranked by out-of-sample expected cost)
and ``DIR/plans/<policy>.csv`` (each policy's plan table), then prints the ranking.
Exit codes as in :mod:`optimizer.cli`: 0 ok, 2 usage, 3 invalid input, 4 infeasible,
5 no plan within limits, 1 bug.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from optimizer.analysis.comparison import Comparison, run_comparison
from optimizer.analysis.outputs import compare_files
from optimizer.analysis.policies import DEFAULT_JIC_COVER, DEFAULT_SERVICE_LEVELS, PolicyPlan
from optimizer.cli.common import (
    FollowLinks,
    InstanceArg,
    Threads,
    TimeLimit,
    Verbose,
    console,
    deadline_of,
    fail,
    load,
    setup_logging,
    use_threads,
)
from optimizer.engines.base import SolveConfig
from optimizer.engines.registry import engine_names
from optimizer.errors import StockplanError
from optimizer.instance import Instance
from optimizer.instance.limits import check_evaluation, check_instance_size
from optimizer.report import check_out, write_outputs

log = logging.getLogger(__name__)
COMMAND = "compare"


def _default(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def parse_numbers(
    text: str, option: str, *, low: float, high: float = math.inf, what: str
) -> list[float]:
    """Parse ``"1,2,4"`` into floats in the open interval (``low``, ``high``).

    Raises
    ------
    typer.BadParameter
        Exit code 2 (usage) with the offending entry named.
    """
    values: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            x = float(part)
        except ValueError:
            raise typer.BadParameter(f"{part!r} is not a number", param_hint=option) from None
        if not (math.isfinite(x) and low < x < high):
            bound = f"between {low:g} and {high:g}" if math.isfinite(high) else f"> {low:g}"
            raise typer.BadParameter(f"{part!r}: {what} must be {bound}", param_hint=option)
        values.append(x)
    if not values:
        raise typer.BadParameter("give at least one value", param_hint=option)
    return list(dict.fromkeys(values))


#: Names of the policies ``compare`` always ranks, beside ``jic_<k>`` and ``classic_<pct>``.
FIXED_POLICIES = ("jit", "newsvendor", "ev", "stochastic", "stochastic_hindsight")


def planner_names(paths: list[Path], covers: list[float], levels: list[float]) -> list[str]:
    """Name each ``--plan`` file by its stem; refuse (exit 2) a name taken or repeated.

    Raises
    ------
    typer.BadParameter
        When two files share a stem or a stem is a policy's name.
    """
    taken = set(FIXED_POLICIES)
    taken |= {f"jic_{k:g}" for k in covers} | {f"classic_{p:g}" for p in levels}
    names: list[str] = []
    for path in paths:
        name = path.stem
        if name in taken or name in names:
            what = "another --plan file's" if name in names else "a policy's"
            raise typer.BadParameter(
                f"{path}: its name {name!r} is {what}; rename the file (the ranking names a "
                "plan by its file name)",
                param_hint="--plan",
            )
        names.append(name)
    return names


def planner_plan(path: Path, name: str, instance: Instance) -> PolicyPlan:
    """Read the planner's plan in ``path``, checked as ``evaluate`` checks it (exit 3)."""
    from optimizer.instance.plan_file import read_plan

    S, K = read_plan(path, instance)
    return PolicyPlan(
        name=name,
        family="planner",
        base_stock=S,
        reserved=K,
        description=f"the planner's plan in {path}",
    )


def write_comparison(out: Path, comparison: Comparison, report: bool = False) -> list[Path]:
    """Write ``comparison.csv`` and ``plans/<policy>.csv`` in one all-or-nothing step.

    :func:`~optimizer.report.write_outputs` swaps the whole folder into place, so a failed
    or killed run leaves the old comparison or the new one, never a mix. With ``report``,
    ``report.html`` too (:func:`optimizer.analysis.outputs.compare_files`).
    """
    files = {"comparison.csv": comparison.table}
    files.update({f"plans/{name}.csv": table for name, table in comparison.plans.items()})
    files.update(compare_files(comparison, report=report))
    return write_outputs(Path(out), files)


def _num(x: float) -> str:
    """Thousands separators; one decimal below 100 in magnitude."""
    if x is None or not math.isfinite(float(x)):
        return "-"
    x = float(x)
    return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"


def _pm(mean: float, low: float, high: float, sign: bool = False) -> str:
    """``mean ± half-width`` of a 95% interval."""
    if not math.isfinite(float(mean)):
        return "-"
    head = ("+" if sign and mean > 0 else "") + _num(mean)
    return f"{head}\n± {_num((high - low) / 2)}"


def ranking_table(table: pd.DataFrame, title: str) -> Table:
    """Rich table of the ranked comparison (± is the 95% half-width)."""
    t = Table(
        title=escape(title),
        box=box.MINIMAL_HEAVY_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    t.add_column("rank", justify="right", no_wrap=True)
    t.add_column("policy", no_wrap=True)
    for label in ("E[cost]", "vs RP", "fill", "capital", "CVaR95", "causal", "c.rank"):
        t.add_column(escape(label), justify="right", no_wrap=True)
    for _, r in table.iterrows():
        diff = (
            "-"
            if r["policy"] == "stochastic"
            else _pm(
                r["vs_stochastic"], r["vs_stochastic_ci_low"], r["vs_stochastic_ci_high"], sign=True
            )
        )
        t.add_row(
            str(r["rank"]),
            Text(str(r["policy"])),  # a planner's plan is named by its file: data, not markup
            _pm(r["expected_cost"], r["ci_low"], r["ci_high"]),
            diff,
            f"{r['fill_rate']:.1%}",
            _num(r["capital_tied_up"]),
            _num(r["cvar95"]),
            _pm(r["causal_expected_cost"], r["causal_ci_low"], r["causal_ci_high"]),
            str(r["causal_rank"]),
        )
    return t


def compare(
    instance: InstanceArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
    scenarios: Annotated[
        int | None, typer.Option(min=1, help="Optimisation scenarios of the stochastic plan.")
    ] = None,
    eval_scenarios: Annotated[
        int | None,
        typer.Option(min=2, help="Fresh out-of-sample scenarios every policy is priced on."),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    jic_k: Annotated[
        str, typer.Option("--jic-k", help="Periods of cover of the jic_<k> policies.")
    ] = _default(DEFAULT_JIC_COVER),
    service: Annotated[
        str,
        typer.Option("--service", help="Cycle service levels (%) of the classic_<pct> policies."),
    ] = _default(DEFAULT_SERVICE_LEVELS),
    report: Annotated[
        bool,
        typer.Option(
            "--report", help="Also write report.html: the ranking with intervals, with plots."
        ),
    ] = False,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            help="A plan of your own (a plan.csv: item, base_stock[, reserved_capacity]) "
            "to rank with the policies, under its file name without .csv; repeat for more.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help=f"Engine of the stochastic and EV solves: one of {', '.join(engine_names())}."
        ),
    ] = "auto",
    threads: Threads = None,
    time_limit: TimeLimit = None,
    follow_links: FollowLinks = False,
    verbose: Verbose = 0,
) -> None:
    """Compare the stochastic plan with JIT, JIC, classic, newsvendor and EV policies.

    All are priced on the same fresh scenarios; writes comparison.csv and plans/<policy>.csv.
    """
    setup_logging(verbose)
    if engine not in engine_names():
        raise typer.BadParameter(
            f"choose one of {', '.join(engine_names())}", param_hint="--engine"
        )
    covers = parse_numbers(jic_k, "--jic-k", low=0.0, what="periods of cover")
    levels = parse_numbers(
        service, "--service", low=0.0, high=100.0, what="a service level in percent"
    )
    names = planner_names(plan or [], covers, levels)
    config = SolveConfig(engine=engine, threads=threads)
    with use_threads(threads):  # the kernels on --threads, given back after
        try:
            check_out(out)  # before any work
            inst = load(instance, follow_links)
            check_instance_size(inst, scenarios, what="--scenarios")
            check_evaluation(inst, eval_scenarios, option="--eval-scenarios")  # all at once
            own = [
                planner_plan(path, name, inst) for path, name in zip(plan or [], names, strict=True)
            ]
            with console.status("comparing policies") as status:
                comp = run_comparison(
                    inst,
                    scenarios=scenarios,
                    eval_scenarios=eval_scenarios,
                    seed=seed,
                    jic_cover=covers,
                    service_levels=levels,
                    progress=lambda msg: status.update(escape(msg)),  # names are data
                    config=config,
                    extra=own,
                    deadline=deadline_of(time_limit),
                )
            write_comparison(out, comp, report=report)
        except StockplanError as exc:
            fail(exc)
    console.print(
        ranking_table(
            comp.table,
            f"Policies on {inst.name} — {comp.eval_scenarios} fresh scenarios, costs "
            f"per {inst.plan.periods}-period horizon (rank by hindsight E[cost])",
        )
    )
    per_plan = comp.table["lp_seconds"] + comp.table["sim_seconds"]
    console.print(
        "± = 95% half-width; vs RP = paired difference to the stochastic plan on the same "
        "scenarios; capital = average value of stock on hand; causal = E[cost] of the plan "
        "run without hindsight (c.rank its rank).\n"
        f"winner: {comp.winner()} (hindsight recourse), {comp.winner(causal=True)} (causal "
        f"run); one plan evaluation takes {per_plan.median():.2f} s (median); total "
        f"{comp.seconds.get('total', 0.0):.1f} s",
        markup=False,
    )
    console.print(
        f"wrote {out / 'comparison.csv'} and {len(comp.plans)} plan tables in {out / 'plans'}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app`` (idempotent)."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else None)
        if name == COMMAND:
            return
    app.command(COMMAND)(compare)
