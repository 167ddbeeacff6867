"""Cell grids: a CSV file or a worksheet read as rows of text, with spreadsheet line numbers.

A :class:`Grid` is what every reader of a table starts from: the header cells, the data
rows as text and, for each row, the line (CSV) or row (worksheet) number a spreadsheet
shows for it, so a message's ``row 7`` is the spreadsheet's row 7.  :func:`read_csv_grid`
reads a CSV file the way spreadsheets write it (README, "Instance files"):

* UTF-8 with or without a byte-order mark (UTF-16, Excel's "Unicode Text", is refused
  with the way to save it as UTF-8 instead);
* the separator — ``,``, ``;`` or tab — is found from the header line: the candidate that
  splits it into the most known column names wins (then the most columns, then the
  order ``,`` ``;`` tab); the choice is logged;
* lines end in LF, CRLF or CR; a quoted cell may span lines; blank lines, and lines whose
  cells are all empty (``;;;``, as a spreadsheet writes a formatted empty row), are
  skipped but counted, so line numbers stay the spreadsheet's (the header is line 1);
* a row with more cells than the header is a problem (its cells would be read in the
  wrong columns); a shorter row is padded with empty cells.

How numbers are written (decimal commas, thousands separators) is decided per table in
:mod:`~optimizer.instance.tables`, which knows the table's numeric columns.  The workbook
reader (:mod:`~optimizer.instance.workbook`) builds the same grids from worksheets.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.instance.problems import MAX_REPORTED, Problems

logger = logging.getLogger(__name__)

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
"""The separators a CSV file may use, in order of preference on a tie."""


@dataclass(frozen=True)
class Odd:
    """A worksheet cell that is neither text nor a number.

    Attributes
    ----------
    kind : {"date", "formula", "error"}
        A date or time, a formula the workbook holds no calculated value for, or an error
        value such as ``#N/A``.
    shown : str
        The cell as text (ISO date, the formula, the error code).
    """

    kind: str
    shown: str


@dataclass
class Grid:
    """A table as text: header, data rows and their spreadsheet line numbers.

    Attributes
    ----------
    file : str
        The file the table stands for (``items.csv``; the workbook's sheets use the same
        names, so every rule reads one way).
    header : list of str
        Header cells as read.
    columns : list of ndarray
        The data cells of each header column (object arrays of ``str``, one entry per
        data row; short rows are padded with ``""``).
    lines : ndarray of int
        Spreadsheet line (CSV) or row (worksheet) number of each data row.
    separator : str or None
        The CSV separator found; None for a worksheet.
    escaped : bool
        Text cells may carry the apostrophe the CSV writer puts before a formula-like
        cell (:func:`~optimizer.instance.tables.unescape` drops it); worksheets hold
        text cells as text, so theirs are read as they are.
    native : dict of int to ndarray of bool
        Per column index, the cells that held a number (not text) in a worksheet: they are
        exact already and take no part in finding the decimal mark.
    odd : dict of (int, int) to Odd
        Cells (data row, column index) that are dates, formulas without value or errors.
    """

    file: str
    header: list[str]
    columns: list[np.ndarray]
    lines: np.ndarray
    separator: str | None = ","
    escaped: bool = True
    native: dict[int, np.ndarray] = field(default_factory=dict)
    odd: dict[tuple[int, int], Odd] = field(default_factory=dict)


def detect_separator(line: str, known: Sequence[str]) -> str:
    """Return the separator of a CSV file from its header line.

    The candidate of :data:`SEPARATORS` that splits ``line`` into the most known column
    names wins; then the one giving the most columns; then the first in
    :data:`SEPARATORS` (so a one-column header reads as comma-separated).
    """
    wanted = {name.lower() for name in known}
    best: tuple[tuple[int, int], str] | None = None
    for sep in SEPARATORS:
        cells = next(csv.reader([line], delimiter=sep), [])
        names = [cell.strip().lower() for cell in cells]
        score = (sum(name in wanted for name in names), len(cells))
        if best is None or score > best[0]:
            best = (score, sep)
    assert best is not None
    return best[1]


def _first_line(text: str) -> str:
    """Return the first line of ``text`` that is not blank (the header line)."""
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line.rstrip("\r\n")
    return ""


def decode(data: bytes, file: str, problems: Problems) -> str | None:
    """Decode a CSV file's bytes as UTF-8 (byte-order mark dropped); None with a problem."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add(
            file,
            "is UTF-16 text (Excel's 'Unicode Text'): save the sheet as 'CSV UTF-8' instead",
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(file, "not a UTF-8 text file (save the sheet as 'CSV UTF-8')")
        return None


