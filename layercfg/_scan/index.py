"""What ``layercfg scan`` knows about a project: every field's value under every profile, the ports
and container-internal host names of its services, and every environment variable name it reads.

Built once per scan in the main process, from the same internals a load uses: each available
profile is resolved with discovery and fallback off and an empty environment (so the scan reads
neither the shell nor Docker), and the compose files each profile names are read for their
published ports and service names. The result is a plain picklable record that worker processes
receive once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import FieldTrace
from .._model.schema import FieldSpec, suggest
from .._model.secrets import SECRET_MASK, mask_url_passwords
from .._model.services import default_port
from .._sources.env import EnvFile
from .._sources.project import ProjectSettings, find_project
from ..exceptions import LayercfgError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"})
# Words that say what kind of value a variable holds, or that every name carries: sharing only
# these with a known name does not make a name plausible (TEST_TIMEOUT is not EVENT_TIMEOUT).
_GENERIC_WORDS = frozenset(
    {"URL", "URI", "HOST", "PORT", "TEST", "TESTS", "E2E", "SERVICE", "SERVICES", "BASE", "USE", "ENV", "DEV"}
    | {"LOCAL", "NAME", "NAMES", "PATH", "NETRA", "DEFAULT", "IS", "ENABLE", "ENABLED", "MODE"}
)
# Per index (one per scan and worker): every known name's words, and the answers given so far.
_SUGGESTED: dict[int, tuple[dict[str, str | None], tuple[tuple[str, tuple[str, ...]], ...]]] = {}
_SYNONYMS = {"DB": "DATABASE", "WS": "WEBSOCKET", "PG": "POSTGRES", "POSTGRESQL": "POSTGRES", "CH": "CLICKHOUSE"}


@attrs.frozen
class FieldFacts:
    """One field as the scan reports it: its service, its value under each profile and its names."""

    name: str
    service: str | None
    values: tuple[tuple[str, object], ...]  # (profile, value shown: secrets masked)
    env: str  # canonical variable
    schemes: tuple[str, ...]
    attribute: bool  # an attribute of the config object (else a setting of the load)


@attrs.frozen
class PortUse:
    """Why a port on this machine belongs to a field: a profile's value, a compose mapping or a container port."""

    field: str
    reason: str  # "profile local", "published by docker/docker-compose.yml:250", "the container port of backend"


@attrs.frozen
class InternalHost:
    """A name a service runs under inside its compose network, and the port it listens on there."""

    service: str
    field: str
    container_port: int


@attrs.frozen
class EnvName:
    """A variable name layercfg reads: its field and how it names it."""

    field: str
    kind: str  # "canonical", "legacy", "port variable", "switch"


@attrs.frozen
class ScanIndex:
    """Everything the matchers need, computed once per scan (see the module docstring)."""

    project_dir: str
    profiles: tuple[str, ...]
    fields: Mapping[str, FieldFacts]
    ports: Mapping[int, tuple[PortUse, ...]]
    internal: Mapping[str, tuple[InternalHost, ...]]  # lower-case host name -> its services
    env_names: Mapping[str, EnvName]
    ignored_names: frozenset[str]  # names layercfg itself owns (the profile variable)
    accessors: tuple[str, ...]
    skip: frozenset[str]  # absolute paths of layercfg's own inputs: profiles, env files, compose files
    notes: tuple[str, ...] = ()

    def field_for_port(self, port: int, scheme: str | None) -> PortUse | None:
        """The field a loopback URL on ``port`` stands for, preferring fields of the URL's scheme."""
        uses = self.ports.get(port, ())
        if scheme:
            for use in uses:
                if scheme in self.fields[use.field].schemes:
                    return use
        return uses[0] if uses else None

    def suggest_name(self, name: str) -> str | None:
        """A known variable a mistyped or invented ``name`` plausibly meant, or None when unrelated."""
        cache = _SUGGESTED.setdefault(id(self), ({}, tuple((n, _words(n)) for n in self.env_names)))
        if name not in cache[0]:
            cache[0][name] = _plausible(name, cache[1])
        return cache[0][name]


def _words(name: str) -> tuple[str, ...]:
    return tuple(_SYNONYMS.get(word, word) for word in name.upper().split("_") if word)


