"""Tests of :mod:`optimizer.instance.schema`: one home for the defaults and bounds.

The settings dataclasses are the schema: their defaults are the defaults a parsed
``instance.toml`` gets, the strict file tables are derived from them, and no other module
of :mod:`optimizer.instance` repeats a default.  Built in code they validate leniently;
read from a file, strictly, with every broken rule reported at once.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import optimizer.instance as instance_package
from optimizer.instance import BlackSwan, PlanSettings, RiskSettings, load_instance, types
from optimizer.instance.schema import TABLES, InstanceFile, bounds_rule
from tests.factories import make_instance
from tests.instance_cases import Case, problems_of

SETTINGS = {"plan": PlanSettings, "black_swan": BlackSwan, "risk": RiskSettings}
PACKAGE = Path(instance_package.__file__).parent


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path / "tiny")


def schema_defaults(settings: type) -> dict[str, Any]:
    """Field -> default of a settings dataclass, read from its pydantic fields."""
    return {
        name: info.default
        for name, info in settings.__pydantic_fields__.items()  # type: ignore[attr-defined]
        if not info.is_required()
    }


# --------------------------------------------------------------------------------------
# defaults live in the schema only
# --------------------------------------------------------------------------------------


def test_minimal_toml_gets_every_schema_default(case: Case) -> None:
    case.toml = {"black_swan": {"probability": 0.1, "duration": 2}}  # only required keys
    inst = load_instance(case.write())
    parsed = {"plan": inst.plan, "black_swan": inst.black_swan, "risk": inst.risk}
    for table, settings in SETTINGS.items():
        defaults = schema_defaults(settings)
        assert defaults, table
        for name, default in defaults.items():
            assert getattr(parsed[table], name) == default, f"{table}.{name}"
    assert inst.plan == PlanSettings() and inst.risk == RiskSettings()
    assert inst.name == "tiny" and inst.description == InstanceFile().description == ""


def test_settings_types_are_the_schema_and_its_file_tables_derive_from_it() -> None:
    assert (types.PlanSettings, types.BlackSwan, types.RiskSettings) == tuple(SETTINGS.values())
    for table, settings in SETTINGS.items():
        model = TABLES[table]
        file_fields = model.model_fields
        assert list(file_fields) == [f.name for f in dataclasses.fields(settings)]
        for name, info in settings.__pydantic_fields__.items():
            assert file_fields[name].default == info.default, f"{table}.{name}"
            assert file_fields[name].metadata == info.metadata, f"{table}.{name}"
    assert InstanceFile().plan.model_dump() == dataclasses.asdict(PlanSettings())


def _constants(node: ast.AST) -> list[Any]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)]


def _repeated_defaults(path: Path) -> list[str]:
    """Literal copies of a schema default given to a setting of the same name in ``path``."""
    defaults = {
        name: value
        for settings in SETTINGS.values()
        for name, value in schema_defaults(settings).items()
        if value is not None
    }
    found: list[str] = []

    def flag(name: str, value_node: ast.AST, line: int) -> None:
        if name in defaults:
            for constant in _constants(value_node):
                if type(constant) is type(defaults[name]) and constant == defaults[name]:
                    found.append(f"{path.name}:{line}: {name} = {constant!r}")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.keyword) and node.arg is not None:
            flag(node.arg, node.value, node.value.lineno)
        elif isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            for target in targets:
                if isinstance(target, ast.Name):
                    flag(target.id, node.value, node.lineno)
        elif isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args]
            pairs = list(
                zip(positional[len(positional) - len(node.defaults) :], node.defaults, strict=True)
            )
            pairs += [
                (a, d)
                for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True)
                if d is not None
            ]
            for arg, default in pairs:
                flag(arg.arg, default, default.lineno)
    return found


def test_no_module_but_the_schema_repeats_a_default() -> None:
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name != "schema.py")
    assert len(modules) >= 8
    found = [hit for path in modules for hit in _repeated_defaults(path)]
    assert not found, "\n".join(found)


def test_the_default_scan_finds_a_copy(tmp_path: Path) -> None:
    copy = tmp_path / "copy.py"
    copy.write_text(
        "def f(scenarios: int = 200, shortage='lost_sales'):\n"
        "    return g(storage_rate=np.full(3, 0.12), seed=7)\n",
        encoding="utf-8",
    )
    assert len(_repeated_defaults(copy)) == 3


# --------------------------------------------------------------------------------------
# lenient in code, strict in files
# --------------------------------------------------------------------------------------


def test_settings_built_in_code_are_validated_and_coerced() -> None:
    plan = PlanSettings(periods=np.int64(4), periods_per_year=52)
    assert type(plan.periods) is int and type(plan.periods_per_year) is float
    assert dataclasses.replace(plan, seed=7).seed == 7 and plan.seed == PlanSettings().seed
    with pytest.raises(ValidationError, match="greater than 0"):
        dataclasses.replace(plan, scenarios=0)
    with pytest.raises(ValidationError):
        PlanSettings(perods=3)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.seed = 3  # type: ignore[misc]
    assert BlackSwan(0.2, 2) == BlackSwan(probability=0.2, duration=2, demand_multiplier=1.0)


def test_with_plan_validates_the_changes() -> None:
    inst = make_instance()
    assert inst.with_plan(scenarios=7, seed=np.int64(5)).plan.seed == 5
    with pytest.raises(ValidationError, match="shortage"):
        inst.with_plan(shortage="lost")


@pytest.mark.parametrize(
    ("settings", "name", "words"),
    [
        (PlanSettings, "periods", "must be greater than 0 and at most 5000"),
        (PlanSettings, "capital_rate", "must be 0 or between 1e-06 and 100"),
        (PlanSettings, "seed", "must be 0 or more"),
        (PlanSettings, "shortage", ""),
        (BlackSwan, "probability", "must be between 0 and 1"),
        (BlackSwan, "duration", "must be between 1 and 5000"),
        (RiskSettings, "cvar_alpha", "must be at least 0 and below 1"),
    ],
)
def test_bounds_in_words(settings: type, name: str, words: str) -> None:
    assert bounds_rule(settings.__pydantic_fields__[name]) == words


def test_every_bad_key_of_a_toml_is_reported_at_once(case: Case) -> None:
    case.toml["nme"] = "typo"
    case.toml["name"] = ""
    case.plan.update(periods=0, seed=True, perods=13, shortage="lost", warmup=2.5)
    case.toml["black_swan"] = {"duration": 0}
    case.toml["risk"] = {"cvar_alpha": 1.0, "cvar_weight": "high"}
    found = problems_of(case.write())
    assert all(p.file == "instance.toml" for p in found)
    expected = {
        "nme": "unknown key 'nme' in the top level (did you mean 'name'?)",
        "name": "name must not be empty",
        "plan.periods": "periods must be greater than 0 and at most 5000, got 0",
        "plan.seed": "seed must be a whole number, got true (true/false)",
        "plan.perods": "unknown key 'perods' in [plan] (did you mean 'periods'?)",
        "plan.shortage": "shortage must be 'lost_sales' or 'backorder'",
        "plan.warmup": "warmup must be a whole number, got 2.5 (decimal number)",
        "black_swan.duration": "duration must be between 1 and 5000, got 0",
        "black_swan.probability": "missing key: [black_swan] needs probability",
        "risk.cvar_alpha": "cvar_alpha must be at least 0 and below 1, got 1.0",
        "risk.cvar_weight": 'cvar_weight must be a number, got "high" (text)',
    }
    assert sorted(p.column for p in found) == sorted(expected), "\n".join(map(str, found))
    for p in found:
        assert p.rule.startswith(expected[p.column]), str(p)
    # in the order of the file: top level, then [plan], then the other tables
    order = [p.column for p in found]
    assert order.index("nme") < order.index("plan.periods") < order.index("plan.perods")
    assert order.index("plan.warmup") < order.index("black_swan.duration")
