"""Explicit scenarios: ``scenarios/demand.csv``, ``supply.csv`` and ``probability.csv``.

:func:`read_explicit` reads the long tables (one row per scenario, period and item or
supplier), checks every row against the items, suppliers and the horizon and returns the
dense :class:`~optimizer.instance.types.ExplicitScenarios`.  Periods run ``1..W+T``
(:class:`Horizon`); messages about periods state the range and its split.  Scenarios
are ordered by first appearance in ``demand.csv``; supply is all up when ``supply.csv``
is absent, probabilities equal when ``probability.csv`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import quoted
from optimizer.instance.layout import (
    DEMAND_FILE,
    ITEMS_FILE,
    PROBABILITY_COLUMNS,
    PROBABILITY_FILE,
    SCENARIO_DIR,
    SCENARIO_FILES,
    SUPPLIERS_FILE,
    SUPPLY_FILE,
)
from optimizer.instance.problems import (
    MISSING_EXAMPLES,
    Problems,
    fmt,
    plural_rows,
    report_rows,
)
from optimizer.instance.sources import FolderTables, Source
from optimizer.instance.tables import (
    FRACTION,
    NONNEG,
    Check,
    Table,
    check_ids,
    name_codes,
    numbers,
    read_csv,
    report_control,
    report_unknown,
    unique_names,
)
from optimizer.instance.types import ExplicitScenarios

PROBABILITY_TOLERANCE = 1e-6
"""How far the scenario probabilities may sum from 1."""


@dataclass(frozen=True)
class Horizon:
    """Warm-up and costed periods; scenario periods run ``1..total``.

    Attributes
    ----------
    warmup : int
        :math:`W`, ``[plan] warmup`` or its default.
    periods : int
        :math:`T`, the costed periods.
    """

    warmup: int
    periods: int

    @property
    def total(self) -> int:
        """:math:`H = W + T`."""
        return self.warmup + self.periods

    def describe(self) -> str:
        """Describe the period range and its split, for messages."""
        return f"1..{self.total} (warm-up {self.warmup} + {self.periods} costed periods)"


@dataclass(frozen=True)
class _LongSpec:
    """Shape of a long scenario table ``scenario, period, <entity>, <value>``."""

    file: str
    entity: str
    value: str
    noun: str
    purpose: str


def _read_long(
    folder: Source,
    spec: _LongSpec,
    problems: Problems,
    *,
    entities: list[str] | None,
    horizon: Horizon | None,
    scenarios: list[str] | None,
    parse_value: Callable[[Table, Problems], np.ndarray],
) -> tuple[list[str], np.ndarray] | None:
    """Read ``demand.csv`` or ``supply.csv``.

    Parameters
    ----------
    entities : list of str or None
        Known items / suppliers (None: unknown, skip those checks).
    scenarios : list of str or None
        Known scenarios; None for ``demand.csv``, which defines them (first appearance).
    parse_value : callable
        Parses and checks the value column.

    Returns
    -------
    (scenario names, array of shape (n_entities, n_scenarios, horizon)) or None when the
    file or what it refers to cannot be read.
    """
    columns = ("scenario", "period", spec.entity, spec.value)
    table = read_csv(folder, spec.file, problems, required=columns, purpose=spec.purpose)
    if table is None:
        return None
    entity_text = table.text(spec.entity)
    table.labels = [str(s) or None for s in entity_text]
    scen_text = table.text("scenario")
    if table.has("scenario"):
        report_rows(problems, table, scen_text == "", "scenario", lambda r: "scenario is empty")
    if table.has(spec.entity):
        report_rows(
            problems, table, entity_text == "", spec.entity, lambda r: f"{spec.entity} is empty"
        )
        report_control(problems, table, entity_text, spec.entity, spec.entity)
    if table.has("scenario"):
        report_control(problems, table, scen_text, "scenario", "scenario")
    if scenarios is None:
        scenarios = unique_names(scen_text)
    else:
        report_unknown(
            problems,
            table,
            "scenario",
            scen_text,
            name_codes(scen_text, scenarios),
            lambda name, n: f"scenario {quoted(name)} is not in {DEMAND_FILE} ({plural_rows(n)})",
        )
    period_check = Check(lambda v: v >= 1, "must be 1 or more")
    if horizon is not None:
        period_check = Check(
            lambda v: (v >= 1) & (v <= horizon.total), f"must be in {horizon.describe()}"
        )
    period = numbers(
        table,
        "period",
        problems,
        required=True,
        check=period_check,
        integer_rule="must be a whole number",
    )
    value = parse_value(table, problems)
    if entities is not None:
        entity_codes = name_codes(entity_text, entities)
        source = ITEMS_FILE if spec.entity == "item" else SUPPLIERS_FILE
        report_unknown(
            problems,
            table,
            spec.entity,
            entity_text,
            entity_codes,
            lambda name, n: (
                f"unknown {spec.entity} {quoted(name)}: not in {source} ({plural_rows(n)})"
            ),
        )
    else:
        entity_codes = np.full(len(table), -1)
    scen_codes = name_codes(scen_text, scenarios)
    keyed = (scen_codes >= 0) & np.isfinite(period) & (entity_codes >= 0)
    _report_duplicates(table, spec, problems, keyed, scen_text, period, entity_text)
    if entities is None or horizon is None or not all(table.has(c) for c in columns):
        return None
    p = np.where(keyed, period, 1).astype(int) - 1
    present = np.zeros((len(scenarios), horizon.total, len(entities)), dtype=bool)
    present[scen_codes[keyed], p[keyed], entity_codes[keyed]] = True
    _report_missing(spec, problems, present, scenarios, entities, horizon)
    array = np.full((len(entities), len(scenarios), horizon.total), np.nan)
    array[entity_codes[keyed], scen_codes[keyed], p[keyed]] = value[keyed]
    return scenarios, array


def _report_duplicates(
    table: Table,
    spec: _LongSpec,
    problems: Problems,
    keyed: np.ndarray,
    scen_text: np.ndarray,
    period: np.ndarray,
    entity_text: np.ndarray,
) -> None:
    """Rows repeating a (scenario, period, entity) combination."""
    keys = pd.DataFrame({"s": scen_text, "p": period, "e": entity_text})[keyed]
    if keys.empty:
        return
    first = keys.index.to_series().groupby([keys["s"], keys["p"], keys["e"]], sort=False)
    first_row = first.transform("min")
    duplicate = np.zeros(len(table), dtype=bool)
    duplicate[keys.index[keys.duplicated().to_numpy()]] = True
    first_of = np.zeros(len(table), dtype=int)
    first_of[keys.index] = first_row.to_numpy()
    first_line = table.lines[first_of] if table.lines is not None else first_of + 2
    report_rows(
        problems,
        table,
        duplicate,
        spec.entity,
        lambda r: (
            f"duplicate row for scenario {quoted(scen_text[r])}, period {int(period[r])}, "
            f"{spec.entity} {quoted(entity_text[r])}; it is first given in row {first_line[r]}"
        ),
    )


def _report_missing(
    spec: _LongSpec,
    problems: Problems,
    present: np.ndarray,
    scenarios: list[str],
    entities: list[str],
    horizon: Horizon,
) -> None:
    """One problem listing the count and the first missing combinations."""
    missing = np.argwhere(~present)
    if len(missing) == 0:
        return
    examples = ", ".join(
        f"({scenarios[s]}, {p + 1}, {entities[e]})" for s, p, e in missing[:MISSING_EXAMPLES]
    )
    more = ", ..." if len(missing) > MISSING_EXAMPLES else ""
    problems.add(
        spec.file,
        f"missing {spec.noun} for {len(missing)} (scenario, period, {spec.entity}) "
        f"combination(s): {examples}{more}; every scenario needs a row for every "
        f"{spec.entity} in every period {horizon.describe()}",
        column=spec.entity,
    )


def _demand_values(table: Table, problems: Problems) -> np.ndarray:
    return numbers(table, "demand", problems, required=True, check=NONNEG)


def _up_values(table: Table, problems: Problems) -> np.ndarray:
    return numbers(
        table,
        "up",
        problems,
        required=True,
        check=Check(lambda v: (v == 0) | (v == 1), "must be 0 (down) or 1 (up)"),
    )


_DEMAND_SPEC = _LongSpec(
    DEMAND_FILE,
    "item",
    "demand",
    "demand",
    "scenario, period, item, demand: one row per scenario, period and item",
)
_SUPPLY_SPEC = _LongSpec(
    SUPPLY_FILE,
    "supplier",
    "up",
    "supply state",
    "scenario, period, supplier, up: one row per scenario, period and supplier",
)


def _read_probability(
    folder: Source, problems: Problems, scenarios: list[str] | None
) -> np.ndarray | None:
    """Scenario probabilities (equal when ``probability.csv`` is absent)."""
    if not folder.exists(PROBABILITY_FILE):
        return np.full(len(scenarios), 1.0 / len(scenarios)) if scenarios else None
    table = read_csv(
        folder,
        PROBABILITY_FILE,
        problems,
        required=PROBABILITY_COLUMNS,
        purpose="scenario, probability: one row per scenario",
    )
    if table is None:
        return None
    names = check_ids(table, "scenario", problems, "scenario")
    prob = numbers(table, "probability", problems, required=True, check=FRACTION)
    if scenarios is None or not table.has("scenario"):
        return None
    codes = name_codes(names, scenarios)
    report_unknown(
        problems,
        table,
        "scenario",
        names,
        codes,
        lambda name, n: f"scenario {quoted(name)} is not in {DEMAND_FILE}",
    )
    absent = [s for s in scenarios if s not in set(names)]
    if absent:
        shown = ", ".join(repr(s) for s in absent[:MISSING_EXAMPLES])
        problems.add(
            PROBABILITY_FILE,
            f"{len(absent)} scenario(s) of {DEMAND_FILE} have no probability: {shown}"
            f"{', ...' if len(absent) > MISSING_EXAMPLES else ''}",
            column="scenario",
        )
    if np.isfinite(prob).all() and not absent:
        total = float(prob.sum())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            problems.add(
                PROBABILITY_FILE,
                f"probabilities sum to {fmt(total)}, not 1 (tolerance {PROBABILITY_TOLERANCE:g})",
                column="probability",
            )
    result = np.zeros(len(scenarios))
    known = codes >= 0
    result[codes[known]] = prob[known]
    return result


def read_explicit(
    folder: Path | Source,
    problems: Problems,
    horizon: Horizon | None,
    items: list[str] | None,
    suppliers: list[str] | None,
) -> ExplicitScenarios | None:
    """Read ``scenarios/``; None when it cannot be built (problems are then recorded).

    Parameters
    ----------
    horizon : Horizon or None
        The periods the scenarios must cover; None when the settings or the tables it
        depends on are broken (the period range is then not checked).
    items, suppliers : list of str or None
        Names of the valid items / suppliers; None when their file is unusable.
    """
    if isinstance(folder, Path):
        folder = FolderTables(folder)
    if not folder.check_folder(SCENARIO_DIR, SCENARIO_FILES, problems):
        return None
    demand = _read_long(
        folder,
        _DEMAND_SPEC,
        problems,
        entities=items or None,
        horizon=horizon,
        scenarios=None,
        parse_value=_demand_values,
    )
    scenarios = (demand[0] or None) if demand is not None else None
    supplier_names = suppliers or None
    supply: tuple[list[str], np.ndarray] | None = None
    if folder.exists(SUPPLY_FILE):
        supply = _read_long(
            folder,
            _SUPPLY_SPEC,
            problems,
            entities=supplier_names,
            horizon=horizon,
            scenarios=scenarios,
            parse_value=_up_values,
        )
    probability = _read_probability(folder, problems, scenarios)
    if demand is None or probability is None or supplier_names is None or horizon is None:
        return None
    if supply is None:
        up = np.ones((len(supplier_names), len(scenarios), horizon.total), dtype=bool)
    else:
        up = supply[1] == 1
    return ExplicitScenarios(
        demand=demand[1],
        supplier_up=up,
        probability=probability,
        names=np.array(scenarios, dtype=str),
    )
