"""Tests of :mod:`optimizer.instance.catalogue`: items.csv, suppliers.csv, [plan] against items.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from optimizer.instance import load_instance
from tests.instance_cases import (
    PIPELINE_VALUE,
    Case,
    check,
    only_problem,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def test_poisson_std_mismatch_only_warns(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    case.cell(1, "demand_dist", "poisson")  # mean 20, std 5 != sqrt(20)
    with caplog.at_level(logging.WARNING, logger="optimizer.instance.catalogue"):
        inst = load_instance(case.write())
    assert inst.items.demand_std[0] == pytest.approx(math.sqrt(20))
    assert any("poisson" in r.message and "'A'" in r.message for r in caplog.records)


def test_poisson_std_within_one_percent_is_silent(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    case.cell(1, "demand_dist", "poisson").cell(1, "demand_std", "4.47")
    with caplog.at_level(logging.WARNING, logger="optimizer.instance.catalogue"):
        load_instance(case.write())
    assert not caplog.records


@pytest.mark.parametrize(
    ("dist", "mean", "std"),
    [("negbin", "4", "3"), ("gamma", "0", "0"), ("lognormal", "0", "0"), ("normal", "0", "0")],
)
def test_valid_distribution_parameters(case: Case, dist: str, mean: str, std: str) -> None:
    case.cell(2, "demand_dist", dist).cell(2, "demand_mean", mean).cell(2, "demand_std", std)
    assert load_instance(case.write()).items.demand_dist[1] == dist


def test_supplier_that_never_fails_is_valid(case: Case) -> None:
    case.cell(1, "disruption_prob", "0", table="suppliers")
    case.cell(1, "recovery_prob", "0", table="suppliers")
    assert load_instance(case.write()).suppliers.disruption_prob[0] == 0


def test_budget_and_storage_equal_to_pipeline_are_feasible(case: Case) -> None:
    for row, volume in enumerate(["1", "3", "0.5"], start=1):
        case.cell(row, "volume", volume)
    case.plan.update(inventory_budget=PIPELINE_VALUE, storage_capacity=44.0, warmup=2)
    inst = load_instance(case.write())
    assert inst.plan.inventory_budget == PIPELINE_VALUE


def test_warmup_shorter_than_longest_lead_time(case: Case) -> None:
    case.plan["warmup"] = 1
    p = only_problem(case.write())
    check(
        p,
        "instance.toml",
        item="B",
        column="plan.warmup",
        words=("warmup = 1", "longest lead time", "2 periods", "fill the pipeline"),
    )


def test_inventory_budget_below_pipeline(case: Case) -> None:
    case.plan["inventory_budget"] = 999.0
    p = only_problem(case.write())
    check(p, "instance.toml", column="plan.inventory_budget", words=("999", "1000", "pipeline"))


def test_storage_capacity_below_pipeline(case: Case) -> None:
    for row, volume in enumerate(["1", "3", "0.5"], start=1):
        case.cell(row, "volume", volume)
    case.plan["storage_capacity"] = 43.0  # pipeline volume 1*1*20 + 3*2*4 = 44
    p = only_problem(case.write())
    check(p, "instance.toml", column="plan.storage_capacity", words=("43", "44", "pipeline"))


def test_volume_column_required_with_storage_capacity(case: Case) -> None:
    case.plan["storage_capacity"] = 100.0
    p = only_problem(case.write())
    check(p, "items.csv", column="volume", words=("storage_capacity",))


def test_volume_cell_required_with_storage_capacity(case: Case) -> None:
    case.plan["storage_capacity"] = 100.0
    for row, volume in enumerate(["1", "", "0.5"], start=1):
        case.cell(row, "volume", volume)
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column="volume", words=("required", "storage_capacity"))


@pytest.mark.parametrize(
    ("column", "value", "extra", "words"),
    [
        ("unit_cost", "abc", {}, ("must be a number", "'abc'")),
        ("unit_cost", "nan", {}, ("finite",)),
        ("unit_cost", "inf", {}, ("finite",)),
        ("unit_cost", "0", {}, ("greater than 0",)),
        ("unit_cost", "1e-7", {}, ("at least 1e-06",)),
        ("unit_cost", "-5", {}, ("greater than 0",)),
        ("unit_cost", "", {}, ("required",)),
        ("demand_mean", "-1", {}, ("0 or more",)),
        ("demand_mean", "lots", {}, ("must be a number",)),
        ("demand_std", "-1", {}, ("0 or more",)),
        ("demand_std", "", {}, ("required", "poisson")),
        ("lead_time", "-1", {}, ("0 or more",)),
        ("lead_time", "1.5", {}, ("whole number of periods",)),
        ("lead_time", "NaN", {}, ("finite",)),
        ("stockout_penalty", "-0.5", {}, ("0 or more",)),
        ("emergency_premium", "-1", {}, ("0 or more",)),
        ("emergency_capacity", "-1", {"emergency_premium": "2"}, ("0 or more",)),
        ("reservation_fee", "-1", {"emergency_premium": "2"}, ("0 or more",)),
        ("min_fill_rate", "1.2", {}, ("between 0 and 1",)),
        ("min_fill_rate", "-0.1", {}, ("between 0 and 1",)),
        ("volume", "-1", {}, ("0 or more",)),
        ("capital_rate", "-0.1", {}, ("0 or more",)),
        ("storage_rate", "inf", {}, ("finite",)),
        ("obsolescence_rate", "x", {}, ("must be a number",)),
        ("demand_dist", "weibull", {}, ("must be one of", "negbin", "'weibull'")),
    ],
)
def test_bad_item_cell(
    case: Case, column: str, value: str, extra: dict[str, str], words: tuple[str, ...]
) -> None:
    for key, other in extra.items():
        case.cell(2, key, other)
    case.cell(2, column, value)
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column=column, words=(column, *words))


def test_unknown_supplier(case: Case) -> None:
    p = only_problem(case.cell(3, "supplier", "mars").write())
    check(p, "items.csv", row=4, item="C", column="supplier", words=("'mars'", "suppliers.csv"))


def test_empty_supplier(case: Case) -> None:
    p = only_problem(case.cell(3, "supplier", "").write())
    check(p, "items.csv", row=4, item="C", column="supplier", words=("empty",))


@pytest.mark.parametrize(("mean", "std"), [("4", "2"), ("4", "1"), ("0", "0")])
def test_negbin_needs_variance_above_mean(case: Case, mean: str, std: str) -> None:
    case.cell(2, "demand_dist", "negbin").cell(2, "demand_mean", mean).cell(2, "demand_std", std)
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column="demand_std", words=("variance > mean",))


@pytest.mark.parametrize("dist", ["gamma", "lognormal"])
def test_skewed_demand_needs_positive_mean(case: Case, dist: str) -> None:
    case.cell(2, "demand_dist", dist).cell(2, "demand_mean", "0")
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column="demand_mean", words=(dist, "demand_mean > 0"))


@pytest.mark.parametrize("column", ["emergency_capacity", "reservation_fee"])
def test_emergency_field_needs_premium(case: Case, column: str) -> None:
    case.cell(1, "emergency_premium", "").cell(1, column, "5")
    p = only_problem(case.write())
    check(
        p,
        "items.csv",
        row=2,
        item="A",
        column=column,
        words=(f"{column} needs an emergency_premium",),
    )


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("disruption_prob", "1.5", ("between 0 and 1",)),
        ("disruption_prob", "-0.1", ("between 0 and 1",)),
        ("recovery_prob", "often", ("must be a number",)),
        ("recovery_prob", "nan", ("finite",)),
        ("disruption_prob", "inf", ("finite",)),
        ("recovery_prob", "", ("required",)),
    ],
)
def test_bad_supplier_cell(case: Case, column: str, value: str, words: tuple[str, ...]) -> None:
    case.cell(2, column, value, table="suppliers")
    p = only_problem(case.write())
    check(p, "suppliers.csv", row=3, item="far", column=column, words=(column, *words))


def test_supplier_that_never_recovers(case: Case) -> None:
    case.cell(2, "recovery_prob", "0", table="suppliers")
    p = only_problem(case.write())
    check(p, "suppliers.csv", row=3, item="far", column="recovery_prob", words=("never recovers",))
