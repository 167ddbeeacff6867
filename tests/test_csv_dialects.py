"""CSV files as spreadsheets write them (README, "Instance files"; issue 10, point 2).

Separators ``,`` ``;`` and tab found from the header line, decimal commas where the
separator is not a comma, UTF-8 with or without BOM, CRLF, header names in any case with
blanks around them; thousands separators refused with the number to write instead; the
row of every message is the spreadsheet's line (header line 1, blank lines counted).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest

from optimizer.instance import load_instance
from tests.instance_cases import Case, assert_same_instance, check, explicit_case, only_problem

TEXT_COLUMNS = ("item", "supplier", "scenario", "demand_dist")
CSV_FILES = ("items.csv", "suppliers.csv", "scenarios/demand.csv", "scenarios/probability.csv")


def european(folder: Path, *, separator: str = ";", bom: bool = True) -> None:
    """Rewrite every CSV file of ``folder`` as a European Excel saves it.

    ``;`` (or ``separator``) between cells, decimal commas in the numeric columns, a
    byte-order mark and CRLF line ends.
    """
    for name in CSV_FILES:
        path = folder / name
        if not path.exists():
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        header = rows[0]
        out = io.StringIO()
        writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows[1:]:
            writer.writerow(
                cell if header[j] in TEXT_COLUMNS else cell.replace(".", ",")
                for j, cell in enumerate(row)
            )
        data = out.getvalue().encode("utf-8")
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    case = Case(tmp_path / "tiny")
    case.cell(1, "demand_std", "5.25").cell(2, "volume", "0.125")
    return case


@pytest.mark.parametrize("separator", [";", "\t"])
def test_european_files_read_as_the_plain_ones(case: Case, separator: str) -> None:
    plain = load_instance(case.write())
    european(case.root, separator=separator)
    assert ";" in (case.root / "items.csv").read_text(encoding="utf-8-sig") or separator != ";"
    assert "5,25" in (case.root / "items.csv").read_text(encoding="utf-8-sig")
    assert_same_instance(load_instance(case.root), plain)


def test_european_explicit_scenarios(tmp_path: Path) -> None:
    case = explicit_case(Case(tmp_path / "x"))
    for row in case.scenarios["demand.csv"]:
        row["demand"] = f"{row['demand']}.5"
    plain = load_instance(case.write())
    european(case.root)
    assert_same_instance(load_instance(case.root), plain)


def test_the_separator_is_logged(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    european(case.write())
    with caplog.at_level(logging.INFO, logger="optimizer.instance"):
        load_instance(case.root)
    text = caplog.text
    assert "items.csv: semicolon-separated" in text
    assert "items.csv: numbers are written with a decimal comma" in text


def test_no_misleading_cell_count_on_a_semicolon_file(case: Case) -> None:
    """main said "line 2 has 4 cells but the header has 1 columns" here."""
    folder = case.write()
    european(folder, bom=False)
    load_instance(folder)  # no problem at all


def test_headers_in_any_case_with_blanks(case: Case) -> None:
    folder = case.write()
    text = (folder / "items.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    shouted = ",".join(f"  {name.upper()} " for name in header.split(","))
    (folder / "items.csv").write_text(shouted + "\n" + rest, encoding="utf-8")
    assert list(load_instance(folder).items.demand_std) == [5.25, 2.0, 10.0]


def test_a_bom_and_crlf_in_a_comma_file(case: Case) -> None:
    plain = load_instance(case.write())
    for name in ("items.csv", "suppliers.csv"):
        path = case.root / name
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert_same_instance(load_instance(case.root), plain)


def _set_items(folder: Path, edit: callable) -> None:
    path = folder / "items.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def test_row_numbers_are_spreadsheet_lines_with_blank_lines_counted(case: Case) -> None:
    case.cell(3, "unit_cost", "abc")
    folder = case.write()
    _set_items(folder, lambda lines: [lines[0], "", lines[1], "", "", lines[2], lines[3]])
    p = only_problem(folder)
    check(p, "items.csv", row=7, item="C", column="unit_cost", words=("must be a number",))


def test_the_first_data_row_is_line_2(case: Case) -> None:
    p = only_problem(case.cell(1, "lead_time", "x").write())
    check(p, "items.csv", row=2, item="A", column="lead_time", words=("must be a number",))
    assert str(p).startswith("items.csv, row 2, item 'A', column 'lead_time'")


@pytest.mark.parametrize(
    ("separator", "cell", "fix"),
    [
        (",", "1,200", "1200"),
        (",", "1,200.5", "1200.5"),
        (";", "1.200,5", "1200,5"),
        (";", "1.200", "1200"),
        (";", "1 200", "1200"),
        (";", "1\u00a0200,5", "1200,5"),
        ("\t", "1,200.5", "1200,5"),  # a tab file with decimal commas: the fix in its mark
    ],
)
def test_thousands_separators_are_refused_with_the_fix(
    case: Case, separator: str, cell: str, fix: str
) -> None:
    folder = case.write()
    if separator != ",":
        european(folder, separator=separator)
    path = folder / "items.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=separator))
    rows[2][rows[0].index("unit_cost")] = cell
    out = io.StringIO()
    csv.writer(out, delimiter=separator).writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    p = only_problem(folder)
    check(
        p,
        "items.csv",
        row=3,
        item="B",
        column="unit_cost",
        words=("thousands separator", f"write {fix}", "1000 separator"),
    )


def test_a_decimal_comma_in_a_comma_file_is_refused(case: Case) -> None:
    folder = case.write()
    _set_items(folder, lambda lines: [*lines[:2], lines[2].replace(",100,", ',"100,5",'), lines[3]])
    p = only_problem(folder)
    check(p, "items.csv", row=3, item="B", column="unit_cost", words=("decimal comma", "100.5"))


def test_mixed_decimal_marks_in_a_semicolon_file_are_refused(case: Case) -> None:
    folder = case.write()
    european(folder)
    path = folder / "items.csv"
    text = path.read_text(encoding="utf-8-sig").replace("5,25", "5.25")
    path.write_text(text, encoding="utf-8")
    p = only_problem(folder)
    check(
        p,
        "items.csv",
        row=2,
        item="A",
        column="demand_std",
        words=("decimal point", "with a comma", "write 5,25"),
    )


def test_utf16_is_refused_with_the_way_to_save(case: Case) -> None:
    folder = case.write()
    text = (folder / "suppliers.csv").read_text(encoding="utf-8")
    (folder / "suppliers.csv").write_bytes(text.encode("utf-16"))
    check(only_problem(folder), "suppliers.csv", words=("utf-16", "csv utf-8"))


def test_a_cell_with_a_separator_gets_the_quoting_hint(case: Case) -> None:
    folder = case.write()
    european(folder)
    path = folder / "items.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace("C;", "C;x;", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(only_problem(folder), "items.csv", row=4, words=("semicolon inside a cell", "quotes"))


def test_all_empty_rows_a_spreadsheet_leaves_are_skipped(case: Case) -> None:
    folder = case.write()
    european(folder)
    path = folder / "items.csv"
    path.write_text(path.read_text(encoding="utf-8-sig") + ";;;;;;;;\r\n;;;\r\n", encoding="utf-8")
    assert len(load_instance(folder).items) == 3


# --------------------------------------------------------------------------------------
# item master: extra columns of items.csv pass through (issue 10, point 3)
# --------------------------------------------------------------------------------------


def _with_master(case: Case) -> Case:
    for row, (text, cat, abc) in enumerate(
        [("Bolt M8, zinc", "0012", "A"), ("=cable", "1,5", ""), ("Nut", "12", "C")], start=1
    ):
        case.cell(row, "Description", text).cell(row, "category", cat).cell(row, "ABC class", abc)
    return case


def test_item_master_columns_are_kept_as_text(case: Case) -> None:
    inst = load_instance(_with_master(case).write())
    master = inst.item_master
    assert master is not None
    assert list(master.columns) == ["Description", "category", "ABC class"]
    assert list(master.index) == ["A", "B", "C"] and master.index.name == "item"
    assert master.loc["A", "category"] == "0012" and master.loc["B", "category"] == "1,5"
    assert master.loc["B", "Description"] == "=cable" and master.loc["B", "ABC class"] == ""
    assert list(inst.subset_items([2, 0]).item_master["Description"]) == ["Nut", "Bolt M8, zinc"]


def test_no_item_master_without_extra_columns(case: Case) -> None:
    assert load_instance(case.write()).item_master is None


def test_item_master_survives_writing(case: Case, tmp_path: Path) -> None:
    from optimizer.instance import write_instance

    inst = load_instance(_with_master(case).write())
    write_instance(inst, tmp_path / "copy")
    again = load_instance(tmp_path / "copy")
    assert again.item_master.equals(inst.item_master)


def test_a_misspelt_known_column_is_still_refused(case: Case) -> None:
    folder = case.cell(1, "demand_mena", "3").write()
    p = only_problem(folder)
    check(
        p, "items.csv", column="demand_mena", words=("unknown column", "did you mean 'demand_mean'")
    )


@pytest.mark.parametrize("name", ["base_stock", "Order_Up_To", "expected_cost"])
def test_an_item_master_column_may_not_take_a_plan_column_name(case: Case, name: str) -> None:
    p = only_problem(case.cell(1, name, "x").write())
    check(p, "items.csv", column=name, words=("name of a column the plan gets", "rename it"))


def test_the_plan_carries_the_item_master_unchanged(case: Case, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.instance.layout import PLAN_COLUMNS

    folder = _with_master(case).write()
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["solve", str(folder), "--out", str(out), "--no-diagnostics"])
    assert res.exit_code == 0, res.output
    with (out / "plan.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    assert header[-3:] == ["Description", "category", "ABC class"]
    # every column the plan gets from stockplan is one an item-master column may not take
    assert set(header[:-3]) <= set(PLAN_COLUMNS), set(header[:-3]) - set(PLAN_COLUMNS)
    assert [r["category"] for r in rows] == ["0012", "1,5", "12"]
    assert [r["Description"] for r in rows][0] == "Bolt M8, zinc"
