"""The engine's side of the lifecycle: which engine compose is to use, and the project's containers
in one container-list call (the reuse path needs no compose process)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..exceptions import StackError
from .compose_cli import ContainerState


def engine_env(environ: Mapping[str, str], budget: float, *, ping: bool = True) -> tuple[str, str, dict[str, str]]:
    """The engine's URL, why that one, and the environment compose runs in (DOCKER_HOST set to the
    engine found, so compose uses the same one even when it was found by searching the usual sockets)."""
    from .._sources.containers import check_engine
    from .._sources.engine import resolve_endpoint

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


def engine_states(
    project: str, environ: Mapping[str, str], budget: float
) -> tuple[dict[str, ContainerState], tuple[str, str]] | None:
    """The project's containers by compose service, from one container-list call, with the engine's
    URL and why that one; None when the engine did not answer or a service has several containers
    (compose then answers, and classifies what is wrong)."""
    from .._sources.containers import PROJECT_LABEL, SERVICE_LABEL, project_containers
    from .._sources.engine import DockerProblem, resolve_endpoint

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
