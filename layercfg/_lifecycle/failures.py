"""Why a start failed, in one clear error: its kind, the service, the last lines of its log."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ..exceptions import StackError
from .compose_cli import LOG_LINES, ComposeCommand, ContainerState, Runner, classify_up_failure, last_lines


def up_error(
    runner: Runner,
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
    kind, name = classify_up_failure(output)
    if returncode is None:
        kind = "timeout"
    by_container = {state.name: state.service for state in after.values()}
    service = by_container.get(name or "")
    if service is None and kind == "image" and name:
        service = service_of_image(runner, name)
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


def service_of_image(runner: Runner, image: str) -> str | None:
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
