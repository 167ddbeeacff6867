"""Fit the time model of ``stockplan solve`` to measured whole-command runs.

The model (:mod:`optimizer.instance.work_estimate`) is

.. math:: T = T_0 + A(p) (c\\, n N H + e\\, n H)

with :math:`T_0` the start-up and the writing of the files (each run's wall time minus its
summary's ``total_seconds``, the median over the runs used), :math:`c` seconds per
item-scenario-period cell of the plan stage (its searches run over all :math:`N`
scenarios) and :math:`e` seconds per item-period of the out-of-sample pricing and the
diagnostics (whose scenario counts do not grow with :math:`N`). :math:`c` and :math:`e`
of plain lost sales are solved from the two plain runs of different shape (1,000 items x
1,000 scenarios and 10,000 x 200); each other kind (backorders, a budget row, fill-rate
targets, a CVaR weight), measured at 1,000 x 1,000 in the same batch as the plain run,
adds its extra plan seconds per cell and its extra pricing and diagnostics seconds per
item-period. :math:`A(p)` is Amdahl's law relative to the :math:`p_0` cores of the runs;
its serial share :math:`\\sigma` is solved from 1,000 x 1,000 runs with ``--threads 1``
and without, in one batch. The runs used are named below by case and start time, so
appending records to ``benchmarks/results/whole_command.jsonl`` does not move the fit.

Usage::

    python benchmarks/time_calibration.py   # prints the figures of work_estimate.py
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "whole_command.jsonl"
#: The runs of the fit: case -> start time (UTC) of its record: the quiet batch of
#: 17:53-18:06 (one code version: the play memo and the stratified headline).
RUNS = {
    "n1000x1000": "2026-12-01 17:53:23",
    "n10000x200": "2026-12-01 18:00:52",
    "n1000x1000_backorder": "2026-12-01 17:55:12",
    "n1000x1000_budget": "2026-12-01 20:24:00",
    "n1000x1000_fill_rate": "2026-12-01 17:54:16",
    "n1000x1000_cvar": "2026-12-01 17:56:38",
}
#: Kinds measured in a later batch than :data:`RUNS`' plain run, with the plain run of
#: their own batch: the budget's price loop, after the chunk tasks stopped putting the
#: process on one thread (20:23-20:27, its plan.csv byte for byte that of 17:58).
SAME_BATCH_PLAIN = {"n1000x1000_budget": "2026-12-01 20:23:06"}
#: One core against all: 1,000 x 1,000 with ``--threads 1`` and without, alternately in
#: one quiet batch (start times), for the serial share of Amdahl's law.
ONE_CORE_RUNS = {
    "n1000x1000@t1": ("2026-12-01 20:42:17", "2026-12-01 20:44:20"),
    "n1000x1000": ("2026-12-01 20:43:32", "2026-12-01 20:45:32"),
}
#: The feature each kind's case adds to plain lost sales.
FEATURES = {
    "n1000x1000_backorder": "backorder",
    "n1000x1000_budget": "plan_row",
    "n1000x1000_fill_rate": "fill_rate",
    "n1000x1000_cvar": "cvar",
}
#: Simulated periods of the generated instances of the cases (``stockplan generate
#: --items 1000|10000 --suppliers 8 --seed 1``: warm-up 38 + 13 costed periods).
HORIZON = 51
#: Cores of the machine the runs were measured on.
CORES = 2


def read_runs(path: Path = RESULTS) -> dict[str, dict]:
    """The records of the fit from ``path``, by key.

    The keys: each case of :data:`RUNS`; ``plain@CASE``, the plain run of the batch of a
    kind of :data:`SAME_BATCH_PLAIN`; ``cores@CASE#k``, the k-th run of
    :data:`ONE_CORE_RUNS`' case.
    """
    want = {case: (case, started) for case, started in RUNS.items()}
    want |= {f"plain@{k}": ("n1000x1000", v) for k, v in SAME_BATCH_PLAIN.items()}
    for case, starts in ONE_CORE_RUNS.items():
        want |= {f"cores@{case}#{k}": (case, started) for k, started in enumerate(starts)}
    by_run = {run: key for key, run in want.items()}
    found = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        key = by_run.get((rec.get("case"), rec.get("started")))
        if key is not None and rec.get("exit") == 0:
            found[key] = rec
    missing = set(want) - set(found)
    if missing:
        raise SystemExit(f"{path} lacks the runs {sorted(missing)}")
    return found


def _cells(rec: dict) -> float:
    return float(rec["items"]) * float(rec["scenarios"]) * HORIZON


def _item_periods(rec: dict) -> float:
    return float(rec["items"]) * HORIZON


def _pricing(rec: dict) -> float:
    return float(rec["headline_seconds"]) + float(rec["diagnostics_seconds"])


def fit(runs: dict[str, dict]) -> dict:
    """The figures of the time model from the runs of :func:`read_runs`.

    Returns
    -------
    dict
        ``start_seconds`` :math:`T_0`; ``serial_share`` :math:`\\sigma` (from
        :data:`ONE_CORE_RUNS`); ``plain`` and, per feature, ``extra``: each a dict
        of ``per_cell`` (:math:`c`), ``per_item_period`` (:math:`e`) and
        ``eval_scenarios`` (the fresh scenarios its pricing took).
    """
    start = statistics.median(
        r["wall_s"] - r["total_seconds"] for k, r in runs.items() if k in RUNS
    )
    a, b = runs["n1000x1000"], runs["n10000x200"]
    # [cells_a, ip_a; cells_b, ip_b] [c, e] = [T_a - T0, T_b - T0]
    ca, ia, cb, ib = _cells(a), _item_periods(a), _cells(b), _item_periods(b)
    ya, yb = a["wall_s"] - start, b["wall_s"] - start
    det = ca * ib - ia * cb
    c = (ya * ib - ia * yb) / det
    e = (ca * yb - ya * cb) / det
    out = {
        "start_seconds": start,
        "cores": CORES,
        "plain": {
            "per_cell": c,
            "per_item_period": e,
            "eval_scenarios": a["expected_cost_scenarios"],
        },
        "extra": {},
    }

    # Amdahl: A(1) = (T_1 - T0) / (T_p0 - T0) = 1 / (s + (1 - s) / p0), solved for s
    def mean_work(case: str) -> float:
        walls = [r["wall_s"] for k, r in runs.items() if k.startswith(f"cores@{case}#")]
        return statistics.fmean(walls) - start

    ratio = mean_work("n1000x1000@t1") / mean_work("n1000x1000")
    out["serial_share"] = (1.0 / ratio - 1.0 / CORES) / (1.0 - 1.0 / CORES)
    for case, feature in FEATURES.items():
        r, ref = runs[case], runs.get(f"plain@{case}", a)
        out["extra"][feature] = {
            "per_cell": (r["plan_seconds"] - ref["plan_seconds"]) / _cells(ref),
            "per_item_period": (_pricing(r) - _pricing(ref)) / _item_periods(ref),
            "eval_scenarios": r["expected_cost_scenarios"],
        }
    return out


def main() -> None:
    """Print the fitted figures."""
    print(json.dumps(fit(read_runs()), indent=2))


if __name__ == "__main__":
    main()
