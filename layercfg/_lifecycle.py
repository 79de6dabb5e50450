"""The stack's lifecycle: find what runs, start what is missing, stop what this run started.

:func:`up` reads the load's ``lifecycle``, ``lifecycle_services``, ``compose_files``,
``compose_project``, ``compose_project_directory`` and ``docker_startup_timeout`` settings (with
their receipts), asks the real Compose v2 CLI (:mod:`layercfg._compose_cli`) what runs in the
project, and runs ``up -d --wait`` for the services that are missing. Every decision is a
receipt (:class:`ServiceOutcome`); every failure a :class:`layercfg.StackError` naming the
service, with the last lines of its log, or, when staging fallback is on, the fallback's reason.

What a run started is recorded in ``.layercfg/lifecycle/PROJECT.json`` under the project
directory, so ``layercfg down`` (and :meth:`StackReport.stop`) stop that and only that.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import attrs

from ._schema import ENGINE_DEFAULTS
from .exceptions import ConfigError, LayercfgError, StackError

if TYPE_CHECKING:
    from ._compose_cli import ComposeCommand, ContainerState
    from ._discovery import ComposeReport
    from ._load import Trace
    from ._project import ProjectSettings

__all__ = ["ServiceOutcome", "StackReport", "down", "stop_started", "up"]

MODES: Final = ("off", "reuse", "start", "start-and-stop")
LOG_LINES: Final = 20
POLL_EVERY: Final = 0.5
PROGRESS_EVERY: Final = 5.0
# A compose command other than `up` (ps, logs, stop, down) that takes longer than this is stuck.
COMMAND_TIMEOUT: Final = 120.0
# `up --wait` gets docker_startup_timeout through --wait-timeout; the process itself this much more.
UP_GRACE: Final = 30.0
STATE_DIR: Final = ".layercfg/lifecycle"


@attrs.frozen
class ServiceOutcome:
    """What became of one compose service: the receipt of one decision."""

    service: str  # the compose service
    action: str  # "reused" | "started" | "not-running" | "failed"
    detail: str  # "running since 09:12:03, 8000/tcp -> 0.0.0.0:32768", "healthy after 2.1 s", ...
    container: str | None = None
    elapsed: float | None = None  # seconds until ready, for a started service
    requested: bool = True  # False: a dependency compose started for a requested service
    ports: tuple[str, ...] = ()

    def receipt(self) -> str:
        """One line: ``backend  started  healthy after 2.1 s``."""
        return f"{self.service:<22} {self.action:<10} {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "detail": self.detail,
            "container": self.container,
            "elapsed": self.elapsed,
            "requested": self.requested,
            "ports": list(self.ports),
        }


@attrs.frozen
class _Runner:
    """How to run compose for one project (kept by the report so it can stop what it started)."""

    command: ComposeCommand
    base: tuple[str, ...]  # -p NAME -f FILE... --project-directory DIR [--env-file F]...
    env: Mapping[str, str] = attrs.field(repr=False)
    cwd: str

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> Any:
        from ._compose_cli import run

        return run(self.command, [*self.base, *args], self.env, timeout=timeout, cwd=self.cwd)

    def ps(self) -> list[ContainerState]:
        from ._compose_cli import last_lines, parse_ps

        done = self.run("ps", "--all", "--format", "json")
        if not done.ok:
            raise _compose_error("ps", done, self.command, None)
        try:
            return parse_ps(done.stdout)
        except ValueError:
            raise StackError(
                f"{self.command.describe()}: cannot read `ps --format json`: {last_lines(done.stdout, 3)}",
                kind="compose",
            ) from None

    def logs(self, service: str) -> str:
        done = self.run("logs", "--no-color", "--tail", str(LOG_LINES), service, timeout=30.0)
        return done.stdout.strip() if done.ok else ""


@attrs.frozen
class StackReport:
    """The outcome of :func:`up`: what runs, what this run started, and how to stop that.

    ``with layercfg.up(...) as stack:`` stops what the run started on exit when the lifecycle is
    ``start-and-stop``; :meth:`stop` does it explicitly, whatever the lifecycle. ``config`` is a
    fresh load made after the stack came up (when :func:`up` loaded the config itself), so
    discovery reads the ports the containers really publish.
    """

    project: str
    compose: str  # "docker compose v2.40.3 (docker-compose on PATH)"
    engine: str  # "unix:///var/run/docker.sock"
    engine_source: str  # why that engine: "DOCKER_HOST=...", "found Docker Desktop's socket ..."
    files: tuple[str, ...]  # the compose files, as shown in receipts
    project_directory: str
    lifecycle: str  # the mode used
    lifecycle_source: str  # where it came from: "default", "env NETRA_LIFECYCLE", "up(lifecycle=...)"
    services: tuple[ServiceOutcome, ...]
    started: tuple[str, ...]  # compose services this run started (requested ones and dependencies)
    created: tuple[str, ...]  # of those, the ones whose containers this run created
    timeout: float  # docker_startup_timeout, the --wait-timeout
    elapsed: float
    notes: tuple[str, ...] = ()
    error: StackError | None = None  # a start that failed while staging fallback was on
    fallback_reason: str | None = None
    config: Any = None
    state_file: str | None = None
    _runner: _Runner | None = attrs.field(default=None, repr=False, eq=False, alias="runner")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stops_at_end(self) -> bool:
        """True when the lifecycle says what this run started is stopped at its end."""
        return self.lifecycle == "start-and-stop"

    def stop(self) -> tuple[str, ...]:
        """Stop (and remove the containers of) what this run started, and only that; one receipt line each."""
        if self._runner is None or not self.started:
            return ("nothing to stop: this run started nothing",)
        return _stop(self._runner, self.project, self.started, self.created, self.state_file)

    def __enter__(self) -> StackReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.stops_at_end:
            self.stop()

    def header(self) -> str:
        compose = self.compose or "compose not run (every service already runs)"
        return f"layercfg: {compose}, project {self.project}, engine {self.engine} ({self.engine_source})"

    def summary(self) -> str:
        """One line: ``stack netra-alpine-test: 2 reused, 3 started in 11.9 s; will stop the 3 it started``."""
        if self.error is not None:
            first = str(self.error).splitlines()[0]
            name = self.project or "(unnamed)"
            return f"stack {name}: start failed ({self.error.kind}: {first}); {self.fallback_reason}"
        reused = sum(1 for outcome in self.services if outcome.action == "reused")
        text = f"stack {self.project}: {reused} reused, {len(self.started)} started in {self.elapsed:.1f} s"
        if self.stops_at_end and self.started:
            text += f"; will stop the {len(self.started)} it started"
        return text

    def lines(self) -> list[str]:
        """The receipts as ``layercfg up`` prints them."""
        lines = [self.header()]
        lines += [f"  {outcome.receipt()}" for outcome in self.services]
        lines += [f"  note: {note}" for note in self.notes]
        if self.error is not None:
            lines.append(f"  start failed: {self.error}")
        if self.fallback_reason:
            lines.append(f"  fallback: {self.fallback_reason}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "compose": self.compose,
            "engine": self.engine,
            "engine_source": self.engine_source,
            "files": list(self.files),
            "project_directory": self.project_directory,
            "lifecycle": self.lifecycle,
            "lifecycle_source": self.lifecycle_source,
            "timeout": self.timeout,
            "elapsed": round(self.elapsed, 3),
            "services": [outcome.to_json() for outcome in self.services],
            "started": list(self.started),
            "created": list(self.created),
            "notes": list(self.notes),
            "error": None
            if self.error is None
            else {"kind": self.error.kind, "service": self.error.service, "message": str(self.error)},
            "fallback": self.fallback_reason,
            "state_file": self.state_file,
        }


# --- settings ----------------------------------------------------------------------------------


@attrs.frozen
class _Settings:
    lifecycle: str
    lifecycle_source: str
    services: tuple[str, ...]
    compose_files: tuple[str, ...]
    compose_project: str | None
    project_directory: str | None
    timeout: float
    docker_timeout: float
    fallback: str


def _settings(trace: Trace) -> _Settings:
    fields = trace.fields

    def value(name: str, default: Any) -> Any:
        found = fields.get(name)
        return default if found is None or found.value is None else found.value

    def source(name: str) -> str:
        found = fields.get(name)
        return "default" if found is None else str(found.winner.origin)

    timeout = value("docker_startup_timeout", ENGINE_DEFAULTS.docker_startup_timeout)
    docker_timeout = value("docker_timeout", ENGINE_DEFAULTS.docker_timeout)
    return _Settings(
        lifecycle=str(value("lifecycle", "off")),
        lifecycle_source=source("lifecycle"),
        services=tuple(str(s) for s in value("lifecycle_services", ())),
        compose_files=tuple(str(f) for f in value("compose_files", ())),
        compose_project=value("compose_project", None) or None,
        project_directory=value("compose_project_directory", None) or None,
        timeout=float(timeout) if isinstance(timeout, (int, float)) else ENGINE_DEFAULTS.docker_startup_timeout,
        docker_timeout=float(docker_timeout)
        if isinstance(docker_timeout, (int, float))
        else ENGINE_DEFAULTS.docker_timeout,
        fallback=str(value("fallback", "off")),
    )


_PROJECT_NAME_JUNK = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """A compose project name the way compose derives one from a directory name."""
    return _PROJECT_NAME_JUNK.sub("", name.lower()).lstrip("_-")


def _declared_name(path: Path) -> str | None:
    """A compose file's top-level ``name:`` (a plain value only; compose itself interpolates)."""
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("name:"):
                name = line.partition(":")[2].split("#")[0].strip().strip("'\"")
                return name if name and "$" not in name else None
    except OSError:
        return None
    return None


