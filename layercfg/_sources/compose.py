"""Compose files read with line numbers: services, port mappings, builds, and where files really are.

Only what configuration discovery and ``doctor`` need is read: ``container_name``, network
aliases, ``ports``, ``build`` and the *names* of ``environment`` entries. Values are
interpolated (compose-spec rules, see :mod:`layercfg._sources.interpolate`) from the caller's
``lookup``; a value that fails to interpolate becomes a warning with ``PATH:LINE`` and is
skipped, so one bad line does not hide the rest of the file.

The YAML is read as a node tree (``yaml.compose``) rather than constructed, for two reasons:
nodes carry their line numbers, and raw scalar text sidesteps YAML 1.1 quirks that compose
(YAML 1.2) does not have, such as an unquoted ``80:80`` reading as the base-60 integer 4880.
"""

from __future__ import annotations

import importlib
import os
import types
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import attrs

from .._model.ports import parse_short_port, port_pairs, protocol_name
from ..exceptions import MalformedFileError, UnreadableFileError
from .files import FoundComposeFile, find_compose_file, is_dir, join_path, read_text
from .interpolate import Interpolated, InterpolationError, Lookup, interpolate

__all__ = [
    "BuildResolution",
    "BuildSpec",
    "ComposeFile",
    "ComposeService",
    "EnvironmentValue",
    "FoundComposeFile",
    "PortMapping",
    "find_compose_file",
    "load_compose_file",
    "resolve_build",
]


class _ImportedOnUse:
    """A module imported on first attribute use: PyYAML costs ~20 ms to import, and a load whose
    profile names compose files that do not exist (the docker profile in most checkouts) reads none."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    import yaml
else:
    yaml = _ImportedOnUse("yaml")

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
# Directories a Dockerfile search never needs to enter, and that can be huge.
_SKIP_DIRS = frozenset({"node_modules", "venv", "__pycache__", "site-packages"})
_DOCKERFILE_DIRS = ("dockerfiles", "docker")


@attrs.frozen
class PortMapping:
    """One published (or exposed) port of a service, and the line that declared it.

    For the short syntax ``text`` is the list item as written; for the long syntax it is the
    ``published`` value as written (``target`` when nothing is published) and ``line`` is
    that value's line, since that is where the host port comes from.
    ``host_port`` is None when Docker chooses the host port (``"8000"``, ``"9000-9005:80"``).
    A range mapped onto an equal range (``"9000-9001:9000-9001"``) gives one mapping per port.
    """

    service: str
    text: str
    interpolated: Interpolated | None
    host_ip: str | None
    host_port: int | None
    container_port: int
    protocol: str
    path: Path
    line: int


@attrs.frozen
class BuildSpec:
    """A service's ``build`` as written (after interpolation); ``dockerfile_text`` None when not given."""

    service: str
    context_text: str
    dockerfile_text: str | None
    path: Path
    line: int
    dockerfile_line: int | None


@attrs.frozen
class EnvironmentValue:
    """One entry of a service's ``environment:``, interpolated; ``value`` None when only named."""

    name: str
    value: str | None = attrs.field(repr=False)
    line: int
    text: str = attrs.field(repr=False)  # as written, before interpolation


@attrs.frozen
class ComposeService:
    """The parts of one compose service that configuration needs; ``line`` is its name's line."""

    name: str
    container_name: str | None
    aliases: tuple[str, ...]
    ports: tuple[PortMapping, ...]
    build: BuildSpec | None
    path: Path
    line: int
    environment_keys: tuple[str, ...]
    # Values may be secrets: kept for credentials discovery, never printed and not part of equality.
    environment: Mapping[str, EnvironmentValue] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ComposeFile:
    """A parsed compose file: its services in file order, and what could not be read in it."""

    path: Path
    services: Mapping[str, ComposeService]
    warnings: tuple[str, ...]


@attrs.frozen
class BuildResolution:
    """Where a :class:`BuildSpec` points on disk, whether that exists, and a likely fix if not."""

    spec: BuildSpec
    context: Path
    dockerfile: Path
    context_exists: bool
    dockerfile_exists: bool
    suggestion: Path | None


