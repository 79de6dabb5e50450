"""The process's own sources: schema defaults, the environment (canonical and legacy names), dotenv
files and explicit overrides; each returns a :class:`~layercfg._model.provenance.Layer` of
(field, raw value, Origin) entries.

Nothing here writes ``os.environ`` or mutates shared state; every function takes
the mapping it reads (``environ``) so tests pass a dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Entry, Layer, LayerKind, Origin
from .._model.schema import FieldSpec
from .._model.words import FALSE_WORDS, TRUE_WORDS
from ..exceptions import UnknownFieldError
from .files import read_text


class _Prepared(NamedTuple):
    """What a schema's description alone decides, computed once per :class:`SchemaInfo`."""

    info: SchemaInfo  # kept so the id below is never reused while the entry lives
    defaults: Layer
    plain_names: tuple[str, ...]  # variables the environment layer reads
    legacy_endpoint_names: tuple[str, ...]  # variables the legacy environment layer reads


_PREPARED: dict[int, _Prepared] = {}


def _prepared(info: SchemaInfo) -> _Prepared:
    found = _PREPARED.get(id(info))
    if found is not None and found.info is info:
        return found
    origin = Origin(LayerKind.DEFAULT, "schema default")
    entries = tuple(
        Entry(spec.name, spec.default, origin) for spec in info.fields.values() if spec.default is not attrs.NOTHING
    )
    legacy = tuple(name for name, spec in info.by_env_name.items() if _legacy_endpoint_name(name, spec))
    plain = tuple(name for name, spec in info.by_env_name.items() if not _legacy_endpoint_name(name, spec))
    found = _Prepared(info, Layer(LayerKind.DEFAULT, "schema defaults", entries), plain, legacy)
    _PREPARED[id(info)] = found
    return found


def default_layer(info: SchemaInfo) -> Layer:
    """The schema's attrs defaults (required fields have none): the same layer for every load."""
    return _prepared(info).defaults


_ORIGINS: dict[tuple[LayerKind, str, str], Origin] = {}  # (layer, source, variable) -> its canonical origin


def _named_entries(
    values: Mapping[str, tuple[str, str | None]],
    info: SchemaInfo,
    layer: LayerKind,
    source_of: Callable[[str], str],
) -> tuple[Entry, ...]:
    """Entries for every known name in ``values``: aliases (in alias order) before canonical names.

    ``values`` maps a variable name to (value, location). Empty values count as unset,
    like ``${VAR:-default}`` in compose, so ``BACKEND_URL=`` never hides a lower layer.
    """
    aliases: list[tuple[int, Entry]] = []
    canonical: list[Entry] = []
    for name, (value, location) in values.items():
        spec = info.by_env_name.get(name)
        if spec is None or value == "":
            continue
        if name == spec.env:
            source = source_of(name)
            if location is None:
                # An origin does not hold the value, and it is immutable: the environment's origins
                # are made once per variable, not once per load (1 us each, 1000 fields: 1 ms).
                origin = _ORIGINS.get((layer, source, name)) or _ORIGINS.setdefault(
                    (layer, source, name), Origin(layer, source, None, None, name, "canonical")
                )
            else:
                origin = Origin(layer, source, location, None, name, "canonical")
            canonical.append(Entry(spec.name, value, origin))
        elif name in spec.switch_names:
            # A legacy on/off switch means one value of the field when true, nothing when false.
            meant = dict(spec.switches)[name]
            word = value.strip().lower()
            if word in FALSE_WORDS:
                continue
            raw = meant if word in TRUE_WORDS else value
            detail = f"legacy switch: {name}={value} means {spec.name} = {meant!r}; prefer {spec.env}"
            origin = Origin(layer, source_of(name), location, detail, variable=name, naming="switch")
            rank = spec.switch_names.index(name) - len(spec.switch_names)
            aliases.append((rank, Entry(spec.name, raw, origin, prefer=spec.env)))
        elif name in spec.port_aliases:
            # A legacy port variable says only where a service is published on this host: on a URL
            # field it means scheme://localhost:PORT, on a port field the port itself.
            port = value.strip()
            if spec.schemes and port.isdigit():
                raw = f"{spec.schemes[0]}://localhost:{port}"
                detail = f"legacy port variable: {name}={value} means {raw}; prefer {spec.env}"
            else:
                raw = port
                detail = f"legacy port variable: {name}={value}; prefer {spec.env}"
            origin = Origin(layer, source_of(name), location, detail, variable=name, naming="port-variable")
            entry = Entry(spec.name, raw, origin, prefer=spec.env)
            # Port variables say what Docker publishes (compose files interpolate them into their
            # port mappings): they beat legacy URL guesses, which old scripts leave behind.
            aliases.append((len(spec.aliases) + spec.port_aliases.index(name), entry))
        else:
            detail = f"legacy alias of {spec.env}"
            origin = Origin(layer, source_of(name), location, detail, variable=name, naming="alias")
            entry = Entry(spec.name, value, origin, prefer=spec.env)
            aliases.append((spec.aliases.index(name), entry))
    aliases.sort(key=lambda pair: pair[0])
    return (*(entry for _, entry in aliases), *canonical)


