"""The instance folder's layout: its file names and the columns of its CSV files.

The format itself is described in the README's "Instance files" section; these names are
shared by the readers (:mod:`~optimizer.instance.loader`) and the writer
(:mod:`~optimizer.instance.writer`).
"""

from __future__ import annotations

TOML_FILE = "instance.toml"
ITEMS_FILE = "items.csv"
SUPPLIERS_FILE = "suppliers.csv"
SCENARIO_DIR = "scenarios"
DEMAND_FILE = f"{SCENARIO_DIR}/demand.csv"
SUPPLY_FILE = f"{SCENARIO_DIR}/supply.csv"
PROBABILITY_FILE = f"{SCENARIO_DIR}/probability.csv"
SCENARIO_FILES = ("demand.csv", "supply.csv", "probability.csv")
"""The files ``scenarios/`` may hold (any other CSV file there is a typo)."""

HISTORY_DIR = "history"
HISTORY_DEMAND_FILE = f"{HISTORY_DIR}/demand.csv"
FORECAST_FILE = f"{HISTORY_DIR}/forecast.csv"
DELIVERIES_FILE = f"{HISTORY_DIR}/deliveries.csv"
HISTORY_FILES = ("demand.csv", "forecast.csv", "deliveries.csv")
"""The files ``history/`` may hold (README "From history to a plan")."""

FILE_ORDER = (TOML_FILE, ITEMS_FILE, SUPPLIERS_FILE, SCENARIO_DIR, DEMAND_FILE, SUPPLY_FILE)
FILE_ORDER += (PROBABILITY_FILE, HISTORY_DIR, HISTORY_DEMAND_FILE, FORECAST_FILE, DELIVERIES_FILE)
"""The order in which problems are reported: settings, items, suppliers, scenarios."""

ITEM_REQUIRED = (
    "item",
    "supplier",
    "unit_cost",
    "demand_mean",
    "demand_std",
    "lead_time",
    "stockout_penalty",
)
ITEM_OPTIONAL = (
    "demand_dist",
    "emergency_premium",
    "emergency_capacity",
    "reservation_fee",
    "min_fill_rate",
    "volume",
    "capital_rate",
    "storage_rate",
    "obsolescence_rate",
)
RATE_COLUMNS = ("capital_rate", "storage_rate", "obsolescence_rate")
"""Per-item carrying rates; an empty cell takes the ``[plan]`` rate of the same name."""
TEXT_COLUMNS = frozenset({"item", "supplier", "scenario", "demand_dist"})
"""Known columns that hold names, not numbers (every other known column is numeric)."""
PLAN_COLUMNS = (
    "item",
    "supplier",
    "posture",
    "base_stock",
    "safety_stock",
    "cover_periods",
    "reserved_capacity",
    "expected_fill_rate",
    "target_fill_rate",
    "target_binds",
    "implied_stockout_penalty",
    "avg_on_hand",
    "capital_tied_up",
    "expected_stockout_units",
    "expected_emergency_units",
    "expected_cost",
    "storage_cost",
    "capital_cost",
    "obsolescence_cost",
    "stockout_cost",
    "emergency_cost",
    "reservation_cost",
    "order_up_to",
    "reorder_point",
    "safety_stock_units",
    "safety_stock_periods",
    "unit",
    "currency",
    "explanation",
    "demand_model",
    "demand_class",
    "fit_pvalue",
    "fit_mean",
    "fit_std",
    "forecast_mean",
)
"""Columns ``plan.csv`` may get from stockplan (``optimizer.report.plan_table``, with room
for the ERP fields): an item-master column of ``items.csv`` may not take one of these
names, so the plan can carry it unchanged beside them."""
SUPPLIER_COLUMNS = ("supplier", "disruption_prob", "recovery_prob")
PROBABILITY_COLUMNS = ("scenario", "probability")
