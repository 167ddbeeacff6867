"""Helpers every ``stockplan`` command shares: consoles, logging, loading, failing.

Exit codes (README "Quick start"): 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan
within limits, 1 bug; each :class:`~optimizer.errors.StockplanError` carries its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console, ConsoleDimensions
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from optimizer.errors import InputProblem, InvalidInstanceError, StockplanError
from optimizer.instance import Instance, load_instance

#: Width of the screen output when it is not a terminal (a pipe, a file) and ``COLUMNS``
#: is not set: wide enough that no table column is cut to "…" (rich's default is 80).
PIPE_WIDTH = 1000


class Screen(Console):
    """A rich console for data: wide when piped, quiet once its reader has gone.

    * Not a terminal and no ``COLUMNS``: :data:`PIPE_WIDTH` columns, so wide tables keep
      every cell whole instead of squeezing columns into "…".
    * A closed pipe (``stockplan solve | head -2``) is not an error: the rest of the output
      is dropped and the command goes on to its own exit code (rich would exit 1).
    """

    def __init__(self, *args: object, wide: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.wide = wide  # log lines are padded to the width: not for stderr

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or :data:`PIPE_WIDTH` columns when not a terminal."""
        size = Console.size.fget(self)
        if self.wide and self._width is None and not self.is_terminal:
            return ConsoleDimensions(max(size.width, PIPE_WIDTH), size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)

    def on_broken_pipe(self) -> None:
        """Drop the rest of the output; the command's exit code stands."""
        self.quiet = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, (sys.stderr if self.stderr else sys.stdout).fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # pragma: no cover - not a real file
            pass


console = Screen()
err = Screen(stderr=True, wide=False)
log = logging.getLogger("optimizer")

#: The bundled demo, shipped inside the package (``instances/demo`` links to it).
REPO_DEMO = Path(__file__).resolve().parents[1] / "demo"

InstanceArg = Annotated[
    Path | None,
    typer.Argument(
        help="Instance folder, its instance.toml, or a .xlsx workbook (default: the bundled demo)."
    ),
]
Verbose = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        metavar="",  # a count flag, not an option taking a number
        show_default=False,
        help="Say more on stderr: -v info, -vv debug.",
    ),
]


def _positive_seconds(value: float | None) -> float | None:
    """Refuse a time limit that is not a finite number of seconds > 0 (exit 2)."""
    if value is not None and not (np.isfinite(value) and value > 0):
        raise typer.BadParameter(
            f"{value:g} is not a time limit: give the whole command's budget in seconds, "
            "a number > 0 (leave the option out for no limit)"
        )
    return value


#: ``--time-limit``: the whole command's budget (README "Quick start", "Time limits").
TimeLimit = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        callback=_positive_seconds,
        help="Seconds for the whole command, > 0 (counted from its start). The plan stage "
        "gets what is left after loading (each LP at most that; a plan found by then is "
        "returned as feasible_at_limit); the out-of-sample pricing is cut short and the "
        "diagnostics skipped when the budget runs out, as summary.json says.",
    ),
]


def deadline_of(time_limit: float | None) -> float | None:
    """Return the :func:`time.monotonic` time ``--time-limit`` runs out (None: no limit)."""
    from optimizer.cli import command_started

    return None if time_limit is None else command_started() + time_limit


def elapsed() -> float:
    """Return the seconds since the running command began (what ``--time-limit`` counts)."""
    import time

    from optimizer.cli import command_started

    return time.monotonic() - command_started()


FollowLinks = Annotated[
    bool,
    typer.Option(
        "--follow-links",
        help="Read instance files that are symbolic links leading outside the instance folder.",
    ),
]


Threads = Annotated[
    int | None,
    typer.Option(min=1, help="Threads of HiGHS and of the compiled kernels (numba's)."),
]


@contextlib.contextmanager
def use_threads(threads: int | None) -> Iterator[int | None]:
    """Hold this process's compiled kernels to ``--threads`` while the command works.

    The causal engines' kernels run on numba's threads; ``--threads`` caps them too (HiGHS
    gets it from the config), at most numba's own count (``NUMBA_NUM_THREADS``, all cores
    by default), so the run uses the cores the time estimate counts
    (:func:`optimizer.instance.work_estimate.run_cores`). The count before is given back
    at the end (a command run in process, by a test or a notebook, leaves the process as
    it found it). Yields the kernel threads set (None: unchanged).
    """
    if threads is None:
        yield None
        return
    import numba

    before = numba.get_num_threads()
    n = max(1, min(int(threads), int(numba.config.NUMBA_NUM_THREADS)))
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(before)


#: The loggers of the cluster path's libraries, quiet below ``-vv``.
DASK_LOGGERS = ("distributed", "dask", "tornado", "bokeh")


def setup_logging(verbose: int) -> None:
    """Log to stderr at WARNING, INFO (``-v``) or DEBUG (``-vv``)."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = RichHandler(console=err, show_path=False)
    if verbose < 2:
        # Dask sets its own loggers to INFO when it is imported (scheduler and nanny
        # chatter on every --cluster run): only its warnings unless -vv asks for all
        handler.addFilter(
            lambda r: r.levelno >= logging.WARNING or not r.name.startswith(DASK_LOGGERS)
        )
    logging.basicConfig(level=level, format="%(message)s", force=True, handlers=[handler])


def load(path: Path | None, follow_links: bool = False, one_machine: bool = True) -> Instance:
    """Load the instance at ``path``, or the bundled demo when ``path`` is None.

    ``one_machine`` is False for ``solve --cluster`` (see
    :func:`~optimizer.instance.loader.load_instance`).
    """
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
    return load_instance(path, follow_links=follow_links, one_machine=one_machine)


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
        title=escape(
            f"Stocking plan — {summary['instance']} (costs per {summary['periods']}-period horizon)"
        ),
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
        # a header such as E[cost] is text, not rich markup (it printed as E)
        table.add_column(escape(label), justify="left" if label in ("item", "posture") else "right")
    for _, row in plan.head(limit).iterrows():
        table.add_row(
            Text(str(row["item"])),  # names are data: a[b] or [red]x print as they are
            Text(str(row["posture"])),
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
