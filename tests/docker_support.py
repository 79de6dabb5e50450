"""Pytest fixtures for tests that need a real Docker engine.

``tests/conftest.py`` does ``from docker_support import *``; only the names in ``__all__`` are
exported: the fixtures ``docker_engine``, ``run_container`` and ``docker_network``, and the
helpers ``unique_name`` and ``BUSYBOX_IMAGE``.

Where the engine comes from, in order:

1. ``DOCKER_HOST`` (or, when unset, ``/var/run/docker.sock``) if it answers a ping within 2 s;
2. else, as root with ``dockerd`` installed (or installable, when ``CI=true``), a private engine
   started by ``bash .ci/docker-engine start DIR`` and stopped at the end of the session. Under
   pytest-xdist the workers share one private engine (reference-counted under a file lock).

Without an engine the tests skip with the command that provides one; with ``CI=true`` they fail
instead, because tests that need Docker must never be skipped silently in CI.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

__all__ = ["BUSYBOX_IMAGE", "docker_engine", "docker_network", "run_container", "unique_name"]

BUSYBOX_IMAGE = "layercfg-busybox:latest"
ENGINE_SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "docker-engine"
NO_ENGINE = (
    "no Docker engine: set DOCKER_HOST or run as root with docker.io installed "
    "(bash .ci/docker-engine start /tmp/lcd), then rerun"
)
PING_TIMEOUT = 2.0
ENGINE_START_TIMEOUT = 600  # apt-get may have to install docker.io first
READY_TIMEOUT = 15.0


@attrs.frozen
class DockerEngine:
    """A reachable engine: where it is, and a client for it."""

    docker_host: str
    client: Any  # docker.DockerClient
    started_here: bool


def unique_name(base: str) -> str:
    """``base`` with a random suffix, so tests and parallel runs never share a container name."""
    return f"{base}-{uuid.uuid4().hex[:8]}"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _client(docker_host: str) -> Any | None:
    """A client for ``docker_host`` if its engine answers a ping within 2 s, else None."""
    import docker
    from docker.utils import kwargs_from_env

    params = kwargs_from_env()
    params["base_url"] = docker_host
    try:
        client = docker.DockerClient(version="auto", timeout=PING_TIMEOUT, **params)
        client.ping()
    except Exception:
        return None
    client.api.timeout = 60  # the ping is short; starting containers on a busy machine is not
    return client


def _no_engine(reason: str) -> None:
    message = f"{NO_ENGINE} ({reason})"
    if _in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def _private_engine() -> Iterator[str]:
    """Start (or join) a private engine via .ci/docker-engine; stop it when its last user leaves."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    # Short paths: the engine's unix sockets live under this directory (107-byte limit).
    if run_id:
        directory = Path(f"/tmp/lcd-{run_id[:10]}")
        directory.mkdir(exist_ok=True)
    else:
        directory = Path(tempfile.mkdtemp(prefix="lcd-", dir="/tmp"))
    users = directory / "users"
    users.mkdir(exist_ok=True)
    me = users / (os.environ.get("PYTEST_XDIST_WORKER") or "main")
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = subprocess.run(
            ["bash", str(ENGINE_SCRIPT), "start", str(directory)],
            capture_output=True,
            text=True,
            timeout=ENGINE_START_TIMEOUT,
            check=False,
        )
        if started.returncode == 0:
            me.touch()
    if started.returncode != 0:
        _no_engine(f".ci/docker-engine start failed: {started.stderr.strip()[-2000:]}")
    docker_host = started.stdout.strip().splitlines()[-1].removeprefix("DOCKER_HOST=")
    try:
        yield docker_host
    finally:
        with open(directory / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            me.unlink(missing_ok=True)
            if not any(users.iterdir()):
                subprocess.run(["bash", str(ENGINE_SCRIPT), "stop", str(directory)], timeout=120, check=False)
                shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """Fixture: a reachable Docker engine, started privately when none is configured."""
    configured = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    client = _client(configured)
    if client is not None:
        yield DockerEngine(configured, client, started_here=False)
        client.close()
        return
    if os.geteuid() != 0:
        _no_engine(f"{configured} does not answer and only root can start a private engine")
    sbin = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    if shutil.which("dockerd", path=sbin) is None and not _in_ci():
        _no_engine(f"{configured} does not answer and dockerd is not installed")
    with _private_engine() as docker_host:
        client = _client(docker_host)
        if client is None:
            _no_engine(f"the private engine at {docker_host} does not answer")
        try:
            yield DockerEngine(docker_host, client, started_here=True)
        finally:
            client.close()


def _wait_until(ready: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout} s")
        time.sleep(0.05)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def docker_network(docker_engine: DockerEngine) -> Iterator[Callable[..., Any]]:
    """Fixture: a factory of user-defined networks, ``docker_network(name=None)``, removed after the test."""
    created: list[Any] = []

    def make(name: str | None = None) -> Any:
        network = docker_engine.client.networks.create(name or unique_name("lct-net"), driver="bridge")
        created.append(network)
        return network

    yield make
    for network in reversed(created):
        with contextlib.suppress(Exception):
            network.remove()


@pytest.fixture
def run_container(
    docker_engine: DockerEngine, docker_network: Callable[..., Any]
) -> Iterator[Callable[..., Any]]:
    """Fixture: a factory that runs busybox httpd containers and force-removes them after the test.

    ``run_container(name=None, labels=None, ports=None, network_aliases=None, command=None, healthcheck=None)``
    (``healthcheck`` as the SDK takes it: ``{"test": [...], "interval": ns, ...}``):
    ``ports`` maps ``"8000/tcp"`` to ``(host_ip, None)`` so Docker picks a free host port;
    ``network_aliases`` connects the container to a fresh user network under those aliases.
    Returns the container, reloaded once it runs and its published ports accept connections.
    """
    started: list[Any] = []

    def run(
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        ports: Mapping[str, tuple[str, None]] | None = None,
        network_aliases: Sequence[str] | None = None,
        command: Sequence[str] | None = None,
        healthcheck: Mapping[str, Any] | None = None,
    ) -> Any:
        container = docker_engine.client.containers.run(
            BUSYBOX_IMAGE,
            list(command or ["busybox", "httpd", "-f", "-p", "8000"]),
            name=name or unique_name("lct"),
            labels=dict(labels or {}),
            ports=dict(ports or {}),
            healthcheck=dict(healthcheck) if healthcheck else None,
            detach=True,
        )
        started.append(container)
        if network_aliases:
            docker_network().connect(container, aliases=list(network_aliases))

        def running() -> bool:
            container.reload()
            return bool(container.status == "running")

        _wait_until(running, f"container {container.name}")
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            for binding in bindings or ():
                if ":" in binding["HostIp"]:
                    continue  # the IPv4 binding of the same port is enough
                host = binding["HostIp"] if binding["HostIp"] not in ("", "0.0.0.0") else "127.0.0.1"
                port = int(binding["HostPort"])
                _wait_until(lambda h=host, p=port: _accepts(h, p), f"{container.name} on {host}:{port}")
        return container

    yield run
    for container in reversed(started):
        with contextlib.suppress(Exception):
            container.remove(force=True)