# --- the compose project of a load -------------------------------------------------------------


@attrs.frozen
class _Project:
    name: str
    name_source: str
    files: tuple[Path, ...]
    displays: tuple[str, ...]
    directory: Path
    reports: tuple[ComposeReport, ...]
    env_files: tuple[Path, ...]
    state_file: Path


def _compose_project(
    settings: _Settings,
    project: ProjectSettings,
    environ: Mapping[str, str],
    env_files: Sequence[Any],
    project_name: str | None,
) -> _Project:
    from ._discovery import ComposeVariables, read_compose

    if not settings.compose_files:
        raise StackError(
            "no compose files: set compose_files (in a profile, NETRA_COMPOSE_FILES or --set compose_files=...)",
            kind="no-compose-file",
        )
    reports = read_compose(settings.compose_files, project, ComposeVariables(environ, env_files))
    for report in reports:
        if report.path is None:
            raise StackError(
                f"compose file {report.requested} not found (searched {', '.join(report.searched)})",
                kind="no-compose-file",
            )
        if report.error:
            raise StackError(f"compose file {report.display}: {report.error}", kind="no-compose-file")
    files = tuple(report.path for report in reports if report.path is not None)
    if settings.project_directory:
        directory = (project.project_dir / settings.project_directory).resolve()
    else:
        directory = files[0].parent
    if project_name:
        name, name_source = project_name, "given"
    elif settings.compose_project:
        from ._docker import is_project_pattern

        if is_project_pattern(settings.compose_project):
            raise StackError(
                f"compose_project {settings.compose_project!r} is a pattern: it selects running stacks but "
                "cannot name one to start; pass a project name (layercfg up --project-name NAME)",
                kind="compose",
            )
        name, name_source = settings.compose_project, "compose_project"
    else:
        declared = _declared_name(files[0])
        if declared:
            name, name_source = declared, f"name: in {reports[0].display}"
        else:
            name, name_source = normalize_project_name(directory.name), f"directory {directory.name}"
    if not name or normalize_project_name(name) != name:
        raise StackError(
            f"compose project name {name!r} ({name_source}) is not valid: lowercase letters, digits, '-' and '_'",
            kind="compose",
        )
    env_paths: list[Path] = []
    named = [Path(env_file.path) for env_file in env_files]
    if named and (directory / ".env").is_file():
        env_paths.append(directory / ".env")  # --env-file replaces compose's default .env: keep it first
    env_paths += named
    return _Project(
        name=name,
        name_source=name_source,
        files=files,
        displays=tuple(report.display or report.requested for report in reports),
        directory=directory,
        reports=tuple(reports),
        env_files=tuple(env_paths),
        state_file=project.project_dir / STATE_DIR / f"{name}.json",
    )


