"""The memory check of ``solve --cluster`` (issue 13): each worker's share, not the client's.

On one machine a program whose item-scenario-period cells do not fit this machine's
memory is refused at load. On a cluster the scenarios live on the workers, chunk by
chunk: the check compares a worker's share (the chunks it holds, as the executor cuts
them) with the ``memory_limit`` each worker reports to the scheduler, and the client's
share (settings, plans and results of the items; no scenarios) with this machine's
memory. The memory figures are monkeypatched (the bytes a cell, this machine's memory)
so a small instance stands for a large one; ``local:2`` starts two real worker
processes, whose memory limits are read from the scheduler.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import optimizer.instance.limits as limits
from optimizer.cli import app
from optimizer.engines.executors import CHUNK_CELLS, chunk_items
from optimizer.instance import load_instance, write_instance
from tests.factories import make_instance

runner = CliRunner()
N_ITEMS = 16


def _text(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "inst"
    write_instance(make_instance(n_items=N_ITEMS, scenarios=20, periods=4), path)
    return path


def _cells(folder: Path) -> float:
    inst = load_instance(folder)
    return float(len(inst.items)) * inst.plan.scenarios * inst.horizon


def _share(folder: Path, workers: int) -> float:
    """Cells of the largest ceil(k / w) chunks the executor cuts for ``workers`` workers."""
    inst = load_instance(folder)
    per_item = inst.plan.scenarios * inst.horizon
    chunks = chunk_items(len(inst.items), _cells(folder), workers, CHUNK_CELLS)
    sizes = sorted((c.size * per_item for c in chunks), reverse=True)
    return float(sum(sizes[: math.ceil(len(chunks) / workers)]))


# --------------------------------------------------------------------------------------
# the rule, without a cluster
# --------------------------------------------------------------------------------------


def _workers(*limits_gb: float) -> dict[str, dict]:
    return {f"tcp://10.0.0.{i}:1": {"memory_limit": g * 1e9, "nthreads": 1}
            for i, g in enumerate(limits_gb)}  # fmt: skip


def test_a_worker_share_is_its_chunks_against_its_memory_limit(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 64e9)
    chunks = [1e8] * 8  # 8 chunks of 100 M cells over 2 workers: 4 each, 400 M cells
    share_bytes = limits.WORKER_BASE_BYTES + 4 * 1e8 * limits.WORKER_BYTES_PER_CELL
    fits = limits.cluster_problem(chunks, _workers(16, 16), n_items=100, file="f", product="p")
    assert fits is None
    small = 0.75 * share_bytes / 1e9  # one worker with three quarters of the share
    found = limits.cluster_problem(chunks, _workers(16, small), n_items=100, file="f", product="p")
    assert found is not None and "memory_limit of worker 'tcp://10.0.0.1:1'" in found.rule
    assert f"{share_bytes / 1e9:.3g} GB" in found.rule and "add workers" in found.rule
    # the same chunks over 4 workers: 2 each, half the cells, fits the smaller worker too
    assert (
        limits.cluster_problem(
            chunks, _workers(16, small, 16, 16), n_items=100, file="f", product="p"
        )
        is None
    )


def test_workers_without_a_memory_limit_are_not_held_to_one(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 64e9)
    assert (
        limits.cluster_problem([1e8] * 4, _workers(0, 0), n_items=10, file="f", product="p") is None
    )


def test_a_worker_share_above_the_model_limit_is_refused(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 64e9)
    chunks = [limits.MAX_CELLS / 2 + 1] * 2  # one chunk a worker, over the limit with two
    assert limits.cluster_problem(chunks, _workers(0, 0), n_items=10, file="f", product="p") is None
    found = limits.cluster_problem(chunks, _workers(0), n_items=10, file="f", product="p")
    assert found is not None and "one worker can carry" in found.rule


def test_the_client_share_is_held_against_this_machine(monkeypatch):
    n = 1_000_000
    need = limits.CLIENT_BASE_BYTES + limits.CLIENT_BYTES_PER_ITEM * n
    monkeypatch.setattr(limits, "machine_memory", lambda: need * 0.9)
    found = limits.cluster_problem([1.0] * 8, _workers(16, 16), n_items=n, file="f", product="p")
    assert found is not None and "the client of the cluster run holds" in found.rule
    assert f"{need / 1e9:.3g} GB" in found.rule
    monkeypatch.setattr(limits, "machine_memory", lambda: need * 1.1)
    assert (
        limits.cluster_problem([1.0] * 8, _workers(16, 16), n_items=n, file="f", product="p")
        is None
    )


def test_the_executor_chunks_are_the_ones_checked():
    chunks = chunk_items(1000, 1000 * 200 * 51, 2, CHUNK_CELLS)
    assert len(chunks) == max(8, math.ceil(1000 * 200 * 51 / CHUNK_CELLS))
    assert np.array_equal(np.concatenate(chunks), np.arange(1000))


# --------------------------------------------------------------------------------------
# local:2: two real workers
# --------------------------------------------------------------------------------------


@pytest.mark.distributed
def test_a_program_too_large_for_this_machine_runs_on_a_cluster_whose_workers_hold_it(
    folder, tmp_path, monkeypatch
):
    """The whole program is 1.5x this machine's memory: refused on one machine, solved on
    two workers, each holding half of its cells (within its own memory limit)."""
    machine = 1e9
    cells, share = _cells(folder), _share(folder, 2)
    monkeypatch.setattr(limits, "machine_memory", lambda: machine)
    monkeypatch.setattr(limits, "BYTES_PER_CELL", 1.5 * machine / cells)
    assert share * limits.BYTES_PER_CELL == pytest.approx(0.75 * machine)
    alone = runner.invoke(app, ["solve", str(folder), "--out", str(tmp_path / "a")])
    assert alone.exit_code == 3, alone.output
    assert "of memory this machine has" in _text(alone.output)
    res = runner.invoke(
        app,
        ["solve", str(folder), "--out", str(tmp_path / "c"), "--cluster", "local:2",
         "--no-diagnostics"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "plan.csv").exists()


@pytest.mark.distributed
def test_a_share_above_the_workers_memory_limit_is_refused_before_any_work(
    folder, tmp_path, monkeypatch
):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        reported = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert len(reported) == 2 and min(reported) > 0
    # every worker's share at twice the largest limit a worker of local:2 reports
    bytes_per_cell = 2 * max(reported) / _share(folder, 2)
    monkeypatch.setattr(limits, "WORKER_BYTES_PER_CELL", bytes_per_cell)
    res = runner.invoke(
        app, ["solve", str(folder), "--out", str(tmp_path / "c"), "--cluster", "local:2"]
    )
    assert res.exit_code == 3, res.output
    text = _text(res.output)
    assert "memory_limit of worker" in text and "add workers" in text, text
    assert f"{min(reported) / 1e9:.3g} GB" in text, text
    assert not (tmp_path / "c").exists()
