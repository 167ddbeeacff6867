"""The tree is the pipeline: imports only go downstream and no module imports itself back.

Layers, upstream first (README "Code map"): errors, history (laws estimated from records,
pure statistics), instance (files -> validated instance),
scenarios, program (the program's numbers and numpy semantics), models (Pyomo), engines,
report (plan tables), analysis (diagnostics, policies, comparison), planning_cluster (a
solve's stages on a cluster), planning (one solve end to end), cli. A module may import its
own layer and any layer above it, never one below; the import graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = (
    "optimizer.errors",
    "optimizer.history",
    "optimizer.instance",
    "optimizer.scenarios",
    "optimizer.program",
    "models",
    "optimizer.engines",
    "optimizer.report",
    "optimizer.analysis",
    "optimizer.planning_cluster",
    "optimizer.planning",
    "optimizer.cli",
)
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("optimizer", "models"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str) -> set[str]:
    """Project modules imported anywhere in the file (lazy imports inside functions too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] in ("optimizer", "models")}


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def _layer(name: str) -> int:
    best = -1
    for k, prefix in enumerate(LAYERS):
        if name == prefix or name.startswith(prefix + "."):
            best = k
    return best


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = {_resolve(t, modules) for t in _imports(path, name)}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def test_every_module_has_a_layer():
    missing = [m for m in _modules() if m not in ("optimizer", "models") and _layer(m) < 0]
    assert not missing, f"modules outside every layer: {missing}"


def test_imports_only_go_downstream():
    upward = [
        f"{src} imports {dst}"
        for src, targets in _graph().items()
        for dst in targets
        if _layer(src) >= 0 and _layer(dst) > _layer(src)
    ]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in ("optimizer", "models"):
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_stay_small(name):
    lines = len(_modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (keep modules under {MAX_LINES})"
