"""Tests of :mod:`optimizer.instance.settings`: every rule of ``instance.toml``, in words.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from optimizer.instance import load_instance
from tests.instance_cases import (
    Case,
    check,
    only_problem,
    problems_of,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def test_malformed_toml(case: Case) -> None:
    folder = case.write()
    (folder / "instance.toml").write_text("[plan]\nperiods = = 13\n", encoding="utf-8")
    check(only_problem(folder), "instance.toml", words=("not valid toml", "line 2"))


@pytest.mark.parametrize(
    ("table", "key", "suggestion"),
    [
        ("plan", "perods", "periods"),
        ("black_swan", "duraton", "duration"),
        ("risk", "cvar_alfa", "cvar_alpha"),
        (None, "descripton", "description"),
        (None, "plann", "plan"),
    ],
)
def test_unknown_toml_key(case: Case, table: str | None, key: str, suggestion: str) -> None:
    case.toml["black_swan"] = {"probability": 0.1, "duration": 2}
    case.toml["risk"] = {"cvar_alpha": 0.9}
    target = case.toml if table is None else case.toml[table]
    target[key] = {"x": 1} if key == "plann" else 3
    p = only_problem(case.write())
    column = key if table is None else f"{table}.{key}"
    check(p, "instance.toml", column=column, words=("unknown key", f"did you mean '{suggestion}'"))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("periods", 0, ("greater than 0",)),
        ("periods", 13.5, ("whole number",)),
        ("periods", "13", ("whole number", "text")),
        ("periods_per_year", 0, ("between 0.01 and 10000",)),
        ("periods_per_year", "weekly", ("must be a number",)),
        ("periods_per_year", math.inf, ("finite",)),
        ("scenarios", -1, ("greater than 0",)),
        ("seed", -1, ("0 or more",)),
        ("seed", True, ("whole number",)),
        ("shortage", "lost", ("'lost_sales' or 'backorder'",)),
        ("capital_rate", -0.1, ("0 or between 1e-06 and 100",)),
        ("storage_rate", math.nan, ("finite",)),
        ("obsolescence_rate", math.inf, ("finite",)),
        ("warmup", -1, ("between 0 and 5000",)),
        ("warmup", 2.0, ("whole number",)),
        ("inventory_budget", 0, ("greater than 0",)),
        ("storage_capacity", -5.0, ("greater than 0",)),
    ],
)
def test_bad_plan_value(case: Case, key: str, value: Any, words: tuple[str, ...]) -> None:
    case.plan[key] = value
    p = only_problem(case.write())
    check(p, "instance.toml", column=f"plan.{key}", words=(key, *words))


def test_plan_must_be_a_table(case: Case) -> None:
    case.toml["plan"] = 3
    p = problems_of(case.write())[0]
    check(p, "instance.toml", column="plan", words=("must be a table",))


def test_missing_plan_table_uses_defaults(case: Case) -> None:
    del case.toml["plan"]
    assert load_instance(case.write()).plan.periods == 13


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("probability", 1.5, ("between 0 and 1",)),
        ("probability", -0.1, ("between 0 and 1",)),
        ("duration", 0, ("between 1 and 5000",)),
        ("duration", 2.5, ("whole number",)),
        ("demand_multiplier", 0, ("between 0.01 and 100",)),
    ],
)
def test_bad_black_swan(case: Case, key: str, value: Any, words: tuple[str, ...]) -> None:
    case.toml["black_swan"] = {"probability": 0.02, "duration": 6, "demand_multiplier": 1.6}
    case.toml["black_swan"][key] = value
    p = only_problem(case.write())
    check(p, "instance.toml", column=f"black_swan.{key}", words=words)


def test_black_swan_needs_probability(case: Case) -> None:
    case.toml["black_swan"] = {"duration": 6}
    p = only_problem(case.write())
    check(p, "instance.toml", column="black_swan.probability", words=("missing key",))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("cvar_alpha", 1.0, ("below 1",)),
        ("cvar_alpha", -0.1, ("at least 0",)),
        ("cvar_weight", 1.5, ("between 0 and 1",)),
        ("cvar_weight", "high", ("must be a number",)),
    ],
)
def test_bad_risk(case: Case, key: str, value: Any, words: tuple[str, ...]) -> None:
    case.toml["risk"] = {key: value}
    p = only_problem(case.write())
    check(p, "instance.toml", column=f"risk.{key}", words=words)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("name", 5, ("must be text",)),
        ("name", "", ("not be empty",)),
        ("description", 3, ("text",)),
    ],
)
def test_bad_top_level_value(case: Case, key: str, value: Any, words: tuple[str, ...]) -> None:
    case.toml[key] = value
    check(only_problem(case.write()), "instance.toml", column=key, words=words)
