"""The discovery layer: endpoints read from the running system and from compose files.

Two layers, both of kind ``discovery``: ports *declared* in the profile's compose files
(after compose interpolation from the env files and the environment), then ports
*published* by running containers, which beat declarations. What to look for comes from
the load's declared services (:class:`layercfg._model.schema.ServiceModel`): the names each runs
under, its container ports and its URL scheme, so a discovered port becomes a URL in the
service's own scheme, with the credentials its compose ``environment:`` declares.

Nothing here raises for a missing engine or file: each problem becomes a note in the
receipt (and an error only when the profile says ``discovery = "required"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Entry, Layer, LayerKind, Origin
from .._model.schema import ENGINE_DEFAULTS
from .._model.services import EndpointModel, ServiceModel
from ..exceptions import DiscoveryError, LayercfgError
from .env import EnvFile
from .project import ProjectSettings

if TYPE_CHECKING:
    from .compose import ComposeFile, ComposeService, PortMapping
    from .containers import DiscoveryResult, PublishedPort


@attrs.frozen
class Target:
    """One service endpoint to discover: where its URL goes and what it runs under."""

    service: ServiceModel
    endpoint: EndpointModel
    names: tuple[str, ...]
    container_port: int

    @property
    def label(self) -> str:
        return self.endpoint.label

    @property
    def field(self) -> str:
        return self.endpoint.url_field


@attrs.frozen
class DiscoverySettings:
    mode: str  # "off" | "auto" | "required"
    budget: float
    compose_files: tuple[str, ...]
    project_directory: str | None
    project: str | None
    targets: tuple[Target, ...]


@attrs.frozen
class Declared:
    """A port a compose file declares for a service endpoint."""

    target: Target
    compose_service: str
    path: str  # as displayed
    line: int
    text: str  # the mapping as written, e.g. "${ALPINE_TEST_BACKEND_PORT:-8002}:8000"
    url: str
    decided_by: str  # which variable (or default) decided the host port
    host_port: int


@attrs.frozen
class ComposeReport:
    """What became of one compose file the profile names."""

    requested: str
    path: Path | None
    display: str | None
    moved: bool
    searched: tuple[str, ...]
    file: ComposeFile | None
    error: str | None


@attrs.frozen
class DiscoveryReport:
    """Everything discovery saw, for the receipt and for ``layercfg doctor``."""

    settings: DiscoverySettings
    compose: tuple[ComposeReport, ...] = ()
    declared: Mapping[str, Declared] = attrs.Factory(dict)  # URL field -> declaration
    docker: DiscoveryResult | None = None  # when the engine was asked
    published: Mapping[str, PublishedPort] = attrs.Factory(dict)  # URL field -> published port
    notes: tuple[str, ...] = ()


def discovery_settings(setting: Callable[[str], object], info: SchemaInfo) -> DiscoverySettings:
    """Discovery's own settings and targets, as the other sources resolve them (bad values fall back
    to defaults here; the full resolution reports them with their source)."""

    def value(name: str, default: object) -> object:
        found = setting(name)
        return default if found is None else found

    targets = []
    for service in info.services.values():
        names = value(service.names_setting, (service.name,))
        for endpoint in service.endpoints:
            port = value(endpoint.container_port_setting, None)
            if isinstance(names, tuple) and isinstance(port, int):
                targets.append(Target(service, endpoint, tuple(str(n) for n in names), port))
    defaults = ENGINE_DEFAULTS
    compose_files = value("compose_files", defaults.compose_files)
    budget = value("docker_timeout", defaults.docker_timeout)
    return DiscoverySettings(
        mode=str(value("discovery", defaults.discovery)),
        budget=float(budget) if isinstance(budget, (int, float)) else defaults.docker_timeout,
        compose_files=tuple(str(f) for f in compose_files) if isinstance(compose_files, tuple) else (),
        project_directory=_optional_str(value("compose_project_directory", defaults.compose_project_directory)),
        project=_optional_str(value("compose_project", defaults.compose_project)),
        targets=tuple(targets),
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


def read_compose(
    compose_files: Sequence[str], project: ProjectSettings, variables: ComposeVariables
) -> list[ComposeReport]:
    """Find and parse compose files, each where named or in the usual places."""
    from .files import find_compose_file

    reports = []
    for requested in compose_files:
        found = find_compose_file(requested, project.project_dir)
        searched = tuple(project.relative(path) for path in found.searched)
        if found.path is None:
            reports.append(ComposeReport(requested, None, None, False, searched, None, None))
            continue
        display = project.relative(found.path)
        from .compose import load_compose_file  # the YAML reader, only for a file that exists

        try:
            parsed = load_compose_file(found.path, variables.lookup)
        except LayercfgError as exc:
            reports.append(ComposeReport(requested, found.path, display, found.moved, searched, None, str(exc)))
            continue
        reports.append(ComposeReport(requested, found.path, display, found.moved, searched, parsed, None))
    return reports


def compose_service_for(
    names: Sequence[str], reports: Sequence[ComposeReport]
) -> tuple[str, ComposeReport, ComposeService] | None:
    """The first compose service (in ``names`` order) that is named, or aliased, as one of ``names``."""
    for name in names:
        for report in reports:
            if report.file is None:
                continue
            for candidate in report.file.services.values():
                if name in (candidate.name, candidate.container_name, *candidate.aliases):
                    return name, report, candidate
    return None


def _credentials(
    target: Target, compose_service: ComposeService | None, report: ComposeReport | None
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """user/password/database a compose service declares in ``environment:``, with ``PATH:LINE``."""
    values: dict[str, str] = {}
    where: list[tuple[str, str]] = []
    if compose_service is None or report is None:
        return values, ()
    for part, variable in target.service.credentials_env:
        entry = compose_service.environment.get(variable)
        if entry is None or not entry.value:
            continue
        values[part] = entry.value
        where.append((part, f"{report.display or report.requested}:{entry.line} ({variable})"))
    return values, tuple(where)


def compose_url(target: Target, host: str, port: int, credentials: Mapping[str, str]) -> str:
    """A discovered endpoint as a URL in the service's own scheme, with the credentials it declares."""
    from .._model.urls import with_part

    url = f"{target.endpoint.scheme}://{host}:{port}"
    for part in ("user", "password", "database"):
        if part in credentials and (part != "database" or target.endpoint.scheme not in ("http", "https")):
            url = with_part(url, part, credentials[part])
    return url


