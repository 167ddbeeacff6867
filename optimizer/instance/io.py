"""Read, validate and write instance folders (DESIGN §3).

:func:`load_instance` turns an instance folder (or the path of its ``instance.toml``) into
an immutable :class:`~optimizer.instance.types.Instance`.  It checks every rule before it
returns and collects *all* broken rules, then raises a single
:class:`~optimizer.errors.InvalidInstanceError` whose :class:`~optimizer.errors.InputProblem`
entries name the file, the 1-based data row (header excluded), the item / supplier /
scenario and the column or TOML key of each problem.

:func:`write_instance` writes an :class:`Instance` back to the folder format, so that
``load_instance`` of the written folder gives back an equal instance.

Conventions
-----------
* CSV files are read as text first (UTF-8, an Excel byte-order mark is accepted); cells and
  headers are stripped of surrounding blanks; blank lines are skipped and do not count as
  rows.  An empty cell in an optional column means "not given".
* The literal strings ``nan`` and ``inf`` are rejected wherever a number is expected.
* ``poisson`` demand ignores ``demand_std``: the Poisson variance equals its mean, so the
  loaded ``demand_std`` is ``sqrt(demand_mean)``.  A given ``demand_std`` that differs from
  that by more than 1 % only triggers a logging warning; the cell may also be left empty.
* Explicit scenario periods run ``1..W+T`` where ``W`` is ``[plan] warmup`` or, when that
  is not given, :attr:`Instance.warmup <optimizer.instance.types.Instance.warmup>` (the rule
  lives there); messages about periods state the range and its split.
* Problems of one kind in one column are listed up to :data:`MAX_REPORTED` rows, followed
  by one line with the count of the rest, so a systematically broken scenario file gives a
  readable report.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.types import (
    DEMAND_FAMILIES,
    BlackSwan,
    ExplicitScenarios,
    Instance,
    Items,
    PlanSettings,
    RiskSettings,
    Suppliers,
)

logger = logging.getLogger(__name__)

__all__ = ["load_instance", "write_instance", "MAX_REPORTED"]

TOML_FILE = "instance.toml"
ITEMS_FILE = "items.csv"
SUPPLIERS_FILE = "suppliers.csv"
SCENARIO_DIR = "scenarios"
DEMAND_FILE = f"{SCENARIO_DIR}/demand.csv"
SUPPLY_FILE = f"{SCENARIO_DIR}/supply.csv"
PROBABILITY_FILE = f"{SCENARIO_DIR}/probability.csv"

MAX_REPORTED = 20
"""Rows listed per column and rule before the rest are summarised in one line."""
PROBABILITY_TOLERANCE = 1e-6
POISSON_STD_TOLERANCE = 0.01
MISSING_EXAMPLES = 5

ITEM_REQUIRED = (
    "item",
    "supplier",
    "unit_cost",
    "demand_mean",
    "demand_std",
    "lead_time",
    "stockout_penalty",
)
ITEM_OPTIONAL = (
    "demand_dist",
    "emergency_premium",
    "emergency_capacity",
    "reservation_fee",
    "min_fill_rate",
    "volume",
    "capital_rate",
    "storage_rate",
    "obsolescence_rate",
)
RATE_COLUMNS = ("capital_rate", "storage_rate", "obsolescence_rate")
SUPPLIER_COLUMNS = ("supplier", "disruption_prob", "recovery_prob")
PROBABILITY_COLUMNS = ("scenario", "probability")
SCENARIO_FILES = ("demand.csv", "supply.csv", "probability.csv")


# --------------------------------------------------------------------------------------
# problem collection
# --------------------------------------------------------------------------------------


class _Problems:
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
        """The problems grouped by file (settings, items, suppliers, scenarios, others)."""
        order = (TOML_FILE, ITEMS_FILE, SUPPLIERS_FILE, SCENARIO_DIR, DEMAND_FILE)
        order += (SUPPLY_FILE, PROBABILITY_FILE)

        def rank(problem: InputProblem) -> int:
            if problem.file.endswith(".toml"):
                return 0
            return order.index(problem.file) if problem.file in order else len(order)

        return sorted(self.found, key=rank)


@dataclass
class _Table:
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
        return len(self.frame)

    def has(self, column: str) -> bool:
        """True when the file has ``column``."""
        return column in self.frame.columns

    def text(self, column: str) -> np.ndarray:
        """Stripped cell texts of ``column`` (all ``""`` when the column is absent)."""
        if self.has(column):
            return self.frame[column].to_numpy(dtype=object)
        return np.full(len(self), "", dtype=object)

    def label(self, row: int) -> str | None:
        """Item / supplier / scenario of data row ``row`` (0-based)."""
        return self.labels[row] if self.labels else None


def _report_rows(
    problems: _Problems,
    table: _Table,
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
            table.file, message(int(r)), row=int(r) + 1, item=table.label(int(r)), column=column
        )
    if len(rows) > MAX_REPORTED:
        problems.add(
            table.file,
            f"... and {len(rows) - MAX_REPORTED} more rows break the same rule "
            f"(only the first {MAX_REPORTED} are listed)",
            column=column,
        )


def _did_you_mean(word: str, allowed: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when ``word`` looks like a typo of an allowed name."""
    close = difflib.get_close_matches(word.lower(), list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _rows(n: int) -> str:
    """``"1 row"`` / ``"3 rows"``."""
    return f"{n} row" if n == 1 else f"{n} rows"


def _fmt(x: float) -> str:
    """Short but exact-enough rendering of a number for messages."""
    return f"{x:.10g}"


# --------------------------------------------------------------------------------------
# locating the files
# --------------------------------------------------------------------------------------


def _locate(path: Path) -> tuple[Path, Path]:
    """Return ``(folder, toml_path)``; raise at once when there is no folder to read.

    Raises
    ------
    InvalidInstanceError
        When neither the folder nor the TOML file's folder exists.
    """
    if path.is_dir():
        return path, path / TOML_FILE
    if path.suffix == ".toml" and path.parent.is_dir():
        return path.parent, path
    if path.is_file():
        rule = "not an instance: give an instance folder or the path of its instance.toml"
    else:
        rule = "instance folder not found: give an instance folder or its instance.toml"
    raise InvalidInstanceError([InputProblem(file=str(path), rule=rule)])


# --------------------------------------------------------------------------------------
# instance.toml
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """Type and rule of one TOML key.

    Attributes
    ----------
    kind : {"int", "number", "text", "choice"}
        ``int`` rejects decimals and booleans; ``number`` accepts integers and finite floats.
    rule : str
        Words appended to the key when ``test`` fails (``"must be greater than 0"``).
    test : callable or None
        Predicate on the typed value.
    choices : tuple of str
        Allowed values of a ``choice`` key.
    required : bool
        The key must be present when its table is.
    """

    kind: str
    rule: str = ""
    test: Callable[[Any], bool] | None = None
    choices: tuple[str, ...] = ()
    required: bool = False


def _positive(v: float) -> bool:
    return v > 0


def _nonneg(v: float) -> bool:
    return v >= 0


def _fraction(v: float) -> bool:
    return 0 <= v <= 1


_PLAN_KEYS: dict[str, _Key] = {
    "periods": _Key("int", "must be greater than 0", _positive),
    "periods_per_year": _Key("number", "must be greater than 0", _positive),
    "scenarios": _Key("int", "must be greater than 0", _positive),
    "seed": _Key("int", "must be 0 or more", _nonneg),
    "shortage": _Key("choice", choices=("lost_sales", "backorder")),
    "capital_rate": _Key("number", "must be 0 or more", _nonneg),
    "storage_rate": _Key("number", "must be 0 or more", _nonneg),
    "obsolescence_rate": _Key("number", "must be 0 or more", _nonneg),
    "warmup": _Key("int", "must be 0 or more", _nonneg),
    "inventory_budget": _Key("number", "must be greater than 0", _positive),
    "storage_capacity": _Key("number", "must be greater than 0", _positive),
}
_BLACK_SWAN_KEYS: dict[str, _Key] = {
    "probability": _Key("number", "must be between 0 and 1", _fraction, required=True),
    "duration": _Key("int", "must be at least 1", lambda v: v >= 1, required=True),
    "demand_multiplier": _Key("number", "must be greater than 0", _positive),
}
_RISK_KEYS: dict[str, _Key] = {
    "cvar_alpha": _Key("number", "must be at least 0 and below 1", lambda v: 0 <= v < 1),
    "cvar_weight": _Key("number", "must be between 0 and 1", _fraction),
}
_TOP_KEYS: dict[str, _Key] = {
    "name": _Key("text", "must not be empty (leave it out to use the folder name)", bool),
    "description": _Key("text"),
}
_TABLES = ("plan", "black_swan", "risk")


class _Unknown:
    """Marker for a setting that was given but is invalid (or unreadable)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


@dataclass
class _Settings:
    """What could be read from ``instance.toml``.

    Attributes
    ----------
    plan : dict
        Valid ``[plan]`` values that were given.
    plan_bad : set of str
        ``[plan]`` keys that were given but are invalid.
    readable : bool
        False when the file is missing or not valid TOML: every setting is unknown.
    """

    file: str = TOML_FILE
    name: str | None = None
    description: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    plan_bad: set[str] = field(default_factory=set)
    black_swan: BlackSwan | None = None
    risk: RiskSettings = field(default_factory=RiskSettings)
    readable: bool = True

    def value(self, key: str) -> Any:
        """``[plan]`` value, its default when not given, or :data:`UNKNOWN`."""
        if not self.readable or key in self.plan_bad:
            return UNKNOWN
        return self.plan.get(key, getattr(PlanSettings(), key))

    def plan_settings(self) -> PlanSettings:
        """The typed ``[plan]`` table (valid only when no key is bad)."""
        return PlanSettings(**self.plan)


def _toml_type(value: Any) -> str:
    """Planner-readable TOML type name of a parsed value."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "whole number"
    if isinstance(value, float):
        return "decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return "date/time"


def _check_key(name: str, value: Any, spec: _Key) -> str | None:
    """Return what is wrong with ``value`` for key ``name``, or None."""
    shown = _toml_value(value) if isinstance(value, bool | int | float | str) else repr(value)
    got = f"got {shown} ({_toml_type(value)})"
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be a whole number, {got}"
    elif spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} must be a number, {got}"
        if not math.isfinite(value):
            return f"{name} must be a finite number, got {shown}"
    elif spec.kind == "text":
        if not isinstance(value, str):
            return f"{name} must be text in quotes, {got}"
    elif spec.kind == "choice":
        allowed = " or ".join(repr(c) for c in spec.choices)
        if not isinstance(value, str) or value not in spec.choices:
            return f"{name} must be {allowed}, {got}"
    if spec.test is not None and not spec.test(value):
        return f"{name} {spec.rule}, got {shown}"
    return None


