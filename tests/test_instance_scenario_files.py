"""Tests of :mod:`optimizer.instance.scenario_files`: explicit scenarios.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.instance import load_instance
from tests.instance_cases import (
    HORIZON,
    Case,
    check,
    demand_rows,
    explicit_case,
    find,
    only_problem,
    problems_of,
    supply_rows,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


@pytest.fixture
def explicit(case: Case) -> Case:
    return explicit_case(case)


def test_explicit_scenarios_happy_path(explicit: Case) -> None:
    explicit.scenarios["supply.csv"] = supply_rows(["high", "low"], {("low", 3, "far")})
    explicit.scenarios["probability.csv"] = [
        {"scenario": "low", "probability": "0.75"},
        {"scenario": "high", "probability": "0.25"},
    ]
    inst = load_instance(explicit.write())
    ex = inst.explicit
    assert ex is not None
    assert list(ex.names) == ["high", "low"]
    assert ex.demand.shape == (3, 2, HORIZON) and inst.horizon == HORIZON
    assert ex.demand[1, 0, 2] == 31  # item B, scenario high, period 3
    assert ex.demand[2, 1, 4] == 152  # item C, scenario low, period 5
    assert ex.supplier_up.dtype == bool and ex.supplier_up.shape == (2, 2, HORIZON)
    assert not ex.supplier_up[1, 1, 2] and ex.supplier_up.sum() == 2 * 2 * HORIZON - 1
    np.testing.assert_allclose(ex.probability, [0.25, 0.75])


def test_explicit_defaults_and_first_appearance_order(explicit: Case) -> None:
    explicit.scenarios["demand.csv"] = demand_rows(["s2"]) + demand_rows(["s1", "s3"])
    ex = load_instance(explicit.write()).explicit
    assert ex is not None
    assert list(ex.names) == ["s2", "s1", "s3"]
    assert ex.supplier_up.all()
    np.testing.assert_allclose(ex.probability, [1 / 3] * 3)


def test_explicit_default_horizon_follows_instance_warmup(case: Case) -> None:
    horizon = load_instance(case.write()).horizon
    case.scenarios["demand.csv"] = demand_rows(["only"], horizon)
    ex = load_instance(case.write()).explicit
    assert ex is not None and ex.demand.shape == (3, 1, horizon)


def test_scenarios_folder_without_demand(explicit: Case) -> None:
    del explicit.scenarios["demand.csv"]
    explicit.scenarios["probability.csv"] = [{"scenario": "x", "probability": "1"}]
    found = problems_of(explicit.write())
    check(found[0], "scenarios/demand.csv", words=("file not found",))


def test_scenarios_is_a_file(case: Case) -> None:
    folder = case.write()
    (folder / "scenarios").write_text("oops", encoding="utf-8")
    check(only_problem(folder), "scenarios", words=("must be a folder",))


def test_unknown_scenario_file(explicit: Case) -> None:
    explicit.scenarios["supplies.csv"] = [{"scenario": "high"}]
    p = only_problem(explicit.write())
    check(p, "scenarios/supplies.csv", words=("unknown file", "did you mean 'supply.csv'"))


def test_missing_demand_combinations(explicit: Case) -> None:
    rows = explicit.scenarios["demand.csv"]
    del rows[4]  # (high, 2, B)
    del rows[-1]  # (low, 5, C)
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/demand.csv",
        column="item",
        words=("missing demand for 2", "(high, 2, B)", "(low, 5, C)", "1..5"),
    )


def test_duplicate_demand_row(explicit: Case) -> None:
    rows = explicit.scenarios["demand.csv"]
    rows.append(dict(rows[3]))  # (high, 2, A) again
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/demand.csv",
        row=len(rows) + 1,
        item="A",
        column="item",
        words=("duplicate", "'high'", "period 2", "row 5"),
    )


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("period", "6", ("must be in 1..5", "warm-up 2")),
        ("period", "0", ("must be in 1..5",)),
        ("period", "1.5", ("whole number",)),
        ("demand", "-3", ("0 or more",)),
        ("demand", "many", ("must be a number",)),
        ("demand", "nan", ("finite",)),
        ("scenario", "", ("empty",)),
    ],
)
def test_bad_demand_cell(explicit: Case, column: str, value: str, words: tuple[str, ...]) -> None:
    rows = explicit.scenarios["demand.csv"]
    rows.append(dict(rows[1], period="1", scenario="high", demand="7"))  # duplicate of row 2
    rows[1][column] = value
    rows.pop()  # keep the table complete except for the bad cell
    found = problems_of(explicit.write())
    p = find(found, "scenarios/demand.csv", column, words[0])
    check(p, "scenarios/demand.csv", row=3, item="B", column=column, words=words)


def test_unknown_item_in_demand(explicit: Case) -> None:
    rows = explicit.scenarios["demand.csv"]
    rows.append({"scenario": "high", "period": "1", "item": "Z", "demand": "1"})
    rows.append({"scenario": "low", "period": "1", "item": "Z", "demand": "1"})
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/demand.csv",
        row=len(rows),
        item="Z",
        column="item",
        words=("unknown item 'Z'", "items.csv", "2 rows"),
    )


def test_unknown_supplier_in_supply(explicit: Case) -> None:
    rows = supply_rows(["high", "low"], set())
    rows.append({"scenario": "high", "period": "1", "supplier": "mars", "up": "1"})
    explicit.scenarios["supply.csv"] = rows
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/supply.csv",
        row=len(rows) + 1,
        item="mars",
        column="supplier",
        words=("unknown supplier 'mars'",),
    )


def test_unknown_scenario_in_supply(explicit: Case) -> None:
    rows = supply_rows(["high", "low"], set())
    rows.append({"scenario": "mid", "period": "1", "supplier": "far", "up": "1"})
    explicit.scenarios["supply.csv"] = rows
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/supply.csv",
        row=len(rows) + 1,
        item="far",
        column="scenario",
        words=("'mid'", "not in scenarios/demand.csv"),
    )


@pytest.mark.parametrize(
    ("value", "words"), [("2", ("0 (down) or 1 (up)",)), ("yes", ("must be a number",))]
)
def test_bad_up_value(explicit: Case, value: str, words: tuple[str, ...]) -> None:
    rows = supply_rows(["high", "low"], set())
    rows[3]["up"] = value
    explicit.scenarios["supply.csv"] = rows
    p = only_problem(explicit.write())
    check(p, "scenarios/supply.csv", row=5, item="far", column="up", words=words)


def test_incomplete_supply(explicit: Case) -> None:
    rows = supply_rows(["high", "low"], set())
    del rows[0]
    explicit.scenarios["supply.csv"] = rows
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/supply.csv",
        column="supplier",
        words=("missing supply state for 1", "(high, 1, near)"),
    )


@pytest.mark.parametrize(
    ("rows", "column", "row", "words"),
    [
        ([("high", "1.5"), ("low", "-0.5")], "probability", 2, ("between 0 and 1",)),
        ([("high", "0.5"), ("low", "0.4")], "probability", None, ("sum to 0.9", "not 1")),
        ([("high", "0.5"), ("low", "0.5"), ("mid", "0")], "scenario", 4, ("'mid'", "not in")),
        ([("high", "1")], "scenario", None, ("1 scenario(s)", "'low'", "no probability")),
        ([("high", "0.5"), ("high", "0.5")], "scenario", 3, ("duplicate",)),
        ([("high", "x"), ("low", "1")], "probability", 2, ("must be a number",)),
    ],
)
def test_bad_probability(
    explicit: Case,
    rows: list[tuple[str, str]],
    column: str,
    row: int | None,
    words: tuple[str, ...],
) -> None:
    explicit.scenarios["probability.csv"] = [{"scenario": s, "probability": p} for s, p in rows]
    found = problems_of(explicit.write())
    p = find(found, "scenarios/probability.csv", column, words[0])
    assert p.row == row, str(p)
    for word in words:
        assert word in p.rule


def test_probability_sum_tolerance(explicit: Case) -> None:
    explicit.scenarios["probability.csv"] = [
        {"scenario": "high", "probability": "0.3333334"},
        {"scenario": "low", "probability": "0.6666667"},
    ]
    ex = load_instance(explicit.write()).explicit
    assert ex is not None and ex.probability.sum() == pytest.approx(1, abs=1e-6)


def test_demand_without_rows(explicit: Case) -> None:
    explicit.scenarios["demand.csv"] = []
    explicit.scenarios["supply.csv"] = supply_rows(["high"], set())
    folder = explicit.write()
    (folder / "scenarios" / "demand.csv").write_text("scenario,period,item,demand\n")
    check(only_problem(folder), "scenarios/demand.csv", words=("no data rows",))


def test_missing_demand_column(explicit: Case) -> None:
    for r in explicit.scenarios["demand.csv"]:
        r.pop("demand")
    p = only_problem(explicit.write())
    check(p, "scenarios/demand.csv", column="demand", words=("missing required column",))
