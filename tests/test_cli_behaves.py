"""Issue 10, point 7: a command line that behaves.

* ``--time-limit`` is the whole command's budget, > 0: a plan at the limit is returned
  (``feasible_at_limit``, gap unknown), what was cut is said in summary.json and on screen.
* Ctrl-C at any moment: one line, exit 130, no traceback, nothing half-written, no worker
  left running (subprocesses, the signal sent to the whole process group as a terminal does).
* A closed pipe is not a bug: exit 0, no traceback, the files written whole.
* summary.json says where it came from: UTC time, command line, SHA-256 of the inputs,
  versions, settings.
* The same option names everywhere; ``-v`` shown as a count flag.
* ``compare`` takes ``--engine``, ``--threads``, ``--time-limit`` and the planner's own plans;
  ``evaluate`` refuses a plan that does not say one thing.
* Rich markup never reads data; wide tables keep whole cells when piped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from optimizer.analysis.headline import honest_cost
from optimizer.cli import app
from optimizer.engines.base import SolveConfig
from optimizer.instance import load_instance, write_instance
from optimizer.planning import make_plan
from tests.factories import make_instance
from tests.instance_cases import Case

runner = CliRunner()
STOCKPLAN = str(Path(sys.executable).with_name("stockplan"))


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _text(output: str) -> str:
    """The output as one line of words (rich wraps its error box)."""
    return " ".join(output.replace("│", " ").split())


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inst") / "small"
    write_instance(
        make_instance(n_items=3, scenarios=15, periods=6, emergency=True, reserve=True), folder
    )
    return folder


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A generated 300-item instance (its plan takes seconds: time to interrupt it)."""
    folder = tmp_path_factory.mktemp("inst") / "g300"
    res = run("generate", "--items", 300, "--suppliers", 5, "--out", folder)
    assert res.exit_code == 0, res.output
    return folder


