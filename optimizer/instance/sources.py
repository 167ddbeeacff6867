"""Where an instance's settings and tables come from: the :class:`Source` protocol.

:class:`FolderTables` reads an instance folder (``instance.toml`` and its CSV files, see
:mod:`~optimizer.instance.grids`); :class:`~optimizer.instance.workbook.WorkbookTables`
reads the same tables from the sheets of a workbook (README, "Excel").  The readers of
:mod:`~optimizer.instance.catalogue` and :mod:`~optimizer.instance.scenario_files` only
ask a source for its tables, so both forms follow one set of rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from optimizer.errors import InputProblem
from optimizer.instance.grids import Grid, read_csv_grid
from optimizer.instance.layout import TOML_FILE
from optimizer.instance.problems import Problems, did_you_mean
from optimizer.instance.settings import Settings, read_settings


class Source(Protocol):
    """Where the settings and tables of an instance come from: a folder or a workbook.

    Attributes
    ----------
    folder : Path
        The instance folder; for a workbook, the workbook file itself (nothing beside it
        is read).
    origin : str
        The path the instance was read from (``instance.toml``, ``book.xlsx``).
    default_name : str
        The instance's name when the settings give none (the folder's or workbook's).
    """

    folder: Path
    origin: str
    default_name: str

    def settings(self, problems: Problems) -> Settings:
        """Read and check the settings (``instance.toml`` or the ``settings`` sheet)."""

    def exists(self, file: str) -> bool:
        """Tell whether ``file`` (``items.csv``, ``scenarios``, ``scenarios/demand.csv``) exists."""

    def missing_hint(self, file: str) -> str:
        """Words to add to "file not found" (``""``: none)."""

    def grid(self, file: str, problems: Problems, known: Sequence[str]) -> Grid | None:
        """Return the table ``file`` as a :class:`Grid` (None, with problems, if unreadable)."""

    def check_folder(self, directory: str, files: Sequence[str], problems: Problems) -> bool:
        """Check a sub-folder such as ``scenarios/`` holds only ``files``; False: unusable."""

    def relabel(self, found: list[InputProblem]) -> list[InputProblem]:
        """Name the problems' places as the planner sees them (sheets of a workbook)."""


class FolderTables:
    """The ``instance.toml`` and CSV files of an instance folder (:class:`Source`)."""

    SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

    def __init__(self, folder: Path, toml_path: Path | None = None) -> None:
        self.folder = Path(folder)
        self.toml_path = toml_path if toml_path is not None else self.folder / TOML_FILE
        self.origin = str(self.toml_path)
        self.default_name = self.folder.resolve().name

    def settings(self, problems: Problems) -> Settings:
        """Read ``instance.toml``."""
        return read_settings(self.toml_path, problems)

    def exists(self, file: str) -> bool:
        """Tell whether ``folder/file`` exists."""
        return (self.folder / file).exists()

    def missing_hint(self, file: str) -> str:
        """Point at a spreadsheet of the same name (``items.xlsx``) when there is one."""
        stem = (self.folder / file).with_suffix("")
        for suffix in self.SPREADSHEET_SUFFIXES:
            if stem.with_suffix(suffix).exists():
                return (
                    f"; {stem.name}{suffix} is there, but a folder holds CSV files: save that "
                    "sheet as 'CSV UTF-8', or keep the whole instance in one workbook "
                    "(README, 'Excel')"
                )
        return ""

    def grid(self, file: str, problems: Problems, known: Sequence[str]) -> Grid | None:
        """Read ``folder/file``."""
        return read_csv_grid(self.folder / file, file, problems, known)

    def check_folder(self, directory: str, files: Sequence[str], problems: Problems) -> bool:
        """``directory`` must be a folder; CSV files in it other than ``files`` are typos."""
        path = self.folder / directory
        if not path.is_dir():
            problems.add(directory, f"{directory} must be a folder of CSV files")
            return False
        for csv_path in sorted(path.glob("*.csv")):
            if csv_path.name not in files:
                problems.add(
                    f"{directory}/{csv_path.name}",
                    f"unknown file in {directory}/{did_you_mean(csv_path.name, files)}; "
                    f"expected {', '.join(files)}",
                )
        return True

    def relabel(self, found: list[InputProblem]) -> list[InputProblem]:
        """Folder problems already name their files."""
        return found
