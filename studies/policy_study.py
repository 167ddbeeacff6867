"""JIT vs JIC in numbers: every policy on every regime instance, out of sample.

For each regime in ``instances/regimes/`` this script

1. fits the policies (jit, jic_<k>, classic_<pct>, newsvendor, ev, stochastic) with
   :func:`optimizer.analysis.comparison.run_comparison` (stochastic plan on ``--scenarios``
   optimisation scenarios);
2. prices every plan on the same ``--eval-scenarios`` fresh scenarios (hindsight recourse
   LP and causal simulation, common random numbers);
3. computes the stochastic-programming diagnostics (EV, EEV, VSS, WS, EVPI) with
   :func:`optimizer.analysis.diagnostics.compute_diagnostics`;
4. sweeps a uniform cover k = 0, 0.5, ..., 6 periods on every item (JIT -> JIC);

and writes ``<out>/<regime>.md`` (tables), ``<out>/<regime>_comparison.csv``,
``<out>/<regime>_sweep.csv``, ``<out>/<regime>_frontier.png`` (expected cost vs capital
tied up, every policy and the sweep, stochastic plan highlighted),
``<out>/<regime>_sweep.png`` (cost vs cover), ``<out>/study.md`` (regime x policy table,
VSS, winners, timings) and ``<out>/study_relative.png``.

Usage::

    python studies/policy_study.py                          # all regimes, 200 / 500
    python studies/policy_study.py --regimes stable,mixed --scenarios 100 \\
        --eval-scenarios 300 --out /tmp/study
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from optimizer.analysis.comparison import Comparison, cover_sweep, run_comparison  # noqa: E402
from optimizer.analysis.diagnostics import Diagnostics, compute_diagnostics  # noqa: E402
from optimizer.engines.base import SolveConfig, SolveRequest  # noqa: E402
from optimizer.instance import load_instance  # noqa: E402
from optimizer.report import posture, versions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REGIMES = ("stable", "volatile", "snowstorm", "rare_long", "black_swan", "mixed")
COVERS = tuple(np.round(np.arange(0.0, 6.01, 0.5), 2))
FAMILY_COLOURS = {
    "jit": "tab:red",
    "jic": "tab:orange",
    "classic": "tab:blue",
    "newsvendor": "tab:purple",
    "ev": "tab:pink",
    "stochastic": "tab:green",
}


# ------------------------------------------------------------------------ formatting ---
def money(x: float) -> str:
    """Thousands separators; one decimal below 100 in magnitude."""
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def ci(lo: float, hi: float) -> str:
    return f"[{money(lo)}, {money(hi)}]"


def paired(row: pd.Series, prefix: str = "") -> str:
    """``+1,234 [1,000, 1,468]``: the paired difference to the stochastic plan."""
    base = f"{prefix}vs_stochastic"
    sign = "+" if row[base] >= 0 else ""
    return f"{sign}{money(row[base])} {ci(row[base + '_ci_low'], row[base + '_ci_high'])}"


def md_table(df: pd.DataFrame) -> str:
    """GitHub markdown table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.to_list()) + " |")
    return "\n".join(lines)