def _declared(
    target: Target, reports: Sequence[ComposeReport], variables: ComposeVariables, engine_host: str | None
) -> Declared | None:
    """The first compose service matching the target's names (in order) that publishes its container port."""
    from .containers import url_host

    for name in target.names:
        match = compose_service_for((name,), reports)
        if match is None:
            continue
        _, report, candidate = match
        for mapping in candidate.ports:
            if mapping.container_port != target.container_port or mapping.host_port is None:
                continue
            credentials, _ = _credentials(target, candidate, report)
            return Declared(
                target,
                candidate.name,
                report.display or report.requested,
                mapping.line,
                mapping.text,
                compose_url(target, url_host(mapping.host_ip, engine_host), mapping.host_port, credentials),
                _decided_by(mapping, variables),
                mapping.host_port,
            )
    return None


def _decided_by(mapping: PortMapping, variables: ComposeVariables) -> str:
    interpolated = mapping.interpolated
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
    if settings.mode == "off" or not settings.targets:
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
        if report.file is not None and report.path is not None:
            # The reader names the file by its full path; receipts name it relative to the project.
            notes += [w.replace(str(report.path), report.display or report.requested) for w in report.file.warnings]

    from .containers import remote_engine_host

    declared: dict[str, Declared] = {}
    compose_entries = []
    engine_host = remote_engine_host(environ.get("DOCKER_HOST"))
    for target in settings.targets:
        found = _declared(target, reports, variables, engine_host)
        if found is None:
            continue
        declared[target.field] = found
        match = compose_service_for((found.compose_service,), reports)
        _, where = _credentials(target, match[2] if match else None, match[1] if match else None)
        origin = Origin(
            LayerKind.DISCOVERY,
            f"compose service {found.compose_service}",
            f"{found.path}:{found.line}",
            f"{found.text}; {found.decided_by}",
            parts=where,
        )
        compose_entries.append(Entry(target.field, found.url, origin))

    from .containers import ServiceQuery, discover

    queries = [ServiceQuery(t.label, t.names, t.container_port, project=settings.project) for t in settings.targets]
    result = discover(queries, budget=settings.budget, environ=environ)
    published: dict[str, PublishedPort] = {}
    docker_entries = []
    errors: list[LayercfgError] = []
    if result.problem is not None:
        notes.append(
            f"docker: {result.problem.message} ({result.problem.kind}, {result.problem.elapsed * 1000:.0f} ms)"
        )
    for target in settings.targets:
        outcome = result.services.get(target.label)
        if outcome is None:
            continue
        for problem in outcome.problems:
            notes.append(f"docker: {problem.message}")
        port = outcome.found
        if port is None:
            continue
        published[target.field] = port
        # Credentials come from the compose declaration of the container's own compose service.
        names = [n for n in (port.compose_service, port.container_name) if n]
        match = compose_service_for(names, reports) if names else None
        credentials, where = _credentials(target, match[2] if match else None, match[1] if match else None)
        detail = (
            f"{port.matched_by} {port.matched_name}: {port.container_port}/{port.protocol} -> "
            f"{port.host_ip or '0.0.0.0'}:{port.host_port}"
        )
        origin = Origin(
            LayerKind.DISCOVERY,
            f"docker container {port.container_name}",
            None,
            detail,
            parts=where,
            container=port.container_name,
        )
        docker_entries.append(
            Entry(target.field, compose_url(target, port.url_host, port.host_port, credentials), origin)
        )
    if settings.mode == "required":
        errors += _required_errors(settings, result, published, declared)
    layers = [
        Layer(LayerKind.DISCOVERY, "discovery compose", tuple(compose_entries)),
        Layer(LayerKind.DISCOVERY, "discovery docker", tuple(docker_entries)),
    ]
    seen = DiscoveryReport(settings, tuple(reports), declared, result, published, tuple(notes))
    return layers, seen, errors


