"""Where an instance's files may lead: inside its folder, and to regular files only.

:func:`check_paths` runs before any file is opened.  A file of the instance (``instance.toml``,
``items.csv``, ``suppliers.csv``, ``scenarios/`` and the CSV files in it) that is a
symbolic link — or sits under one — leading outside the instance folder is refused unless
the caller follows links on purpose (``--follow-links``): a link such as ``items.csv ->
/proc/self/environ`` would otherwise be read, and bits of it echoed in messages.  A file
that is not a regular file (a FIFO, a device, a socket) is always refused: reading one
can block for ever or never end.  Nothing of a refused file is read, and its target is
not shown.  README, "Instance files".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from optimizer.errors import InputProblem
from optimizer.instance.layout import ITEMS_FILE, SCENARIO_DIR, SUPPLIERS_FILE


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _check_one(
    path: Path, name: str, root: Path, *, folder: bool, follow_links: bool
) -> InputProblem | None:
    """Return the problem of one path, or None (also when it is missing: readers say so)."""
    if not os.path.lexists(path):
        return None
    target = Path(os.path.realpath(path))
    if not follow_links and not _inside(target, root):
        return InputProblem(
            file=name,
            rule="is a symbolic link that leads outside the instance folder: it is not read "
            "(copy the file into the folder, or pass --follow-links to read it anyway)",
        )
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # a dangling link: the reader reports the missing file
    if folder:
        return None  # a file named scenarios: the reader says it must be a folder
    if not stat.S_ISREG(mode):
        return InputProblem(
            file=name,
            rule=f"is {_kind(mode)}, not a regular file: it is not read (an instance file "
            "must be a CSV or TOML text file)",
        )
    return None


def check_paths(folder: Path, toml_path: Path, *, follow_links: bool = False) -> list[InputProblem]:
    """Return the problems of the instance's paths (links outside, special files).

    Parameters
    ----------
    folder : Path
        The instance folder (the place every file must lead into).
    toml_path : Path
        Its ``instance.toml``.
    follow_links : bool
        Read links that lead outside the folder (special files are refused still).
    """
    root = Path(os.path.realpath(folder))
    found: list[InputProblem] = []
    files = [(toml_path, toml_path.name), (folder / ITEMS_FILE, ITEMS_FILE)]
    files.append((folder / SUPPLIERS_FILE, SUPPLIERS_FILE))
    for path, name in files:
        problem = _check_one(path, name, root, folder=False, follow_links=follow_links)
        if problem is not None:
            found.append(problem)
    directory = folder / SCENARIO_DIR
    problem = _check_one(directory, SCENARIO_DIR, root, folder=True, follow_links=follow_links)
    if problem is not None:
        return [*found, problem]
    if directory.is_dir():
        for path in sorted(directory.glob("*.csv")):
            name = f"{SCENARIO_DIR}/{path.name}"
            problem = _check_one(path, name, root, folder=False, follow_links=follow_links)
            if problem is not None:
                found.append(problem)
    return found
