"""How many scenarios does the stochastic plan need? Gap bounds and plan stability vs N.

Runs :func:`optimizer.analysis.sampling_quality.sample_size_study` (Mak–Morton–Wood multiple
replication procedure, n = N) on an instance and writes ``<out>/sample_size.md``,
``<out>/sample_size.csv`` and ``<out>/sample_size.png``.

Usage::

    python studies/sample_size.py                             # demo, 10 items, R = 10
    python studies/sample_size.py --items all --sizes 50,100,200 --replications 5
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from optimizer.analysis.sampling_quality import DEFAULT_SIZES, sample_size_study  # noqa: E402
from optimizer.engines.base import SolveConfig  # noqa: E402
from optimizer.instance import load_instance  # noqa: E402
from optimizer.report import versions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pick_items(n_items: int, spec: str) -> list[int]:
    """``"all"``, or ``"start:stride"`` (e.g. ``1:3`` = items 1, 4, 7, ...)."""
    if spec == "all":
        return list(range(n_items))
    start, stride = (int(x) for x in spec.split(":"))
    return list(range(start, n_items, stride))


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def plot(df: pd.DataFrame, path: Path, title: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.errorbar(
        df["N"],
        df["mean_gap"],
        yerr=[np.zeros(len(df)), df["gap_ucb"] - df["mean_gap"]],
        fmt="o-",
        capsize=3,
        label="mean gap (bar: one-sided 95% UCB)",
    )
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("scenarios N (= n per replication)")
    a.set_ylabel("optimality gap estimate, cost per quarter")
    a.grid(alpha=0.3, which="both")
    a.legend(fontsize=8)
    b.plot(
        df["N"],
        df["cover_spread"],
        "s-",
        label="spread of S across replications (periods of cover)",
    )
    b.plot(
        df["N"], df["plan_change"], "d--", label="change of the plan vs previous N (value-weighted)"
    )
    b.set_xscale("log", base=2)
    b.set_xlabel("scenarios N")
    b.grid(alpha=0.3, which="both")
    b.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instance", type=Path, default=ROOT / "instances" / "demo")
    ap.add_argument(
        "--items",
        default="1:3",
        help="'all' or 'start:stride' (default 1:3: 10 of the demo's 30 items)",
    )
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "studies" / "results")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    full = load_instance(args.instance)
    idx = pick_items(len(full.items), args.items)
    inst = full.subset_items(idx) if len(idx) < len(full.items) else full
    seed = inst.plan.seed if args.seed is None else args.seed
    start = time.perf_counter()
    df = sample_size_study(
        inst,
        sizes,
        replications=args.replications,
        seed=seed,
        config=SolveConfig(workers=args.workers),
        progress=lambda m: print("  " + m, flush=True) if args.verbose else None,
    )
    wall = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "sample_size.csv", index=False, float_format="%.6g")
    plot(
        df,
        args.out / "sample_size.png",
        f"{full.name}: {len(idx)} items, R = {args.replications} replications",
    )

    disp = pd.DataFrame(
        {
            "N": df["N"],
            "in-sample RP": df["rp_objective"].map("{:,.1f}".format),
            "candidate cost (mean over replications)": df["candidate_estimate"].map(
                "{:,.1f}".format
            ),
            "lower-bound estimate mean(v_n)": df["lower_bound_estimate"].map("{:,.1f}".format),
            "mean gap": df["mean_gap"].map("{:,.1f}".format),
            "gap sd": df["gap_std"].map("{:,.1f}".format),
            "95% UCB of gap": df["gap_ucb"].map("{:,.1f}".format),
            "UCB / cost": df["gap_ucb_rel"].map("{:.2%}".format),
            "S spread (periods of cover)": df["cover_spread"].map("{:.3f}".format),
            "S spread (relative)": df["plan_spread"].map("{:.2%}".format),
            "plan change vs previous N": df["plan_change"].map(
                lambda v: "–" if not np.isfinite(v) else f"{v:.2%}"
            ),
            "seconds": df["seconds"].map("{:.0f}".format),
        }
    )
    names = ", ".join(map(str, inst.items.name))
    try:
        where = args.instance.resolve().relative_to(ROOT)
    except ValueError:
        where = args.instance
    cmd = (
        f"python studies/sample_size.py --instance {where} --items {args.items} "
        f"--sizes {args.sizes} --replications {args.replications}"
        + (f" --seed {args.seed}" if args.seed is not None else "")
    )
    text = "\n".join(
        [
            "# Sample size of the stochastic plan: optimality gap and stability",
            "",
            f"Instance `{full.name}`"
            + (
                f", restricted to {len(idx)} of its {len(full.items)} items ({names}) to keep the "
                "run short"
                if len(idx) < len(full.items)
                else ""
            )
            + f"; seed {seed}; R = {args.replications} replications per N.",
            "",
            "For each N the candidate is the SAA plan on N optimisation scenarios. The gap is "
            "estimated with the Mak–Morton–Wood (1999) multiple-replication procedure: for "
            "r = 1..R, N fresh scenarios (stream `mrp<r>`), G_r = cost of the candidate on them "
            "(optimal recourse) − SAA optimum on them; the one-sided 95% upper confidence bound "
            "is mean(G) + t(0.95, R−1)·sd(G)/√R. The bound is conservative (E[v_n] ≤ z*), more "
            "so for small N. Replication scenarios are nested across N (stream `mrp<r>` draws "
            "the same first paths), which makes the rows comparable.",
            "",
            md_table(disp),
            "",
            "S spread: standard deviation across the R replication optima of each item's "
            "base stock, in periods of mean demand (then averaged over items) and relative to "
            "its mean. Plan change: Σ c·|S_N − S_prev| / Σ c·S_N for the candidates.",
            "",
            "![sample size](sample_size.png)",
            "",
            f"`{cmd}` — wall time {wall:.0f} s ({wall / 60:.1f} min), shared 2-core machine.",
            "",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
            "",
        ]
    )
    (args.out / "sample_size.md").write_text(text, encoding="utf-8")
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(disp.to_string(index=False))
    print(f"wall time {wall:.1f} s; wrote {args.out / 'sample_size.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
