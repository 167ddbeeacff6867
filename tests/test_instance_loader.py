"""Tests of :mod:`optimizer.instance.loader`: valid and bundled instances, files, all problems.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import EXIT_INVALID_INPUT, InvalidInstanceError
from optimizer.instance import load_instance
from tests.instance_cases import (
    INSTANCES,
    Case,
    check,
    find,
    only_problem,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def test_minimal_instance_loads_with_defaults(case: Case) -> None:
    inst = load_instance(case.write())
    assert inst.name == "tiny"
    assert inst.description == "three items, two suppliers"
    assert inst.plan.periods == 3 and inst.plan.periods_per_year == 52.0
    assert inst.plan.warmup is None and inst.plan.inventory_budget is None
    assert inst.black_swan is None and inst.explicit is None
    assert inst.risk.cvar_alpha == 0.95 and inst.risk.cvar_weight == 0.0
    it = inst.items
    assert list(it.name) == ["A", "B", "C"]
    assert list(it.supplier) == [0, 1, 0]
    assert it.lead_time.dtype.kind == "i" and list(it.lead_time) == [1, 2, 0]
    assert list(it.demand_dist) == ["normal"] * 3
    assert np.isnan(it.emergency_premium).all() and np.isinf(it.emergency_capacity).all()
    assert np.isnan(it.reservation_fee).all() and np.isnan(it.min_fill_rate).all()
    assert (it.volume == 0).all()
    assert (it.capital_rate == 0.10).all() and (it.storage_rate == 0.12).all()
    assert (it.obsolescence_rate == 0.05).all()
    assert not it.has_emergency.any()
    assert list(inst.suppliers.name) == ["near", "far"]
    np.testing.assert_allclose(inst.suppliers.recovery_prob, [0.5, 0.25])
    assert inst.source.endswith("instance.toml")


def test_name_defaults_to_folder_and_description_to_empty(case: Case) -> None:
    del case.toml["name"], case.toml["description"]
    inst = load_instance(case.write())
    assert inst.name == "tiny"
    assert inst.description == ""


def test_path_of_instance_toml_is_accepted(case: Case) -> None:
    folder = case.write()
    inst = load_instance(str(folder / "instance.toml"))
    assert inst.name == "tiny" and len(inst.items) == 3


def test_all_optional_columns_and_tables(case: Case) -> None:
    case.plan.update(warmup=2, inventory_budget=5000.0, storage_capacity=500.0)
    case.toml["black_swan"] = {"probability": 0.02, "duration": 6, "demand_multiplier": 1.6}
    case.toml["risk"] = {"cvar_alpha": 0.9, "cvar_weight": 0.25}
    optional = {
        "demand_dist": ["Poisson", "negbin", ""],
        "emergency_premium": ["3", "25", ""],
        "emergency_capacity": ["", "5", ""],
        "reservation_fee": ["", "0.5", ""],
        "min_fill_rate": ["0.95", "", ""],
        "volume": ["1", "3", "0.5"],
        "capital_rate": ["", "0.2", ""],
        "storage_rate": ["0", "", ""],
        "obsolescence_rate": ["", "", "0.3"],
    }
    for column, values in optional.items():
        for row, value in enumerate(values, start=1):
            case.cell(row, column, value)
    case.items[0]["demand_std"] = ""  # poisson: may be empty
    case.items[1]["demand_std"] = "3"  # negbin: variance 9 > mean 4
    inst = load_instance(case.write())
    it = inst.items
    assert list(it.demand_dist) == ["poisson", "negbin", "normal"]
    assert it.demand_std[0] == pytest.approx(math.sqrt(20))
    np.testing.assert_array_equal(it.emergency_premium, [3, 25, np.nan])
    np.testing.assert_array_equal(it.emergency_capacity, [np.inf, 5, np.inf])
    np.testing.assert_array_equal(it.reservation_fee, [np.nan, 0.5, np.nan])
    np.testing.assert_array_equal(it.min_fill_rate, [0.95, np.nan, np.nan])
    np.testing.assert_array_equal(it.volume, [1, 3, 0.5])
    np.testing.assert_array_equal(it.capital_rate, [0.1, 0.2, 0.1])
    np.testing.assert_array_equal(it.storage_rate, [0, 0.12, 0.12])
    np.testing.assert_array_equal(it.obsolescence_rate, [0.05, 0.05, 0.3])
    assert list(it.has_emergency) == [True, True, False]
    assert list(it.reserves_capacity) == [False, True, False]
    assert inst.plan.warmup == 2 and inst.warmup == 2
    assert inst.plan.inventory_budget == 5000.0 and inst.plan.storage_capacity == 500.0
    assert inst.black_swan is not None and inst.black_swan.duration == 6
    assert inst.black_swan.demand_multiplier == 1.6
    assert inst.risk.cvar_alpha == 0.9 and inst.risk.cvar_weight == 0.25


def test_black_swan_multiplier_defaults_to_one(case: Case) -> None:
    case.toml["black_swan"] = {"probability": 0.1, "duration": 2}
    inst = load_instance(case.write())
    assert inst.black_swan is not None and inst.black_swan.demand_multiplier == 1.0


def test_missing_folder(tmp_path: Path) -> None:
    p = only_problem(tmp_path / "nowhere")
    check(p, str(tmp_path / "nowhere"), words=("instance folder not found",))


def test_path_to_a_csv_is_not_an_instance(case: Case) -> None:
    folder = case.write()
    check(only_problem(folder / "items.csv"), str(folder / "items.csv"), words=("not an",))


@pytest.mark.parametrize("file", ["instance.toml", "items.csv", "suppliers.csv"])
def test_missing_file(case: Case, file: str) -> None:
    folder = case.write()
    (folder / file).unlink()
    check(only_problem(folder), file, words=("file not found",))


def test_missing_toml_given_by_path(case: Case) -> None:
    folder = case.write()
    check(only_problem(folder / "other.toml"), "other.toml", words=("file not found",))


def test_all_problems_are_reported_together(case: Case) -> None:
    case.plan["perods"] = 13
    case.plan["seed"] = -3
    case.cell(1, "unit_cost", "abc")
    case.cell(3, "lead_time", "0.5")
    case.cell(2, "recovery_prob", "0", table="suppliers")
    case.suppliers.append(dict(case.suppliers[0]))
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(case.write())
    found = info.value.problems
    assert len(found) == 6, "\n".join(map(str, found))
    find(found, "instance.toml", "plan.perods", "unknown key")
    find(found, "instance.toml", "plan.seed", "0 or more")
    assert find(found, "items.csv", "unit_cost", "must be a number").row == 2
    assert find(found, "items.csv", "lead_time", "whole number").item == "C"
    find(found, "suppliers.csv", "recovery_prob", "never recovers")
    assert find(found, "suppliers.csv", "supplier", "duplicate").row == 4
    message = str(info.value)
    assert "6 problem(s)" in message
    assert "items.csv, row 2, item 'A', column 'unit_cost'" in message


def test_error_exit_code() -> None:
    assert InvalidInstanceError.exit_code == EXIT_INVALID_INPUT == 3
    assert InvalidInstanceError([]).exit_code == 3


def test_demo_instance() -> None:
    inst = load_instance(INSTANCES / "demo")
    it = inst.items
    assert inst.name == "demo" and len(inst.description) > 100
    assert len(it) == 30 and list(inst.suppliers.name) == ["domestic", "nearshore", "overseas"]
    assert (inst.plan.periods, inst.plan.periods_per_year) == (13, 52.0)
    assert (inst.plan.scenarios, inst.plan.seed, inst.plan.shortage) == (200, 42, "lost_sales")
    assert inst.black_swan is not None and inst.black_swan.probability == 0.02
    assert inst.risk.cvar_alpha == 0.95 and inst.risk.cvar_weight == 0.0
    assert it.demand_mean.min() == 2 and it.demand_mean.max() == 400
    assert it.unit_cost.min() == 2 and it.unit_cost.max() == 1500
    assert it.lead_time.min() == 0 and it.lead_time.max() == 6
    overseas = it.supplier == 2
    assert (it.lead_time[overseas] >= 4).all()
    assert set(it.demand_dist) == {"normal", "poisson", "gamma", "lognormal", "negbin"}
    assert (it.demand_dist == "normal").sum() > len(it) / 2
    ratio = it.stockout_penalty / it.unit_cost
    assert ratio.min() >= 0.3 and ratio.max() <= 1.5
    assert 8 <= it.has_emergency.sum() <= 12 and it.reserves_capacity.sum() == 2
    share = (it.emergency_premium / it.unit_cost)[it.has_emergency]
    assert share.min() >= 0.15 and share.max() <= 0.40
    assert (it.emergency_premium[it.has_emergency] < it.stockout_penalty[it.has_emergency]).all()
    assert (it.obsolescence_rate == 0.30).sum() >= 3


def test_textbook_instances() -> None:
    t43 = load_instance(INSTANCES / "textbook_4_3")
    assert t43.plan.shortage == "backorder" and t43.plan.periods_per_year == 1
    assert t43.holding_cost[0] == pytest.approx(0.18)
    assert (t43.items.demand_mean[0], t43.items.demand_std[0]) == (50, 8)
    assert t43.items.stockout_penalty[0] == 0.70 and t43.suppliers.disruption_prob[0] == 0
    t93 = load_instance(INSTANCES / "textbook_9_3")
    assert t93.holding_cost[0] == pytest.approx(0.25)
    assert (t93.items.demand_mean[0], t93.items.demand_std[0]) == (2000, 0)
    assert t93.items.stockout_penalty[0] == 3
    np.testing.assert_array_equal(t93.suppliers.disruption_prob, [0.04])
    np.testing.assert_array_equal(t93.suppliers.recovery_prob, [0.25])
    assert (t93.plan.scenarios, t93.plan.seed) == (2000, 11)
