"""``layercfg doctor``: what breaks a test environment, found before a test does.

Each finding has a stable check id, a severity (``error``, ``warning``, ``info``), a
message and a ``PATH:LINE`` where there is one. Check ids (docs/doctor.md):

profile.valid, profile.invalid, value.invalid, file.unreadable, discovery.required,
compose.found, compose.missing, compose.moved, compose.invalid, compose.interpolation,
compose.context-missing, compose.dockerfile-missing, compose.service-found,
compose.service-renamed, compose.service-missing, port.conflict, port.duplicate, legacy.disagree,
docker.reachable, docker.unreachable, endpoint.reachable, endpoint.unreachable,
fallback.active, fallback.inactive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._load import Resolution, Trace, resolve
from ._model.provenance import FieldTrace, LayerKind, Status
from ._model.schema import ENGINE_DEFAULTS
from ._model.secrets import display, mask_text, text
from ._sources.discovery import ComposeReport, ComposeVariables, compose_service_for, read_compose
from ._sources.files import resolved
from ._sources.project import ProjectSettings
from ._views.render import secret_values
from .exceptions import (
    ConversionError,
    DiscoveryError,
    LayercfgError,
    SourceError,
    UnreadableFileError,
)

if TYPE_CHECKING:
    from ._sources.compose import ComposeService

SEVERITIES = ("error", "warning", "info")


@attrs.frozen
class Finding:
    check: str
    severity: str  # "error" | "warning" | "info"
    message: str
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "message": self.message, "location": self.location}


def _error_finding(error: LayercfgError) -> Finding:
    if isinstance(error, ConversionError):
        return Finding("value.invalid", "error", str(error), error.origin.location if error.origin else None)
    if isinstance(error, DiscoveryError):
        return Finding("discovery.required", "error", str(error))
    location = error.location if isinstance(error, SourceError) else None
    message = str(error)
    if location and message.startswith(f"{location}: "):
        message = message[len(location) + 2 :]
    check = "file.unreadable" if isinstance(error, UnreadableFileError) else "profile.invalid"
    return Finding(check, "error", message, location)


def run_doctor(
    *,
    profile: str | None = None,
    project_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    compose_files: Sequence[str] = (),
    project_directory: str | None = None,
    probe: bool = True,
) -> list[Finding]:
    """Every finding, errors first; never raises for a problem it can report."""
    import os

    environ = os.environ if environ is None else environ
    try:
        resolution = resolve(
            profile=profile, project_dir=project_dir, environ=environ, overrides=overrides, override_source="--set"
        )
    except LayercfgError as exc:  # unknown profile, cycle: nothing else can be checked
        return [_error_finding(exc)]
    findings = [_error_finding(error) for error in resolution.errors]
    trace = resolution.trace
    secrets = secret_values(trace)
    if not resolution.errors:
        findings.append(
            Finding(
                "profile.valid",
                "info",
                f"profiles {', '.join(trace.profiles) or '(none)'} resolve: {len(trace.fields)} fields",
            )
        )
    findings += _compose_checks(resolution, environ, compose_files, project_directory)
    findings += _env_file_path_checks(resolution)
    findings += _port_checks(resolution)
    findings += _legacy_checks(trace, secrets)
    findings += _docker_check(resolution, environ)
    if probe and not resolution.errors:
        findings += _endpoint_checks(trace)
    findings += _fallback_check(trace)
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(
        (attrs.evolve(f, message=mask_text(f.message, secrets)) for f in findings), key=lambda f: order[f.severity]
    )


def _value(trace: Trace, name: str) -> Any:
    field = trace.fields.get(name)
    return None if field is None else field.value


def _compose_checks(
    resolution: Resolution, environ: Mapping[str, str], requested: Sequence[str], project_directory: str | None
) -> list[Finding]:
    trace = resolution.trace
    project = resolution.project
    files = tuple(requested) or tuple(_value(trace, "compose_files") or ())
    if not files:
        return []
    named_at = _origin_text(trace.fields.get("compose_files")) if not requested else "--compose-file"
    if not requested and resolution.discovery is not None and resolution.compose:
        reports: Sequence[ComposeReport] = resolution.compose  # read once, by discovery
    else:
        reports = read_compose(files, project, ComposeVariables(environ, resolution.env_files))
    findings: list[Finding] = []
    for report in reports:
        findings += _compose_file_findings(report, named_at)
    parsed = [report for report in reports if report.file is not None]
    if not parsed:
        return findings
    first = parsed[0].path
    assert first is not None
    base = project_directory or _value(trace, "compose_project_directory")
    compose_project = resolved(project.project_dir / base) if base else first.parent
    findings += _build_findings(parsed, compose_project, project.project_dir, project)
    findings += _service_findings(parsed, trace)
    findings += _duplicate_port_findings(parsed)
    return findings


def _duplicate_port_findings(reports: Sequence[ComposeReport]) -> list[Finding]:
    """Two compose services publishing one host port: only one can start, and both URLs point at it."""
    owners: dict[tuple[int, str], tuple[str, str]] = {}
    findings = []
    for report in reports:
        for service in _services(report):
            for mapping in service.ports:
                if mapping.host_port is None:
                    continue
                key = (mapping.host_port, mapping.protocol)
                where = f"{report.display}:{mapping.line}"
                first = owners.setdefault(key, (service.name, where))
                if first[0] != service.name:
                    findings.append(
                        Finding(
                            "port.duplicate",
                            "error",
                            f"compose services {first[0]} ({first[1]}) and {service.name} both publish host port "
                            f"{mapping.host_port}/{mapping.protocol}: only one of them can start",
                            where,
                        )
                    )
    return findings


def _origin_text(field: FieldTrace | None) -> str:
    if field is None:
        return "compose_files"
    origin = field.winner.origin
    return f"compose_files, set by {origin.source}" + (f" at {origin.location}" if origin.location else "")


def _compose_file_findings(report: ComposeReport, named_at: str) -> list[Finding]:
    if report.path is None:
        return [
            Finding(
                "compose.missing",
                "error",
                f"compose file {report.requested} ({named_at}) not found; searched {', '.join(report.searched)}",
            )
        ]
    findings = []
    if report.moved:
        findings.append(
            Finding(
                "compose.moved",
                "warning",
                f"compose file {report.requested} ({named_at}) is not there; found {report.display} instead "
                f"(point compose_files at {report.display})",
                report.display,
            )
        )
    else:
        findings.append(Finding("compose.found", "info", f"compose file {report.display}", report.display))
    if report.error:
        findings.append(Finding("compose.invalid", "error", report.error, report.display))
    for warning in report.file.warnings if report.file is not None else ():
        location, _, message = str(warning).partition(": ")
        findings.append(Finding("compose.interpolation", "warning", message or location, location if message else None))
    return findings


def _services(report: ComposeReport) -> list[ComposeService]:
    return list(report.file.services.values()) if report.file is not None else []


def _build_findings(
    reports: Sequence[ComposeReport], compose_project: Path, search_root: Path, project: ProjectSettings
) -> list[Finding]:
    from ._sources.compose import resolve_build

    findings = []
    for report in reports:
        for service in _services(report):
            spec = service.build
            if spec is None:
                continue
            resolved = resolve_build(spec, compose_project, search_root)
            base = project.relative(compose_project)
            where = f"{report.display}:{spec.dockerfile_line or spec.line}"
            if not resolved.context_exists:
                findings.append(
                    Finding(
                        "compose.context-missing",
                        "error",
                        f"service {service.name}: build context {spec.context_text!r} resolves to "
                        f"{project.relative(resolved.context)} (relative to the compose project directory "
                        f"{base}/), which does not exist",
                        f"{report.display}:{spec.line}",
                    )
                )
            elif not resolved.dockerfile_exists:
                found = f"; found {project.relative(resolved.suggestion)}" if resolved.suggestion else ""
                findings.append(
                    Finding(
                        "compose.dockerfile-missing",
                        "error",
                        f"service {service.name}: dockerfile {spec.dockerfile_text or 'Dockerfile'} resolves to "
                        f"{project.relative(resolved.dockerfile)} (context {spec.context_text!r} is relative to "
                        f"{base}/), which does not exist{found}",
                        where,
                    )
                )
    return findings


def _service_findings(reports: Sequence[ComposeReport], trace: Trace) -> list[Finding]:
    findings = []
    services = [(report, svc) for report in reports for svc in _services(report)]
    defined = sorted({svc.name for _, svc in services})
    assert trace.info is not None
    for service in trace.info.services.values():
        names = tuple(_value(trace, service.names_setting) or ())
        match = compose_service_for(names, reports)
        if match is None:
            # A stack need not run every service (a database may run elsewhere): missing is a warning for
            # the first service and for one whose names were set on purpose, a note for the others.
            chosen = trace.fields[service.names_setting].winner.origin.layer is not LayerKind.DEFAULT
            first = service is next(iter(trace.info.services.values()))
            findings.append(
                Finding(
                    "compose.service-missing",
                    "warning" if chosen or first else "info",
                    f"{service.name}: none of {', '.join(names)} is a service, container name or alias in "
                    f"the compose files (they define {', '.join(defined)}); set [services.{service.name}] names "
                    f"in a profile (or {trace.info.fields[service.names_setting].env})",
                )
            )
            continue
        name, report, svc = match
        location = f"{report.display}:{svc.line}"
        how = "service" if name == svc.name else ("container name" if name == svc.container_name else "alias")
        message = f"{service.name} is compose service {svc.name} ({how} {name!r}) in {report.display}"
        findings.append(Finding("compose.service-found", "info", message, location))
        if names and names[0] != svc.name:
            also = f" ({names[0]!r} is only its {how})" if name == names[0] else ""
            findings.append(
                Finding(
                    "compose.service-renamed",
                    "info",
                    f"{service.name}: no compose service is named {names[0]!r}{also}; `docker compose up "
                    f"{names[0]}` and lookups by compose service label will not find {svc.name}",
                    location,
                )
            )
    return findings


def _env_file_path_checks(resolution: Resolution) -> list[Finding]:
    """Variables like BACKEND_DOCKERFILE in the profile's env files that name files which do not exist."""
    from ._sources.compose import suggest_dockerfile

    findings = []
    root = resolution.project.project_dir
    for env_file in resolution.env_files:
        for name, (value, line) in env_file.values.items():
            if not name.endswith("_DOCKERFILE") or not value:
                continue
            if (root / value).exists():
                continue
            suggestion = suggest_dockerfile(value, root)
            found = f"; found {resolution.project.relative(suggestion)}" if suggestion else ""
            findings.append(
                Finding(
                    "env.dockerfile-missing",
                    "warning",
                    f"{name}={value} names {resolution.project.relative(root / value)}, which does not exist{found}",
                    f"{env_file.display}:{line}",
                )
            )
    return findings


