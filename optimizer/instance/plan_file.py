"""Plan files: a planner's ``plan.csv`` read back, checked, in the instance's item order.

A plan file has one row per item, ``item, base_stock[, reserved_capacity]`` (the columns
``stockplan solve`` writes); ``stockplan evaluate`` reads it back with :func:`read_plan`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.tables import unescape
from optimizer.instance.types import Instance


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
        Listing the problems: unreadable file, missing column, unknown or missing
        item, a cell that is not a finite number :math:`\ge 0`, :math:`S_i` below the
        pipeline :math:`L_i \mu_i`.
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
    for row, rec in enumerate(df.to_dict("records"), start=1):
        item = unescape(str(rec["item"]).strip())  # plan.csv writes '=x for a name =x
        if item not in index:
            problems.append(InputProblem(name, "item is not in the instance", row, item, "item"))
            continue
        for col, target in (("base_stock", S), ("reserved_capacity", K)):
            if col not in rec or (col == "reserved_capacity" and rec[col] == ""):
                continue
            try:
                value = float(rec[col])
            except ValueError:
                problems.append(InputProblem(name, "not a number", row, item, col))
                continue
            if not np.isfinite(value) or value < 0:
                problems.append(InputProblem(name, "must be a finite number >= 0", row, item, col))
            target[index[item]] = value
    for k in np.flatnonzero(np.isnan(S)):
        if not any(p.item == it.name[k] for p in problems):
            problems.append(
                InputProblem(
                    name, "item of the instance has no row in the plan", item=str(it.name[k])
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