def policy_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The ranked comparison in display form."""
    out = []
    for _, r in table.iterrows():
        vs = "—" if r["policy"] == "stochastic" else paired(r)
        cvs = "—" if r["policy"] == "stochastic" else paired(r, "causal_")
        out.append(
            {
                "rank": int(r["rank"]),
                "policy": r["policy"],
                "E[cost] (hindsight LP)": money(r["expected_cost"]),
                "95% CI": ci(r["ci_low"], r["ci_high"]),
                "vs stochastic (paired 95% CI)": vs,
                "fill rate": f"{r['fill_rate']:.2%}",
                "capital tied up": money(r["capital_tied_up"]),
                "CVaR95": money(r["cvar95"]),
                "E[cost] causal": money(r["causal_expected_cost"]),
                "causal 95% CI": ci(r["causal_ci_low"], r["causal_ci_high"]),
                "causal vs stochastic": cvs,
                "causal fill": f"{r['causal_fill_rate']:.2%}",
                "causal rank": int(r["causal_rank"]),
            }
        )
    return pd.DataFrame(out)


def line_rows(table: pd.DataFrame) -> pd.DataFrame:
    cols = [
        "storage_cost",
        "capital_cost",
        "obsolescence_cost",
        "stockout_cost",
        "emergency_cost",
        "reservation_cost",
    ]
    df = table[["policy", *cols]].copy()
    for c in cols:
        df[c] = df[c].map(money)
    df.columns = [
        "policy",
        "storage",
        "capital",
        "obsolescence",
        "stockout",
        "emergency",
        "reservation",
    ]
    return df


# ---------------------------------------------------------------------------- plots ---
def plot_frontier(regime: str, comp: Comparison, sweep: pd.DataFrame, path: Path) -> None:
    """Expected cost vs capital tied up: every policy, the uniform-cover sweep, RP starred."""
    t = comp.table
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    ax.plot(
        sweep["capital_tied_up"],
        sweep["expected_cost"],
        "-",
        color="0.6",
        lw=1.2,
        zorder=1,
        label="uniform cover k = 0..6 (sweep)",
    )
    for k, x, y in zip(
        sweep["cover"], sweep["capital_tied_up"], sweep["expected_cost"], strict=True
    ):
        if float(k).is_integer():
            ax.annotate(
                f"k={k:g}",
                (x, y),
                textcoords="offset points",
                xytext=(3, -10),
                fontsize=7,
                color="0.45",
            )
    same = t.groupby(["capital_tied_up", "expected_cost"])["policy"].transform(" = ".join)
    for (_, r), label in zip(t.iterrows(), same, strict=True):
        fam = r["family"]
        is_rp = r["policy"] == "stochastic"
        yerr = [[r["expected_cost"] - r["ci_low"]], [r["ci_high"] - r["expected_cost"]]]
        ax.errorbar(
            r["capital_tied_up"],
            r["expected_cost"],
            yerr=yerr,
            fmt="*" if is_rp else "o",
            ms=16 if is_rp else 6,
            color=FAMILY_COLOURS.get(fam, "k"),
            mec="k" if is_rp else None,
            capsize=2,
            zorder=3 if is_rp else 2,
        )
        ax.annotate(
            label,
            (r["capital_tied_up"], r["expected_cost"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
            fontweight="bold" if is_rp else "normal",
        )
    ax.set_xlabel("average capital tied up in stock  Σ c·Ī")
    ax.set_ylabel(
        f"expected cost per quarter (hindsight LP, {comp.eval_scenarios} fresh scenarios)"
    )
    ax.set_title(f"{regime}: cost vs capital (★ = stochastic plan)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_sweep(regime: str, comp: Comparison, sweep: pd.DataFrame, path: Path) -> None:
    """JIT -> JIC: expected cost vs periods of cover, with the stochastic plan's level."""
    rp = comp.table.set_index("policy").loc["stochastic"]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.fill_between(
        sweep["cover"], sweep["ci_low"], sweep["ci_high"], color="tab:orange", alpha=0.2, lw=0
    )
    ax.plot(
        sweep["cover"],
        sweep["expected_cost"],
        "o-",
        color="tab:orange",
        label="uniform cover k (hindsight LP, 95% CI)",
    )
    ax.plot(
        sweep["cover"],
        sweep["causal_expected_cost"],
        "s--",
        color="tab:brown",
        ms=4,
        label="uniform cover k (causal run)",
    )
    ax.axhline(
        rp["expected_cost"],
        color="tab:green",
        lw=2,
        label=f"stochastic plan (hindsight) {money(rp['expected_cost'])}",
    )
    ax.axhline(
        rp["causal_expected_cost"],
        color="tab:green",
        lw=1.5,
        ls=":",
        label=f"stochastic plan (causal) {money(rp['causal_expected_cost'])}",
    )
    best = sweep.loc[sweep["expected_cost"].idxmin()]
    ax.annotate(
        f"best uniform k = {best['cover']:g}",
        (best["cover"], best["expected_cost"]),
        textcoords="offset points",
        xytext=(0, 12),
        ha="center",
        fontsize=8,
    )
    ax.set_xlabel("safety stock in periods of mean demand, k  (0 = JIT)")
    ax.set_ylabel("expected cost per quarter")
    ax.set_yscale("log")
    ax.set_title(f"{regime}: JIT → JIC sweep")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_relative(overall: pd.DataFrame, path: Path) -> None:
    """E[cost] of every policy relative to the stochastic plan, per regime."""
    rel = overall.div(overall["stochastic"], axis=0)
    fig, ax = plt.subplots(figsize=(10, 4.8))
    policies = list(rel.columns)
    width = 0.8 / len(policies)
    x = np.arange(len(rel.index))
    palette = [c for k, c in enumerate(plt.get_cmap("tab20").colors) if k not in (4, 5)]
    for j, p in enumerate(policies):
        colour = "k" if p == "stochastic" else palette[j % len(palette)]
        ax.bar(
            x + (j - len(policies) / 2 + 0.5) * width,
            rel[p],
            width,
            label=p,
            color=colour,
            edgecolor="k",
            lw=0.3,
        )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, rel.index)
    ax.set_yscale("log")
    ax.set_ylabel("E[cost] / E[cost of stochastic plan]")
    ax.set_title("Out-of-sample expected cost (hindsight LP) relative to the stochastic plan")
    ax.legend(
        ncol=len(policies),
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        frameon=False,
    )
    ax.grid(alpha=0.3, axis="y", which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------- regimes ----
def regime_markdown(
    regime: str,
    comp: Comparison,
    diag: Diagnostics,
    sweep: pd.DataFrame,
    seconds: dict[str, float],
    args: argparse.Namespace,
) -> str:
    inst = comp.instance
    rp = comp.policy("stochastic")
    t = comp.table
    it = inst.items
    mean = it.demand_mean.astype(float)
    cover = (rp.base_stock - (it.lead_time + 1) * mean) / np.where(mean > 0, mean, 1.0)
    plan = pd.DataFrame(
        {
            "item": it.name,
            "supplier": inst.suppliers.name[it.supplier],
            "L": it.lead_time,
            "mu": mean,
            "CV": np.round(it.demand_std / np.maximum(mean, 1e-9), 2),
            "S stochastic": np.round(rp.base_stock, 1),
            "cover (periods)": np.round(cover, 2),
            "posture": posture(cover),
            "K": np.round(rp.reserved, 1),
            "S newsvendor": np.round(comp.policy("newsvendor").base_stock, 1),
        }
    )
    oos = comp.table.set_index("policy").loc["stochastic"]
    sw = sweep.copy()
    sw_disp = pd.DataFrame(
        {
            "k": sw["cover"],
            "E[cost]": sw["expected_cost"].map(money),
            "95% CI": [ci(a, b) for a, b in zip(sw["ci_low"], sw["ci_high"], strict=True)],
            "fill": sw["fill_rate"].map(lambda v: f"{v:.2%}"),
            "capital tied up": sw["capital_tied_up"].map(money),
            "E[cost] causal": sw["causal_expected_cost"].map(money),
        }
    )
    best_k = sweep.loc[sweep["expected_cost"].idxmin()]
    best_h = t[t["family"].isin(["jit", "jic", "classic", "newsvendor"])].iloc[0]
    parts = [
        f"# Regime `{regime}`",
        "",
        inst.description,
        "",
        f"{len(it)} items, {len(inst.suppliers)} suppliers, shortage `{inst.plan.shortage}`, "
        f"{inst.plan.periods} costed periods after a warm-up of {inst.warmup}; stochastic plan "
        f"on {comp.opt_scenarios} optimisation scenarios (seed {inst.plan.seed}), every plan "
        f"priced on the same {comp.eval_scenarios} fresh scenarios (stream `evaluate`). Costs "
        "per quarter.",
        "",
        "## Policies, ranked by out-of-sample expected cost",
        "",
        md_table(policy_rows(t)),
        "",
        "`vs stochastic` is the paired difference E[C_policy − C_stochastic] on the common "
        "scenarios (positive: the policy costs more). The hindsight LP chooses sales, "
        "emergency buys and shortages knowing the scenario; the causal run serves stock "
        "first, then emergency supply, then loses/backorders, as a planner would.",
        "",
        f"**Winner:** `{comp.winner()}` (hindsight LP), `{comp.winner(causal=True)}` (causal "
        f"run). Best heuristic: `{best_h['policy']}`, {paired(best_h)} vs the "
        "stochastic plan.",
        "",
        "## Cost lines (hindsight LP, expected per quarter)",
        "",
        md_table(line_rows(t)),
        "",
        "## Stochastic-programming diagnostics",
        "",
        md_table(
            pd.DataFrame(
                [
                    {
                        "RP": money(diag.rp),
                        "EV": money(diag.ev),
                        "EEV": money(diag.eev),
                        "VSS = EEV − RP": money(diag.vss),
                        "VSS / EEV": (
                            f"{diag.vss / diag.eev:.1%}"
                            if diag.vss is not None and diag.eev
                            else "–"
                        ),
                        "WS (hindsight)": money(diag.ws),
                        "EVPI": money(diag.evpi),
                        "in-sample causal / hindsight bound": (
                            f"{money(diag.in_sample_causal)} / {money(diag.hindsight_bound)}"
                        ),
                        "out-of-sample, causal (this comparison)": money(
                            oos["causal_expected_cost"]
                        ),
                    }
                ]
            )
        ),
        "",
        "RP, EEV, WS are in-sample (optimisation scenarios); VSS is what hedging is worth "
        "over the mean-value (JIT) plan. The two out-of-sample figures use the same seed and "
        "scenario count and must agree (a consistency check).",
        "",
        "## Stochastic plan per item",
        "",
        md_table(plan),
        "",
        "## JIT → JIC sweep (uniform cover k on every item, K = 0)",
        "",
        md_table(sw_disp),
        "",
        f"Best uniform cover: k = {best_k['cover']:g} with {money(best_k['expected_cost'])}; "
        f"the stochastic plan (item-by-item cover) reaches "
        f"{money(oos['expected_cost'])}.",
        "",
        f"![frontier]({regime}_frontier.png)",
        "",
        f"![sweep]({regime}_sweep.png)",
        "",
        "## Time",
        "",
        md_table(pd.DataFrame([{k: f"{v:.1f} s" for k, v in seconds.items()}])),
        "",
        f"One plan evaluation (hindsight LPs over {comp.eval_scenarios} scenarios in "
        f"{args.workers} processes + causal simulation): median "
        f"{np.median(t['lp_seconds'] + t['sim_seconds']):.2f} s "
        f"(LP {np.median(t['lp_seconds']):.2f} s, simulation "
        f"{np.median(t['sim_seconds']):.3f} s).",
        "",
    ]
    return "\n".join(parts)


def run_regime(regime: str, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    inst = load_instance(ROOT / "instances" / "regimes" / regime)
    comp = run_comparison(
        inst,
        scenarios=args.scenarios,
        eval_scenarios=args.eval_scenarios,
        seed=args.seed,
        config=SolveConfig(workers=args.workers),
    )
    t1 = time.perf_counter()
    rp = comp.policy("stochastic")
    plan = comp.instance.plan
    diag = compute_diagnostics(
        comp.instance,
        rp.data,
        rp.solution,
        request=SolveRequest(recourse=plan.recourse, integer=plan.integer),
    )
    t2 = time.perf_counter()
    sweep = cover_sweep(comp, COVERS)
    t3 = time.perf_counter()
    out: Path = args.out
    plot_frontier(regime, comp, sweep, out / f"{regime}_frontier.png")
    plot_sweep(regime, comp, sweep, out / f"{regime}_sweep.png")
    seconds = {
        "fit policies": comp.seconds["policies"],
        "evaluate policies": comp.seconds["evaluation"],
        "diagnostics": t2 - t1,
        "sweep": t3 - t2,
        "total": time.perf_counter() - t0,
    }
    (out / f"{regime}.md").write_text(
        regime_markdown(regime, comp, diag, sweep, seconds, args), encoding="utf-8"
    )
    comp.table.to_csv(out / f"{regime}_comparison.csv", index=False, float_format="%.6g")
    sweep.to_csv(out / f"{regime}_sweep.csv", index=False, float_format="%.6g")
    return {
        "regime": regime,
        "comparison": comp,
        "diagnostics": diag,
        "sweep": sweep,
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- study ----
def study_markdown(
    results: list[dict], args: argparse.Namespace, wall: float
) -> tuple[str, pd.DataFrame]:
    overall = pd.DataFrame(
        {r["regime"]: r["comparison"].table.set_index("policy")["expected_cost"] for r in results}
    ).T
    causal = pd.DataFrame(
        {
            r["regime"]: r["comparison"].table.set_index("policy")["causal_expected_cost"]
            for r in results
        }
    ).T

    def param(name: str) -> float:
        return float(name.split("_")[1])

    order = [
        "jit",
        *sorted((c for c in overall.columns if c.startswith("jic_")), key=param),
        *sorted((c for c in overall.columns if c.startswith("classic_")), key=param),
        "newsvendor",
        "ev",
        "stochastic",
    ]
    order = [p for p in order if p in overall.columns]
    overall, causal = overall[order], causal[order]

    def show(df: pd.DataFrame) -> pd.DataFrame:
        disp = df.copy().astype(object)
        for reg, row in df.iterrows():
            best = row.idxmin()
            for p in df.columns:
                v = money(row[p])
                disp.loc[reg, p] = f"**{v}**" if p == best else v
        disp.insert(0, "regime", df.index)
        return disp

    summary = []
    for r in results:
        comp, diag = r["comparison"], r["diagnostics"]
        t = comp.table
        heur = t[t["family"].isin(["jit", "jic", "classic", "newsvendor"])]
        bh = heur.iloc[0]
        bhc = heur.sort_values("causal_expected_cost").iloc[0]
        jit = t.set_index("policy").loc["jit"]
        rp = t.set_index("policy").loc["stochastic"]
        plan_cover = posture(
            (
                comp.policy("stochastic").base_stock
                - (comp.instance.items.lead_time + 1) * comp.instance.items.demand_mean
            )
            / comp.instance.items.demand_mean
        )
        counts = pd.Series(plan_cover).value_counts()
        best_k = r["sweep"].loc[r["sweep"]["expected_cost"].idxmin(), "cover"]
        summary.append(
            {
                "regime": r["regime"],
                "winner (hindsight)": comp.winner(),
                "winner (causal)": comp.winner(causal=True),
                "best heuristic": bh["policy"],
                "its excess over stochastic (paired 95% CI)": paired(bh),
                "best heuristic (causal)": bhc["policy"],
                "its causal excess": paired(bhc, "causal_"),
                "JIT / stochastic": f"{jit['expected_cost'] / rp['expected_cost']:.2f}×",
                "VSS (in-sample)": money(diag.vss),
                "VSS / EEV": f"{diag.vss / diag.eev:.0%}" if diag.vss is not None else "–",
                "EVPI": money(diag.evpi),
                "best uniform k": f"{best_k:g}",
                "RP postures JIT/hybrid/JIC": "/".join(
                    str(int(counts.get(k, 0))) for k in ("JIT", "hybrid", "JIC")
                ),
                "time": f"{r['seconds']['total']:.0f} s",
            }
        )
    summary_df = pd.DataFrame(summary)
    one_eval = np.median(
        np.concatenate(
            [
                (
                    r["comparison"].table["lp_seconds"] + r["comparison"].table["sim_seconds"]
                ).to_numpy()
                for r in results
            ]
        )
    )
    v = versions()
    seed = "" if args.seed is None else f" --seed {args.seed}"
    cmd = (
        f"python studies/policy_study.py --regimes {','.join(args.regimes)} "
        f"--scenarios {args.scenarios} --eval-scenarios {args.eval_scenarios}{seed} "
        f"--out {shown(args.out)}"
    )
    parts = [
        "# JIT vs JIC in numbers — policy study",
        "",
        f"Every policy on every regime of `instances/regimes/`: stochastic plan fitted on "
        f"{args.scenarios} optimisation scenarios, every plan priced on the same "
        f"{args.eval_scenarios} fresh scenarios (common random numbers). Expected cost per "
        "quarter (13 weeks). Bold: cheapest in the row.",
        "",
        "## Expected cost, hindsight recourse LP (the stochastic program's own measure)",
        "",
        md_table(show(overall)),
        "",
        "## Expected cost, causal run (what a planner running the plan would see)",
        "",
        md_table(show(causal)),
        "",
        "## Winners, value of the stochastic solution, time",
        "",
        md_table(summary_df),
        "",
        "VSS = EEV − RP on the optimisation scenarios (compute_diagnostics): what hedging is "
        "worth over the mean-value plan, which is JIT. `best uniform k` is the cheapest point "
        "of the JIT → JIC sweep (see `<regime>_sweep.png`).",
        "",
        "![relative](study_relative.png)",
        "",
        "Per regime: " + ", ".join(f"[{r['regime']}]({r['regime']}.md)" for r in results),
        "",
        "## How this was produced",
        "",
        f"`{cmd}` — wall time {wall:.0f} s ({wall / 60:.1f} min) on "
        f"{platform.machine()} with {args.workers} worker processes (machine shared with "
        "other jobs, so times are indicative). One plan evaluation (hindsight LPs + causal "
        f"simulation, {args.eval_scenarios} scenarios): median {one_eval:.2f} s.",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
    ]
    return "\n".join(parts), overall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--regimes",
        default=",".join(REGIMES),
        help="comma-separated regime folders under instances/regimes",
    )
    ap.add_argument("--scenarios", type=int, default=200, help="optimisation scenarios N")
    ap.add_argument("--eval-scenarios", type=int, default=500, help="fresh scenarios M")
    ap.add_argument("--seed", type=int, default=None, help="seed (default: per instance)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the item LPs")
    ap.add_argument("--out", type=Path, default=ROOT / "studies" / "results")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.regimes = [r.strip() for r in args.regimes.split(",") if r.strip()]
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    args.out.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    start = time.perf_counter()
    results = []
    for regime in args.regimes:
        print(f"== {regime}", flush=True)
        r = run_regime(regime, args)
        results.append(r)
        t = r["comparison"].table
        print(
            t[
                [
                    "rank",
                    "policy",
                    "expected_cost",
                    "ci_low",
                    "ci_high",
                    "vs_stochastic",
                    "fill_rate",
                    "capital_tied_up",
                    "cvar95",
                    "causal_expected_cost",
                    "causal_rank",
                ]
            ]
            .round(2)
            .to_string(index=False)
        )
        d = r["diagnostics"]
        print(
            f"   VSS {money(d.vss)}  EVPI {money(d.evpi)}  winner {r['comparison'].winner()}"
            f" / causal {r['comparison'].winner(causal=True)}  "
            + "  ".join(f"{k} {v:.1f}s" for k, v in r["seconds"].items()),
            flush=True,
        )
    wall = time.perf_counter() - start
    text, overall = study_markdown(results, args, wall)
    (args.out / "study.md").write_text(text, encoding="utf-8")
    plot_relative(overall, args.out / "study_relative.png")
    print()
    print(text)
    print(f"wall time {wall:.1f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
