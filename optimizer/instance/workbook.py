"""An instance as one Excel workbook: reading ``book.xlsx`` and writing one (README, "Excel").

A workbook holds the instance folder's files as sheets:

* ``settings`` — two columns, ``key`` and ``value``: the keys of ``instance.toml``, a
  table's keys written ``section.key`` (``plan.periods``, ``black_swan.duration``,
  ``risk.cvar_weight``), ``name`` and ``description`` as they are.  An empty value means
  the default.  One key per row keeps the sheet sortable and a key's row is where its
  message points;
* ``items`` and ``suppliers`` — the columns of ``items.csv`` and ``suppliers.csv``;
* ``demand``, ``supply``, ``probability`` — optional, the files of ``scenarios/``: when
  one of them is there, the scenarios are explicit, as with a ``scenarios/`` folder.

Sheet names match in any case; another sheet (notes, a chart) is ignored unless its name
is a misspelling of one of these.  The sheets become the same
:class:`~optimizer.instance.grids.Grid` tables the CSV files do, so every value goes
through the same checks (:mod:`~optimizer.instance.tables`, ``catalogue``,
``scenario_files``, ``settings``), and a message names the workbook, the sheet, the
spreadsheet's row number and the column::

    book.xlsx, sheet items, row 7, item 'B12', column 'demand_std': demand_std must be ...

What Excel does to a table is taken care of: numbers stored as text are read as numbers
(with the sheet's decimal mark); trailing empty rows and columns are ignored; a formula
is read by its cached value (``data_only``), and one the workbook holds no value for
(written by a program that does not calculate) is refused, as is an error value (``#N/A``)
and a date or time where a number belongs.

Why openpyxl: it is maintained (3.1, 2024), pure Python (no compiled parts, no Excel or
LibreOffice needed), and the one library that both reads ``.xlsx`` and writes it with
styles (bold, frozen headers, column widths); ``xlsxwriter`` only writes, ``pandas``
delegates to openpyxl anyway, ``python-calamine`` only reads.  One thing it does not do
for us: it writes floats with 16 significant digits (``"%.16g"``), which does not bring
every double back, so :func:`write_workbook` writes each number as its shortest
round-trip text in a numeric cell (bit-identical when read back).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import stat
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from optimizer.errors import InputProblem, InvalidInstanceError, excerpt, quoted
from optimizer.instance.grids import Grid, Odd, as_columns
from optimizer.instance.layout import (
    DEMAND_FILE,
    ITEMS_FILE,
    PROBABILITY_FILE,
    SCENARIO_DIR,
    SUPPLIERS_FILE,
    SUPPLY_FILE,
    TEXT_COLUMNS,
    TOML_FILE,
)
from optimizer.instance.problems import MAX_REPORTED, Problems, did_you_mean
from optimizer.instance.schema import TABLES, table_fields
from optimizer.instance.settings import Settings, check_settings
from optimizer.instance.tables import TYPO_CUTOFF
from optimizer.instance.types import Instance

logger = logging.getLogger(__name__)

SETTINGS_SHEET = "settings"
SHEETS = {
    TOML_FILE: SETTINGS_SHEET,
    ITEMS_FILE: "items",
    SUPPLIERS_FILE: "suppliers",
    DEMAND_FILE: "demand",
    SUPPLY_FILE: "supply",
    PROBABILITY_FILE: "probability",
}
"""The sheet that stands for each file of the folder format."""
SCENARIO_SHEETS = ("demand", "supply", "probability")
MAX_ROWS = 1_048_576
"""Rows of an Excel sheet (the header takes one)."""
READABLE = (".xlsx", ".xlsm")
"""Workbook formats read; ``.xls`` and ``.ods`` are refused with the way to save them."""
EXACT_INT = 2**53
"""Whole numbers beyond this are written as text (a spreadsheet keeps doubles only)."""


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """One worksheet as Python values: its non-empty rows and their row numbers."""

    title: str
    rows: list[list[Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    odd: dict[tuple[int, int], Odd] = field(default_factory=dict)
    """(row index in ``rows``, column) → a formula without value or an error cell."""


def _refuse(path: Path, rule: str) -> InvalidInstanceError:
    return InvalidInstanceError([InputProblem(file=path.name, rule=rule)])


def _check_path(path: Path, follow_links: bool) -> None:
    """Refuse a workbook that is not a regular file, or a link out of its folder."""
    if path.suffix.lower() not in READABLE:
        raise _refuse(
            path,
            f"a {path.suffix} file is not read: save it as an Excel workbook (.xlsx) "
            "(File → Save As → Excel Workbook)",
        )
    if not os.path.lexists(path):
        raise _refuse(path, f"workbook not found: {excerpt(path)}")
    root = Path(os.path.realpath(path.parent))
    target = Path(os.path.realpath(path))
    if not follow_links and root not in target.parents:
        raise _refuse(
            path,
            "is a symbolic link that leads outside its folder: it is not read (copy the "
            "workbook into the folder, or pass --follow-links to read it anyway)",
        )
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise _refuse(path, "workbook not found (a dangling link)") from None
    if not stat.S_ISREG(mode):
        raise _refuse(path, "is not a regular file: it is not read (a workbook is a file)")


def _value(cell: Any) -> Any:
    """Python value of a read-only cell (error cells as :class:`Odd`)."""
    if cell.data_type == "e":
        return Odd("error", str(cell.value))
    return cell.value


def _read_sheets(path: Path, formulas: bool) -> dict[str, Sheet]:
    """Every worksheet of the workbook: non-empty rows with their row numbers."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=not formulas)
    try:
        sheets: dict[str, Sheet] = {}
        for ws in book.worksheets:
            sheet = Sheet(title=ws.title)
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # some writers declare wrong dimensions: read every row
            for cells in ws.iter_rows():
                line = next((c.row for c in cells if getattr(c, "row", None)), None)
                values = [_value(c) for c in cells]
                if line is None or all(v is None or v == "" for v in values):
                    continue
                if formulas:
                    for j, c in enumerate(cells):
                        if c.data_type == "f":
                            values[j] = Odd("formula", str(c.value))
                sheet.rows.append(values)
                sheet.lines.append(line)
            sheets[ws.title] = sheet
        return sheets
    finally:
        book.close()


