"""report.html: one self-contained page a planner opens (README "Reading the plan and the report").

The page needs no network: plots are inline SVG (:mod:`optimizer.report.plots`), styles
and the one small script are inline, and a Content-Security-Policy forbids every fetch.
Every piece of data (item and supplier names, the instance's name and description,
units, policy names) is escaped with :func:`html.escape` before it is placed in the page.
The script records any JavaScript error or blocked fetch into the ``data-errors``
attribute of the page's root element and the number of plots into ``data-plots`` (what
the browser test reads).

The renderer takes plain tables and arrays, not the analysis objects, so this layer
imports nothing downstream of it: ``explanation`` is anything with the attributes of
:class:`optimizer.analysis.explain.Explanation` (``table``, ``curves``, ``marks``,
``sweep``, ``scenarios``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Items drawn one by one (largest expected cost first).
TOP_ITEMS = 12
#: Rows of the all-items table at most (a larger instance is cut, and says so).
MAX_ROWS = 5000

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1180px;color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f3f6fa;position:sticky;top:0}td.t,th.t{text-align:left}
.big{font-size:1.5em;font-weight:600}.muted{color:#666;font-size:.9em}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{margin:0}
.scroll{max-height:520px;overflow:auto}
svg{max-width:100%;height:auto}
"""
_GUARD = (
    "<script>(function(){var r=document.documentElement;function add(m){"
    "var p=r.getAttribute('data-errors');r.setAttribute('data-errors',(p?p+' | ':'')+m);}"
    "window.addEventListener('error',function(e){add(String(e.message))});"
    "window.addEventListener('unhandledrejection',function(e){add(String(e.reason))});"
    "document.addEventListener('securitypolicyviolation',function(e){"
    "add('blocked '+e.blockedURI)});"
    "})();</script>"
)
_COUNT = (
    "<script>document.documentElement.setAttribute('data-plots',"
    "String(document.querySelectorAll('figure svg').length));</script>"
)
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)


