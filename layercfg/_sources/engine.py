"""Reaching the Docker engine: which endpoint, within one time budget, and why it failed.

The endpoint is chosen the way the Docker CLI and SDK do (``DOCKER_HOST``, else the CLI's
current context), then among the usual sockets (the default one, rootless Docker's, Docker
Desktop's, colima's, Podman's; :func:`socket_candidates`); every call shares one hard time
budget (:class:`Clock`, run in a thread by :func:`bounded`); and every failure becomes a
:class:`DockerProblem` whose ``kind`` tells a missing socket, a refused one, a permission error
and a daemon that never answers apart.
:mod:`layercfg._sources.containers` asks the engine about containers through these.

``docker`` is imported inside the functions, so importing layercfg never imports it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs

from ..exceptions import LayercfgError, walk_causes
from .files import read_text

__all__ = [
    "DEFAULT_ENGINE",
    "Clock",
    "DockerProblem",
    "Endpoint",
    "bounded",
    "configuration_problem",
    "is_not_found",
    "resolve_endpoint",
]

DEFAULT_ENGINE: Final = "unix:///var/run/docker.sock"
# No Docker call gets less than this, so an almost spent budget still yields a real answer or
# a real timeout rather than a zero timeout (which would mean "block forever" to a socket).
_MIN_CALL_TIMEOUT: Final = 0.05

T = TypeVar("T")


@attrs.frozen
class DockerProblem:
    """Why discovery found nothing (or found too much), in words a user can act on."""

    # "socket-missing" | "connection-refused" | "permission-denied" | "timeout" | "no-container"
    # | "port-not-published" | "ambiguous" | "error"
    kind: str
    message: str
    engine: str  # the endpoint tried, e.g. "unix:///var/run/docker.sock"
    elapsed: float  # seconds since the call started


class Clock:
    """One call's time budget: what is left of it, and how long it has run."""

    def __init__(self, budget: float) -> None:
        self.budget = max(budget, _MIN_CALL_TIMEOUT)
        self.start = time.monotonic()
        self.deadline = self.start + self.budget

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left for the next call; raises a timeout when the budget is spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"time budget of {self.budget} s spent")
        return max(left, _MIN_CALL_TIMEOUT)


class _Outcome:
    value: Any = None
    error: BaseException | None = None


def bounded(work: Callable[[], T], clock: Clock, endpoint: Endpoint) -> T | DockerProblem:
    """Run ``work`` in a thread and give up on it at the deadline.

    Every Docker call inside gets the remaining budget as its socket timeout, which covers a daemon
    that accepts and never answers. The thread is the second line: name resolution, TLS handshakes
    and byte-by-byte answers are not covered by socket timeouts, and the budget is a promise. An
    abandoned thread ends by itself when its socket timeout fires; it is a daemon thread so it never
    holds the interpreter open.
    """
    outcome = _Outcome()

    def run() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # handed to the caller's thread, which classifies it
            outcome.error = exc

    thread = threading.Thread(target=run, name="layercfg-docker-discovery", daemon=True)
    thread.start()
    thread.join(max(clock.deadline - time.monotonic(), 0.0))
    if thread.is_alive():
        return _timeout_problem(endpoint, clock)
    if outcome.error is not None:
        return _classify(outcome.error, endpoint, clock)
    value: T = outcome.value
    return value


@attrs.frozen
class Endpoint:
    """The engine a call goes to, and why that one."""

    url: str  # e.g. "unix:///var/run/docker.sock", "tcp://10.0.0.2:2376"
    source: str  # where the url came from, for messages: "DOCKER_HOST=...", "DOCKER_HOST is unset"
    tls: Any = None  # docker.tls.TLSConfig or None

    @property
    def socket_path(self) -> str | None:
        for prefix in ("unix://", "http+unix://"):
            if self.url.startswith(prefix):
                path = self.url[len(prefix) :]
                return path if path.startswith("/") else f"/{path}"
        return None


