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
from optimizer.errors import StockplanError, UnsupportedOptionError
from optimizer.instance.limits import check_evaluation
from optimizer.instance.plan_file import read_plan
from optimizer.instance.plan_levels import read_block_levels
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
        check_evaluation(inst, scenarios, option="--eval-scenarios")  # all played at once
        S, K = read_plan(plan, inst)
        levels = read_block_levels(plan, inst)
        if levels is not None:  # one level per review block: priced as solve prices it
            _evaluate_blocks(ctx, inst, plan, S, K, levels, scenarios, seed, out)
            return
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
            _write(out, ctx, inst, plan, table, summary)
    except StockplanError as exc:
        fail(exc)
    print_plan(table, summary)
    console.print(
        f"expected cost, the plan run causally: {fmt(cci.mean)} (95% CI {fmt(cci.low)} – "
        f"{fmt(cci.high)}) on {fresh.n_scenarios} fresh scenarios; the hindsight recourse "
        f"(a lower bound): {fmt(ci.mean)} ({fmt(ci.low)} – {fmt(ci.high)})",
        markup=False,
    )


def _evaluate_blocks(
    ctx: typer.Context,
    inst,
    plan: Path,
    S,
    K,
    levels,
    scenarios: int | None,
    seed: int | None,
    out: Path | None,
) -> None:
    """Price a plan with block columns causally on fresh two-quarter scenarios.

    As ``stockplan solve`` prices it (README "Review levels"): the blocks over the
    quarter, ``base_stock`` over the warm-up and the next quarter, with the paired
    difference against ``base_stock`` alone. There is no hindsight figure for levels that
    change within the quarter.
    """
    from optimizer.analysis.diagnostics import mean_ci
    from optimizer.analysis.review_headline import BlockBatches, paired_difference
    from optimizer.report import plan_table

    try:
        if inst.explicit is not None:
            raise UnsupportedOptionError(
                "a plan with block columns is priced on two quarters of sampled scenarios, "
                "and this instance's scenarios/ files hold one quarter"
            )
        k = levels.shape[1]
        batches = BlockBatches(inst, S, K, levels, seed=seed)
        with console.status("evaluating the block plan"):
            ev, demand = batches(int(scenarios or inst.plan.scenarios), "evaluate")
        table = plan_table(inst, S, K, ev)
        at = table.columns.get_loc("base_stock") + 1
        for b in range(k):
            table.insert(at + b, f"base_stock_b{b + 1}", levels[:, b] + 0.0)
        cci = mean_ci(ev.scenario_cost)
        summary = {
            "instance": inst.name,
            "scenarios": int(ev.scenario_cost.size),
            "review_levels": k,
            "expected_cost": None,
            "causal_expected_cost": cci.mean,
            "causal_ci95_low": cci.low,
            "causal_ci95_high": cci.high,
            "causal_fill_rate": (
                1.0 - float(ev.stockout_units.sum()) / float(demand.sum())
                if demand.sum() > 0
                else 1.0
            ),
            "periods": 2 * inst.plan.periods,
            "costing": "two quarters: the blocks over the first, base_stock over the next",
            "vs_single_level": paired_difference(ev.scenario_cost, batches.single_costs()),
            "postures": {},
        }
        if out is not None:
            _write(out, ctx, inst, plan, table, summary)
    except StockplanError as exc:
        fail(exc)
    print_plan(table, summary)
    vs = summary["vs_single_level"]
    console.print(
        f"expected cost of the {k} block levels, run causally over two quarters: "
        f"{fmt(cci.mean)} (95% CI {fmt(cci.low)} – {fmt(cci.high)}) on "
        f"{summary['scenarios']} fresh scenarios; against base_stock alone "
        f"{fmt(vs['difference'])} ({fmt(vs['difference_ci95'][0])} – "
        f"{fmt(vs['difference_ci95'][1])}, paired)",
        markup=False,
    )


def _write(out: Path, ctx: typer.Context, inst, plan: Path, table, summary: dict) -> None:
    """Write evaluation.csv and evaluation.json (with its provenance) into ``out``."""
    from optimizer.cli.provenance import instance_files, provenance

    summary["provenance"] = provenance(
        [*instance_files(Path(inst.source)), plan], settings=ctx.params
    )
    write_outputs(out, {"evaluation.csv": table, "evaluation.json": summary})


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""
    app.command()(evaluate)
