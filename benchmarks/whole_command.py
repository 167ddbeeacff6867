"""The whole ``stockplan solve`` as a planner runs it: wall time and peak memory.

Each case is one command line, timed end to end by ``/usr/bin/time -v`` (start-up, plan,
out-of-sample pricing, diagnostics and files); the summary's own phase timings are
recorded beside it. Cases:

* ``demo`` — the bundled demo (target: at most 5 s warm);
* ``items300`` — ``stockplan generate --items 300 --suppliers 6 --seed 1`` (at most 15 s);
* ``n1000x1000`` — 1,000 generated items with ``--scenarios 1000`` (at most 60 s, 4 GiB);
* ``n10000x200`` — 10,000 generated items, 200 scenarios (at most 5 min);
* ``n1000x1000_<kind>`` — the 1,000 × 1,000 instance with backorders, a binding budget,
  fill-rate targets or a CVaR weight (each within 3× of the plain lost-sales time);
* ``CASE@tK`` — any case with ``--threads K`` (the time model's cores).

Usage::

    python benchmarks/whole_command.py --cases demo,items300,n1000x1000 [--repeat 2]

Appends one JSON record per run to ``benchmarks/results/whole_command.jsonl`` and prints a
table. Benchmarks are not tests: run them on a quiet machine and compare within one run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "whole_command.jsonl"
TARGETS = {"demo": 5.0, "items300": 15.0, "n1000x1000": 60.0, "n10000x200": 300.0}
KINDS = {
    "backorder": ('shortage = "lost_sales"', 'shortage = "backorder"'),
    "budget": None,  # a binding budget: the pipeline plus 0.75 periods of demand
    "fill_rate": None,  # min_fill_rate 0.98 on every item
    "cvar": ("cvar_weight = 0.0", "cvar_weight = 0.3"),
}


def _generate(folder: Path, items: int, suppliers: int) -> None:
    subprocess.run(
        [
            "stockplan",
            "generate",
            "--items",
            str(items),
            "--suppliers",
            str(suppliers),
            "--seed",
            "1",
            "--out",
            str(folder),
        ],
        check=True,
        capture_output=True,
    )


def _edit(folder: Path, kind: str) -> None:
    """Turn the generated instance into the ``kind`` variant."""
    toml = folder / "instance.toml"
    text = toml.read_text()
    if kind in ("backorder", "cvar"):
        old, new = KINDS[kind]
        if old not in text:
            raise SystemExit(f"{toml} has no line {old!r} to change")
        toml.write_text(text.replace(old, new))
    elif kind == "budget":
        import pandas as pd

        items = pd.read_csv(folder / "items.csv")
        # the pipeline's value plus half of a generous 1.5 periods of demand on top: binds
        # (half of the whole (L + 1.5) mu value, used before, fell below the pipeline)
        cost, mean = items["unit_cost"], items["demand_mean"]
        value = float((cost * items["lead_time"] * mean).sum() + 0.5 * (cost * 1.5 * mean).sum())
        toml.write_text(text.replace("[plan]", f"[plan]\ninventory_budget = {value:.2f}"))
    elif kind == "fill_rate":
        import pandas as pd

        items = pd.read_csv(folder / "items.csv")
        items["min_fill_rate"] = 0.98
        items.to_csv(folder / "items.csv", index=False)


def case_command(case: str, work: Path) -> list[str]:
    """The ``stockplan solve`` command line of ``case`` (instances made under ``work``)."""
    out = work / f"{case}-out"
    case, _, threads = case.partition("@t")  # CASE@tK: with --threads K
    more = ["--threads", threads] if threads else []
    if case == "demo":
        return ["stockplan", "solve", "--out", str(out), *more]
    m = re.fullmatch(r"items(\d+)|n(\d+)x(\d+)(?:_(\w+))?", case)
    if m is None:
        raise SystemExit(f"unknown case {case!r}")
    items = int(m.group(1) or m.group(2))
    scenarios = None if m.group(1) else int(m.group(3))
    folder = work / case
    if not folder.exists():
        _generate(folder, items, 6 if m.group(1) else 8)
        if m.group(4):
            _edit(folder, m.group(4))
    cmd = ["stockplan", "solve", str(folder), "--out", str(out), *more]
    return cmd + (["--scenarios", str(scenarios)] if scenarios else [])


def run(case: str, work: Path) -> dict:
    """Time one case; return its record."""
    cmd = case_command(case, work)
    started = time.time()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    h, mnt, s = (float(x) if x else 0.0 for x in wall.groups()) if wall else (0, 0, float("nan"))
    record = {
        "case": case,
        "command": " ".join(cmd[:2] + [Path(c).name if "/" in c else c for c in cmd[2:]]),
        "exit": proc.returncode,
        "wall_s": 3600 * h + 60 * mnt + s,
        "peak_rss_gb": int(rss.group(1)) / 1e6 if rss else float("nan"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
    }
    summary = Path(cmd[cmd.index("--out") + 1]) / "summary.json"
    if proc.returncode == 0 and summary.exists():
        s = json.loads(summary.read_text())
        for key in (
            "plan_seconds",
            "headline_seconds",
            "diagnostics_seconds",
            "total_seconds",
            "engine",
            "status",
            "expected_cost_scenarios",
            "items",
            "scenarios",
        ):
            record[key] = s.get(key)
    else:
        record["error"] = proc.stderr[-500:]
    return record


def main() -> None:
    """Command line: run the cases, append the records, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="demo,items300,n1000x1000")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None, help="folder for the instances")
    ap.add_argument("--note", default="", help="a line recorded with this batch of runs")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="stockplan-bench-"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        if args.note:
            fh.write(json.dumps({"note": args.note}) + "\n")
        for case in args.cases.split(","):
            for _ in range(args.repeat):
                rec = run(case, work)
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                target = TARGETS.get(case)
                print(
                    f"{case:24s} exit {rec['exit']}  {rec['wall_s']:7.1f} s whole command"
                    f"{f' (target {target:g} s)' if target else ''}  peak "
                    f"{rec['peak_rss_gb']:.2f} GB  plan {rec.get('plan_seconds') or 0:.1f} s  "
                    f"pricing {rec.get('headline_seconds') or 0:.1f} s  diagnostics "
                    f"{rec.get('diagnostics_seconds') or 0:.1f} s",
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(main())
