"""Reading the tables of an instance and the vectorised, row-numbered checks of their columns.

A table — a CSV file of the folder or a sheet of a workbook, first read as a
:class:`~optimizer.instance.grids.Grid` — becomes stripped text (:class:`Table`);
:func:`numbers`, :func:`check_ids` and :func:`report_unknown` then parse and check whole
columns at once and record every broken rule with its file, the spreadsheet's row number
(header line 1, blank lines counted), the item / supplier / scenario of the row and the
column.

Conventions (README, "Instance files")
--------------------------------------
* CSV files are UTF-8, with or without a byte-order mark, separated by ``,``, ``;`` or tab
  (found from the header line); cells and headers are stripped of surrounding blanks and
  header names match in any case; blank lines are skipped but counted.  An empty cell in
  an optional column means "not given".
* Numbers: a comma-separated file writes decimal points; a ``;`` or tab one writes the
  decimal mark most of its number cells use (:func:`decimal_mark`); thousands separators
  (``1,200``, ``1.200,5``, ``1 200``) are refused with the number to write instead.
* The literal strings ``nan`` and ``inf`` are rejected wherever a number is expected.
* Problems of one kind in one column are listed up to
  :data:`~optimizer.instance.problems.MAX_REPORTED` rows, followed by one line with the
  count of the rest, so a systematically broken file gives a readable report.
* Every CSV file the package writes is safe to open in a spreadsheet
  (:func:`spreadsheet_safe`): a text cell that starts like a formula gets a leading
  apostrophe (OWASP, "CSV injection"); reading drops that apostrophe again, so a written
  instance reads back equal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import control_name, excerpt, has_control, quoted
from optimizer.instance.grids import Grid
from optimizer.instance.layout import TEXT_COLUMNS
from optimizer.instance.notation import decimal_mark, read_numbers
from optimizer.instance.problems import MAX_REPORTED, Problems, did_you_mean, report_rows
from optimizer.instance.schema import COLUMN_RANGES
from optimizer.instance.sources import FolderTables, Source

logger = logging.getLogger(__name__)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise(cell: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with ``'``.

    Text that is a plain number (``-0.5``) is left alone: a spreadsheet reads it as that
    number, not as a formula.
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not _is_number(cell):
        return "'" + cell
    return cell


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` with its text cells neutralised and ``-0.0`` written as ``0``."""
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind == "f":
            out[column] = values + 0.0  # -0.0 + 0.0 == +0.0
        elif values.dtype.kind in "OSU" or isinstance(values.dtype, pd.StringDtype):
            out[column] = values.map(neutralise)
    return out