def _port_checks(resolution: Resolution) -> list[Finding]:
    """port.conflict for each conflict the resolution's discovery found (one rule: _discovery.port_conflicts)."""
    from ._resolve.conflicts import port_conflicts

    report = resolution.discovery
    if report is None:
        return []
    trace = resolution.trace
    findings = []
    for conflict in port_conflicts(report, trace.fields):
        field = trace.fields[conflict.field]
        points = f"{_who(field)} points at {_hostport(field.value)}"
        if conflict.published is not None:
            container = conflict.published
            message = f"{points} but the {container.container_name} container publishes {container.host_port}"
            location = field.winner.origin.location
        else:
            declared = conflict.declared
            assert declared is not None
            message = (
                f"{points} but compose service {declared.compose_service} declares {declared.text} "
                f"({declared.decided_by})"
            )
            location = f"{declared.path}:{declared.line}"
        findings.append(Finding("port.conflict", "warning", message, location))
    return findings


def _who(field: FieldTrace) -> str:
    origin = field.winner.origin
    if origin.layer is LayerKind.ENVIRONMENT and origin.variable:
        return origin.variable
    return f"{field.name} (set by {origin.source})"


def _hostport(url: object) -> str:
    text_url = str(url)
    rest = text_url.split("://", 1)[-1]
    return rest.split("/", 1)[0]


