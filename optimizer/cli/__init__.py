"""The ``stockplan`` command line: one module per command, registered on one app.

Exit codes: 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan within limits, 1 bug.
"""

from __future__ import annotations

import typer

from optimizer.cli import compare, evaluate, generate, solve, validate

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Stocking plans that weigh Just-in-Time against Just-in-Case.",
)
for _command in (solve, validate, evaluate, compare, generate):
    _command.register(app)


def main() -> None:  # pragma: no cover
    """Run the command line."""
    app()