def unescape(cell: str) -> str:
    """Drop the apostrophe :func:`neutralise` put before a formula-like cell."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


MAX_UNKNOWN_COLUMNS = 5
"""Unknown header names listed before the rest are counted (a wrong file's first line is
not echoed in full)."""
TYPO_CUTOFF = 0.8
"""How alike (difflib ratio) an extra ``items.csv`` column may be to a known one before it
is read as a misspelling of it (``demand_mena``) rather than item-master text."""


@dataclass
class Table:
    """A table read as stripped text; only known, non-duplicated columns are kept.

    Attributes
    ----------
    file : str
        Name relative to the instance folder (``scenarios/demand.csv``).
    frame : DataFrame
        One object column of stripped strings per known column, index ``0..n-1``; numeric
        columns hold their numbers in Python's notation (decimal commas made points).
    labels : list of str or None
        The item / supplier / scenario each row is about (for messages).
    lines : ndarray of int
        The spreadsheet line (row) number of each data row (header line 1).
    shown : dict of str to ndarray
        The cells as written, for the numeric columns whose text was rewritten.
    refused : dict of str to ndarray of bool
        Cells already reported (thousands separators, dates, formulas without value):
        :func:`numbers` reads them as not given and reports nothing more about them.
    extras : DataFrame or None
        Item-master columns kept as text (``items.csv`` only), names as written.
    """

    file: str
    frame: pd.DataFrame
    labels: list[str | None] = field(default_factory=list)
    lines: np.ndarray | None = None
    shown: dict[str, np.ndarray] = field(default_factory=dict)
    refused: dict[str, np.ndarray] = field(default_factory=dict)
    extras: pd.DataFrame | None = None

    def __len__(self) -> int:
        """Return the number of data rows."""
        return len(self.frame)

    def has(self, column: str) -> bool:
        """Tell whether the file has ``column``."""
        return column in self.frame.columns

    def text(self, column: str) -> np.ndarray:
        """Return the stripped cell texts of ``column`` (all ``""`` when it is absent)."""
        if self.has(column):
            return self.frame[column].to_numpy(dtype=object)
        return np.full(len(self), "", dtype=object)

    def written(self, column: str) -> np.ndarray:
        """Return the cells of ``column`` as the file writes them (for messages)."""
        return self.shown.get(column, self.text(column))

    def label(self, row: int) -> str | None:
        """Item / supplier / scenario of data row ``row`` (0-based)."""
        return self.labels[row] if self.labels else None

    def line(self, row: int) -> int:
        """Spreadsheet line number of data row ``row`` (0-based; header line 1 by default)."""
        return int(self.lines[row]) if self.lines is not None else row + 2


# --------------------------------------------------------------------------------------
# grids to tables
# --------------------------------------------------------------------------------------

LABEL_COLUMNS = ("item", "supplier", "scenario")
"""The column that names what a row is about, the first a table has (``demand.csv``: the
item; ``supply.csv``: the supplier): messages about a cell name it."""

_ODD_RULES = {
    "date": (
        "is a date or time where a number belongs ({shown}): format the cell as a number "
        "(in Excel: Format Cells → Number)"
    ),
    "formula": (
        "holds a formula ({shown}) the workbook has no calculated value for (it was "
        "written by a program that does not calculate): open and save it in Excel or "
        "LibreOffice, or type the value"
    ),
    "error": "holds the spreadsheet error {shown}: fix the formula or type the value",
}


def _header(
    grid: Grid,
    problems: Problems,
    known: Sequence[str],
    *,
    extras: bool,
    reserved: Sequence[str],
    columns: list[np.ndarray],
) -> tuple[dict[str, int], dict[str, int]]:
    """Check the header; return the known columns and the extra ones, name → index."""
    file = grid.file
    header = [str(h).strip() for h in grid.header]
    canonical = {name.lower(): name for name in known}
    taken = {name.lower() for name in reserved}
    keep: dict[str, int] = {}
    extra: dict[str, int] = {}
    seen: set[str] = set()
    unknown = 0
    for j, name in enumerate(header):
        key = name.lower()
        if name == "":
            if any(str(cell).strip() for cell in pd.unique(columns[j])):
                problems.add(file, f"column {j + 1} has no name in the header line")
            continue
        if key in seen:
            problems.add(file, f"column {quoted(name)} appears more than once", column=name)
            continue
        seen.add(key)
        if key in canonical:
            keep[canonical[key]] = j
            continue
        hint = did_you_mean(key, known, TYPO_CUTOFF if extras else 0.6)
        if extras and not hint and key in taken:
            problems.add(
                file,
                f"column {quoted(name)} has the name of a column the plan gets from stockplan: "
                f"rename it (for example to {quoted('erp_' + name)}) so the plan can carry it",
                column=name,
            )
        elif extras and not hint:
            extra[name] = j
        else:
            unknown += 1
            if unknown <= MAX_UNKNOWN_COLUMNS:
                kept = " (other columns are kept as item-master text)" if extras else ""
                problems.add(
                    file,
                    f"unknown column {quoted(name)}{hint}; allowed columns: "
                    f"{', '.join(known)}{kept}",
                    column=name,
                )
    if unknown > MAX_UNKNOWN_COLUMNS:
        problems.add(
            file,
            f"... and {unknown - MAX_UNKNOWN_COLUMNS} more unknown columns (only the first "
            f"{MAX_UNKNOWN_COLUMNS} are listed)",
        )
    return keep, extra


def build_table(
    grid: Grid,
    problems: Problems,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    purpose: str,
    extras: bool = False,
    reserved: Sequence[str] = (),
) -> Table | None:
    """Turn a :class:`Grid` into a :class:`Table` and check its header.

    Header names are matched in any case, stripped of surrounding blanks.  Missing
    required columns, unknown, unnamed and duplicated columns are problems; an unnamed
    column whose cells are all empty is ignored.  Numeric columns (all but
    :data:`~optimizer.instance.layout.TEXT_COLUMNS`) are read with the table's decimal
    mark (:func:`decimal_mark`); thousands separators are refused.  A table with a header
    but no data row is a problem too.

    Parameters
    ----------
    purpose : str
        What the file holds, for the "no rows" message.
    extras : bool
        Keep columns that are not known (and not a misspelling of a known one, nor one of
        ``reserved``) as text in :attr:`Table.extras` (``items.csv``'s item master).
    reserved : sequence of str
        Names an extra column may not take (the plan's columns).
    """
    file = grid.file
    header = [str(h).strip() for h in grid.header]
    if any(has_control(name) for name in header):
        problems.add(
            file,
            "the header line holds control characters (a NUL byte or the like): this is not "
            "a CSV text file (its content is not shown)",
        )
        return None
    n = len(grid.lines)
    columns = grid.columns
    known = (*required, *optional)
    keep, extra = _header(grid, problems, known, extras=extras, reserved=reserved, columns=columns)
    for name in required:
        if name not in keep:
            problems.add(file, f"missing required column {quoted(name)}", column=name)

    def cells(j: int) -> np.ndarray:
        codes, uniques = pd.factorize(columns[j])
        clean = [str(u).strip() for u in uniques]
        if grid.escaped:
            clean = [unescape(u) for u in clean]
        return np.asarray(clean, dtype=object)[codes] if n else np.zeros(0, dtype=object)

    texts = {name: cells(j) for name, j in keep.items()}
    numeric = [name for name in keep if name not in TEXT_COLUMNS]

    def typed(name: str) -> np.ndarray:
        native = grid.native.get(keep[name])
        return texts[name] if native is None else texts[name][~native]

    mark = decimal_mark([typed(name) for name in numeric], grid.separator)
    if mark == ",":
        logger.info("%s: numbers are written with a decimal comma", file)
    table = Table(file=file, frame=pd.DataFrame(), lines=grid.lines)
    label = next((c for c in LABEL_COLUMNS if c in texts), None)
    if label is not None:
        table.labels = [str(s) or None for s in texts[label]]
    for name in numeric:
        native = grid.native.get(keep[name], np.zeros(n, dtype=bool))
        text, rules = read_numbers(np.where(native, "", texts[name]), name, mark, grid.separator)
        if rules or mark == ",":
            table.shown[name] = texts[name]
            texts[name] = np.where(native, texts[name], text)
        _refuse(table, problems, name, rules)
    for (r, j), odd in sorted(grid.odd.items()):
        name = next((k for k, v in keep.items() if v == j), None)
        if name is None and j in extra.values() and odd.kind == "formula":
            name = next(k for k, v in extra.items() if v == j)
        if name is None or (name in TEXT_COLUMNS and odd.kind == "date"):
            continue
        rule = f"{name} {_ODD_RULES[odd.kind].format(shown=excerpt(odd.shown))}"
        _refuse(table, problems, name, {r: rule})
    table.frame = pd.DataFrame(
        {name: column for name, column in texts.items()}, index=pd.RangeIndex(n)
    )
    if extra:
        table.extras = pd.DataFrame(
            {name: cells(j) for name, j in extra.items()}, index=pd.RangeIndex(n)
        )
    if n == 0:
        problems.add(file, f"no data rows: at least one row is needed ({purpose})")
    return table


def _refuse(table: Table, problems: Problems, column: str, rules: dict[int, str]) -> None:
    """Record the refused cells of ``column`` (``rules``: row → rule) and report them."""
    if not rules:
        return
    mask = table.refused.setdefault(column, np.zeros(len(table.lines), dtype=bool))
    rows = sorted(rules)
    mask[rows] = True
    for r in rows[:MAX_REPORTED]:
        problems.add(table.file, rules[r], row=table.line(r), item=table.label(r), column=column)
    if len(rows) > MAX_REPORTED:
        problems.add(
            table.file,
            f"... and {len(rows) - MAX_REPORTED} more rows break the same rule "
            f"(only the first {MAX_REPORTED} are listed)",
            column=column,
        )


def read_csv(
    folder: Path | Source,
    file: str,
    problems: Problems,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    purpose: str,
    extras: bool = False,
    reserved: Sequence[str] = (),
) -> Table | None:
    """Read the table ``file`` of an instance folder (or workbook) and check its header.

    The CSV dialect (:mod:`~optimizer.instance.grids`) and the header and number rules
    (:func:`build_table`) are those of the README's "Instance files" section.

    Parameters
    ----------
    folder : Path or Source
        The instance folder, or where its tables come from (a workbook).
    purpose : str
        What the file holds, for the "not found" and "no rows" messages.
    extras, reserved
        As for :func:`build_table`.
    """
    source: Source = FolderTables(folder) if isinstance(folder, Path) else folder
    if not source.exists(file):
        problems.add(
            file,
            f"file not found: the instance needs {file} ({purpose}){source.missing_hint(file)}",
        )
        return None
    grid = source.grid(file, problems, (*required, *optional))
    if grid is None:
        return None
    return build_table(
        grid,
        problems,
        required=required,
        optional=optional,
        purpose=purpose,
        extras=extras,
        reserved=reserved,
    )


@dataclass(frozen=True)
class Check:
    """A vectorised rule on parsed numbers: ``test`` is true where the value is fine."""

    test: Callable[[np.ndarray], np.ndarray]
    rule: str


NONNEG = Check(lambda v: v >= 0, "must be 0 or more")
POSITIVE = Check(lambda v: v > 0, "must be greater than 0")
FRACTION = Check(lambda v: (v >= 0) & (v <= 1), "must be between 0 and 1")


def _to_floats(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse cell texts with Python's ``float``.

    Returns
    -------
    values : ndarray
        Parsed numbers (``nan`` where not a number).
    numeric : ndarray of bool
        True where the text is a number (including the literals ``nan``/``inf``).
    """
    codes, uniques = pd.factorize(text)
    parsed = np.full(len(uniques), np.nan)
    ok = np.zeros(len(uniques), dtype=bool)
    for k, cell in enumerate(uniques):
        try:
            parsed[k] = float(cell)
            ok[k] = True
        except ValueError:
            pass
    return parsed[codes], ok[codes]


def numbers(
    table: Table,
    column: str,
    problems: Problems,
    *,
    required: bool = False,
    check: Check | None = None,
    integer_rule: str | None = None,
) -> np.ndarray:
    """Parse one numeric column; ``nan`` where the cell is empty or breaks a rule.

    Every broken rule is recorded: empty required cell, not a number, ``nan``/``inf``,
    not a whole number (when ``integer_rule`` gives that rule's text), ``check`` failed,
    outside the column's range of :data:`~optimizer.instance.schema.COLUMN_RANGES`.
    """
    out = np.full(len(table), np.nan)
    if not table.has(column):
        return out
    text = table.written(column)
    values, numeric = _to_floats(table.text(column))
    refused = table.refused.get(column, np.zeros(len(table), dtype=bool))
    given = text != ""
    numeric &= ~refused
    finite = given & numeric & np.isfinite(values)
    if required:
        report_rows(
            problems, table, ~given, column, lambda r: f"{column} is required but the cell is empty"
        )
    report_rows(
        problems,
        table,
        given & ~numeric & ~refused,
        column,
        lambda r: f"{column} must be a number, got {quoted(text[r])}",
    )
    report_rows(
        problems,
        table,
        given & numeric & ~np.isfinite(values),
        column,
        lambda r: f"{column} must be a finite number, got {quoted(text[r])}",
    )
    good = finite.copy()
    if integer_rule is not None:
        whole = np.zeros_like(good)
        whole[good] = values[good] == np.round(values[good])
        report_rows(
            problems,
            table,
            good & ~whole,
            column,
            lambda r: f"{column} {integer_rule}, got {text[r]}",
        )
        good &= whole
    if check is not None:
        passes = np.zeros_like(good)
        passes[good] = check.test(values[good])
        report_rows(
            problems,
            table,
            good & ~passes,
            column,
            lambda r: f"{column} {check.rule}, got {text[r]}",
        )
        good &= passes
    limits = COLUMN_RANGES.get(column)
    if limits is not None:
        for outside, words, unit in (
            (limits.too_small, limits.small_rule, "smaller"),
            (limits.too_large, limits.large_rule, "larger"),
        ):
            bad = np.zeros_like(good)
            bad[good] = outside(values[good])
            report_rows(
                problems,
                table,
                bad,
                column,
                lambda r, w=words, u=unit: (
                    f"{column} {w}, got {excerpt(text[r])}{RANGE_REASON}; a {u} value needs a "
                    f"{u} unit)"
                ),
            )
            good &= ~bad
    out[good] = values[good]
    return out


RANGE_REASON = " (the range that keeps the model well-conditioned, README 'Ranges'"


def report_control(
    problems: Problems, table: Table, text: np.ndarray, column: str, what: str
) -> np.ndarray:
    """Report names holding control characters (NUL, escape, bidi...); return their mask."""
    codes, uniques = pd.factorize(np.asarray(text, dtype=object))
    bad = np.array([has_control(str(t)) for t in uniques], dtype=bool)[codes]
    report_rows(
        problems,
        table,
        bad,
        column,
        lambda r: (
            f"{what} {quoted(text[r])} holds a control character ({control_name(text[r])}): "
            "names must be printable text"
        ),
    )
    return bad


def check_ids(table: Table, column: str, problems: Problems, what: str) -> np.ndarray:
    """Report empty, duplicated and unprintable identifiers; label rows by id; return the ids."""
    ids = table.text(column)
    table.labels = [str(s) or None for s in ids]
    if not table.has(column):
        return ids
    report_rows(problems, table, ids == "", column, lambda r: f"{what} id is empty")
    report_control(problems, table, ids, column, f"{what} id")
    series = pd.Series(ids)
    first = pd.Series(np.arange(len(ids))).groupby(series, sort=False).transform("min")
    first = first.to_numpy()
    duplicate = (ids != "") & series.duplicated().to_numpy()
    report_rows(
        problems,
        table,
        duplicate,
        column,
        lambda r: (
            f"duplicate {what} id {quoted(ids[r])}; it is first defined in row "
            f"{table.line(int(first[r]))}"
        ),
    )
    return ids


def unique_names(ids: np.ndarray) -> list[str]:
    """Non-empty identifiers in order of first appearance."""
    return [str(x) for x in pd.unique(ids[ids != ""])]


def name_codes(text: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Index of each text in ``names`` (``-1`` when not there)."""
    if len(text) == 0:
        return np.zeros(0, dtype=int)
    return pd.Index(list(names), dtype=object).get_indexer(list(text)).astype(int)


def report_unknown(
    problems: Problems,
    table: Table,
    column: str,
    text: np.ndarray,
    codes: np.ndarray,
    rule: Callable[[str, int], str],
) -> None:
    """One problem per distinct unknown name, at its first row (``rule(name, n_rows)``)."""
    bad = np.flatnonzero((codes < 0) & (text != ""))
    if len(bad) == 0:
        return
    frame = pd.DataFrame({"name": text[bad], "row": bad})
    summary = frame.groupby("name", sort=False)["row"].agg(["first", "size"])
    for k, (name, (row, size)) in enumerate(summary.iterrows()):
        if k == MAX_REPORTED:
            problems.add(
                table.file,
                f"... and {len(summary) - MAX_REPORTED} more unknown names in this column",
                column=column,
            )
            break
        problems.add(
            table.file,
            rule(str(name), int(size)),
            row=table.line(int(row)),
            item=table.label(int(row)),
            column=column,
        )
