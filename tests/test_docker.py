"""Discovery against a real Docker engine, and every engine failure provoked for real."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from layercfg._sources.containers import PublishedPort, ServiceDiscovery, ServiceQuery, check_engine, discover
from layercfg._sources.engine import DockerProblem

REPO = Path(__file__).resolve().parents[1]
HTTPD_PORT = {"8000/tcp": ("0.0.0.0", None)}
SLACK = 0.2  # what discover() may take beyond its budget


@pytest.fixture
def unique() -> str:
    """A random suffix for names, so tests never see each other's containers."""
    return os.urandom(4).hex()


def engine_environ(docker_engine: Any) -> dict[str, str]:
    """The environment that points discovery at the test engine, TLS settings included."""
    environ = {k: v for k, v in os.environ.items() if k in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
    environ["DOCKER_HOST"] = docker_engine.docker_host
    return environ


def published(container: Any, port: str = "8000/tcp", *, ipv4: bool = True) -> tuple[str, int]:
    """The (host ip, host port) Docker reports for ``port``, IPv4 binding first."""
    bindings = container.attrs["NetworkSettings"]["Ports"][port]
    binding = next(b for b in bindings if (":" not in b["HostIp"]) == ipv4)
    return binding["HostIp"], int(binding["HostPort"])


def only(result: Any, service: str) -> ServiceDiscovery:
    assert result.problem is None, result.problem
    assert list(result.services) == [service]
    return result.services[service]  # type: ignore[no-any-return]


# --- a real engine -----------------------------------------------------------------------------


@pytest.mark.docker
def test_found_by_compose_label(docker_engine: Any, run_container: Callable[..., Any]) -> None:
    """A container labelled as compose service alpine-test-backend in the project is found, with its port."""
    project = f"x{os.urandom(4).hex()}"
    labels = {"com.docker.compose.service": "alpine-test-backend", "com.docker.compose.project": project}
    container = run_container(name=f"{project}-alpine-test-backend-1", labels=labels, ports=HTTPD_PORT)
    elsewhere = {**labels, "com.docker.compose.project": f"{project}-other"}
    run_container(name=f"{project}-other-alpine-test-backend-1", labels=elsewhere, ports=HTTPD_PORT)
    query = ServiceQuery("backend", ("backend", "dev-backend", "alpine-test-backend"), 8000, project=project)

    result = discover([query], environ=engine_environ(docker_engine))

    host_ip, host_port = published(container)
    found = PublishedPort(
        container_name=container.name,
        container_id=container.id,
        compose_service="alpine-test-backend",
        compose_project=project,
        matched_by="compose service label",
        matched_name="alpine-test-backend",
        container_port=8000,
        protocol="tcp",
        host_ip=host_ip,
        host_port=host_port,
    )
    assert only(result, "backend") == ServiceDiscovery(query, found, (), ())
    assert found.host == "localhost"
    assert found.describe() == (
        f"docker container {container.name} (compose service alpine-test-backend): "
        f"8000/tcp -> 0.0.0.0:{host_port}"
    )
    assert result.engine == docker_engine.docker_host


@pytest.mark.docker
def test_found_by_exact_container_name(
    docker_engine: Any, run_container: Callable[..., Any], unique: str
) -> None:
    """A container is found by its exact name; a longer name containing it does not match."""
    name = f"dev-backend-{unique}"
    run_container(name=f"{name}-extra", ports=HTTPD_PORT)
    run_container(name=f"x{name}", ports=HTTPD_PORT)
    container = run_container(name=name, ports=HTTPD_PORT)
    query = ServiceQuery("backend", (f"backend-{unique}", name), 8000)

    outcome = only(discover([query], environ=engine_environ(docker_engine)), "backend")

    host_ip, host_port = published(container)
    found = PublishedPort(
        container.name, container.id, None, None, "container name", name, 8000, "tcp", host_ip, host_port
    )
    assert outcome == ServiceDiscovery(query, found, (), ())


@pytest.mark.docker
def test_found_by_network_alias(docker_engine: Any, run_container: Callable[..., Any], unique: str) -> None:
    """A container is found by a network alias on a user-defined network."""
    alias = f"backend-{unique}"
    container = run_container(name=f"lct-api-{unique}", ports=HTTPD_PORT, network_aliases=[alias, "api"])
    query = ServiceQuery("backend", (alias,), 8000)

    outcome = only(discover([query], environ=engine_environ(docker_engine)), "backend")

    host_ip, host_port = published(container)
    found = PublishedPort(
        container.name, container.id, None, None, "network alias", alias, 8000, "tcp", host_ip, host_port
    )
    assert outcome == ServiceDiscovery(query, found, (), ())
    assert (
        found.describe()
        == f"docker container {container.name} (alias {alias}): 8000/tcp -> 0.0.0.0:{host_port}"
    )


@pytest.mark.docker
def test_preference_order_and_ambiguity(
    docker_engine: Any, run_container: Callable[..., Any], unique: str
) -> None:
    """With two matches the earlier name in query.names wins and an ambiguity warning names both."""
    preferred, other = f"backend-{unique}", f"test-backend-{unique}"
    second = run_container(name=other, ports=HTTPD_PORT)  # started first: order of start is no tiebreak
    first = run_container(name=preferred, ports=HTTPD_PORT)
    query = ServiceQuery("backend", (preferred, f"dev-backend-{unique}", other), 8000)

    outcome = only(discover([query], environ=engine_environ(docker_engine)), "backend")

    assert outcome.found is not None
    assert (outcome.found.container_id, [o.container_id for o in outcome.others]) == (first.id, [second.id])
    assert [p.kind for p in outcome.problems] == ["ambiguous"]
    message = outcome.problems[0].message
    assert f"using {preferred} (container name '{preferred}')" in message
    assert f"not {other} (container name '{other}')" in message


@pytest.mark.docker
def test_port_not_published(docker_engine: Any, run_container: Callable[..., Any], unique: str) -> None:
    """A running container that does not publish the port is named in a port-not-published problem."""
    name = f"backend-{unique}"
    run_container(name=name, ports={"9000/tcp": ("127.0.0.1", None)})
    query = ServiceQuery("backend", (name,), 8000)

    outcome = only(discover([query], environ=engine_environ(docker_engine)), "backend")

    assert (outcome.found, outcome.others, [p.kind for p in outcome.problems]) == (
        None,
        (),
        ["port-not-published"],
    )
    message = outcome.problems[0].message
    assert f"container {name} (container name '{name}') runs but does not publish 8000/tcp" in message
    assert "it publishes 9000/tcp -> 127.0.0.1:" in message


@pytest.mark.docker
def test_no_container(docker_engine: Any, unique: str) -> None:
    """When nothing matches, the problem lists every name that was looked for."""
    names = (f"backend-{unique}", f"dev-backend-{unique}")
    query = ServiceQuery("backend", names, 8000)

    outcome = only(discover([query], environ=engine_environ(docker_engine)), "backend")

    assert (outcome.found, [p.kind for p in outcome.problems]) == (None, ["no-container"])
    assert outcome.problems[0].message.endswith(f"among: {names[0]}, {names[1]}")


@pytest.mark.docker
def test_specific_host_ip_is_respected(
    docker_engine: Any, run_container: Callable[..., Any], unique: str
) -> None:
    """A port published on 127.0.0.1 is reported with host 127.0.0.1, not localhost."""
    name = f"backend-{unique}"
    container = run_container(name=name, ports={"8000/tcp": ("127.0.0.1", None)})

    outcome = only(
        discover([ServiceQuery("backend", (name,), 8000)], environ=engine_environ(docker_engine)), "backend"
    )

    assert outcome.found is not None
    assert (outcome.found.host_ip, outcome.found.host, outcome.found.host_port) == (
        "127.0.0.1",
        "127.0.0.1",
        published(container)[1],
    )
    with socket.create_connection((outcome.found.host, outcome.found.host_port), timeout=2):
        pass


@pytest.mark.docker
def test_check_engine_reachable(docker_engine: Any) -> None:
    """check_engine() returns None for an engine that answers."""
    assert check_engine(environ=engine_environ(docker_engine)) is None


@pytest.mark.docker
def test_current_context_is_used_when_docker_host_is_unset(
    docker_engine: Any, run_container: Callable[..., Any], unique: str, tmp_path: Path
) -> None:
    """Without DOCKER_HOST, the Docker CLI's current context (under DOCKER_CONFIG) picks the engine."""
    from docker.context.config import get_context_id

    if not docker_engine.docker_host.startswith("unix://"):
        pytest.skip("the context written here has no TLS material")
    meta = tmp_path / "contexts" / "meta" / get_context_id("lct") / "meta.json"
    meta.parent.mkdir(parents=True)
    endpoint = {"Host": docker_engine.docker_host, "SkipTLSVerify": False}
    meta.write_text(json.dumps({"Name": "lct", "Metadata": {}, "Endpoints": {"docker": endpoint}}))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "lct"}))
    name = f"backend-{unique}"
    run_container(name=name, ports=HTTPD_PORT)

    result = discover([ServiceQuery("backend", (name,), 8000)], environ={"DOCKER_CONFIG": str(tmp_path)})

    assert (result.engine, only(result, "backend").found is not None) == (docker_engine.docker_host, True)


