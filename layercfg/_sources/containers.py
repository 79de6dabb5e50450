"""Find a logical service's published port on a running Docker engine.

``discover()`` looks for the container of each :class:`ServiceQuery` by compose service label,
then exact container name, then network alias, in the order of ``query.names``, and reads the
host port published for the query's container port. Reaching the engine (which endpoint, the one
time budget every call shares, and a :class:`DockerProblem` that tells a missing socket, a refused
one, a permission error and a hung daemon apart) is :mod:`layercfg._sources.engine`. Nothing here
raises: the caller decides whether a problem is fatal.

``docker`` is imported inside the functions, so importing layercfg never imports it.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs

from .._model.schema import ENGINE_DEFAULTS
from .engine import (
    Clock,
    DockerProblem,
    Endpoint,
    bounded,
    configuration_problem,
    is_not_found,
    resolve_endpoint,
)

T = TypeVar("T")

__all__ = [
    "DiscoveryResult",
    "PublishedPort",
    "ServiceDiscovery",
    "ServiceQuery",
    "check_engine",
    "connect_host",
    "discover",
    "url_host",
]

SERVICE_LABEL: Final = "com.docker.compose.service"
PROJECT_LABEL: Final = "com.docker.compose.project"

# Aliases are not in the container list API's answer (Docker 20.10 reports "Aliases": null there)
# and no filter selects them, so finding an alias means inspecting containers one by one. Only
# containers on user-defined networks can have aliases, only the alias strategy needs this, and
# only when no label or name matched; past this many inspections we stop and say so.
MAX_ALIAS_INSPECTIONS: Final = 25
_BUILTIN_NETWORKS: Final = frozenset({"bridge", "host", "none"})
_ANY_ADDRESS: Final = frozenset({"", "0.0.0.0", "::", "[::]"})


@attrs.frozen
class ServiceQuery:
    """What to look for: a logical service, the container names it may run under, its port."""

    service: str
    names: tuple[str, ...] = attrs.field(converter=tuple[str, ...])
    container_port: int
    protocol: str = "tcp"
    project: str | None = None


@attrs.frozen
class PublishedPort:
    """A running container that matched a query, and the host address of the queried port."""

    container_name: str
    container_id: str
    compose_service: str | None
    compose_project: str | None
    matched_by: str  # "compose service label" | "container name" | "network alias"
    matched_name: str
    container_port: int
    protocol: str
    host_ip: str  # as Docker reports it: "0.0.0.0", "::", "127.0.0.1", ...
    host_port: int
    engine_host: str | None = None  # a remote engine's host (DOCKER_HOST=tcp://HOST:2375): where wildcards are

    @property
    def host(self) -> str:
        """The host to connect to: the engine's host for a wildcard binding (``localhost`` for a
        local engine), else the bound address."""
        return connect_host(self.host_ip, self.engine_host)

    @property
    def url_host(self) -> str:
        """:attr:`host` as it goes into a URL: IPv6 addresses in brackets."""
        return url_host(self.host_ip, self.engine_host)

    def describe(self) -> str:
        """One line for provenance: which container, why it matched, which binding."""
        details = []
        if self.compose_service is not None:
            details.append(f"compose service {self.compose_service}")
        if self.matched_by == "network alias":
            details.append(f"alias {self.matched_name}")
        elif self.matched_by == "container name" and self.matched_name != self.container_name:
            details.append(f"name {self.matched_name}")
        where = f" ({', '.join(details)})" if details else ""
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return (
            f"docker container {self.container_name}{where}: "
            f"{self.container_port}/{self.protocol} -> {ip}:{self.host_port}"
        )


def is_project_pattern(project: str) -> bool:
    """A compose_project holding shell-style wildcards (``netra-*``) selects projects by pattern."""
    return any(char in project for char in "*?[")


def connect_host(host_ip: str | None, engine_host: str | None = None) -> str:
    """Where to connect for a port bound on ``host_ip``: for a wildcard binding, the host of a
    remote engine (as testcontainers and pytest-docker do), else ``localhost``."""
    if not host_ip or host_ip in _ANY_ADDRESS:
        return engine_host or "localhost"
    return host_ip


def remote_engine_host(engine_url: str | None) -> str | None:
    """The host of an engine reached over the network (``tcp://HOST:2375``, ``ssh://user@HOST``),
    where its published ports are; None for a local socket or an engine on this machine."""
    if not engine_url or not engine_url.startswith(("tcp://", "ssh://", "http://", "https://")):
        return None
    from urllib.parse import urlsplit

    try:
        host = urlsplit(engine_url).hostname
    except ValueError:
        return None
    if not host or host in ("localhost", "127.0.0.1", "::1"):
        return None
    return host


def url_host(host_ip: str | None, engine_host: str | None = None) -> str:
    """:func:`connect_host` as it goes into a URL: IPv6 addresses in brackets."""
    host = connect_host(host_ip, engine_host)
    return f"[{host}]" if ":" in host else host


@attrs.frozen
class ServiceDiscovery:
    """The outcome for one query: the chosen container, other matches, and what went wrong."""

    query: ServiceQuery
    found: PublishedPort | None
    others: tuple[PublishedPort, ...] = ()
    problems: tuple[DockerProblem, ...] = ()


@attrs.frozen
class DiscoveryResult:
    """The outcome of one :func:`discover` call; ``problem`` is set when the engine failed."""

    engine: str
    problem: DockerProblem | None
    services: Mapping[str, ServiceDiscovery]
    elapsed: float


def discover(
    queries: Sequence[ServiceQuery],
    *,
    budget: float = ENGINE_DEFAULTS.docker_timeout,
    environ: Mapping[str, str] | None = None,
) -> DiscoveryResult:
    """Find each query's container and published port; return within ``budget`` seconds."""
    clock = Clock(budget)
    environ = os.environ if environ is None else environ
    try:
        endpoint = resolve_endpoint(environ)
    except Exception as exc:  # a broken context or TLS setting: report it, never raise
        problem = configuration_problem(exc, environ, clock)
        return DiscoveryResult(problem.engine, problem, MappingProxyType({}), clock.elapsed())

    def work() -> dict[str, ServiceDiscovery]:
        with _Session(endpoint, clock) as session:
            return {query.service: session.discover(query) for query in queries}

    outcome = bounded(work, clock, endpoint)
    if isinstance(outcome, DockerProblem):
        return DiscoveryResult(endpoint.url, outcome, MappingProxyType({}), clock.elapsed())
    return DiscoveryResult(endpoint.url, None, MappingProxyType(outcome), clock.elapsed())


def _ask_engine(ask: Callable[[_Session], T], budget: float, environ: Mapping[str, str] | None) -> T | DockerProblem:
    """``ask(session)`` against the engine ``environ`` names, within ``budget`` seconds, or why not."""
    clock = Clock(budget)
    environ = os.environ if environ is None else environ
    try:
        endpoint = resolve_endpoint(environ)
    except Exception as exc:  # a broken context or TLS setting: report it, never raise
        return configuration_problem(exc, environ, clock)

    def work() -> T:
        with _Session(endpoint, clock) as session:
            return ask(session)

    return bounded(work, clock, endpoint)


def check_engine(
    *, budget: float = ENGINE_DEFAULTS.docker_timeout, environ: Mapping[str, str] | None = None
) -> DockerProblem | None:
    """Return None when the Docker engine answers within ``budget`` seconds, else why not."""
    started = time.monotonic()
    outcome = _ask_engine(lambda session: (session.endpoint.url, session.ping()), budget, environ)
    if isinstance(outcome, DockerProblem):
        return outcome
    url, answered = outcome
    if not answered:
        return DockerProblem(
            "error", f"Docker daemon at {url} answered the ping with an error", url, time.monotonic() - started
        )
    return None


def container_health(
    container: str, *, budget: float = ENGINE_DEFAULTS.docker_timeout, environ: Mapping[str, str] | None = None
) -> str | None:
    """The health status Docker reports for ``container`` (``starting``, ``healthy``,
    ``unhealthy``), or None: no health check, no such container, or no engine within ``budget``."""

    def ask(session: _Session) -> str | None:
        try:
            state = session.api.inspect_container(container).get("State") or {}
        except Exception:
            return None
        status = (state.get("Health") or {}).get("Status")
        return str(status) if status else None

    outcome = _ask_engine(ask, budget, environ)
    return None if isinstance(outcome, DockerProblem) else outcome


def project_containers(
    project: str, *, budget: float = ENGINE_DEFAULTS.docker_timeout, environ: Mapping[str, str] | None = None
) -> list[Mapping[str, Any]] | DockerProblem:
    """Every container of compose project ``project`` (running or not), as the engine's container
    list answers (one API call), or why the engine could not say within ``budget``."""

    def ask(session: _Session) -> list[Mapping[str, Any]]:
        answer: list[Mapping[str, Any]] = session.api.containers(
            all=True, filters={"label": f"{PROJECT_LABEL}={project}"}
        )
        return answer

    return _ask_engine(ask, budget, environ)


# --- talking to the engine ---------------------------------------------------------------------


@attrs.define
class _Candidate:
    summary: Mapping[str, Any]  # one entry of the container list API's answer
    matched_by: str
    matched_name: str
    rank: tuple[int, int]  # (index in query.names, strategy): lower is preferred


_STRATEGIES: Final = ("compose service label", "container name", "network alias")


class _Session:
    """One client and one budget for one discover() or check_engine() call."""

    def __init__(self, endpoint: Endpoint, clock: Clock) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self._api: Any = None
        self._all_running: dict[str | None, list[Mapping[str, Any]]] = {}
        self._aliases: dict[str, frozenset[str]] = {}

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._api is not None:
            self._api.close()

    @property
    def api(self) -> Any:
        if self._api is None:
            path = self.endpoint.socket_path
            if path is not None and not os.path.exists(path):
                # Saves the SDK's round trip, and the SDK would only say "No such file or directory".
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            import docker

            # version="auto" asks the daemon for its API version (GET /version, unversioned) and
            # speaks that, in one round trip within the budget: Debian 12's docker.io 20.10 speaks
            # at most 1.41, below the SDK's default 1.45, while recent engines raise their minimum
            # (1.44 since Docker 29), so no fixed version fits every engine.
            self._api = docker.APIClient(
                base_url=self.endpoint.url,
                tls=self.endpoint.tls or False,
                version="auto",
                timeout=self.clock.remaining(),
            )
        # Each call gets what is left of the budget as its socket timeout.
        self._api.timeout = self.clock.remaining()
        return self._api

    def ping(self) -> bool:
        return bool(self.api.ping())

    def containers(self, filters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        result: list[Mapping[str, Any]] = self.api.containers(filters=dict(filters))
        return result

    def discover(self, query: ServiceQuery) -> ServiceDiscovery:
        candidates: dict[str, _Candidate] = {}

        def add(summary: Mapping[str, Any], strategy: int, index: int) -> None:
            rank = (index, strategy)
            previous = candidates.get(summary["Id"])
            if previous is None or rank < previous.rank:
                name = query.names[index]
                candidates[summary["Id"]] = _Candidate(summary, _STRATEGIES[strategy], name, rank)

        # Listings are shared by every query of this session and matched here by compose label, exact
        # name and, when neither matched, network alias: the engine is asked at most three list calls per
        # load (plus inspections for aliases), whatever the services, names and containers. The engine
        # builds a summary for every container a list call returns, so the first listing is the compose
        # containers only (a label filter, cheap however many other containers run); the listing of
        # every running container is made only for a service no compose container matched.
        wanted = {name: index for index, name in reversed(list(enumerate(query.names)))}

        def match(listing: list[Mapping[str, Any]]) -> None:
            for summary in listing:
                service = (summary.get("Labels") or {}).get(SERVICE_LABEL)
                if service in wanted:
                    add(summary, 0, wanted[service])
                for own in {n.lstrip("/") for n in summary.get("Names") or ()}:
                    if own in wanted:
                        add(summary, 1, wanted[own])

        if query.project:
            match(self._running(query.project))
        else:
            match(self._compose_running())
            if not candidates:
                match(self._running(None))
        notes: list[DockerProblem] = []
        if not candidates and query.names:
            notes += self._match_aliases(query, add)
        return self._outcome(query, sorted(candidates.values(), key=lambda c: c.rank), notes)

    def _match_aliases(
        self, query: ServiceQuery, add: Callable[[Mapping[str, Any], int, int], None]
    ) -> list[DockerProblem]:
        wanted = {name: index for index, name in reversed(list(enumerate(query.names)))}
        unchecked = 0
        inspected = 0
        for summary in self._running(query.project):
            aliases: set[str] = set()
            needs_inspection = False
            for network, endpoint in ((summary.get("NetworkSettings") or {}).get("Networks") or {}).items():
                listed = (endpoint or {}).get("Aliases")
                if listed is not None:  # newer engines may list them; then no inspection needed
                    aliases.update(listed)
                elif network not in _BUILTIN_NETWORKS:
                    needs_inspection = True
            if needs_inspection:
                if inspected >= MAX_ALIAS_INSPECTIONS:
                    unchecked += 1
                    continue
                inspected += 1
                aliases.update(self._inspect_aliases(summary["Id"]))
            for alias in aliases:
                if alias in wanted:
                    add(summary, 2, wanted[alias])
        if not unchecked:
            return []
        message = (
            f"network aliases of {unchecked} running container(s) were not checked for service "
            f"{query.service!r} (at most {MAX_ALIAS_INSPECTIONS} containers are inspected); "
            f"use a compose service label or the container name instead"
        )
        return [DockerProblem("no-container", message, self.endpoint.url, self.clock.elapsed())]

    def _compose_running(self) -> list[Mapping[str, Any]]:
        """The running containers of every compose service (one label-filtered list call per session)."""
        key = f"{SERVICE_LABEL}=*"  # not a project name compose allows: a key of its own in the cache
        if key not in self._all_running:
            self._all_running[key] = self.containers({"label": [SERVICE_LABEL]})
        return self._all_running[key]

    def _running(self, project: str | None) -> list[Mapping[str, Any]]:
        if project not in self._all_running:
            if project and is_project_pattern(project):
                # A pattern (netra-*) selects among compose projects: the engine filters by label
                # key, the pattern is matched here.
                import fnmatch

                labelled = self.containers({"label": [PROJECT_LABEL]})
                self._all_running[project] = [
                    c for c in labelled if fnmatch.fnmatchcase((c.get("Labels") or {}).get(PROJECT_LABEL, ""), project)
                ]
            else:
                filters = {"label": [f"{PROJECT_LABEL}={project}"]} if project else {}
                self._all_running[project] = self.containers(filters)
        return self._all_running[project]

    def _inspect_aliases(self, container_id: str) -> frozenset[str]:
        if container_id not in self._aliases:
            try:
                details = self.api.inspect_container(container_id)
            except Exception as exc:
                if is_not_found(exc):  # it stopped between the list and the inspection
                    details = {}
                else:
                    raise
            networks = (details.get("NetworkSettings") or {}).get("Networks") or {}
            found = {alias for ep in networks.values() for alias in (ep or {}).get("Aliases") or ()}
            self._aliases[container_id] = frozenset(found)
        return self._aliases[container_id]

    def _outcome(
        self, query: ServiceQuery, candidates: list[_Candidate], notes: list[DockerProblem]
    ) -> ServiceDiscovery:
        url = self.endpoint.url
        remote = remote_engine_host(url)
        published = [port for c in candidates if (port := _published(c, query, remote)) is not None]
        problems = list(notes)
        if not candidates:
            names = ", ".join(query.names) or "(no names given)"
            scope = f" in compose project {query.project!r}" if query.project else ""
            message = (
                f"no running container for service {query.service!r}{scope} on {url}: looked for a "
                f"compose service label, container name or network alias among: {names}"
            )
            problems.insert(0, DockerProblem("no-container", message, url, self.clock.elapsed()))
            return ServiceDiscovery(query, None, (), tuple(problems))
        if not published:
            first = candidates[0]
            name = _container_name(first.summary)
            bindings = _bindings_text(first.summary)
            message = (
                f"container {name} ({first.matched_by} {first.matched_name!r}) runs but does not publish "
                f"{query.container_port}/{query.protocol} to the host ({bindings}); publish it, e.g. "
                f'ports: ["{query.container_port}"] in the compose file or -p {query.container_port}'
            )
            problems.append(DockerProblem("port-not-published", message, url, self.clock.elapsed()))
            return ServiceDiscovery(query, None, (), tuple(problems))
        found, others = published[0], tuple(published[1:])
        if others:
            rest = ", ".join(f"{o.container_name} ({o.matched_by} {o.matched_name!r})" for o in others)
            message = (
                f"{len(published)} running containers match service {query.service!r}: using "
                f"{found.container_name} ({found.matched_by} {found.matched_name!r}), not {rest}; "
                f"stop the others or narrow the query (names, compose project)"
            )
            problems.append(DockerProblem("ambiguous", message, url, self.clock.elapsed()))
        return ServiceDiscovery(query, found, others, tuple(problems))


def _container_name(summary: Mapping[str, Any]) -> str:
    names = [n.lstrip("/") for n in summary.get("Names") or ()]
    # Legacy links add "/other/alias" names; the container's own name has no inner slash.
    own = [n for n in names if "/" not in n]
    return str((own or names or [str(summary.get("Id", ""))[:12]])[0])


def _port_entries(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(summary.get("Ports") or ())


def _bindings_text(summary: Mapping[str, Any]) -> str:
    published = sorted(
        {
            f"{p['PrivatePort']}/{p.get('Type', 'tcp')} -> {p.get('IP', '')}:{p['PublicPort']}"
            for p in _port_entries(summary)
            if p.get("PublicPort")
        }
    )
    return "it publishes " + ", ".join(published) if published else "it publishes no ports"


def _published(candidate: _Candidate, query: ServiceQuery, engine_host: str | None) -> PublishedPort | None:
    summary = candidate.summary
    bindings = [
        p
        for p in _port_entries(summary)
        if p.get("PrivatePort") == query.container_port
        and p.get("Type", "tcp") == query.protocol
        and p.get("PublicPort")
    ]
    if not bindings:
        return None
    # IPv4 first (Docker lists 0.0.0.0 and :: for one -p): "localhost" may resolve to either, and
    # an explicit IPv4 address is what most clients reach; otherwise keep Docker's order.
    bindings.sort(key=lambda p: ":" in str(p.get("IP", "")))
    binding = bindings[0]
    labels = summary.get("Labels") or {}
    return PublishedPort(
        container_name=_container_name(summary),
        container_id=str(summary["Id"]),
        compose_service=labels.get(SERVICE_LABEL),
        compose_project=labels.get(PROJECT_LABEL),
        matched_by=candidate.matched_by,
        matched_name=candidate.matched_name,
        container_port=query.container_port,
        protocol=query.protocol,
        host_ip=str(binding.get("IP", "")),
        host_port=int(binding["PublicPort"]),
        engine_host=engine_host,
    )