def plausible_name(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` plausibly stands for: the same words (in any order, ``DB`` read as
    ``DATABASE``), else the closest name (``suggest``) among those ending in the same kind of word
    (``_URL``, ``_PORT``) and sharing a word that is not generic (``BACKEND``, ``STAGING``)."""
    return _plausible(name, tuple((candidate, _words(candidate)) for candidate in known))


def _plausible(name: str, known: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    words = _words(name)
    if not words:
        return None
    ordered = sorted(words)
    for candidate, other in known:
        if sorted(other) == ordered:
            return candidate
    specific = set(words) - _GENERIC_WORDS
    if not specific:
        return None
    related = [
        candidate for candidate, other in known if other and other[-1] == words[-1] and specific & set(other[:-1])
    ]
    return suggest(name, related)


def _display(value: object, spec: FieldSpec) -> object:
    if value is None:
        return None
    if spec.secret:
        return SECRET_MASK
    if isinstance(value, tuple):
        return [_display(item, spec) for item in value]
    if isinstance(value, str):
        return mask_url_passwords(value)
    if isinstance(value, (int, float, bool)):
        return value
    return str(value)


def _service_of(name: str, info: SchemaInfo) -> str | None:
    spec = info.fields[name]
    found = info.service_of(name)
    if found is not None:
        return found[0].name
    if spec.part_of is not None and spec.part_of != name:
        return _service_of(spec.part_of, info)
    for other in info.fields.values():  # a staging counterpart belongs to its primary's service
        if other.staging == name:
            return _service_of(other.name, info)
    if spec.derive is not None:
        for source in spec.derive.inputs:
            service = _service_of(source, info) if source in info.fields else None
            if service is not None:
                return service
    if "." in name:  # a service setting: "backend.container_port"
        return name.split(".", 1)[0]
    return None


def port_of(url: str) -> tuple[str | None, int | None]:
    """(host, port) of a URL; the port is the scheme's default when the URL names none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    return parts.hostname, port if port is not None else default_port(parts.scheme)


class _Builder:
    def __init__(self, settings: ProjectSettings) -> None:
        self.settings = settings
        self.values: dict[str, dict[str, object]] = {}  # field -> profile -> value
        self.specs: dict[str, FieldSpec] = {}
        self.services: dict[str, str | None] = {}
        self.ports: dict[int, list[PortUse]] = {}
        self.internal: dict[str, list[InternalHost]] = {}
        self.env_names: dict[str, EnvName] = {}
        self.container_ports: list[tuple[int, PortUse]] = []
        self.skip: set[str] = set()
        self.notes: list[str] = []

    def add_port(self, port: int | None, use: PortUse) -> None:
        if port is None:
            return
        uses = self.ports.setdefault(port, [])
        if all(existing.field != use.field for existing in uses):
            uses.append(use)

    def add_internal(self, host: str, item: InternalHost) -> None:
        hosts = self.internal.setdefault(host.lower(), [])
        if item not in hosts:
            hosts.append(item)

    def add_info(self, info: SchemaInfo) -> None:
        for name, spec in info.fields.items():
            if name not in self.specs:
                self.specs[name] = spec
                self.services[name] = _service_of(name, info)
            for variable in spec.names:
                kind = (
                    "canonical"
                    if variable == spec.env
                    else "switch"
                    if variable in spec.switch_names
                    else "port variable"
                    if variable in spec.port_aliases
                    else "legacy"
                )
                self.env_names.setdefault(variable, EnvName(name, kind))

    def add_profile(self, profile: str, schema: type) -> None:
        from .._load import resolve

        try:
            resolution = resolve(
                schema,
                profile=profile,
                project_dir=self.settings.project_dir,
                environ={},
                overrides={"discovery": "off", "fallback": "off"},
                override_source="layercfg scan",
                fallback="off",
            )
        except LayercfgError as exc:
            self.notes.append(f"profile {profile} skipped: {exc}")
            return
        for error in resolution.errors:
            self.notes.append(f"profile {profile}: {error}")
        info = resolution.trace.info
        assert info is not None  # every resolution records its field table
        self.add_info(info)
        fields = resolution.trace.fields
        for name, trace in fields.items():
            self.values.setdefault(name, {})[profile] = trace.value
            spec = info.fields[name]
            if spec.schemes and isinstance(trace.value, str):
                host, port = port_of(trace.value)
                if host is not None and host.lower() in LOOPBACK_HOSTS:
                    self.add_port(port, PortUse(name, f"profile {profile}"))
        self.skip.update(str(env_file.path) for env_file in resolution.env_files)
        for service in info.services.values():
            names = fields[service.names_setting].value if service.names_setting in fields else (service.name,)
            for endpoint in service.endpoints:
                container_port = fields[endpoint.container_port_setting].value
                if not isinstance(container_port, int):
                    continue
                port = container_port
                self.container_ports.append(
                    (port, PortUse(endpoint.url_field, f"the container port of {service.name}"))
                )
                for host in names if isinstance(names, tuple) else ():
                    self.add_internal(str(host), InternalHost(service.name, endpoint.url_field, port))
        compose_files = fields["compose_files"].value if "compose_files" in fields else ()
        if isinstance(compose_files, tuple) and compose_files:
            self.add_compose(tuple(str(f) for f in compose_files), resolution.env_files, info, fields)

    def add_compose(
        self,
        compose_files: tuple[str, ...],
        env_files: Sequence[EnvFile],
        info: SchemaInfo,
        fields: Mapping[str, FieldTrace],
    ) -> None:
        from .._sources.discovery import ComposeVariables, read_compose

        variables = ComposeVariables({}, env_files)
        for report in read_compose(compose_files, self.settings, variables):
            if report.path is not None:
                self.skip.add(str(report.path))
            if report.file is None:
                if report.error:
                    self.notes.append(f"compose file {report.display or report.requested}: {report.error}")
                continue
            for service in info.services.values():
                trace = fields.get(service.names_setting)
                names = set(trace.value if trace is not None and isinstance(trace.value, tuple) else (service.name,))
                for candidate in report.file.services.values():
                    if not names & {candidate.name, candidate.container_name, *candidate.aliases}:
                        continue
                    for endpoint in service.endpoints:
                        port_trace = fields.get(endpoint.container_port_setting)
                        container_port = port_trace.value if port_trace is not None else None
                        if not isinstance(container_port, int):
                            continue
                        item = InternalHost(service.name, endpoint.url_field, container_port)
                        for host in (candidate.name, candidate.container_name, *candidate.aliases):
                            if host:
                                self.add_internal(host, item)
                        for mapping in candidate.ports:
                            if mapping.container_port == container_port and mapping.host_port is not None:
                                where = f"{report.display}:{mapping.line}"
                                reason = f"published for {candidate.name} by {where}"
                                self.add_port(mapping.host_port, PortUse(endpoint.url_field, reason))

    def add_container_ports(self) -> None:
        # Last: a port only a container listens on (8000 while every profile says 8002) still belongs
        # to its service, but a profile's value or a compose mapping explains a port better.
        for port, use in self.container_ports:
            self.add_port(port, use)


def _profile_order(settings: ProjectSettings, available: Iterable[str]) -> list[str]:
    names = sorted(available)
    if settings.default_profile in names:
        names.remove(settings.default_profile)
        names.insert(0, settings.default_profile)
    return names


def build_index(project_dir: str | os.PathLike[str] | None = None, accessors: Iterable[str] = ()) -> ScanIndex:
    """What the scan of the project at ``project_dir`` (default: found from the cwd) compares code with.

    ``accessors`` adds call patterns (``get_env().get``) to those of ``[tool.layercfg] scan_accessors``.
    Raises :class:`LayercfgError` when the project itself cannot be read (its pyproject.toml or schema).
    """
    from .._load import builtin_profiles_apply
    from .._sources.profiles import available_profiles

    settings = find_project(project_dir)
    schema = settings.load_schema()
    builder = _Builder(settings)
    from .._model.fieldtable import schema_info

    builder.add_info(schema_info(schema, settings.env_prefix))
    available = available_profiles(settings, builtin_profiles_apply(settings, schema))
    builder.skip.update(str(path) for path in available.values())
    profiles = _profile_order(settings, available)
    for profile in profiles:
        builder.add_profile(profile, schema)
    builder.add_container_ports()
    fields = {
        name: FieldFacts(
            name=name,
            service=builder.services.get(name),
            values=tuple(
                (profile, _display(builder.values[name][profile], spec))
                for profile in profiles
                if profile in builder.values.get(name, {})
            ),
            env=spec.env,
            schemes=spec.schemes,
            attribute=spec.attribute,
        )
        for name, spec in builder.specs.items()
    }
    own = (*settings.scan_accessors, *accessors)
    return ScanIndex(
        project_dir=str(settings.project_dir),
        profiles=tuple(profiles),
        fields=fields,
        ports={port: tuple(uses) for port, uses in builder.ports.items()},
        internal={host: tuple(items) for host, items in builder.internal.items()},
        env_names=builder.env_names,
        ignored_names=frozenset({settings.profile_var}),
        accessors=tuple(dict.fromkeys(pattern.replace(" ", "") for pattern in own)),
        skip=frozenset(os.path.realpath(path) for path in builder.skip),
        notes=tuple(builder.notes),
    )


_ACCESSOR = re.compile(r"^[A-Za-z_*][\w*]*(\(\))?(\.[A-Za-z_*][\w*]*(\(\))?)*$")


def check_accessor(pattern: str) -> str | None:
    """Why ``pattern`` is not an accessor pattern (``get_env().get``, ``settings.env.get``), or None."""
    if not _ACCESSOR.match(pattern.replace(" ", "")):
        return f"accessor {pattern!r} is not a dotted call pattern such as 'get_env().get' or 'config.env.get'"
    return None


def relative_to_project(path: str, project_dir: str) -> str:
    """``path`` relative to the project (POSIX separators), or absolute when outside it."""
    absolute = os.path.abspath(path)
    inside = absolute.startswith(project_dir + os.sep)
    return (absolute[len(project_dir) + 1 :] if inside else absolute).replace(os.sep, "/")
