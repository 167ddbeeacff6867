"""Regenerate the README blocks that quote benchmark and study results.

The README's prose is written by hand; the figures it quotes from result files are not.
Each figure block is delimited in README.md by a pair of markers::

    <!-- figures:NAME -->
    ...generated text...
    <!-- /figures:NAME -->

and this script owns what lies between them. The blocks and their sources:

* ``policy-table`` — the JIT-or-JIC table of the README section "JIT or JIC? The policy
  study in numbers": causal expected cost per quarter of each policy on each regime
  (``causal_expected_cost`` of ``studies/results/<regime>_comparison.csv``), the paired
  difference of the stochastic plan to the best other plan, and the in-sample value of
  the stochastic solution ``VSS = EEV − RP`` from the diagnostics table of
  ``studies/results/<regime>.md``;
* ``sample-size`` — the Mak–Morton–Wood gap bounds (``gap_ucb_rel``) and the base-stock
  spread (``cover_spread``) per sample size N, from ``studies/results/sample_size.csv``;
* ``scale-targets`` — the table of the README section "Scale and performance", from
  ``benchmarks/results/scaling_targets.jsonl`` (records grouped into batches by their
  ``note`` lines: the last batch is the current measurement, the one before it "earlier
  runs"), ``benchmarks/results/scaling_compare_50x100x13[_coupled].jsonl`` and the sweep
  ``benchmarks/results/scaling.jsonl`` (log-log slopes ``b``, ``c`` of
  ``log t = a + b log n + c log N`` over items n and scenarios N);
* ``whole-command`` — the whole ``stockplan solve`` at planner scale, each case from its
  most recent batch in ``benchmarks/results/whole_command.jsonl`` (``benchmarks/whole_command.py``);
* ``code-map`` — the README's code map, drawn from the tree: each stage of the data flow
  with the first docstring line of every module in it (so the map cannot drift from the
  code).

Usage::

    python scripts/readme_figures.py            # rewrite the blocks in README.md
    python scripts/readme_figures.py --check    # exit 1 (and show a diff) if they disagree
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 90

#: regime folder -> the label the README's table shows (prose, not a figure)
REGIMES = {
    "stable": "stable demand, reliable supply",
    "volatile": "volatile demand",
    "snowstorm": "frequent short outages (snowstorm)",
    "rare_long": "rare long outages",
    "black_swan": "black-swan exposure",
    "mixed": "mixed portfolio",
}
#: README column -> policy in ``<regime>_comparison.csv``
POLICY_COLUMNS = {
    "JIT": "jit",
    "JIC 1": "jic_1",
    "JIC 2": "jic_2",
    "JIC 4": "jic_4",
    "classic 95": "classic_95",
    "newsvendor": "newsvendor",
}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class FiguresError(RuntimeError):
    """A results file or a README marker is missing or malformed."""


# ---------------------------------------------------------------------------------------
# reading results


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise FiguresError(f"results file missing: {path}")
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _md_table(text: str, header_starts: str) -> list[dict[str, str]]:
    """The rows of the first markdown table whose first header cell starts as given."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(header_starts):
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                values = [c.strip() for c in row.strip().strip("|").split("|")]
                rows.append(dict(zip(cells, values, strict=True)))
            return rows
    raise FiguresError(f"no table starting with {header_starts!r}")


def _batches(records: list[dict]) -> list[list[dict]]:
    """Split a targets file into measurement batches at its ``note`` lines."""
    batches: list[list[dict]] = []
    for rec in records:
        if "note" in rec:
            batches.append([])
        elif not batches:
            batches.append([rec])
        else:
            batches[-1].append(rec)
    return [b for b in batches if b]


def _select(records: list[dict], **want: object) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in want.items())]


# ---------------------------------------------------------------------------------------
# formatting


def _int(x: float) -> str:
    """Thousands-separated integer, as the study tables print costs."""
    return f"{x:,.0f}"