def _legacy_checks(trace: Trace, secrets: Sequence[str]) -> list[Finding]:
    findings = []
    for field in trace.fields.values():
        resolved = str(display(field.value, secret=field.secret))
        for candidate in field.candidates:
            origin = candidate.origin
            legacy = origin.naming in ("alias", "port-variable", "switch")
            if candidate.status is Status.WON or not legacy:
                continue
            if origin.layer not in (LayerKind.ENVIRONMENT, LayerKind.ENV_FILE):
                continue
            if str(candidate.raw) == str(field.value) or _same_url(candidate.raw, field.value):
                continue
            shown = text(display(candidate.raw, secret=field.secret))
            variable = origin.variable
            findings.append(
                Finding(
                    "legacy.disagree",
                    "warning",
                    f"{variable}={shown} disagrees with the resolved {field.name}={resolved} "
                    f"(set by {field.winner.origin.layer.label}: {field.winner.origin.source}); code that still "
                    f"reads {variable} gets a different value",
                    origin.location,
                )
            )
    return findings


def _same_url(a: object, b: object) -> bool:
    """localhost:8002 and 127.0.0.1:8002 are one endpoint, not a disagreement."""
    from ._model.urls import same_endpoint

    return isinstance(a, str) and isinstance(b, str) and "://" in a and same_endpoint(a, b)


