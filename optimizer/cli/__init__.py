"""The ``stockplan`` command line: one module per command, registered on one app.

Exit codes: 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan within limits, 1 bug.

A command's module is imported when that command runs (all of them for ``--help``), so
``stockplan solve`` does not load what only ``compare`` and ``evaluate`` need (their
policies import ``scipy.stats``, about a second of start-up).
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperCommand, TyperGroup

#: Each command and the module whose ``register(app)`` adds it, in ``--help`` order.
COMMANDS = {
    "solve": "optimizer.cli.solve",
    "validate": "optimizer.cli.validate",
    "evaluate": "optimizer.cli.evaluate",
    "compare": "optimizer.cli.compare",
    "generate": "optimizer.cli.generate",
    "demo": "optimizer.cli.demo",
}


class LazyCommands(TyperGroup):
    """The app's commands, each built from its module on first use."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Return the commands in :data:`COMMANDS` order, then any registered directly."""
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        """Return the command ``cmd_name``, importing its module if it is one of ours."""
        registered = super().get_command(ctx, cmd_name)
        if registered is not None or cmd_name not in COMMANDS:
            return registered
        one = typer.Typer(add_completion=False)
        importlib.import_module(COMMANDS[cmd_name]).register(one)
        return typer.main.get_command(one)


app = typer.Typer(
    cls=LazyCommands,
    add_completion=False,
    no_args_is_help=True,
    help="Stocking plans that weigh Just-in-Time against Just-in-Case.",
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"stockplan {version('stockplan')}")
        except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
            typer.echo("stockplan (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Stocking plans that weigh Just-in-Time against Just-in-Case."""


def main() -> None:  # pragma: no cover
    """Run the command line."""
    app()
