"""Plots of report.html as inline SVG, drawn by matplotlib (Agg backend, SVG output).

matplotlib is imported here only (and this module only when a report is asked for, so
the command line starts as fast without it). Every function returns an ``<svg>`` element
as text, without XML declaration, ready to be placed inside HTML: text is written as SVG
``<text>`` (``svg.fonttype = "none"``, escaped by matplotlib's writer), every figure gets
its own id salt so the ids of several inline figures never collide, and ``$`` in data is
escaped so matplotlib's mathtext never reads an item name as a formula.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping, Sequence

import numpy as np

_COUNTER = itertools.count()
#: No RDF block (creator, date): the page stays the same for the same run.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
#: Colours of the marks on a cost curve, by policy name.
MARK_STYLE = {
    "plan": ("#d62728", "o"),
    "jit": ("#7f7f7f", "v"),
    "jic_2": ("#2ca02c", "^"),
    "classic_95": ("#9467bd", "s"),
    "newsvendor": ("#ff7f0e", "D"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def label(text: object) -> str:
    """Text safe for matplotlib: ``$`` escaped so it is never mathtext."""
    return str(text).replace("$", r"\$")


def _svg(fig) -> str:
    import matplotlib

    plt = _pyplot()
    buf = io.StringIO()
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": f"stockplan-{next(_COUNTER)}"}
    ):
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    plt.close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    return re.sub(r"<!--.*?-->", "", text[start:], flags=re.S)


def cost_histogram(
    costs: np.ndarray,
    mean: float,
    cvar: float,
    alpha: float,
    unit: str,
    weights: np.ndarray | None = None,
) -> str:
    """Distribution of the horizon's cost over scenarios, with mean and CVaR marked.

    With ``weights`` (stratified scenarios) the bars are probabilities, not counts.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    c = np.asarray(costs, dtype=float)
    bins = min(60, max(10, c.size // 50))
    ax.hist(c, bins=bins, weights=weights, color="#9ecae1", edgecolor="#3182bd")
    ax.axvline(mean, color="#d62728", lw=2, label=f"mean {mean:,.0f}")
    if np.isfinite(cvar):
        ax.axvline(cvar, color="#000000", lw=2, ls="--", label=f"CVaR{alpha:.0%} {cvar:,.0f}")
    ax.set_xlabel(label(f"cost per horizon{unit}"))
    ax.set_ylabel("scenarios" if weights is None else "probability")
    ax.legend(frameon=False, loc="upper right")
    fig.tight_layout()
    return _svg(fig)


def cost_lines(lines: Mapping[str, float], unit: str) -> str:
    """Horizontal bars of the expected cost lines."""
    plt = _pyplot()
    names = list(lines)
    fig, ax = plt.subplots(figsize=(7.0, 0.35 * len(names) + 0.8))
    ax.barh(names, [lines[k] for k in names], color="#6baed6")
    ax.invert_yaxis()
    ax.set_xlabel(label(f"expected cost per horizon{unit}"))
    fig.tight_layout()
    return _svg(fig)


def sweep(
    covers: np.ndarray,
    cost: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    plan: tuple[float, float, float] | None,
    unit: str,
) -> str:
    """JIT -> JIC sweep: portfolio cost of a uniform cover k, with the plan as a band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    ax.fill_between(covers, low, high, color="#c6dbef", label="95% interval")
    ax.plot(covers, cost, "o-", color="#08519c", label="uniform cover k")
    if plan is not None:
        m, lo, hi = plan
        ax.axhspan(lo, hi, color="#fcbba1", alpha=0.5)
        ax.axhline(m, color="#d62728", lw=2, label=f"the plan {m:,.0f}")
    ax.set_xlabel("safety cover k (periods of mean demand): 0 = JIT, 2+ = JIC")
    ax.set_ylabel(label(f"expected cost{unit}"))
    ax.legend(frameon=False, loc="upper right")
    fig.tight_layout()
    return _svg(fig)


def item_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, Mapping[str, float]]],
    unit: str,
    currency: str,
    columns: int = 3,
) -> str:
    """Each item's expected cost against its base-stock level, plan and heuristics marked.

    One small panel per ``(name, levels, costs, marks)``, in one figure (one layout pass).
    """
    plt = _pyplot()
    rows = max(1, -(-len(curves) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.7 * columns, 2.7 * rows), squeeze=False)
    for ax in axes.flat[len(curves) :]:
        ax.set_visible(False)
    for ax, (name, levels, costs, marks) in zip(axes.flat, curves, strict=False):
        ax.plot(levels, costs, "-", color="#3182bd", lw=1.5)
        for policy, level in marks.items():
            colour, marker = MARK_STYLE.get(policy, ("#000000", "x"))
            y = float(np.interp(level, levels, costs))
            ax.plot([level], [y], marker, color=colour, ms=7 if policy == "plan" else 5,
                    label=label(policy), zorder=3)  # fmt: skip
        ax.set_title(label(name), fontsize=9)
        ax.set_xlabel(label(f"base stock S{unit}"), fontsize=8)
        ax.set_ylabel(label(f"E[cost]{currency}"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, frameon=False, loc="upper right")
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.35 / rows, bottom=0.45 / rows,
                        wspace=0.35, hspace=0.75)  # fmt: skip
    return _svg(fig)


def ranking(
    names: Sequence[str],
    mean: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    unit: str,
    title: str,
) -> str:
    """Policies ranked by expected cost with their 95% intervals (horizontal error bars)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 0.32 * len(names) + 1.0))
    y = np.arange(len(names))
    m = np.asarray(mean, dtype=float)
    err = np.vstack([m - np.asarray(low, float), np.asarray(high, float) - m])
    ax.errorbar(m, y, xerr=err, fmt="o", color="#08519c", capsize=3)
    ax.set_yticks(y, [label(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel(label(f"expected cost per horizon{unit}"))
    ax.set_title(label(title), fontsize=10)
    fig.tight_layout()
    return _svg(fig)
