"""What ``up`` is asked to do: the lifecycle settings with their receipts, and the services to start."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .._model.schema import ENGINE_DEFAULTS
from ..exceptions import ConfigError, StackError

if TYPE_CHECKING:
    from .._load import Trace
    from .._sources.discovery import ComposeReport
    from .._sources.project import ProjectSettings


@attrs.frozen
class Settings:
    """The lifecycle's settings for one ``up`` or ``down``, read from a load's receipt."""

    lifecycle: str
    lifecycle_source: str  # where the lifecycle came from, for the receipt: "default", "env NETRA_LIFECYCLE"
    services: tuple[str, ...]
    compose_files: tuple[str, ...]
    compose_project: str | None
    project_directory: str | None
    timeout: float  # docker_startup_timeout
    docker_timeout: float
    fallback: str


def settings_of(trace: Trace) -> Settings:
    """The lifecycle's settings in ``trace``; one the receipt lacks (or holds no value for) has the
    engine's default."""
    fields = trace.fields

    def value(name: str) -> Any:
        found = fields.get(name)
        return getattr(ENGINE_DEFAULTS, name) if found is None or found.value is None else found.value

    def seconds(name: str) -> float:
        found = value(name)
        return float(found) if isinstance(found, (int, float)) else float(getattr(ENGINE_DEFAULTS, name))

    found = fields.get("lifecycle")
    return Settings(
        lifecycle=str(value("lifecycle")),
        lifecycle_source="default" if found is None else str(found.winner.origin),
        services=tuple(str(s) for s in value("lifecycle_services")),
        compose_files=tuple(str(f) for f in value("compose_files")),
        compose_project=value("compose_project") or None,
        project_directory=value("compose_project_directory") or None,
        timeout=seconds("docker_startup_timeout"),
        docker_timeout=seconds("docker_timeout"),
        fallback=str(value("fallback")),
    )


def settings_trace(
    cfg: Any,
    schema: type[Any] | None,
    profile: str | Sequence[str] | None,
    project_dir: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, object] | None,
    override_source: str,
) -> tuple[Trace, ProjectSettings, Sequence[Any]]:
    """The settings' receipt, the project and its env files: from ``cfg``, else a load.

    That load has no discovery and no fallback: the lifecycle's settings come from profiles, env
    files, variables and overrides, and asking the engine about containers is the next step's job.
    """
    from .._sources.project import find_project

    if cfg is not None:
        from .._load import provenance

        trace = provenance(cfg)
        return trace, find_project(trace.project_dir), ()
    from .._load import resolve
    from .._model.provenance import LayerKind
    from .._precedence import SOURCES

    resolution = resolve(
        schema,
        profile=profile,
        project_dir=project_dir,
        environ=environ,
        overrides=overrides,
        override_source=override_source,
        fallback="off",
        sources=tuple(source for source in SOURCES if source.kind is not LayerKind.DISCOVERY),
    )
    if resolution.errors:
        raise ConfigError(resolution.errors)
    return resolution.trace, resolution.project, resolution.env_files


def services_to_start(
    wanted: Sequence[str], trace: Trace, reports: Sequence[ComposeReport]
) -> tuple[list[str], list[str]]:
    """The compose services to bring up, and notes. ``wanted`` empty: every service of the load
    that the compose files declare. A logical service name (``backend``) maps to its compose service."""
    from .._sources.discovery import compose_service_for

    declared = [name for report in reports if report.file is not None for name in report.file.services]
    info = trace.info
    logical: dict[str, tuple[str, ...]] = {}
    if info is not None:
        for model in info.services.values():
            names_trace = trace.fields.get(model.names_setting)
            value = names_trace.value if names_trace is not None else None
            logical[model.name] = tuple(value) if isinstance(value, tuple) else (model.name,)
    notes: list[str] = []
    chosen: list[str] = []
    if not wanted:
        for candidates in logical.values():
            match = compose_service_for(candidates, reports)
            if match is not None and match[2].name not in chosen:
                chosen.append(match[2].name)
        if not chosen:
            raise StackError(
                f"no service of the load is declared in the compose files (they declare {', '.join(declared)}); "
                "set lifecycle_services",
                kind="unknown-service",
            )
        return chosen, notes
    for name in wanted:
        if name in declared:
            chosen.append(name)
            continue
        if name in logical:
            match = compose_service_for(logical[name], reports)
            if match is not None:
                chosen.append(match[2].name)
                continue
        from .._model.schema import suggest

        hint = suggest(name, [*declared, *logical])
        advice = f"; did you mean {hint!r}?" if hint else ""
        raise StackError(
            f"unknown service {name!r}{advice} (the compose files declare {', '.join(declared) or 'none'})",
            kind="unknown-service",
            service=name,
        )
    return list(dict.fromkeys(chosen)), notes
