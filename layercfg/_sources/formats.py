"""Profile files written in YAML, JSON or INI: parsed the way dynaconf's own loaders parse them,
and nothing more.

dynaconf's loaders (``dynaconf/loaders/*_loader.py``) each hand a file's text to one reader:

- YAML: ``dynaconf.vendor.ruamel.yaml.safe_load`` (its vendored ruamel.yaml). dynaconf would
  pick another function when ``YAML_LOADER_FOR_DYNACONF`` says so (``unsafe_load`` runs code);
  layercfg calls ``safe_load`` itself and never reads that variable.
- JSON: the standard library's ``json.loads``.
- INI: ``configobj.ConfigObj(lines).dict()``; layercfg passes ``interpolation=False`` so a
  ``%(name)s`` or ``$name`` in a value stays as written.

What dynaconf adds around the reader (environments, ``@format``/``@jinja``/``@int`` tokens,
``dynaconf_include``, settings read from the environment) is not used: a profile is data, the
same as a TOML one. Each reader is imported only when a profile in its format is read.

:func:`parse` returns the document and the line of every key, under the same ``(table, key)``
names TOML's line index uses (``("values", "backend_url")``, ``("services.postgres", "names")``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..exceptions import MalformedFileError

FORMATS = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".ini": "INI"}
# A YAML document may repeat a node through aliases; expanded, ten levels of ten aliases are
# 10**10 nodes (the "billion laughs"). Profiles are small: past these, the file is refused.
MAX_NODES = 100_000
MAX_DEPTH = 64

Lines = dict[tuple[str, str], int]


def parse(text: str, display: str, suffix: str) -> tuple[dict[str, Any], Lines]:
    """The document in ``text`` (a YAML, JSON or INI profile) and the line of each key."""
    kind = FORMATS[suffix]
    if kind == "YAML":
        return _yaml(text, display)
    if kind == "JSON":
        return _json(text, display)
    return _ini(text, display)


def _top_mapping(data: object, display: str, kind: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MalformedFileError(
            f"a {kind} profile must be a mapping of tables (profile, values, services), got {type(data).__name__}",
            location=display,
        )
    return data


# --- YAML ----------------------------------------------------------------------------------------


def _yaml(text: str, display: str) -> tuple[dict[str, Any], Lines]:
    from dynaconf.vendor.ruamel import yaml

    def malformed(exc: Exception) -> MalformedFileError:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{display}:{mark.line + 1}" if mark is not None else display
        column = f" (column {mark.column + 1})" if mark is not None else ""
        return MalformedFileError(f"malformed YAML: {problem}{column}", location=where)

    _check_flow_depth(text, display)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # nodes only: no object is built
    except yaml.YAMLError as exc:
        raise malformed(exc) from None
    except RecursionError:
        raise MalformedFileError("malformed YAML: nested too deeply", location=display) from None
    if root is None:
        return {}, {}
    _check_size(root, display)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # e.g. a !!python/object tag: safe_load builds no such thing
        raise malformed(exc) from None
    lines: Lines = {}
    _yaml_lines(root, "", lines, 0)
    return _top_mapping(data, display, "YAML"), lines


_FLOW_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|#[^\n]*|[\[\]{}]""")


def _check_flow_depth(text: str, display: str) -> None:
    """Refuse ``[[[[...`` nested past the limit before the parser recurses through it (ruamel.yaml is
    pure Python: 10,000 levels take it seconds to refuse)."""
    depth = 0
    for token in _FLOW_TOKEN.finditer(text):
        char = token.group(0)
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, token.start()) + 1
                raise MalformedFileError(
                    f"malformed YAML: nested deeper than {MAX_DEPTH}", location=f"{display}:{line}"
                )
        elif char in "]}":
            depth = max(depth - 1, 0)


