"""``up`` and ``down``: find what runs, start what is missing, stop what this run started."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from .._model.schema import ENGINE_DEFAULTS
from ..exceptions import LayercfgError, StackError
from .compose_cli import COMMAND_TIMEOUT, Runner, find_compose
from .engine import engine_env, engine_states
from .failures import up_error
from .plan import Settings, services_to_start, settings_of, settings_trace
from .project import UP_GRACE, ComposeProject, compose_project, project_lock, read_state, record_started, stop_recorded
from .report import MODES, ServiceOutcome, StackReport
from .watch import Watcher, confirm_ready, progress_stream

if TYPE_CHECKING:
    from .._load import Trace
    from .._sources.project import ProjectSettings
    from .compose_cli import ContainerState


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
    trace, project, env_files = settings_trace(cfg, schema, profile, project_dir, environ, overrides, override_source)
    settings = settings_of(trace)
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
        from .._load import load, remember

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
        stack = compose_project(settings, project, environ, env_files, project_name)
        stack_files.extend(stack.displays)
        with project_lock(stack.state_file, stack.name, settings.timeout + UP_GRACE, progress_stream(progress)):
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
    settings: Settings,
    trace: Trace,
    project: ProjectSettings,
    stack: ComposeProject,
    environ: Mapping[str, str],
    services: Sequence[str] | None,
    mode: str,
    mode_source: str,
    notes: list[str],
    progress: TextIO | bool | None,
    begin: float,
    reload: Callable[[StackError | None, str | None, Sequence[ServiceOutcome]], tuple[Any, str | None]],
) -> StackReport:

    wanted, more_notes = services_to_start(
        services if services is not None else settings.services, trace, stack.reports
    )
    notes += more_notes

    def settled(
        services: Sequence[ServiceOutcome],
        started: tuple[str, ...],
        created: tuple[str, ...],
        compose: str,
        engine: tuple[str, str],
        runner: Runner | None,
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

    listed = engine_states(stack.name, environ, settings.docker_timeout)
    if listed is not None and all(service in listed[0] and listed[0][service].ready for service in wanted):
        # The reuse path: one container-list call said every service runs and is healthy, so
        # compose (a version check and a ps, two processes) has nothing to add.
        return settled([_reused(listed[0][service]) for service in wanted], (), (), "", listed[1], None)
    command = find_compose(environ)
    if command.note:
        notes.append(command.note)
    # The listing answered: the engine is up, no ping needed.
    engine, engine_source, env = engine_env(environ, settings.docker_timeout, ping=listed is None)
    base: list[str] = ["-p", stack.name]
    for path in stack.files:
        base += ["-f", str(path)]
    base += ["--project-directory", str(stack.directory)]
    for env_path in stack.env_files:
        base += ["--env-file", str(env_path)]
    runner = Runner(command, tuple(base), env, str(stack.directory))
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
    from .compose_cli import start as start_process

    up_start = time.monotonic()
    out = progress_stream(progress)
    if out is not None:
        print(
            f"layercfg: {command.describe()}: starting {', '.join(missing)} in project {stack.name} "
            f"(budget docker_startup_timeout {settings.timeout:g} s)",
            file=out,
            flush=True,
        )
    with Watcher(runner, missing, out, up_start) as watcher:
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
        after, stderr = confirm_ready(runner, missing, after, up_start + wait_timeout, watcher, stderr)
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
        record_started(stack.state_file, stack.name, runner, started, created)
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

    error = up_error(
        runner, command, stack.name, missing, after, returncode, stdout + stderr, settings.timeout, up_elapsed
    )
    if error.service is not None:
        outcomes[error.service] = ServiceOutcome(error.service, "failed", str(error).splitlines()[0])
    if mode == "start-and-stop" and started:
        stop_recorded(runner, stack.name, started, created, str(stack.state_file))
    raise error


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
    trace, project, env_files = settings_trace(cfg, schema, profile, project_dir, environ, overrides, override_source)
    settings = settings_of(trace)
    stack = compose_project(settings, project, environ, env_files, project_name)
    data = read_state(stack.state_file)
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

    path = Path(state_file)
    data = read_state(path)
    still = [s for s in started if s in data.get("started", ())]
    if not still:
        return (f"nothing to stop: {', '.join(started) or 'nothing'} no longer recorded in {path.name}",)
    command = find_compose(environ)
    _, _, env = engine_env(environ, docker_timeout)
    project = str(data.get("project", path.stem))
    runner = Runner(command, tuple(str(a) for a in data.get("args", ())), env, str(data.get("cwd", path.parent)))
    with project_lock(path, project, COMMAND_TIMEOUT, None):
        return stop_recorded(runner, project, still, [s for s in created if s in still], state_file)
