"""Instance folders for the tests of :mod:`optimizer.instance`, written one mutation at a time.

:class:`Case` is a small valid instance (three items, two suppliers) that a test mutates
one cell or key at a time before writing it to ``tmp_path``; :func:`problems_of`,
:func:`only_problem`, :func:`check` and :func:`find` assert what ``load_instance`` reports.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from optimizer.errors import InputProblem, InvalidInstanceError
from optimizer.instance import Instance, Items, Suppliers, load_instance

INSTANCES = Path(__file__).resolve().parents[1] / "instances"


BASE_TOML: dict[str, Any] = {
    "name": "tiny",
    "description": "three items, two suppliers",
    "plan": {
        "periods": 3,
        "periods_per_year": 52,
        "scenarios": 10,
        "seed": 1,
        "shortage": "lost_sales",
        "capital_rate": 0.10,
        "storage_rate": 0.12,
        "obsolescence_rate": 0.05,
    },
}

BASE_ITEMS: list[dict[str, str]] = [
    {
        "item": "A",
        "supplier": "near",
        "unit_cost": "10",
        "demand_mean": "20",
        "demand_std": "5",
        "lead_time": "1",
        "stockout_penalty": "8",
    },
    {
        "item": "B",
        "supplier": "far",
        "unit_cost": "100",
        "demand_mean": "4",
        "demand_std": "2",
        "lead_time": "2",
        "stockout_penalty": "60",
    },
    {
        "item": "C",
        "supplier": "near",
        "unit_cost": "2",
        "demand_mean": "50",
        "demand_std": "10",
        "lead_time": "0",
        "stockout_penalty": "1",
    },
]

BASE_SUPPLIERS: list[dict[str, str]] = [
    {"supplier": "near", "disruption_prob": "0.01", "recovery_prob": "0.5"},
    {"supplier": "far", "disruption_prob": "0.05", "recovery_prob": "0.25"},
]

# pipeline value sum(c * L * mu) = 10*1*20 + 100*2*4 + 2*0*50
PIPELINE_VALUE = 1000.0


def to_toml(data: dict[str, Any]) -> str:
    """TOML text of test data (any value TOML can hold, also invalid settings)."""
    return tomli_w.dumps(data)


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    """Write dict rows as CSV; columns default to the union of keys in order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Case:
    """A valid instance to mutate, then :meth:`write` to ``root``."""

    root: Path
    toml: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(BASE_TOML))
    items: list[dict[str, str]] = field(default_factory=lambda: copy.deepcopy(BASE_ITEMS))
    suppliers: list[dict[str, str]] = field(default_factory=lambda: copy.deepcopy(BASE_SUPPLIERS))
    scenarios: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def plan(self) -> dict[str, Any]:
        return self.toml["plan"]

    def cell(self, row: int, column: str, value: str, table: str = "items") -> Case:
        """Set the cell of 1-based data ``row``; a new column is added empty elsewhere."""
        rows = self.items if table == "items" else self.suppliers
        for r in rows:
            r.setdefault(column, "")
        rows[row - 1][column] = value
        return self

    def drop(self, column: str, table: str = "items") -> Case:
        for r in self.items if table == "items" else self.suppliers:
            r.pop(column, None)
        return self

    def write(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "instance.toml").write_text(to_toml(self.toml), encoding="utf-8")
        write_rows(self.root / "items.csv", self.items)
        write_rows(self.root / "suppliers.csv", self.suppliers)
        for name, rows in self.scenarios.items():
            write_rows(self.root / "scenarios" / name, rows)
        return self.root


def explicit_case(case: Case) -> Case:
    """``case`` with warm-up 2 and complete demand for scenarios ``high`` and ``low``."""
    case.plan["warmup"] = 2
    case.scenarios["demand.csv"] = demand_rows(["high", "low"])
    return case


def problems_of(path: Path) -> list[InputProblem]:
    """Problems raised by :func:`load_instance` (fails when it loads)."""
    with pytest.raises(InvalidInstanceError) as info:
        load_instance(path)
    assert info.value.problems, "InvalidInstanceError without problems"
    return info.value.problems


def only_problem(path: Path) -> InputProblem:
    """The one problem of ``path``; fails when there are none or several."""
    found = problems_of(path)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def check(
    problem: InputProblem,
    file: str,
    *,
    row: int | None = None,
    item: str | None = None,
    column: str | None = None,
    words: tuple[str, ...] = (),
) -> None:
    """Assert the location of ``problem`` and that its rule contains ``words``."""
    assert problem.file == file, str(problem)
    assert problem.row == row, str(problem)
    assert problem.item == item, str(problem)
    assert problem.column == column, str(problem)
    for word in words:
        assert word.lower() in problem.rule.lower(), f"{word!r} not in {problem}"


def find(found: list[InputProblem], file: str, column: str | None, word: str) -> InputProblem:
    """The problem of ``file`` / ``column`` whose rule contains ``word``."""
    hits = [p for p in found if p.file == file and p.column == column and word in p.rule]
    assert hits, f"no {file}/{column} problem with {word!r} in:\n" + "\n".join(map(str, found))
    return hits[0]


HORIZON = 5  # warmup 2 + periods 3
# warmup 2 + periods 3


def demand_rows(scenarios: list[str], horizon: int = HORIZON) -> list[dict[str, str]]:
    """Complete demand rows: demand = 100*scenario index + 10*period + item index."""
    return [
        {"scenario": s, "period": str(t), "item": item, "demand": str(100 * k + 10 * t + i)}
        for k, s in enumerate(scenarios)
        for t in range(1, horizon + 1)
        for i, item in enumerate(["A", "B", "C"])
    ]


def supply_rows(scenarios: list[str], down: set[tuple[str, int, str]]) -> list[dict[str, str]]:
    return [
        {
            "scenario": s,
            "period": str(t),
            "supplier": sup,
            "up": "0" if (s, t, sup) in down else "1",
        }
        for s in scenarios
        for t in range(1, HORIZON + 1)
        for sup in ["near", "far"]
    ]


def assert_same_instance(a: Instance, b: Instance) -> None:
    """Every field equal (``nan`` equal to ``nan``), except ``source``."""
    assert (a.name, a.description) == (b.name, b.description)
    assert a.plan == b.plan and a.black_swan == b.black_swan and a.risk == b.risk
    for part, cls in ((a.items, Items), (a.suppliers, Suppliers)):
        other = b.items if cls is Items else b.suppliers
        for f in fields(cls):
            x, y = getattr(part, f.name), getattr(other, f.name)
            assert x.dtype.kind == y.dtype.kind, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
    assert (a.explicit is None) == (b.explicit is None)
    if a.explicit is not None and b.explicit is not None:
        for f in fields(a.explicit):
            np.testing.assert_array_equal(getattr(a.explicit, f.name), getattr(b.explicit, f.name))
