"""How numbers are written in a table: decimal commas, and thousands separators refused.

:func:`decimal_mark` decides a table's decimal mark from its number cells and
:func:`read_numbers` rewrites a numeric column in Python's notation, refusing the cells a
planner must fix (README, "Instance files"): a comma-separated file writes decimal
points; a ``;`` or tab file (or a sheet's numbers stored as text) writes the mark most of
its number cells use; ``1,200``, ``1.200,5`` and ``1 200`` are thousands separators,
refused with the number to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from optimizer.errors import quoted

_INT = re.compile(r"[+-]?\d+")
_POINT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
_AMBIGUOUS = re.compile(r"[+-]?[1-9]\d{0,2}[.,]\d{3}")
_GROUP_COMMA = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?")
_GROUP_POINT = re.compile(r"[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d*)?")
_GROUP_OTHER = re.compile(r"[+-]?[1-9]\d{0,2}([ \u00a0\u202f\u2009'_]\d{3})+([.,]\d*)?")
_GROUP_MARKS = " \u00a0\u202f\u2009'_"


def decimal_mark(cells: Sequence[np.ndarray], separator: str | None) -> str:
    """Return the decimal mark of a table: ``"."`` or ``","`` (README, "Instance files").

    A comma-separated file writes decimal points.  Otherwise the mark most of the number
    cells use wins; cells such as ``1,200`` or ``1.200`` (one mark, three digits after
    it) say nothing, and a tie goes to the comma in a ``;`` file and to the point else.
    """
    if separator == ",":
        return "."
    comma = point = 0
    for column in cells:
        values, counts = np.unique(np.asarray(column, dtype=str), return_counts=True)
        for value, count in zip(values, counts, strict=True):
            if _AMBIGUOUS.fullmatch(value):
                continue
            if _COMMA.fullmatch(value):
                comma += int(count)
            elif "." in value and _POINT.fullmatch(value):
                point += int(count)
    if comma != point:
        return "," if comma > point else "."
    return "," if separator == ";" else "."


def _reading(cell: str, column: str, mark: str, separator: str | None) -> tuple[str, str | None]:
    """Return one cell in Python's notation, or the rule it breaks (``None``: fine)."""
    if cell == "" or _INT.fullmatch(cell):
        return cell, None
    if mark == "." and _POINT.fullmatch(cell):
        return cell, None
    if mark == "," and _COMMA.fullmatch(cell):
        return cell.replace(",", "."), None
    grouped = (
        _GROUP_OTHER.fullmatch(cell)
        or (_GROUP_COMMA.fullmatch(cell) and (mark == "." or "." in cell))
        or (_GROUP_POINT.fullmatch(cell) and (mark == "," or "," in cell))
    )
    if grouped:
        thousands = "," if _GROUP_COMMA.fullmatch(cell) else "."
        if _GROUP_OTHER.fullmatch(cell):
            thousands = ""
        decimal = "." if thousands == "," else "," if thousands == "." else mark
        digits = cell.translate({ord(c): None for c in _GROUP_MARKS + thousands})
        fix = digits.replace(decimal, mark)
        return cell, (
            f"{column} {quoted(cell)} has a thousands separator: write {fix} (no separator "
            "between groups of digits; in the spreadsheet, format the column as a number "
            "without the 1000 separator)"
        )
    if mark == "." and _COMMA.fullmatch(cell):
        fix = cell.replace(",", ".")
        if separator == ",":
            return cell, (
                f"{column} {quoted(cell)} has a decimal comma, but the file is separated by "
                f"commas: write {fix} (or save the file with ';' separators)"
            )
        return cell, (
            f"{column} {quoted(cell)} has a decimal comma, but this table writes decimals "
            f"with a point: write {fix}"
        )
    if mark == "," and "." in cell and _POINT.fullmatch(cell):
        return cell, (
            f"{column} {quoted(cell)} has a decimal point, but this table writes decimals "
            f"with a comma: write {cell.replace('.', ',')}"
        )
    return cell, None


def read_numbers(
    text: np.ndarray, column: str, mark: str, separator: str | None
) -> tuple[np.ndarray, dict[int, str]]:
    """Rewrite a numeric column in Python's notation; return it and the rows refused.

    Returns
    -------
    text : ndarray of str
        The cells with decimal commas made points (as they are where not a number).
    refused : dict of int to str
        Row (0-based) → the rule its cell breaks (a thousands separator, the other
        decimal mark).
    """
    if len(text) == 0:
        return text, {}
    codes, uniques = pd.factorize(text)
    readings = [_reading(str(u), column, mark, separator) for u in uniques]
    new = np.array([r[0] for r in readings], dtype=object)
    bad = np.array([r[1] is not None for r in readings], dtype=bool)
    rules = {int(r): str(readings[codes[r]][1]) for r in np.flatnonzero(bad[codes])}
    return new[codes], rules