def load_compose_file(path: Path, lookup: Lookup) -> ComposeFile:
    """Parse the compose file at *path*, interpolating the values read with *lookup*.

    Raises :class:`UnreadableFileError` when the file cannot be read and
    :class:`MalformedFileError` (located ``PATH:LINE``) when it is not YAML, not a mapping,
    or has no ``services`` mapping. Problems inside one service become warnings.
    """
    if is_dir(path):
        raise UnreadableFileError("compose file path is a directory", location=str(path))
    text = read_text(path, str(path), "compose file", missing="compose file does not exist")
    try:
        return _parse(path, text, lookup)
    except RecursionError:  # YAML nested thousands deep, or merge keys chained as deep
        raise MalformedFileError("invalid YAML: nested too deeply", location=str(path)) from None


def _parse(path: Path, text: str, lookup: Lookup) -> ComposeFile:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise MalformedFileError(f"invalid YAML: {problem or exc}", location=location) from None
    except yaml.YAMLError as exc:
        raise MalformedFileError(f"invalid YAML: {exc}", location=str(path)) from None

    if not isinstance(root, yaml.MappingNode):
        where = f"{path}:{_line(root)}" if root is not None else str(path)
        raise MalformedFileError("a compose file must be a mapping with a 'services' key", location=where)
    top = _items(root)
    if "services" not in top:
        raise MalformedFileError("compose file has no 'services' key", location=str(path))
    services_key, services_node = top["services"]
    if not isinstance(services_node, yaml.MappingNode):
        raise MalformedFileError(
            "'services' must be a mapping of service names to definitions",
            location=f"{path}:{_line(services_key)}",
        )

    reader = _Reader(path, lookup)
    services: dict[str, ComposeService] = {}
    for name, (key, node) in _items(services_node).items():
        service = reader.service(name, key, node)
        if service is not None:
            services[name] = service
    return ComposeFile(path=path, services=types.MappingProxyType(services), warnings=tuple(reader.warnings))


def resolve_build(spec: BuildSpec, project_directory: Path, search_root: Path) -> BuildResolution:
    """Resolve *spec* the compose-spec way and check that its context and Dockerfile exist.

    The context is relative to *project_directory* (compose's default: the directory of the
    first compose file), the Dockerfile relative to the context; absolute paths stay as they
    are. When the Dockerfile is missing, ``suggestion`` is an existing file under
    *search_root*: the same relative path taken from *search_root*, else the same file name in
    a ``dockerfiles/`` or ``docker/`` directory (the shallowest, then alphabetically first).
    """
    context = join_path(project_directory, spec.context_text)
    dockerfile_text = spec.dockerfile_text if spec.dockerfile_text is not None else "Dockerfile"
    dockerfile = join_path(context, dockerfile_text)
    dockerfile_exists = dockerfile.is_file()
    suggestion = None if dockerfile_exists else suggest_dockerfile(dockerfile_text, search_root)
    return BuildResolution(
        spec=spec,
        context=context,
        dockerfile=dockerfile,
        context_exists=context.is_dir(),
        dockerfile_exists=dockerfile_exists,
        suggestion=suggestion,
    )


