"""The cluster path (``stockplan solve --cluster``) against the single-machine run.

Two sweeps, each configuration in a fresh process (so numba's thread count and the peak
memory are its own), all through :func:`optimizer.planning.make_plan` with the timings of
its summary (scenario generation and plan, out-of-sample pricing, diagnostics):

* ``--compare ITEMSxSCENARIOS`` (default ``1000x1000``): the in-process run with two
  numba threads against ``local:2`` (two worker processes, one thread each), and the
  in-process run with one thread against ``local:1``; the overhead of the cluster path is
  its time over the in-process time of the same cores (target: at most 15%), and every
  configuration must give the same plan (checked, to 1e-9). ``--repeat N`` runs the
  configurations N times in turn; each ``local:N`` run is compared with the ``inproc:N``
  run of its own repeat, and the median and range over the repeats are printed.
* ``--large ITEMSxSCENARIOS``: one run through ``local:2`` without diagnostics, the
  scenarios generated on the workers, with the time and each worker's peak resident
  memory; ``--large-plan-only`` skips the out-of-sample pricing.

Usage::

    python benchmarks/cluster.py --compare 1000x1000
    python benchmarks/cluster.py --compare 1000x1000 --configs inproc:1,local:1 --repeat 3
    python benchmarks/cluster.py --large 10000x200

Appends one JSON record per run to ``benchmarks/results/cluster.jsonl`` (with the load
average before and after: the machine may be shared) and prints a table. Benchmarks are
not tests: compare within one batch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "cluster.jsonl"
SUPPLIERS = 8
SEED = 1


def _size(text: str) -> tuple[int, int]:
    items, scenarios = text.lower().split("x")
    return int(items), int(scenarios)


def _one(config: str, items: int, scenarios: int, diagnostics: bool, plan_only: bool, out: str):
    """Run one configuration in this process and print its record (the child's job)."""
    from optimizer.engines.executors import open_cluster, peak_memory_per_worker
    from optimizer.instance.generator import generate_instance
    from optimizer.planning import make_plan

    inst = generate_instance(items, SUPPLIERS, seed=SEED, scenarios=scenarios)
    kw = dict(with_diagnostics=diagnostics)
    if plan_only:
        kw["max_eval_scenarios"] = 2  # the first batch only, of 2 scenarios
        kw["eval_scenarios"] = 2
    t0 = time.perf_counter()
    workers: dict = {}
    if config.startswith("local:"):
        with open_cluster(config) as client:
            started = time.perf_counter() - t0
            res = make_plan(inst, cluster=client, **kw)
            workers = peak_memory_per_worker(client)
    else:
        started = 0.0
        res = make_plan(inst, **kw)
    wall = time.perf_counter() - t0
    np.save(out, res.solution.base_stock)
    s = res.summary
    record = {
        "config": config,
        "items": items,
        "scenarios": scenarios,
        "horizon": inst.horizon,
        "cells": items * scenarios * inst.horizon,
        "diagnostics": diagnostics,
        "plan_only": plan_only,
        "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")) or None,
        "cluster_start_seconds": round(started, 3),
        "wall_seconds": round(wall, 3),
        "plan_seconds": round(s["plan_seconds"], 3),
        "headline_seconds": round(s["headline_seconds"], 3),
        "diagnostics_seconds": round(s["diagnostics_seconds"], 3),
        "total_seconds": round(s["total_seconds"], 3),
        "expected_cost_scenarios": s.get("expected_cost_scenarios"),
        "objective": s["objective"],
        "status": s["status"],
        "chunks": s.get("cluster", {}).get("chunks"),
        "client_peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "worker_peak_gb": sorted(round(v / 2**30, 3) for v in workers.values()),
    }
    print("RECORD " + json.dumps(record))


