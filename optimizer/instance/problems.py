"""Collecting input problems and wording them: the collector and the message helpers.

Every reader adds the rules it finds broken to one :class:`Problems`; the loader raises
them together as one :class:`~optimizer.errors.InvalidInstanceError`, so a planner sees
every problem of an instance at once (README, "Instance files").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from optimizer.errors import InputProblem
from optimizer.instance.layout import FILE_ORDER

MAX_REPORTED = 20
"""Rows listed per column and rule before the rest are summarised in one line."""
MISSING_EXAMPLES = 5
"""Missing combinations / names shown before ``...``."""


class Problems:
    """Accumulates :class:`InputProblem` entries in the order they are found."""

    def __init__(self) -> None:
        self.found: list[InputProblem] = []

    def add(
        self,
        file: str,
        rule: str,
        *,
        row: int | None = None,
        item: str | None = None,
        column: str | None = None,
    ) -> None:
        """Record one broken rule."""
        self.found.append(InputProblem(file=file, rule=rule, row=row, item=item, column=column))

    def in_file_order(self) -> list[InputProblem]:
        """Return the problems grouped by file (settings, items, suppliers, scenarios, others)."""

        def rank(problem: InputProblem) -> int:
            if problem.file.endswith(".toml"):
                return 0
            if problem.file in FILE_ORDER:
                return FILE_ORDER.index(problem.file)
            return len(FILE_ORDER)

        return sorted(self.found, key=rank)


class Rows(Protocol):
    """A table whose rows problems can name: its file and the label of each row."""

    file: str

    def label(self, row: int) -> str | None:
        """Item / supplier / scenario of data row ``row`` (0-based)."""

    def line(self, row: int) -> int:
        """Spreadsheet row number of data row ``row`` (0-based): header line 1, blanks counted."""


def report_rows(
    problems: Problems,
    table: Rows,
    mask: np.ndarray,
    column: str | None,
    message: Callable[[int], str],
) -> None:
    """Add one problem per row where ``mask`` is true (capped at :data:`MAX_REPORTED`).

    Parameters
    ----------
    message : callable
        Maps a 0-based row to the rule text of that row.
    """
    rows = np.flatnonzero(mask)
    for r in rows[:MAX_REPORTED]:
        problems.add(
            table.file,
            message(int(r)),
            row=table.line(int(r)),
            item=table.label(int(r)),
            column=column,
        )
    if len(rows) > MAX_REPORTED:
        problems.add(
            table.file,
            f"... and {len(rows) - MAX_REPORTED} more rows break the same rule "
            f"(only the first {MAX_REPORTED} are listed)",
            column=column,
        )


def did_you_mean(word: str, allowed: Sequence[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` when ``word`` looks like a typo of an allowed name.

    ``cutoff`` is difflib's similarity ratio from which a name counts as a typo.
    """
    close = difflib.get_close_matches(word.lower(), list(allowed), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def plural_rows(n: int) -> str:
    """``"1 row"`` / ``"3 rows"``."""
    return f"{n} row" if n == 1 else f"{n} rows"


def fmt(x: float) -> str:
    """Short but exact-enough rendering of a number for messages."""
    return f"{x:.10g}"
