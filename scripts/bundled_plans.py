"""Solve every bundled instance and compare the plans with a recorded set.

Used to show that a change that should not alter behaviour (a move, a refactor) leaves
every bundled instance's plan identical::

    python scripts/bundled_plans.py --write /tmp/plans-before     # on the old commit
    python scripts/bundled_plans.py --against /tmp/plans-before   # on the new one

Each instance is solved through the command line exactly as a planner runs it
(``stockplan solve INSTANCE --out DIR`` plus any ``--extra`` arguments); ``plan.csv`` is
compared cell by cell and ``summary.json``'s ``objective`` to the last digit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def bundled_instances() -> list[Path]:
    """Every folder under ``instances/`` that holds an ``instance.toml``."""
    return sorted(p.parent for p in (ROOT / "instances").rglob("instance.toml"))


def solve_all(out: Path, extra: list[str]) -> None:
    """Solve each bundled instance into ``out/<relative name>``."""
    for folder in bundled_instances():
        name = folder.relative_to(ROOT / "instances").as_posix().replace("/", "__")
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        cmd = ["stockplan", "solve", str(folder), "--out", str(target), *extra]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"{name}: exit {run.returncode}\n{run.stderr[-2000:]}")
        print(f"solved {name}", flush=True)


def compare(new: Path, old: Path) -> int:
    """Count the instances whose plan or objective differ between ``new`` and ``old``."""
    differ = 0
    for ref in sorted(p for p in old.iterdir() if p.is_dir()):
        got = new / ref.name
        a = pd.read_csv(ref / "plan.csv")
        b = pd.read_csv(got / "plan.csv")
        oa = json.loads((ref / "summary.json").read_text())["objective"]
        ob = json.loads((got / "summary.json").read_text())["objective"]
        same = a.shape == b.shape and a.equals(b) and oa == ob
        print(f"{ref.name:28s} {'identical' if same else 'DIFFERENT'}  objective {oa} / {ob}")
        differ += not same
    return differ


def main() -> None:
    """Command line: ``--write DIR`` records, ``--against DIR`` re-solves and compares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the plans in this folder")
    group.add_argument("--against", type=Path, help="re-solve and compare with this folder")
    parser.add_argument(
        "--extra",
        nargs=argparse.REMAINDER,
        default=[],
        help="further arguments for stockplan solve",
    )
    args = parser.parse_args()
    if args.write:
        solve_all(args.write, args.extra)
        return
    fresh = Path(tempfile.mkdtemp(prefix="stockplan-bundled-plans-"))
    solve_all(fresh, args.extra)
    sys.exit(1 if compare(fresh, args.against) else 0)


if __name__ == "__main__":
    main()
