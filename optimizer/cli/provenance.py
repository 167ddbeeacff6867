"""Where a result came from: the ``provenance`` block of ``summary.json`` (and ``evaluate``'s JSON).

A result file should say, by itself, how to make it again and whether its inputs have
changed since: when it was made (UTC, ISO 8601), the command line, the SHA-256 of every
input file read, the versions of the pieces that determine the numbers
(:func:`optimizer.report.versions`) and every option of the command as it took effect
(defaults included).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from optimizer.report import versions

#: Stems of the files an instance folder is read from (any spreadsheet or text suffix).
INSTANCE_STEMS = ("instance", "items", "suppliers")
#: Stems of the files of an instance's ``scenarios/`` folder.
SCENARIO_STEMS = ("demand", "supply", "probability")


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Return the SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def instance_files(source: Path) -> list[Path]:
    """List the input files of the instance at ``source`` (a folder, its toml, a workbook).

    A folder's files are those named ``instance.*``, ``items.*``, ``suppliers.*`` and
    ``scenarios/{demand,supply,probability}.*``; a file stands for itself and, when it is
    the folder's ``instance.toml``, for the folder.
    """
    source = Path(source)
    if source.is_file() and source.name != "instance.toml":
        return [source]
    folder = source if source.is_dir() else source.parent
    found = [
        f
        for f in sorted(folder.iterdir())
        if f.is_file() and f.name.split(".", 1)[0] in INSTANCE_STEMS
    ]
    scen = folder / "scenarios"
    if scen.is_dir():
        found += [
            f
            for f in sorted(scen.iterdir())
            if f.is_file() and f.name.split(".", 1)[0] in SCENARIO_STEMS
        ]
    return found


def _plain(value: object) -> object:
    """Return an option's value as JSON (paths as text, tuples as lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def provenance(inputs: list[Path], *, settings: dict) -> dict:
    """Assemble the provenance block: time, command, input hashes, versions, settings.

    Parameters
    ----------
    inputs : list of Path
        The files the command read (instance files, plan files); each is hashed.
    settings : dict
        The settings in effect: the command's options as parsed, defaults included
        (``typer.Context.params``).
    """
    from optimizer.cli import command_line

    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "command": command_line(),
        "inputs": {str(p): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in inputs},
        "versions": versions(),
        "settings": {k: _plain(v) for k, v in settings.items()},
    }
