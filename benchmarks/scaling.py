"""How solve time and memory grow with items and scenarios (issue #4).

Every measured solve runs in a fresh Python process (``--worker`` mode), which generates a
synthetic instance (:func:`optimizer.instance.generator.generate_instance`), samples its
scenarios, solves with the chosen engine and prints one JSON line; its peak resident
memory is read from ``resource.getrusage`` inside that process (``RUSAGE_SELF``; the
decomposed engine's pool workers appear separately as ``children_peak_rss_mb``).

Examples::

    python benchmarks/scaling.py --items 50 --scenarios 100 --engine auto
    python benchmarks/scaling.py --items 50 --scenarios 100 --compare-ef
    python benchmarks/scaling.py --items 50 --scenarios 100 --coupled --compare-ef
    python benchmarks/scaling.py --sweep                    # grid -> results/scaling.md/png
    python benchmarks/scaling.py --items 200 --scenarios 200 --profile --workers 1

Output fields: ``items, scenarios, periods, engine, status, objective, build_s, solve_s,
total_s, peak_rss_mb`` plus ``engine_used`` (what ``auto`` chose), ``warmup``,
``horizon``, ``scenario_s`` (sampling + coefficients), ``wall_solve_s`` (the engine call,
verification included), ``children_peak_rss_mb``, ``lp_rows/lp_cols/lp_nnz`` (largest
sub-problem) and ``subproblems``. ``build_s`` and ``solve_s`` are summed over
sub-problems (CPU time across workers for the decomposed engine); ``total_s`` is the
process's wall time from instance generation to the verified plan.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PROFILES = HERE / "profiles"  # cProfile dumps: machine-specific, git-ignored
DEFAULT_SWEEP_ITEMS = (10, 30, 100, 300)
DEFAULT_SWEEP_SCENARIOS = (25, 50, 100, 200)
BUDGET_SHARE = 0.35


def _suppliers_for(items: int) -> int:
    return max(3, min(60, items // 15))


def _rss_mb(who: int) -> float:
    """Peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


# ----------------------------------------------------------------------- worker -------
def run_once(
    items: int,
    scenarios: int,
    periods: int,
    engine: str,
    *,
    coupled: bool,
    reservation_share: float | None = None,
    seed: int,
    workers: int,
    shortage: str,
    profile: Path | None = None,
) -> dict:
    """Generate, sample and solve one instance in this process; return the JSON record."""
    t0 = time.perf_counter()
    from optimizer.engines.base import SolveConfig
    from optimizer.engines.dispatch import solve_program
    from optimizer.instance.generator import generate_instance
    from optimizer.program.data import program_data
    from optimizer.scenarios import generate_scenarios

    inst = generate_instance(
        items,
        _suppliers_for(items),
        seed,
        shortage=shortage,
        scenarios=scenarios,
        periods=periods,
        budget_share=BUDGET_SHARE if coupled else None,
        **({} if reservation_share is None else {"reservation_share": reservation_share}),
    )
    data = program_data(inst, generate_scenarios(inst))
    config = SolveConfig(engine=engine, workers=workers)
    t1 = time.perf_counter()
    if profile is not None:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        sol = prof.runcall(solve_program, data, config)
        profile.parent.mkdir(parents=True, exist_ok=True)
        with profile.open("w") as fh:
            for key in ("cumulative", "tottime"):
                fh.write(f"==== sorted by {key} ====\n")
                pstats.Stats(prof, stream=fh).strip_dirs().sort_stats(key).print_stats(30)
    else:
        sol = solve_program(data, config)
    t2 = time.perf_counter()
    budget = data.budget
    return {
        "items": items,
        "scenarios": scenarios,
        "periods": periods,
        "engine": engine,
        "status": sol.status.value,
        "objective": sol.objective if sol.has_plan else None,
        "build_s": round(sol.build_seconds, 4),
        "solve_s": round(sol.solve_seconds, 4),
        "total_s": round(t2 - t0, 4),
        "peak_rss_mb": round(_rss_mb(resource.RUSAGE_SELF), 1),
        "engine_used": sol.engine,
        "coupled": coupled,
        "seed": seed,
        "shortage": shortage,
        "reserving_items": int(data.reserves.sum()),
        "warmup": data.warmup,
        "horizon": data.horizon,
        "scenario_s": round(t1 - t0, 4),
        "wall_solve_s": round(sol.wall_seconds, 4),
        "children_peak_rss_mb": round(_rss_mb(resource.RUSAGE_CHILDREN), 1),
        "lp_rows": sol.size[0],
        "lp_cols": sol.size[1],
        "lp_nnz": sol.size[2],
        "subproblems": sol.subproblems,
        "budget_use": (
            float(data.unit_cost @ sol.base_stock) / budget if budget and sol.has_plan else None
        ),
        "base_stock": [round(float(x), 6) for x in sol.base_stock] if sol.has_plan else None,
    }


