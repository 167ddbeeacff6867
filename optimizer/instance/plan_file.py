r"""Plan files: a planner's ``plan.csv`` read back, checked, in the instance's item order.

A plan file has one row per item, ``item, base_stock[, reserved_capacity]`` (the columns
``stockplan solve`` writes); ``stockplan evaluate`` and ``stockplan compare --plan`` read it
back with :func:`read_plan`, which refuses a plan that does not say one thing: a
``safety_stock`` (or the ERP fields ``safety_stock_units``, ``order_up_to``) that disagrees
with ``base_stock`` (edited alone: the base stock :math:`S_i` is the level,
:math:`ss_i = S_i - (L_i + 1)\mu_i` follows from it), an item
listed twice, an item that reserves emergency capacity without its ``reserved_capacity``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.tables import unescape
from optimizer.instance.types import Instance

#: How far (units) a plan file's ``safety_stock`` may sit from ``base_stock - (L+1) mu``:
#: both columns rounded to two decimals in a spreadsheet differ by up to 0.01.
SAFETY_STOCK_TOLERANCE = 0.011


def read_plan(path: Path, instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    r"""Read a plan CSV (``item, base_stock[, reserved_capacity]``) in instance item order.

    Parameters
    ----------
    path : Path
        The plan file.
    instance : Instance
        The instance the plan is for; every item needs a row.

    Returns
    -------
    base_stock, reserved : ndarray
        :math:`S_i` and :math:`K_i` per item (``reserved`` 0 where the column is absent or
        the cell empty).

    Raises
    ------
    InvalidInstanceError
        Listing the problems: unreadable file, missing column, unknown, missing or
        repeated item, a cell that is not a finite number :math:`\ge 0` (an empty
        ``base_stock``), :math:`S_i` below the pipeline :math:`L_i \mu_i`, a
        ``safety_stock`` other than :math:`S_i - (L_i + 1)\mu_i` (within
        :data:`SAFETY_STOCK_TOLERANCE`), no ``reserved_capacity`` for an item that
        reserves capacity.
    """
    name = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInstanceError([InputProblem(name, f"cannot read the plan: {exc}")]) from exc
    problems: list[InputProblem] = []
    for col in ("item", "base_stock"):
        if col not in df.columns:
            problems.append(InputProblem(name, "required column is missing", column=col))
    if problems:
        raise InvalidInstanceError(problems)
    it = instance.items
    index = {str(n): k for k, n in enumerate(it.name)}
    S = np.full(len(it), np.nan)
    K = np.zeros(len(it))
    ss = np.full(len(it), np.nan)  # the file's safety stock, where it has one
    ss_units = np.full(len(it), np.nan)  # its ERP field, whole units (plan.csv, ERP fields)
    up_to = np.full(len(it), np.nan)  # the ERP's order-up-to level: S again
    has_K = np.zeros(len(it), dtype=bool)
    first_row: dict[str, int] = {}
    for row, rec in enumerate(df.to_dict("records"), start=1):
        item = unescape(str(rec["item"]).strip())  # plan.csv writes '=x for a name =x
        if item not in index:
            problems.append(InputProblem(name, "item is not in the instance", row, item, "item"))
            continue
        if item in first_row:
            problems.append(
                InputProblem(
                    name,
                    f"item listed twice (first in row {first_row[item]}): keep one row per item",
                    row,
                    item,
                    "item",
                )
            )
            continue
        first_row[item] = row
        if str(rec["base_stock"]).strip() == "":
            problems.append(
                InputProblem(name, "base_stock is empty: every item needs its level", row, item,
                             "base_stock")
            )  # fmt: skip
            continue
        for col, target in (
            ("base_stock", S),
            ("reserved_capacity", K),
            ("safety_stock", ss),
            ("safety_stock_units", ss_units),
            ("order_up_to", up_to),
        ):
            if col not in rec or (col != "base_stock" and str(rec[col]).strip() == ""):
                continue
            if col == "reserved_capacity":
                has_K[index[item]] = True
            try:
                value = float(rec[col])
            except ValueError:
                problems.append(InputProblem(name, "not a number", row, item, col))
                continue
            if col.startswith("safety_stock"):  # may be negative: leaner than the cover
                if not np.isfinite(value):
                    problems.append(InputProblem(name, "must be a finite number", row, item, col))
            elif not np.isfinite(value) or value < 0:
                problems.append(InputProblem(name, "must be a finite number >= 0", row, item, col))
            target[index[item]] = value
    for k in np.flatnonzero(np.isnan(S)):
        if not any(p.item == it.name[k] for p in problems):
            problems.append(
                InputProblem(
                    name, "item of the instance has no row in the plan", item=str(it.name[k])
                )
            )
    cover = (it.lead_time + 1) * it.demand_mean
    implied = S - cover
    # columns that follow from base_stock, and how far a spreadsheet's rounding moves them
    for col, given, want, tol in (
        ("safety_stock", ss, implied, SAFETY_STOCK_TOLERANCE),
        ("safety_stock_units", ss_units, implied, 0.5 + SAFETY_STOCK_TOLERANCE),
        ("order_up_to", up_to, S, SAFETY_STOCK_TOLERANCE),
    ):
        off = np.abs(given - want) > tol + 1e-9 * np.abs(S)
        for k in np.flatnonzero(np.isfinite(given) & np.isfinite(S) & off):
            fix = given[k] + cover[k] if col.startswith("safety") else given[k]
            problems.append(
                InputProblem(
                    name,
                    f"{col} {given[k]:g} disagrees with base_stock {S[k]:g}"
                    + (
                        f", whose safety stock is {implied[k]:g} (base_stock - (L+1)*mu = "
                        f"{S[k]:g} - {cover[k]:g})"
                        if col.startswith("safety")
                        else ""
                    )
                    + f": the plan's level is base_stock; edit base_stock (to {fix:g} for "
                    f"this {col}) or drop the {col} column",
                    item=str(it.name[k]),
                    column=col,
                )
            )
    need_K = np.asarray(it.reserves_capacity, dtype=bool) & ~has_K & np.isfinite(S)
    for k in np.flatnonzero(need_K):
        problems.append(
            InputProblem(
                name,
                "the item reserves emergency capacity (reservation_fee in items.csv) but the "
                "plan gives no reserved_capacity: add the column, 0 for none",
                item=str(it.name[k]),
                column="reserved_capacity",
            )
        )
    low = it.lead_time * it.demand_mean
    for k in np.flatnonzero(S < low - 1e-9):
        problems.append(
            InputProblem(
                name,
                f"base_stock {S[k]:g} is below the pipeline L*mu = {low[k]:g}",
                item=str(it.name[k]),
                column="base_stock",
            )
        )
    if problems:
        raise InvalidInstanceError(problems)
    return S, K
