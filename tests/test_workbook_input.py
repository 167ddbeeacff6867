"""Reading an instance from an Excel workbook (README, "Excel"; issue 10, point 1).

The sheets ``settings``, ``items``, ``suppliers`` (and the scenario sheets) go through
the same rules as the folder's files; messages name the workbook, the sheet, the
spreadsheet's row and the column; Excel's quirks (numbers stored as text, trailing empty
rows and columns, formulas, dates) are read or refused clearly.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import InvalidInstanceError
from optimizer.instance import load_instance
from optimizer.instance.workbook import write_workbook
from tests.instance_cases import Case, assert_same_instance, explicit_case, supply_rows

runner = CliRunner()


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def workbook_of(case: Case, path: Path) -> Path:
    """The case as a workbook (written by :func:`write_workbook` from the folder)."""
    write_workbook(load_instance(case.write()), path)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(path)
    return [str(p) for p in info.value.problems]


def one_problem(path: Path) -> str:
    found = problems(path)
    assert len(found) == 1, "\n".join(found)
    return found[0]


def edit(path: Path, change) -> None:
    """Open the workbook (all features), let ``change(book)`` edit it, save it."""
    book = openpyxl.load_workbook(path)
    change(book)
    book.save(path)


def column_of(ws, name: str) -> int:
    return [c.value for c in ws[1]].index(name) + 1


def cache_formulas(path: Path, values: dict[str, str]) -> None:
    """Give the formulas of cells (``"D2"``) of sheet items the cached value Excel would."""
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    book = parts["xl/workbook.xml"].decode()
    sheets = re.findall(r'<sheet [^>]*name="([^"]+)"', book)
    name = f"xl/worksheets/sheet{sheets.index('items') + 1}.xml"
    xml = parts[name].decode()
    for ref, value in values.items():
        xml, n = re.subn(rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)<v ?/>', rf"\g<1><v>{value}</v>", xml)
        assert n == 1, ref
    parts[name] = xml.encode()
    with zipfile.ZipFile(path, "w") as z:
        for part, data in parts.items():
            z.writestr(part, data)


def test_the_workbook_reads_as_the_folder(case: Case, tmp_path: Path) -> None:
    case.cell(2, "emergency_premium", "3.5").cell(2, "min_fill_rate", "0.9")
    folder_instance = load_instance(case.write())
    book = workbook_of(case, tmp_path / "book.xlsx")
    inst = load_instance(book)
    assert_same_instance(inst, folder_instance)
    assert inst.source == str(book)


def test_explicit_scenario_sheets(tmp_path: Path) -> None:
    case = explicit_case(Case(tmp_path / "x"))
    case.scenarios["supply.csv"] = supply_rows(["high", "low"], {("low", 3, "far")})
    case.scenarios["probability.csv"] = [
        {"scenario": "low", "probability": "0.75"},
        {"scenario": "high", "probability": "0.25"},
    ]
    book = workbook_of(case, tmp_path / "x.xlsx")
    titles = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert titles == ["settings", "items", "suppliers", "demand", "probability", "supply"]
    assert_same_instance(load_instance(book), load_instance(case.root))


def test_a_message_names_sheet_row_item_and_column(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["items"]
        ws.insert_rows(3, 4)  # rows 3-6 blank: item B moves to row 7
        ws.cell(7, column_of(ws, "demand_std")).value = -2

    edit(book, change)
    assert one_problem(book) == (
        "book.xlsx, sheet items, row 7, item 'B', column 'demand_std': demand_std must be 0 "
        "or more, got -2"
    )


def test_a_supplier_message_names_the_supplier(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    edit(book, lambda wb: wb["suppliers"].cell(3, 3, 1.5))
    message = one_problem(book)
    assert message.startswith("book.xlsx, sheet suppliers, row 3, supplier 'far', column")
    assert "between 0 and 1" in message


def test_numbers_stored_as_text_and_trailing_empty_cells(case: Case, tmp_path: Path) -> None:
    expected = load_instance(case.write())
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["items"]
        ws.cell(2, column_of(ws, "demand_mean")).value = "20"
        ws.cell(3, column_of(ws, "unit_cost")).value = " 100 "
        ws.cell(30, 20).font = Font(bold=True)  # a formatted, empty cell far away
        ws.cell(12, 1).value = ""

    edit(book, change)
    assert_same_instance(load_instance(book), expected)


def test_numbers_stored_as_text_with_decimal_commas(case: Case, tmp_path: Path) -> None:
    case.cell(1, "demand_std", "5.5").cell(2, "demand_std", "2.25")
    expected = load_instance(case.write())
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["items"]
        ws.cell(2, column_of(ws, "demand_std")).value = "5,5"
        ws.cell(3, column_of(ws, "demand_std")).value = "2,25"

    edit(book, change)
    assert_same_instance(load_instance(book), expected)


def test_a_formula_is_read_by_its_cached_value(case: Case, tmp_path: Path) -> None:
    expected = load_instance(case.write())
    book = workbook_of(case, tmp_path / "book.xlsx")
    ref = {}

    def change(wb) -> None:
        ws = wb["items"]
        cell = ws.cell(2, column_of(ws, "demand_mean"))
        cell.value = "=10*2"
        ref["cell"] = cell.coordinate

    edit(book, change)
    cache_formulas(book, {ref["cell"]: "20"})
    assert_same_instance(load_instance(book), expected)


def test_a_formula_without_a_cached_value_is_refused(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["items"]
        ws.cell(3, column_of(ws, "demand_mean")).value = "=10*2"

    edit(book, change)
    message = one_problem(book)
    assert message.startswith("book.xlsx, sheet items, row 3, item 'B', column 'demand_mean'")
    assert "formula (=10*2)" in message and "no calculated value" in message


def test_a_date_where_a_number_belongs_is_refused(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["items"]
        ws.cell(4, column_of(ws, "lead_time")).value = dt.datetime(2024, 1, 5)

    edit(book, change)
    message = one_problem(book)
    assert message.startswith("book.xlsx, sheet items, row 4, item 'C', column 'lead_time'")
    assert "is a date" in message and "2024-01-05" in message and "as a number" in message


def test_settings_sheet_messages_name_the_key_row(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    rows: dict[str, int] = {}

    def change(wb) -> None:
        ws = wb["settings"]
        for r in range(2, ws.max_row + 1):
            rows[ws.cell(r, 1).value] = r
        ws.cell(rows["plan.periods"], 2).value = 0
        ws.cell(rows["plan.seed"], 1).value = "plan.sead"

    edit(book, change)
    found = problems(book)
    assert (
        f"book.xlsx, sheet settings, row {rows['plan.periods']}, column 'plan.periods': "
        "periods must be greater than 0 and at most 5000, got 0"
    ) in found
    typo = [p for p in found if "sead" in p]
    assert len(typo) == 1 and f"row {rows['plan.seed']}" in typo[0]
    assert "did you mean 'seed'" in typo[0]


def test_settings_given_as_text(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["settings"]
        for r in range(2, ws.max_row + 1):
            key = ws.cell(r, 1).value
            if key == "plan.periods":
                ws.cell(r, 2).value = "5"
            elif key == "plan.capital_rate":
                ws.cell(r, 2).value = "0,2"
            elif key == "plan.integer":
                ws.cell(r, 2).value = "FALSE"
            elif key == "name":
                ws.cell(r, 2).value = 2024

    edit(book, change)
    inst = load_instance(book)
    assert inst.plan.periods == 5 and inst.plan.capital_rate == 0.2
    assert inst.plan.integer is False and inst.name == "2024"


def test_sheet_names_in_any_case_and_other_sheets_ignored(case: Case, tmp_path: Path) -> None:
    expected = load_instance(case.write())
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        wb["items"].title = "tmp"
        wb["tmp"].title = "ITEMS"
        wb.create_sheet("notes")["A1"] = "anything"

    edit(book, change)
    assert_same_instance(load_instance(book), expected)


def test_a_misspelt_sheet_is_refused(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    edit(book, lambda wb: setattr(wb["items"], "title", "itmes"))
    found = problems(book)
    assert any("unknown sheet 'itmes' (did you mean 'items'?)" in p for p in found), found
    assert any(p.startswith("book.xlsx, sheet items: sheet not found") for p in found), found


def test_a_workbook_without_settings_sheet(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    edit(book, lambda wb: wb.remove(wb["settings"]))
    message = one_problem(book)
    assert message.startswith("book.xlsx, sheet settings: sheet not found")
    assert "key and value" in message


def test_a_link_leading_outside_is_refused(case: Case, tmp_path: Path) -> None:
    outside = workbook_of(case, tmp_path / "elsewhere.xlsx")
    (tmp_path / "inst").mkdir()
    link = tmp_path / "inst" / "book.xlsx"
    os.symlink(outside, link)
    assert "symbolic link that leads outside" in one_problem(link)
    assert len(load_instance(link, follow_links=True).items) == 3


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_other_spreadsheet_formats_are_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"book{suffix}"
    path.write_bytes(b"not really")
    message = one_problem(path)
    assert "save it as an Excel workbook (.xlsx)" in message


def test_a_broken_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK not a zip")
    assert "not a readable Excel workbook" in one_problem(path)


def test_a_folder_with_an_items_workbook_points_to_the_fix(case: Case) -> None:
    folder = case.write()
    (folder / "items.csv").rename(folder / "items.xlsx")
    found = problems(folder)
    assert any("items.xlsx is there" in p and "CSV UTF-8" in p for p in found), found


def test_validate_and_solve_read_a_workbook(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    res = runner.invoke(app, ["validate", str(book)])
    assert res.exit_code == 0 and "valid" in res.output, res.output
    out = tmp_path / "out"
    res = runner.invoke(app, ["solve", str(book), "--out", str(out), "--no-diagnostics"])
    assert res.exit_code == 0, res.output
    assert (out / "plan.csv").is_file()
    edit(book, lambda wb: wb["items"].cell(2, 3, "abc"))
    res = runner.invoke(app, ["validate", str(book)])
    assert res.exit_code == 3
    assert "book.xlsx, sheet items, row 2, item 'A', column 'unit_cost'" in res.output


def test_evaluate_and_compare_read_a_workbook(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")
    plan = tmp_path / "plan.csv"
    plan.write_text("item,base_stock\nA,50\nB,20\nC,60\n", encoding="utf-8")
    res = runner.invoke(
        app, ["evaluate", str(book), "--plan", str(plan), "--out", str(tmp_path / "ev")]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", str(book), "--out", str(out), "--eval-scenarios", "20"])
    assert res.exit_code == 0, res.output
    assert (out / "comparison.csv").is_file()


def test_a_bare_table_key_is_told_its_section(case: Case, tmp_path: Path) -> None:
    book = workbook_of(case, tmp_path / "book.xlsx")

    def change(wb) -> None:
        ws = wb["settings"]
        ws.append(["cvar_weight", 0.5])

    edit(book, change)
    message = one_problem(book)
    assert message.startswith("book.xlsx, sheet settings, row ")
    assert "write risk.cvar_weight" in message


def test_the_written_workbook_has_frozen_bold_headers_and_numbers(case: Case, tmp_path: Path):
    book = openpyxl.load_workbook(workbook_of(case, tmp_path / "book.xlsx"))
    ws = book["items"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b
    assert isinstance(ws.cell(2, column_of(ws, "unit_cost")).value, int | float)
    assert ws.column_dimensions["A"].width >= 8