def read_book(path: Path) -> dict[str, Sheet]:
    """Read every sheet, formulas by their cached values (refused where there is none)."""
    try:
        sheets = _read_sheets(path, formulas=True)
        has_formula = any(
            isinstance(v, Odd) and v.kind == "formula"
            for sheet in sheets.values()
            for row in sheet.rows
            for v in row
        )
        if has_formula:
            cached = _read_sheets(path, formulas=False)
            for title, sheet in sheets.items():
                values = dict(zip(cached[title].lines, cached[title].rows, strict=True))
                for line, row in zip(sheet.lines, sheet.rows, strict=True):
                    for j, v in enumerate(row):
                        if isinstance(v, Odd) and v.kind == "formula":
                            got = values.get(line, [])
                            value = got[j] if j < len(got) else None
                            row[j] = v if value is None else value
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise _refuse(path, f"not a readable Excel workbook (.xlsx): {excerpt(exc, 120)}") from exc
    return sheets


def _text(value: Any) -> tuple[str, bool, Odd | None]:
    """Return a cell as text: ``(text, native number, odd)``."""
    if isinstance(value, Odd):
        return value.shown, False, value
    if value is None:
        return "", False, None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE", False, None
    if isinstance(value, int):
        return str(value), True, None
    if isinstance(value, float):
        return (repr(value) if math.isfinite(value) else str(value)), True, None
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        text = value.isoformat() if not isinstance(value, dt.timedelta) else str(value)
        return text, False, Odd("date", text)
    return str(value), False, None


def sheet_grid(sheet: Sheet, file: str, problems: Problems) -> Grid | None:
    """Turn a worksheet into the :class:`Grid` its CSV file would give."""
    if not sheet.rows:
        problems.add(file, "file is empty: expected a header line with the column names")
        return None
    header_row, data = sheet.rows[0], sheet.rows[1:]
    header = [_text(v)[0] for v in header_row]
    while header and header[-1].strip() == "":
        header.pop()
    width = len(header)
    rows: list[list[str]] = []
    native: dict[int, list[bool]] = {j: [] for j in range(width)}
    odd: dict[tuple[int, int], Odd] = {}
    ragged: list[int] = []
    for r, values in enumerate(data):
        cells = [_text(v) for v in values]
        if any(text.strip() for text, _, _ in cells[width:]):
            ragged.append(sheet.lines[r + 1])
        cells = cells[:width] + [("", False, None)] * (width - len(cells))
        rows.append([text for text, _, _ in cells])
        for j, (_, number, special) in enumerate(cells):
            native[j].append(number)
            if special is not None:
                odd[(r, j)] = special
    for line in ragged[:MAX_REPORTED]:
        problems.add(
            file,
            f"row {line} has cells to the right of the last named column: name that column "
            "in the header row or clear the cells",
            row=line,
        )
    if ragged:
        return None
    return Grid(
        file=file,
        header=header,
        columns=as_columns(rows, width),
        lines=np.asarray(sheet.lines[1:], dtype=int),
        separator=None,
        escaped=False,
        native={j: np.asarray(v, dtype=bool) for j, v in native.items()},
        odd=odd,
    )


