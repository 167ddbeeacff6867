"""``stockplan convert SRC DST``: an instance folder to a workbook, and a workbook to a folder.

The direction follows the paths: a folder (or its ``instance.toml``) becomes ``DST.xlsx``;
a ``.xlsx`` becomes the folder ``DST``.  The instance is read with every check of
``validate`` and written back exactly (README, "Excel"), so converting twice gives an
equal instance.  ``DST`` is not overwritten without ``--force``; a workbook is written
beside its target first and moved into place, so an interrupted run leaves none half
written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.common import FollowLinks, Verbose, console, fail, load, setup_logging
from optimizer.errors import EXIT_USAGE, StockplanError
from optimizer.instance import Instance


class ConvertError(StockplanError):
    """The conversion cannot be done as asked (paths, an existing target, a sheet limit)."""

    exit_code = EXIT_USAGE


def _is_workbook(path: Path) -> bool:
    return path.suffix.lower() == ".xlsx"


def _write_workbook(instance: Instance, target: Path) -> None:
    """Write the workbook next to ``target``, then move it into place."""
    from optimizer.instance.workbook import write_workbook

    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".xlsx", dir=target.parent)
    os.close(handle)
    try:
        write_workbook(instance, Path(name))
        os.chmod(name, 0o644)
        os.replace(name, target)
    except ValueError as exc:
        raise ConvertError(str(exc)) from exc
    finally:
        if os.path.exists(name):
            os.unlink(name)


def convert(
    src: Annotated[Path, typer.Argument(help="Instance folder, its instance.toml, or a .xlsx.")],
    dst: Annotated[Path, typer.Argument(help="A .xlsx for a folder; a folder for a .xlsx.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite DST if it exists.")] = False,
    follow_links: FollowLinks = False,
    verbose: Verbose = 0,
) -> None:
    """Convert an instance folder to a workbook, or a workbook to a folder (exact)."""
    setup_logging(verbose)
    try:
        if _is_workbook(src) == _is_workbook(dst):
            raise ConvertError(
                "give a folder and a .xlsx workbook, one of each: "
                "stockplan convert FOLDER BOOK.xlsx, or stockplan convert BOOK.xlsx FOLDER"
            )
        if dst.exists() and not force:
            raise ConvertError(f"{dst} exists: pass --force to overwrite it")
        if _is_workbook(dst) and dst.exists() and not dst.is_file():
            raise ConvertError(f"{dst} exists and is not a file")
        if not _is_workbook(dst) and dst.exists() and not dst.is_dir():
            raise ConvertError(f"{dst} exists and is not a folder")
        if not dst.parent.is_dir():
            raise ConvertError(f"{dst.parent} is not a folder: create it first")
        instance = load(src, follow_links)
        if getattr(instance, "history", None) is not None:
            raise ConvertError(
                f"{src} reads history/ (demand history, forecasts or deliveries), which a "
                "workbook does not hold: keep this instance as a folder"
            )
        if _is_workbook(dst):
            _write_workbook(instance, dst)
        else:
            from optimizer.instance import write_instance

            write_instance(instance, dst)
    except StockplanError as exc:
        fail(exc)
    kind = "workbook" if _is_workbook(dst) else "instance folder"
    console.print(
        f"wrote {kind} {dst}: {instance.name} — {len(instance.items)} items, "
        f"{len(instance.suppliers)} suppliers",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command to ``app``."""
    app.command()(convert)
