"""Tests of :mod:`optimizer.instance.io`: every input rule, explicit scenarios, round trips.

Instances are written to ``tmp_path`` by :class:`Case`, a small valid instance (three
items, two suppliers) that a test mutates one cell or key at a time before writing.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimizer.errors import EXIT_INVALID_INPUT, InputProblem, InvalidInstanceError
from optimizer.instance import Instance, Items, Suppliers
from optimizer.instance.io import MAX_REPORTED, load_instance, write_instance

INSTANCES = Path(__file__).resolve().parents[1] / "instances"

BASE_TOML: dict[str, Any] = {
    "name": "tiny",
    "description": "three items, two suppliers",
    "plan": {
        "periods": 3,
        "periods_per_year": 52,
        "scenarios": 10,
        "seed": 1,
        "shortage": "lost_sales",
        "capital_rate": 0.10,
        "storage_rate": 0.12,
        "obsolescence_rate": 0.05,
    },
}
BASE_ITEMS: list[dict[str, str]] = [
    {
        "item": "A",
        "supplier": "near",
        "unit_cost": "10",
        "demand_mean": "20",
        "demand_std": "5",
        "lead_time": "1",
        "stockout_penalty": "8",
    },
    {
        "item": "B",
        "supplier": "far",
        "unit_cost": "100",
        "demand_mean": "4",
        "demand_std": "2",
        "lead_time": "2",
        "stockout_penalty": "60",
    },
    {
        "item": "C",
        "supplier": "near",
        "unit_cost": "2",
        "demand_mean": "50",
        "demand_std": "10",
        "lead_time": "0",
        "stockout_penalty": "1",
    },
]
BASE_SUPPLIERS: list[dict[str, str]] = [
    {"supplier": "near", "disruption_prob": "0.01", "recovery_prob": "0.5"},
    {"supplier": "far", "disruption_prob": "0.05", "recovery_prob": "0.25"},
]
# pipeline value sum(c * L * mu) = 10*1*20 + 100*2*4 + 2*0*50
PIPELINE_VALUE = 1000.0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def to_toml(data: dict[str, Any]) -> str:
    """Tiny TOML writer for test data: scalars first, then one level of tables."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    """Write dict rows as CSV; columns default to the union of keys in order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Case:
    """A valid instance to mutate, then :meth:`write` to ``root``."""

    root: Path
    toml: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(BASE_TOML))
    items: list[dict[str, str]] = field(default_factory=lambda: copy.deepcopy(BASE_ITEMS))
    suppliers: list[dict[str, str]] = field(default_factory=lambda: copy.deepcopy(BASE_SUPPLIERS))
    scenarios: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def plan(self) -> dict[str, Any]:
        return self.toml["plan"]

    def cell(self, row: int, column: str, value: str, table: str = "items") -> Case:
        """Set the cell of 1-based data ``row``; a new column is added empty elsewhere."""
        rows = self.items if table == "items" else self.suppliers
        for r in rows:
            r.setdefault(column, "")
        rows[row - 1][column] = value
        return self

    def drop(self, column: str, table: str = "items") -> Case:
        for r in self.items if table == "items" else self.suppliers:
            r.pop(column, None)
        return self

    def write(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "instance.toml").write_text(to_toml(self.toml), encoding="utf-8")
        write_rows(self.root / "items.csv", self.items)
        write_rows(self.root / "suppliers.csv", self.suppliers)
        for name, rows in self.scenarios.items():
            write_rows(self.root / "scenarios" / name, rows)
        return self.root


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def problems_of(path: Path) -> list[InputProblem]:
    """Problems raised by :func:`load_instance` (fails when it loads)."""
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(path)
    assert info.value.problems, "InvalidInstanceError without problems"
    return info.value.problems


def only_problem(path: Path) -> InputProblem:
    """The one problem of ``path``; fails when there are none or several."""
    found = problems_of(path)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def check(
    problem: InputProblem,
    file: str,
    *,
    row: int | None = None,
    item: str | None = None,
    column: str | None = None,
    words: tuple[str, ...] = (),
) -> None:
    """Assert the location of ``problem`` and that its rule contains ``words``."""
    assert problem.file == file, str(problem)
    assert problem.row == row, str(problem)
    assert problem.item == item, str(problem)
    assert problem.column == column, str(problem)
    for word in words:
        assert word.lower() in problem.rule.lower(), f"{word!r} not in {problem}"


def find(found: list[InputProblem], file: str, column: str | None, word: str) -> InputProblem:
    """The problem of ``file`` / ``column`` whose rule contains ``word``."""
    hits = [p for p in found if p.file == file and p.column == column and word in p.rule]
    assert hits, f"no {file}/{column} problem with {word!r} in:\n" + "\n".join(map(str, found))
    return hits[0]