def resolve_endpoint(environ: Mapping[str, str]) -> Endpoint:
    """Pick the engine the way the Docker CLI and SDK do: DOCKER_HOST, else the current context.

    The docker SDK is imported only where it decides something (TLS settings, a tcp:// host, a
    context): a unix socket is a path, and a missing one must cost a stat, not the SDK's import.
    """
    host = environ.get("DOCKER_HOST")
    tls = None
    if environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_CERT_PATH") or (host and not host.startswith("unix://")):
        from docker.utils import kwargs_from_env

        # kwargs_from_env treats an empty mapping as "use os.environ"; a placeholder keeps it on ours.
        params = kwargs_from_env(environment=dict(environ) or {"_LAYERCFG_EMPTY_ENVIRON": ""})
        tls = params.get("tls")
        if host:
            return Endpoint(str(params["base_url"]), f"DOCKER_HOST={host}", tls)
    elif host:
        return Endpoint(host, f"DOCKER_HOST={host}")
    context = _current_context(environ)
    if context is not None:
        return context
    found = _search_sockets(environ)
    if found is not None:
        return found
    return Endpoint(DEFAULT_ENGINE, "DOCKER_HOST is unset", tls)


def socket_candidates(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Where engines usually listen when neither DOCKER_HOST nor a CLI context says, in the order
    they are tried: ``(address, what it is)``. HOME and XDG_RUNTIME_DIR come from ``environ``."""
    import sys

    if sys.platform == "win32":
        return [("npipe:////./pipe/docker_engine", "Docker Desktop's named pipe")]
    candidates = [("/var/run/docker.sock", "the default socket")]
    runtime = environ.get("XDG_RUNTIME_DIR")
    home = environ.get("HOME")
    if runtime:
        candidates.append((os.path.join(runtime, "docker.sock"), "rootless Docker's socket ($XDG_RUNTIME_DIR)"))
    if home:
        candidates.append((os.path.join(home, ".docker", "run", "docker.sock"), "Docker Desktop's socket"))
        candidates.append((os.path.join(home, ".colima", "default", "docker.sock"), "colima's socket"))
    if runtime:
        candidates.append((os.path.join(runtime, "podman", "podman.sock"), "Podman's socket ($XDG_RUNTIME_DIR)"))
    return candidates


def _search_sockets(environ: Mapping[str, str]) -> Endpoint | None:
    """The first usual socket that exists (as a socket), the way the CLIs users know look for one."""
    import stat

    for address, what in socket_candidates(environ):
        if address.startswith("npipe:"):
            return Endpoint(address, f"DOCKER_HOST is unset and no context is set; {what}")
        try:
            is_socket = stat.S_ISSOCK(os.stat(address).st_mode)
        except OSError:
            continue
        if is_socket:
            return Endpoint(f"unix://{address}", f"DOCKER_HOST is unset and no context is set; found {what} {address}")
    return None


def _docker_config_dir(environ: Mapping[str, str]) -> str:
    config = environ.get("DOCKER_CONFIG")
    if config:
        return config
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".docker")


def _current_context(environ: Mapping[str, str]) -> Endpoint | None:
    """The Docker CLI's current context (DOCKER_CONTEXT, else config.json's currentContext).

    This reads the CLI's context store the way ``docker.context.Context.load_context`` does, but
    from ``environ`` rather than ``os.environ`` (the SDK's helpers read DOCKER_CONFIG from the
    process environment only). Returns None for the built-in ``default`` context.
    """
    config_dir = _docker_config_dir(environ)
    name = environ.get("DOCKER_CONTEXT")
    origin = "DOCKER_CONTEXT"
    if not name:
        origin = os.path.join(config_dir, "config.json")
        try:
            # Bounded like every file a load reads: a FIFO or a device here must not hang discovery.
            name = json.loads(read_text(Path(origin), origin, "Docker CLI config")).get("currentContext")
        except (LayercfgError, ValueError, AttributeError):
            name = None
    if not name or name == "default":
        return None
    from docker.context.config import get_context_id
    from docker.tls import TLSConfig

    context_id = get_context_id(name)
    meta_file = os.path.join(config_dir, "contexts", "meta", context_id, "meta.json")
    if not os.path.lexists(meta_file):
        raise ValueError(f"Docker context {name!r} (from {origin}) does not exist: no {meta_file}")
    try:
        meta = json.loads(read_text(Path(meta_file), meta_file, "Docker context"))
    except (LayercfgError, ValueError) as exc:
        raise ValueError(f"Docker context {name!r}: cannot read {meta_file}: {exc}") from None
    endpoint = (meta.get("Endpoints") or {}).get("docker") or {}
    host = endpoint.get("Host") or DEFAULT_ENGINE
    tls = None
    tls_dir = os.path.join(config_dir, "contexts", "tls", context_id, "docker")
    files = {"ca": "", "cert": "", "key": ""}
    if os.path.isdir(tls_dir):
        for filename in os.listdir(tls_dir):
            for kind in files:
                if filename.startswith(kind):
                    files[kind] = os.path.join(tls_dir, filename)
    if all(files.values()):
        verify = None if endpoint.get("SkipTLSVerify", False) else True
        tls = TLSConfig(client_cert=(files["cert"], files["key"]), ca_cert=files["ca"], verify=verify)
    return Endpoint(str(host), f"Docker context {name!r} from {origin}", tls)


def is_not_found(exc: BaseException) -> bool:
    """The engine answered 404 (no such container)."""
    return getattr(getattr(exc, "response", None), "status_code", None) == 404


def _kind(exc: BaseException) -> str:
    # requests' Timeout is known by name: classifying a missing socket must not import requests.
    for cause in walk_causes(exc):
        if isinstance(cause, FileNotFoundError):
            return "socket-missing"
        if isinstance(cause, ConnectionRefusedError):
            return "connection-refused"
        if isinstance(cause, PermissionError):
            return "permission-denied"
        if isinstance(cause, TimeoutError | socket.timeout):
            return "timeout"
        # requests' Timeout family and urllib3's, by their own names (urllib3's NewConnectionError
        # derives from ConnectTimeoutError, so the class hierarchy would call a refusal a timeout).
        if type(cause).__name__ in {
            "Timeout",
            "ConnectTimeout",
            "ReadTimeout",
            "ReadTimeoutError",
            "ConnectTimeoutError",
        }:
            return "timeout"
    return "error"


def configuration_problem(exc: Exception, environ: Mapping[str, str], clock: Clock) -> DockerProblem:
    """The client could not be built from the environment (a bad DOCKER_HOST, TLS settings, a context)."""
    engine = environ.get("DOCKER_HOST", "")
    return DockerProblem("error", f"cannot configure the Docker client: {exc}", engine, clock.elapsed())


def _timeout_problem(endpoint: Endpoint, clock: Clock) -> DockerProblem:
    message = f"Docker daemon at {endpoint.url} did not answer within {clock.budget:.1f} s ({endpoint.source})"
    return DockerProblem("timeout", message, endpoint.url, clock.elapsed())


def _classify(exc: BaseException, endpoint: Endpoint, clock: Clock) -> DockerProblem:
    kind = _kind(exc)
    if kind == "timeout":
        return _timeout_problem(endpoint, clock)
    url, path, source = endpoint.url, endpoint.socket_path, endpoint.source
    where = f"Docker socket {path}" if path else f"Docker daemon at {url}"
    if kind == "socket-missing" and path:
        message = f"Docker socket {path} does not exist (is the daemon running? {source})"
    elif kind == "socket-missing":  # a FileNotFoundError from elsewhere, e.g. a TLS certificate
        kind = "error"
        message = f"Docker client for {url} ({source}): {exc}"
    elif kind == "connection-refused":
        message = f"{where} refused the connection (is the daemon running? {source})"
    elif kind == "permission-denied":
        owner = _socket_owner(path)
        message = f"permission denied on {where}{owner} ({source}); run as a user who may use it"
    else:
        detail = str(exc).strip() or type(exc).__name__
        message = f"Docker daemon at {url} failed: {detail} ({source})"
    return DockerProblem(kind, message, url, clock.elapsed())


def _socket_owner(path: str | None) -> str:
    if path is None:
        return ""
    try:
        import grp
        import pwd

        status = os.stat(path)
        owner = pwd.getpwuid(status.st_uid).pw_name
        group = grp.getgrgid(status.st_gid).gr_name
    except (OSError, KeyError):
        return ""
    return f" (owned by {owner}:{group}, mode {status.st_mode & 0o777:04o})"