def _read_keys(
    data: dict[str, Any],
    specs: dict[str, _Key],
    prefix: str,
    file: str,
    problems: _Problems,
) -> tuple[dict[str, Any], set[str]]:
    """Check one TOML table (``prefix``; ``""`` for the top level) against ``specs``.

    Returns
    -------
    valid : dict
        The given keys whose values are valid.
    bad : set of str
        Given keys whose values are invalid.
    """
    valid: dict[str, Any] = {}
    bad: set[str] = set()
    where = f"[{prefix}]" if prefix else "the top level"
    for key, value in data.items():
        column = f"{prefix}.{key}" if prefix else key
        if key not in specs:
            if not prefix and key in _TABLES:
                continue
            allowed = [*specs, *([] if prefix else _TABLES)]
            problems.add(
                file,
                f"unknown key {key!r} in {where}{_did_you_mean(key, allowed)}; "
                f"allowed: {', '.join(allowed)}",
                column=column,
            )
            continue
        error = _check_key(key, value, specs[key])
        if error is None:
            valid[key] = float(value) if specs[key].kind == "number" else value
        else:
            bad.add(key)
            problems.add(file, error, column=column)
    for key, spec in specs.items():
        if spec.required and key not in data:
            bad.add(key)
            problems.add(file, f"missing key: {where} needs {key}", column=f"{prefix}.{key}")
    return valid, bad