@contextlib.contextmanager
def _project_lock(state_file: Path, name: str, budget: float, out: TextIO | None) -> Iterator[None]:
    """Hold the compose project's lock: one ``up`` at a time per project (xdist workers, parallel runs).

    The lock is ``flock`` on ``.layercfg/lifecycle/PROJECT.lock``; the others wait for it, then
    find the stack running and reuse it. Where ``fcntl`` does not exist (Windows) there is no lock.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = state_file.with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:

        def holder() -> str:
            handle.seek(0)
            return handle.read().strip() or "another process"

        deadline = time.monotonic() + budget
        said = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StackError(
                        f"project {name}: another layercfg up ({holder()}) held {path} for more than "
                        f"{budget:g} s (docker_startup_timeout + {UP_GRACE:g} s)",
                        kind="timeout",
                    ) from None
                if not said and out is not None:
                    print(f"layercfg: waiting for {holder()}, which is bringing up project {name}", file=out)
                    said = True
                time.sleep(0.1)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compose_services(
    wanted: Sequence[str], trace: Trace, reports: Sequence[ComposeReport]
) -> tuple[list[str], list[str]]:
    """The compose services to bring up, and notes. ``wanted`` empty: every service of the load
    that the compose files declare. A logical service name (``backend``) maps to its compose service."""
    from ._discovery import compose_service_for

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
        from ._schema import suggest

        hint = suggest(name, [*declared, *logical])
        advice = f"; did you mean {hint!r}?" if hint else ""
        raise StackError(
            f"unknown service {name!r}{advice} (the compose files declare {', '.join(declared) or 'none'})",
            kind="unknown-service",
            service=name,
        )
    return list(dict.fromkeys(chosen)), notes


# --- progress ----------------------------------------------------------------------------------


class _Watcher:
    """Polls ``compose ps`` while ``up --wait`` runs: when each service was created, started, healthy."""

    def __init__(self, runner: _Runner, services: Sequence[str], out: TextIO | None, start: float) -> None:
        self.runner = runner
        self.services = list(services)
        self.out = out
        self.start = start
        self.seen: dict[tuple[str, str], float] = {}  # (service, "created"|"started"|"healthy") -> elapsed
        self.latest: dict[str, ContainerState] = {}
        self.stop_event = threading.Event()
        self.next_progress = start + PROGRESS_EVERY
        self.thread = threading.Thread(target=self._loop, name="layercfg-compose-watch", daemon=True)

    def __enter__(self) -> _Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        self.thread.join(COMMAND_TIMEOUT)
        with contextlib.suppress(LayercfgError):
            self.observe(self.runner.ps())

    def _loop(self) -> None:
        while not self.stop_event.wait(POLL_EVERY):
            try:
                self.observe(self.runner.ps())
            except LayercfgError:
                continue

    def observe(self, states: Sequence[ContainerState]) -> None:
        now = time.monotonic() - self.start
        for state in states:
            self.latest[state.service] = state
            steps = ["created"]
            if state.state == "running":
                steps.append("started")
                if state.health in ("", "healthy"):
                    steps.append("healthy" if state.health else "running")
            for step in steps:
                if (state.service, step) not in self.seen:
                    self.seen[(state.service, step)] = now
                    self._say(f"{state.service:<22} {step:<8} {now:5.1f} s")
        if self.out is not None and time.monotonic() >= self.next_progress:
            waiting = [
                f"{s} ({self.latest[s].state}{', health ' + self.latest[s].health if self.latest[s].health else ''})"
                for s in self.services
                if s in self.latest and not self.latest[s].ready
            ]
            if waiting:
                self._say(f"waiting for {', '.join(waiting)}: {now:.0f} s")
            self.next_progress = time.monotonic() + PROGRESS_EVERY

    def _say(self, text: str) -> None:
        if self.out is not None:
            print(f"layercfg: {text}", file=self.out, flush=True)

    def ready_after(self, service: str) -> float | None:
        return self.seen.get((service, "healthy"), self.seen.get((service, "running")))


def _progress_stream(progress: TextIO | bool | None) -> TextIO | None:
    if progress is None:
        stream = sys.stderr
        return stream if stream is not None and stream.isatty() else None
    if progress is True:
        return sys.stderr
    return progress or None


# --- up ----------------------------------------------------------------------------------------


def _engine(environ: Mapping[str, str], budget: float, *, ping: bool = True) -> tuple[str, str, dict[str, str]]:
    """The engine's URL, why that one, and the environment compose runs in (DOCKER_HOST set to the
    engine found, so compose uses the same one even when it was found by searching the usual sockets)."""
    from ._docker import check_engine
    from ._engine import resolve_endpoint

    env = dict(environ)
    try:
        endpoint = resolve_endpoint(environ)
    except Exception as exc:
        raise StackError(f"Docker is not usable: cannot configure the client: {exc}", kind="docker-down") from None
    problem = check_engine(budget=budget, environ=environ) if ping else None
    if problem is not None:
        raise StackError(f"Docker is down: {problem.message} ({problem.kind})", kind="docker-down")
    if not environ.get("DOCKER_HOST") and endpoint.source.startswith("DOCKER_HOST is unset and no context"):
        env["DOCKER_HOST"] = endpoint.url
    return endpoint.url, endpoint.source, env


_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def _engine_states(
    project: str, environ: Mapping[str, str], budget: float
) -> tuple[dict[str, ContainerState], tuple[str, str]] | None:
    """The project's containers by compose service, from one container-list call, with the engine's
    URL and why that one; None when the engine did not answer or a service has several containers
    (compose then answers, and classifies what is wrong)."""
    from ._compose_cli import ContainerState
    from ._docker import PROJECT_LABEL, SERVICE_LABEL, project_containers
    from ._engine import DockerProblem, resolve_endpoint

    listing = project_containers(project, budget=budget, environ=environ)
    if isinstance(listing, DockerProblem):
        return None
    states: dict[str, ContainerState] = {}
    for summary in listing:
        labels = summary.get("Labels") or {}
        if labels.get(PROJECT_LABEL) != project or labels.get("com.docker.compose.oneoff") == "True":
            continue
        status = str(summary.get("Status", ""))
        health = _HEALTH_IN_STATUS.search(status)
        ports = []
        for port in summary.get("Ports") or ():
            if port.get("PublicPort"):
                ip = str(port.get("IP") or "0.0.0.0")
                host = f"[{ip}]" if ":" in ip else ip
                ports.append(f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')} -> {host}:{port['PublicPort']}")
        names = summary.get("Names") or ["?"]
        created = summary.get("Created")
        state = ContainerState(
            service=str(labels.get(SERVICE_LABEL, "")),
            name=str(names[0]).lstrip("/"),
            id=str(summary.get("Id", "")),
            state=str(summary.get("State", "")).lower(),
            health=health.group(1).replace("health: ", "") if health else "",
            status=status,
            exit_code=0,
            created=float(created) if isinstance(created, (int, float)) else None,
            ports=tuple(sorted(dict.fromkeys(ports))),
        )
        if state.service in states:
            return None  # scaled or duplicated: compose knows which is which
        states[state.service] = state
    endpoint = resolve_endpoint(environ)
    return states, (endpoint.url, endpoint.source)


def _since(created: float | None) -> str:
    if created is None:
        return ""
    return time.strftime("%H:%M:%S", time.localtime(created))


def _reused(state: ContainerState) -> ServiceOutcome:
    ports = f", {', '.join(state.ports)}" if state.ports else ""
    health = f", {state.health}" if state.health else ""
    since = _since(state.created)
    detail = f"container {state.name} running (created {since}: {state.status}{health}){ports}"
    return ServiceOutcome(state.service, "reused", detail, state.name, None, True, state.ports)


def _resolved(
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
    from ._project import find_project

    if cfg is not None:
        from ._load import provenance

        trace = provenance(cfg)
        return trace, find_project(trace.project_dir), ()
    from ._load import resolve
    from ._provenance import LayerKind
    from ._stack import SOURCES

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


def up(
    cfg: Any = None,
    *,
    services: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    project_name: str | None = None,
    lifecycle: str | None = None,
    profile: str | Sequence[str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    override_source: str = "up(overrides=...)",
    schema: type[Any] | None = None,
    progress: TextIO | bool | None = None,
) -> StackReport:
    """Bring the load's compose stack up with the real Compose v2 CLI, and say what was done.

    ``cfg`` is a loaded config whose receipt gives the settings (None: load one with ``profile``,
    ``project_dir``, ``environ``, ``overrides`` and ``schema``; the report's ``config`` is then a
    fresh load made once the stack is up). ``lifecycle`` replaces the setting for this call; an
    explicit ``up()`` with the setting ``off`` starts what is missing (``start``). ``services``
    replaces ``lifecycle_services``; ``project_name`` replaces ``compose_project``. ``progress``:
    a stream for per-service progress while ``up --wait`` runs, True for stderr, None for stderr
    when it is a terminal. Raises :class:`layercfg.StackError`, unless staging fallback is on:
    then the failure is in ``report.error`` and the fallback's reason.
    """
    begin = time.monotonic()
    environ = os.environ if environ is None else environ
    trace, project, env_files = _resolved(cfg, schema, profile, project_dir, environ, overrides, override_source)
    settings = _settings(trace)
    mode, mode_source = settings.lifecycle, f"lifecycle from {settings.lifecycle_source}"
    if lifecycle is not None:
        if lifecycle not in MODES:
            raise LayercfgError(f"lifecycle must be one of {', '.join(MODES)}, got {lifecycle!r}")
        mode, mode_source = lifecycle, "up(lifecycle=...)"
    notes: list[str] = []
    if mode == "off":
        notes.append(f"lifecycle is off ({mode_source}): an explicit `up` starts what is missing, as `start` does")
        mode = "start"

    def reload(
        error: StackError | None, started_project: str | None = None, outcomes: Sequence[ServiceOutcome] = ()
    ) -> tuple[Any, str | None]:
        if cfg is not None:
            return None, None
        from ._load import load, remember

        extra = dict(overrides or {})
        name = started_project or project_name
        if name and "compose_project" not in extra:
            # Discovery then sees this run's stack only, not another project's containers of the same services.
            extra["compose_project"] = name
        loaded = load(
            schema,
            profile=profile,
            project_dir=project_dir,
            environ=environ,
            overrides=extra or None,
            override_source=override_source,
        )
        report = loaded.trace.fallback
        if error is None or report is None:
            if outcomes:
                remember(loaded.config, _with_stack_receipts(loaded.trace, outcomes, stack_files))
            return loaded.config, None
        first = str(error).splitlines()[0]
        reason = f"the stack could not be started ({error.kind}: {first}); {report.reason}"
        trace = attrs.evolve(loaded.trace, fallback=attrs.evolve(report, reason=reason))
        remember(loaded.config, trace)
        return loaded.config, reason

    stack_files: list[str] = []  # the compose files, for the receipts reload() adds
    try:
        stack = _compose_project(settings, project, environ, env_files, project_name)
        stack_files.extend(stack.displays)
        with _project_lock(stack.state_file, stack.name, settings.timeout + UP_GRACE, _progress_stream(progress)):
            return _up(
                settings, trace, project, stack, environ, services, mode, mode_source, notes, progress, begin, reload
            )
    except StackError as error:
        if settings.fallback == "off":
            raise
        config, reason = reload(error)
        if cfg is None and reason is None:
            raise
        return StackReport(
            project=project_name or settings.compose_project or "",
            compose="",
            engine="",
            engine_source="",
            files=settings.compose_files,
            project_directory=settings.project_directory or "",
            lifecycle=mode,
            lifecycle_source=mode_source,
            services=(),
            started=(),
            created=(),
            timeout=settings.timeout,
            elapsed=time.monotonic() - begin,
            notes=tuple(notes),
            error=error,
            fallback_reason=reason or f"fallback is {settings.fallback}; the start failed: {error}",
            config=config,
        )


def _up(
    settings: _Settings,
    trace: Trace,
    project: ProjectSettings,
    stack: _Project,
    environ: Mapping[str, str],
    services: Sequence[str] | None,
    mode: str,
    mode_source: str,
    notes: list[str],
    progress: TextIO | bool | None,
    begin: float,
    reload: Callable[[StackError | None, str | None, Sequence[ServiceOutcome]], tuple[Any, str | None]],
) -> StackReport:
    from ._compose_cli import find_compose

    wanted, more_notes = _compose_services(
        services if services is not None else settings.services, trace, stack.reports
    )
    notes += more_notes

    def settled(
        services: Sequence[ServiceOutcome],
        started: tuple[str, ...],
        created: tuple[str, ...],
        compose: str,
        engine: tuple[str, str],
        runner: _Runner | None,
    ) -> StackReport:
        """The report of an ``up`` that succeeded, with the config loaded on the stack it left."""
        config, _ = reload(None, stack.name, services)
        return StackReport(
            project=stack.name,
            compose=compose,
            engine=engine[0],
            engine_source=engine[1],
            files=stack.displays,
            project_directory=project.relative(stack.directory),
            lifecycle=mode,
            lifecycle_source=mode_source,
            services=tuple(services),
            started=started,
            created=created,
            timeout=settings.timeout,
            elapsed=time.monotonic() - begin,
            notes=tuple(notes),
            config=config,
            state_file=str(stack.state_file),
            runner=runner,
        )

    listed = _engine_states(stack.name, environ, settings.docker_timeout)
    if listed is not None and all(service in listed[0] and listed[0][service].ready for service in wanted):
        # The reuse path: one container-list call said every service runs and is healthy, so
        # compose (a version check and a ps, two processes) has nothing to add.
        return settled([_reused(listed[0][service]) for service in wanted], (), (), "", listed[1], None)
    command = find_compose(environ)
    if command.note:
        notes.append(command.note)
    # The listing answered: the engine is up, no ping needed.
    engine, engine_source, env = _engine(environ, settings.docker_timeout, ping=listed is None)
    base: list[str] = ["-p", stack.name]
    for path in stack.files:
        base += ["-f", str(path)]
    base += ["--project-directory", str(stack.directory)]
    for env_path in stack.env_files:
        base += ["--env-file", str(env_path)]
    runner = _Runner(command, tuple(base), env, str(stack.directory))
    before = listed[0] if listed is not None else {state.service: state for state in runner.ps()}
    outcomes: dict[str, ServiceOutcome] = {}
    missing = []
    for service in wanted:
        state = before.get(service)
        if state is not None and state.ready:
            outcomes[service] = _reused(state)
        else:
            missing.append(service)

    def report(started: tuple[str, ...], created: tuple[str, ...]) -> StackReport:
        ordered = [outcomes[s] for s in wanted if s in outcomes]
        ordered += [o for s, o in outcomes.items() if s not in wanted]
        return settled(ordered, started, created, command.describe(), (engine, engine_source), runner)

    if not missing:
        return report((), ())
    if mode == "reuse":
        for service in missing:
            state = before.get(service)
            why = f"container {state.name} is {state.state} ({state.status})" if state else "no container"
            outcomes[service] = ServiceOutcome(service, "not-running", f"{why}; lifecycle reuse starts nothing")
        first = missing[0]
        raise StackError(
            f"service {first} of project {stack.name} is not running and lifecycle is reuse ({mode_source}), "
            f"which starts nothing: {outcomes[first].detail}; start it with lifecycle=start (layercfg up "
            f"--set lifecycle=start)",
            kind="not-running",
            service=first,
        )

    wait_timeout = max(1, math.ceil(settings.timeout))
    args = ["up", "--detach", "--wait", "--wait-timeout", str(wait_timeout), "--no-recreate", *missing]
    from ._compose_cli import start as start_process

    up_start = time.monotonic()
    out = _progress_stream(progress)
    if out is not None:
        print(
            f"layercfg: {command.describe()}: starting {', '.join(missing)} in project {stack.name} "
            f"(budget docker_startup_timeout {settings.timeout:g} s)",
            file=out,
            flush=True,
        )
    with _Watcher(runner, missing, out, up_start) as watcher:
        process = start_process(command, [*runner.base, *args], env, runner.cwd)
        try:
            stdout, stderr = process.communicate(timeout=wait_timeout + UP_GRACE)
            returncode: int | None = process.returncode
        except BaseException:
            process.kill()
            stdout, stderr = process.communicate()
            returncode = None
    after = {state.service: state for state in watcher.latest.values()}
    if returncode == 0:
        # Compose's word is not the receipt: under load `up --wait` has exited 0 with a service
        # still "health: starting". Hold it to the same budget, by its own ps.
        after, stderr = _confirm_ready(runner, missing, after, up_start + wait_timeout, watcher, stderr)
        unready = [after[s] for s in missing if s in after and not after[s].ready]
        for state in unready:
            # Said the way compose says it, so the failure is classified as compose's would be.
            if state.state in ("exited", "dead"):
                stderr += f"\ncontainer {state.name} exited ({state.exit_code})"
            elif state.health == "unhealthy":
                stderr += f"\ncontainer {state.name} is unhealthy"
        if unready:
            failed = any(state.state in ("exited", "dead") or state.health == "unhealthy" for state in unready)
            returncode = 1 if failed else None  # None: the budget ran out, a timeout
    up_elapsed = time.monotonic() - up_start
    started = tuple(
        s
        for s, state in after.items()
        if state.state == "running" and not (s in before and before[s].state == "running")
    )
    created = tuple(s for s in started if s not in before)
    if started:
        _record(stack.state_file, stack.name, runner, started, created)
    for service in started:
        state = after[service]
        ready = watcher.ready_after(service)
        if ready is not None:
            detail = f"{'healthy' if state.health else 'running'} after {ready:.1f} s"
        else:
            detail = f"{state.status or state.state}"
        detail += f" (budget docker_startup_timeout {settings.timeout:g} s)"
        ports = f", {', '.join(state.ports)}" if state.ports else ""
        outcomes[service] = ServiceOutcome(
            service,
            "started",
            f"{detail}{ports}; container {state.name}",
            state.name,
            ready,
            service in wanted,
            state.ports,
        )
    if returncode == 0:
        for service in missing:
            if service not in outcomes:
                state = after.get(service)
                detail = f"container {state.name}: {state.status}" if state else "compose reported success"
                outcomes[service] = ServiceOutcome(service, "started", detail, state.name if state else None)
        return report(started, created)

    error = _up_error(
        runner, command, stack.name, missing, after, returncode, stdout + stderr, settings.timeout, up_elapsed
    )
    if error.service is not None:
        outcomes[error.service] = ServiceOutcome(error.service, "failed", str(error).splitlines()[0])
    if mode == "start-and-stop" and started:
        _stop(runner, stack.name, started, created, str(stack.state_file))
    raise error


def _confirm_ready(
    runner: _Runner,
    services: Sequence[str],
    after: dict[str, ContainerState],
    deadline: float,
    watcher: _Watcher,
    output: str,
) -> tuple[dict[str, ContainerState], str]:
    """Wait, until ``deadline``, for every service compose called up to be ready in ``ps`` too."""
    waited = False
    while any(not after[s].ready for s in services if s in after):
        if time.monotonic() >= deadline or any(
            after[s].state in ("exited", "dead") or after[s].health == "unhealthy" for s in services if s in after
        ):
            break
        waited = True
        time.sleep(POLL_EVERY)
        with contextlib.suppress(LayercfgError):
            watcher.observe(runner.ps())
            after = {state.service: state for state in watcher.latest.values()}
    if waited:
        pending = [s for s in services if s in after and not after[s].ready]
        said = f"compose up exited 0 before {', '.join(pending) or 'every service'} was ready; layercfg waited"
        output = f"{output}\n{said}" if output else said
    return after, output


def _with_stack_receipts(trace: Trace, outcomes: Sequence[ServiceOutcome], files: Sequence[str]) -> Trace:
    """The receipt of each value discovery read from a container this ``up`` started or reused says so:
    ``docker container p-backend-1 (...; started by layercfg up: healthy after 2.1 s, docker/compose.yml)``."""
    said: dict[str, str] = {}
    where = ", ".join(files)
    for outcome in outcomes:
        if outcome.container is None:
            continue
        if outcome.action == "started":
            ready = f"healthy after {outcome.elapsed:.1f} s" if outcome.elapsed is not None else "started"
            said[outcome.container] = f"started by layercfg up: {ready}, {where}"
        elif outcome.action == "reused":
            said[outcome.container] = f"reused by layercfg up: {outcome.detail.split(' (created ')[0]}"
    fields = dict(trace.fields)
    for name, field in trace.fields.items():
        origin = field.winner.origin
        receipt = said.get(origin.container or "")
        if receipt is None:
            continue
        detail = f"{origin.detail}; {receipt}" if origin.detail else receipt
        winner = attrs.evolve(field.winner, origin=attrs.evolve(origin, detail=detail))
        candidates = tuple(winner if candidate is field.winner else candidate for candidate in field.candidates)
        fields[name] = attrs.evolve(field, winner=winner, candidates=candidates)
    return attrs.evolve(trace, fields=fields)


def _compose_error(what: str, done: Any, command: ComposeCommand, service: str | None) -> StackError:
    from ._compose_cli import classify_up_failure, last_lines

    output = done.stdout + done.stderr
    kind, _ = classify_up_failure(output)
    if kind != "docker-down":
        kind = "compose"
    status = "timed out" if done.returncode is None else f"exit status {done.returncode}"
    return StackError(
        f"{command.describe()} {what} failed ({status}): {last_lines(output, 4)}", kind=kind, service=service
    )


def _up_error(
    runner: _Runner,
    command: ComposeCommand,
    project: str,
    missing: Sequence[str],
    after: Mapping[str, ContainerState],
    returncode: int | None,
    output: str,
    timeout: float,
    elapsed: float,
) -> StackError:
    """One clear error for a failed ``up``: its kind, the service, the last lines of its log."""
    from ._compose_cli import classify_up_failure, last_lines

    kind, name = classify_up_failure(output)
    if returncode is None:
        kind = "timeout"
    by_container = {state.name: state.service for state in after.values()}
    service = by_container.get(name or "")
    if service is None and kind == "image" and name:
        service = _service_of_image(runner, name)
    if service is None and kind in ("timeout", "unhealthy", "exited"):
        pending = [s for s in after if not after[s].ready] or [s for s in missing if s not in after]
        service = next((s for s in pending if s in missing), pending[0] if pending else None)
    if service is None:
        service = next((s for s in missing if s not in after), None)
    state = after.get(service or "")
    what = {
        "docker-down": "Docker is down",
        "timeout": f"not healthy within docker_startup_timeout {timeout:g} s (waited {elapsed:.1f} s)",
        "unhealthy": "its health check never passed",
        "exited": "its container exited",
        "image": "its image cannot be pulled or found",
        "build": "its image failed to build",
        "compose": "compose failed",
    }[kind]
    status = f" (container {state.name}: {state.status})" if state is not None else ""
    head = f"service {service} of project {project}: {what}{status}" if service else f"project {project}: {what}"
    message = f"{head}; {command.describe()} up said: {last_lines(output, 3) or 'nothing'}"
    logs = runner.logs(service) if service and state is not None else ""
    if logs:
        lines = "\n".join(f"    {line}" for line in logs.splitlines()[-LOG_LINES:])
        message += f"\n  last lines of its log (docker compose logs --tail {LOG_LINES} {service}):\n{lines}"
    return StackError(message, kind=kind, service=service, logs=logs)


def _service_of_image(runner: _Runner, image: str) -> str | None:
    done = runner.run("config", "--format", "json")
    if not done.ok:
        return None
    try:
        config = json.loads(done.stdout)
    except ValueError:
        return None
    bare = image.split("@")[0]
    for name, service in (config.get("services") or {}).items():
        declared = str(service.get("image", ""))
        if declared and (declared == bare or declared.split(":")[0] == bare.split(":")[0]):
            return str(name)
    return None


# --- what a run started, and stopping it -------------------------------------------------------


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(path: Path, data: Mapping[str, Any]) -> None:
    if not data.get("started"):
        with contextlib.suppress(OSError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _record(path: Path, project: str, runner: _Runner, started: Sequence[str], created: Sequence[str]) -> None:
    """Add what this run started to the project's state file (``layercfg down`` reads it)."""
    data = _read_state(path)
    data.update(
        project=project,
        compose=list(runner.command.argv),
        args=list(runner.base),
        cwd=runner.cwd,
        started=sorted({*data.get("started", ()), *started}),
        created=sorted({*data.get("created", ()), *created}),
    )
    _write_state(path, data)