# --- engine failures, provoked for real; no engine needed --------------------------------------


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for unix sockets (paths are limited to 107 bytes), readable by everyone."""
    directory = Path(tempfile.mkdtemp(prefix="lct-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory
    for entry in directory.iterdir():
        entry.unlink()
    directory.rmdir()


@contextlib.contextmanager
def hung_server(path: Path) -> Iterator[None]:
    """A unix socket server that accepts every connection and never answers."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if select.select([server], [], [], 0.05)[0]:
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


QUERY = ServiceQuery("backend", ("backend",), 8000)


def expected_problem(result: Any, kind: str, message: str, engine: str) -> None:
    """Compare a failed discovery with the expected problem, elapsed times aside."""
    assert result.problem is not None
    assert (result.engine, dict(result.services)) == (engine, {})
    assert attrs.evolve(result.problem, elapsed=0.0) == DockerProblem(kind, message, engine, 0.0)


def test_socket_missing() -> None:
    """A DOCKER_HOST socket that does not exist is reported as socket-missing, at once."""
    host = "unix:///tmp/lct-nonexistent-4b1d/docker.sock"
    started = time.monotonic()
    result = discover([QUERY], environ={"DOCKER_HOST": host})
    elapsed = time.monotonic() - started

    message = (
        "Docker socket /tmp/lct-nonexistent-4b1d/docker.sock does not exist "
        f"(is the daemon running? DOCKER_HOST={host})"
    )
    expected_problem(result, "socket-missing", message, host)
    assert elapsed < 0.5
    problem = check_engine(environ={"DOCKER_HOST": host})
    assert problem is not None
    assert attrs.evolve(problem, elapsed=0.0) == DockerProblem("socket-missing", message, host, 0.0)


