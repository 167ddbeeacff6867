"""``stockplan generate``: write a synthetic instance folder (:mod:`optimizer.instance.generator`).

Registered on the main application by :func:`register`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from optimizer.errors import StockplanError
from optimizer.instance import load_instance, write_instance
from optimizer.instance.generator import generate_instance

log = logging.getLogger(__name__)

SHORTAGES = ("lost_sales", "backorder")


def generate(
    items: Annotated[int, typer.Option("--items", min=1, help="Number of items.")],
    suppliers: Annotated[int, typer.Option("--suppliers", min=1, help="Number of suppliers.")],
    out: Annotated[Path, typer.Option("--out", help="Instance folder to write.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    shortage: Annotated[
        str, typer.Option("--shortage", help="lost_sales or backorder.")
    ] = "lost_sales",
    budget_share: Annotated[
        float | None,
        typer.Option(
            "--budget-share",
            min=0.0,
            help="Inventory budget between the pipeline value (0) and a generous plan (1); "
            "below ~0.6 it binds.",
        ),
    ] = None,
    scenarios: Annotated[
        int, typer.Option("--scenarios", min=1, help="\\[plan] scenarios (optimisation scenarios).")
    ] = 200,
    periods: Annotated[int, typer.Option("--periods", min=1, help="\\[plan] costed periods.")] = 13,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the files of an existing instance folder.")
    ] = False,
) -> None:
    """Write a realistic synthetic instance (items.csv, suppliers.csv, instance.toml)."""
    refuse_to_overwrite(out, force)
    if shortage not in SHORTAGES:
        raise typer.BadParameter(f"choose one of {', '.join(SHORTAGES)}", param_hint="--shortage")
    instance = generate_instance(
        items,
        suppliers,
        seed,
        shortage=shortage,
        scenarios=scenarios,
        periods=periods,
        budget_share=budget_share,
    )
    write_instance(instance, out)
    try:
        back = load_instance(out)  # the folder must be valid for every other command
    except StockplanError as exc:  # pragma: no cover - a generator bug
        typer.echo(f"error: the generated instance does not validate: {exc}", err=True)
        raise typer.Exit(1) from exc
    budget = back.plan.inventory_budget
    typer.echo(
        f"wrote {out}: {len(back.items)} items, {len(back.suppliers)} suppliers, "
        f"{back.plan.periods} periods + warm-up {back.warmup}, "
        f"{int(back.items.has_emergency.sum())} with emergency supply"
        + (f", inventory budget {budget:,.2f}" if budget is not None else "")
    )


def refuse_to_overwrite(out: Path, force: bool, hint: str = "--out") -> None:
    """Stop (exit 2) when ``out`` is a file, or a folder with files in it, unless ``force``."""
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, not a folder", param_hint=hint)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise typer.BadParameter(
            f"{out} already holds files; pass --force to replace the instance files in it",
            param_hint=hint,
        )


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""
    app.command(name="generate")(generate)
