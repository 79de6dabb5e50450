"""The discovery layer: endpoints read from the running system and from compose files.

Two layers, both of kind ``discovery``: ports *declared* in the profile's compose files
(after compose interpolation from the env files and the environment), then ports
*published* by running containers, which beat declarations. Which services to look
for, their container ports and the time budget are ordinary config fields, so a
profile or a variable sets them like anything else.

Nothing here raises for a missing engine or file: each problem becomes a note in the
receipt (and an error only when the profile says ``discovery = "required"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ._docker import url_host
from ._project import ProjectSettings
from ._provenance import LayerKind, Origin
from ._schema import SchemaInfo
from ._sources import Entry, EnvFile, Layer
from .exceptions import DiscoveryError, LayercfgError

_PORT = re.compile(r"^[a-z][a-z0-9+.-]*://(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@attrs.frozen
class ServiceSpec:
    """One logical service to discover and the URL field it feeds."""

    service: str  # "backend"
    field: str  # "backend_url"
    names: tuple[str, ...]
    container_port: int


@attrs.frozen
class DiscoverySettings:
    mode: str  # "off" | "auto" | "required"
    budget: float
    compose_files: tuple[str, ...]
    project_directory: str | None
    project: str | None
    services: tuple[ServiceSpec, ...]


@attrs.frozen
class Declared:
    """A port a compose file declares for a service."""

    service: ServiceSpec
    compose_service: str
    path: str  # as displayed
    line: int
    text: str  # the mapping as written, e.g. "${ALPINE_TEST_BACKEND_PORT:-8002}:8000"
    url: str
    decided_by: str  # which variable (or default) decided the host port


@attrs.frozen
class ComposeReport:
    """What became of one compose file the profile names."""

    requested: str
    path: Path | None
    display: str | None
    moved: bool
    searched: tuple[str, ...]
    file: Any  # _compose.ComposeFile when parsed, else None
    error: str | None


@attrs.frozen
class DiscoveryReport:
    """Everything discovery saw, for the receipt and for ``layercfg doctor``."""

    settings: DiscoverySettings
    compose: tuple[ComposeReport, ...] = ()
    declared: Mapping[str, Declared] = attrs.Factory(dict)  # field -> declaration
    docker: Any = None  # _docker.DiscoveryResult when the engine was asked
    published: Mapping[str, Any] = attrs.Factory(dict)  # field -> _docker.PublishedPort
    notes: tuple[str, ...] = ()


def discovery_settings(values: Mapping[str, object], info: SchemaInfo) -> DiscoverySettings | None:
    """Read discovery's own settings from first-pass values; None when the schema has none."""
    if "discovery" not in info.fields:
        return None
    services = []
    for spec in info.fields.values():
        if spec.service is None:
            continue
        names = values.get(f"{spec.service}_service_names") or (spec.service,)
        port = values.get(f"{spec.service}_container_port")
        if isinstance(names, tuple) and isinstance(port, int):
            services.append(ServiceSpec(spec.service, spec.name, tuple(str(n) for n in names), port))
    compose_files = values.get("compose_files") or ()
    budget = values.get("docker_timeout")
    return DiscoverySettings(
        mode=str(values.get("discovery") or "off"),
        budget=float(budget) if isinstance(budget, (int, float)) else 2.0,
        compose_files=tuple(str(f) for f in compose_files) if isinstance(compose_files, tuple) else (),
        project_directory=_optional_str(values.get("compose_project_directory")),
        project=_optional_str(values.get("compose_project")),
        services=tuple(services),
    )


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class ComposeVariables:
    """Compose interpolation variables: the shell beats env files; later env files beat earlier."""

    def __init__(self, environ: Mapping[str, str], env_files: Sequence[EnvFile]) -> None:
        self.environ = environ
        self.env_files = env_files

    def lookup(self, name: str) -> str | None:
        if name in self.environ:
            return self.environ[name]
        for env_file in reversed(self.env_files):
            if name in env_file.values:
                return env_file.values[name][0]
        return None

    def origin(self, name: str) -> str:
        if name in self.environ:
            return f"env {name}"
        for env_file in reversed(self.env_files):
            if name in env_file.values:
                return f"{env_file.display}:{env_file.values[name][1]}"
        return "unset"


def port_of(url: str) -> int | None:
    """The port a URL connects to (explicit, or the scheme's default)."""
    match = _PORT.match(url)
    if not match:
        return None
    if match.group(1):
        return int(match.group(1))
    return _DEFAULT_PORTS.get(url.split(":", 1)[0])


def read_compose(
    compose_files: Sequence[str], project: ProjectSettings, variables: ComposeVariables
) -> list[ComposeReport]:
    """Find and parse compose files, each where named or in the usual places."""
    from ._compose import find_compose_file, load_compose_file

    reports = []
    for requested in compose_files:
        found = find_compose_file(requested, project.project_dir)
        searched = tuple(project.relative(path) for path in found.searched)
        if found.path is None:
            reports.append(ComposeReport(requested, None, None, False, searched, None, None))
            continue
        display = project.relative(found.path)
        try:
            parsed = load_compose_file(found.path, variables.lookup)
        except LayercfgError as exc:
            reports.append(ComposeReport(requested, found.path, display, found.moved, searched, None, str(exc)))
            continue
        reports.append(ComposeReport(requested, found.path, display, found.moved, searched, parsed, None))
    return reports


