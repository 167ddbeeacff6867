"""``stockplan demo``: copy the bundled demo instance out of the package for editing.

Registered on the main application by :func:`register`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.common import REPO_DEMO
from optimizer.cli.generate import refuse_to_overwrite

#: The files of an instance folder, as the demo ships them.
DEMO_FILES = ("instance.toml", "items.csv", "suppliers.csv")


def demo(
    out: Annotated[Path, typer.Argument(help="Folder to copy the demo instance into.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the files of an existing folder.")
    ] = False,
) -> None:
    """Copy the bundled demo (the default of ``stockplan solve``) into a folder to edit."""
    refuse_to_overwrite(out, force, hint="OUT")
    out.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        shutil.copyfile(REPO_DEMO / name, out / name)
    typer.echo(
        f"wrote {out}: the demo instance ({', '.join(DEMO_FILES)}); solve it with "
        f"'stockplan solve {out}'"
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command(name="demo")(demo)
