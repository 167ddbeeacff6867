"""Tests of :mod:`optimizer.instance.writer`: ``write_instance`` → ``load_instance`` round trips.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from optimizer.instance import Instance, load_instance, write_instance
from tests.instance_cases import (
    INSTANCES,
    Case,
    assert_same_instance,
    explicit_case,
    supply_rows,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


@pytest.fixture
def explicit(case: Case) -> Case:
    return explicit_case(case)


def test_round_trip_of_rich_instance(case: Case, tmp_path: Path) -> None:
    case.toml["name"] = 'odd "name" \\ with ünïcode'
    case.toml["description"] = "line one\nline two\ttabbed"
    case.plan.update(
        warmup=3, inventory_budget=12345.678, storage_capacity=1e6, shortage="backorder"
    )
    case.toml["black_swan"] = {"probability": 0.02, "duration": 6, "demand_multiplier": 1.6}
    case.toml["risk"] = {"cvar_alpha": 0.9, "cvar_weight": 0.1}
    case.cell(1, "demand_dist", "poisson").cell(2, "demand_dist", "negbin")
    case.cell(2, "demand_std", "3.1")
    case.cell(1, "emergency_premium", "0.1").cell(2, "emergency_premium", "33.3")
    case.cell(2, "emergency_capacity", "4").cell(2, "reservation_fee", "1e-5")
    case.cell(3, "min_fill_rate", "0.99")
    for row, volume in enumerate(["0.001", "3", "0"], start=1):
        case.cell(row, "volume", volume)
    case.cell(3, "obsolescence_rate", "0.3").cell(1, "capital_rate", "0.123456789012345")
    original = load_instance(case.write())
    write_instance(original, tmp_path / "copy")
    assert_same_instance(original, load_instance(tmp_path / "copy"))


def test_round_trip_of_explicit_scenarios(explicit: Case, tmp_path: Path) -> None:
    explicit.scenarios["supply.csv"] = supply_rows(["high", "low"], {("high", 2, "near")})
    explicit.scenarios["probability.csv"] = [
        {"scenario": "high", "probability": "0.1"},
        {"scenario": "low", "probability": "0.9"},
    ]
    explicit.scenarios["demand.csv"][0]["demand"] = "0.1"
    original = load_instance(explicit.write())
    write_instance(original, tmp_path / "copy")
    assert_same_instance(original, load_instance(tmp_path / "copy"))


def test_write_removes_stale_scenarios(explicit: Case) -> None:
    folder = explicit.write()
    plain = load_instance(folder)
    plain = Instance(**{f.name: getattr(plain, f.name) for f in fields(plain)} | {"explicit": None})
    write_instance(plain, folder)
    assert not (folder / "scenarios").exists()
    assert load_instance(folder).explicit is None


@pytest.mark.parametrize("name", ["demo", "textbook_4_3", "textbook_9_3"])
def test_round_trip_of_bundled_instances(name: str, tmp_path: Path) -> None:
    original = load_instance(INSTANCES / name)
    write_instance(original, tmp_path / name)
    assert_same_instance(original, load_instance(tmp_path / name / "instance.toml"))