def _run(config: str, items: int, scenarios: int, *, diagnostics: bool, plan_only: bool,
         tmp: Path) -> dict:  # fmt: skip
    env = dict(os.environ)
    if config.startswith("inproc:"):
        env["NUMBA_NUM_THREADS"] = config.removeprefix("inproc:")
    out = tmp / f"{config.replace(':', '_')}.npy"
    cmd = [sys.executable, __file__, "--one", config, "--size", f"{items}x{scenarios}",
           "--plan-out", str(out)] + (["--diagnostics"] if diagnostics else []) + (
           ["--plan-only"] if plan_only else [])  # fmt: skip
    load0 = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RECORD ")]
    if run.returncode != 0 or not lines:
        raise SystemExit(f"{config} failed ({run.returncode}):\n{run.stderr[-4000:]}")
    rec = json.loads(lines[-1].removeprefix("RECORD "))
    rec.update(started_utc=started, load_before=round(load0, 2),
               load_after=round(os.getloadavg()[0], 2), plan_file=str(out))  # fmt: skip
    return rec


def _overheads(batch: list[dict]) -> None:
    """Each ``local:N`` run's time over the ``inproc:N`` run of the same repeat."""
    base = {r["config"]: r for r in batch}
    for rec in batch:
        if rec["config"].startswith("local:"):
            ref = base.get("inproc:" + rec["config"].removeprefix("local:"))
            if ref:
                for what in ("plan_seconds", "total_seconds", "wall_seconds"):
                    rec[f"overhead_{what}"] = round(rec[what] / ref[what] - 1, 4)


def _spreads(records: list[dict]) -> list[str]:
    """Median and range of the overheads over the repeats, per ``local:N``."""
    out = []
    for config in sorted({r["config"] for r in records if "overhead_plan_seconds" in r}):
        for what in ("plan_seconds", "total_seconds"):
            v = sorted(r[f"overhead_{what}"] for r in records if r["config"] == config
                       and f"overhead_{what}" in r)  # fmt: skip
            out.append(f"{config} overhead {what}: median {np.median(v):+.1%}, "
                       f"range {v[0]:+.1%} .. {v[-1]:+.1%} over {len(v)} repeats")  # fmt: skip
    return out


def _commit() -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=ROOT)  # fmt: skip
    return run.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", metavar="NxM", help="in-process vs local:1 and local:2")
    ap.add_argument("--large", metavar="NxM", help="one local:2 run without diagnostics")
    ap.add_argument("--large-plan-only", action="store_true", help="skip the headline")
    ap.add_argument("--configs", default="inproc:2,local:2,inproc:1,local:1")
    ap.add_argument("--repeat", type=int, default=1, help="repeats of --compare's configs")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--plan-out", help=argparse.SUPPRESS)
    ap.add_argument("--diagnostics", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--plan-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        items, scenarios = _size(args.size)
        _one(args.one, items, scenarios, args.diagnostics, args.plan_only, args.plan_out)
        return
    records = []
    commit = _commit()
    with tempfile.TemporaryDirectory() as tmp:
        if args.compare:
            items, scenarios = _size(args.compare)
            configs = args.configs.split(",")
            for rep in range(args.repeat):
                batch = []
                for config in configs:
                    rec = _run(config, items, scenarios, diagnostics=True, plan_only=False,
                               tmp=Path(tmp))  # fmt: skip
                    rec.update(sweep="compare", commit=commit, repeat=rep)
                    batch.append(rec)
                    print(json.dumps(rec), flush=True)
                _overheads(batch)
                records.extend(batch)
            plans = [np.load(r["plan_file"]) for r in records]
            for rec, plan in zip(records, plans, strict=True):
                rec["plan_max_diff"] = float(np.max(np.abs(plan - plans[0])))
        if args.large:
            items, scenarios = _size(args.large)
            rec = _run("local:2", items, scenarios, diagnostics=False,
                       plan_only=args.large_plan_only, tmp=Path(tmp))  # fmt: skip
            rec.update(sweep="large", commit=commit)
            rec["items_per_second"] = round(items / rec["plan_seconds"], 2)
            records.append(rec)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        for rec in records:
            rec.pop("plan_file", None)
            fh.write(json.dumps(rec) + "\n")
    cols = ("sweep", "config", "items", "scenarios", "plan_seconds", "headline_seconds",
            "diagnostics_seconds", "total_seconds", "overhead_plan_seconds",
            "overhead_total_seconds", "client_peak_gb", "worker_peak_gb", "plan_max_diff",
            "load_before", "load_after")  # fmt: skip
    print(" | ".join(cols))
    for rec in records:
        print(" | ".join(str(rec.get(c, "")) for c in cols))
    for line in _spreads(records):
        print(line)


if __name__ == "__main__":
    main()
