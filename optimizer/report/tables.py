"""The plan table: one row per item (README "How to read the results").

Costs are per costed horizon (the quarter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.instance import Instance
from optimizer.program.verifier import COST_LINES, Evaluation
from optimizer.report.history_columns import with_history_fields

#: Posture rule on periods of cover :math:`ss_i/\mu_i`: below ``JIT_MAX_COVER`` is lean
#: (JIT), at or above ``JIC_MIN_COVER`` is a buffer (JIC), in between a hybrid.
JIT_MAX_COVER = 0.5
JIC_MIN_COVER = 2.0


def posture(cover: np.ndarray) -> np.ndarray:
    """Label each item JIT / hybrid / JIC from its periods of safety cover."""
    return np.where(cover < JIT_MAX_COVER, "JIT", np.where(cover >= JIC_MIN_COVER, "JIC", "hybrid"))


def plan_table(
    instance: Instance, base_stock: np.ndarray, reserved: np.ndarray, evaluation: Evaluation
) -> pd.DataFrame:
    """One row per item: the plan, its service and its expected cost lines.

    Parameters
    ----------
    base_stock, reserved : ndarray (n,)
        :math:`S_i`, :math:`K_i`.
    evaluation : Evaluation
        Costs of the plan (hindsight recourse on the optimisation scenarios).
    """
    it = instance.items
    mean = it.demand_mean.astype(float)
    ss = base_stock - (it.lead_time + 1) * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(mean > 0, ss / mean, 0.0)
    table = pd.DataFrame(
        {
            "item": it.name,
            "supplier": instance.suppliers.name[it.supplier],
            "posture": posture(cover),
            "base_stock": base_stock,
            "safety_stock": ss,
            "cover_periods": cover,
            "reserved_capacity": np.where(it.reserves_capacity, reserved, 0.0),
            "expected_fill_rate": evaluation.fill_rate,
            "avg_on_hand": evaluation.avg_on_hand,
            "capital_tied_up": evaluation.avg_on_hand * it.unit_cost,
            "expected_stockout_units": evaluation.stockout_units,
            "expected_emergency_units": evaluation.emergency_units,
            "expected_cost": evaluation.lines.sum(axis=1),
        }
    )
    for k, name in enumerate(COST_LINES):
        table[f"{name}_cost"] = evaluation.lines[:, k]
    table = with_history_fields(instance, table)
    numbers = table.select_dtypes("float").columns
    table[numbers] = table[numbers] + 0.0  # no -0 (a zero-demand item's S, ss) on screen either
    return table
