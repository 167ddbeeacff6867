"""Files → validated instance: the instance's types, reading and writing its folder.

Everything downstream works on :class:`Instance` only and never reads a file.  The folder
format is the README's "Instance files" section.  Modules:

* :mod:`~optimizer.instance.types` — :class:`Instance` and its parts;
* :mod:`~optimizer.instance.schema` — the ``instance.toml`` schema (defaults and bounds);
* :mod:`~optimizer.instance.settings` — reading ``instance.toml`` against it;
* :mod:`~optimizer.instance.sources` — where the tables come from (a folder or a workbook);
* :mod:`~optimizer.instance.grids` — CSV files as spreadsheets write them (separators,
  BOM, spreadsheet line numbers);
* :mod:`~optimizer.instance.notation` — decimal commas, thousands separators refused;
* :mod:`~optimizer.instance.tables` — tables from grids, vectorised column checks;
* :mod:`~optimizer.instance.workbook` — an instance as one ``.xlsx`` workbook (README "Excel");
* :mod:`~optimizer.instance.catalogue` — the rules of ``items.csv`` and ``suppliers.csv``;
* :mod:`~optimizer.instance.scenario_files` — explicit scenarios;
* :mod:`~optimizer.instance.paths` — where the folder's files may lead (no links outside);
* :mod:`~optimizer.instance.limits` — the horizon and the size of the program;
* :mod:`~optimizer.instance.loader` — :func:`load_instance`;
* :mod:`~optimizer.instance.writer` — :func:`write_instance`;
* :mod:`~optimizer.instance.plan_file` — reading a plan CSV back;
* :mod:`~optimizer.instance.generator` — synthetic instances.
"""

from optimizer.instance.loader import load_instance
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
from optimizer.instance.writer import write_instance

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
