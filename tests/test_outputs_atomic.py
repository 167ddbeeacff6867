"""Outputs are all-or-nothing: checked before the solve, swapped into place in one step.

* ``--out`` naming a file, a path under a file, or a place that cannot take new entries
  stops the command (exit 2) before any work;
* a write that fails part-way leaves the old complete set and no temporary file;
* a writer killed with ``SIGKILL`` at random moments leaves, every time, a folder whose
  files belong to one write (never a new plan beside an old summary), and the next write
  clears the staging folder the killed one left;
* files are created ``0644`` (less the umask), and files of the folder that a write does
  not produce are kept.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer.report.files as report
from optimizer.cli import app
from optimizer.errors import OutputFolderError
from optimizer.report import check_out, write_outputs

runner = CliRunner()


def _files(version: int) -> dict:
    return {
        "plan.csv": pd.DataFrame({"item": ["a", "b"], "version": [version, version]}),
        "summary.json": {"version": version},
    }


def _version_set(out) -> set:
    plan = pd.read_csv(out / "plan.csv")
    return set(plan["version"]) | {json.loads((out / "summary.json").read_text())["version"]}


@pytest.mark.parametrize("command", ["solve", "compare"])
def test_a_bad_out_stops_the_command_before_any_work(tmp_path, monkeypatch, command):
    def never(*_, **__):
        raise AssertionError("the solve started")

    work = {
        "solve": "optimizer.cli.solve.make_plan",
        "compare": "optimizer.cli.compare.run_comparison",
    }
    monkeypatch.setattr(work[command], never)
    monkeypatch.setattr(f"optimizer.cli.{command}.load", never)  # not even the instance
    a_file = tmp_path / "plan.txt"
    a_file.write_text("x")
    for out, says in [(a_file, "is a file"), (a_file / "sub", "which is a file")]:
        res = runner.invoke(app, [command, "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert says in res.output


def test_a_place_that_takes_no_new_entries_is_refused(tmp_path, monkeypatch):
    """(Run as root, permissions do not bind, so ``os.access`` is what is checked.)"""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(
        report.os, "access", lambda p, mode: False if str(p) == str(locked) else real(p, mode)
    )
    with pytest.raises(OutputFolderError, match="not writable"):
        check_out(locked / "out")


def test_a_failed_write_leaves_the_old_set_and_no_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(out, _files(1))
    calls = {"n": 0}
    safe = report.spreadsheet_safe

    def breaks_on_second(df):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return safe(df)

    monkeypatch.setattr(report, "spreadsheet_safe", breaks_on_second)
    files = _files(2)
    files["extra.csv"] = pd.DataFrame({"x": [1]})
    with pytest.raises(OSError, match="disk full"):
        write_outputs(out, files)
    assert _version_set(out) == {1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left


def test_modes_and_other_files_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    write_outputs(out, _files(1))
    write_outputs(out, _files(2))
    assert (out / "notes.txt").read_text() == "mine"
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "plan.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert _version_set(out) == {2}


WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from optimizer.report import write_outputs
    out = sys.argv[1]
    v = 0
    big = pd.DataFrame({"item": ["x"] * 20000})
    while True:
        v += 1
        write_outputs(out, {"plan.csv": big.assign(version=v), "summary.json": {"version": v}})
    """
)


def test_kills_at_random_moments_leave_one_complete_set(tmp_path):
    out = tmp_path / "out"
    rng = random.Random(7)
    seen = set()
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)])
        time.sleep(0.6 + rng.random() * 0.8)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if out.exists():
            versions = _version_set(out)
            assert len(versions) == 1, versions  # never a mix of two writes
            seen |= versions
    assert len(seen) > 1  # the writer did get through several writes
    # the next write clears what the killed ones left beside the folder
    write_outputs(out, _files(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