def _parse_toml(toml_path: Path, problems: _Problems) -> dict[str, Any] | None:
    """Parse the TOML file; None (with a problem) when missing or malformed."""
    file = toml_path.name
    if not toml_path.is_file():
        problems.add(
            file,
            f"file not found in {toml_path.parent}: every instance needs an instance.toml "
            "with a [plan] table",
        )
        return None
    try:
        return tomllib.loads(toml_path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        problems.add(file, "not a UTF-8 text file")
    except tomllib.TOMLDecodeError as exc:
        problems.add(file, f"not valid TOML: {exc}")
    return None


def _read_settings(toml_path: Path, problems: _Problems) -> _Settings:
    """Read and check ``instance.toml``: top-level keys and the three tables."""
    data = _parse_toml(toml_path, problems)
    if data is None:
        return _Settings(file=toml_path.name, readable=False)
    settings = _Settings(file=toml_path.name)
    top, _ = _read_keys(data, _TOP_KEYS, "", settings.file, problems)
    settings.name = top.get("name")
    settings.description = top.get("description", "")
    tables: dict[str, dict[str, Any] | None] = {}
    for table in _TABLES:
        value = data.get(table)
        if value is not None and not isinstance(value, dict):
            problems.add(
                settings.file,
                f"{table} must be a table (a [{table}] section), got {_toml_type(value)}",
                column=table,
            )
            value = None
            if table == "plan":
                settings.readable = False
        tables[table] = value
    settings.plan, settings.plan_bad = _read_keys(
        tables["plan"] or {}, _PLAN_KEYS, "plan", settings.file, problems
    )
    if tables["black_swan"] is not None:
        values, bad = _read_keys(
            tables["black_swan"], _BLACK_SWAN_KEYS, "black_swan", settings.file, problems
        )
        if not bad:
            settings.black_swan = BlackSwan(**values)
    if tables["risk"] is not None:
        values, bad = _read_keys(tables["risk"], _RISK_KEYS, "risk", settings.file, problems)
        if not bad:
            settings.risk = RiskSettings(**values)
    if "plan" not in data:
        logger.info("%s has no [plan] table: using the default plan settings", toml_path)
    return settings


# --------------------------------------------------------------------------------------
# CSV reading and cell parsing
# --------------------------------------------------------------------------------------


def _read_raw_csv(path: Path, file: str, problems: _Problems) -> pd.DataFrame | None:
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


def _read_csv(
    folder: Path,
    file: str,
    problems: _Problems,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    purpose: str,
) -> _Table | None:
    """Read ``folder/file`` into a :class:`_Table` and check its header.

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
    data = raw.iloc[1:].reset_index(drop=True)
    known = (*required, *optional)
    keep: dict[str, int] = {}
    for j, name in enumerate(header):
        if name == "":
            problems.add(file, f"column {j + 1} has no name in the header line")
        elif name in keep:
            problems.add(file, f"column {name!r} appears more than once", column=name)
        elif name not in known:
            problems.add(
                file,
                f"unknown column {name!r}{_did_you_mean(name, known)}; "
                f"allowed columns: {', '.join(known)}",
                column=name,
            )
        else:
            keep[name] = j
    for name in required:
        if name not in keep:
            problems.add(file, f"missing required column {name!r}", column=name)
    cells = {name: data.iloc[:, j].astype(str).str.strip() for name, j in keep.items()}
    frame = pd.DataFrame(
        {name: column.to_numpy(dtype=object) for name, column in cells.items()},
        index=pd.RangeIndex(len(data)),
    )
    if len(frame) == 0:
        problems.add(file, f"no data rows: at least one row is needed ({purpose})")
    return _Table(file=file, frame=frame)


@dataclass(frozen=True)
class _Check:
    """A vectorised rule on parsed numbers: ``test`` is true where the value is fine."""

    test: Callable[[np.ndarray], np.ndarray]
    rule: str


_NONNEG = _Check(lambda v: v >= 0, "must be 0 or more")
_POSITIVE = _Check(lambda v: v > 0, "must be greater than 0")
_FRACTION = _Check(lambda v: (v >= 0) & (v <= 1), "must be between 0 and 1")


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


def _numbers(
    table: _Table,
    column: str,
    problems: _Problems,
    *,
    required: bool = False,
    check: _Check | None = None,
    integer_rule: str | None = None,
) -> np.ndarray:
    """Parse one numeric column; ``nan`` where the cell is empty or breaks a rule.

    Every broken rule is recorded: empty required cell, not a number, ``nan``/``inf``,
    not a whole number (when ``integer_rule`` gives that rule's text), ``check`` failed.
    """
    out = np.full(len(table), np.nan)
    if not table.has(column):
        return out
    text = table.text(column)
    values, numeric = _to_floats(text)
    given = text != ""
    finite = given & numeric & np.isfinite(values)
    if required:
        _report_rows(
            problems, table, ~given, column, lambda r: f"{column} is required but the cell is empty"
        )
    _report_rows(
        problems,
        table,
        given & ~numeric,
        column,
        lambda r: f"{column} must be a number, got {text[r]!r}",
    )
    _report_rows(
        problems,
        table,
        given & numeric & ~np.isfinite(values),
        column,
        lambda r: f"{column} must be a finite number, got {text[r]!r}",
    )
    good = finite.copy()
    if integer_rule is not None:
        whole = np.zeros_like(good)
        whole[good] = values[good] == np.round(values[good])
        _report_rows(
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
        _report_rows(
            problems,
            table,
            good & ~passes,
            column,
            lambda r: f"{column} {check.rule}, got {text[r]}",
        )
        good &= passes
    out[good] = values[good]
    return out


def _check_ids(table: _Table, column: str, problems: _Problems, what: str) -> np.ndarray:
    """Report empty and duplicated identifiers; label rows by id; return the id texts."""
    ids = table.text(column)
    table.labels = [str(s) or None for s in ids]
    if not table.has(column):
        return ids
    _report_rows(problems, table, ids == "", column, lambda r: f"{what} id is empty")
    series = pd.Series(ids)
    first = pd.Series(np.arange(len(ids))).groupby(series, sort=False).transform("min")
    first = first.to_numpy()
    duplicate = (ids != "") & series.duplicated().to_numpy()
    _report_rows(
        problems,
        table,
        duplicate,
        column,
        lambda r: f"duplicate {what} id {ids[r]!r}; it is first defined in row {first[r] + 1}",
    )
    return ids


def _unique_names(ids: np.ndarray) -> list[str]:
    """Non-empty identifiers in order of first appearance."""
    return [str(x) for x in pd.unique(ids[ids != ""])]


def _codes(text: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Index of each text in ``names`` (``-1`` when not there)."""
    if len(text) == 0:
        return np.zeros(0, dtype=int)
    return pd.Index(list(names), dtype=object).get_indexer(list(text)).astype(int)


def _report_unknown(
    problems: _Problems,
    table: _Table,
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


# --------------------------------------------------------------------------------------
# suppliers.csv
# --------------------------------------------------------------------------------------


@dataclass
class _SupplierDraft:
    """Parsed supplier table (``nan`` where a cell is invalid)."""

    ids: np.ndarray
    disruption_prob: np.ndarray
    recovery_prob: np.ndarray

    @property
    def names(self) -> list[str]:
        return _unique_names(self.ids)


def _read_suppliers(folder: Path, problems: _Problems) -> _SupplierDraft | None:
    """Read and check ``suppliers.csv``."""
    table = _read_csv(
        folder,
        SUPPLIERS_FILE,
        problems,
        required=SUPPLIER_COLUMNS,
        purpose="one row per supplier: supplier, disruption_prob, recovery_prob",
    )
    if table is None:
        return None
    ids = _check_ids(table, "supplier", problems, "supplier")
    down = _numbers(table, "disruption_prob", problems, required=True, check=_FRACTION)
    up = _numbers(table, "recovery_prob", problems, required=True, check=_FRACTION)
    _report_rows(
        problems,
        table,
        (down > 0) & (up == 0),
        "recovery_prob",
        lambda r: (
            f"supplier never recovers: recovery_prob is 0 while disruption_prob is "
            f"{_fmt(down[r])} > 0, so one disruption would stop it for ever"
        ),
    )
    if not table.has("supplier"):
        return None
    return _SupplierDraft(ids=ids, disruption_prob=down, recovery_prob=up)


# --------------------------------------------------------------------------------------
# items.csv
# --------------------------------------------------------------------------------------

# column -> (required, rule, integer rule)
_ITEM_NUMBERS: dict[str, tuple[bool, _Check | None, str | None]] = {
    "unit_cost": (True, _POSITIVE, None),
    "demand_mean": (True, _NONNEG, None),
    "demand_std": (False, _NONNEG, None),  # may be empty for poisson; checked separately
    "lead_time": (True, _NONNEG, "must be a whole number of periods"),
    "stockout_penalty": (True, _NONNEG, None),
    "emergency_premium": (False, _NONNEG, None),
    "emergency_capacity": (False, _NONNEG, None),
    "reservation_fee": (False, _NONNEG, None),
    "min_fill_rate": (False, _FRACTION, None),
    "volume": (False, _NONNEG, None),
    "capital_rate": (False, _NONNEG, None),
    "storage_rate": (False, _NONNEG, None),
    "obsolescence_rate": (False, _NONNEG, None),
}


@dataclass
class _ItemDraft:
    """Parsed item table; numbers are ``nan`` where a cell is empty or invalid."""

    ids: np.ndarray
    supplier: np.ndarray
    dist: np.ndarray
    values: dict[str, np.ndarray]
    given: dict[str, np.ndarray]

    @property
    def names(self) -> list[str]:
        return _unique_names(self.ids)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[column]


def _read_items(
    folder: Path, problems: _Problems, settings: _Settings, suppliers: _SupplierDraft | None
) -> _ItemDraft | None:
    """Read and check ``items.csv`` (column types, ranges, distributions, emergency)."""
    table = _read_csv(
        folder,
        ITEMS_FILE,
        problems,
        required=ITEM_REQUIRED,
        optional=ITEM_OPTIONAL,
        purpose="one row per item",
    )
    if table is None:
        return None
    ids = _check_ids(table, "item", problems, "item")
    supplier = _item_suppliers(table, problems, suppliers)
    dist = _demand_dists(table, problems)
    values = {
        column: _numbers(table, column, problems, required=req, check=check, integer_rule=whole)
        for column, (req, check, whole) in _ITEM_NUMBERS.items()
    }
    given = {column: table.text(column) != "" for column in _ITEM_NUMBERS}
    draft = _ItemDraft(ids=ids, supplier=supplier, dist=dist, values=values, given=given)
    _check_distributions(table, draft, problems)
    _check_emergency(table, draft, problems)
    _check_volume(table, draft, settings, problems)
    return draft


def _item_suppliers(
    table: _Table, problems: _Problems, suppliers: _SupplierDraft | None
) -> np.ndarray:
    """Supplier index of each item (``-1`` when empty or unknown)."""
    text = table.text("supplier")
    if not table.has("supplier"):
        return np.full(len(table), -1)
    _report_rows(
        problems,
        table,
        text == "",
        "supplier",
        lambda r: "supplier is empty: every item needs a supplier listed in suppliers.csv",
    )
    if suppliers is None or not suppliers.names:
        return np.full(len(table), -1)  # suppliers.csv is unusable: reported there
    codes = _codes(text, suppliers.names)
    _report_rows(
        problems,
        table,
        (codes < 0) & (text != ""),
        "supplier",
        lambda r: f"unknown supplier {text[r]!r}: it is not listed in suppliers.csv",
    )
    return codes


def _demand_dists(table: _Table, problems: _Problems) -> np.ndarray:
    """Demand family per item, lower-cased; empty means ``normal``."""
    text = np.array([str(t).lower() for t in table.text("demand_dist")], dtype=object)
    text[text == ""] = "normal"
    bad = ~np.isin(text, DEMAND_FAMILIES)
    raw = table.text("demand_dist")
    _report_rows(
        problems,
        table,
        bad,
        "demand_dist",
        lambda r: f"demand_dist must be one of {', '.join(DEMAND_FAMILIES)}; got {raw[r]!r}",
    )
    return text


def _check_distributions(table: _Table, draft: _ItemDraft, problems: _Problems) -> None:
    """Family-specific rules on ``demand_mean`` / ``demand_std``.

    ``poisson`` ignores ``demand_std`` (it becomes ``sqrt(demand_mean)``; a given value more
    than 1 % off is logged); ``negbin`` needs variance > mean; ``gamma`` and ``lognormal``
    need a positive mean when the spread is positive.  ``demand_std`` is required for every
    other family.
    """
    mean, std, dist = draft["demand_mean"], draft["demand_std"], draft.dist
    poisson = dist == "poisson"
    std_given = draft.given["demand_std"]
    if table.has("demand_std"):
        _report_rows(
            problems,
            table,
            ~std_given & ~poisson,
            "demand_std",
            lambda r: (
                "demand_std is required but the cell is empty "
                "(it may be left empty only for poisson items)"
            ),
        )
    root = np.sqrt(np.where(mean >= 0, mean, np.nan))
    off = poisson & std_given & np.isfinite(std) & np.isfinite(root)
    gap = np.abs(np.nan_to_num(std) - np.nan_to_num(root))
    off &= gap > POISSON_STD_TOLERANCE * np.nan_to_num(root)
    for r in np.flatnonzero(off):
        logger.warning(
            "%s row %d, item %r: poisson demand ignores demand_std = %s; its standard "
            "deviation is sqrt(demand_mean) = %s",
            ITEMS_FILE,
            r + 1,
            table.label(int(r)),
            _fmt(std[r]),
            _fmt(root[r]),
        )
    draft.values["demand_std"] = np.where(poisson, root, std)
    both = np.isfinite(mean) & np.isfinite(std)
    negbin = both & (dist == "negbin") & ~(std**2 > mean)
    _report_rows(
        problems,
        table,
        negbin,
        "demand_std",
        lambda r: (
            f"negbin demand needs variance > mean, but demand_std² = {_fmt(std[r] ** 2)} "
            f"is not above demand_mean = {_fmt(mean[r])} (use poisson when they are equal, "
            "normal for less spread)"
        ),
    )
    skewed = both & np.isin(dist, ("gamma", "lognormal")) & (std > 0) & ~(mean > 0)
    _report_rows(
        problems,
        table,
        skewed,
        "demand_mean",
        lambda r: (
            f"{dist[r]} demand with demand_std > 0 needs demand_mean > 0, got {_fmt(mean[r])}"
        ),
    )


def _check_emergency(table: _Table, draft: _ItemDraft, problems: _Problems) -> None:
    """``emergency_capacity`` and ``reservation_fee`` only make sense with a premium."""
    premium = draft.given["emergency_premium"]
    for column in ("emergency_capacity", "reservation_fee"):
        _report_rows(
            problems,
            table,
            draft.given[column] & ~premium,
            column,
            lambda r, c=column: (
                f"{c} needs an emergency_premium (the price per emergency unit) in the same row"
            ),
        )


def _check_volume(
    table: _Table, draft: _ItemDraft, settings: _Settings, problems: _Problems
) -> None:
    """``volume`` is required on every row when ``[plan] storage_capacity`` is set."""
    capacity = settings.value("storage_capacity")
    if capacity is None or capacity is UNKNOWN:
        return
    if not table.has("volume"):
        problems.add(
            ITEMS_FILE,
            "missing column 'volume': it is required because [plan] storage_capacity is set",
            column="volume",
        )
        return
    _report_rows(
        problems,
        table,
        ~draft.given["volume"],
        "volume",
        lambda r: "volume is required on every item because [plan] storage_capacity is set",
    )


# --------------------------------------------------------------------------------------
# checks across instance.toml and items.csv
# --------------------------------------------------------------------------------------


def _check_plan_against_items(
    settings: _Settings, items: _ItemDraft | None, problems: _Problems
) -> None:
    """Warm-up vs lead times, budget and storage capacity vs the pipeline stock."""
    if items is None or len(items.ids) == 0:
        return
    lead, mean, cost = items["lead_time"], items["demand_mean"], items["unit_cost"]
    warmup = settings.value("warmup")
    if warmup is not None and warmup is not UNKNOWN and np.isfinite(lead).any():
        longest = int(np.nanargmax(lead))
        if warmup < lead[longest]:
            problems.add(
                settings.file,
                f"warmup = {warmup} is shorter than the longest lead time, "
                f"{int(lead[longest])} periods (item {items.ids[longest]!r}): the warm-up "
                "must be at least that long to fill the pipeline",
                item=str(items.ids[longest]),
                column="plan.warmup",
            )
    pipeline = lead * mean
    budget = settings.value("inventory_budget")
    if budget is not None and budget is not UNKNOWN:
        need = cost * pipeline
        if np.isfinite(need).all() and budget < need.sum():
            problems.add(
                settings.file,
                f"inventory_budget = {_fmt(budget)} is below {_fmt(need.sum())}, the value of "
                "the pipeline stock alone (sum over items of unit_cost × lead_time × "
                "demand_mean); every base-stock level must cover its pipeline (S ≥ L·μ), so "
                "no plan fits the budget",
                column="plan.inventory_budget",
            )
    capacity = settings.value("storage_capacity")
    if capacity is not None and capacity is not UNKNOWN:
        need = items["volume"] * pipeline
        if np.isfinite(need).all() and capacity < need.sum():
            problems.add(
                settings.file,
                f"storage_capacity = {_fmt(capacity)} is below {_fmt(need.sum())}, the volume "
                "of the pipeline stock alone (sum over items of volume × lead_time × "
                "demand_mean); every base-stock level must cover its pipeline (S ≥ L·μ), so "
                "no plan fits the storage",
                column="plan.storage_capacity",
            )


# --------------------------------------------------------------------------------------
# explicit scenarios
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Horizon:
    """Warm-up and costed periods; scenario periods run ``1..total``."""

    warmup: int
    periods: int

    @property
    def total(self) -> int:
        return self.warmup + self.periods

    def describe(self) -> str:
        return f"1..{self.total} (warm-up {self.warmup} + {self.periods} costed periods)"


def _default_warmup(items: _ItemDraft | None, suppliers: _SupplierDraft | None) -> int | None:
    """:attr:`Instance.warmup` when ``[plan] warmup`` is not given; None if not computable.

    The rule lives in :class:`~optimizer.instance.types.Instance` (one source of truth); it is
    asked on a probe instance that carries only lead times and the supplier chains.
    """
    if items is None or suppliers is None or len(items.ids) == 0:
        return None
    lead, codes = items["lead_time"], items.supplier
    chains = np.concatenate([suppliers.disruption_prob, suppliers.recovery_prob])
    if not (np.isfinite(lead).all() and (codes >= 0).all() and np.isfinite(chains).all()):
        return None
    n = len(lead)
    probe_items = Items(**{f.name: np.zeros(n) for f in fields(Items)})
    probe_items = replace(probe_items, lead_time=lead.astype(int), supplier=codes.astype(int))
    probe = Instance(
        name="",
        description="",
        plan=PlanSettings(warmup=None),
        items=probe_items,
        suppliers=Suppliers(
            name=np.asarray(suppliers.ids, dtype=str),
            disruption_prob=suppliers.disruption_prob,
            recovery_prob=suppliers.recovery_prob,
        ),
    )
    return probe.warmup


def _horizon(
    settings: _Settings, items: _ItemDraft | None, suppliers: _SupplierDraft | None
) -> _Horizon | None:
    """The scenario horizon, or None when settings, lead times or suppliers are unknown."""
    periods, warmup = settings.value("periods"), settings.value("warmup")
    if periods is UNKNOWN or warmup is UNKNOWN:
        return None
    if warmup is None:
        warmup = _default_warmup(items, suppliers)
        if warmup is None:
            return None
    return _Horizon(warmup=int(warmup), periods=int(periods))


def _check_scenario_folder(directory: Path, problems: _Problems) -> None:
    """CSV files in ``scenarios/`` other than the three known ones are typos."""
    for path in sorted(directory.glob("*.csv")):
        if path.name not in SCENARIO_FILES:
            problems.add(
                f"{SCENARIO_DIR}/{path.name}",
                f"unknown file in {SCENARIO_DIR}/{_did_you_mean(path.name, SCENARIO_FILES)}; "
                f"expected {', '.join(SCENARIO_FILES)}",
            )


@dataclass(frozen=True)
class _LongSpec:
    """Shape of a long scenario table ``scenario, period, <entity>, <value>``."""

    file: str
    entity: str
    value: str
    noun: str
    purpose: str


def _read_long(
    folder: Path,
    spec: _LongSpec,
    problems: _Problems,
    *,
    entities: list[str] | None,
    horizon: _Horizon | None,
    scenarios: list[str] | None,
    parse_value: Callable[[_Table, _Problems], np.ndarray],
) -> tuple[list[str], np.ndarray] | None:
    """Read ``demand.csv`` or ``supply.csv``.

    Parameters
    ----------
    entities : list of str or None
        Known items / suppliers (None: unknown, skip those checks).
    scenarios : list of str or None
        Known scenarios; None for ``demand.csv``, which defines them (first appearance).
    parse_value : callable
        Parses and checks the value column.

    Returns
    -------
    (scenario names, array of shape (n_entities, n_scenarios, horizon)) or None when the
    file or what it refers to cannot be read.
    """
    columns = ("scenario", "period", spec.entity, spec.value)
    table = _read_csv(folder, spec.file, problems, required=columns, purpose=spec.purpose)
    if table is None:
        return None
    entity_text = table.text(spec.entity)
    table.labels = [str(s) or None for s in entity_text]
    scen_text = table.text("scenario")
    if table.has("scenario"):
        _report_rows(problems, table, scen_text == "", "scenario", lambda r: "scenario is empty")
    if table.has(spec.entity):
        _report_rows(
            problems, table, entity_text == "", spec.entity, lambda r: f"{spec.entity} is empty"
        )
    if scenarios is None:
        scenarios = _unique_names(scen_text)
    else:
        _report_unknown(
            problems,
            table,
            "scenario",
            scen_text,
            _codes(scen_text, scenarios),
            lambda name, n: f"scenario {name!r} is not in {DEMAND_FILE} ({_rows(n)})",
        )
    period_check = _Check(lambda v: v >= 1, "must be 1 or more")
    if horizon is not None:
        period_check = _Check(
            lambda v: (v >= 1) & (v <= horizon.total), f"must be in {horizon.describe()}"
        )
    period = _numbers(
        table,
        "period",
        problems,
        required=True,
        check=period_check,
        integer_rule="must be a whole number",
    )
    value = parse_value(table, problems)
    if entities is not None:
        entity_codes = _codes(entity_text, entities)
        source = ITEMS_FILE if spec.entity == "item" else SUPPLIERS_FILE
        _report_unknown(
            problems,
            table,
            spec.entity,
            entity_text,
            entity_codes,
            lambda name, n: f"unknown {spec.entity} {name!r}: not in {source} ({_rows(n)})",
        )
    else:
        entity_codes = np.full(len(table), -1)
    scen_codes = _codes(scen_text, scenarios)
    keyed = (scen_codes >= 0) & np.isfinite(period) & (entity_codes >= 0)
    _report_duplicates(table, spec, problems, keyed, scen_text, period, entity_text)
    if entities is None or horizon is None or not all(table.has(c) for c in columns):
        return None
    p = np.where(keyed, period, 1).astype(int) - 1
    present = np.zeros((len(scenarios), horizon.total, len(entities)), dtype=bool)
    present[scen_codes[keyed], p[keyed], entity_codes[keyed]] = True
    _report_missing(spec, problems, present, scenarios, entities, horizon)
    array = np.full((len(entities), len(scenarios), horizon.total), np.nan)
    array[entity_codes[keyed], scen_codes[keyed], p[keyed]] = value[keyed]
    return scenarios, array


def _report_duplicates(
    table: _Table,
    spec: _LongSpec,
    problems: _Problems,
    keyed: np.ndarray,
    scen_text: np.ndarray,
    period: np.ndarray,
    entity_text: np.ndarray,
) -> None:
    """Rows repeating a (scenario, period, entity) combination."""
    keys = pd.DataFrame({"s": scen_text, "p": period, "e": entity_text})[keyed]
    if keys.empty:
        return
    first = keys.index.to_series().groupby([keys["s"], keys["p"], keys["e"]], sort=False)
    first_row = first.transform("min")
    duplicate = np.zeros(len(table), dtype=bool)
    duplicate[keys.index[keys.duplicated().to_numpy()]] = True
    first_of = np.zeros(len(table), dtype=int)
    first_of[keys.index] = first_row.to_numpy()
    _report_rows(
        problems,
        table,
        duplicate,
        spec.entity,
        lambda r: (
            f"duplicate row for scenario {scen_text[r]!r}, period {int(period[r])}, "
            f"{spec.entity} {entity_text[r]!r}; it is first given in row {first_of[r] + 1}"
        ),
    )


def _report_missing(
    spec: _LongSpec,
    problems: _Problems,
    present: np.ndarray,
    scenarios: list[str],
    entities: list[str],
    horizon: _Horizon,
) -> None:
    """One problem listing the count and the first missing combinations."""
    missing = np.argwhere(~present)
    if len(missing) == 0:
        return
    examples = ", ".join(
        f"({scenarios[s]}, {p + 1}, {entities[e]})" for s, p, e in missing[:MISSING_EXAMPLES]
    )
    more = ", ..." if len(missing) > MISSING_EXAMPLES else ""
    problems.add(
        spec.file,
        f"missing {spec.noun} for {len(missing)} (scenario, period, {spec.entity}) "
        f"combination(s): {examples}{more}; every scenario needs a row for every "
        f"{spec.entity} in every period {horizon.describe()}",
        column=spec.entity,
    )


def _demand_values(table: _Table, problems: _Problems) -> np.ndarray:
    return _numbers(table, "demand", problems, required=True, check=_NONNEG)


def _up_values(table: _Table, problems: _Problems) -> np.ndarray:
    return _numbers(
        table,
        "up",
        problems,
        required=True,
        check=_Check(lambda v: (v == 0) | (v == 1), "must be 0 (down) or 1 (up)"),
    )


_DEMAND_SPEC = _LongSpec(
    DEMAND_FILE,
    "item",
    "demand",
    "demand",
    "scenario, period, item, demand: one row per scenario, period and item",
)
_SUPPLY_SPEC = _LongSpec(
    SUPPLY_FILE,
    "supplier",
    "up",
    "supply state",
    "scenario, period, supplier, up: one row per scenario, period and supplier",
)


def _read_probability(
    folder: Path, problems: _Problems, scenarios: list[str] | None
) -> np.ndarray | None:
    """Scenario probabilities (equal when ``probability.csv`` is absent)."""
    if not (folder / PROBABILITY_FILE).exists():
        return np.full(len(scenarios), 1.0 / len(scenarios)) if scenarios else None
    table = _read_csv(
        folder,
        PROBABILITY_FILE,
        problems,
        required=PROBABILITY_COLUMNS,
        purpose="scenario, probability: one row per scenario",
    )
    if table is None:
        return None
    names = _check_ids(table, "scenario", problems, "scenario")
    prob = _numbers(table, "probability", problems, required=True, check=_FRACTION)
    if scenarios is None or not table.has("scenario"):
        return None
    codes = _codes(names, scenarios)
    _report_unknown(
        problems,
        table,
        "scenario",
        names,
        codes,
        lambda name, n: f"scenario {name!r} is not in {DEMAND_FILE}",
    )
    absent = [s for s in scenarios if s not in set(names)]
    if absent:
        shown = ", ".join(repr(s) for s in absent[:MISSING_EXAMPLES])
        problems.add(
            PROBABILITY_FILE,
            f"{len(absent)} scenario(s) of {DEMAND_FILE} have no probability: {shown}"
            f"{', ...' if len(absent) > MISSING_EXAMPLES else ''}",
            column="scenario",
        )
    if np.isfinite(prob).all() and not absent:
        total = float(prob.sum())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            problems.add(
                PROBABILITY_FILE,
                f"probabilities sum to {_fmt(total)}, not 1 (tolerance {PROBABILITY_TOLERANCE:g})",
                column="probability",
            )
    result = np.zeros(len(scenarios))
    known = codes >= 0
    result[codes[known]] = prob[known]
    return result


def _read_explicit(
    folder: Path,
    problems: _Problems,
    settings: _Settings,
    items: _ItemDraft | None,
    suppliers: _SupplierDraft | None,
) -> ExplicitScenarios | None:
    """Read ``scenarios/``; None when it cannot be built (problems are then recorded)."""
    directory = folder / SCENARIO_DIR
    if not directory.is_dir():
        problems.add(SCENARIO_DIR, f"{SCENARIO_DIR} must be a folder of CSV files")
        return None
    _check_scenario_folder(directory, problems)
    horizon = _horizon(settings, items, suppliers)
    demand = _read_long(
        folder,
        _DEMAND_SPEC,
        problems,
        entities=(items.names or None) if items is not None else None,
        horizon=horizon,
        scenarios=None,
        parse_value=_demand_values,
    )
    scenarios = (demand[0] or None) if demand is not None else None
    supplier_names = (suppliers.names or None) if suppliers is not None else None
    supply: tuple[list[str], np.ndarray] | None = None
    if (folder / SUPPLY_FILE).exists():
        supply = _read_long(
            folder,
            _SUPPLY_SPEC,
            problems,
            entities=supplier_names,
            horizon=horizon,
            scenarios=scenarios,
            parse_value=_up_values,
        )
    probability = _read_probability(folder, problems, scenarios)
    if demand is None or probability is None or supplier_names is None or horizon is None:
        return None
    if supply is None:
        up = np.ones((len(supplier_names), len(scenarios), horizon.total), dtype=bool)
    else:
        up = supply[1] == 1
    return ExplicitScenarios(
        demand=demand[1],
        supplier_up=up,
        probability=probability,
        names=np.array(scenarios, dtype=str),
    )


# --------------------------------------------------------------------------------------
# assembling the instance
# --------------------------------------------------------------------------------------


def _build_items(draft: _ItemDraft, settings: _Settings) -> Items:
    """Typed :class:`Items` from a draft without problems (defaults filled in)."""
    v = draft.values
    has_premium = draft.given["emergency_premium"]
    capacity = np.where(draft.given["emergency_capacity"], v["emergency_capacity"], np.inf)
    rates = {
        rate: np.where(draft.given[rate], v[rate], float(settings.value(rate)))
        for rate in RATE_COLUMNS
    }
    return Items(
        name=np.array([str(x) for x in draft.ids], dtype=str),
        supplier=draft.supplier.astype(int),
        unit_cost=v["unit_cost"].copy(),
        demand_mean=v["demand_mean"].copy(),
        demand_std=v["demand_std"].copy(),
        demand_dist=np.array([str(x) for x in draft.dist], dtype=str),
        lead_time=v["lead_time"].astype(int),
        stockout_penalty=v["stockout_penalty"].copy(),
        emergency_premium=v["emergency_premium"].copy(),
        emergency_capacity=np.where(has_premium, capacity, np.inf),
        reservation_fee=v["reservation_fee"].copy(),
        min_fill_rate=v["min_fill_rate"].copy(),
        volume=np.where(draft.given["volume"], v["volume"], 0.0),
        **rates,
    )


def load_instance(path: str | Path) -> Instance:
    """Read, validate and type an instance folder (DESIGN §3).

    Parameters
    ----------
    path : str or Path
        The instance folder, or the path of its ``instance.toml``.

    Returns
    -------
    Instance
        The validated instance; item arrays in ``items.csv`` order, supplier indices in
        ``suppliers.csv`` order, explicit scenarios (when ``scenarios/`` exists) in order of
        first appearance in ``scenarios/demand.csv``.

    Raises
    ------
    InvalidInstanceError
        With every broken rule (file, row, item, column, rule) when anything is wrong.
    """
    folder, toml_path = _locate(Path(path))
    problems = _Problems()
    settings = _read_settings(toml_path, problems)
    suppliers = _read_suppliers(folder, problems)
    items = _read_items(folder, problems, settings, suppliers)
    _check_plan_against_items(settings, items, problems)
    explicit = None
    if (folder / SCENARIO_DIR).exists():
        explicit = _read_explicit(folder, problems, settings, items, suppliers)
    if problems.found:
        logger.debug("%s: %d problem(s)", folder, len(problems.found))
        raise InvalidInstanceError(problems.in_file_order())
    assert items is not None and suppliers is not None  # no problems: both were read
    instance = Instance(
        name=settings.name or folder.resolve().name,
        description=settings.description,
        plan=settings.plan_settings(),
        items=_build_items(items, settings),
        suppliers=Suppliers(
            name=np.array([str(x) for x in suppliers.ids], dtype=str),
            disruption_prob=suppliers.disruption_prob.copy(),
            recovery_prob=suppliers.recovery_prob.copy(),
        ),
        black_swan=settings.black_swan,
        risk=settings.risk,
        explicit=explicit,
        source=str(toml_path),
    )
    logger.info(
        "loaded instance %r from %s: %d items, %d suppliers%s",
        instance.name,
        toml_path,
        len(instance.items),
        len(instance.suppliers),
        f", {len(explicit.names)} explicit scenarios" if explicit is not None else "",
    )
    return instance


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string with the required escapes."""
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n"}
    escapes |= {"\f": "\\f", "\r": "\\r"}
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    """TOML literal of a bool, int, float or string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    return _toml_string(str(value))


def _toml_table(name: str, values: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    lines += [f"{key} = {_toml_value(v)}" for key, v in values.items() if v is not None]
    return lines + [""]


def _instance_toml(instance: Instance) -> str:
    """Hand-written TOML serialisation of the settings of ``instance``."""
    plan = {f.name: getattr(instance.plan, f.name) for f in fields(PlanSettings)}
    plan["periods_per_year"] = float(plan["periods_per_year"])
    lines = [
        f"name = {_toml_string(instance.name)}",
        f"description = {_toml_string(instance.description)}",
        "",
        *_toml_table("plan", plan),
    ]
    if instance.black_swan is not None:
        bs = instance.black_swan
        lines += _toml_table(
            "black_swan",
            {
                "probability": float(bs.probability),
                "duration": int(bs.duration),
                "demand_multiplier": float(bs.demand_multiplier),
            },
        )
    risk = instance.risk
    lines += _toml_table(
        "risk", {"cvar_alpha": float(risk.cvar_alpha), "cvar_weight": float(risk.cvar_weight)}
    )
    return "\n".join(lines)


def _cells(values: np.ndarray, *, blank: Callable[[float], bool] = math.isnan) -> list[str]:
    """Exact text of numbers (shortest round-trip ``repr``); ``blank`` ones become ``""``."""
    return ["" if blank(float(x)) else repr(float(x)) for x in values]


def _items_frame(instance: Instance) -> pd.DataFrame:
    """``items.csv`` content; optional columns only when they carry information."""
    it, plan = instance.items, instance.plan
    columns: dict[str, list[str]] = {
        "item": [str(x) for x in it.name],
        "supplier": [str(instance.suppliers.name[k]) for k in it.supplier],
        "unit_cost": _cells(it.unit_cost),
        "demand_mean": _cells(it.demand_mean),
        "demand_std": _cells(it.demand_std),
        "lead_time": [str(int(x)) for x in it.lead_time],
        "stockout_penalty": _cells(it.stockout_penalty),
        "demand_dist": [str(x) for x in it.demand_dist],
    }
    has_em = it.has_emergency
    if has_em.any():
        columns["emergency_premium"] = _cells(it.emergency_premium)
        capacity = np.where(has_em, it.emergency_capacity, np.inf)
        if np.isfinite(capacity).any():
            columns["emergency_capacity"] = _cells(capacity, blank=lambda x: not math.isfinite(x))
        fee = np.where(has_em, it.reservation_fee, np.nan)
        if np.isfinite(fee).any():
            columns["reservation_fee"] = _cells(fee)
    if np.isfinite(it.min_fill_rate).any():
        columns["min_fill_rate"] = _cells(it.min_fill_rate)
    if plan.storage_capacity is not None or (it.volume != 0).any():
        columns["volume"] = _cells(it.volume)
    for rate in RATE_COLUMNS:
        values, default = getattr(it, rate), float(getattr(plan, rate))
        if (values != default).any():
            columns[rate] = _cells(np.where(values == default, np.nan, values))
    return pd.DataFrame(columns)


def _scenario_frames(instance: Instance) -> dict[str, pd.DataFrame]:
    """``scenarios/*.csv`` content of an instance with explicit scenarios."""
    ex = instance.explicit
    assert ex is not None
    n_items, n_scen, horizon = ex.demand.shape
    if horizon != instance.horizon:
        raise ValueError(
            f"explicit scenarios cover {horizon} periods but warm-up + periods is "
            f"{instance.horizon}"
        )
    s, p, i = np.meshgrid(np.arange(n_scen), np.arange(horizon), np.arange(n_items), indexing="ij")
    s, p, i = s.ravel(), p.ravel(), i.ravel()
    names = np.asarray(ex.names, dtype=str)
    frames = {
        "demand.csv": pd.DataFrame(
            {
                "scenario": names[s],
                "period": p + 1,
                "item": np.asarray(instance.items.name, dtype=str)[i],
                "demand": _cells(ex.demand[i, s, p]),
            }
        ),
        "probability.csv": pd.DataFrame(
            {"scenario": names, "probability": _cells(np.asarray(ex.probability, dtype=float))}
        ),
    }
    if not np.asarray(ex.supplier_up, dtype=bool).all():
        n_sup = ex.supplier_up.shape[0]
        grid = np.meshgrid(np.arange(n_scen), np.arange(horizon), np.arange(n_sup), indexing="ij")
        s, p, k = (g.ravel() for g in grid)
        frames["supply.csv"] = pd.DataFrame(
            {
                "scenario": names[s],
                "period": p + 1,
                "supplier": np.asarray(instance.suppliers.name, dtype=str)[k],
                "up": np.asarray(ex.supplier_up, dtype=bool)[k, s, p].astype(int),
            }
        )
    return frames


def write_instance(instance: Instance, folder: Path) -> None:
    """Write ``instance`` to ``folder`` in the instance-folder format (DESIGN §3).

    Writes ``instance.toml``, ``items.csv``, ``suppliers.csv`` and, for explicit
    scenarios, ``scenarios/demand.csv``, ``scenarios/probability.csv`` and (unless every
    supplier is always up) ``scenarios/supply.csv``.  Numbers are written exactly, so
    :func:`load_instance` of the folder returns an equal instance (except ``source``).
    Scenario files of an earlier instance in the same folder that this one does not need
    are removed; nothing else is deleted.

    Parameters
    ----------
    instance : Instance
        A valid instance (for example from a synthetic generator).
    folder : Path
        Target folder; created when missing.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TOML_FILE).write_text(_instance_toml(instance), encoding="utf-8")
    _items_frame(instance).to_csv(folder / ITEMS_FILE, index=False)
    sup = instance.suppliers
    pd.DataFrame(
        {
            "supplier": [str(x) for x in sup.name],
            "disruption_prob": _cells(sup.disruption_prob),
            "recovery_prob": _cells(sup.recovery_prob),
        }
    ).to_csv(folder / SUPPLIERS_FILE, index=False)
    directory = folder / SCENARIO_DIR
    frames = _scenario_frames(instance) if instance.explicit is not None else {}
    if frames:
        directory.mkdir(exist_ok=True)
    for name in SCENARIO_FILES:
        target = directory / name
        if name in frames:
            frames[name].to_csv(target, index=False)
        elif target.exists():
            target.unlink()
    if directory.is_dir() and not frames and not any(directory.iterdir()):
        directory.rmdir()
    logger.info("wrote instance %r to %s", instance.name, folder)
