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
    table = with_erp_fields(instance, table)
    table = with_history_fields(instance, table)
    table = with_item_master(instance, table)
    numbers = table.select_dtypes("float").columns
    table[numbers] = table[numbers] + 0.0  # no -0 (a zero-demand item's S, ss) on screen either
    return table


#: The ERP fields of the plan table, in the order they follow ``posture``.
ERP_COLUMNS = ("order_up_to", "reorder_point", "safety_stock_units", "unit", "currency")


def reorder_point(
    base_stock: np.ndarray, mean: np.ndarray, lead_time: np.ndarray, integer: bool
) -> np.ndarray:
    r"""Reorder point :math:`s_i = L_i\mu_i + ss_i = S_i - \mu_i` of the periodic-review rule.

    The plan is a base-stock rule reviewed every period (review period :math:`R = 1`, lead
    time :math:`L_i`): order up to :math:`S_i` each period. An ERP's min/max or reorder-point
    rule with reorder point :math:`s_i` = lead-time demand :math:`L_i\mu_i` plus the safety
    stock :math:`ss_i = S_i - (L_i+1)\mu_i`, and maximum :math:`S_i`, orders in a period of
    mean demand as the base-stock rule does. Whole units (``integer``): rounded to the
    nearest unit; never below 0.
    """
    s = np.asarray(base_stock, dtype=float) - np.asarray(mean, dtype=float)
    if integer:
        s = np.round(s)
    return np.maximum(s, 0.0)


def with_erp_fields(instance: Instance, table: pd.DataFrame) -> pd.DataFrame:
    r"""Insert the ERP fields after ``posture`` (README "Reading the plan and the report").

    ``order_up_to`` (maximum level, :math:`S_i`), ``reorder_point``
    (:func:`reorder_point`), ``safety_stock_units`` (:math:`ss_i`, rounded to the nearest
    unit when the plan is in whole units), and the labels ``unit`` and ``currency`` of
    ``[plan]`` (empty when not set): quantities are in ``unit``, money in ``currency``.
    """
    it = instance.items
    integer = bool(instance.plan.integer)
    S = table["base_stock"].to_numpy(dtype=float)
    ss = table["safety_stock"].to_numpy(dtype=float)
    fields = {
        "order_up_to": S,
        "reorder_point": reorder_point(S, it.demand_mean, it.lead_time, integer),
        "safety_stock_units": np.round(ss) if integer else ss,
        "unit": instance.plan.unit or "",
        "currency": instance.plan.currency or "",
    }
    at = list(table.columns).index("posture") + 1
    for k, (name, values) in enumerate(fields.items()):
        table.insert(at + k, name, values)
    return table


def with_item_master(instance: Instance, table: pd.DataFrame) -> pd.DataFrame:
    """Append the item-master columns of ``items.csv`` unchanged (text, item order).

    The loader refuses a column named like one of the plan's
    (:data:`~optimizer.instance.layout.PLAN_COLUMNS`); a plan column added since that list
    was written keeps its name and the item-master column gets `` (items.csv)`` after its
    own, so neither is lost.
    """
    master = instance.item_master
    if master is None:
        return table
    taken = {str(c).lower() for c in table.columns}
    for name in master.columns:
        label = str(name) if str(name).lower() not in taken else f"{name} (items.csv)"
        table[label] = master[name].to_numpy(dtype=object)
    return table
