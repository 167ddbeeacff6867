"""Loading an instance folder: :func:`load_instance`, which runs every reader and check.

:func:`load_instance` turns an instance folder (or the path of its ``instance.toml``) into
an immutable :class:`~optimizer.instance.types.Instance`.  It runs every reader —
``instance.toml`` (:mod:`~optimizer.instance.settings`), ``suppliers.csv`` and
``items.csv`` (:mod:`~optimizer.instance.catalogue`), ``scenarios/``
(:mod:`~optimizer.instance.scenario_files`), ``history/``
(:mod:`~optimizer.instance.history_files`) — collects *all* broken rules, then raises a
single :class:`~optimizer.errors.InvalidInstanceError` whose
:class:`~optimizer.errors.InputProblem` entries name the file, the spreadsheet's row number
(header line 1), the item / supplier / scenario and the column or TOML key of each.  A
workbook (``book.xlsx``, README "Excel") holds the same tables as sheets and is read by
:mod:`~optimizer.instance.workbook` through the same readers and rules.

Explicit scenario periods run ``1..W+T`` where ``W`` is ``[plan] warmup`` or, when that is
not given, :attr:`Instance.warmup <optimizer.instance.types.Instance.warmup>` (the rule
lives there); :mod:`~optimizer.instance.limits` checks that horizon and the size of the
program before anything is built.
"""

from __future__ import annotations

import logging
from pathlib import Path

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.catalogue import (
    build_item_master,
    build_items,
    build_suppliers,
    check_plan_against_items,
    read_items,
    read_suppliers,
)
from optimizer.instance.history_files import history_files, read_history
from optimizer.instance.layout import SCENARIO_DIR, TOML_FILE
from optimizer.instance.limits import check_cells, check_horizon
from optimizer.instance.paths import check_paths
from optimizer.instance.problems import Problems
from optimizer.instance.scenario_files import read_explicit
from optimizer.instance.settings import UNKNOWN
from optimizer.instance.sources import FolderTables, Source
from optimizer.instance.types import Instance

logger = logging.getLogger(__name__)


def _locate(path: Path) -> tuple[Path, Path]:
    """Return ``(folder, toml_path)``; raise at once when there is no folder to read.

    Raises
    ------
    InvalidInstanceError
        When neither the folder nor the TOML file's folder exists.
    """
    if path.is_dir():
        return path, path / TOML_FILE
    if path.suffix == ".toml" and path.parent.is_dir():
        return path.parent, path
    if path.is_file():
        rule = "not an instance: give an instance folder or the path of its instance.toml"
    else:
        rule = "instance folder not found: give an instance folder or its instance.toml"
    raise InvalidInstanceError([InputProblem(file=str(path), rule=rule)])


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
"""Suffixes read as a workbook (README, "Excel"); only ``.xlsx`` and ``.xlsm`` are read,
the others are refused with the way to save them."""


def _open(path: Path, *, follow_links: bool) -> Source:
    """Where the instance at ``path`` comes from: its folder, or a workbook.

    Raises
    ------
    InvalidInstanceError
        When there is nothing to read, or a path is refused (:mod:`~optimizer.instance.paths`).
    """
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        from optimizer.instance.workbook import open_workbook

        return open_workbook(path, follow_links=follow_links)
    folder, toml_path = _locate(path)
    refused = check_paths(folder, toml_path, follow_links=follow_links)
    if refused:
        raise InvalidInstanceError(refused)
    return FolderTables(folder, toml_path)


def load_instance(
    path: str | Path, *, follow_links: bool = False, one_machine: bool = True
) -> Instance:
    """Read, validate and type an instance folder (README, "Instance files").

    Parameters
    ----------
    path : str or Path
        The instance folder, the path of its ``instance.toml``, or a workbook ``.xlsx``.
    follow_links : bool
        Read files that are symbolic links leading outside the folder (refused by
        default, before anything is read: :mod:`~optimizer.instance.paths`).
    one_machine : bool
        False when the program is to be solved on a cluster (``solve --cluster``): its
        cells are then not held against this machine's memory and :data:`MAX_CELLS
        <optimizer.instance.schema.MAX_CELLS>` here, but each worker's share once the
        workers are known (:func:`optimizer.instance.limits.check_cluster_share`).

    Returns
    -------
    Instance
        The validated instance; item arrays in ``items.csv`` order, supplier indices in
        ``suppliers.csv`` order, explicit scenarios (when ``scenarios/`` exists) in order of
        first appearance in ``scenarios/demand.csv``.

    Raises
    ------
    InvalidInstanceError
        With every broken rule (file, row, item, column, rule) when anything is wrong.
    """
    tables = _open(Path(path), follow_links=follow_links)
    folder = tables.folder
    problems = Problems()
    settings = tables.settings(problems)
    records = history_files(folder)
    suppliers = read_suppliers(tables, problems, from_records="deliveries.csv" in records)
    from_history = bool(records & {"demand.csv", "forecast.csv"})
    items = read_items(tables, problems, settings, suppliers, from_history=from_history)
    periods = settings.value("periods")
    history = read_history(
        folder, problems, settings, items, suppliers, None if periods is UNKNOWN else periods
    )
    check_plan_against_items(settings, items, problems)
    horizon, why = check_horizon(settings, items, suppliers, problems)
    explicit = None
    if tables.exists(SCENARIO_DIR):
        item_names = items.names if items is not None else None
        supplier_names = suppliers.names if suppliers is not None else None
        explicit = read_explicit(tables, problems, horizon, item_names, supplier_names)
    n_explicit = len(explicit.names) if explicit is not None else None
    n_items = len(items.ids) if items is not None else None
    if tables.exists(SCENARIO_DIR) and explicit is None:
        n_items = None  # the scenario count is unknown: its files are broken
    check_cells(settings, n_items, horizon, n_explicit, problems, why, items, one_machine)
    if problems.found:
        logger.debug("%s: %d problem(s)", folder, len(problems.found))
        raise InvalidInstanceError(tables.relabel(problems.in_file_order()))
    assert items is not None and suppliers is not None  # no problems: both were read
    instance = Instance(
        name=settings.name or tables.default_name,
        description=settings.description,
        plan=settings.plan,
        items=build_items(items, settings),
        suppliers=build_suppliers(suppliers),
        black_swan=settings.black_swan,
        risk=settings.risk,
        explicit=explicit,
        source=tables.origin,
        item_master=build_item_master(items),
        history=history,
    )
    logger.info(
        "loaded instance %r from %s: %d items, %d suppliers%s",
        instance.name,
        tables.origin,
        len(instance.items),
        len(instance.suppliers),
        f", {len(explicit.names)} explicit scenarios" if explicit is not None else "",
    )
    return instance