_LINE_END = re.compile(r"\r\n|\r|\n")


def _fast_grid(text: str, file: str, separator: str) -> Grid | None:
    """Read a file without quote characters with pandas' C parser (None: use :func:`_records`).

    Without quotes every physical line is one record, so the spreadsheet line of record
    ``k`` is ``k + 1``; the careful reader takes over for anything else (a leading blank
    line, a row longer than the header).
    """
    if '"' in text:
        return None
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].strip():
        return None
    try:
        frame = pd.read_csv(
            io.StringIO(text, newline=""),
            sep=separator,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if len(frame) != len(lines):
        return None
    values = frame.to_numpy(dtype=object)
    blank = np.ones(len(values), dtype=bool)  # every cell empty or blanks only
    for j in range(values.shape[1]):
        rows = np.flatnonzero(blank)
        if len(rows) == 0:
            break
        codes, uniques = pd.factorize(values[rows, j])
        blank[rows] = np.array([not str(u).strip() for u in uniques], dtype=bool)[codes]
    keep = np.flatnonzero(~blank[1:]) + 1
    return Grid(
        file=file,
        header=[str(h) for h in values[0]],
        columns=[values[keep, j] for j in range(values.shape[1])],
        lines=keep + 1,
        separator=separator,
    )


def as_columns(rows: list[list[str]], width: int) -> list[np.ndarray]:
    """Return data rows (each ``width`` cells) as one object array per column."""
    if not rows:
        return [np.zeros(0, dtype=object) for _ in range(width)]
    return [np.asarray(column, dtype=object) for column in zip(*rows, strict=True)]


def read_csv_grid(path: Path, file: str, problems: Problems, known: Sequence[str]) -> Grid | None:
    """Read a CSV file into a :class:`Grid`; None (with the problems) when it cannot be.

    Parameters
    ----------
    path : Path
        The file.
    file : str
        Its name in messages.
    known : sequence of str
        The column names the file may have (they decide the separator).
    """
    text = decode(path.read_bytes(), file, problems)
    if text is None:
        return None
    separator = detect_separator(_first_line(text), known)
    name = SEPARATORS[separator]
    grid = _fast_grid(text, file, separator)
    if grid is None:
        grid = _records(text, file, problems, separator)
    if grid is not None:
        logger.info("%s: %s-separated, %d data rows", file, name, len(grid.lines))
    return grid


def _records(text: str, file: str, problems: Problems, separator: str) -> Grid | None:
    """Read CSV text record by record (quoted cells may span lines); None with problems."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, int]] = []
    last = 0
    try:
        for record in reader:
            line, last = last + 1, reader.line_num
            if not "".join(record).strip():
                continue
            if header is None:
                header = record
                continue
            width = len(header)
            if len(record) > width:
                ragged.append((line, len(record)))
            elif len(record) < width:
                record = record + [""] * (width - len(record))
            rows.append(record)
            lines.append(line)
    except csv.Error as exc:
        problems.add(file, f"cannot parse the CSV file: {exc} (line {reader.line_num})")
        return None
    if header is None:
        problems.add(file, "file is empty: expected a header line with the column names")
        return None
    name = SEPARATORS[separator]
    for line, saw in ragged[:MAX_REPORTED]:
        problems.add(
            file,
            f"line {line} has {saw} cells but the header has {len(header)} columns "
            f"(a {name} inside a cell? put that cell in double quotes)",
            row=line,
        )
    if len(ragged) > MAX_REPORTED:
        problems.add(file, f"... and {len(ragged) - MAX_REPORTED} more lines with too many cells")
    if ragged:
        return None
    return Grid(
        file=file,
        header=header,
        columns=as_columns(rows, len(header)),
        lines=np.asarray(lines, dtype=int),
        separator=separator,
    )