def _stop(
    runner: _Runner, project: str, started: Sequence[str], created: Sequence[str], state_file: str | None
) -> tuple[str, ...]:
    """Stop what was started, remove the containers that were created; ``down`` when that is all of them."""
    receipts: list[str] = []
    states = runner.ps()
    others = [s.service for s in states if s.service not in started]
    if not others and set(s.service for s in states) <= set(created):
        done = runner.run("down", "--remove-orphans", "--timeout", "5")
        if not done.ok:
            raise _compose_error("down", done, runner.command, None)
        receipts += [f"stopped and removed {s} (started by layercfg)" for s in started]
        receipts.append(f"removed project {project}'s network (every container of it was started by layercfg)")
    else:
        done = runner.run("stop", "--timeout", "5", *started)
        if not done.ok:
            raise _compose_error("stop", done, runner.command, None)
        if created:
            removed = runner.run("rm", "--force", "--stop", *created)
            if not removed.ok:
                raise _compose_error("rm", removed, runner.command, None)
        receipts += [f"stopped {s} (started by layercfg){' and removed it' if s in created else ''}" for s in started]
        receipts += [f"left running {s} (not started by this run)" for s in others]
    if state_file:
        path = Path(state_file)
        data = _read_state(path)
        if data:
            data["started"] = [s for s in data.get("started", ()) if s not in started]
            data["created"] = [s for s in data.get("created", ()) if s not in created]
            _write_state(path, data)
    return tuple(receipts)