def _field_kind(section: str | None, key: str) -> str | None:
    """``"bool"``, ``"int"``, ``"float"``, ``"str"`` of a settings key (None: unknown key)."""
    if section is not None and section not in TABLES:
        return None
    info = table_fields(section).get(key)
    if info is None:
        return None
    found: set[type] = set()

    def walk(tp: Any) -> None:
        args = get_args(tp)
        if getattr(tp, "__origin__", None) is Literal:  # its values' types (review_levels: int)
            found.update(type(a) for a in args)
        elif args and not isinstance(tp, type):
            for arg in args:
                walk(arg)
        elif isinstance(tp, type):
            found.add(tp)

    walk(info.annotation)
    for kind in (bool, int, float, str):
        if kind in found:
            return kind.__name__
    return None


def setting_value(value: Any, kind: str | None) -> Any:
    """Return a settings cell as the TOML value its key takes (text numbers as numbers)."""
    if kind in ("int", "float") and isinstance(value, str):
        text = value.strip()
        number = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
        try:
            return int(number)
        except ValueError:
            pass
        try:
            parsed = float(number)
        except ValueError:
            return value
        return parsed if math.isfinite(parsed) else value
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "bool" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if kind == "str" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value) if isinstance(value, int) else repr(value)
    return value


class WorkbookTables:
    """The sheets of a workbook as the tables of an instance (a :class:`Source`).

    Parameters
    ----------
    path : Path
        The workbook.
    sheets : dict of str to Sheet
        Its worksheets by title (:func:`read_book`).
    """

    def __init__(self, path: Path, sheets: dict[str, Sheet]) -> None:
        self.path = path
        self.folder = path  # nothing beside the workbook is read
        self.origin = str(path)
        self.default_name = path.stem
        self.sheets: dict[str, Sheet] = {}
        self.unknown: list[tuple[str, str]] = []
        wanted = list(SHEETS.values())
        for title, sheet in sheets.items():
            key = title.strip().lower()
            if key in wanted and key not in self.sheets:
                self.sheets[key] = sheet
            elif did_you_mean(key, wanted, TYPO_CUTOFF):
                self.unknown.append((title, did_you_mean(key, wanted, TYPO_CUTOFF)))
            else:
                logger.info("%s: sheet %r is not part of the instance: ignored", path, title)

    def label(self, file: str) -> str:
        """``book.xlsx, sheet items`` for ``items.csv``."""
        sheet = SHEETS.get(file)
        if sheet is None:
            return self.path.name
        title = self.sheets[sheet].title if sheet in self.sheets else sheet
        return f"{self.path.name}, sheet {title}"

    def exists(self, file: str) -> bool:
        """Tell whether the sheet standing for ``file`` is there (``scenarios``: any of its)."""
        if file == SCENARIO_DIR:
            return any(sheet in self.sheets for sheet in SCENARIO_SHEETS)
        sheet = SHEETS.get(file)
        return sheet is not None and sheet in self.sheets

    def missing_hint(self, file: str) -> str:
        """Name the sheets the workbook has."""
        titles = ", ".join(repr(s.title) for s in self.sheets.values()) or "none of its"
        return f"; the workbook's instance sheets: {titles}"

    def grid(self, file: str, problems: Problems, known: Sequence[str]) -> Grid | None:
        """Return the sheet standing for ``file`` as a grid."""
        return sheet_grid(self.sheets[SHEETS[file]], file, problems)

    def check_folder(self, directory: str, files: Sequence[str], problems: Problems) -> bool:
        """Scenario sheets need no folder."""
        return True

    def settings(self, problems: Problems) -> Settings:
        """Read the ``settings`` sheet (``key``, ``value``) and check it as ``instance.toml``."""
        for title, hint in self.unknown:
            problems.add(
                self.path.name,
                f"unknown sheet {quoted(title)}{hint}; the instance sheets are "
                f"{', '.join(SHEETS.values())}",
            )
        sheet = self.sheets.get(SETTINGS_SHEET)
        if sheet is None:
            problems.add(
                TOML_FILE,
                "sheet not found: the workbook needs a sheet 'settings' with the columns key "
                "and value (one row per setting, such as plan.periods; README 'Excel')",
            )
            return Settings(file=TOML_FILE, readable=False)
        data, rows = self._settings_data(sheet, problems)
        if data is None:
            return Settings(file=TOML_FILE, readable=False)

        def row_of(loc: tuple[str, ...]) -> int | None:
            return rows.get(loc[:2]) or rows.get(loc[:1])

        return check_settings(data, TOML_FILE, problems, row_of)

    def _settings_data(
        self, sheet: Sheet, problems: Problems
    ) -> tuple[dict[str, Any] | None, dict[tuple[str, ...], int]]:
        """Return the settings sheet as the dict ``tomllib`` would give, and each key's row."""
        rows: dict[tuple[str, ...], int] = {}
        if not sheet.rows:
            return {}, rows
        header = [_text(v)[0].strip().lower() for v in sheet.rows[0]]
        if "key" not in header or "value" not in header:
            problems.add(
                TOML_FILE,
                "the settings sheet needs the columns key and value in its first row, got "
                f"{', '.join(quoted(h) for h in header if h) or 'none'}",
            )
            return None, rows
        k, v = header.index("key"), header.index("value")
        data: dict[str, Any] = {}
        for values, line in zip(sheet.rows[1:], sheet.lines[1:], strict=True):
            key = _text(values[k] if k < len(values) else None)[0].strip()
            value = values[v] if v < len(values) else None
            if key == "" and (value is None or value == ""):
                continue
            if key == "":
                problems.add(TOML_FILE, "a value without a key", row=line, column="key")
                continue
            loc = tuple(part.strip() for part in key.split("."))
            section = _section_of(loc)
            if section is not None:
                problems.add(
                    TOML_FILE,
                    f"key {quoted(key)} belongs to a section: write {section}.{loc[0]}",
                    row=line,
                    column=excerpt(key),
                )
                continue
            if len(loc) > 2 or "" in loc:
                problems.add(
                    TOML_FILE,
                    f"key {quoted(key)} must be a top-level key (name, description) or "
                    "section.key (plan.periods)",
                    row=line,
                    column=excerpt(key),
                )
                continue
            if loc in rows:
                problems.add(
                    TOML_FILE,
                    f"key {quoted(key)} is given twice; it is first given in row {rows[loc]}",
                    row=line,
                    column=excerpt(key),
                )
                continue
            if isinstance(value, Odd):
                problems.add(
                    TOML_FILE,
                    f"{loc[-1]} {_ODD_RULE[value.kind].format(shown=excerpt(value.shown))}",
                    row=line,
                    column=".".join(loc),
                )
                continue
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue  # empty: the default
            rows[loc] = line
            rows.setdefault(loc[:1], line)
            section = loc[0] if len(loc) == 2 else None
            converted = setting_value(value, _field_kind(section, loc[-1]))
            if section is None:
                data[loc[0]] = converted
            else:
                table = data.setdefault(section, {})
                if isinstance(table, dict):
                    table[loc[1]] = converted
        return data, rows

    def relabel(self, found: list[InputProblem]) -> list[InputProblem]:
        """Name sheets, not files: ``book.xlsx, sheet items``; rules say "sheet items" too."""
        names = sorted(SHEETS, key=len, reverse=True)
        out = []
        for problem in found:
            rule = problem.rule.replace(
                "file not found: the instance needs", "sheet not found: the workbook needs"
            )
            for name in names:
                rule = rule.replace(name, f"sheet {SHEETS[name]}")
            rule = rule.replace("a sheet settings", "a sheet 'settings'")
            rule = rule.replace("the workbook needs sheet ", "the workbook needs a sheet named ")
            out.append(
                replace(
                    problem,
                    file=self.label(problem.file),
                    rule=rule,
                    kind=problem.kind or problem.subject,
                )
            )
        return out