def _range(values: list[float], fmt: str = ".0f", unit: str = "") -> str:
    """``lo–hi`` (en dash) of the formatted values, or one value when they round alike."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return (lo if lo == hi else f"{lo}–{hi}") + unit


def _gb(mb: float) -> str:
    return f"{mb / 1000:.1f} GB"


def _count(n: int) -> str:
    return NUMBER_WORDS.get(n, str(n))


def _sig2(x: float) -> str:
    """Two significant digits, trailing zero kept (1.0, 0.57)."""
    return f"{x:#.2g}".rstrip(".")


def _thousands(n: int) -> str:
    return f"{n:,}"


def _seconds(records: list[dict]) -> str:
    """Each record's ``total_s`` to 0.1 s, in file order, joined by `` / ``."""
    return " / ".join(f"{r['total_s']:.1f}" for r in records)


# ---------------------------------------------------------------------------------------
# blocks


def policy_table(root: Path) -> str:
    """The regime x policy table: causal E[cost] per quarter on the fresh scenarios."""
    results = root / "studies" / "results"
    head = [
        "regime",
        *POLICY_COLUMNS,
        "hindsight plan",
        "**stochastic**",
        "best other plan − stochastic (paired 95% CI)",
        "VSS (in-sample)",
    ]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for regime, label in REGIMES.items():
        path = results / f"{regime}_comparison.csv"
        if not path.exists():
            raise FiguresError(f"results file missing: {path}")
        table = pd.read_csv(path).set_index("policy")
        cost = table["causal_expected_cost"]
        md = results / f"{regime}.md"
        if not md.exists():
            raise FiguresError(f"results file missing: {md}")
        (diag,) = _md_table(md.read_text(encoding="utf-8"), "RP")
        vss = diag["VSS = EEV − RP"]
        others = table.drop(index="stochastic")
        best = others["causal_expected_cost"].idxmin()
        row = others.loc[best]
        delta = (
            f"{_int(row['causal_vs_stochastic'])} [{_int(row['causal_vs_stochastic_ci_low'])}, "
            f"{_int(row['causal_vs_stochastic_ci_high'])}] ({best})"
        )
        cells = [label, *(_int(cost[p]) for p in POLICY_COLUMNS.values())]
        cells += [
            _int(cost["stochastic_hindsight"]),
            f"**{_int(cost['stochastic'])}**",
            delta,
            vss,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sample_size_text(root: Path) -> str:
    """Gap bound (95% UCB / cost) and base-stock spread per sample size N."""
    results = root / "studies" / "results"
    path = results / "sample_size.csv"
    if not path.exists():
        raise FiguresError(f"results file missing: {path}")
    df = pd.read_csv(path).sort_values("N")
    md = (results / "sample_size.md").read_text(encoding="utf-8")
    found = re.search(r"restricted to (\d+) of its", md)
    items = f"{found.group(1)} demo items" if found else "every demo item"
    reps = sorted(set(df["replications"].astype(int)))
    sizes = [int(n) for n in df["N"]]
    gaps = [f"{_sig2(100 * g)}%" for g in df["gap_ucb_rel"]]
    gap_text = ", ".join(
        f"{g} of cost with {n} scenarios" if i == 0 else f"{g} with {n}"
        for i, (g, n) in enumerate(zip(gaps, sizes, strict=True))
    )
    gap_text = " and ".join(gap_text.rsplit(", ", 1))
    picks = sorted({0, len(sizes) // 2, len(sizes) - 1})
    spread = [_sig2(df["cover_spread"].iloc[i]) for i in picks]
    at = [str(sizes[i]) for i in picks]
    text = (
        f"With {'/'.join(map(str, reps))} replications on {items}, the 95% upper bound on "
        f"the gap is {gap_text}, and the base-stock levels vary by "
        f"{', '.join(spread[:-1])} and {spread[-1]} periods of cover across replications "
        f"at {', '.join(at[:-1])} and {at[-1]}."
    )
    return textwrap.fill(text, WIDTH, break_on_hyphens=False)


def _compare(root: Path, name: str) -> tuple[dict, dict, dict]:
    recs = _jsonl(root / "benchmarks" / "results" / name)
    (ef,) = _select(recs, engine="ef")
    (auto,) = _select(recs, engine="auto")
    (cmp_,) = [r for r in recs if "compare" in r]
    return ef, auto, cmp_


def _slopes(recs: list[dict]) -> tuple[float, float]:
    ok = [r for r in recs if r.get("objective") is not None and r.get("total_s")]
    X = np.array([[1.0, math.log(r["items"]), math.log(r["scenarios"])] for r in ok])
    y = np.array([math.log(r["total_s"]) for r in ok])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(coef[1]), float(coef[2])


def scale_targets_table(root: Path) -> str:
    """The performance targets, each with its measured figures and the command."""
    results = root / "benchmarks" / "results"
    batches = _batches(_jsonl(results / "scaling_targets.jsonl"))
    if len(batches) < 2:
        raise FiguresError("scaling_targets.jsonl needs a current and an earlier batch")
    now, before = batches[-1], batches[-2]
    sweep = _jsonl(results / "scaling.jsonl")

    ef, auto, cmp_ = _compare(root, "scaling_compare_50x100x13.jsonl")
    _, _, cmp_coupled = _compare(root, "scaling_compare_50x100x13_coupled.jsonl")
    row_ef = (
        f"**{cmp_['speedup_total']:.1f}×** (`ef` {ef['total_s']:.1f} s, `auto` "
        f"{auto['total_s']:.2f} s), objectives equal to {cmp_['rel_objective_diff']:.0e}"
    )

    big = dict(items=1000, scenarios=1000)
    plain = [r for r in _select(now, coupled=False, **big) if r["reserving_items"]]
    plain_runs = plain + _select(sweep, coupled=False, **big)
    plain_before = _select(before, coupled=False, **big)
    if not plain_runs or not plain_before:
        raise FiguresError("no uncoupled 1000 x 1000 records")
    row_big = (
        f"**{_range([r['total_s'] for r in plain_runs], unit=' s')}** end to end over "
        f"{_count(len(plain_runs))} runs (sampling "
        f"{_range([r['scenario_s'] for r in plain_runs], unit=' s')}, solve and "
        f"verification {_range([r['wall_solve_s'] for r in plain_runs], unit=' s')}), "
        f"{_range([r['total_s'] for r in plain_before], unit=' s')} before the subgradient "
        f"line search; peak {_gb(max(r['peak_rss_mb'] for r in plain_runs))}"
    )

    huge = dict(items=10000, scenarios=200)
    huge_now = _select(now, **huge)
    huge_before = _select(before, **huge)
    if not huge_now:
        raise FiguresError("no 10000 x 200 record in the last batch")
    earlier = (
        f"; {_range([r['total_s'] for r in huge_before], unit=' s')} in "
        f"{'an earlier run' if len(huge_before) == 1 else 'earlier runs'}"
        if huge_before
        else ""
    )
    row_huge = (
        f"**{_range([r['total_s'] for r in huge_now], unit=' s')}** (sampling "
        f"{_range([r['scenario_s'] for r in huge_now], unit=' s')}, solve "
        f"{_range([r['wall_solve_s'] for r in huge_now], unit=' s')}{earlier}), peak "
        f"{_gb(max(r['peak_rss_mb'] for r in huge_now))}"
    )

    coupled = [r for r in _select(now, coupled=True, **big) if r["reserving_items"]]
    coupled_norsv = [r for r in _select(now, coupled=True, **big) if not r["reserving_items"]]
    plain_now = [r for r in _select(now, coupled=False, **big) if r["reserving_items"]]
    if not coupled or not plain_now:
        raise FiguresError("no coupled/uncoupled 1000 x 1000 pair in the last batch")
    ratio = np.mean([r["total_s"] for r in coupled]) / np.mean([r["total_s"] for r in plain_now])
    norsv = (
        f"; {_seconds(coupled_norsv)} s coupled without reserved capacity" if coupled_norsv else ""
    )
    row_coupled = (
        f"**{ratio:.1f}×**: {_seconds(coupled)} s coupled "
        f"against {_seconds(plain_now)} s uncoupled at "
        f"1,000 × 1,000, run alternately (peak {_gb(max(r['peak_rss_mb'] for r in coupled))}, "
        f"budget used {min(r['budget_use'] for r in coupled):.0%}){norsv}; 50 × 100 coupled: "
        f"{cmp_coupled['speedup_total']:.0f}× faster than `ef`, objectives equal to "
        f"{cmp_coupled['rel_objective_diff']:.0e}"
    )

    b, c = _slopes(sweep)
    items = sorted({r["items"] for r in sweep})
    scens = sorted({r["scenarios"] for r in sweep})
    row_sweep = (
        f"slopes **{b:.2f}** (items) and **{c:.2f}** (scenarios) over "
        f"{_thousands(items[0])}–{_thousands(items[-1])} × "
        f"{_thousands(scens[0])}–{_thousands(scens[-1])}; `benchmarks/results/scaling.md`"
    )

    rows = [
        (
            "50 × 100 × 13: `auto` ≥ 20× faster than `ef`, same objective",
            row_ef,
            "`python benchmarks/scaling.py --items 50 --scenarios 100 --compare-ef`",
        ),
        (
            "1,000 × 1,000 × 13 ≤ 60 s, ≤ 4 GiB",
            row_big,
            "`python benchmarks/scaling.py --items 1000 --scenarios 1000`",
        ),
        (
            "10,000 × 200 × 13 ≤ 5 min",
            row_huge,
            "`python benchmarks/scaling.py --items 10000 --scenarios 200`",
        ),
        (
            "binding budget within 2× of uncoupled",
            row_coupled,
            "`python benchmarks/scaling.py --items 1000 --scenarios 1000 --coupled "
            "[--reservation-share 0]`; `... --items 50 --scenarios 100 --coupled "
            "--compare-ef`; records in `benchmarks/results/scaling_targets.jsonl`",
        ),
        (
            "time linear in items and scenarios",
            row_sweep,
            "`python benchmarks/scaling.py --sweep --sweep-items 100,300,1000 "
            "--sweep-scenarios 100,300,1000`",
        ),
    ]
    lines = ["| target | measured | command |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {cmd} |" for t, m, cmd in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# code map: drawn from the tree itself

#: The stages of the data flow, upstream first, as tests/test_layering.py orders them.
STAGES = (
    ("optimizer/errors.py", "errors and exit codes (every stage raises them)"),
    ("optimizer/history", "records → demand laws and supplier chains (statistics, no files)"),
    ("optimizer/instance", "files → validated instance"),
    ("optimizer/scenarios.py", "instance → scenarios (numpy)"),
    ("optimizer/program", "scenarios → the program's numbers and its numpy semantics"),
    ("models", "the program's numbers → Pyomo models (the source of truth)"),
    ("optimizer/engines", "program → solution: one module per engine behind one registry"),
    ("optimizer/report", "solution → plan table and output files"),
    ("optimizer/analysis", "solutions → diagnostics, policies, fair comparisons"),
    ("optimizer/planning_cluster.py", "one solve's stages on a Dask cluster"),
    ("optimizer/planning.py", "one solve end to end, as the CLI runs it"),
    ("optimizer/cli", "the command line, one module per command"),
)


def _summary(path: Path) -> str:
    """First line of a module's docstring (empty when it has none)."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    first = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", first)  # reST roles -> code
    return first.replace("``", "`")


def code_map(_results: Path) -> str:
    """The README's code map: each stage of the data flow with its modules' first lines.

    Drawn from the tree this script belongs to (not the results folder).
    """
    root = ROOT
    lines = ["| stage | module | what it holds |", "| --- | --- | --- |"]
    for rel, stage in STAGES:
        path = root / rel
        if path.is_file():
            lines.append(f"| {stage} | `{rel}` | {_summary(path)} |")
            continue
        if not path.is_dir():
            raise FiguresError(f"code map: {rel} is not in the tree")
        modules = sorted(p for p in path.glob("*.py") if p.name != "__init__.py")
        init = path / "__init__.py"
        head = _summary(init) if init.exists() else ""
        lines.append(f"| {stage} | `{rel}/` | {head} |")
        lines.extend(f"| | `{p.name}` | {_summary(p)} |" for p in modules)
    lines.append(
        "| (not the library) | `benchmarks/`, `studies/`, `scripts/`, `tests/` | "
        "performance scripts; the JIT-or-JIC and sample-size studies; maintenance "
        "scripts; the test suite |"
    )
    return "\n".join(line.replace("|  |", "| |") for line in lines)


# ---------------------------------------------------------------------------------------
# the whole command

#: case -> (what the README calls it, target)
WHOLE_CASES = {
    "demo": ("demo (30 items × 200 scenarios)", "≤ 5 s warm"),
    "items300": ("300 generated items × 200", "≤ 15 s"),
    "n1000x1000": ("1,000 items × 1,000 scenarios", "≤ 60 s, ≤ 4 GiB"),
    "n10000x200": ("10,000 items × 200 scenarios", "≤ 5 min"),
}


def whole_command_table(root: Path) -> str:
    """Each case's most recent batch in ``benchmarks/results/whole_command.jsonl``."""
    path = root / "benchmarks" / "results" / "whole_command.jsonl"
    if not path.exists():
        raise FiguresError(f"results file missing: {path}")
    batches = _batches(_jsonl(path))
    lines = [
        "| instance | target | whole command (wall) | peak memory | plan / pricing / diagnostics |",
        "|---|---|---|---|---|",
    ]
    for case, (label, target) in WHOLE_CASES.items():
        # the most recent batch that measured this case
        runs = next(
            (
                found
                for batch in reversed(batches)
                if (found := [r for r in batch if r.get("case") == case and r.get("exit") == 0])
            ),
            [],
        )
        if not runs:
            continue
        walls = [r["wall_s"] for r in runs]
        phases = " / ".join(
            _range([r[k] for r in runs], ".1f", " s")
            for k in ("plan_seconds", "headline_seconds", "diagnostics_seconds")
        )
        lines.append(
            f"| {label} | {target} | **{_range(walls, '.1f', ' s')}** | "
            f"{_range([r['peak_rss_gb'] for r in runs], '.2f', ' GB')} | {phases} |"
        )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[Path], str]] = {
    "policy-table": policy_table,
    "sample-size": sample_size_text,
    "scale-targets": scale_targets_table,
    "code-map": code_map,
    "whole-command": whole_command_table,
}


# ---------------------------------------------------------------------------------------
# README


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- figures:{re.escape(name)} -->\n)(.*?)(<!-- /figures:{re.escape(name)} -->)",
        re.DOTALL,
    )


def render(readme: str, root: Path) -> str:
    """``readme`` with every owned block regenerated from the results under ``root``."""
    for name, make in BLOCKS.items():
        pattern = _pattern(name)
        if len(pattern.findall(readme)) != 1:
            raise FiguresError(f"README needs exactly one <!-- figures:{name} --> block")
        body = make(root)
        readme = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(3), readme)
    return readme


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument(
        "--root", type=Path, default=ROOT, help="folder holding benchmarks/ and studies/"
    )
    ap.add_argument(
        "--check", action="store_true", help="do not write; exit 1 when the README is stale"
    )
    args = ap.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    try:
        fresh = render(current, args.root)
    except FiguresError as exc:
        print(f"readme_figures: {exc}", file=sys.stderr)
        return 2
    if fresh == current:
        print(f"{args.readme}: figures agree with the results")
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(), fresh.splitlines(), "README (as is)", "from results", lineterm=""
        )
        print("\n".join(diff), file=sys.stderr)
        print(
            f"{args.readme}: figures disagree with the results; run "
            "python scripts/readme_figures.py",
            file=sys.stderr,
        )
        return 1
    args.readme.write_text(fresh, encoding="utf-8")
    print(f"{args.readme}: figure blocks rewritten from the results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