@pytest.fixture(scope="module")
def solved(small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("solved") / "out"
    res = run("solve", small, "--out", out, "--eval-scenarios", 20, "--no-diagnostics")
    assert res.exit_code == 0, res.output
    return out


def _session(pid: int) -> list[int]:
    """Processes of the session ``pid`` leads (the command and any worker it forked)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pid and int(entry) != os.getpid():
            found.append(int(entry))
    return found


class Command:
    """``stockplan ...`` in its own session, stderr read line by line as it comes."""

    def __init__(self, *args: object, cwd: Path | None = None):
        self.proc = subprocess.Popen(
            [STOCKPLAN, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            cwd=cwd,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, word: str, timeout: float = 300.0) -> None:
        start = time.monotonic()
        while not any(word in line for line in self.lines):
            assert self.proc.poll() is None, f"ended before {word!r}: {''.join(self.lines)}"
            assert time.monotonic() - start < timeout, f"no {word!r} in {''.join(self.lines)}"
            time.sleep(0.02)

    def wait_until_mapped(self, library: str, timeout: float = 120.0) -> None:
        """Wait until the process has loaded a shared library whose path holds ``library``."""
        start = time.monotonic()
        while True:
            try:
                maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
            except OSError:
                maps = ""
            if library in maps:
                return
            assert self.proc.poll() is None, "".join(self.lines)
            assert time.monotonic() - start < timeout, f"{library} never loaded"
            time.sleep(0.005)

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C as a terminal sends it: to the whole process group; (exit code, stderr)."""
        os.killpg(self.proc.pid, signal.SIGINT)
        stdout = self.proc.stdout.read()
        code = self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        return code, "".join(self.lines) + stdout


# --------------------------------------------------------------------------------------
# 1. --time-limit: the whole command's budget
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
@pytest.mark.parametrize("command", ["solve", "compare"])
def test_time_limit_must_be_positive(small, tmp_path, command, value):
    res = runner.invoke(
        app, [command, str(small), "--out", str(tmp_path / "o"), f"--time-limit={value}"]
    )
    assert res.exit_code == 2, res.output
    assert "> 0" in _text(res.output) and "whole command" in _text(res.output)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_time_limit_1_on_300_items_returns_a_plan_at_the_limit(big, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [STOCKPLAN, "solve", str(big), "--out", str(out), "--time-limit", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible_at_limit"
    assert summary["gap"] is None  # items left at their cover level: no bound, gap unknown
    assert "feasible_at_limit" in proc.stdout
    budget = summary["time_limit"]
    assert budget["seconds"] == 1.0
    assert 0.0 <= budget["plan_stage_seconds"] < 1.0  # what was left after loading
    # counted from the process's start: imports and loading are in it
    assert budget["command_seconds_before_writing"] >= summary["total_seconds"]
    # the budget is spent: the out-of-sample pricing and the diagnostics are cut or skipped
    assert budget["expected_cost"].startswith(("skipped", "cut short"))
    assert budget["diagnostics"].startswith("skipped")
    assert "diagnostics" not in summary
    assert "time limit" in _text(proc.stdout) and "skipped" in proc.stdout
    with (out / "plan.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 300 and all(float(r["base_stock"]) >= 0 for r in rows)


def test_a_spent_budget_still_gives_the_cover_plan_and_says_what_it_cut(tmp_path):
    inst = make_instance(n_items=5, scenarios=20, periods=4)
    result = make_plan(inst.with_plan(recourse="causal"), deadline=time.monotonic() - 1.0)
    summary = result.summary
    assert summary["status"] == "feasible_at_limit"
    assert result.solution.details["items_searched"] == 0
    mean = inst.items.demand_mean
    cover = np.ceil((inst.items.lead_time + 1) * mean - 1e-9)
    np.testing.assert_allclose(result.plan["base_stock"], cover)
    assert summary["expected_cost"] is None and result.headline is None
    assert summary["time_limit"]["expected_cost"].startswith("skipped")
    assert summary["time_limit"]["diagnostics"].startswith("skipped")
    assert result.diagnostics is None


def test_the_honest_cost_stops_sampling_at_the_deadline():
    inst = make_instance(n_items=3, scenarios=20, periods=4)
    S = (inst.items.lead_time + 1.0) * inst.items.demand_mean
    K = np.zeros(len(S))
    free = honest_cost(inst, S, K, batch=10, max_scenarios=5000)
    assert free.totals[-1] > 10  # without a deadline it samples more rounds
    cut = honest_cost(inst, S, K, batch=10, max_scenarios=5000, deadline=time.monotonic())
    assert cut.totals == (10,) and cut.stop.startswith("time limit") and not cut.tight


def test_every_lp_is_held_to_the_deadline():
    config = SolveConfig(time_limit=100.0).within(time.monotonic() + 5.0)
    assert 4.0 < config.time_limit <= 5.0 and config.deadline is not None
    assert SolveConfig(time_limit=2.0).within(time.monotonic() + 50.0).time_limit == 2.0
    assert SolveConfig().within(None).time_limit is None
    spent = SolveConfig().within(time.monotonic() - 1.0)
    assert spent.time_limit == 0.0 and spent.seconds_left() == 0.0


def test_time_limit_help_says_whole_command():
    text = _text(runner.invoke(app, ["solve", "--help"], env={"COLUMNS": "200"}).output)
    assert "Seconds for the whole command, > 0" in text


# --------------------------------------------------------------------------------------
# 2. Ctrl-C
# --------------------------------------------------------------------------------------


def _assert_interrupted(code: int, output: str, out: Path) -> None:
    assert code == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert output.rstrip().splitlines()[-1] == "interrupted"
    assert output.count("interrupted") == 1
    assert not out.exists()  # nothing written, not even in part
    assert not list(out.parent.glob(f".{out.name}.new-*"))  # no staging folder left


def test_ctrl_c_while_importing(big, tmp_path):
    out = tmp_path / "out"
    cmd = Command("solve", big, "--out", out, "-v")
    cmd.wait_until_mapped("numpy")  # the command's modules are loading (numpy comes first)
    assert not any("loaded instance" in line for line in cmd.lines)
    _assert_interrupted(*cmd.interrupt(), out)


@pytest.mark.slow
def test_ctrl_c_while_loading_and_compiling(big, tmp_path):
    out = tmp_path / "out"
    cmd = Command("solve", big, "--out", out, "-v")
    cmd.wait_for("loaded instance")  # next: sampling, compiled kernels
    _assert_interrupted(*cmd.interrupt(), out)


@pytest.mark.slow
def test_ctrl_c_during_the_solve_kills_the_workers(big, tmp_path):
    out = tmp_path / "out"
    # the decomposed engine forks a pool of workers for the hindsight LPs
    cmd = Command(
        "solve", big, "--out", out, "-v", "--recourse", "hindsight", "--engine", "decomposed"
    )
    cmd.wait_for("engine decomposed")
    time.sleep(1.0)
    assert len(_session(cmd.proc.pid)) > 1, "no worker to check"
    _assert_interrupted(*cmd.interrupt(), out)
    deadline = time.monotonic() + 10
    while _session(cmd.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session(cmd.proc.pid) == []


@pytest.mark.slow
def test_ctrl_c_during_the_causal_search(big, tmp_path):
    out = tmp_path / "out"
    cmd = Command("solve", big, "--out", out, "-v")
    cmd.wait_for("engine causal")
    time.sleep(0.3)
    _assert_interrupted(*cmd.interrupt(), out)


# --------------------------------------------------------------------------------------
# 3. a closed pipe
# --------------------------------------------------------------------------------------


def test_a_closed_pipe_is_not_a_bug(small, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [STOCKPLAN, "solve", str(small), "--out", str(out), "--no-diagnostics"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader has gone before anything is printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err
    summary = json.loads((out / "summary.json").read_text())
    with (out / "plan.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == summary["items"] == 3


def test_head_2_exits_0_under_pipefail(small, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{STOCKPLAN}' solve '{small}' --out '{out}' | head -2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    assert json.loads((out / "summary.json").read_text())["status"] == "optimal"


# --------------------------------------------------------------------------------------
# 4. provenance
# --------------------------------------------------------------------------------------


def test_summary_says_where_it_came_from(small, tmp_path):
    out = tmp_path / "out"
    args = ["solve", str(small), "--out", str(out), "--eval-scenarios", "20", "--seed", "4"]
    before = datetime.now(UTC).replace(microsecond=0)
    res = runner.invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    prov = summary["provenance"]
    created = datetime.fromisoformat(prov["created_utc"].replace("Z", "+00:00"))
    assert prov["created_utc"].endswith("Z") and created.utcoffset().total_seconds() == 0
    assert before <= created <= datetime.now(UTC)
    assert prov["command"] == ["stockplan", *args]
    files = {Path(p).name: v for p, v in prov["inputs"].items()}
    assert set(files) == {"instance.toml", "items.csv", "suppliers.csv"}
    for name, entry in files.items():
        data = (small / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert prov["versions"]["stockplan"] and prov["versions"]["highspy"]
    settings = prov["settings"]
    assert settings["engine"] == "auto" and settings["seed"] == 4
    assert settings["eval_scenarios"] == 20 and settings["time_limit"] is None
    assert summary["engine"] == "causal"  # the engine auto chose


def test_evaluate_json_hashes_the_plan_too(small, solved, tmp_path):
    res = run("evaluate", small, "--plan", solved / "plan.csv", "--out", tmp_path / "e",
              "--eval-scenarios", 10)  # fmt: skip
    assert res.exit_code == 0, res.output
    prov = json.loads((tmp_path / "e" / "evaluation.json").read_text())["provenance"]
    plan_hash = hashlib.sha256((solved / "plan.csv").read_bytes()).hexdigest()
    assert prov["inputs"][str(solved / "plan.csv")]["sha256"] == plan_hash


# --------------------------------------------------------------------------------------
# 5. the same option names in every command
# --------------------------------------------------------------------------------------


def _options(command: str) -> dict[str, object]:
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    cmd = group.get_command(ctx, command)
    return {opt: p for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}


SHARED = {
    "solve": ["--out", "--scenarios", "--eval-scenarios", "--seed", "--engine", "--threads",
              "--time-limit", "--follow-links", "-v"],
    "compare": ["--out", "--scenarios", "--eval-scenarios", "--seed", "--engine", "--threads",
                "--time-limit", "--follow-links", "-v", "--plan"],
    "evaluate": ["--out", "--eval-scenarios", "--seed", "--follow-links", "-v", "--plan"],
    "validate": ["--follow-links", "-v"],
    "generate": ["--out", "--scenarios", "--seed", "--force"],
    "demo": ["--force"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(SHARED))
def test_the_same_things_have_the_same_names(command):
    options = _options(command)
    missing = [name for name in SHARED[command] if name not in options]
    assert not missing, f"{command} lacks {missing}"
    if "-v" in options:
        assert options["-v"].count and "--verbose" in options["-v"].opts


@pytest.mark.parametrize("command", ["solve", "compare", "evaluate", "validate"])
def test_help_shows_v_as_a_count_flag(command):
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    line = next(ln for ln in res.output.splitlines() if "--verbose" in ln)
    assert "<int>" not in line and "INTEGER" not in line
    assert "-v info, -vv debug" in line


def test_evaluate_eval_scenarios_and_its_deprecated_spelling(small, solved, tmp_path):
    plan = solved / "plan.csv"
    new = run("evaluate", small, "--plan", plan, "--eval-scenarios", 12, "--out", tmp_path / "a")
    assert new.exit_code == 0, new.output
    assert "deprecated" not in new.output
    old = runner.invoke(
        app, ["evaluate", str(small), "--plan", str(plan), "--scenarios", "12", "--out",
              str(tmp_path / "b")],
    )  # fmt: skip
    assert old.exit_code == 0, old.output
    assert "--scenarios is deprecated; use --eval-scenarios" in old.stderr
    for folder in ("a", "b"):
        assert json.loads((tmp_path / folder / "evaluation.json").read_text())["scenarios"] == 12
    both = run("evaluate", small, "--plan", plan, "--scenarios", 12, "--eval-scenarios", 13)
    assert both.exit_code == 2
    helptext = runner.invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"}).output
    assert "--eval-scenarios" in helptext and "--scenarios " not in helptext


def test_plan_settings_keep_their_brackets_in_help():
    for command in ("solve", "generate"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        assert "[plan]" in text


# --------------------------------------------------------------------------------------
# 6. compare's options, evaluate's checks
# --------------------------------------------------------------------------------------


def test_compare_ranks_the_planners_own_plans(small, solved, tmp_path):
    mine = tmp_path / "my_plan.csv"
    mine.write_bytes((solved / "plan.csv").read_bytes())
    lean = tmp_path / "lean.csv"
    inst = load_instance(small)
    with lean.open("w") as fh:
        fh.write("item,base_stock,reserved_capacity\n")
        for name, L, mu in zip(inst.items.name, inst.items.lead_time, inst.items.demand_mean,
                               strict=True):  # fmt: skip
            fh.write(f"{name},{(L + 1) * mu:.6f},0\n")
    out = tmp_path / "out"
    res = run("compare", small, "--out", out, "--eval-scenarios", 20, "--plan", mine,
              "--plan", lean, "--engine", "causal", "--threads", 1,
              "--time-limit", 300)  # fmt: skip
    assert res.exit_code == 0, res.output
    table = {r["policy"]: r for r in csv.DictReader((out / "comparison.csv").open())}
    assert {"my_plan", "lean", "stochastic"} <= set(table)
    assert table["my_plan"]["family"] == "planner"
    # the planner's copy of the stochastic plan costs what the stochastic plan costs
    assert float(table["my_plan"]["expected_cost"]) == pytest.approx(
        float(table["stochastic"]["expected_cost"]), rel=1e-9
    )
    assert (out / "plans" / "my_plan.csv").exists() and "my_plan" in res.output


def test_compare_with_a_spent_budget_still_ranks_the_plans(small, tmp_path):
    """The fits get what is left (none here); every plan is still priced on the same
    scenarios; a benchmark that found no plan within the budget is left out, said so."""
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["compare", str(small), "--out", str(out), "--eval-scenarios", "20",
              "--time-limit", "0.001"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = {r["policy"]: r for r in csv.DictReader((out / "comparison.csv").open())}
    assert {"stochastic", "jit", "newsvendor"} <= set(table)
    assert all(float(r["expected_cost"]) > 0 for r in table.values())  # all priced
    # the hindsight benchmarks' engines found no plan in no time: left out, with a warning
    assert not {"ev", "stochastic_hindsight"} & set(table)
    for name in ("ev", "stochastic_hindsight"):
        assert f"{name} left out of the comparison" in _text(res.stderr)


def test_compare_refuses_a_plan_named_like_a_policy_or_twice(small, solved, tmp_path):
    (tmp_path / "a").mkdir()
    jit = tmp_path / "jit.csv"
    jit.write_bytes((solved / "plan.csv").read_bytes())
    res = run("compare", small, "--plan", jit, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "'jit' is a policy's" in _text(res.output)
    same = tmp_path / "a" / "x.csv"
    same.write_bytes(jit.read_bytes())
    twice = tmp_path / "x.csv"
    twice.write_bytes(jit.read_bytes())
    res = run("compare", small, "--plan", same, "--plan", twice, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "another --plan file's" in _text(res.output)
    assert run("compare", small, "--engine", "nope").exit_code == 2


def _plan_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict[str, str]], drop: str | None = None) -> Path:
    columns = [c for c in rows[0] if c != drop]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _evaluate(small: Path, plan: Path):
    return run("evaluate", small, "--plan", plan, "--eval-scenarios", 10)


def test_evaluate_refuses_safety_stock_edited_without_base_stock(small, solved, tmp_path):
    rows = _plan_rows(solved / "plan.csv")
    rows[1]["safety_stock"] = str(float(rows[1]["safety_stock"]) + 5)
    res = _evaluate(small, _write_rows(tmp_path / "p.csv", rows))
    assert res.exit_code == 3, res.output
    text = _text(res.output)
    assert "disagrees with base_stock" in text and rows[1]["item"] in text
    # edited together (with the ERP fields that repeat them), they agree: accepted
    for column in ("base_stock", "order_up_to", "safety_stock_units"):
        if column in rows[1]:
            rows[1][column] = str(float(rows[1][column]) + 5)
    assert _evaluate(small, _write_rows(tmp_path / "q.csv", rows)).exit_code == 0


@pytest.mark.parametrize(("column", "by"), [("order_up_to", 3), ("safety_stock_units", 2)])
def test_evaluate_refuses_an_erp_field_edited_without_base_stock(
    small, solved, tmp_path, column, by
):
    rows = _plan_rows(solved / "plan.csv")
    assert column in rows[0], "plan.csv carries the ERP fields"
    rows[2][column] = str(float(rows[2][column]) + by)
    res = _evaluate(small, _write_rows(tmp_path / "p.csv", rows))
    assert res.exit_code == 3, res.output
    assert f"{column} " in _text(res.output) and "disagrees with base_stock" in _text(res.output)


def test_evaluate_refuses_a_missing_base_stock(small, solved, tmp_path):
    rows = _plan_rows(solved / "plan.csv")
    rows[0]["base_stock"] = ""
    res = _evaluate(small, _write_rows(tmp_path / "p.csv", rows))
    assert res.exit_code == 3 and "base_stock is empty" in _text(res.output)
    res = _evaluate(small, _write_rows(tmp_path / "q.csv", rows, drop="base_stock"))
    assert res.exit_code == 3 and "required column is missing" in _text(res.output)


def test_evaluate_refuses_a_missing_reserved_capacity(small, solved, tmp_path):
    inst = load_instance(small)
    reserving = set(inst.items.name[inst.items.reserves_capacity])
    assert reserving, "the fixture must have an item that reserves capacity"
    rows = _plan_rows(solved / "plan.csv")
    res = _evaluate(small, _write_rows(tmp_path / "p.csv", rows, drop="reserved_capacity"))
    assert res.exit_code == 3, res.output
    text = _text(res.output)
    assert "reserves emergency capacity" in text
    assert all(name in text for name in reserving)
    for row in rows:
        if row["item"] in reserving:
            row["reserved_capacity"] = ""
    res = _evaluate(small, _write_rows(tmp_path / "q.csv", rows))
    assert res.exit_code == 3 and "reserves emergency capacity" in _text(res.output)


def test_evaluate_refuses_unknown_and_repeated_items(small, solved, tmp_path):
    rows = _plan_rows(solved / "plan.csv")
    res = _evaluate(small, _write_rows(tmp_path / "p.csv", [*rows, dict(rows[0])]))
    assert res.exit_code == 3 and "listed twice (first in row 1)" in _text(res.output)
    ghost = dict(rows[0], item="ghost")
    res = _evaluate(small, _write_rows(tmp_path / "q.csv", [*rows, ghost]))
    assert res.exit_code == 3 and "not in the instance" in _text(res.output)


# --------------------------------------------------------------------------------------
# 7. rich markup never reads data; wide tables when piped
# --------------------------------------------------------------------------------------

ODD = ["a[b]", "[red]x", "[bold]y[/bold]"]


def test_names_and_headers_print_verbatim(tmp_path):
    case = Case(tmp_path / "odd")
    for row, name in zip(case.items, ODD, strict=True):
        row["item"] = name
    case.toml["name"] = "[blue]shop"
    folder = case.write()
    res = run("solve", folder, "--out", tmp_path / "out", "--no-diagnostics")
    assert res.exit_code == 0, res.output
    assert "E[cost]" in res.output
    for name in ODD:
        assert name in res.output, name
    assert "Stocking plan — [blue]shop" in res.output
    res = run("validate", folder)
    assert res.exit_code == 0 and "valid: [blue]shop" in res.output
    odd_plan = tmp_path / "[red]mine.csv"
    odd_plan.write_bytes((tmp_path / "out" / "plan.csv").read_bytes())
    res = run("evaluate", folder, "--plan", odd_plan, "--eval-scenarios", 10)
    assert res.exit_code == 0, res.output
    assert "E[cost]" in res.output and all(name in res.output for name in ODD)
    res = run("compare", folder, "--plan", odd_plan, "--out", tmp_path / "c",
              "--eval-scenarios", 10)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "[red]mine" in res.output


def test_a_wide_table_stays_whole_through_a_pipe():
    code = (
        "from rich.table import Table\n"
        "from optimizer.cli.common import console\n"
        "t = Table()\n"
        "for k in range(12):\n"
        "    t.add_column(f'column_{k:02d}_header', no_wrap=True)\n"
        "for r in range(3):\n"
        "    t.add_row(*[f'{r}-{k}-value-{1234567.891 * k:,.2f}' for k in range(12)])\n"
        "console.print(t)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert "…" not in out
    for k in range(12):
        assert f"column_{k:02d}_header" in out
    rows = [ln for ln in out.splitlines() if "-value-" in ln]
    assert len(rows) == 3  # one line per row, no cell wrapped or cut
    for r, line in enumerate(rows):
        assert all(f"{r}-{k}-value-{1234567.891 * k:,.2f}" in line for k in range(12))


def test_solve_output_through_a_pipe_keeps_long_names(tmp_path):
    case = Case(tmp_path / "long")
    for k, row in enumerate(case.items):
        row["item"] = f"a-rather-long-item-name-from-the-erp-number-{k:04d}"
    folder = case.write()
    proc = subprocess.run(
        [STOCKPLAN, "solve", str(folder), "--out", str(tmp_path / "out"), "--no-diagnostics"],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    for k in range(3):
        assert f"a-rather-long-item-name-from-the-erp-number-{k:04d}" in proc.stdout
