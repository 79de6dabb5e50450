"""The compose project of a load: its name and files, its lock, and the record of what ``up`` started.

What a run started is recorded in ``.layercfg/lifecycle/PROJECT.json`` under the project
directory, so ``layercfg down`` (and :meth:`StackReport.stop`) stop that and only that.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import attrs

from ..exceptions import StackError
from .compose_cli import Runner, compose_error

if TYPE_CHECKING:
    from .._sources.discovery import ComposeReport
    from .._sources.project import ProjectSettings
    from .plan import Settings

STATE_DIR: Final = ".layercfg/lifecycle"
# `up --wait` gets docker_startup_timeout through --wait-timeout; the process itself this much more.
UP_GRACE: Final = 30.0


_PROJECT_NAME_JUNK = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """A compose project name the way compose derives one from a directory name."""
    return _PROJECT_NAME_JUNK.sub("", name.lower()).lstrip("_-")


def declared_name(path: Path) -> str | None:
    """A compose file's top-level ``name:`` (a plain value only; compose itself interpolates)."""
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("name:"):
                name = line.partition(":")[2].split("#")[0].strip().strip("'\"")
                return name if name and "$" not in name else None
    except OSError:
        return None
    return None


@attrs.frozen
class ComposeProject:
    name: str
    name_source: str
    files: tuple[Path, ...]
    displays: tuple[str, ...]
    directory: Path
    reports: tuple[ComposeReport, ...]
    env_files: tuple[Path, ...]
    state_file: Path


def compose_project(
    settings: Settings,
    project: ProjectSettings,
    environ: Mapping[str, str],
    env_files: Sequence[Any],
    project_name: str | None,
) -> ComposeProject:
    from .._sources.discovery import ComposeVariables, read_compose

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
        from .._sources.containers import is_project_pattern

        if is_project_pattern(settings.compose_project):
            raise StackError(
                f"compose_project {settings.compose_project!r} is a pattern: it selects running stacks but "
                "cannot name one to start; pass a project name (layercfg up --project-name NAME)",
                kind="compose",
            )
        name, name_source = settings.compose_project, "compose_project"
    else:
        declared = declared_name(files[0])
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
    return ComposeProject(
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
def project_lock(state_file: Path, name: str, budget: float, out: TextIO | None) -> Iterator[None]:
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


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: Mapping[str, Any]) -> None:
    if not data.get("started"):
        with contextlib.suppress(OSError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def record_started(path: Path, project: str, runner: Runner, started: Sequence[str], created: Sequence[str]) -> None:
    """Add what this run started to the project's state file (``layercfg down`` reads it)."""
    data = read_state(path)
    data.update(
        project=project,
        compose=list(runner.command.argv),
        args=list(runner.base),
        cwd=runner.cwd,
        started=sorted({*data.get("started", ()), *started}),
        created=sorted({*data.get("created", ()), *created}),
    )
    write_state(path, data)


def stop_recorded(
    runner: Runner, project: str, started: Sequence[str], created: Sequence[str], state_file: str | None
) -> tuple[str, ...]:
    """Stop what was started, remove the containers that were created; ``down`` when that is all of them."""
    receipts: list[str] = []
    states = runner.ps()
    others = [s.service for s in states if s.service not in started]
    if not others and set(s.service for s in states) <= set(created):
        done = runner.run("down", "--remove-orphans", "--timeout", "5")
        if not done.ok:
            raise compose_error("down", done, runner.command, None)
        receipts += [f"stopped and removed {s} (started by layercfg)" for s in started]
        receipts.append(f"removed project {project}'s network (every container of it was started by layercfg)")
    else:
        done = runner.run("stop", "--timeout", "5", *started)
        if not done.ok:
            raise compose_error("stop", done, runner.command, None)
        if created:
            removed = runner.run("rm", "--force", "--stop", *created)
            if not removed.ok:
                raise compose_error("rm", removed, runner.command, None)
        receipts += [f"stopped {s} (started by layercfg){' and removed it' if s in created else ''}" for s in started]
        receipts += [f"left running {s} (not started by this run)" for s in others]
    if state_file:
        path = Path(state_file)
        data = read_state(path)
        if data:
            data["started"] = [s for s in data.get("started", ()) if s not in started]
            data["created"] = [s for s in data.get("created", ()) if s not in created]
            write_state(path, data)
    return tuple(receipts)