def _check_size(root: Any, display: str) -> None:
    """Refuse a document whose alias-expanded size or depth is past the limits, without expanding it."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}

    def children(node: Any) -> Iterator[Any]:
        value = node.value
        if isinstance(value, list):
            for item in value:
                if isinstance(item, tuple):
                    yield from item
                else:
                    yield item

    # Post-order over the node graph (aliases are shared nodes, so each is visited once).
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = list(children(node))
            sizes[key] = 1 + sum(sizes.get(id(kid), 0) for kid in kids)
            depths[key] = 1 + max((depths.get(id(kid), 0) for kid in kids), default=0)
            if sizes[key] > MAX_NODES or depths[key] > MAX_DEPTH:
                what = (
                    f"more than {MAX_NODES:,} values" if sizes[key] > MAX_NODES else f"nested deeper than {MAX_DEPTH}"
                )
                line = node.start_mark.line + 1
                raise MalformedFileError(
                    f"YAML document too large: {what} once its aliases are expanded", location=f"{display}:{line}"
                )
            continue
        if key in sizes:
            continue
        sizes[key] = 0  # visiting: a node that reaches itself counts once
        stack.append((node, True))
        stack.extend((kid, False) for kid in children(node) if id(kid) not in sizes)


def _yaml_lines(node: Any, table: str, lines: Lines, depth: int) -> None:
    if depth > MAX_DEPTH or type(node).__name__ != "MappingNode":
        return
    for key_node, value_node in node.value:
        key = str(key_node.value)
        lines.setdefault((table, key), key_node.start_mark.line + 1)
        _yaml_lines(value_node, f"{table}.{key}" if table else key, lines, depth + 1)


# --- JSON ----------------------------------------------------------------------------------------


def _json(text: str, display: str) -> tuple[dict[str, Any], Lines]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{display}:{exc.lineno}"
        raise MalformedFileError(f"malformed JSON: {exc.msg} (column {exc.colno})", location=where) from None
    except RecursionError:
        raise MalformedFileError("malformed JSON: nested too deeply", location=display) from None
    return _top_mapping(data, display, "JSON"), _json_lines(text)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def _json_lines(text: str) -> Lines:
    """The line of each object key, by the tables that hold it (the parser has already accepted the text)."""
    lines: Lines = {}
    # One entry per open container: an object's table name ("" for the top), None for a list
    # (and for objects inside lists, whose keys have no table name).
    open_tables: list[str | None] = []
    key: str | None = None  # the key whose value comes next
    expect_key = False
    for token in _JSON_TOKEN.finditer(text):
        value = token.group(0)
        if value == "{":
            if not open_tables:
                table: str | None = ""
            elif open_tables[-1] is not None and key is not None:
                table = f"{open_tables[-1]}.{key}" if open_tables[-1] else key
            else:
                table = None
            open_tables.append(table)
            expect_key, key = True, None
        elif value == "[":
            open_tables.append(None)
            expect_key, key = False, None
        elif value in "}]":
            if open_tables:
                open_tables.pop()
            expect_key, key = False, None
        elif value == ",":
            expect_key = bool(open_tables) and open_tables[-1] is not None
        elif value == ":":
            expect_key = False
        elif expect_key:
            table = open_tables[-1] if open_tables else None
            key = json.loads(value)
            if table is not None and isinstance(key, str):
                lines.setdefault((table, key), text.count("\n", 0, token.start()) + 1)
            expect_key = False
    return lines


# --- INI -----------------------------------------------------------------------------------------


_INI_SECTION = re.compile(r"^\s*(\[+)\s*([^\]]+?)\s*\]+\s*(?:[#;].*)?$")
_INI_KEY = re.compile(r"^\s*([^=\s\[#;][^=]*?)\s*=")


def _ini(text: str, display: str) -> tuple[dict[str, Any], Lines]:
    try:
        from configobj import ConfigObj, ConfigObjError
    except ImportError:
        raise MalformedFileError(
            "INI profiles are read with configobj (as dynaconf reads INI): pip install configobj", location=display
        ) from None
    try:
        data = ConfigObj(text.splitlines(), interpolation=False, raise_errors=True).dict()
    except ConfigObjError as exc:
        line = getattr(exc, "line_number", None)
        message = str(exc).split(" at line ")[0].rstrip(".")
        raise MalformedFileError(
            f"malformed INI: {message}", location=f"{display}:{line}" if line else display
        ) from None
    # [services.NAME] is how TOML writes it; configobj keeps the dot in the section name.
    services = data.get("services")
    for section in [name for name in data if name.startswith("services.")]:
        if services is None:
            services = data["services"] = {}
        if isinstance(services, dict):
            services[section.split(".", 1)[1]] = data.pop(section)
    lines: Lines = {}
    tables: list[str] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        header = _INI_SECTION.match(line)
        if header:
            level, name = len(header.group(1)), header.group(2)
            tables = [*tables[: level - 1], name]
            table = ".".join(tables)
            parent, _, last = table.rpartition(".")
            lines.setdefault((parent, last), number)
            continue
        key = _INI_KEY.match(line)
        if key:
            lines.setdefault((".".join(tables), key.group(1).strip("\"'")), number)
    return data, lines
