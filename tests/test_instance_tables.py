"""Tests of :mod:`optimizer.instance.tables`: reading CSV files, headers, ids, capped reports.

Instances are written by :class:`tests.instance_cases.Case` (see there).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.instance import load_instance
from optimizer.instance.problems import MAX_REPORTED
from tests.instance_cases import (
    Case,
    check,
    only_problem,
    problems_of,
)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


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
    check(p, "items.csv", row=3, words=("8 cells", "7 columns"))


def test_unterminated_quote(case: Case) -> None:
    folder = case.write()
    with (folder / "items.csv").open("a", encoding="utf-8") as f:
        f.write('"D,near,1,1,1,0,1\n')
    check(only_problem(folder), "items.csv", words=("cannot parse",))


def test_not_utf8(case: Case) -> None:
    folder = case.write()
    (folder / "suppliers.csv").write_bytes(b"supplier,disruption_prob\n\xff\xfe,0\n")
    check(only_problem(folder), "suppliers.csv", words=("utf-8",))


def test_blanks_bom_and_blank_lines_are_tolerated(case: Case) -> None:
    folder = case.write()
    text = (folder / "items.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    spaced = ", ".join(header.split(",")) + "\n\n" + "\n".join(rows) + "\n"
    (folder / "items.csv").write_text("\ufeff" + spaced, encoding="utf-8")
    inst = load_instance(folder)
    assert list(inst.items.name) == ["A", "B", "C"]


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
    lines[2] += "surplus"
    (folder / "items.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(only_problem(folder), "items.csv", words=("column 8 has no name",))


def test_unnamed_empty_column_is_ignored(case: Case) -> None:
    """A spreadsheet writes a trailing separator for an empty, formatted column."""
    folder = case.write()
    lines = (folder / "items.csv").read_text(encoding="utf-8").splitlines()
    (folder / "items.csv").write_text("\n".join(f"{x}," for x in lines) + "\n", encoding="utf-8")
    assert list(load_instance(folder).items.name) == ["A", "B", "C"]


def test_many_bad_rows_are_capped(case: Case) -> None:
    template = case.items[2]
    case.items += [dict(template, item=f"X{k}", unit_cost="-1") for k in range(MAX_REPORTED + 5)]
    found = problems_of(case.write())
    assert len(found) == MAX_REPORTED + 1
    assert "5 more rows" in found[-1].rule and found[-1].column == "unit_cost"


def test_duplicate_item_id(case: Case) -> None:
    case.cell(3, "item", "A")
    p = only_problem(case.write())
    check(p, "items.csv", row=4, item="A", column="item", words=("duplicate", "row 2"))


def test_empty_item_id(case: Case) -> None:
    p = only_problem(case.cell(2, "item", "  ").write())
    check(p, "items.csv", row=3, column="item", words=("empty",))


def test_duplicate_supplier(case: Case) -> None:
    case.suppliers.append(dict(case.suppliers[0]))
    p = only_problem(case.write())
    check(p, "suppliers.csv", row=4, item="near", column="supplier", words=("duplicate", "row 2"))


@pytest.mark.parametrize("column", ["supplier", "disruption_prob", "recovery_prob"])
def test_missing_supplier_column(case: Case, column: str) -> None:
    p = only_problem(case.drop(column, table="suppliers").write())
    check(p, "suppliers.csv", column=column, words=("missing required column",))


def test_unknown_supplier_column(case: Case) -> None:
    p = only_problem(case.cell(1, "lead_time", "3", table="suppliers").write())
    check(p, "suppliers.csv", column="lead_time", words=("unknown column",))