def down(
    cfg: Any = None,
    *,
    project_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    profile: str | Sequence[str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    override_source: str = "down(overrides=...)",
    schema: type[Any] | None = None,
) -> tuple[str, ...]:
    """Stop what ``up`` started in the project (its ``.layercfg/lifecycle/PROJECT.json``), and only that."""
    environ = os.environ if environ is None else environ
    trace, project, env_files = _resolved(cfg, schema, profile, project_dir, environ, overrides, override_source)
    settings = _settings(trace)
    stack = _compose_project(settings, project, environ, env_files, project_name)
    data = _read_state(stack.state_file)
    started = [str(s) for s in data.get("started", ())]
    if not started:
        return (
            f"nothing to stop: layercfg up started nothing in project {stack.name} "
            f"(no {project.relative(stack.state_file)})",
        )
    created = [str(s) for s in data.get("created", ())]
    return stop_started(str(stack.state_file), started, created, environ, settings.docker_timeout)


def stop_started(
    state_file: str,
    started: Sequence[str],
    created: Sequence[str],
    environ: Mapping[str, str],
    docker_timeout: float = ENGINE_DEFAULTS.docker_timeout,
) -> tuple[str, ...]:
    """Stop ``started`` (remove ``created``) in the project whose ``up`` wrote ``state_file``.

    What the pytest plugin calls at the end of a ``start-and-stop`` session: under xdist the worker
    that started the stack is not the last to finish, so the controller stops it from the record.
    """
    from ._compose_cli import find_compose

    path = Path(state_file)
    data = _read_state(path)
    still = [s for s in started if s in data.get("started", ())]
    if not still:
        return (f"nothing to stop: {', '.join(started) or 'nothing'} no longer recorded in {path.name}",)
    command = find_compose(environ)
    _, _, env = _engine(environ, docker_timeout)
    project = str(data.get("project", path.stem))
    runner = _Runner(command, tuple(str(a) for a in data.get("args", ())), env, str(data.get("cwd", path.parent)))
    with _project_lock(path, project, COMMAND_TIMEOUT, None):
        return _stop(runner, project, still, [s for s in created if s in still], state_file)
