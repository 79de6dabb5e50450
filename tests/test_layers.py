"""The package's floor plan is a rule: a module imports only from its own floor or below, and no import circles.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``. docs/architecture.md
says which folder holds which stage; this table is the same plan as data.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layercfg"

# Floor of each top-level name under layercfg/ (a module, or a folder and everything in it).
FLOORS = {
    "exceptions": 0,  # every error; imports nothing of layercfg at run time
    "_model": 1,  # records and pure helpers, no I/O
    "_testenv": 1,  # the built-in schema, written in the records' terms
    "_sources": 2,  # read the world, return layers
    "_resolve": 3,  # candidates -> values
    "_precedence": 4,  # the table of sources and steps
    "_load": 4,  # the load itself, and its receipt
    "_views": 5,  # records -> text and JSON
    "_doctor": 6,  # consumers
    "_explainer": 6,
    "_lifecycle": 6,
    "_scan": 6,
    "testing": 7,  # public faces, and the plugin's internals
    "_plugin": 8,
    "pytest_plugin": 8,
    "cli": 8,
    "__main__": 8,
    "__init__": 8,
}

# The one back edge the rule allows, for type checkers only (under ``if TYPE_CHECKING:``), as httpx
# does: an error names the Origin it carries (ConversionError.origin).
TYPE_ONLY = {("exceptions", "_model.provenance")}

# No module grows past this many lines: past it, a module has become several (split it along its topics).
MAX_LINES = 530


def _module_name(package: Path, path: Path) -> str:
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def _exists(package: Path, module: str) -> bool:
    path = package.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(package: Path, path: Path) -> Iterator[tuple[str, int, bool]]:
    """Every module of ``package`` that ``path`` imports: (module, line, only under TYPE_CHECKING).

    Top level, inside functions and under ``if TYPE_CHECKING:`` alike.
    """
    name = package.name
    me = _module_name(package, path)
    here = [] if me == "__init__" else me.split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == name or alias.name.startswith(f"{name}."):
                    target = alias.name.removeprefix(name).lstrip(".") or "__init__"
                    yield target, node.lineno, id(node) in typing_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == name or (node.module or "").startswith(f"{name}."):
                target = (node.module or "").removeprefix(name).lstrip(".")
            else:
                continue
            for alias in node.names:  # `from . import name` may name a module
                submodule = f"{target}.{alias.name}" if target else alias.name
                found = submodule if _exists(package, submodule) else target or "__init__"
                yield found, node.lineno, id(node) in typing_only


def _floor(module: str, floors: dict[str, int]) -> int:
    return floors[module.split(".")[0]]


@functools.cache
def _graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules it imports (every import; the one type-only back edge left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        me = _module_name(package, path)
        graph[me] = {
            target
            for target, _, type_only in _imports(package, path)
            if target != me and not (type_only and (me, target) in TYPE_ONLY)
        }
    return graph


def _upward(package: Path, floors: dict[str, int]) -> list[str]:
    """Each import that points to a floor above its module's, as ``file:line: what``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        me = _module_name(package, path)
        for target, line, type_only in _imports(package, path):
            if type_only and (me, target) in TYPE_ONLY:
                continue
            if _floor(target, floors) > _floor(me, floors):
                where = f"{path.relative_to(package.parent)}:{line}"
                found.append(
                    f"{where}: {me} (floor {_floor(me, floors)}) imports {target} (floor {_floor(target, floors)})"
                )
    return found


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


def test_every_module_has_a_floor() -> None:
    """Each module and folder of the package is placed on a floor of the plan."""
    unplaced = sorted({name for name in _graph(PACKAGE) if name.split(".")[0] not in FLOORS})
    assert unplaced == []


def test_imports_point_down() -> None:
    """No module imports from a floor above its own."""
    assert _upward(PACKAGE, FLOORS) == []


def test_no_import_circle() -> None:
    """The import graph (every import, less the one type-only back edge) has no circle."""
    assert _circles(_graph(PACKAGE)) == []


def test_no_module_outgrows_its_topic() -> None:
    """No module of the package is longer than MAX_LINES."""
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return package


def test_an_upward_import_is_reported_wherever_it_is_written(tmp_path: Path) -> None:
    """An import of a higher floor is found at module level, inside a function and under TYPE_CHECKING."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/records.py": """\
                from typing import TYPE_CHECKING
                from ..high import view
                if TYPE_CHECKING:
                    from pkg.high.view import render
                def show():
                    from ..high.view import render
            """,
            "high/__init__.py": "",
            "high/view.py": "from ..low.records import show\n",
        },
    )
    floors = {"low": 1, "high": 2, "__init__": 3}
    assert _upward(package, floors) == [
        "pkg/low/records.py:2: low.records (floor 1) imports high.view (floor 2)",
        "pkg/low/records.py:4: low.records (floor 1) imports high.view (floor 2)",
        "pkg/low/records.py:6: low.records (floor 1) imports high.view (floor 2)",
    ]
    assert _circles(_graph(package)) == [["high.view", "low.records"]]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]], id="two modules"),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]], id="three modules"),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": set()}, [], id="a chain"),
    ],
)
def test_circles_are_found(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The circle finder reports a circle and passes a chain."""
    assert _circles(graph) == expected