# --------------------------------------------------------------------------------------
# valid instances
# --------------------------------------------------------------------------------------


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


def test_blanks_bom_and_blank_lines_are_tolerated(case: Case) -> None:
    folder = case.write()
    text = (folder / "items.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    spaced = ", ".join(header.split(",")) + "\n\n" + "\n".join(rows) + "\n"
    (folder / "items.csv").write_text("\ufeff" + spaced, encoding="utf-8")
    inst = load_instance(folder)
    assert list(inst.items.name) == ["A", "B", "C"]


def test_poisson_std_mismatch_only_warns(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    case.cell(1, "demand_dist", "poisson")  # mean 20, std 5 != sqrt(20)
    with caplog.at_level(logging.WARNING, logger="optimizer.instance.io"):
        inst = load_instance(case.write())
    assert inst.items.demand_std[0] == pytest.approx(math.sqrt(20))
    assert any("poisson" in r.message and "'A'" in r.message for r in caplog.records)


def test_poisson_std_within_one_percent_is_silent(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    case.cell(1, "demand_dist", "poisson").cell(1, "demand_std", "4.47")
    with caplog.at_level(logging.WARNING, logger="optimizer.instance.io"):
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


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


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


def test_malformed_toml(case: Case) -> None:
    folder = case.write()
    (folder / "instance.toml").write_text("[plan]\nperiods = = 13\n", encoding="utf-8")
    check(only_problem(folder), "instance.toml", words=("not valid toml", "line 2"))


@pytest.mark.parametrize("file", ["items.csv", "suppliers.csv"])
def test_empty_csv(case: Case, file: str) -> None:
    folder = case.write()
    (folder / file).write_text("", encoding="utf-8")
    check(only_problem(folder), file, words=("file is empty",))


@pytest.mark.parametrize("file", ["items.csv", "suppliers.csv"])
def test_header_only_csv(case: Case, file: str) -> None:
    folder = case.write()
    header = (folder / file).read_text(encoding="utf-8").splitlines()[0]
    (folder / file).write_text(header + "\n", encoding="utf-8")
    check(only_problem(folder), file, words=("no data rows",))


def test_row_with_extra_cells(case: Case) -> None:
    folder = case.write()
    lines = (folder / "items.csv").read_text(encoding="utf-8").splitlines()
    lines[2] += ",surplus"
    (folder / "items.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = only_problem(folder)
    check(p, "items.csv", row=2, words=("8 cells", "7 columns"))


def test_unterminated_quote(case: Case) -> None:
    folder = case.write()
    with (folder / "items.csv").open("a", encoding="utf-8") as f:
        f.write('"D,near,1,1,1,0,1\n')
    check(only_problem(folder), "items.csv", words=("cannot parse",))


def test_not_utf8(case: Case) -> None:
    folder = case.write()
    (folder / "suppliers.csv").write_bytes(b"supplier,disruption_prob\n\xff\xfe,0\n")
    check(only_problem(folder), "suppliers.csv", words=("utf-8",))


# --------------------------------------------------------------------------------------
# instance.toml
# --------------------------------------------------------------------------------------


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
        ("periods_per_year", 0, ("greater than 0",)),
        ("periods_per_year", "weekly", ("must be a number",)),
        ("periods_per_year", math.inf, ("finite",)),
        ("scenarios", -1, ("greater than 0",)),
        ("seed", -1, ("0 or more",)),
        ("seed", True, ("whole number",)),
        ("shortage", "lost", ("'lost_sales' or 'backorder'",)),
        ("capital_rate", -0.1, ("0 or more",)),
        ("storage_rate", math.nan, ("finite",)),
        ("obsolescence_rate", math.inf, ("finite",)),
        ("warmup", -1, ("0 or more",)),
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
        ("duration", 0, ("at least 1",)),
        ("duration", 2.5, ("whole number",)),
        ("demand_multiplier", 0, ("greater than 0",)),
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
    check(p, "items.csv", row=2, item="B", column="volume", words=("required", "storage_capacity"))


# --------------------------------------------------------------------------------------
# items.csv
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    ["item", "supplier", "unit_cost", "demand_mean", "demand_std", "lead_time", "stockout_penalty"],
)
def test_missing_required_item_column(case: Case, column: str) -> None:
    p = only_problem(case.drop(column).write())
    check(p, "items.csv", column=column, words=("missing required column",))


def test_unknown_item_column(case: Case) -> None:
    p = only_problem(case.cell(1, "demand_sd", "3").write())
    check(p, "items.csv", column="demand_sd", words=("unknown column", "did you mean 'demand_std'"))


def test_duplicate_item_column(case: Case) -> None:
    folder = case.write()
    lines = (folder / "items.csv").read_text(encoding="utf-8").splitlines()
    lines = [line + "," + line.split(",")[2] for line in lines]  # repeat unit_cost
    (folder / "items.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(only_problem(folder), "items.csv", column="unit_cost", words=("more than once",))


def test_unnamed_item_column(case: Case) -> None:
    folder = case.write()
    lines = (folder / "items.csv").read_text(encoding="utf-8").splitlines()
    lines = [line + "," for line in lines]
    (folder / "items.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(only_problem(folder), "items.csv", words=("column 8 has no name",))


@pytest.mark.parametrize(
    ("column", "value", "extra", "words"),
    [
        ("unit_cost", "abc", {}, ("must be a number", "'abc'")),
        ("unit_cost", "nan", {}, ("finite",)),
        ("unit_cost", "inf", {}, ("finite",)),
        ("unit_cost", "0", {}, ("greater than 0",)),
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
    check(p, "items.csv", row=2, item="B", column=column, words=(column, *words))


def test_duplicate_item_id(case: Case) -> None:
    case.cell(3, "item", "A")
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="A", column="item", words=("duplicate", "row 1"))


def test_empty_item_id(case: Case) -> None:
    p = only_problem(case.cell(2, "item", "  ").write())
    check(p, "items.csv", row=2, column="item", words=("empty",))


def test_unknown_supplier(case: Case) -> None:
    p = only_problem(case.cell(3, "supplier", "mars").write())
    check(p, "items.csv", row=3, item="C", column="supplier", words=("'mars'", "suppliers.csv"))


def test_empty_supplier(case: Case) -> None:
    p = only_problem(case.cell(3, "supplier", "").write())
    check(p, "items.csv", row=3, item="C", column="supplier", words=("empty",))


@pytest.mark.parametrize(("mean", "std"), [("4", "2"), ("4", "1"), ("0", "0")])
def test_negbin_needs_variance_above_mean(case: Case, mean: str, std: str) -> None:
    case.cell(2, "demand_dist", "negbin").cell(2, "demand_mean", mean).cell(2, "demand_std", std)
    p = only_problem(case.write())
    check(p, "items.csv", row=2, item="B", column="demand_std", words=("variance > mean",))


@pytest.mark.parametrize("dist", ["gamma", "lognormal"])
def test_skewed_demand_needs_positive_mean(case: Case, dist: str) -> None:
    case.cell(2, "demand_dist", dist).cell(2, "demand_mean", "0")
    p = only_problem(case.write())
    check(p, "items.csv", row=2, item="B", column="demand_mean", words=(dist, "demand_mean > 0"))


@pytest.mark.parametrize("column", ["emergency_capacity", "reservation_fee"])
def test_emergency_field_needs_premium(case: Case, column: str) -> None:
    case.cell(1, "emergency_premium", "").cell(1, column, "5")
    p = only_problem(case.write())
    check(
        p,
        "items.csv",
        row=1,
        item="A",
        column=column,
        words=(f"{column} needs an emergency_premium",),
    )


def test_many_bad_rows_are_capped(case: Case) -> None:
    template = case.items[2]
    case.items += [dict(template, item=f"X{k}", unit_cost="-1") for k in range(MAX_REPORTED + 5)]
    found = problems_of(case.write())
    assert len(found) == MAX_REPORTED + 1
    assert "5 more rows" in found[-1].rule and found[-1].column == "unit_cost"


# --------------------------------------------------------------------------------------
# suppliers.csv
# --------------------------------------------------------------------------------------


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
    check(p, "suppliers.csv", row=2, item="far", column=column, words=(column, *words))


def test_duplicate_supplier(case: Case) -> None:
    case.suppliers.append(dict(case.suppliers[0]))
    p = only_problem(case.write())
    check(p, "suppliers.csv", row=3, item="near", column="supplier", words=("duplicate", "row 1"))


def test_supplier_that_never_recovers(case: Case) -> None:
    case.cell(2, "recovery_prob", "0", table="suppliers")
    p = only_problem(case.write())
    check(p, "suppliers.csv", row=2, item="far", column="recovery_prob", words=("never recovers",))


@pytest.mark.parametrize("column", ["supplier", "disruption_prob", "recovery_prob"])
def test_missing_supplier_column(case: Case, column: str) -> None:
    p = only_problem(case.drop(column, table="suppliers").write())
    check(p, "suppliers.csv", column=column, words=("missing required column",))


def test_unknown_supplier_column(case: Case) -> None:
    p = only_problem(case.cell(1, "lead_time", "3", table="suppliers").write())
    check(p, "suppliers.csv", column="lead_time", words=("unknown column",))


# --------------------------------------------------------------------------------------
# several problems at once
# --------------------------------------------------------------------------------------


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
    assert find(found, "items.csv", "unit_cost", "must be a number").row == 1
    assert find(found, "items.csv", "lead_time", "whole number").item == "C"
    find(found, "suppliers.csv", "recovery_prob", "never recovers")
    assert find(found, "suppliers.csv", "supplier", "duplicate").row == 3
    message = str(info.value)
    assert "6 problem(s)" in message
    assert "items.csv, row 1, item 'A', column 'unit_cost'" in message


def test_error_exit_code() -> None:
    assert InvalidInstanceError.exit_code == EXIT_INVALID_INPUT == 3
    assert InvalidInstanceError([]).exit_code == 3


# --------------------------------------------------------------------------------------
# explicit scenarios
# --------------------------------------------------------------------------------------

HORIZON = 5  # warmup 2 + periods 3


def demand_rows(scenarios: list[str], horizon: int = HORIZON) -> list[dict[str, str]]:
    """Complete demand rows: demand = 100*scenario index + 10*period + item index."""
    return [
        {"scenario": s, "period": str(t), "item": item, "demand": str(100 * k + 10 * t + i)}
        for k, s in enumerate(scenarios)
        for t in range(1, horizon + 1)
        for i, item in enumerate(["A", "B", "C"])
    ]


def supply_rows(scenarios: list[str], down: set[tuple[str, int, str]]) -> list[dict[str, str]]:
    return [
        {
            "scenario": s,
            "period": str(t),
            "supplier": sup,
            "up": "0" if (s, t, sup) in down else "1",
        }
        for s in scenarios
        for t in range(1, HORIZON + 1)
        for sup in ["near", "far"]
    ]


@pytest.fixture
def explicit(case: Case) -> Case:
    case.plan["warmup"] = 2
    case.scenarios["demand.csv"] = demand_rows(["high", "low"])
    return case


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
        row=len(rows),
        item="A",
        column="item",
        words=("duplicate", "'high'", "period 2", "row 4"),
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
    check(p, "scenarios/demand.csv", row=2, item="B", column=column, words=words)


def test_unknown_item_in_demand(explicit: Case) -> None:
    rows = explicit.scenarios["demand.csv"]
    rows.append({"scenario": "high", "period": "1", "item": "Z", "demand": "1"})
    rows.append({"scenario": "low", "period": "1", "item": "Z", "demand": "1"})
    p = only_problem(explicit.write())
    check(
        p,
        "scenarios/demand.csv",
        row=len(rows) - 1,
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
        row=len(rows),
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
        row=len(rows),
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
    check(p, "scenarios/supply.csv", row=4, item="far", column="up", words=words)


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
        ([("high", "1.5"), ("low", "-0.5")], "probability", 1, ("between 0 and 1",)),
        ([("high", "0.5"), ("low", "0.4")], "probability", None, ("sum to 0.9", "not 1")),
        ([("high", "0.5"), ("low", "0.5"), ("mid", "0")], "scenario", 3, ("'mid'", "not in")),
        ([("high", "1")], "scenario", None, ("1 scenario(s)", "'low'", "no probability")),
        ([("high", "0.5"), ("high", "0.5")], "scenario", 2, ("duplicate",)),
        ([("high", "x"), ("low", "1")], "probability", 1, ("must be a number",)),
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


# --------------------------------------------------------------------------------------
# write_instance round trips
# --------------------------------------------------------------------------------------


def assert_same_instance(a: Instance, b: Instance) -> None:
    """Every field equal (``nan`` equal to ``nan``), except ``source``."""
    assert (a.name, a.description) == (b.name, b.description)
    assert a.plan == b.plan and a.black_swan == b.black_swan and a.risk == b.risk
    for part, cls in ((a.items, Items), (a.suppliers, Suppliers)):
        other = b.items if cls is Items else b.suppliers
        for f in fields(cls):
            x, y = getattr(part, f.name), getattr(other, f.name)
            assert x.dtype.kind == y.dtype.kind, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
    assert (a.explicit is None) == (b.explicit is None)
    if a.explicit is not None and b.explicit is not None:
        for f in fields(a.explicit):
            np.testing.assert_array_equal(getattr(a.explicit, f.name), getattr(b.explicit, f.name))


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


# --------------------------------------------------------------------------------------
# bundled instances
# --------------------------------------------------------------------------------------


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