def _declared(service: ServiceSpec, reports: Sequence[ComposeReport], variables: ComposeVariables) -> Declared | None:
    """The first compose service matching ``service.names`` (in order) that publishes its container port."""
    for name in service.names:
        for report in reports:
            compose = report.file
            if compose is None:
                continue
            for candidate in compose.services.values():
                if name not in (candidate.name, candidate.container_name, *candidate.aliases):
                    continue
                for mapping in candidate.ports:
                    if mapping.container_port != service.container_port or mapping.host_port is None:
                        continue
                    url = f"http://{url_host(mapping.host_ip)}:{mapping.host_port}"
                    return Declared(
                        service,
                        candidate.name,
                        report.display or report.requested,
                        mapping.line,
                        mapping.text,
                        url,
                        _decided_by(mapping, variables),
                    )
    return None


def _decided_by(mapping: object, variables: ComposeVariables) -> str:
    interpolated = getattr(mapping, "interpolated", None)
    if interpolated is None:
        return "literal port"
    parts = []
    for use in interpolated.uses:
        if use.used_default:
            parts.append(f"{use.name} unset, default used")
        elif use.value is not None:
            parts.append(f"{use.name}={use.value} from {variables.origin(use.name)}")
    return "; ".join(parts) or "literal port"


def run_discovery(
    settings: DiscoverySettings,
    project: ProjectSettings,
    environ: Mapping[str, str],
    env_files: Sequence[EnvFile],
) -> tuple[list[Layer], DiscoveryReport, list[LayercfgError]]:
    """The compose and Docker layers (lowest first), what was seen, and errors (required mode only)."""
    if settings.mode == "off" or not settings.services:
        return [], DiscoveryReport(settings), []
    variables = ComposeVariables(environ, env_files)
    notes: list[str] = []
    reports = read_compose(settings.compose_files, project, variables)
    for report in reports:
        if report.path is None:
            notes.append(f"compose file {report.requested} not found (searched {', '.join(report.searched)})")
        elif report.moved:
            notes.append(f"compose file {report.requested} not found where named; using {report.display}")
        if report.error:
            notes.append(f"compose file {report.display}: {report.error}")
        compose = report.file
        if compose is not None:
            notes += list(compose.warnings)

    declared: dict[str, Declared] = {}
    compose_entries = []
    for service in settings.services:
        found = _declared(service, reports, variables)
        if found is None:
            continue
        declared[service.field] = found
        origin = Origin(
            LayerKind.DISCOVERY,
            f"compose service {found.compose_service}",
            f"{found.path}:{found.line}",
            f"{found.text}; {found.decided_by}",
        )
        compose_entries.append(Entry(service.field, found.url, origin))

    from ._docker import ServiceQuery, discover

    queries = [ServiceQuery(s.service, s.names, s.container_port, project=settings.project) for s in settings.services]
    result = discover(queries, budget=settings.budget, environ=environ)
    published = {}
    docker_entries = []
    errors: list[LayercfgError] = []
    if result.problem is not None:
        notes.append(
            f"docker: {result.problem.message} ({result.problem.kind}, {result.problem.elapsed * 1000:.0f} ms)"
        )
    for service in settings.services:
        outcome = result.services.get(service.service)
        if outcome is None:
            continue
        for problem in outcome.problems:
            notes.append(f"docker: {problem.message}")
        port = outcome.found
        if port is None:
            continue
        published[service.field] = port
        detail = (
            f"{port.matched_by} {port.matched_name}: {port.container_port}/{port.protocol} -> "
            f"{port.host_ip or '0.0.0.0'}:{port.host_port}"
        )
        origin = Origin(LayerKind.DISCOVERY, f"docker container {port.container_name}", None, detail)
        docker_entries.append(Entry(service.field, f"http://{port.url_host}:{port.host_port}", origin))
    if settings.mode == "required":
        missing = [s for s in settings.services if s.field not in published and s.field not in declared]
        for service in missing:
            why = result.problem.message if result.problem else "no running container or compose declaration"
            errors.append(
                DiscoveryError(
                    f"{service.field}: discovery is required but service {service.service} "
                    f"(names {', '.join(service.names)}) was not found: {why}"
                )
            )
    layers = [
        Layer(LayerKind.DISCOVERY, "discovery compose", tuple(compose_entries)),
        Layer(LayerKind.DISCOVERY, "discovery docker", tuple(docker_entries)),
    ]
    return layers, DiscoveryReport(settings, tuple(reports), declared, result, published, tuple(notes)), errors


def port_conflicts(report: DiscoveryReport, winners: Mapping[str, tuple[str, Origin]]) -> dict[str, str]:
    """field -> warning when the winning URL's port differs from the port a container publishes."""
    warnings = {}
    for field, published in report.published.items():
        if field not in winners:
            continue
        url, origin = winners[field]
        host_port = getattr(published, "host_port", None)
        if origin.layer is LayerKind.DISCOVERY or port_of(url) == host_port:
            continue
        name = getattr(published, "container_name", "?")
        warnings[field] = (
            f"{field} points at port {port_of(url)} ({origin}) but docker container {name} publishes "
            f"{getattr(published, 'container_port', '?')}/tcp on {host_port}; nothing may listen on {port_of(url)}"
        )
    return warnings
