r"""A plan file's block levels: ``base_stock_b1`` ... ``base_stock_bk`` (README "Review levels").

``stockplan solve`` with ``[plan] review_levels`` :math:`k > 1` writes one column per
review block beside ``base_stock`` (the single level the warm-up and the next quarter run
at). :func:`read_block_levels` reads them back in the instance's item order, checking
that the columns are ``b1`` to ``bk`` for a :math:`k` of 3 or 13, and that every cell is
a number at or above the item's pipeline :math:`L_i \mu_i`. The rest of the file is read
by :func:`optimizer.instance.plan_file.read_plan`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.tables import unescape
from optimizer.instance.types import Instance

#: A block column's name.
BLOCK_COLUMN = re.compile(r"^base_stock_b(\d+)$")
#: Block counts a plan may hold besides one.
BLOCK_COUNTS = (3, 13)


def read_block_levels(path: Path, instance: Instance) -> np.ndarray | None:
    r"""Read a plan CSV's block levels (n, k) in instance item order (None: no block columns).

    Raises
    ------
    InvalidInstanceError
        Columns that are not ``base_stock_b1`` .. ``base_stock_bk`` with :math:`k` in
        :data:`BLOCK_COUNTS`; a cell that is empty, not a finite number, or below the
        item's pipeline :math:`L_i \mu_i`. Items are matched as ``read_plan`` matches
        them (unknown or repeated items are its to report).
    """
    name = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInstanceError([InputProblem(name, f"cannot read the plan: {exc}")]) from exc
    found = {int(m.group(1)): c for c in df.columns if (m := BLOCK_COLUMN.match(str(c)))}
    if not found:
        return None
    k = max(found)
    if sorted(found) != list(range(1, k + 1)) or k not in BLOCK_COUNTS:
        raise InvalidInstanceError(
            [
                InputProblem(
                    name,
                    f"block columns {', '.join(found[b] for b in sorted(found))}: a plan holds "
                    "base_stock_b1 .. base_stock_bk for k = 3 or 13 review blocks (README "
                    "'Review levels'), or none",
                    column=found[k],
                )
            ]
        )
    it = instance.items
    index = {str(n): i for i, n in enumerate(it.name)}
    levels = np.full((len(it), k), np.nan)
    problems: list[InputProblem] = []
    low = it.lead_time * it.demand_mean
    for row, rec in enumerate(df.to_dict("records"), start=1):
        item = unescape(str(rec["item"]).strip()) if "item" in rec else ""
        i = index.get(item)
        if i is None or not np.isnan(levels[i]).all():
            continue  # read_plan reports unknown and repeated items
        for b in range(1, k + 1):
            col = found[b]
            try:
                value = float(rec[col])
            except ValueError:
                problems.append(InputProblem(name, "not a number", row, item, col))
                continue
            if not np.isfinite(value) or value < low[i] - 1e-9:
                problems.append(
                    InputProblem(
                        name,
                        f"must be a finite number at or above the pipeline L*mu = {low[i]:g}",
                        row,
                        item,
                        col,
                    )
                )
                continue
            levels[i, b - 1] = value
    if problems:
        raise InvalidInstanceError(problems)
    return levels
