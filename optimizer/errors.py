"""Error types and the exit codes the CLI maps them to.

Exit codes (README, "Quick start"): 0 ok, 2 usage, 3 invalid input, 4 infeasible, 5 no plan
within limits, 1 bug.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

EXCERPT_CHARS = 40
"""Most characters of a cell or a name a message shows (the rest is cut, and counted)."""
RULE_CHARS = 1000
"""Most characters of one problem's rule (a safety net: echoed cells are cut to
:data:`EXCERPT_CHARS` where they are quoted)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_control(text: str) -> bool:
    """Tell whether ``text`` holds a control character (C0, DEL, C1, line or bidi controls)."""
    return _CONTROL.search(text) is not None


def control_name(text: str) -> str:
    """Name the first control character of ``text`` (``"U+0000 at character 3"``)."""
    match = _CONTROL.search(text)
    if match is None:
        return ""
    char = match.group()
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}{f' {name}' if name else ''} at character {match.start() + 1}"


def sanitise(text: str) -> str:
    r"""Write every control character of ``text`` as an escape (``\x00``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """Cut a cell or name to a short, printable excerpt for a message.

    Control characters are escaped and anything past ``limit`` characters is cut, with
    the length said (``"abc… (5000 characters)"``), so no message echoes a whole file.
    """
    raw = str(text)
    if len(raw) > limit:
        return f"{sanitise(raw[:limit])}… ({len(raw)} characters)"
    return sanitise(raw)


def quoted(text: object, limit: int = EXCERPT_CHARS) -> str:
    """:func:`excerpt` in single quotes, as messages quote cells (``'abc'``)."""
    return f"'{excerpt(text, limit)}'"


EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_INFEASIBLE = 4
EXIT_NO_PLAN = 5


@dataclass(frozen=True)
class InputProblem:
    """One broken rule in an input file.

    Attributes
    ----------
    file : str
        File the problem is in (relative to the instance folder when possible).
    rule : str
        The rule broken, in words a planner understands.
    row : int or None
        The row number a spreadsheet shows for the row (header line 1, blank lines
        counted), in a CSV file or a sheet of a workbook.
    item : str or None
        Item, supplier or scenario the row is about.
    column : str or None
        Column or TOML key.
    kind : str or None
        What ``item`` names; by default derived from the file (``supplier`` for
        suppliers.csv and supply.csv, ``scenario`` for probability.csv, else ``item``).
    """

    file: str
    rule: str
    row: int | None = None
    item: str | None = None
    column: str | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        """Keep only printable, short text: names and columns come from the input files."""
        object.__setattr__(self, "rule", excerpt(self.rule, RULE_CHARS))
        object.__setattr__(self, "file", excerpt(self.file, RULE_CHARS))
        for part in ("item", "column"):
            value = getattr(self, part)
            if value is not None:
                object.__setattr__(self, part, excerpt(value, 2 * EXCERPT_CHARS))

    @property
    def subject(self) -> str:
        """What ``item`` names: ``kind`` if set, else supplier, scenario or item by file."""
        if self.kind:
            return self.kind
        name = self.file.replace("\\", "/").rsplit("/", 1)[-1]
        return {
            "suppliers.csv": "supplier",
            "supply.csv": "supplier",
            "probability.csv": "scenario",
        }.get(name, "item")

    def __str__(self) -> str:
        """Format as ``file, row r, <subject> 'x', column 'c': rule``, unset parts left out."""
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.item is not None:
            where.append(f"{self.subject} '{self.item}'")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.rule}"


class StockplanError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_BUG


class InvalidInstanceError(StockplanError):
    """The instance breaks one or more input rules; all of them are listed."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, problems: list[InputProblem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid instance ({len(self.problems)} problem(s)):\n{lines}")


class InfeasiblePlanError(StockplanError):
    """The solver proved the program infeasible; ``conflict`` names the constraint group."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, message: str, conflict: str | None = None):
        self.conflict = conflict
        super().__init__(message)


class NoPlanError(StockplanError):
    """No usable plan within the limits (time limit without a feasible point, numerical trouble)."""

    exit_code = EXIT_NO_PLAN


class EngineDeclinedError(StockplanError):
    """An engine asked for by name cannot solve this program; the message is its reason."""

    exit_code = EXIT_USAGE

    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"engine {engine!r} cannot solve this program: {reason}")


class UnknownEngineError(StockplanError):
    """No engine is registered under the name asked for."""

    exit_code = EXIT_USAGE


class VerificationError(StockplanError):
    """An independent numpy re-evaluation disagrees with the solver's answer."""

    exit_code = EXIT_BUG


class OutputFolderError(StockplanError):
    """``--out`` cannot be written: a file, a path under a file, or a read-only place."""

    exit_code = EXIT_USAGE


class UnsupportedOptionError(StockplanError):
    """A setting asked for cannot be combined with this program (the message says why)."""

    exit_code = EXIT_USAGE