class _Reader:
    """Reads services of one file, collecting warnings instead of stopping at the first."""

    def __init__(self, path: Path, lookup: Lookup) -> None:
        self.path = path
        self.lookup = lookup
        self.warnings: list[str] = []

    def warn(self, node: yaml.Node, service: str, message: str) -> None:
        self.warnings.append(f"{self.path}:{_line(node)}: service {service!r}: {message}")

    def text(self, node: yaml.Node, service: str, what: str) -> tuple[str, Interpolated] | None:
        """The raw and interpolated text of a scalar, or None (with a warning) when unusable."""
        raw = _scalar(node)
        if raw is None:
            self.warn(node, service, f"{what} must be a single value; ignored")
            return None
        try:
            return raw, interpolate(raw, self.lookup)
        except InterpolationError as exc:
            self.warn(node, service, f"{what} {raw!r} ignored: {exc}")
            return None

    def service(self, name: str, key: yaml.Node, node: yaml.Node) -> ComposeService | None:
        if not isinstance(node, yaml.MappingNode):
            self.warn(key, name, "a service definition must be a mapping; service ignored")
            return None
        items = _items(node)
        container_name = None
        if "container_name" in items and not _is_null(items["container_name"][1]):
            read = self.text(items["container_name"][1], name, "container_name")
            container_name = read[1].value if read is not None else None
        return ComposeService(
            name=name,
            container_name=container_name,
            aliases=self.aliases(name, items["networks"][1]) if "networks" in items else (),
            ports=self.ports(name, items["ports"][1]) if "ports" in items else (),
            build=self.build(name, *items["build"]) if "build" in items else None,
            path=self.path,
            line=_line(key),
            environment_keys=_environment_keys(items["environment"][1]) if "environment" in items else (),
            environment=self.environment(name, items["environment"][1]) if "environment" in items else {},
        )

    def environment(self, service: str, node: yaml.Node) -> dict[str, EnvironmentValue]:
        """``environment:`` in mapping or list form, interpolated, each entry with its line."""
        found: dict[str, EnvironmentValue] = {}
        pairs: list[tuple[str, str | None, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            for key, (_key_node, value_node) in _items(node).items():
                pairs.append((key, _scalar(value_node), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                text = _scalar(item)
                if text is None:
                    continue
                key, sep, written = text.partition("=")
                pairs.append((key.strip(), written if sep else None, item))
        for name, raw, value_node in pairs:
            if raw is None:
                found[name] = EnvironmentValue(name, None, _line(value_node), "")
                continue
            try:
                value = interpolate(raw, self.lookup).value
            except InterpolationError as exc:
                self.warn(value_node, service, f"environment {name} ignored: {exc}")
                continue
            found[name] = EnvironmentValue(name, value, _line(value_node), raw)
        return found

    def aliases(self, service: str, node: yaml.Node) -> tuple[str, ...]:
        # The short (list) syntax of `networks` cannot declare aliases.
        if not isinstance(node, yaml.MappingNode):
            return ()
        aliases: list[str] = []
        for network_key, network in _items(node).values():
            if not isinstance(network, yaml.MappingNode):
                continue
            alias_list = _items(network).get("aliases")
            if alias_list is None or _is_null(alias_list[1]):
                continue
            if not isinstance(alias_list[1], yaml.SequenceNode):
                self.warn(alias_list[1], service, f"aliases of network {network_key.value!r} must be a list")
                continue
            for alias_node in alias_list[1].value:
                read = self.text(alias_node, service, "network alias")
                if read is not None and read[1].value not in aliases:
                    aliases.append(read[1].value)
        return tuple(aliases)

    def ports(self, service: str, node: yaml.Node) -> tuple[PortMapping, ...]:
        if _is_null(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.warn(node, service, "ports must be a list; ignored")
            return ()
        mappings: list[PortMapping] = []
        for item in node.value:
            if isinstance(item, yaml.MappingNode):
                mappings += self.long_port(service, item)
            else:
                mappings += self.short_port(service, item)
        return tuple(mappings)

    def short_port(self, service: str, node: yaml.Node) -> list[PortMapping]:
        read = self.text(node, service, "port")
        if read is None:
            return []
        raw, interpolated = read
        try:
            host_ip, pairs, protocol = parse_short_port(interpolated.value)
        except ValueError as exc:
            self.warn(node, service, f"port {raw!r} ignored: {exc}")
            return []
        return [
            PortMapping(
                service=service,
                text=raw,
                interpolated=interpolated if interpolated.uses else None,
                host_ip=host_ip,
                host_port=host_port,
                container_port=container_port,
                protocol=protocol,
                path=self.path,
                line=_line(node),
            )
            for host_port, container_port in pairs
        ]

    def long_port(self, service: str, node: yaml.MappingNode) -> list[PortMapping]:
        items = _items(node)
        if "target" not in items:
            self.warn(node, service, "a port in long syntax needs 'target'; ignored")
            return []
        values: dict[str, tuple[str, Interpolated, yaml.Node]] = {}
        for field in ("target", "published", "host_ip", "protocol"):
            if field in items and not _is_null(items[field][1]):
                read = self.text(items[field][1], service, f"port {field}")
                if read is None:
                    return []
                values[field] = (*read, items[field][1])
        raw, interpolated, source = values.get("published") or values["target"]
        try:
            published = values["published"][1].value if "published" in values else None
            pairs = port_pairs(published, values["target"][1].value)
            protocol = protocol_name(values["protocol"][1].value if "protocol" in values else "tcp")
        except ValueError as exc:
            self.warn(source, service, f"port ignored: {exc}")
            return []
        host_ip = values["host_ip"][1].value if "host_ip" in values else None
        return [
            PortMapping(
                service=service,
                text=raw,
                interpolated=interpolated if interpolated.uses else None,
                host_ip=host_ip or None,
                host_port=host_port,
                container_port=container_port,
                protocol=protocol,
                path=self.path,
                line=_line(source),
            )
            for host_port, container_port in pairs
        ]

    def build(self, service: str, key: yaml.Node, node: yaml.Node) -> BuildSpec | None:
        if isinstance(node, yaml.ScalarNode) and not _is_null(node):
            read = self.text(node, service, "build context")
            if read is None:
                return None
            return BuildSpec(service, read[1].value, None, self.path, _line(key), None)
        if not isinstance(node, yaml.MappingNode):
            self.warn(key, service, "build must be a path or a mapping; ignored")
            return None
        items = _items(node)
        context = "."  # the compose spec's default when `context` is absent
        if "context" in items:
            read = self.text(items["context"][1], service, "build context")
            if read is None:
                return None
            context = read[1].value
        dockerfile: str | None = None
        dockerfile_line: int | None = None
        if "dockerfile" in items:
            dockerfile_key, dockerfile_node = items["dockerfile"]
            read = self.text(dockerfile_node, service, "build dockerfile")
            if read is None:
                return None
            dockerfile, dockerfile_line = read[1].value, _line(dockerfile_key)
        return BuildSpec(service, context, dockerfile, self.path, _line(key), dockerfile_line)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _scalar(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG:
        return str(node.value)
    return None


def _items(node: yaml.MappingNode, visited: set[int] | None = None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Key text -> (key node, value node), with YAML merge keys (``<<``) applied.

    Compose files lean on ``<<: *anchor`` for shared settings; explicit keys override merged
    ones, and among merged mappings the first listed wins (the YAML merge-key rules). Each
    mapping is merged once per call: an anchor merged again adds nothing (the first one wins),
    and skipping it keeps a file of anchors merging anchors (ten times each, seven deep) from
    costing 10**7 visits; it also ends an anchor that contains an alias to itself.
    """
    visited = set() if visited is None else visited
    visited.add(id(node))
    merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    explicit: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode) and id(source) not in visited:
                    for name, pair in _items(source, visited).items():
                        merged.setdefault(name, pair)
        elif isinstance(key, yaml.ScalarNode):
            explicit[str(key.value)] = (key, value)
    return merged | explicit


def _environment_keys(node: yaml.Node) -> tuple[str, ...]:
    # Only names: values may be secrets and configuration never needs them from here.
    if isinstance(node, yaml.MappingNode):
        return tuple(_items(node))
    if isinstance(node, yaml.SequenceNode):
        names = (_scalar(item) for item in node.value)
        return tuple(name.partition("=")[0] for name in names if name)
    return ()


def suggest_dockerfile(dockerfile_text: str, search_root: Path) -> Path | None:
    root = Path(os.path.abspath(search_root))
    if not os.path.isabs(dockerfile_text):
        same_path = join_path(root, dockerfile_text)
        if same_path.is_relative_to(root) and same_path.is_file():
            return same_path
    name = PurePath(dockerfile_text).name
    matches: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in _SKIP_DIRS and not d.startswith(".")]
        if os.path.basename(directory) in _DOCKERFILE_DIRS and name in files:
            matches.append(Path(directory, name))
    return min(matches, key=lambda match: (len(match.parts), str(match)), default=None)