def is_endpoint(spec: FieldSpec) -> bool:
    """A URL field or a part of one (host, port, credentials)."""
    return bool(spec.schemes) or spec.part_of is not None


def _legacy_endpoint_name(name: str, spec: FieldSpec) -> bool:
    return is_endpoint(spec) and name != spec.env and name not in spec.switch_names


def legacy_environment_layer(environ: Mapping[str, str], info: SchemaInfo) -> Layer:
    """Legacy names of endpoint fields in the process environment (``TEST_BACKEND_URL``,
    ``DOCKER_BACKEND_PORT``): guesses old scripts leave behind, ranked below what discovery
    finds running; canonical names stay in :func:`environment_layer`, above it."""
    values = {name: (environ[name], None) for name in _prepared(info).legacy_endpoint_names if name in environ}
    entries = _named_entries(values, info, LayerKind.ENVIRONMENT, lambda name: f"env {name}")
    return Layer(LayerKind.ENVIRONMENT, "environment (legacy endpoint names)", entries)


def environment_layer(environ: Mapping[str, str], info: SchemaInfo) -> Layer:
    """The process environment, read by name so the exact variable is known: canonical names,
    and the legacy names of fields that are not endpoints (those are in the legacy layer).

    Only the names the schema declares are looked at (cost is per field, not per
    variable in the environment).
    """
    values = {name: (environ[name], None) for name in _prepared(info).plain_names if name in environ}
    entries = _named_entries(values, info, LayerKind.ENVIRONMENT, lambda name: f"env {name}")
    return Layer(LayerKind.ENVIRONMENT, "environment", entries)


@attrs.frozen
class EnvFile:
    """A dotenv file as read: every binding (for compose interpolation) with its line."""

    path: Path
    display: str  # as shown in receipts: relative to the project when inside it
    values: Mapping[str, tuple[str, int]]  # name -> (value, line)
    warnings: tuple[str, ...] = ()
    expansions: Mapping[str, str] = attrs.Factory(dict)  # name -> how its ${VAR} references were decided


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=")


def read_env_file(path: Path, display: str, environ: Mapping[str, str] | None = None) -> EnvFile:
    """Parse a dotenv file with python-dotenv's parser, keeping exact line numbers.

    Quotes and escapes are processed by python-dotenv. ``${VAR}`` and ``${VAR:-default}``
    are expanded as python-dotenv's ``dotenv_values`` and compose expand them: from the
    file's earlier lines, then ``environ``; ``:-`` takes the default when VAR is unset or
    empty. Single-quoted values stay literal, as in compose and the shell. Nothing goes into
    ``os.environ``. A quote left open would swallow the lines after it into one value: when
    such a value's later lines are assignments themselves, only the opening line is skipped
    (and named), and the lines after it are read on their own.
    """
    # CRLF as LF: python-dotenv counts "\r\n" after an unparsable line as two line ends, and keeps the
    # CR inside a quoted multi-line value.
    text = read_text(path, display, "env file").replace("\r\n", "\n")
    values: dict[str, tuple[str, int]] = {}
    quoted: set[str] = set()
    warnings: list[str] = []
    lines = text.splitlines(keepends=True)
    start = 0  # 0-based index of the first line still to parse
    while start < len(lines):
        start = _parse_from(lines, start, display, values, warnings, quoted)
    expansions = _expand(values, quoted, {} if environ is None else environ)
    return EnvFile(path, display, values, tuple(warnings), expansions)


