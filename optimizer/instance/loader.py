"""Loading an instance folder: :func:`load_instance`, and the horizon it checks against.

:func:`load_instance` turns an instance folder (or the path of its ``instance.toml``) into
an immutable :class:`~optimizer.instance.types.Instance`.  It runs every reader —
``instance.toml`` (:mod:`~optimizer.instance.settings`), ``suppliers.csv`` and
``items.csv`` (:mod:`~optimizer.instance.catalogue`), ``scenarios/``
(:mod:`~optimizer.instance.scenario_files`) — collects *all* broken rules, then raises a
single :class:`~optimizer.errors.InvalidInstanceError` whose
:class:`~optimizer.errors.InputProblem` entries name the file, the 1-based data row
(header excluded), the item / supplier / scenario and the column or TOML key of each.

Explicit scenario periods run ``1..W+T`` where ``W`` is ``[plan] warmup`` or, when that is
not given, :attr:`Instance.warmup <optimizer.instance.types.Instance.warmup>` (the rule
lives there; :func:`default_warmup` asks it).
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance.catalogue import (
    ItemDraft,
    SupplierDraft,
    build_items,
    build_suppliers,
    check_plan_against_items,
    read_items,
    read_suppliers,
)
from optimizer.instance.layout import SCENARIO_DIR, TOML_FILE
from optimizer.instance.problems import Problems
from optimizer.instance.scenario_files import Horizon, read_explicit
from optimizer.instance.schema import PlanSettings
from optimizer.instance.settings import UNKNOWN, Settings, read_settings
from optimizer.instance.types import Instance, Items

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


def default_warmup(items: ItemDraft | None, suppliers: SupplierDraft | None) -> int | None:
    """:attr:`Instance.warmup` when ``[plan] warmup`` is not given; None if not computable.

    The rule lives in :class:`~optimizer.instance.types.Instance` (one source of truth); it is
    asked on a probe instance that carries only lead times and the supplier chains.
    """
    if items is None or suppliers is None or len(items.ids) == 0:
        return None
    lead, codes = items["lead_time"], items.supplier
    chains = np.concatenate([suppliers.disruption_prob, suppliers.recovery_prob])
    if not (np.isfinite(lead).all() and (codes >= 0).all() and np.isfinite(chains).all()):
        return None
    n = len(lead)
    probe_items = Items(**{f.name: np.zeros(n) for f in fields(Items)})
    probe_items = replace(probe_items, lead_time=lead.astype(int), supplier=codes.astype(int))
    probe = Instance(
        name="",
        description="",
        plan=PlanSettings(warmup=None),
        items=probe_items,
        suppliers=build_suppliers(suppliers),
    )
    return probe.warmup


def scenario_horizon(
    settings: Settings, items: ItemDraft | None, suppliers: SupplierDraft | None
) -> Horizon | None:
    """Find the scenario horizon, or None when settings, lead times or suppliers are unknown."""
    periods, warmup = settings.value("periods"), settings.value("warmup")
    if periods is UNKNOWN or warmup is UNKNOWN:
        return None
    if warmup is None:
        warmup = default_warmup(items, suppliers)
        if warmup is None:
            return None
    return Horizon(warmup=int(warmup), periods=int(periods))


def load_instance(path: str | Path) -> Instance:
    """Read, validate and type an instance folder (README, "Instance files").

    Parameters
    ----------
    path : str or Path
        The instance folder, or the path of its ``instance.toml``.

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
    folder, toml_path = _locate(Path(path))
    problems = Problems()
    settings = read_settings(toml_path, problems)
    suppliers = read_suppliers(folder, problems)
    items = read_items(folder, problems, settings, suppliers)
    check_plan_against_items(settings, items, problems)
    explicit = None
    if (folder / SCENARIO_DIR).exists():
        horizon = scenario_horizon(settings, items, suppliers)
        item_names = items.names if items is not None else None
        supplier_names = suppliers.names if suppliers is not None else None
        explicit = read_explicit(folder, problems, horizon, item_names, supplier_names)
    if problems.found:
        logger.debug("%s: %d problem(s)", folder, len(problems.found))
        raise InvalidInstanceError(problems.in_file_order())
    assert items is not None and suppliers is not None  # no problems: both were read
    instance = Instance(
        name=settings.name or folder.resolve().name,
        description=settings.description,
        plan=settings.plan,
        items=build_items(items, settings),
        suppliers=build_suppliers(suppliers),
        black_swan=settings.black_swan,
        risk=settings.risk,
        explicit=explicit,
        source=str(toml_path),
    )
    logger.info(
        "loaded instance %r from %s: %d items, %d suppliers%s",
        instance.name,
        toml_path,
        len(instance.items),
        len(instance.suppliers),
        f", {len(explicit.names)} explicit scenarios" if explicit is not None else "",
    )
    return instance
