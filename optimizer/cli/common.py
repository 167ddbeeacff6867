"""Helpers every ``stockplan`` command shares: consoles, logging, loading, failing.

Exit codes (README "Quick start"): 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan
within limits, 1 bug; each :class:`~optimizer.errors.StockplanError` carries its own.
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

from optimizer.errors import InputProblem, InvalidInstanceError, StockplanError
from optimizer.instance import Instance, load_instance

console = Console()
err = Console(stderr=True)
log = logging.getLogger("optimizer")

#: The bundled demo, shipped inside the package (``instances/demo`` links to it).
REPO_DEMO = Path(__file__).resolve().parents[1] / "demo"

InstanceArg = Annotated[
    Path | None,
    typer.Argument(help="Instance folder or its instance.toml (default: the bundled demo)."),
]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")]
FollowLinks = Annotated[
    bool,
    typer.Option(
        "--follow-links",
        help="Read instance files that are symbolic links leading outside the instance folder.",
    ),
]


def setup_logging(verbose: int) -> None:
    """Log to stderr at WARNING, INFO (``-v``) or DEBUG (``-vv``)."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        force=True,
        handlers=[RichHandler(console=err, show_path=False)],
    )


def load(path: Path | None, follow_links: bool = False) -> Instance:
    """Load the instance at ``path``, or the bundled demo when ``path`` is None."""
    if path is None:
        if not REPO_DEMO.exists():
            raise InvalidInstanceError(
                [
                    InputProblem(
                        str(REPO_DEMO),
                        "the bundled demo is missing from this installation; pass an "
                        "instance folder",
                    )
                ]
            )
        path = REPO_DEMO
    return load_instance(path, follow_links=follow_links)


def fail(exc: StockplanError) -> None:
    """Print the error unwrapped (planners grep these lines) and exit with its code."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def fmt(x: float | None, digits: int = 2) -> str:
    """Format ``x`` with thousands separators and ``digits`` decimals (``-``: None, inf, nan)."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    return f"{x:,.{digits}f}"


def print_plan(plan: pd.DataFrame, summary: dict, limit: int = 40) -> None:
    """Print the first ``limit`` rows of the plan table (S, ss, cover, K, fill, cost)."""
    table = Table(
        title=f"Stocking plan — {summary['instance']} (costs per {summary['periods']}"
        f"-period horizon)",
        show_lines=False,
    )
    cols = [
        ("item", "item"),
        ("posture", "posture"),
        ("base_stock", "S"),
        ("safety_stock", "ss"),
        ("cover_periods", "cover"),
        ("reserved_capacity", "K"),
        ("expected_fill_rate", "fill"),
        ("expected_cost", "E[cost]"),
    ]
    for _, label in cols:
        table.add_column(label, justify="left" if label in ("item", "posture") else "right")
    for _, row in plan.head(limit).iterrows():
        table.add_row(
            str(row["item"]),
            str(row["posture"]),
            fmt(row["base_stock"], 1),
            fmt(row["safety_stock"], 1),
            fmt(row["cover_periods"]),
            fmt(row["reserved_capacity"], 1),
            f"{row['expected_fill_rate']:.1%}",
            fmt(row["expected_cost"]),
        )
    console.print(table)
    if len(plan) > limit:
        console.print(f"... {len(plan) - limit} more items in plan.csv")
