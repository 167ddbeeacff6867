"""Issue 12, inputs: numbers within what the model can carry, nothing read outside the instance.

Every example of the issue is here, written into the small instance of
:mod:`tests.instance_cases` one cell or key at a time: finite but extreme numbers
(1e308 demands and prices, 1e-300 costs, rates and periods per year), work that would be
unbounded (lead times of 1e6, warm-ups of 100,000, 10,000 periods, recovery probabilities
that imply warm-ups of 1e300 periods), a budget equal to the pipeline value, links to
files outside the folder, special files, control characters in names and long cells.
Each is refused at validation (exit 3) with its file, row, item and column, or accepted
with a warning that says what it costs; ``validate`` and ``solve`` agree.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import EXCERPT_CHARS, InvalidInstanceError
from optimizer.instance import load_instance
from optimizer.instance.schema import COLUMN_RANGES, MAX_CELLS, MAX_HORIZON, WARN_HORIZON
from tests.instance_cases import Case, check, explicit_case, find, only_problem, problems_of

runner = CliRunner()


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def _swan(case: Case, **changes: float) -> Case:
    case.toml["black_swan"] = {"probability": 0.1, "duration": 2, "demand_multiplier": 1.0}
    case.toml["black_swan"].update(changes)
    return case


# --------------------------------------------------------------------------------------
# finite but extreme numbers: one problem each, at its file, row, item and column
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("demand_mean", "1e308", ("at most 1e+09", "got 1e308", "larger unit")),
        ("demand_std", "1e308", ("at most 1e+09",)),
        ("lead_time", "1e308", ("at most 2000",)),
        ("lead_time", "1000000", ("at most 2000",)),
        ("stockout_penalty", "1e308", ("at most 1e+09",)),
        ("unit_cost", "1e-300", ("at least 1e-06", "smaller unit")),
        ("storage_rate", "1e-300", ("0 or at least 1e-06",)),
        ("capital_rate", "1e308", ("at most 100",)),
        ("volume", "1e300", ("at most 1e+09",)),
        ("emergency_capacity", "1e-300", ("0 or at least 1e-06",)),
    ],
)
def test_an_extreme_item_cell_is_refused_where_it_is(
    case: Case, column: str, value: str, words: tuple[str, ...]
) -> None:
    if column == "emergency_capacity":
        case.cell(1, "emergency_premium", "1")
    case.cell(1, column, value)
    p = only_problem(case.write())
    check(p, "items.csv", row=2, item="A", column=column, words=(*words, "well-conditioned"))


@pytest.mark.parametrize("column", ["emergency_premium", "reservation_fee"])
def test_emergency_prices_of_1e308_are_refused(case: Case, column: str) -> None:
    case.cell(2, "emergency_premium", "1").cell(2, column, "1e308")
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column=column, words=("at most 1e+09",))


def test_an_explicit_demand_of_1e308_is_refused_in_its_row(case: Case) -> None:
    explicit_case(case)
    case.scenarios["demand.csv"][4]["demand"] = "1e308"
    p = only_problem(case.write())
    check(p, "scenarios/demand.csv", row=6, item="B", column="demand", words=("at most 1e+09",))


def test_volume_1e300_with_storage_1e308_names_both(case: Case) -> None:
    for row in (1, 2, 3):
        case.cell(row, "volume", "1")
    case.cell(1, "volume", "1e300")
    case.plan["storage_capacity"] = 1e308
    found = problems_of(case.write())
    assert len(found) == 2, "\n".join(map(str, found))
    find(found, "items.csv", "volume", "at most 1e+09")
    find(found, "instance.toml", "plan.storage_capacity", "at most 1e+15")


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("periods_per_year", 1e-300, ("between 0.01 and 10000",)),
        ("storage_rate", 1e-300, ("0 or between 1e-06 and 100",)),
        ("periods", 10_000, ("at most 5000", "got 10000")),
        ("warmup", 100_000, ("between 0 and 5000", "got 100000")),
        ("inventory_budget", 1e308, ("at most 1e+15",)),
        ("scenarios", 10**7, ("at most 1e+06",)),
    ],
)
def test_an_extreme_setting_is_refused_at_its_key(
    case: Case, key: str, value: float, words: tuple[str, ...]
) -> None:
    case.plan[key] = value
    p = only_problem(case.write())
    check(p, "instance.toml", column=f"plan.{key}", words=(key, *words))


@pytest.mark.parametrize(("key", "value"), [("demand_multiplier", 1e308), ("duration", 10**6)])
def test_an_extreme_black_swan_is_refused(case: Case, key: str, value: float) -> None:
    _swan(case, **{key: value})
    p = only_problem(case.write())
    check(p, "instance.toml", column=f"black_swan.{key}", words=(key, "between"))


def test_the_extremes_of_the_ranges_solve_to_finite_figures(case: Case, tmp_path: Path) -> None:
    base = case.items[0]
    case.items = [
        dict(base, item="BIG", unit_cost="1e9", demand_mean="1e9", demand_std="1e8"),
        dict(base, item="SMALL", unit_cost="1e-6", demand_mean="1e-6", demand_std="1e-6"),
        dict(base, item="THIN", unit_cost="1e-6", stockout_penalty="1e9"),
    ]
    case.items[0]["stockout_penalty"] = "1e9"
    case.items[1]["stockout_penalty"] = "1e-6"
    for row in case.items:
        row.update(capital_rate="1e-6", storage_rate="0", obsolescence_rate="100")
    case.plan["periods_per_year"] = 10_000
    out = tmp_path / "out"
    res = runner.invoke(app, ["solve", str(case.write()), "--out", str(out), "--no-diagnostics"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("objective", "expected_cost", "capital_tied_up"):
        assert summary[key] is not None and math.isfinite(summary[key]), key


# --------------------------------------------------------------------------------------
# bounded work: warm-ups, horizons and cells
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", ["1e-300", "1e-9"])
def test_a_recovery_that_implies_an_endless_warmup_is_refused(case: Case, beta: str) -> None:
    case.cell(2, "recovery_prob", beta, table="suppliers")
    p = only_problem(case.write())
    check(
        p,
        "suppliers.csv",
        row=3,
        item="far",
        column="recovery_prob",
        words=("default warm-up of item 'B'", f"more than the {MAX_HORIZON}", "[plan] warmup"),
    )


def test_a_slow_recovery_is_accepted_with_a_warning_of_its_cost(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    case.cell(2, "recovery_prob", "1e-3", table="suppliers")
    with caplog.at_level(logging.WARNING, logger="optimizer.instance"):
        inst = load_instance(case.write())
    assert inst.warmup > WARN_HORIZON
    text = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for words in ("supplier 'far'", "0.001", "GB of memory", "minutes", "[plan] warmup"):
        assert words in text, text


def test_the_recovery_warning_goes_once_warmup_is_given(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    case.cell(2, "recovery_prob", "1e-3", table="suppliers")
    case.plan["warmup"] = 30
    with caplog.at_level(logging.WARNING, logger="optimizer.instance"):
        assert load_instance(case.write()).warmup == 30
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_lead_time_whose_warmup_does_not_fit_is_named(case: Case) -> None:
    case.cell(2, "lead_time", "1000")
    case.plan["periods"] = 3000
    p = only_problem(case.write())
    check(p, "items.csv", row=3, item="B", column="lead_time", words=("lead_time = 1000",))


def test_warmup_and_periods_together_must_fit(case: Case) -> None:
    case.plan.update(warmup=4000, periods=2000)
    p = only_problem(case.write())
    check(p, "instance.toml", column="plan.warmup", words=("4000 + 2000 = 6000",))


def test_too_many_cells_are_refused_with_the_figure(case: Case) -> None:
    case.plan.update(scenarios=1_000_000, warmup=400)
    p = only_problem(case.write())
    check(p, "instance.toml", column="plan.scenarios", words=("1.21e+09", "GB", "fewer scenarios"))
    assert 3 * 1_000_000 * 403 > MAX_CELLS


def test_many_cells_are_accepted_with_a_warning(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    case.plan["scenarios"] = 1_000_000
    with caplog.at_level(logging.WARNING, logger="optimizer.instance"):
        load_instance(case.write())
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "item-scenario-period cells" in text and "GB of memory" in text, text


def test_validate_and_solve_refuse_alike(case: Case, tmp_path: Path) -> None:
    case.cell(1, "demand_mean", "1e308")
    folder = str(case.write())
    checked = runner.invoke(app, ["validate", folder])
    solved = runner.invoke(app, ["solve", folder, "--out", str(tmp_path / "out")])
    assert checked.exit_code == solved.exit_code == 3
    assert "demand_mean must be at most 1e+09" in checked.output
    assert "demand_mean must be at most 1e+09" in solved.output
    assert not (tmp_path / "out").exists()


def test_a_scenarios_option_is_held_to_the_same_limit(case: Case, tmp_path: Path) -> None:
    case.plan["warmup"] = 400
    folder = str(case.write())
    res = runner.invoke(
        app, ["solve", folder, "--out", str(tmp_path / "out"), "--scenarios", "1000000"]
    )
    assert res.exit_code == 3, res.output
    assert "--scenarios" in res.output and "more than the 1e+09" in res.output
    res = runner.invoke(app, ["solve", folder, "--out", str(tmp_path / "o"), "--scenarios", "2e7"])
    assert res.exit_code == 2  # not a whole number: typer's usage error
    res = runner.invoke(
        app, ["solve", folder, "--out", str(tmp_path / "o"), "--scenarios", "20000000"]
    )
    assert res.exit_code == 3 and "more than the 1000000 scenarios" in res.output


# --------------------------------------------------------------------------------------
# rounding-safe comparisons
# --------------------------------------------------------------------------------------


def _float_pipeline(case: Case) -> Case:
    """Two items whose pipeline value sums to 0.9000000000000001 in floating point."""
    base = case.items[0]
    case.items = [
        dict(base, item="A", unit_cost="0.1", demand_mean="3", lead_time="1"),
        dict(base, item="B", unit_cost="0.2", demand_mean="3", lead_time="1"),
    ]
    assert 0.1 * 3 + 0.2 * 3 > 0.9
    return case


def test_a_budget_equal_to_the_pipeline_value_is_accepted(case: Case) -> None:
    _float_pipeline(case).plan["inventory_budget"] = 0.9
    inst = load_instance(case.write())
    pipeline = float((inst.items.unit_cost * inst.items.lead_time * inst.items.demand_mean).sum())
    assert inst.plan.inventory_budget >= pipeline
    assert inst.plan.inventory_budget == pytest.approx(0.9, rel=1e-8)


def test_a_budget_truly_below_the_pipeline_is_refused(case: Case) -> None:
    _float_pipeline(case).plan["inventory_budget"] = 0.8999
    p = only_problem(case.write())
    check(p, "instance.toml", column="plan.inventory_budget", words=("0.8999 is below 0.9",))


def test_a_capacity_equal_to_the_pipeline_volume_is_accepted(case: Case) -> None:
    _float_pipeline(case)
    case.cell(1, "volume", "0.1").cell(2, "volume", "0.2")
    case.plan["storage_capacity"] = 0.9
    assert load_instance(case.write()).plan.storage_capacity >= 0.9


# --------------------------------------------------------------------------------------
# nothing outside the instance
# --------------------------------------------------------------------------------------

SECRET = "API_TOKEN=hunter2"


def _outside_file(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "elsewhere" / "data.csv"
    target.parent.mkdir()
    target.write_text(text, encoding="utf-8")
    return target


def test_a_link_leading_outside_the_folder_is_refused_unread(case: Case, tmp_path: Path) -> None:
    folder = case.write()
    target = _outside_file(tmp_path, f"{SECRET},PATH=/usr/bin\nx,y\n")
    (folder / "items.csv").unlink()
    (folder / "items.csv").symlink_to(target)
    p = only_problem(folder)
    check(p, "items.csv", words=("symbolic link", "outside the instance folder", "--follow-links"))
    res = runner.invoke(app, ["validate", str(folder)])
    assert res.exit_code == 3 and "hunter2" not in res.output and str(target) not in res.output


def test_follow_links_reads_a_link_outside(case: Case, tmp_path: Path) -> None:
    folder = case.write()
    target = _outside_file(tmp_path, (folder / "suppliers.csv").read_text(encoding="utf-8"))
    (folder / "suppliers.csv").unlink()
    (folder / "suppliers.csv").symlink_to(target)
    with pytest.raises(InvalidInstanceError):
        load_instance(folder)
    assert len(load_instance(folder, follow_links=True).suppliers) == 2
    assert runner.invoke(app, ["validate", str(folder), "--follow-links"]).exit_code == 0


def test_an_environment_like_file_is_not_echoed_even_when_followed(
    case: Case, tmp_path: Path
) -> None:
    folder = case.write()
    target = _outside_file(tmp_path, f"SHELL=/bin/sh\0{SECRET}\0HOME=/root\0")
    (folder / "items.csv").unlink()
    (folder / "items.csv").symlink_to(target)
    res = runner.invoke(app, ["validate", str(folder), "--follow-links"])
    assert res.exit_code == 3
    assert "hunter2" not in res.output and "control characters" in res.output


def test_a_link_inside_the_folder_is_read(case: Case) -> None:
    folder = case.write()
    (folder / "items.csv").rename(folder / "items-v2.csv")
    (folder / "items.csv").symlink_to(folder / "items-v2.csv")
    assert len(load_instance(folder).items) == 3


def test_a_scenarios_folder_outside_is_refused(case: Case, tmp_path: Path) -> None:
    folder = explicit_case(case).write()
    outside = tmp_path / "shared-scenarios"
    (folder / "scenarios").rename(outside)
    (folder / "scenarios").symlink_to(outside, target_is_directory=True)
    check(only_problem(folder), "scenarios", words=("outside the instance folder",))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_even_with_follow_links(case: Case) -> None:
    folder = case.write()
    (folder / "suppliers.csv").unlink()
    os.mkfifo(folder / "suppliers.csv")
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(folder, follow_links=True)  # would block for ever if it were opened
    (p,) = info.value.problems
    check(p, "suppliers.csv", words=("FIFO", "not a regular file"))


@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [
        ("items", 1, "item", "A\0B"),
        ("items", 2, "item", "B\x1b[31m"),
        ("suppliers", 1, "supplier", "ne\u202ear"),
    ],
)
def test_control_characters_in_names_are_refused(
    case: Case, table: str, row: int, column: str, value: str
) -> None:
    case.cell(row, column, value, table=table)
    file = f"{table}.csv"
    found = problems_of(case.write())
    p = find(found, file, column, "control character")
    assert p.row == row + 1 and "printable" in p.rule
    assert "\0" not in str(p) and "\x1b" not in str(p) and "\u202e" not in str(p)


def test_control_characters_in_scenario_names_are_refused(case: Case) -> None:
    explicit_case(case)
    for r in case.scenarios["demand.csv"]:
        if r["scenario"] == "low":
            r["scenario"] = "lo\0w"
    found = problems_of(case.write())
    find(found, "scenarios/demand.csv", "scenario", "control character")


def test_a_name_with_control_characters_in_the_toml_is_refused(case: Case) -> None:
    case.toml["name"] = "tiny\0"
    case.toml["description"] = "two lines\nand a tab\tare fine"
    p = only_problem(case.write())
    check(p, "instance.toml", column="name", words=("control character", "U+0000"))


def test_a_long_cell_is_echoed_as_a_short_excerpt(case: Case) -> None:
    case.cell(1, "unit_cost", "x" * 10_000)
    p = only_problem(case.write())
    assert "(10000 characters)" in p.rule and len(p.rule) < 200 + EXCERPT_CHARS


def test_a_wrong_files_header_is_listed_in_short(case: Case) -> None:
    folder = case.write()
    header = ",".join(f"VAR{i}=value{i}" + "y" * 100 for i in range(50))
    (folder / "suppliers.csv").write_text(header + "\n1,2\n", encoding="utf-8")
    found = problems_of(folder)
    mine = [p for p in found if p.file == "suppliers.csv"]
    unknown = [p for p in mine if p.rule.startswith("unknown column")]
    assert len(unknown) == 5 and any("45 more unknown columns" in p.rule for p in mine)
    assert sum(len(str(p)) for p in mine) < 3000


# --------------------------------------------------------------------------------------
# the README's table is the schema's
# --------------------------------------------------------------------------------------


def _range_rows() -> list[list[str]]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Ranges: numbers the model can carry", 1)[1].split("\n#", 1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
    ]


def test_the_readme_range_table_states_every_column_range() -> None:
    rows = _range_rows()
    for column, limits in COLUMN_RANGES.items():
        hits = [row for row in rows if f"`{column}`" in row[0]]
        assert hits, f"{column} has no row in the README's range table"
        assert limits.rule == hits[0][1], (column, limits.rule, hits[0][1])
    text = " ".join(" ".join(row) for row in rows)
    for figure in (f"at most {MAX_HORIZON}", f"above {WARN_HORIZON}", f"at most {MAX_CELLS:.0e}"):
        assert figure.replace("e+0", "e") in text, figure


def test_a_program_larger_than_this_machine_is_refused_before_any_work(tmp_path, monkeypatch):
    """Estimated memory above the machine's: exit 3 with the figure and what to change."""
    from typer.testing import CliRunner

    import optimizer.instance.limits as limits
    from optimizer.cli import app
    from optimizer.instance import write_instance
    from tests.factories import make_instance

    folder = tmp_path / "inst"
    write_instance(make_instance(n_items=3, scenarios=50, periods=4), folder)
    runner = CliRunner()
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 0
    monkeypatch.setattr(limits, "machine_memory", lambda: 1e4)  # a 10 kB machine
    for command in (
        ["validate", str(folder)],
        ["solve", str(folder), "--out", str(tmp_path / "o")],
    ):
        res = runner.invoke(app, command)
        text = " ".join(res.output.split())
        assert res.exit_code == 3, res.output
        assert "of memory this machine has" in text and "scenarios" in text
    assert not (tmp_path / "o").exists()
