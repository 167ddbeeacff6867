"""Output files: the all-or-nothing output folder, its checks, and version provenance.

A run's files are written into a fresh folder that takes the output folder's place in one
step (:func:`write_outputs`), so a failed or killed run leaves the old complete set or the
new one, never a mix.

Every CSV file written here is safe to open in a spreadsheet: a text cell that starts
like a formula (``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading
apostrophe, as OWASP recommends against CSV injection (:func:`spreadsheet_safe`); numbers
stay numbers, and ``-0`` is written as ``0``.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import OutputFolderError
from optimizer.instance.tables import spreadsheet_safe


def _clean(value):
    """JSON-safe value: numpy scalars to Python, non-finite floats to ``None``, no ``-0.0``."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value + 0.0 if math.isfinite(value) else None
    return value


def versions() -> dict[str, str]:
    """Versions of the pieces that determine a result.

    Read from the installed distributions' metadata, not by importing them: importing
    Pyomo only for its version cost 1.7 s of the demo's start-up.
    """
    from importlib.metadata import PackageNotFoundError, version

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:  # pragma: no cover
            return "unknown"

    return {
        "stockplan": of("stockplan"),
        "python": platform.python_version(),
        "pyomo": of("pyomo"),
        "highspy": of("highspy"),
        "numpy": np.__version__,
        "scipy": of("scipy"),
        "pandas": pd.__version__,
    }


#: ``renameat2``'s flag that swaps two paths atomically (Linux 3.15+, glibc 2.28+).
RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step; False where the system cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    AT_FDCWD = -100  # noqa: N806
    return fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def _sweep(out_dir: Path) -> None:
    """Remove the staging folders of earlier writes to ``out_dir`` whose process is gone.

    A run killed while writing (``SIGKILL`` cannot be caught) leaves its
    ``.<out>.new-<pid>-*`` folder beside the output; the next write clears it.
    """
    for left in out_dir.parent.glob(f".{out_dir.name}.new-*"):
        try:
            pid = int(left.name[len(f".{out_dir.name}.new-") :].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(left, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def check_out(out_dir: Path) -> None:
    """Refuse an output folder that cannot be written, before any work is done.

    Raises
    ------
    OutputFolderError
        ``out_dir`` is a file, lies under a file, or its nearest existing folder is not
        writable.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"--out {out_dir} is a file, not a folder")
    parent = out_dir if out_dir.exists() else out_dir.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputFolderError(f"--out {out_dir} lies under {parent}, which is a file")
    # the new folder is made beside out_dir, so its parent must take new entries
    place = out_dir.parent if out_dir.exists() else parent
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputFolderError(f"--out {out_dir}: {place} is not writable")


def write_outputs(
    out_dir: Path, files: dict[str, pd.DataFrame | dict | str | bytes | Any]
) -> list[Path]:
    """Write CSV tables, JSON documents, text and binary files all-or-nothing, as one folder.

    A DataFrame is written as CSV, a dict or list as JSON, a ``str`` as UTF-8 text (say
    ``report.html``), ``bytes`` as they are, and an object with a ``save(file)`` method
    (an openpyxl workbook) by that method.

    The files are written into a fresh folder beside ``out_dir`` (files already in
    ``out_dir`` that this call does not write are linked into it), which then takes
    ``out_dir``'s place in one step (``renameat2(RENAME_EXCHANGE)``; where the system has
    none, two renames, the old folder kept under a hidden name until the new one is in
    place). A reader, or a kill at any moment, sees the old complete set or the new one;
    a failure leaves no temporary file behind. Files are created ``0644`` (less the
    umask). CSV cells go through :func:`spreadsheet_safe`.
    """
    out_dir = Path(out_dir)
    check_out(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _sweep(out_dir)
    prefix = f".{out_dir.name}.new-{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        for name, content in files.items():
            target = stage / name  # may sit in a subfolder, e.g. plans/jit.csv
            target.parent.mkdir(parents=True, exist_ok=True)
            if hasattr(content, "save") and not isinstance(content, pd.DataFrame):
                buf = io.BytesIO()  # an openpyxl workbook
                content.save(buf)
                content = buf.getvalue()
            if isinstance(content, bytes | bytearray):
                with open(target, "wb") as fb:
                    fb.write(content)
                    fb.flush()
                    os.fsync(fb.fileno())
            else:
                with open(target, "w", encoding="utf-8", newline="") as fh:
                    if isinstance(content, pd.DataFrame):
                        spreadsheet_safe(content).to_csv(fh, index=False, float_format="%.10g")
                    elif isinstance(content, str):
                        fh.write(content)
                    else:
                        json.dump(_clean(content), fh, indent=2)
                        fh.write("\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            os.chmod(target, 0o666 & ~umask)
        os.chmod(stage, 0o777 & ~umask)
        if out_dir.is_dir():  # keep what else the folder holds
            for old in out_dir.rglob("*"):
                rel = old.relative_to(out_dir)
                new = stage / rel
                if old.is_dir():
                    new.mkdir(parents=True, exist_ok=True)
                elif not new.exists():
                    new.parent.mkdir(parents=True, exist_ok=True)
                    os.link(old, new)
            if not _exchange(stage, out_dir):  # pragma: no cover - not Linux
                keep = Path(
                    tempfile.mkdtemp(
                        prefix=f".{out_dir.name}.new-{os.getpid()}-", dir=out_dir.parent
                    )
                )
                os.replace(out_dir, keep / "old")
                os.replace(stage, out_dir)
                shutil.rmtree(keep, ignore_errors=True)
                stage = keep
        else:
            os.replace(stage, out_dir)
            stage = None
    finally:
        if stage is not None:  # the old set after an exchange, or a failed new one
            shutil.rmtree(stage, ignore_errors=True)
    return [out_dir / name for name in files]
