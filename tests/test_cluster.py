"""``stockplan solve --cluster``: the item-separable work on a Dask cluster.

A scheduler and two worker processes are started on loopback (127.0.0.1) for the module,
with bounded lifetimes (``--idle-timeout``, ``--lifetime``, ``--death-timeout``) and
stopped at the end whatever happens; every wait has a timeout. The plans solved on the
cluster (``--cluster tcp://127.0.0.1:PORT`` through the command line, ``--cluster
local:2`` through :func:`optimizer.planning.make_plan`) must equal the single-machine
plan to 1e-9, with and without a binding inventory budget, and also when a worker is
killed (SIGKILL) while it runs a search task: the scheduler reruns the task and
recomputes the chunks that died with the worker.

These tests need the ``cluster`` extra (Dask distributed); they fail, not skip, without
it: CI installs it with the test extra.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, WorkerPlugin
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.engines.executors import DaskItems, search
from optimizer.instance import write_instance
from optimizer.instance.generator import generate_instance
from optimizer.planning import make_plan
from optimizer.program.data import program_data
from optimizer.scenarios import generate_scenarios

pytestmark = pytest.mark.distributed

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0  # seconds for the scheduler and workers to come up
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """A scheduler and two single-thread workers on 127.0.0.1; yields (address, client)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask-logs")
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the test's worker plugin imports
    procs: list[subprocess.Popen] = []

    def start(args: list[str], name: str) -> None:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [str(BIN / "dask"), *args], stdout=out, stderr=subprocess.STDOUT,
                env=env, cwd=REPO, start_new_session=True,
            )
        )  # fmt: skip

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
               "--idle-timeout", "300"], "scheduler")  # fmt: skip
        for k in range(2):
            start(["worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{k}",
                   "--lifetime", "600", "--death-timeout", "30", "--memory-limit", "2GiB"],
                  f"worker{k}")  # fmt: skip
        client = Client(address, timeout=START_TIMEOUT)
        try:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
            yield address, client
        finally:
            client.close()
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Two generated instances (one with a binding budget) and their single-machine plans."""
    out = {}
    for case, n, N, share in (("separable", 24, 60, None), ("binding-budget", 12, 40, 0.3)):
        # a binding budget prices the row in tens of rounds: fewer items and scenarios
        inst = generate_instance(n, 3, seed=5, scenarios=N, budget_share=share)
        folder = tmp_path_factory.mktemp(case) / "instance"
        write_instance(inst, folder)
        ref = make_plan(inst, with_diagnostics=False)
        if share is not None:  # the budget binds: the plan row is priced on the client
            assert ref.summary["engine_details"]["row"] == "inventory_budget"
            assert ref.summary["engine_details"]["price"] > 0
        out[case] = (folder, ref)
    return out


def _cli_solve(folder: Path, out: Path, cluster: str) -> tuple[np.ndarray, dict]:
    args = ["solve", str(folder), "--out", str(out), "--cluster", cluster, "--no-diagnostics"]
    run = runner.invoke(app, args, catch_exceptions=False)
    assert run.exit_code == 0, run.output[-3000:]
    plan = pd.read_csv(out / "plan.csv")
    return plan["base_stock"].to_numpy(float), json.loads((out / "summary.json").read_text())


def _assert_same(S: np.ndarray, summary: dict, ref) -> None:
    np.testing.assert_allclose(S, ref.solution.base_stock, rtol=0, atol=1e-9)
    rel = abs(summary["objective"] - ref.summary["objective"]) / abs(ref.summary["objective"])
    assert rel <= 1e-9, (summary["objective"], ref.summary["objective"])
    assert summary["engine"] == "causal" and ref.summary["engine"] == "causal"


def test_chunked_search_equals_whole(loopback):
    """Item searches over chunks on the workers give the whole search's levels exactly.

    Costs and derivatives agree to round-off (the per-item means are BLAS dot products of
    differently laid-out blocks).
    """
    _address, client = loopback
    inst = generate_instance(20, 3, seed=2, scenarios=30)
    data = program_data(inst, generate_scenarios(inst))
    work = DaskItems(client, inst)
    try:
        assert len(work.chunks) > 1
        whole = search(data, price=0.3, weight=data.unit_cost)
        chunked = search(work, price=0.3, weight=data.unit_cost)
    finally:
        work.close()
    assert np.array_equal(whole.items, chunked.items)
    for name in ("base_stock", "reserved", "lower", "certified", "convex"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name), name)
    for name in ("cost", "right", "left", "fill_rate"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-12)


def test_loopback_cluster_gives_the_single_machine_plan(loopback, cases, tmp_path):
    """Through the command line on the two-worker loopback cluster (the budget case, with a
    worker killed, is the test after the next)."""
    address, _client = loopback
    folder, ref = cases["separable"]
    S, summary = _cli_solve(folder, tmp_path / "out", address)
    _assert_same(S, summary, ref)
    assert summary["cluster"]["workers"] == 2 and summary["cluster"]["chunks"] >= 8
    want = ref.summary["expected_cost"]
    assert abs(summary["expected_cost"] - want) <= 1e-9 * want
    assert summary["expected_cost_scenarios"] == ref.summary["expected_cost_scenarios"]


@pytest.mark.parametrize("shortage,n", [("lost_sales", 16), ("backorder", 6)])
def test_local_cluster_gives_the_single_machine_plan_and_diagnostics(tmp_path, shortage, n):
    """Backorders: the hindsight figures come from the LP engines, in the workers."""
    inst = generate_instance(n, 3, seed=7, scenarios=40, shortage=shortage)
    ref = make_plan(inst)
    got = make_plan(inst, cluster="local:2")
    np.testing.assert_allclose(got.solution.base_stock, ref.solution.base_stock, atol=1e-9, rtol=0)
    np.testing.assert_allclose(got.solution.reserved, ref.solution.reserved, atol=1e-9, rtol=0)
    for key in ("objective", "expected_cost"):
        assert got.summary[key] == pytest.approx(ref.summary[key], rel=1e-9)
    for key in ("RP", "EV", "EEV", "VSS", "WS_hindsight", "EVPI", "hindsight_bound"):
        want = ref.summary["diagnostics"][key]
        assert got.summary["diagnostics"][key] == pytest.approx(want, rel=1e-9, abs=1e-9), key
    pd.testing.assert_frame_equal(got.plan, ref.plan, rtol=1e-9)


class KillOnce(WorkerPlugin):
    """SIGKILL the worker when it starts a task whose key begins with ``prefix``, once."""

    name = "stockplan-test-kill-once"

    def __init__(self, marker: str, prefix: str) -> None:
        self.marker, self.prefix = marker, prefix

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish != "executing" or not str(key).startswith(self.prefix):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, f"{os.getpid()} {key}".encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_changes_nothing(loopback, cases, tmp_path):
    """A worker SIGKILLed while it searches, in the price loop of a binding budget."""
    address, client = loopback
    case = "binding-budget"
    folder, ref = cases[case]
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker), "stockplan-search_chunk-"))
    try:
        S, summary = _cli_solve(folder, tmp_path / "out", address)
    finally:
        client.unregister_worker_plugin(KillOnce.name)
        client.wait_for_workers(2, timeout=START_TIMEOUT)  # the nanny restarts it
    assert marker.exists(), "no worker was killed: the test did not test anything"
    pid = int(marker.read_text().split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"worker {pid} still alive")
    _assert_same(S, summary, ref)


@pytest.mark.parametrize("spec", ["local:0", "local:two", "127.0.0.1:8786"])
def test_cluster_option_is_checked_before_any_work(tmp_path, spec):
    run = runner.invoke(app, ["solve", "--cluster", spec, "--out", str(tmp_path / "o")])
    assert run.exit_code == 2 and "--cluster" in run.output
    assert not (tmp_path / "o").exists()


def test_dask_is_not_imported_without_cluster():
    code = "import sys, optimizer.cli, optimizer.planning; print('distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _task_state() -> dict:
    """What :func:`worker_task` leaves behind where it runs (for the tests below)."""
    import numba

    from optimizer.engines.executors import _tune_malloc, on_worker, worker_task

    before = numba.get_num_threads()
    worker_task()
    return {
        "on_worker": on_worker(),
        "threads_before": before,
        "threads_after": numba.get_num_threads(),
        "malloc_tuned": _tune_malloc(),
    }


def test_chunk_tasks_keep_every_thread_in_process():
    """The single-machine path runs the chunk tasks too; they must not drop its threads.

    Before ``worker_task`` looked where it ran, the first ``search`` of the price loop
    set numba to one thread for the rest of the process.
    """
    import numba

    inst = generate_instance(6, 3, seed=3, scenarios=30)
    data = program_data(inst, generate_scenarios(inst), consume=True)
    from optimizer.engines.executors import play

    before = numba.get_num_threads()
    threads = numba.config.NUMBA_NUM_THREADS  # this process's most
    try:
        numba.set_num_threads(threads)
        plans = search(data)
        play(data, plans.base_stock)
        state = _task_state()
        assert not state["on_worker"]
        assert numba.get_num_threads() == threads == state["threads_after"]
    finally:
        numba.set_num_threads(before)


def test_chunk_tasks_on_a_worker_run_one_thread_with_malloc_tuned(loopback):
    """On a worker a task's kernels run on one thread, and glibc's malloc takes the tuning."""
    _address, client = loopback
    state = client.submit(_task_state, pure=False).result(timeout=START_TIMEOUT)
    assert state["on_worker"]
    assert state["threads_after"] == 1
    assert state["malloc_tuned"] is (sys.platform == "linux")