def esc(value: object) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def number(x: object, digits: int = 0) -> str:
    """Thousands separators; ``-`` for missing or non-finite values."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return esc(x)
    if not math.isfinite(v):
        return "-"
    return f"{v:,.{digits}f}"


def table_html(
    frame: pd.DataFrame, formats: Mapping[str, Any] | None = None, limit: int = MAX_ROWS
) -> str:
    """Escape ``frame`` into an HTML table; ``formats`` maps a column to digits or a callable."""
    formats = dict(formats or {})
    cols = list(frame.columns)
    text_cols = {c for c in cols if not pd.api.types.is_numeric_dtype(frame[c])}
    head = "".join(f'<th class="{"t" if c in text_cols else ""}">{esc(c)}</th>' for c in cols)
    rows = []
    for rec in frame.head(limit).itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            f = formats.get(c)
            if c in text_cols:
                cells.append(f'<td class="t">{esc(v)}</td>')
            elif callable(f):
                cells.append(f"<td>{esc(f(v))}</td>")
            else:
                cells.append(f"<td>{number(v, 2 if f is None else int(f))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="muted">first {limit:,} of {len(frame):,} rows (all are in plan.csv)</p>'
        if len(frame) > limit
        else ""
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>{more}'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption class='muted'>{esc(caption)}</figcaption></figure>"


def _suffix(label: str | None) -> str:
    return f" ({label})" if label else ""


def _summary_rows(summary: Mapping[str, Any], currency: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("status", f"{summary.get('status')}")]
    if summary.get("objective") is not None:
        rows.append(("in-sample optimum (optimistic)", number(summary["objective"])))
    if "fill_rate" in summary:
        rows.append(("fill rate (out of sample)", f"{summary['fill_rate']:.2%}"))
    if "capital_tied_up" in summary:
        rows.append((f"capital tied up (average){_suffix(currency)}",
                     number(summary["capital_tied_up"])))  # fmt: skip
    cv = summary.get("cvar") or {}
    if cv.get("out_of_sample_causal") is not None:
        rows.append((f"CVaR{cv.get('alpha', 0.95):.0%} of the horizon's cost",
                     number(cv["out_of_sample_causal"])))  # fmt: skip
    if "postures" in summary:
        p = summary["postures"]
        rows.append(("postures JIT / hybrid / JIC", f"{p['JIT']} / {p['hybrid']} / {p['JIC']}"))
    d = summary.get("diagnostics") or {}
    for key, what in (("VSS", "VSS: what hedging saves over JIT"),
                      ("EVPI", "EVPI: what perfect foresight would save")):  # fmt: skip
        if d.get(key) is not None:
            rows.append((what, number(d[key])))
    if "warning" in summary:
        rows.append(("warning", str(summary["warning"])))
    return rows


def render_report(
    *,
    title: str,
    summary: Mapping[str, Any],
    plan: pd.DataFrame,
    description: str = "",
    scenario_cost: np.ndarray | None = None,
    scenario_weight: np.ndarray | None = None,
    explanation: Any = None,
    comparison: pd.DataFrame | None = None,
    unit: str | None = None,
    currency: str | None = None,
    top: int = TOP_ITEMS,
    blocks: pd.DataFrame | None = None,
) -> str:
    """Render the whole report.html as text.

    Parameters
    ----------
    title : str
        The instance's name (escaped).
    summary : mapping
        ``summary.json`` of the run (``expected_cost``, ``expected_cost_ci95``, ``cvar``,
        ``cost_lines``, ...).
    plan : DataFrame
        The plan table (``plan.csv``).
    scenario_cost : ndarray, optional
        The horizon's cost of the plan in each fresh scenario (the headline's).
    scenario_weight : ndarray, optional
        Each scenario's probability when the headline's scenarios were stratified (the
        histogram then shows probability, not counts); default equal weights.
    explanation : Explanation, optional
        Per-item explanations, cost curves, marks and the cover sweep.
    comparison : DataFrame, optional
        The ranked comparison table of ``stockplan compare``.
    blocks : DataFrame, optional
        A plan of one level per review block (``review_levels`` > 1): the costliest
        items' ``base_stock`` and, per block ``b``, ``level_b`` beside ``demand_b``
        (:func:`optimizer.analysis.outputs.block_table`).
    """
    from optimizer.report import plots  # matplotlib only now

    cur = currency or ""
    money = _suffix(cur)
    qty = _suffix(unit)
    parts: list[str] = [f"<h1>{esc(title)}</h1>"]
    if description:
        parts.append(f'<p class="muted">{esc(description)}</p>')

    # --- portfolio summary ---------------------------------------------------------
    parts.append("<h2>Portfolio</h2>")
    if summary.get("expected_cost") is not None:
        low, high = summary["expected_cost_ci95"]
        parts.append(
            f'<p><span class="big">{number(summary["expected_cost"])}{esc(money)}</span> '
            f"expected cost per horizon, 95% interval [{number(low)}, {number(high)}]: the plan "
            "run period by period on fresh scenarios it was never fitted to (the figure to "
            f"plan on). <span class='muted'>{esc(summary.get('expected_cost_stop', ''))}</span>"
            "</p>"
        )
    rows = "".join(
        f'<tr><td class="t">{esc(k)}</td><td>{esc(v)}</td></tr>'
        for k, v in _summary_rows(summary, cur)
    )
    parts.append(f"<table>{rows}</table>")

    # --- ranking (compare) -------------------------------------------------------------
    if comparison is not None and len(comparison):
        parts.append("<h2>Ranking of the policies</h2>")
        for prefix, what in (("", "hindsight recourse"), ("causal_", "causal run")):
            mean_col = f"{prefix}expected_cost"
            low_col = "ci_low" if not prefix else "causal_ci_low"
            high_col = "ci_high" if not prefix else "causal_ci_high"
            ranked = comparison.sort_values(mean_col, kind="stable")
            parts.append(
                _figure(
                    plots.ranking(
                        list(ranked["policy"].astype(str)),
                        ranked[mean_col].to_numpy(float),
                        ranked[low_col].to_numpy(float),
                        ranked[high_col].to_numpy(float),
                        money,
                        f"expected cost, {what}, 95% intervals",
                    ),
                    f"Policies ranked by expected cost ({what}), with 95% intervals; all "
                    "priced on the same fresh scenarios.",
                )
            )
        keep = [c for c in ("rank", "policy", "expected_cost", "ci_low", "ci_high",
                            "vs_stochastic", "causal_rank", "causal_expected_cost",
                            "causal_ci_low", "causal_ci_high", "fill_rate", "capital_tied_up",
                            "cvar95") if c in comparison.columns]  # fmt: skip
        parts.append(
            table_html(
                comparison[keep],
                {"rank": 0, "causal_rank": 0, "fill_rate": lambda v: f"{float(v):.1%}"},
            )
        )

    # --- distribution ---------------------------------------------------------------
    if scenario_cost is not None and len(scenario_cost):
        c = np.asarray(scenario_cost, dtype=float)
        w = None if scenario_weight is None else np.asarray(scenario_weight, dtype=float)
        cv = summary.get("cvar") or {}
        alpha = float(cv.get("alpha", 0.95))
        tail = cv.get("out_of_sample_causal")
        if tail is None:
            q = np.sort(c)[int(math.floor(alpha * c.size)) :]
            tail = float(q.mean()) if q.size else float("nan")
        mean = float(c.mean()) if w is None else float(w @ c)
        parts.append("<h2>The horizon's cost over scenarios</h2>")
        parts.append(
            _figure(
                plots.cost_histogram(c, mean, float(tail), alpha, money, weights=w),
                f"Cost of the horizon in each of {c.size:,} fresh scenarios, mean and "
                f"CVaR{alpha:.0%} (the mean of the worst {1 - alpha:.0%}) marked.",
            )
        )

    # --- cost lines -----------------------------------------------------------------
    lines = summary.get("cost_lines") or {}
    if lines:
        parts.append("<h2>Cost lines</h2>")
        parts.append(
            _figure(
                plots.cost_lines(dict(lines), money),
                "Expected cost per horizon by line, summed over items.",
            )
        )

    # --- risk -----------------------------------------------------------------------
    parts.append("<h2>Items carrying most of the risk</h2>")
    if explanation is not None and "tail_cost" in explanation.table:
        t = explanation.table[["item", "tail_cost", "cost"]].copy()
        total = float(t["tail_cost"].sum())
        t["tail_share"] = t["tail_cost"] / total if total else 0.0
        t = t.sort_values("tail_cost", ascending=False, kind="stable").head(top)
        parts.append(
            "<p>Each item's mean cost in the worst scenarios of the portfolio (the CVaR "
            "tail) and its share of the tail.</p>"
        )
        parts.append(table_html(t, {"tail_share": lambda v: f"{float(v):.1%}"}))
    else:
        t = plan.sort_values("expected_cost", ascending=False, kind="stable").head(top)
        parts.append(table_html(t[["item", "expected_cost", "stockout_cost"]]))

    # --- sweep and curves -------------------------------------------------------------
    if explanation is not None:
        sw = explanation.sweep
        uniform = sw[sw["cover"].notna()]
        plan_row = sw[sw["cover"].isna()]
        planned = (
            None
            if plan_row.empty
            else tuple(float(plan_row.iloc[0][k]) for k in ("expected_cost", "ci_low", "ci_high"))
        )
        parts.append("<h2>From Just-in-Time to Just-in-Case</h2>")
        parts.append(
            _figure(
                plots.sweep(
                    uniform["cover"].to_numpy(float),
                    uniform["expected_cost"].to_numpy(float),
                    uniform["ci_low"].to_numpy(float),
                    uniform["ci_high"].to_numpy(float),
                    planned,  # type: ignore[arg-type]
                    money,
                ),
                f"Every item at the same safety cover k, against the plan (red), on "
                f"{explanation.scenarios:,} fresh scenarios.",
            )
        )
        parts.append(f"<h2>Cost against the base-stock level: the {top} costliest items</h2>")
        shown = list(explanation.curves.items())[:top]
        if shown:
            panels = [(name, lv, c, explanation.marks.get(name, {})) for name, (lv, c) in shown]
            parts.append(
                _figure(
                    plots.item_curves(panels, qty, money),
                    "Expected cost per horizon against the base-stock level S, on the same "
                    "fresh scenarios: the plan (red dot) and the heuristics' levels (jit, "
                    "jic_2, classic_95, newsvendor) marked.",
                )
            )
        parts.append("<h2>Why this level</h2>")
        parts.append(
            "<p>Critical ratio ρ = π/(π+h) (stockout penalty π against the holding cost h of "
            "a period); the safety stock split into what covers demand variability and what "
            "covers supplier outages (the item re-solved with every supplier always up); the "
            "cost of 10% less or more stock, on the same fresh scenarios.</p>"
        )
        ex = explanation.table
        cols = ["item", "critical_ratio", "safety_stock", "demand_buffer", "outage_buffer",
                "minus_10_delta", "plus_10_delta", "explanation"]  # fmt: skip
        parts.append(
            table_html(
                ex[[c for c in cols if c in ex]],
                {
                    "critical_ratio": lambda v: f"{float(v):.1%}",
                    "safety_stock": 0,
                    "demand_buffer": 0,
                    "outage_buffer": 0,
                    "minus_10_delta": 0,
                    "plus_10_delta": 0,
                },
            )  # fmt: skip
        )

    # --- review blocks ----------------------------------------------------------------
    if blocks is not None and len(blocks):
        parts.append(_blocks_section(blocks, summary, qty))

    # --- the plan ---------------------------------------------------------------------
    parts.append("<h2>The plan, item by item</h2>")
    show = [c for c in ("item", "supplier", "posture", "order_up_to", "reorder_point",
                        "safety_stock_units", "cover_periods", "reserved_capacity",
                        "expected_fill_rate", "avg_on_hand", "capital_tied_up",
                        "expected_cost") if c in plan.columns]  # fmt: skip
    parts.append(
        table_html(
            plan[show],
            {
                "order_up_to": 0,
                "reorder_point": 0,
                "safety_stock_units": 0,
                "reserved_capacity": 0,
                "expected_fill_rate": lambda v: f"{float(v):.1%}",
                "avg_on_hand": 1,
            },
        )  # fmt: skip
    )
    if "demand_model" in plan.columns:
        parts.append(_history_section(plan))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
        f"<title>{esc(title)} — stockplan report</title>{_GUARD}<style>{_STYLE}</style>"
        f"</head><body>\n{body}\n{_COUNT}</body></html>\n"
    )


def _blocks_section(blocks: pd.DataFrame, summary: Mapping[str, Any], qty: str) -> str:
    """Render the block levels beside each block's mean demand (README "Review levels")."""
    review = summary.get("review") or {}
    spans = ", ".join(
        f"b{b['block']}: periods {b['first_period']}-{b['last_period']}"
        for b in review.get("blocks", [])
    )
    vs = review.get("vs_single_level") or {}
    gain = ""
    if vs:
        low, high = vs["difference_ci95"]
        gain = (
            f" Against the single level alone on the same fresh scenarios the blocks cost "
            f"{number(vs['difference'])} per two quarters, 95% interval [{number(low)}, "
            f"{number(high)}] (negative: the blocks save)."
        )
    head = (
        f"<h2>Levels by review block: the {len(blocks)} costliest items</h2>"
        f"<p>{review.get('levels', '')} base-stock levels in the quarter ({esc(spans)}); "
        "each block's level beside the mean demand per period of its periods: where "
        "demand ramps up the levels follow it, and a supplier's outages move them too "
        "(the stock an outage would need is bought while the supplier is up). Fitted and "
        "priced with the next quarter run at the single level base_stock, from the stock "
        f"it leaves, so a lean last block pays for what it hands over there.{esc(gain)}</p>"
    )
    formats = {c: (0 if c.startswith(("level_", "base_")) else 1) for c in blocks.columns}
    return head + table_html(blocks.rename(columns=lambda c: f"{c}{qty}" if c != "item" else c),
                             {f"{c}{qty}": f for c, f in formats.items()})  # fmt: skip


