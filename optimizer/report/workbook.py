"""plan.xlsx: the results as a workbook (README "Reading the plan and the report").

Sheets ``plan`` (the plan table, ERP fields included), ``summary`` (the headline and the
run's figures, one per row), ``diagnostics`` (EV, EEV, VSS, WS, EVPI, bounds) and
``explanation`` (why each item got its level), each with a frozen header row, columns
sized to their content and number formats by column: whole units as integers (two
decimals when the plan is continuous), money with two decimals, rates as percentages.
Text cells are stored as text, never as formulas (a name starting with ``=`` stays a
name). Built with openpyxl and handed to :func:`optimizer.report.files.write_outputs`,
which saves it with the other files all-or-nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Columns counted in units (whole when the plan is).
UNIT_COLUMNS = frozenset(
    {
        "order_up_to",
        "reorder_point",
        "safety_stock_units",
        "base_stock",
        "reserved_capacity",
        "level_without_outages",
        "minus_10_level",
        "plus_10_level",
    }
)
#: Columns that are shares, shown as percentages.
RATE_COLUMNS = frozenset(
    {"expected_fill_rate", "critical_ratio", "fill_rate", "causal_fill_rate", "tail_share"}
)
MONEY = "#,##0.00"
QUANTITY = "#,##0.00"
WHOLE = "#,##0"
RATE = "0.0%"
#: Widest column, in characters.
MAX_WIDTH = 60


def number_format(column: str, integer: bool) -> str:
    """Excel number format of a numeric column by its name."""
    if column in RATE_COLUMNS:
        return RATE
    if column in UNIT_COLUMNS:
        return WHOLE if integer else QUANTITY
    if column.endswith(("_cost", "_delta", "_delta_low", "_delta_high")) or column in (
        "capital_tied_up",
        "cost",
    ):
        return MONEY
    return QUANTITY


def _cell_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_sheet(ws, frame: pd.DataFrame, integer: bool) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    cols = list(frame.columns)
    ws.append([str(c) for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    formats = [
        number_format(str(c), integer) if pd.api.types.is_numeric_dtype(frame[c]) else None
        for c in cols
    ]
    widths = [len(str(c)) for c in cols]
    for r, rec in enumerate(frame.itertuples(index=False), start=2):
        for k, v in enumerate(rec):
            v = _cell_value(v)
            cell = ws.cell(row=r, column=k + 1)
            if isinstance(v, str):
                cell.value = v
                cell.data_type = "s"  # text, never a formula
                widths[k] = max(widths[k], len(v))
            else:
                cell.value = v
                if formats[k] and v is not None and not isinstance(v, bool):
                    cell.number_format = formats[k]
                    shown = (
                        f"{v:.1%}" if formats[k] == RATE
                        else f"{v:,.0f}" if formats[k] == WHOLE else f"{v:,.2f}"
                    )  # fmt: skip
                    widths[k] = max(widths[k], len(shown))
                elif v is not None:
                    widths[k] = max(widths[k], len(str(v)))
    ws.freeze_panes = "A2"
    for k, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(k + 1)].width = min(MAX_WIDTH, w + 2)


def flatten(summary: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``summary.json`` as (dotted key, value) rows; lists joined, the diagnostics left out."""
    rows: list[tuple[str, Any]] = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if key == "diagnostics" and not prefix:
            continue
        if isinstance(value, Mapping):
            rows.extend(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            rows.append((name, ", ".join(str(_cell_value(v)) for v in value)))
        else:
            rows.append((name, _cell_value(value)))
    return rows


def results_workbook(
    plan: pd.DataFrame,
    summary: Mapping[str, Any],
    explanation: pd.DataFrame | None = None,
    *,
    integer: bool = True,
):
    """Build the results workbook (an openpyxl ``Workbook``; see the module docstring)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "plan"
    _write_sheet(ws, plan, integer)
    rows = flatten(summary)
    frame = pd.DataFrame({"figure": [k for k, _ in rows], "value": [v for _, v in rows]})
    _write_sheet(wb.create_sheet("summary"), frame.astype({"value": object}), integer)
    diag = summary.get("diagnostics") or {}
    dframe = (
        pd.DataFrame({"figure": list(diag), "value": [_cell_value(v) for v in diag.values()]})
        if diag
        else pd.DataFrame({"figure": ["diagnostics"], "value": ["not computed (--no-diagnostics)"]})
    )
    _write_sheet(wb.create_sheet("diagnostics"), dframe.astype({"value": object}), integer)
    ex = explanation if explanation is not None else pd.DataFrame({"explanation": ["not computed"]})
    _write_sheet(wb.create_sheet("explanation"), ex, integer)
    return wb