def _required_errors(
    settings: DiscoverySettings,
    result: DiscoveryResult,
    published: Mapping[str, PublishedPort],
    declared: Mapping[str, Declared],
) -> list[LayercfgError]:
    """Required means running, and only one: a compose declaration alone does not satisfy it, and
    several matching containers are an error naming every one of them."""
    errors: list[LayercfgError] = []
    for target in settings.targets:
        port = published.get(target.field)
        head = f"{target.field}: discovery is required but service {target.label}"
        if port is None:
            if result.problem is not None:
                why = result.problem.message
            elif target.field in declared:
                found = declared[target.field]
                why = (
                    f"no container runs; {found.path}:{found.line} only declares compose service "
                    f"{found.compose_service} (start it: docker compose -f {found.path} up -d {found.compose_service})"
                )
            else:
                why = "no running container and no compose declaration"
            errors.append(
                DiscoveryError(f"{head} (names {', '.join(target.names)}) is not running: {why}", field=target.field)
            )
            continue
        outcome = result.services.get(target.label)
        others = outcome.others if outcome is not None else ()
        if others:
            every = ", ".join(
                f"{p.container_name} (project {p.compose_project or '-'}, {p.host_ip or '0.0.0.0'}:{p.host_port})"
                for p in (port, *others)
            )
            errors.append(
                DiscoveryError(
                    f"{head} matches {1 + len(others)} running containers: {every}; select one stack with "
                    "compose_project (a project name or a pattern such as 'netra-*'), or stop the others",
                    field=target.field,
                )
            )
    return errors