def test_default_socket_missing_says_docker_host_is_unset(tmp_path: Path) -> None:
    """Without DOCKER_HOST or a context, the default socket is tried and the message says so."""
    if os.path.exists("/var/run/docker.sock"):
        pytest.skip("/var/run/docker.sock exists here")
    result = discover([QUERY], environ={"DOCKER_CONFIG": str(tmp_path)})

    message = (
        "Docker socket /var/run/docker.sock does not exist (is the daemon running? DOCKER_HOST is unset)"
    )
    expected_problem(result, "socket-missing", message, "unix:///var/run/docker.sock")


def test_missing_context_is_an_error(tmp_path: Path) -> None:
    """A DOCKER_CONTEXT that does not exist is reported as an error naming it, not raised."""
    result = discover([QUERY], environ={"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "nope"})

    assert result.problem is not None
    assert result.problem.kind == "error"
    assert "Docker context 'nope' (from DOCKER_CONTEXT) does not exist" in result.problem.message


def test_connection_refused(socket_dir: Path) -> None:
    """A socket file whose listener has closed is reported as connection-refused."""
    path = socket_dir / "docker.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.close()
    host = f"unix://{path}"

    result = discover([QUERY], environ={"DOCKER_HOST": host})

    message = f"Docker socket {path} refused the connection (is the daemon running? DOCKER_HOST={host})"
    expected_problem(result, "connection-refused", message, host)
    assert check_engine(environ={"DOCKER_HOST": host}) is not None


def test_tcp_connection_refused() -> None:
    """A tcp:// DOCKER_HOST where nothing listens is reported as connection-refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"tcp://127.0.0.1:{port}"

    result = discover([QUERY], environ={"DOCKER_HOST": host})

    message = f"Docker daemon at {host} refused the connection (is the daemon running? DOCKER_HOST={host})"
    expected_problem(result, "connection-refused", message, host)


def as_nobody(work: Callable[[], str], timeout: float = 10.0) -> str:
    """Run ``work`` in a forked child that dropped to uid/gid 65534, and return what it returned.

    A fork rather than a new interpreter: this interpreter may live where uid 65534 cannot read
    (a pyenv under /root), and the child needs nothing but the modules already imported.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, work().encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    try:
        ready = select.select([read], [], [], timeout)[0]
        output = os.read(read, 65536).decode() if ready else ""
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    return output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop to uid 65534")
def test_permission_denied(socket_dir: Path) -> None:
    """A root-owned 0600 socket is reported as permission-denied to an unprivileged user."""
    path = socket_dir / "docker.sock"
    host = f"unix://{path}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)  # root could connect: the only obstacle is the file mode
    path.chmod(0o600)

    def work() -> str:
        result = discover([QUERY], budget=2.0, environ={"DOCKER_HOST": host})
        problem = check_engine(budget=2.0, environ={"DOCKER_HOST": host})
        assert result.problem is not None
        assert problem is not None
        return json.dumps([result.problem.kind, result.problem.message, problem.kind])

    try:
        output = as_nobody(work)
    finally:
        listener.close()
    kind, message, check_kind = json.loads(output)
    assert (kind, check_kind) == ("permission-denied", "permission-denied")
    assert message == (
        f"permission denied on Docker socket {path} (owned by root:root, mode 0600) "
        f"(DOCKER_HOST={host}); run as a user who may use it"
    )


@pytest.mark.parametrize("budget", [0.5, 1.0])
def test_timeout_within_budget(socket_dir: Path, budget: float) -> None:
    """A daemon that accepts and never answers costs at most the budget and is reported as timeout."""
    path = socket_dir / "docker.sock"
    host = f"unix://{path}"
    with hung_server(path):
        started = time.monotonic()
        result = discover([QUERY], budget=budget, environ={"DOCKER_HOST": host})
        discover_elapsed = time.monotonic() - started
        started = time.monotonic()
        problem = check_engine(budget=budget, environ={"DOCKER_HOST": host})
        check_elapsed = time.monotonic() - started

    message = f"Docker daemon at {host} did not answer within {budget:.1f} s (DOCKER_HOST={host})"
    expected_problem(result, "timeout", message, host)
    assert problem is not None
    assert problem.kind == "timeout"
    assert discover_elapsed <= budget + SLACK
    assert check_elapsed <= budget + SLACK
    assert result.elapsed <= budget + SLACK


def test_unknown_failure_is_an_error_not_an_exception() -> None:
    """A DOCKER_HOST the SDK cannot parse becomes a problem of kind error, never an exception."""
    result = discover([QUERY], environ={"DOCKER_HOST": "bogus://nowhere"})

    assert result.problem is not None
    assert (result.problem.kind, result.services) == ("error", {})


def test_import_does_not_import_docker() -> None:
    """Importing the discovery module leaves the docker SDK unimported."""
    code = "import sys, layercfg._sources.containers; print('docker' in sys.modules)"
    child = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("host_ip", "host", "url_host", "shown"),
    [
        pytest.param("0.0.0.0", "localhost", "localhost", "0.0.0.0", id="IPv4 wildcard is localhost"),
        pytest.param("::", "localhost", "localhost", "[::]", id="IPv6 wildcard is localhost"),
        pytest.param("", "localhost", "localhost", "", id="no address is localhost"),
        pytest.param("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", id="specific IPv4 kept"),
        pytest.param("::1", "::1", "[::1]", "[::1]", id="specific IPv6 bracketed in URLs"),
    ],
)
def test_published_port_host(host_ip: str, host: str, url_host: str, shown: str) -> None:
    """The host to connect to follows Docker's binding address; wildcards become localhost."""
    port = PublishedPort("b", "id", None, None, "container name", "b", 8000, "tcp", host_ip, 8002)

    assert (port.host, port.url_host, port.describe()) == (
        host,
        url_host,
        f"docker container b: 8000/tcp -> {shown}:8002",
    )
