"""The package's floor plan is a rule: a module imports only from its own floor or below, and no import circles.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``. docs/architecture.md
says which folder holds which stage; this table is the same plan as data.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layercfg"

# Floor of each top-level name under layercfg/ (a module, or a folder and everything in it).
FLOORS = {
    "exceptions": 0,
    "_model": 1,
    "_secrets": 1,
    "_schema": 1,
    "_services": 1,
    "_fieldtable": 1,
    "_provenance": 1,
    "_ports": 1,
    "_words": 1,
    "_testenv": 1,
    "_sources": 2,
    "_resolve": 3,
    "_precedence": 4,
    "_load": 4,
    "_views": 5,
    "_doctor": 6,
    "_explainer": 6,
    "_lifecycle": 6,
    "_scan": 6,
    "testing": 7,
    "_plugin": 8,
    "pytest_plugin": 8,
    "cli": 8,
    "__main__": 8,
    "__init__": 8,
}

# Edges that break the rule today, each to be removed by the move that fixes it (the list only shrinks).
ALLOWED = {
    ("exceptions", "_provenance"),
}

# The one back edge the rule allows: an error record names the Origin it carries, for type checkers only.
TYPE_ONLY = {("exceptions", "_model.provenance")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module of the package ``path`` imports, with its line: top level, in functions, under TYPE_CHECKING."""
    me = _module_name(path)
    here = [] if me == "__init__" else me.split(".")
    if not _is_package(path):
        here = here[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "layercfg" or alias.name.startswith("layercfg."):
                    yield alias.name.removeprefix("layercfg").lstrip(".") or "__init__", node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == "layercfg" or (node.module or "").startswith("layercfg."):
                target = (node.module or "").removeprefix("layercfg").lstrip(".")
            else:
                continue
            for alias in node.names:  # `from . import name` may name a module
                submodule = f"{target}.{alias.name}" if target else alias.name
                yield (submodule if _exists(submodule) else target or "__init__"), node.lineno


def _exists(module: str) -> bool:
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _floor(module: str) -> int:
    return FLOORS[module.split(".")[0]]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module_name(path)
        graph[me] = {target for target, _ in _imports(path) if target != me}
    return graph


def _allowed(source: str, target: str) -> bool:
    pair = (source.split(".")[0], target.split(".")[0])
    return pair in ALLOWED or (source, target) in TYPE_ONLY


def test_every_module_has_a_floor() -> None:
    """Each module and folder of the package is placed on a floor of the plan."""
    unplaced = sorted({name for name in _graph() if name.split(".")[0] not in FLOORS})
    assert unplaced == []


def test_imports_point_down() -> None:
    """No module imports from a floor above its own."""
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module_name(path)
        for target, line in _imports(path):
            if _floor(target) > _floor(me) and not _allowed(me, target):
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                upward.append(f"{where}: {me} (floor {_floor(me)}) imports {target} (floor {_floor(target)})")
    assert upward == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    """The import graph (every import, less the allowed edges) has no circle."""
    graph = {
        source: {target for target in targets if not _allowed(source, target)} for source, targets in _graph().items()
    }
    assert _circles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]], id="two modules"),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": set()}, [], id="a chain"),
    ],
)
def test_circles_are_found(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The circle finder reports a circle and passes a chain."""
    assert _circles(graph) == expected
