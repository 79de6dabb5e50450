"""The discovery layer against a real Docker engine and the real netra compose files.

Containers are busybox httpd processes with real compose labels and ports Docker picks;
each test uses its own compose project label so parallel runs never see each other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest
from conftest import NETRA, NO_DOCKER
from docker_support import unique_name

from layercfg import ConfigError, LayerKind, load
from layercfg._doctor import run_doctor

pytestmark = pytest.mark.docker


@pytest.fixture
def netra(tmp_path: Path) -> Path:
    """A copy of the real netra project (compose files, env files, dockerfiles)."""
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    return root


@pytest.fixture
def backend(run_container):
    """A running `alpine-test-backend` compose service publishing 8000/tcp on a free host port."""
    project = unique_name("lcp")
    container = run_container(
        name=unique_name("alpine-test-backend"),
        labels={"com.docker.compose.service": "alpine-test-backend", "com.docker.compose.project": project},
        ports={"8000/tcp": ("0.0.0.0", None)},
    )
    port = int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    return container, project, port


def engine_environ(docker_engine, project: str, **extra: str) -> dict[str, str]:
    return {"DOCKER_HOST": docker_engine.docker_host, "NETRA_COMPOSE_PROJECT": project, **extra}


def test_running_container_beats_compose_declaration(netra, docker_engine, backend):
    """The published port of a running container wins; the compose declaration is listed below it."""
    container, project, port = backend
    loaded = load(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project))
    trace = loaded.trace["backend_url"]
    assert loaded.config.backend_url == f"http://localhost:{port}"
    assert loaded.config.websocket_url == f"ws://localhost:{port}/ws"
    assert (trace.winner.origin.layer, trace.winner.origin.source) == (
        LayerKind.DISCOVERY,
        f"docker container {container.name}",
    )
    assert trace.winner.origin.detail == (f"compose service label alpine-test-backend: 8000/tcp -> 0.0.0.0:{port}")
    declared = trace.candidates[1].origin
    assert (declared.source, declared.location) == (
        "compose service alpine-test-backend",
        "docker/docker-compose.alpine-test.yml:171",
    )


def test_running_container_beats_stale_legacy_url(netra, docker_engine, backend, run_cli):
    """Seed 847 scenario 1 with Docker up: the running container's port wins over TEST_BACKEND_URL and
    DOCKER_BACKEND_PORT, both shown as shadowed, and doctor names the legacy variables old code would read."""
    container, project, port = backend
    env = engine_environ(docker_engine, project, TEST_BACKEND_URL="http://localhost:8000", DOCKER_BACKEND_PORT="8002")
    loaded = load(profile="alpine-test", project_dir=netra, environ=env)
    trace = loaded.trace["backend_url"]
    assert loaded.config.backend_url == f"http://localhost:{port}"
    assert trace.winner.origin.source == f"docker container {container.name}"
    shadowed = [c.origin.source for c in trace.candidates if c.origin.layer is LayerKind.ENVIRONMENT]
    assert shadowed == ["env DOCKER_BACKEND_PORT", "env TEST_BACKEND_URL"]
    result = run_cli("doctor", "--json", "--no-probe", env={**env, "NETRA_PROFILE": "alpine-test"}, cwd=netra)
    findings = json.loads(result.stdout)["findings"]
    legacy = [f["message"] for f in findings if f["check"] == "legacy.disagree"]
    assert any(m.startswith("TEST_BACKEND_URL=http://localhost:8000 disagrees") for m in legacy)


def test_canonical_url_with_other_port_warns(netra, docker_engine, backend, run_cli):
    """NETRA_BACKEND_URL=...:8000 (an explicit choice) wins over the container, and explain and doctor say
    nothing listens there."""
    _, project, port = backend
    env = engine_environ(docker_engine, project, NETRA_BACKEND_URL="http://localhost:8000")
    loaded = load(profile="alpine-test", project_dir=netra, environ=env)
    trace = loaded.trace["backend_url"]
    assert loaded.config.backend_url == "http://localhost:8000"
    assert any(f"publishes 8000/tcp on {port}" in warning for warning in trace.warnings)
    result = run_cli("doctor", "--json", "--no-probe", env={**env, "NETRA_PROFILE": "alpine-test"}, cwd=netra)
    findings = json.loads(result.stdout)["findings"]
    conflicts = [f["message"] for f in findings if f["check"] == "port.conflict"]
    assert f"NETRA_BACKEND_URL points at localhost:8000 but the {backend[0].name} container publishes {port}" in (
        conflicts
    )


def test_found_by_network_alias(netra, docker_engine, run_container):
    """A container known only by its network alias `backend` is found, and the receipt says how."""
    project = unique_name("lcp")
    container = run_container(
        name=unique_name("x"),
        labels={"com.docker.compose.project": project},
        ports={"8000/tcp": ("127.0.0.1", None)},
        network_aliases=["backend"],
    )
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    loaded = load(profile="docker", project_dir=netra, environ=engine_environ(docker_engine, project))
    assert loaded.config.backend_url == f"http://127.0.0.1:{port}"
    assert loaded.trace["backend_url"].winner.origin.detail.startswith("network alias backend")


def test_docker_down_is_a_note_not_a_crash(netra):
    """No engine: the compose declaration decides, and the receipt says why Docker was not asked."""
    loaded = load(profile="alpine-test", project_dir=netra, environ=NO_DOCKER)
    assert loaded.config.backend_url == "http://localhost:8002"
    assert any("does not exist" in note and note.startswith("docker:") for note in loaded.trace.warnings)


def test_required_discovery_fails_clearly(tmp_path, docker_engine):
    """discovery = "required" with nothing running fails the load, naming the service and names tried."""
    project = tmp_path / "p"
    (project / "profiles").mkdir(parents=True)
    (project / "profiles" / "need.toml").write_text('[profile]\nextends = "docker"\n[values]\ndiscovery = "required"\n')
    env = engine_environ(docker_engine, unique_name("lcp"))
    with pytest.raises(ConfigError, match=r"backend_url: discovery is required but service backend \(names backend,"):
        load(profile="need", project_dir=project, environ=env)


def test_doctor_reports_docker_reachable(netra, docker_engine):
    """doctor says the engine answers when it does."""
    findings = run_doctor(
        profile="alpine-test", project_dir=str(netra), environ=engine_environ(docker_engine, "x"), probe=False
    )
    assert [f.check for f in findings if f.check.startswith("docker.")] == ["docker.reachable"]


@pytest.mark.parametrize("with_legacy", [False, True], ids=["scenario 2", "scenario 3"])
def test_seed_847_forced_staging_with_a_running_container(netra, docker_engine, backend, with_legacy):
    """Seed 847 scenarios 2 and 3 with the backend running: forced staging wins, and every other candidate,
    the running container first, is listed below it."""
    container, project, port = backend
    staging = "https://netra-backend-701982941522.us-central1.run.app"
    extra = {"STAGING_BASE_URL": staging, "USE_STAGING_SERVICES": "true", "STAGING_ENV": "true"}
    if with_legacy:
        extra |= {"TEST_BACKEND_URL": "http://localhost:8000", "DOCKER_BACKEND_PORT": "8002", "BACKEND_URL": ""}
    loaded = load(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project, **extra))
    trace = loaded.trace["backend_url"]
    assert (loaded.config.backend_url, loaded.config.websocket_url) == (
        staging,
        staging.replace("https", "wss") + "/ws",
    )
    sources = [c.origin.source for c in trace.candidates]
    expected = ["env STAGING_BASE_URL", f"docker container {container.name}", "compose service alpine-test-backend"]
    if with_legacy:
        expected += ["env DOCKER_BACKEND_PORT", "env TEST_BACKEND_URL"]
    assert sources[: len(expected)] == expected
    assert trace.candidates[1].raw == f"http://localhost:{port}"
    assert not [w for w in trace.warnings if "nothing may listen" in w]  # staging's 443 is not a local port


def test_remote_engine_publishes_on_its_own_host(netra):
    """With DOCKER_HOST=tcp://HOST:PORT, a port published on all addresses is reached at HOST, not localhost."""
    from layercfg._sources.containers import PublishedPort, remote_engine_host

    # 127.0.0.2 stands in for another host: a loopback address, so nothing leaves this machine, and an
    # engine there would publish its wildcard ports there. Nothing listens on port 9, so Docker is down.
    environ = {"DOCKER_HOST": "tcp://127.0.0.2:9"}
    loaded = load(profile="alpine-test", project_dir=netra, environ=environ)
    assert loaded.config.backend_url == "http://127.0.0.2:8002"
    assert loaded.config.database_url.startswith("postgresql://test:")
    assert loaded.config.database_url.endswith("@127.0.0.2:5435/netra_test")
    local = load(profile="alpine-test", project_dir=netra, environ={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert local.config.backend_url == "http://localhost:8002"

    assert [remote_engine_host(url) for url in ("tcp://10.0.0.5:2375", "ssh://ci@build-host", "unix:///x.sock")] == [
        "10.0.0.5",
        "build-host",
        None,
    ]
    port = PublishedPort("c", "id", None, None, "container name", "c", 8000, "tcp", "0.0.0.0", 32768, "10.0.0.5")
    assert (port.host, port.url_host) == ("10.0.0.5", "10.0.0.5")
    bound = attrs.evolve(port, host_ip="127.0.0.1")
    assert bound.host == "127.0.0.1"  # an explicit binding stays what Docker reports


def need_profile(netra: Path, **values: str) -> None:
    extra = "".join(f'{key} = "{value}"\n' for key, value in values.items())
    (netra / "profiles").mkdir(exist_ok=True)
    (netra / "profiles" / "need.toml").write_text(f'[profile]\nextends = "alpine-test"\n[values]\n{extra}')


def backend_error(caught: pytest.ExceptionInfo[ConfigError]) -> str:
    [message] = [str(e) for e in caught.value.errors if getattr(e, "field", None) == "backend_url"]
    return message


def test_required_is_not_satisfied_by_a_compose_declaration(netra, docker_engine):
    """discovery = "required" needs a running container: a compose declaration alone is an error with the fix."""
    need_profile(netra, discovery="required")
    with pytest.raises(ConfigError) as caught:
        load(profile="need", project_dir=netra, environ=engine_environ(docker_engine, unique_name("lcp")))
    message = backend_error(caught)
    assert "backend_url: discovery is required but service backend" in message
    assert "is not running: no container runs; docker/docker-compose.alpine-test.yml:" in message
    assert "only declares compose service alpine-test-backend (start it: docker compose -f " in message
    assert message.endswith("up -d alpine-test-backend)")


def test_several_stacks_required_names_all_and_a_pattern_selects(netra, docker_engine, run_container):
    """Two stacks running: required names every candidate; compose_project picks one, by name or pattern."""
    stem = unique_name("lcp")
    ports = {}
    for stack in ("a", "b"):
        container = run_container(
            name=unique_name(f"alpine-test-backend-{stack}"),
            labels={
                "com.docker.compose.service": "alpine-test-backend",
                "com.docker.compose.project": f"{stem}-{stack}",
            },
            ports={"8000/tcp": ("0.0.0.0", None)},
        )
        ports[stack] = (container.name, int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"]))
    need_profile(netra, discovery="required")
    with pytest.raises(ConfigError) as caught:
        load(profile="need", project_dir=netra, environ=engine_environ(docker_engine, f"{stem}-*"))
    message = backend_error(caught)
    assert "matches 2 running containers: " in message
    for stack, (name, port) in ports.items():
        assert f"{name} (project {stem}-{stack}, 0.0.0.0:{port})" in message
    assert "select one stack with compose_project (a project name or a pattern such as 'netra-*')" in message

    need_profile(netra, discovery="auto")
    chosen = load(profile="need", project_dir=netra, environ=engine_environ(docker_engine, f"{stem}-b"))
    assert chosen.config.backend_url == f"http://localhost:{ports['b'][1]}"
    by_pattern = load(profile="need", project_dir=netra, environ=engine_environ(docker_engine, f"{stem}-[b]"))
    assert by_pattern.config.backend_url == f"http://localhost:{ports['b'][1]}"
    nothing = load(profile="need", project_dir=netra, environ=engine_environ(docker_engine, f"{stem}-c*"))
    assert nothing.config.backend_url == "http://localhost:8002"  # the compose declaration: no stack matches