def _expand(values: dict[str, tuple[str, int]], literal: set[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Expand ``${VAR}`` references in place, in file order; say how each expanded value was decided."""
    from dotenv.variables import Variable, parse_variables

    expansions: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, (value, line) in values.items():
        if "${" in value and name not in literal:
            parts: list[str] = []
            said: list[str] = []
            for atom in parse_variables(value):
                if not isinstance(atom, Variable):
                    parts.append(atom.resolve({}))
                    continue
                found, where = (
                    (seen[atom.name], "this file") if atom.name in seen else (environ.get(atom.name), "environment")
                )
                if found:
                    parts.append(found)
                    said.append(f"{atom.name} from {where}")
                elif atom.default is not None:
                    parts.append(atom.default)
                    said.append(f"{atom.name} {'empty' if found == '' else 'unset'}, default {atom.default!r}")
                else:
                    parts.append("")
                    said.append(f"{atom.name} {'empty' if found == '' else 'unset'}, empty")
            if said:
                value = "".join(parts)
                values[name] = (value, line)
                expansions[name] = "expanded: " + "; ".join(said)
        seen[name] = value
    return expansions


def _parse_from(
    lines: list[str],
    start: int,
    display: str,
    values: dict[str, tuple[str, int]],
    warnings: list[str],
    literal: set[str],
) -> int:
    """Parse ``lines[start:]`` into ``values``; return where to go on (the end, or past a line skipped)."""
    import io

    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO("".join(lines[start:]))):
        original = binding.original
        # python-dotenv counts a binding from the blank lines and comments before it: find its own line.
        leading = len(original.string) - len(original.string.lstrip())
        line = start + original.line + original.string[:leading].count("\n")
        body = original.string[leading:].splitlines()
        swallowed = len(body) > 1 and any(_ASSIGNMENT.match(later) for later in body[1:])
        if swallowed:
            warnings.append(f"{display}:{line}: could not parse this line (a quote is not closed); it was skipped")
            return line  # 1-based line of the bad one = 0-based index of the next
        if binding.error:
            warnings.append(f"{display}:{line}: could not parse this line; it was skipped")
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = (binding.value, line)
            written = body[0].partition("=")[2] if body else ""
            if written.strip().startswith("'"):
                literal.add(binding.key)
            else:
                literal.discard(binding.key)
    return len(lines)


def env_file_layer(env_file: EnvFile, info: SchemaInfo) -> Layer:
    """The fields an env file sets, by the same names as the environment."""
    values = {name: (value, f"{env_file.display}:{line}") for name, (value, line) in env_file.values.items()}
    entries = _named_entries(values, info, LayerKind.ENV_FILE, lambda name: f"{name} in {env_file.display}")
    if env_file.expansions:
        entries = tuple(_with_expansion(entry, env_file.expansions) for entry in entries)
    return Layer(LayerKind.ENV_FILE, f"env-file {env_file.display}", entries, env_file.warnings)


def _with_expansion(entry: Entry, expansions: Mapping[str, str]) -> Entry:
    """The entry with how its ``${VAR}`` references were decided added to its origin's detail."""
    said = expansions.get(entry.origin.variable or "")
    if said is None:
        return entry
    detail = f"{entry.origin.detail}; {said}" if entry.origin.detail else said
    return entry._replace(origin=attrs.evolve(entry.origin, detail=detail))


def override_layer(overrides: Mapping[str, object], info: SchemaInfo, source: str) -> Layer:
    """Explicit values by field name (``overrides=``, ``--set``, ``--layercfg-set``)."""
    entries = []
    for name, value in overrides.items():
        if name not in info.fields:
            raise UnknownFieldError(name, info.suggest(name))
        entries.append(Entry(name, value, Origin(LayerKind.OVERRIDE, source)))
    return Layer(LayerKind.OVERRIDE, source, tuple(entries))
