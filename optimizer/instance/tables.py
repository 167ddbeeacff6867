"""Reading CSV files and the vectorised, row-numbered checks of their columns.

A CSV file is read as stripped text (:class:`Table`); :func:`numbers`, :func:`check_ids`
and :func:`report_unknown` then parse and check whole columns at once and record every
broken rule with its file, 1-based data row (header excluded), the item / supplier /
scenario of the row and the column.

Conventions
-----------
* CSV files are read as text first (UTF-8, an Excel byte-order mark is accepted); cells and
  headers are stripped of surrounding blanks; blank lines are skipped and do not count as
  rows.  An empty cell in an optional column means "not given".
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

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import control_name, excerpt, has_control, quoted
from optimizer.instance.problems import MAX_REPORTED, Problems, did_you_mean, report_rows
from optimizer.instance.schema import COLUMN_RANGES

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


@dataclass
class Table:
    """A CSV file read as stripped text; only known, non-duplicated columns are kept.

    Attributes
    ----------
    file : str
        Name relative to the instance folder (``scenarios/demand.csv``).
    frame : DataFrame
        One object column of stripped strings per known column, index ``0..n-1``.
    labels : list of str or None
        The item / supplier / scenario each row is about (for messages).
    """

    file: str
    frame: pd.DataFrame
    labels: list[str | None] = field(default_factory=list)

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

    def label(self, row: int) -> str | None:
        """Item / supplier / scenario of data row ``row`` (0-based)."""
        return self.labels[row] if self.labels else None


def _read_raw_csv(path: Path, file: str, problems: Problems) -> pd.DataFrame | None:
    """Read a CSV as a header-less grid of strings; None (with a problem) if unreadable."""
    try:
        return pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            index_col=False,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        problems.add(file, "file is empty: expected a header line with the column names")
    except UnicodeDecodeError:
        problems.add(file, "not a UTF-8 text file (save the sheet as 'CSV UTF-8')")
    except pd.errors.ParserError as exc:
        text = str(exc).strip()
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        if match:
            expected, line, saw = (int(g) for g in match.groups())
            problems.add(
                file,
                f"line {line} has {saw} cells but the header has {expected} columns "
                "(an unquoted comma in a cell?)",
                row=line - 1,
            )
        else:
            detail = text.removeprefix("Error tokenizing data. ")
            problems.add(file, f"cannot parse the CSV file: {detail}")
    return None


def read_csv(
    folder: Path,
    file: str,
    problems: Problems,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    purpose: str,
) -> Table | None:
    """Read ``folder/file`` into a :class:`Table` and check its header.

    Missing required columns, unknown, unnamed and duplicated columns are problems; the
    table keeps the known columns (first occurrence).  A file with a header but no data
    row is a problem too.

    Parameters
    ----------
    purpose : str
        What the file holds, for the "not found" and "no rows" messages.
    """
    path = folder / file
    if not path.is_file():
        problems.add(file, f"file not found: the instance needs {file} ({purpose})")
        return None
    raw = _read_raw_csv(path, file, problems)
    if raw is None:
        return None
    header = [str(h).strip() for h in raw.iloc[0]]
    if any(has_control(name) for name in header):
        problems.add(
            file,
            "the header line holds control characters (a NUL byte or the like): this is not "
            "a CSV text file (its content is not shown)",
        )
        return None
    data = raw.iloc[1:].reset_index(drop=True)
    known = (*required, *optional)
    keep: dict[str, int] = {}
    unknown = 0
    for j, name in enumerate(header):
        if name == "":
            problems.add(file, f"column {j + 1} has no name in the header line")
        elif name in keep:
            problems.add(file, f"column {quoted(name)} appears more than once", column=name)
        elif name not in known:
            unknown += 1
            if unknown <= MAX_UNKNOWN_COLUMNS:
                problems.add(
                    file,
                    f"unknown column {quoted(name)}{did_you_mean(name, known)}; "
                    f"allowed columns: {', '.join(known)}",
                    column=name,
                )
        else:
            keep[name] = j
    if unknown > MAX_UNKNOWN_COLUMNS:
        problems.add(
            file,
            f"... and {unknown - MAX_UNKNOWN_COLUMNS} more unknown columns (only the first "
            f"{MAX_UNKNOWN_COLUMNS} are listed)",
        )
    for name in required:
        if name not in keep:
            problems.add(file, f"missing required column {quoted(name)}", column=name)
    cells = {
        name: data.iloc[:, j].astype(str).str.strip().map(unescape) for name, j in keep.items()
    }
    frame = pd.DataFrame(
        {name: column.to_numpy(dtype=object) for name, column in cells.items()},
        index=pd.RangeIndex(len(data)),
    )
    if len(frame) == 0:
        problems.add(file, f"no data rows: at least one row is needed ({purpose})")
    return Table(file=file, frame=frame)


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
    text = table.text(column)
    values, numeric = _to_floats(text)
    given = text != ""
    finite = given & numeric & np.isfinite(values)
    if required:
        report_rows(
            problems, table, ~given, column, lambda r: f"{column} is required but the cell is empty"
        )
    report_rows(
        problems,
        table,
        given & ~numeric,
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
    bad = np.array([has_control(str(t)) for t in text], dtype=bool)
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
            f"duplicate {what} id {quoted(ids[r])}; it is first defined in row {first[r] + 1}"
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
            row=int(row) + 1,
            item=table.label(int(row)),
            column=column,
        )