# ----------------------------------------------------------------------- parent -------
def measure(
    items: int,
    scenarios: int,
    periods: int,
    engine: str,
    *,
    coupled: bool,
    reservation_share: float | None = None,
    seed: int,
    workers: int,
    shortage: str,
    timeout: float | None = None,
    profile: Path | None = None,
) -> dict:
    """Run :func:`run_once` in a fresh interpreter and return its record."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--items",
        str(items),
        "--scenarios",
        str(scenarios),
        "--periods",
        str(periods),
        "--engine",
        engine,
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--shortage",
        shortage,
    ]
    if coupled:
        cmd.append("--coupled")
    if reservation_share is not None:
        cmd += ["--reservation-share", str(reservation_share)]
    if profile is not None:
        cmd += ["--profile-out", str(profile)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {
            "items": items,
            "scenarios": scenarios,
            "periods": periods,
            "engine": engine,
            "status": "timeout",
            "objective": None,
            "build_s": None,
            "solve_s": None,
            "total_s": round(time.perf_counter() - start, 1),
            "peak_rss_mb": None,
            "coupled": coupled,
        }
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {
            "items": items,
            "scenarios": scenarios,
            "periods": periods,
            "engine": engine,
            "status": f"crashed ({proc.returncode})",
            "objective": None,
            "build_s": None,
            "solve_s": None,
            "total_s": round(time.perf_counter() - start, 1),
            "peak_rss_mb": None,
            "coupled": coupled,
            "stderr": proc.stderr[-2000:],
        }
    return json.loads(lines[-1])


def _public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "base_stock"}


def compare_ef(args: argparse.Namespace) -> list[dict]:
    """Run ``ef`` and ``auto`` on the same instance; print speed-up and objective gap.

    Also writes the three records to ``results/scaling_compare_<n>x<N>x<T>[_coupled].jsonl``.
    """
    recs = {}
    for engine in ("ef", "auto"):
        recs[engine] = measure(
            args.items,
            args.scenarios,
            args.periods,
            engine,
            coupled=args.coupled,
            reservation_share=args.reservation_share,
            seed=args.seed,
            workers=args.workers,
            shortage=args.shortage,
            timeout=args.timeout,
        )
        print(json.dumps(_public(recs[engine])), flush=True)
    ef, auto = recs["ef"], recs["auto"]
    out = {
        "compare": "ef_vs_auto",
        "items": args.items,
        "scenarios": args.scenarios,
        "periods": args.periods,
        "coupled": args.coupled,
        "engine_used": auto.get("engine_used"),
    }
    if ef.get("objective") is not None and auto.get("objective") is not None:
        out["speedup_total"] = round(ef["total_s"] / auto["total_s"], 2)
        out["speedup_engine"] = round(ef["wall_solve_s"] / max(auto["wall_solve_s"], 1e-9), 2)
        out["rel_objective_diff"] = abs(auto["objective"] - ef["objective"]) / max(
            1.0, abs(ef["objective"])
        )
        out["max_abs_base_stock_diff"] = max(
            abs(a - b) for a, b in zip(ef["base_stock"], auto["base_stock"], strict=True)
        )
        if ef.get("peak_rss_mb") and auto.get("peak_rss_mb"):
            out["memory_ratio"] = round(ef["peak_rss_mb"] / auto["peak_rss_mb"], 2)
    print(json.dumps(out), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = (
        f"scaling_compare_{args.items}x{args.scenarios}x{args.periods}"
        f"{'_coupled' if args.coupled else ''}.jsonl"
    )
    with (RESULTS / name).open("w") as fh:
        for rec in (ef, auto, out):
            fh.write(json.dumps(_public(rec)) + "\n")
    return [ef, auto, out]


def _fit(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx if sxx else 0.0


def _fit2(recs: list[dict], key: str) -> tuple[float, float, float]:
    """log t = a + b log items + c log scenarios over the grid; returns (a, b, c)."""
    import numpy as np

    ok = [r for r in recs if r.get(key)]
    X = np.array([[1.0, math.log(r["items"]), math.log(r["scenarios"])] for r in ok])
    y = np.array([math.log(r[key]) for r in ok])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(coef[0]), float(coef[1]), float(coef[2])


def sweep(args: argparse.Namespace) -> list[dict]:
    """Grid over items x scenarios; write results/scaling.{md,png,jsonl}."""
    items = [int(x) for x in args.sweep_items.split(",")]
    scens = [int(x) for x in args.sweep_scenarios.split(",")]
    recs: list[dict] = []
    start = time.perf_counter()
    for n in items:
        for N in scens:
            rec = measure(
                n,
                N,
                args.periods,
                args.engine,
                coupled=args.coupled,
                reservation_share=args.reservation_share,
                seed=args.seed,
                workers=args.workers,
                shortage=args.shortage,
                timeout=args.timeout,
            )
            recs.append(rec)
            print(json.dumps(_public(rec)), flush=True)
    elapsed = time.perf_counter() - start
    tag = args.tag or (
        "scaling"
        + ("_coupled" if args.coupled else "")
        + ("" if args.engine == "auto" else f"_{args.engine}")
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / f"{tag}.jsonl").open("w") as fh:
        for r in recs:
            fh.write(json.dumps(_public(r)) + "\n")
    slopes = _write_report(recs, items, scens, args, tag, elapsed)
    print(json.dumps({"sweep": tag, "seconds": round(elapsed, 1), **slopes}), flush=True)
    return recs


def _write_report(
    recs: list[dict],
    items: list[int],
    scens: list[int],
    args: argparse.Namespace,
    tag: str,
    elapsed: float,
) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    good = [r for r in recs if r.get("objective") is not None]
    slopes: dict[str, float | dict] = {}
    if len({r["items"] for r in good}) > 1 and len({r["scenarios"] for r in good}) > 1:
        for key in ("total_s", "wall_solve_s", "peak_rss_mb"):
            _, b, c = _fit2(good, key)
            slopes[f"{key}_vs_items"] = round(b, 3)
            slopes[f"{key}_vs_scenarios"] = round(c, 3)
    per_row = {}
    for N in scens:
        row = [r for r in good if r["scenarios"] == N]
        if len(row) > 1:
            per_row[f"scenarios={N}"] = round(
                _fit([r["items"] for r in row], [r["total_s"] for r in row]), 3
            )
    for n in items:
        col = [r for r in good if r["items"] == n]
        if len(col) > 1:
            per_row[f"items={n}"] = round(
                _fit([r["scenarios"] for r in col], [r["total_s"] for r in col]), 3
            )
    slopes["per_line_total_s"] = per_row
    cells = [r["items"] * r["scenarios"] * r["horizon"] for r in good if r.get("horizon")]
    if len(set(cells)) > 1:
        slopes["total_s_vs_cells"] = round(
            _fit(cells, [r["total_s"] for r in good if r.get("horizon")]), 3
        )

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for N in scens:
        row = sorted((r for r in good if r["scenarios"] == N), key=lambda r: r["items"])
        if row:
            axes[0].loglog(
                [r["items"] for r in row], [r["total_s"] for r in row], "o-", label=f"N={N}"
            )
    for n in items:
        col = sorted((r for r in good if r["items"] == n), key=lambda r: r["scenarios"])
        if col:
            axes[1].loglog(
                [r["scenarios"] for r in col], [r["total_s"] for r in col], "s-", label=f"n={n}"
            )
    axes[0].set_xlabel("items n")
    axes[1].set_xlabel("scenarios N")
    for ax, ticks in ((axes[0], items), (axes[1], scens)):
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("total seconds (sample + solve + verify)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    title = (
        f"stockplan scaling, engine={args.engine}"
        + (" (budget-coupled)" if args.coupled else "")
        + f", T={args.periods}, "
        f"{args.shortage}"
    )
    b = slopes.get("total_s_vs_items")
    c = slopes.get("total_s_vs_scenarios")
    if b is not None:
        title += f"\nfit: t ~ n^{b:.2f} N^{c:.2f}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{tag}.png", dpi=110)
    plt.close(fig)

    cols = [
        "items",
        "scenarios",
        "engine_used",
        "status",
        "horizon",
        "lp_cols",
        "subproblems",
        "scenario_s",
        "build_s",
        "solve_s",
        "wall_solve_s",
        "total_s",
        "peak_rss_mb",
        "children_peak_rss_mb",
        "objective",
    ]
    lines = [
        f"# Scaling sweep: `{tag}`",
        "",
        f"Engine `{args.engine}`{' with a binding inventory budget' if args.coupled else ''}"
        f", {args.periods} costed periods, {args.shortage}, seed {args.seed}, "
        f"{args.workers} worker process(es); machine: {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}. Sweep wall time {elapsed:.0f} s (measured runs "
        "included, one after the other).",
        "",
        "Each row is a fresh process (`benchmarks/scaling.py --worker`). `build_s` and "
        "`solve_s` are summed over sub-problems (CPU seconds across workers for the "
        "decomposed engine); `total_s` is the process's wall time from instance "
        "generation to the verified plan; `lp_cols` is the largest sub-problem's size; "
        "peak RSS is the worker process's own (`children_peak_rss_mb`: its largest pool "
        "worker).",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in recs:
        cells = []
        for k in cols:
            v = r.get(k)
            cells.append(f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Fitted log-log slopes",
        "",
        "Grid regression `log t = a + b log n + c log N`:",
        "",
    ]
    for key in ("total_s", "wall_solve_s", "peak_rss_mb"):
        if f"{key}_vs_items" in slopes:
            lines.append(
                f"- `{key}`: b (items) = {slopes[f'{key}_vs_items']}, "
                f"c (scenarios) = {slopes[f'{key}_vs_scenarios']}"
            )
    lines += ["", "Per line (slope of `total_s`):", ""]
    lines += [f"- {k}: {v}" for k, v in per_row.items()]
    if "total_s_vs_cells" in slopes:
        lines += [
            "",
            "Against the number of cells `n·N·H` (items × scenarios × simulated "
            f"periods): slope {slopes['total_s_vs_cells']}. The simulated horizon "
            "`H = W + T` is not constant: the warm-up `W` grows with the slowest "
            "supplier recovery (more suppliers, more likely a slow one), so part of the "
            "item slope is a longer horizon.",
        ]
    lines += ["", f"![time vs items and scenarios]({tag}.png)", ""]
    (RESULTS / f"{tag}.md").write_text("\n".join(lines))
    return slopes


def _parser() -> argparse.ArgumentParser:
    from optimizer.engines.registry import engine_names

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--scenarios", type=int, default=100)
    p.add_argument("--periods", type=int, default=13)
    p.add_argument("--engine", default="auto", choices=engine_names())
    p.add_argument(
        "--coupled",
        action="store_true",
        help=f"add a binding inventory budget (budget_share={BUDGET_SHARE})",
    )
    p.add_argument(
        "--reservation-share",
        type=float,
        default=None,
        help="share of emergency-supplied items with reserved capacity (generator default 0.25)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shortage", default="lost_sales", choices=("lost_sales", "backorder"))
    p.add_argument("--workers", type=int, default=2, help="processes for 'decomposed'")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per measured run")
    p.add_argument(
        "--compare-ef",
        action="store_true",
        help="run ef and auto on the same instance; print speed-up and objective gap",
    )
    p.add_argument("--sweep", action="store_true", help="grid over items x scenarios")
    p.add_argument("--sweep-items", default=",".join(map(str, DEFAULT_SWEEP_ITEMS)))
    p.add_argument("--sweep-scenarios", default=",".join(map(str, DEFAULT_SWEEP_SCENARIOS)))
    p.add_argument("--tag", default=None, help="file stem under results/ (sweep)")
    p.add_argument(
        "--report-from",
        type=Path,
        default=None,
        help="rebuild the sweep report (md, png) from a results .jsonl",
    )
    p.add_argument("--elapsed", type=float, default=float("nan"), help=argparse.SUPPRESS)
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the solve; writes profiles/scaling_profile_<n>x<N>.txt (git-ignored)",
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", type=Path, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        rec = run_once(
            args.items,
            args.scenarios,
            args.periods,
            args.engine,
            coupled=args.coupled,
            reservation_share=args.reservation_share,
            seed=args.seed,
            workers=args.workers,
            shortage=args.shortage,
            profile=args.profile_out,
        )
        print(json.dumps(rec), flush=True)
        return 0
    if args.report_from is not None:
        recs = [json.loads(ln) for ln in args.report_from.read_text().splitlines() if ln]
        items = sorted({r["items"] for r in recs})
        scens = sorted({r["scenarios"] for r in recs})
        tag = args.tag or args.report_from.stem
        print(json.dumps(_write_report(recs, items, scens, args, tag, args.elapsed)))
    elif args.sweep:
        sweep(args)
    elif args.compare_ef:
        compare_ef(args)
    else:
        profile = None
        if args.profile:
            profile = PROFILES / (
                f"scaling_profile_{args.items}x{args.scenarios}"
                f"{'_coupled' if args.coupled else ''}_{args.engine}.txt"
            )
        rec = measure(
            args.items,
            args.scenarios,
            args.periods,
            args.engine,
            coupled=args.coupled,
            reservation_share=args.reservation_share,
            seed=args.seed,
            workers=args.workers,
            shortage=args.shortage,
            timeout=args.timeout,
            profile=profile,
        )
        print(json.dumps(_public(rec)), flush=True)
        if profile is not None:
            print(f"profile written to {profile}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