def _section_of(loc: tuple[str, ...]) -> str | None:
    """Return the section a bare key (``periods``) belongs to, if not a top-level key."""
    if len(loc) != 1 or loc[0] in table_fields(None):
        return None
    return next((name for name in TABLES if loc[0] in table_fields(name)), None)


_ODD_RULE = {
    "date": "is a date or time where a value belongs ({shown}): type the value",
    "formula": (
        "holds a formula ({shown}) the workbook has no calculated value for: open and save "
        "it in Excel or LibreOffice, or type the value"
    ),
    "error": "holds the spreadsheet error {shown}: fix the formula or type the value",
}


def open_workbook(path: Path, *, follow_links: bool = False) -> WorkbookTables:
    """Check the workbook's path and read its sheets (README, "Excel").

    Raises
    ------
    InvalidInstanceError
        When the file is refused (not ``.xlsx``, a link out of its folder, not a regular
        file) or is not a readable workbook.
    """
    path = Path(path)
    _check_path(path, follow_links)
    tables = WorkbookTables(path, read_book(path))
    logger.info("%s: sheets %s", path, ", ".join(sheet.title for sheet in tables.sheets.values()))
    return tables


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def settings_rows(instance: Instance) -> list[tuple[str, Any]]:
    """``(key, value)`` rows of the settings sheet: what ``instance.toml`` would hold."""
    from optimizer.instance.writer import instance_toml

    document = tomllib.loads(instance_toml(instance))
    rows: list[tuple[str, Any]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            rows.extend((f"{key}.{inner}", v) for inner, v in value.items())
        else:
            rows.append((key, value))
    return rows


def _number(text: str) -> int | float | str | None:
    """Return a CSV cell of a numeric column as the number it is (exact); ``""``: None."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _frame_rows(frame: pd.DataFrame, text_columns: Sequence[str]) -> list[list[Any]]:
    """Rows of a written CSV frame with numbers as numbers (exact) and text as text."""
    columns = []
    for name in frame.columns:
        values = [str(v) for v in frame[name].tolist()]
        if name in text_columns:
            columns.append([v if v != "" else None for v in values])
        else:
            columns.append([_number(v) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _sheet_tables(instance: Instance) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Header and rows of every sheet but ``settings``, in sheet order."""
    from optimizer.instance.writer import instance_frames

    frames = instance_frames(instance)
    master = list(instance.item_master.columns) if instance.item_master is not None else []
    out = {}
    for file, frame in frames.items():
        text = [*TEXT_COLUMNS, *(master if file == ITEMS_FILE else [])]
        out[SHEETS[file]] = ([str(c) for c in frame.columns], _frame_rows(frame, text))
    return out


def _cell(ws: Any, value: Any, bold: bool = False) -> Any:
    """Return a write-only cell holding ``value`` exactly (floats as round-trip text)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, float):
        cell = WriteOnlyCell(ws, value=repr(value))
        cell.data_type = "n"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= EXACT_INT:
        cell = WriteOnlyCell(ws, value=str(value))
        cell.data_type = "s"
    else:
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text, never a formula: "=x" stays the text "=x"
    if bold:
        cell.font = Font(bold=True)
    return cell


def _write_sheet(book: Any, title: str, header: list[str], rows: list[list[Any]]) -> None:
    """One sheet: bold frozen header, columns as wide as their first rows need."""
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    ws.freeze_panes = "A2"
    for j, name in enumerate(header):
        width = max([len(name), *(len(str(r[j])) for r in rows[:200] if r[j] is not None)])
        ws.column_dimensions[get_column_letter(j + 1)].width = min(60, max(8, width + 2))
    ws.append([_cell(ws, name, bold=True) for name in header])
    for row in rows:
        ws.append([None if v is None else _cell(ws, v) for v in row])


def write_workbook(instance: Instance, path: Path) -> None:
    """Write ``instance`` as a workbook (README, "Excel"); it reads back equal.

    Sheets ``settings``, ``items``, ``suppliers`` and, with explicit scenarios, ``demand``,
    ``probability`` and (unless every supplier is always up) ``supply``.  Numbers are
    numeric cells holding their exact value, text is text.

    Raises
    ------
    ValueError
        When a sheet would hold more rows than Excel's 1,048,576.
    """
    import openpyxl

    tables = _sheet_tables(instance)
    for title, (_, rows) in tables.items():
        if len(rows) + 1 > MAX_ROWS:
            raise ValueError(
                f"sheet {title} would hold {len(rows):,} rows, more than the {MAX_ROWS - 1:,} "
                "an Excel sheet can: keep this instance as a folder"
            )
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = openpyxl.Workbook(write_only=True)
    try:
        _write_sheet(
            book, SETTINGS_SHEET, ["key", "value"], [list(r) for r in settings_rows(instance)]
        )
        for title, (header, rows) in tables.items():
            _write_sheet(book, title, header, rows)
    except IllegalCharacterError as exc:
        raise ValueError(
            "a text cell holds a control character an Excel workbook cannot store (an "
            "item-master column?): remove it, or keep this instance as a folder"
        ) from exc
    book.save(path)
    logger.info("wrote instance %r to %s", instance.name, path)