def _history_section(plan: pd.DataFrame) -> str:
    """Render the demand law fitted to each item's history, with its goodness of fit."""
    cols = [c for c in ("item", "demand_model", "demand_class", "fit_pvalue", "fit_mean",
                        "fit_std", "forecast_mean") if c in plan.columns]  # fmt: skip
    return (
        "<h2>Demand laws fitted from history</h2><p>What each item's scenarios were drawn "
        "from (demand_model: the family chosen by information criterion, the compound "
        "law of an intermittent item, a block bootstrap, or items.csv), its demand class, "
        "and the goodness of fit fit_pvalue: the Kolmogorov–Smirnov p-value of the "
        "randomised probability integral transform of the history under the fitted law "
        '(small: the law does not describe the history; README "From history to a '
        'plan").</p>'
        + table_html(
            plan[cols], {"fit_pvalue": 3, "fit_mean": 2, "fit_std": 2, "forecast_mean": 2}
        )  # fmt: skip
    )


def comparison_summary(table: pd.DataFrame, scenarios: int) -> dict:
    """Summarise a comparison for its report: how many policies, the cheapest."""
    best = table.sort_values("causal_expected_cost", kind="stable").iloc[0]
    return {
        "status": f"{len(table)} policies on {scenarios:,} fresh scenarios; cheapest run "
        f"causally: {best['policy']}",
    }
