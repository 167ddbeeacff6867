"""Files → validated instance: the instance's types, reading and writing its folder.

Everything downstream works on :class:`Instance` only and never reads a file.
"""

from optimizer.instance.io import load_instance, write_instance
from optimizer.instance.types import (
    DEMAND_FAMILIES,
    BlackSwan,
    ExplicitScenarios,
    Instance,
    Items,
    PlanSettings,
    RiskSettings,
    Suppliers,
)

__all__ = [
    "DEMAND_FAMILIES",
    "BlackSwan",
    "ExplicitScenarios",
    "Instance",
    "Items",
    "PlanSettings",
    "RiskSettings",
    "Suppliers",
    "load_instance",
    "write_instance",
]
