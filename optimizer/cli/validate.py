"""``stockplan validate``: check an instance and list every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from optimizer.cli.common import FollowLinks, Verbose, console, fail, load, setup_logging
from optimizer.errors import StockplanError


def validate(
    instance: Annotated[Path, typer.Argument(help="Instance folder, toml or .xlsx.")],
    follow_links: FollowLinks = False,
    verbose: Verbose = 0,
) -> None:
    """Check an instance; list every problem (exit 3) or say it is valid."""
    setup_logging(verbose)
    try:
        inst = load(instance, follow_links)
    except StockplanError as exc:
        fail(exc)
    console.print(
        f"[green]valid[/]: {escape(inst.name)} — {len(inst.items)} items, "
        f"{len(inst.suppliers)} suppliers, {inst.plan.periods} periods, warm-up "
        f"{inst.warmup}, "
        + (
            "explicit scenarios"
            if inst.explicit is not None
            else f"{inst.plan.scenarios} sampled scenarios"
        )
    )


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to ``app``."""
    app.command()(validate)
