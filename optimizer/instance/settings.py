"""Reading ``instance.toml``: the schema's checks, its errors in the planner's words.

:func:`read_settings` parses the file, validates it against
:class:`~optimizer.instance.schema.InstanceFile` (every broken rule at once) and turns
each pydantic error into an :class:`~optimizer.errors.InputProblem` naming the key
(``plan.periods``) and the rule (``periods must be greater than 0, got 0``); an unknown
key gets a "did you mean" hint.  What is valid is kept, so the checks that combine the
settings with ``items.csv`` still run on a file with some bad keys.
"""

from __future__ import annotations

import json
import logging
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from optimizer.errors import excerpt, quoted
from optimizer.instance.layout import TOML_FILE
from optimizer.instance.problems import Problems, did_you_mean
from optimizer.instance.schema import (
    BlackSwan,
    DemandSettings,
    InstanceFile,
    PlanSettings,
    RiskSettings,
    SupplierSettings,
    bounds_rule,
    table_fields,
)

logger = logging.getLogger(__name__)


class _Unknown:
    """Marker for a setting that was given but is invalid (or unreadable)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()
"""What :meth:`Settings.value` returns for a key whose value cannot be trusted."""


@dataclass
class Settings:
    """What could be read from ``instance.toml``.

    Attributes
    ----------
    file : str
        Name of the TOML file (for messages).
    plan : PlanSettings
        The valid ``[plan]`` values given, defaults for the others.
    plan_bad : set of str
        ``[plan]`` keys that were given but are invalid.
    readable : bool
        False when the file is missing, not valid TOML or ``plan`` is not a table: every
        ``[plan]`` setting is then unknown.
    """

    file: str = TOML_FILE
    name: str | None = None
    description: str = ""
    plan: PlanSettings = field(default_factory=PlanSettings)
    plan_bad: set[str] = field(default_factory=set)
    black_swan: BlackSwan | None = None
    risk: RiskSettings = field(default_factory=RiskSettings)
    readable: bool = True
    demand: DemandSettings = field(default_factory=DemandSettings)
    suppliers: SupplierSettings = field(default_factory=SupplierSettings)

    def value(self, key: str) -> Any:
        """``[plan]`` value, its default when not given, or :data:`UNKNOWN`."""
        if not self.readable or key in self.plan_bad:
            return UNKNOWN
        return getattr(self.plan, key)


def toml_type(value: Any) -> str:
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


def _literal(value: Any) -> str:
    """``value`` as it would be written in TOML (for messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(excerpt(value), ensure_ascii=False)
    return excerpt(repr(value))


def describe(error: ErrorDetails) -> str:
    """Say in words the rule a pydantic error of :class:`InstanceFile` stands for."""
    loc = tuple(str(part) for part in error["loc"])
    key, table = loc[-1], (loc[0] if len(loc) > 1 else None)
    where = f"[{table}]" if table else "the top level"
    kind, value = error["type"], error["input"]
    allowed = table_fields(table)
    if kind == "extra_forbidden":
        return (
            f"unknown key {quoted(key)} in {where}{did_you_mean(key, list(allowed))}; "
            f"allowed: {', '.join(allowed)}"
        )
    if kind == "missing":
        return f"missing key: {where} needs {key}"
    if kind == "model_type":
        return f"{key} must be a table (a [{key}] section), got {toml_type(value)}"
    shown = _literal(value)
    got = f"got {shown} ({toml_type(value)})"
    info = allowed[key]
    if kind == "int_type":
        return f"{key} must be a whole number, {got}"
    if kind == "float_type":
        return f"{key} must be a number, {got}"
    if kind == "finite_number":
        return f"{key} must be a finite number, got {shown}"
    if kind == "string_type":
        return f"{key} must be text in quotes, {got}"
    if kind == "literal_error":
        return f"{key} must be {error.get('ctx', {}).get('expected')}, {got}"
    if kind in (
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "tiny_number",
    ):
        return f"{key} {bounds_rule(info)}, got {shown}"
    if kind == "control_character":
        where = error.get("ctx", {}).get("where", "")
        return f"{key} holds a control character ({where}): it must be printable text"
    if kind == "string_too_short":
        extra = info.json_schema_extra
        hint = extra.get("hint") if isinstance(extra, dict) else None
        return f"{key} must not be empty{f' ({hint})' if hint else ''}, got {shown}"
    return f"{key}: {error['msg']}, {got}"


def parse_toml(toml_path: Path, problems: Problems) -> dict[str, Any] | None:
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


def _file_position(loc: tuple[str, ...], data: dict[str, Any]) -> tuple[int, int]:
    """Where the key at ``loc`` is in the file (missing keys last), to report in file order."""
    keys = list(data)
    first = keys.index(loc[0]) if loc[0] in data else len(keys)
    inner = data.get(loc[0])
    if len(loc) < 2 or not isinstance(inner, dict):
        return first, -1
    inner_keys = list(inner)
    return first, inner_keys.index(loc[1]) if loc[1] in inner else len(inner_keys)


def _without_errors(
    data: dict[str, Any], locs: list[tuple[str, ...]]
) -> tuple[dict[str, Any], set[str]]:
    """Drop the values pydantic rejected from ``data``; return it and the bad ``[plan]`` keys.

    A bad ``[plan]`` key is dropped alone (its default stands in; :meth:`Settings.value`
    reports it unknown); a bad key of another table drops that table.
    """
    kept = {key: dict(v) if isinstance(v, dict) else v for key, v in data.items()}
    plan_bad: set[str] = set()
    for loc in locs:
        if len(loc) == 1 or loc[0] != "plan":
            kept.pop(loc[0], None)
        else:
            plan_bad.add(loc[1])
            kept["plan"].pop(loc[1], None)
    return kept, plan_bad


def read_settings(toml_path: Path, problems: Problems) -> Settings:
    """Read and check ``instance.toml``: top-level keys and the three tables.

    Every broken rule is added to ``problems``; the returned :class:`Settings` holds what
    is valid (defaults in place of bad values).
    """
    file = toml_path.name
    data = parse_toml(toml_path, problems)
    if data is None:
        return Settings(file=file, readable=False)
    if "plan" not in data:
        logger.info("%s has no [plan] table: using the default plan settings", toml_path)
    return check_settings(data, file, problems)


def check_settings(
    data: dict[str, Any],
    file: str,
    problems: Problems,
    rows: Callable[[tuple[str, ...]], int | None] | None = None,
) -> Settings:
    """Check parsed settings (``instance.toml``'s tables, or a workbook's settings sheet).

    Parameters
    ----------
    data : dict
        The settings as TOML would parse them (top-level keys and tables).
    file : str
        Where they come from, for messages.
    rows : callable, optional
        The spreadsheet row of a key (``("plan", "periods")``), for messages.
    """
    plan_bad: set[str] = set()
    readable = True
    try:
        document = InstanceFile.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: _file_position(_loc(e), data))
        for error in errors:
            row = rows(_loc(error)) if rows is not None else None
            problems.add(file, describe(error), column=".".join(_loc(error)), row=row)
        locs = [_loc(error) for error in errors]
        readable = ("plan",) not in locs
        kept, plan_bad = _without_errors(data, locs)
        document = InstanceFile.model_validate(kept)
    return Settings(
        file=file,
        name=document.name,
        description=document.description,
        plan=document.plan_settings(),
        plan_bad=plan_bad,
        black_swan=document.black_swan_settings(),
        risk=document.risk_settings(),
        readable=readable,
        demand=document.demand_settings(),
        suppliers=document.supplier_settings(),
    )


def _loc(error: ErrorDetails) -> tuple[str, ...]:
    return tuple(str(part) for part in error["loc"])