def _docker_check(resolution: Resolution, environ: Mapping[str, str]) -> list[Finding]:
    trace = resolution.trace
    mode = _value(trace, "discovery")
    if mode is None:
        return []
    report = resolution.discovery
    if report is not None and report.docker is not None:
        problem = report.docker.problem  # discovery asked the engine already: never pay its budget twice
    else:
        from ._sources.containers import check_engine

        budget = _value(trace, "docker_timeout") or ENGINE_DEFAULTS.docker_timeout
        problem = check_engine(budget=float(budget), environ=environ)
    if problem is None:
        return [Finding("docker.reachable", "info", "Docker engine answers")]
    severity = "error" if mode == "required" else "warning"
    return [
        Finding("docker.unreachable", severity, f"{problem.message} ({problem.kind}, {problem.elapsed * 1000:.0f} ms)")
    ]


def _endpoint_checks(trace: Trace) -> list[Finding]:
    """Probe every service endpoint the way its service is probed (HTTP health, TCP) and the WebSocket URL."""
    from ._resolve.probe import ProbeRequest, probe_all

    assert trace.info is not None
    health = _value(trace, "health_path")
    requests: dict[str, ProbeRequest] = {}
    for service in trace.info.services.values():
        for endpoint in service.endpoints:
            value = _value(trace, endpoint.url_field)
            if not isinstance(value, str) or not value:
                continue
            if service.probe == "http" and endpoint is service.main:
                path = service.health_path or (health if isinstance(health, str) else None)
                requests[endpoint.url_field] = ProbeRequest(value, "http", health_path=path)
            elif service.probe == "websocket" and endpoint is service.main:
                requests[endpoint.url_field] = ProbeRequest(value, "websocket")
            else:
                requests[endpoint.url_field] = ProbeRequest(value, "tcp")
    for name, spec in trace.info.fields.items():
        value = _value(trace, name)
        if spec.schemes and set(spec.schemes) <= {"ws", "wss"} and spec.staging and isinstance(value, str) and value:
            requests[name] = ProbeRequest(value, "websocket")
    budget = float(_value(trace, "probe_timeout") or ENGINE_DEFAULTS.probe_timeout)
    results = probe_all(list(requests.values()), budget=budget)
    findings = []
    for name, request in requests.items():
        result = results[request]
        origin = trace.fields[name].winner.origin
        source = f"{origin.layer.label}: {origin.source}"
        if result.ok:
            findings.append(Finding("endpoint.reachable", "info", f"{name}: {result.describe()}", origin.location))
        else:
            findings.append(
                Finding(
                    "endpoint.unreachable", "warning", f"{name}: {result.describe()} (set by {source})", origin.location
                )
            )
    return findings


def _fallback_check(trace: Trace) -> list[Finding]:
    report = trace.fallback
    if report is None or report.mode == "off":
        return []
    if report.switched:
        return [Finding("fallback.active", "warning", f"staging fallback in use: {report.reason}")]
    return [Finding("fallback.inactive", "info", f"fallback {report.mode}: {report.reason}")]


def split_ignored(findings: Sequence[Finding], ignore: Sequence[str]) -> tuple[list[Finding], list[Finding]]:
    """(kept, ignored): the findings whose check a project accepts are set aside, never lost."""
    accepted = set(ignore)
    kept = [f for f in findings if f.check not in accepted]
    return kept, [f for f in findings if f.check in accepted]


_LABELS = {"error": "error", "warning": "warn", "info": "info"}


def findings_text(findings: Sequence[Finding], ignored: Sequence[Finding]) -> list[str]:
    """``layercfg doctor``'s lines: one per finding, then the counts (and what the project accepts)."""
    lines = []
    for f in findings:
        where = f"  {f.location}" if f.location else ""
        lines.append(f"{_LABELS[f.severity]:<6} {f.check}{where}  {f.message}")
    counts = {s: sum(f.severity == s for f in findings) for s in _LABELS}
    summary = f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes"
    if ignored:
        checks = ", ".join(sorted({f.check for f in ignored}))
        summary += f"; {len(ignored)} accepted ({checks}: --ignore / doctor_ignore)"
    return [*lines, summary]
