"""``solve --cluster`` at parity with one machine: time limit, whole units, service, explanation.

Each stage the single-machine branch of :func:`optimizer.planning.make_plan` runs is run
on a ``local:2`` cluster (two worker processes, one thread each, started for the module by
:func:`optimizer.engines.executors.open_cluster` and stopped at its end whatever happens;
connecting waits at most its ``CONNECT_TIMEOUT``) and compared with the single-machine
output on small generated instances, to 1e-9:

* ``--time-limit`` (``deadline``): spent before the plan stage (every item at its cover
  level, no headline, no diagnostics) and with time to spare (the plan of no limit); the
  summary's status and ``time_limit`` entries as on one machine;
* whole units of a fractional plan, the floor and ceiling candidates played on the workers;
* the service-target columns (``target_fill_rate``, ``target_binds``,
  ``implied_stockout_penalty``) with targets that bind;
* the explanation of ``--report`` / ``--xlsx`` (buffers, ±10% costs, cover sweep, curves).

These tests need the ``cluster`` extra (Dask distributed); they fail, not skip, without it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest

from optimizer.analysis.outputs import solve_files
from optimizer.engines.executors import DaskItems, open_cluster
from optimizer.engines.rounding import whole_solution, whole_units
from optimizer.instance.generator import generate_instance
from optimizer.planning import make_plan
from optimizer.program.data import program_data, program_skeleton
from optimizer.scenarios import generate_scenarios

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def client():
    """A ``local:2`` cluster for the module (ended when the module's tests are done)."""
    with open_cluster("local:2") as c:
        yield c


def _same_plan(got, ref) -> None:
    for name in ("base_stock", "reserved"):
        np.testing.assert_allclose(
            getattr(got.solution, name), getattr(ref.solution, name), rtol=0, atol=1e-9
        )
    pd.testing.assert_frame_equal(got.plan, ref.plan, rtol=1e-9)


def test_time_limit_spent_before_the_plan_stage(client):
    """Every item at its cover level, no headline, no diagnostics: on one machine and here."""
    inst = generate_instance(12, 3, seed=4, scenarios=40)
    spent = time.monotonic() - 1.0  # the whole command's budget is already used up
    ref = make_plan(inst, deadline=spent)
    got = make_plan(inst, cluster=client, deadline=spent)
    assert ref.summary["engine_details"]["items_searched"] == 0  # the case is what it says
    _same_plan(got, ref)
    for key in ("status", "termination_condition", "proven_optimal", "expected_cost"):
        assert got.summary[key] == ref.summary[key], key
    assert got.summary["status"] == "feasible_at_limit"
    assert got.headline is None and got.diagnostics is None
    want, have = ref.summary["time_limit"], got.summary["time_limit"]
    assert have.keys() == want.keys() == {"plan_stage_seconds", "expected_cost", "diagnostics"}
    assert have["plan_stage_seconds"] == want["plan_stage_seconds"] == 0.0
    assert have["expected_cost"] == want["expected_cost"]
    assert have["diagnostics"].startswith("skipped:") and want["diagnostics"].startswith("skipped:")
    assert got.summary["engine_details"]["items_searched"] == 0


def test_time_limit_with_time_to_spare(client):
    """A generous limit changes nothing but the summary's record of it."""
    inst = generate_instance(8, 3, seed=7, scenarios=40)
    ref = make_plan(inst)
    roomy = time.monotonic() + 600.0
    got = make_plan(inst, cluster=client, deadline=roomy)
    _same_plan(got, ref)
    assert got.summary["status"] == ref.summary["status"] == "optimal"
    assert got.summary["expected_cost"] == pytest.approx(ref.summary["expected_cost"], rel=1e-9)
    limit = got.summary["time_limit"]
    assert limit["expected_cost"] == "complete" and limit["diagnostics"] == "complete"
    assert 0 < limit["plan_stage_seconds"] <= 600.0
    for key in ("EV", "EEV", "WS_hindsight", "hindsight_bound"):
        want = ref.summary["diagnostics"][key]
        assert got.summary["diagnostics"][key] == pytest.approx(want, rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("share", [None, 0.3])
def test_whole_units_are_played_on_the_workers(client, share):
    """A fractional plan rounds to the same whole units as on one machine (budget too)."""
    inst = generate_instance(12, 3, seed=5, scenarios=40, budget_share=share)
    data = program_data(inst, generate_scenarios(inst))
    sol = make_plan(inst, with_diagnostics=False).solution
    rng = np.random.default_rng(3)  # fractional levels on either side of the whole plan
    S = np.maximum(sol.base_stock + rng.uniform(-0.9, 0.9, 12), data.min_base_stock)
    K = np.where(data.reserves, sol.reserved + rng.random(12), 0.0)
    ref = whole_units(data, S, K)
    assert ref.changed.sum() >= 6  # fractional levels, floors and ceilings both chosen
    assert (ref.base_stock > np.floor(S)).any() and (ref.base_stock == np.floor(S)).any()
    work = DaskItems(client, inst)
    try:
        assert len(work.chunks) > 1
        got = whole_units(program_skeleton(inst), S, K, work=work)
        frac = dataclasses.replace(sol, base_stock=S, reserved=K)
        via_solution = whole_solution(frac, program_skeleton(inst), True, work=work)
    finally:
        work.close()
    for name in ("base_stock", "reserved", "changed"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), name)
    np.testing.assert_array_equal(via_solution.base_stock, ref.base_stock)
    assert via_solution.details["whole_units"]["items_rounded"] == int(ref.changed.sum())


def test_service_target_columns_on_the_cluster(client):
    """target_fill_rate, target_binds, implied_stockout_penalty as on one machine."""
    inst = generate_instance(10, 3, seed=7, scenarios=40).with_fill_rate(0.995)
    ref = make_plan(inst, with_diagnostics=False)
    got = make_plan(inst, cluster=client, with_diagnostics=False)
    cols = ["target_fill_rate", "target_binds", "implied_stockout_penalty"]
    assert set(cols) <= set(ref.plan.columns)
    assert ref.plan["target_binds"].sum() >= 2  # the targets bind: penalties are priced
    assert np.isfinite(ref.plan["implied_stockout_penalty"]).sum() >= 2
    assert set(cols) <= set(got.plan.columns)
    _same_plan(got, ref)


def test_explanation_on_the_cluster(client):
    """The report's and the workbook's explanation, computed on the workers."""
    inst = generate_instance(10, 3, seed=7, scenarios=40)
    ref = make_plan(inst, with_diagnostics=False)
    got = make_plan(inst, cluster=client, with_diagnostics=False)
    from optimizer.analysis.explain import explain_on_cluster, explain_plan, plan_is_free

    sol = ref.solution
    want = explain_plan(
        inst, ref.data, sol.base_stock, sol.reserved,
        plan_is_free=plan_is_free(inst, ref.data, sol),
    )  # fmt: skip
    have = explain_on_cluster(inst, got)
    assert (want.table["outage_buffer"] != 0).any()  # the split is not trivially zero
    pd.testing.assert_frame_equal(have.table, want.table, rtol=1e-9)
    pd.testing.assert_frame_equal(have.sweep, want.sweep, rtol=1e-9)
    assert have.curves.keys() == want.curves.keys() and len(want.curves) == 10
    for name, (levels, cost) in want.curves.items():
        np.testing.assert_array_equal(have.curves[name][0], levels)
        np.testing.assert_allclose(have.curves[name][1], cost, rtol=1e-9)
    assert have.marks == want.marks and have.scenarios == want.scenarios
    again = explain_on_cluster(inst, got, client=client)  # on the connected client
    pd.testing.assert_frame_equal(again.table, want.table, rtol=1e-9)
    files = solve_files(inst, got, xlsx=True)  # the workbook's explanation sheet is filled
    assert "explanation" not in got.summary and "plan.xlsx" in files


def test_solve_report_starts_one_local_cluster(tmp_path, monkeypatch, capfd):
    """``solve --cluster local:1 --report``: the solve and the explanation share a cluster,
    and Dask's INFO chatter (scheduler, nanny) stays out of the planner's terminal."""
    import json

    from typer.testing import CliRunner

    import optimizer.engines.executors as executors
    from optimizer.cli import app
    from optimizer.instance import write_instance

    started = []
    real = executors.open_cluster

    def counted(spec, **kw):
        started.append(spec)
        return real(spec, **kw)

    monkeypatch.setattr(executors, "open_cluster", counted)
    folder, out = tmp_path / "inst", tmp_path / "out"
    write_instance(generate_instance(6, 2, seed=8, scenarios=30), folder)
    res = CliRunner().invoke(
        app, ["solve", str(folder), "--out", str(out), "--cluster", "local:1", "--report",
              "--no-diagnostics"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    terminal = res.output + "".join(capfd.readouterr())
    assert "Scheduler" not in terminal and "Nanny" not in terminal, terminal[-2000:]
    assert started == ["local:1"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cluster"]["address"] == "local:1"
    assert "explanation" not in summary  # computed, not skipped
    assert "<h2>Why this level</h2>" in (out / "report.html").read_text()
