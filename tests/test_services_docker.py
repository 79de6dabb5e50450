"""Services as declared data against a real Docker engine: stand-ins, compose credentials, masked secrets.

Stand-ins are busybox processes listening on the service's container port and speaking as much of
its protocol as readiness probes check (PostgreSQL's answer to an SSLRequest on 5432, Redis' +PONG
on 6379, HTTP from busybox httpd elsewhere), labelled as the compose service, with host ports Docker picks;
each test uses its own compose project label so parallel runs never see each other. The
Docker-free half of the service model is in test_services.py.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import NETRA, NO_DOCKER
from docker_support import unique_name
from servers import ReplyingListener, closed_port

from layercfg import LayerKind, Origin, ServiceTimeoutError, load, wait_for_service
from layercfg._doctor import run_doctor
from layercfg._resolve.probe import ProbeRequest

pytestmark = pytest.mark.docker
pytest_plugins = ["pytester"]

COMPOSE = "docker/docker-compose.alpine-test.yml"
# Distinctive, so "never printed" means something: the compose file's postgres password, and
# another one in the env file that the compose one outranks.
PASSWORD = "pw-Zq8-unique"
ENV_PASSWORD = "pw-Env-Kx3-other"
PYTEST_TIMEOUT = 120  # seconds for one inner pytest process; each normally takes a few


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def netra(tmp_path: Path) -> Path:
    """A copy of the real netra project (compose files, env files, dockerfiles)."""
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    return root


def host_port(container: Any, container_port: int) -> int:
    """The host port Docker picked for ``container_port``/tcp (its IPv4 binding)."""
    bindings = container.attrs["NetworkSettings"]["Ports"][f"{container_port}/tcp"]
    return int(next(b["HostPort"] for b in bindings if ":" not in b["HostIp"]))


@pytest.fixture
def stand_in(run_container: Callable[..., Any]) -> Callable[..., tuple[Any, list[int]]]:
    """Fixture: ``stand_in(compose_service, project, *ports)`` runs a busybox container listening on
    each container port, labelled as that compose service, and returns it with the host ports."""

    def start(compose_service: str, project: str, *ports: int) -> tuple[Any, list[int]]:
        # busybox httpd without -f detaches; the last one stays in front as the container's process. It serves
        # /health and /ping (ClickHouse's) with 200, as the real services do: a health path answering 404 is
        # reachable but unhealthy.
        # Ports 5432 and 6379 get `nc -ll` servers answering PostgreSQL's SSLRequest with N and Redis' PING
        # with +PONG: the readiness probes check those first bytes, as the real servers send them.
        serve = "mkdir -p /www && echo ok > /www/health && echo Ok. > /www/ping"
        greeting = {5432: "N", 6379: "+PONG\\r\\n"}
        daemons = [
            f"(busybox nc -ll -p {p} -e busybox printf '{greeting[p]}' &)"
            if p in greeting
            else f"busybox httpd -h /www -p {p}"
            for p in ports
        ]
        script = " && ".join([serve, *daemons, "exec busybox sleep 3600"])
        container = run_container(
            name=unique_name(compose_service),
            labels={"com.docker.compose.service": compose_service, "com.docker.compose.project": project},
            ports={f"{port}/tcp": ("0.0.0.0", None) for port in ports},
            command=["busybox", "sh", "-c", script],
        )
        return container, [host_port(container, port) for port in ports]

    return start


def engine_environ(docker_engine: Any, project: str, **extra: str) -> dict[str, str]:
    return {"DOCKER_HOST": docker_engine.docker_host, "NETRA_COMPOSE_PROJECT": project, **extra}


def with_passwords(netra: Path) -> None:
    """Put PASSWORD into the compose file (line 13) and ENV_PASSWORD into the env file (line 27)."""
    for relative, line, old, new in (
        (COMPOSE, 13, "POSTGRES_PASSWORD: test", f"POSTGRES_PASSWORD: {PASSWORD}"),
        ("config/.env.alpine-test", 27, "POSTGRES_PASSWORD=test", f"POSTGRES_PASSWORD={ENV_PASSWORD}"),
    ):
        path = netra / relative
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[line - 1].strip() == old
        lines[line - 1] = lines[line - 1].replace(old, new)
        path.write_text("\n".join(lines), encoding="utf-8")


def show_rows(stdout: str) -> dict[str, tuple[str, str, str]]:
    """``layercfg show`` text as ``{field: (value, layer, where)}`` (values hold no spaces)."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        if line.startswith("warning:"):
            continue
        name, _, rest = line.partition(" = ")
        value, layer, *where = rest.split()
        rows[name.strip()] = (value, layer, " ".join(where))
    return rows


@pytest.fixture
def plugin_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Fixture: ``plugin_env(**variables)`` sets the environment of inner pytest runs, after removing
    every variable layercfg reads (so nothing leaks in from the machine running these tests)."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    names = set(schema_info(TestEnvConfig, "NETRA_").by_env_name) | {"NETRA_PROFILE", "CI"}
    for name in names & set(os.environ):
        monkeypatch.delenv(name)

    def setenv(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return setenv


def run_pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a fresh process (the environment as monkeypatched here, nothing cached)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=PYTEST_TIMEOUT)


def netra_in_pytester(pytester: pytest.Pytester) -> None:
    """The netra project in the pytester directory, with a [tool.layercfg] table that turns the plugin on."""
    shutil.copytree(NETRA, pytester.path, dirs_exist_ok=True)
    pytester.makepyprojecttoml("[tool.layercfg]\n")


# --- 1. stand-ins for postgres and redis ------------------------------------------------------------


def test_postgres_and_redis_stand_ins_get_urls_with_compose_credentials(netra, docker_engine, stand_in):
    """Running postgres and redis stand-ins give URLs in their own schemes, with postgres credentials from compose."""
    project = unique_name("lcp")
    postgres, [port] = stand_in("alpine-test-postgres", project, 5432)
    redis, [rport] = stand_in("alpine-test-redis", project, 6379)
    loaded = load(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project))
    config = loaded.config
    assert (
        config.database_url,
        config.postgres_host,
        config.postgres_port,
        config.postgres_user,
        config.postgres_password,
        config.postgres_db,
    ) == (f"postgresql://test:test@localhost:{port}/netra_test", "localhost", port, "test", "test", "netra_test")
    assert (config.redis_url, config.redis_host, config.redis_port, config.redis_password) == (
        f"redis://localhost:{rport}",
        "localhost",
        rport,
        None,
    )
    assert loaded.trace["database_url"].winner.origin == Origin(
        LayerKind.DISCOVERY,
        f"docker container {postgres.name}",
        None,
        f"compose service label alpine-test-postgres: 5432/tcp -> 0.0.0.0:{port}",
        parts=(
            ("user", f"{COMPOSE}:12 (POSTGRES_USER)"),
            ("password", f"{COMPOSE}:13 (POSTGRES_PASSWORD)"),
            ("database", f"{COMPOSE}:14 (POSTGRES_DB)"),
        ),
        container=postgres.name,
    )
    assert loaded.trace["redis_url"].winner.origin == Origin(
        LayerKind.DISCOVERY,
        f"docker container {redis.name}",
        None,
        f"compose service label alpine-test-redis: 6379/tcp -> 0.0.0.0:{rport}",
        container=redis.name,
    )
    declared = loaded.trace["database_url"].candidates[1]
    assert (declared.origin.source, declared.origin.location, declared.raw) == (
        "compose service alpine-test-postgres",
        f"{COMPOSE}:17",
        "postgresql://test:test@localhost:5435/netra_test",
    )


# --- 2. environment: in list and mapping form -----------------------------------------------------

LIST_FORM = """
services:
  test-postgres:
    image: postgres:16-alpine
    environment:
      - POSTGRES_USER=alice
      - POSTGRES_PASSWORD=s3cr3t-pw
      - "POSTGRES_DB=app"
    ports:
      - "15432:5432"
"""
MAPPING_FORM = """
services:
  test-postgres:
    image: postgres:16-alpine
    environment:
      POSTGRES_INITDB_ARGS: "--data-checksums"
      POSTGRES_USER: alice
      POSTGRES_PASSWORD: s3cr3t-pw

      POSTGRES_DB: app
    ports:
      - "15432:5432"
"""
INTERPOLATED_LIST_FORM = """
services:
  test-postgres:
    image: postgres:16-alpine
    environment:
      - POSTGRES_USER=${PG_USER:-nobody}
      - POSTGRES_PASSWORD=${PG_PASSWORD}
      - POSTGRES_DB=app
    ports:
      - "15432:5432"
"""


@pytest.mark.parametrize(
    ("compose", "extra_environ", "lines"),
    [
        pytest.param(LIST_FORM, {}, (5, 6, 7, 9), id="list form"),
        pytest.param(MAPPING_FORM, {}, (6, 7, 9, 11), id="mapping form"),
        pytest.param(
            INTERPOLATED_LIST_FORM,
            {"PG_USER": "alice", "PG_PASSWORD": "s3cr3t-pw"},
            (5, 6, 7, 9),
            id="list form interpolated from the environment",
        ),
    ],
)
def test_compose_environment_credentials_join_the_discovered_url(
    tmp_path, docker_engine, stand_in, compose, extra_environ, lines
):
    """The running container's URL carries the user, password and database its compose environment: declares."""
    root = tmp_path / "app"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "stack.toml").write_text(
        '[values]\ndiscovery = "auto"\ncompose_files = ["deploy/compose.yml"]\n', encoding="utf-8"
    )
    (root / "deploy").mkdir()
    (root / "deploy" / "compose.yml").write_text(textwrap.dedent(compose).lstrip("\n"), encoding="utf-8")
    project = unique_name("lcp")
    container, [port] = stand_in("test-postgres", project, 5432)
    environ = engine_environ(docker_engine, project, **extra_environ)
    loaded = load(profile="stack", project_dir=root, environ=environ)
    user_line, password_line, db_line, port_line = lines
    parts = (
        ("user", f"deploy/compose.yml:{user_line} (POSTGRES_USER)"),
        ("password", f"deploy/compose.yml:{password_line} (POSTGRES_PASSWORD)"),
        ("database", f"deploy/compose.yml:{db_line} (POSTGRES_DB)"),
    )
    trace = loaded.trace["database_url"]
    assert (loaded.config.database_url, loaded.config.postgres_port) == (
        f"postgresql://alice:s3cr3t-pw@localhost:{port}/app",
        port,
    )
    assert (loaded.config.postgres_user, loaded.config.postgres_password, loaded.config.postgres_db) == (
        "alice",
        "s3cr3t-pw",
        "app",
    )
    assert trace.winner.origin == Origin(
        LayerKind.DISCOVERY,
        f"docker container {container.name}",
        None,
        f"compose service label test-postgres: 5432/tcp -> 0.0.0.0:{port}",
        parts=parts,
        container=container.name,
    )
    declared = trace.candidates[1]
    assert (declared.raw, declared.origin.location, declared.origin.parts) == (
        "postgresql://alice:s3cr3t-pw@localhost:15432/app",
        f"deploy/compose.yml:{port_line}",
        parts,
    )


# --- 3. the password is masked on every channel ---------------------------------------------------


@pytest.fixture
def postgres_with_password(netra, docker_engine, stand_in) -> tuple[Path, dict[str, str], Any, int]:
    """netra with PASSWORD in its compose file and a running postgres stand-in: (root, environ, container, port)."""
    with_passwords(netra)
    project = unique_name("lcp")
    container, [port] = stand_in("alpine-test-postgres", project, 5432)
    return netra, engine_environ(docker_engine, project, NETRA_PROFILE="alpine-test"), container, port


MASKED_URL = "postgresql://test:<secret>@localhost:{port}/netra_test"
DISAGREES = "POSTGRES_PASSWORD=<secret> disagrees with the resolved postgres_password=<secret>"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("explain", "database_url"), f"database_url = {MASKED_URL}", id="explain"),
        pytest.param(("explain", "database_url", "--json"), f'"value": "{MASKED_URL}"', id="explain json"),
        pytest.param(("explain", "postgres_password"), "postgres_password = <secret>", id="explain password field"),
        pytest.param(("explain", "postgres_port"), "postgres_port = {port}", id="explain port field"),
        pytest.param(("show",), f"= {MASKED_URL}  discovery", id="show"),
        pytest.param(("show", "--json"), f'"value": "{MASKED_URL}"', id="show json"),
        pytest.param(("env",), "# NETRA_DATABASE_URL holds a secret: add --show-secrets to export it", id="env"),
        pytest.param(("env", "--legacy", "--json"), f'"DATABASE_URL": "{MASKED_URL}"', id="env legacy json"),
        pytest.param(
            ("env", "--format", "shell"),
            "# NETRA_DATABASE_URL holds a secret: add --show-secrets to export it",
            id="env shell",
        ),
        pytest.param(("doctor", "--json", "--no-probe"), DISAGREES, id="doctor json"),
        pytest.param(("doctor", "--no-probe"), DISAGREES, id="doctor"),
    ],
)
def test_password_never_printed_by_the_cli(run_cli, postgres_with_password, args, expected):
    """Against the running container, no CLI channel prints either password; each shows the masked value."""
    root, environ, _, port = postgres_with_password
    result = run_cli(*args, env=environ, cwd=root)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert (PASSWORD in output, ENV_PASSWORD in output) == (False, False)
    assert expected.format(port=port) in result.stdout


def test_masked_values_in_json_are_whole_values(run_cli, postgres_with_password):
    """explain --json and env --legacy --json carry the discovered URL with <secret> in place of the password."""
    root, environ, container, port = postgres_with_password
    url = f"postgresql://test:<secret>@localhost:{port}/netra_test"
    explained = json.loads(run_cli("explain", "database_url", "--json", env=environ, cwd=root).stdout)
    assert (explained["value"], explained["source"], explained["candidates"][1]["value"]) == (
        url,
        f"docker container {container.name}",
        "postgresql://test:<secret>@localhost:5435/netra_test",
    )
    variables = json.loads(run_cli("env", "--legacy", "--json", env=environ, cwd=root).stdout)
    assert {name: variables[name] for name in ("DATABASE_URL", "NETRA_DATABASE_URL", "POSTGRES_PASSWORD")} == {
        "DATABASE_URL": url,
        "NETRA_DATABASE_URL": url,
        "POSTGRES_PASSWORD": "<secret>",
    }


def test_show_secrets_reveals_the_password(run_cli, postgres_with_password):
    """explain --show-secrets prints the URL with the compose file's password and no <secret>."""
    root, environ, _, port = postgres_with_password
    result = run_cli("explain", "database_url", "--show-secrets", env=environ, cwd=root)
    first, *rest = result.stdout.splitlines()
    assert first == f"database_url = postgresql://test:{PASSWORD}@localhost:{port}/netra_test"
    assert f"password <- {COMPOSE}:13 (POSTGRES_PASSWORD)" in "\n".join(rest)
    assert "<secret>" not in result.stdout


def test_password_masked_in_plugin_header(pytester, plugin_env, docker_engine, stand_in):
    """The pytest header names the discovered container of database_url and masks its password, as the repr does."""
    netra_in_pytester(pytester)
    with_passwords(pytester.path)
    project = unique_name("lcp")
    container, [port] = stand_in("alpine-test-postgres", project, 5432)
    plugin_env(**engine_environ(docker_engine, project, NETRA_PROFILE="alpine-test"))
    pytester.makepyfile("def test_print(layercfg_config):\n    print(repr(layercfg_config))\n")
    result = run_pytest(pytester, "-s")
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert (PASSWORD in output, ENV_PASSWORD in output) == (False, False)
    result.stdout.fnmatch_lines(
        [
            "layercfg: profile local,docker,alpine-test",
            f"layercfg:   database_url=postgresql://test:<secret>@localhost:{port}/netra_test "
            f"(discovery: docker container {container.name} (compose service label alpine-test-postgres: "
            f"5432/tcp -> 0.0.0.0:{port}))",
            f"*database_url='postgresql://test:<secret>@localhost:{port}/netra_test'*",
        ]
    )


# --- 4. every service URL in `layercfg show` ------------------------------------------------------

SERVICES = {  # URL field -> (compose service, container port, URL with {port} for the host port)
    "backend_url": ("alpine-test-backend", 8000, "http://localhost:{port}"),
    "auth_url": ("alpine-test-auth", 8081, "http://localhost:{port}"),
    "frontend_url": ("alpine-test-frontend", 3000, "http://localhost:{port}"),
    "database_url": ("alpine-test-postgres", 5432, "postgresql://test:<secret>@localhost:{port}/netra_test"),
    "redis_url": ("alpine-test-redis", 6379, "redis://localhost:{port}"),
    "clickhouse_url": ("alpine-test-clickhouse", 8123, "http://test:<secret>@localhost:{port}"),
    "clickhouse_native_url": (
        "alpine-test-clickhouse",
        9000,
        "clickhouse://test:<secret>@localhost:{port}/test_analytics",
    ),
}


def start_stack(stand_in: Callable[..., tuple[Any, list[int]]], project: str) -> dict[str, tuple[Any, list[int]]]:
    """A stand-in for every compose service in SERVICES (clickhouse with both ports), by compose service."""
    containers = {}
    for compose_service in dict.fromkeys(service for service, _, _ in SERVICES.values()):
        ports = [port for service, port, _ in SERVICES.values() if service == compose_service]
        containers[compose_service] = stand_in(compose_service, project, *ports)
    return containers


def test_show_lists_every_service_url_from_running_containers(run_cli, netra, docker_engine, stand_in):
    """With the whole stack running, `layercfg show` gives every service URL as its container publishes it."""
    project = unique_name("lcp")
    containers = start_stack(stand_in, project)
    environ = engine_environ(docker_engine, project, NETRA_PROFILE="alpine-test")
    result = run_cli("show", env=environ, cwd=netra)
    assert result.returncode == 0, result.stderr
    rows = show_rows(result.stdout)
    expected = {}
    for field, (compose_service, container_port, url) in SERVICES.items():
        container, _ = containers[compose_service]
        port = host_port(container, container_port)
        expected[field] = (url.format(port=port), "discovery", f"docker container {container.name}")
    assert {field: rows[field] for field in SERVICES} == expected


def test_show_lists_every_service_url_from_compose_declarations_without_an_engine(run_cli, netra):
    """With no engine, `layercfg show` gives every service URL from its compose port declaration, file:line."""
    result = run_cli("show", env={**NO_DOCKER, "NETRA_PROFILE": "alpine-test"}, cwd=netra)
    assert result.returncode == 0, result.stderr
    rows = show_rows(result.stdout)
    assert {field: rows[field] for field in SERVICES} == {
        "backend_url": ("http://localhost:8002", "discovery", f"{COMPOSE}:171"),
        "auth_url": ("http://localhost:8083", "discovery", f"{COMPOSE}:225"),
        "frontend_url": ("http://localhost:3002", "discovery", f"{COMPOSE}:264"),
        "database_url": ("postgresql://test:<secret>@localhost:5435/netra_test", "discovery", f"{COMPOSE}:17"),
        "redis_url": ("redis://localhost:6382", "discovery", f"{COMPOSE}:56"),
        "clickhouse_url": ("http://test:<secret>@localhost:8126", "discovery", f"{COMPOSE}:84"),
        "clickhouse_native_url": (
            "clickhouse://test:<secret>@localhost:9003/test_analytics",
            "discovery",
            f"{COMPOSE}:85",
        ),
    }
    assert "warning: docker: Docker socket /nonexistent-layercfg-test/docker.sock does not exist" in result.stdout


# --- 5. requires_service("postgres") ----------------------------------------------------------------

NEEDS_POSTGRES = """
import pytest

@pytest.mark.requires_service("postgres")
def test_needs_postgres():
    pass
"""


def test_requires_postgres_skips_on_closed_port_with_receipt(pytester, plugin_env):
    """A postgres URL at a closed port skips the marked test, saying what the probe saw and where the URL came from."""
    pytester.makepyprojecttoml("[tool.layercfg]\n")
    pytester.makepyfile(NEEDS_POSTGRES)
    port = closed_port()
    plugin_env(**NO_DOCKER, NETRA_DATABASE_URL=f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/app")
    result = run_pytest(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED * postgres not ready: postgresql://app:<secret>@127.0.0.1:{port}/app refused connection "
            "in * (set by environment: env NETRA_DATABASE_URL); fallback off — run `layercfg explain database_url`"
        ]
    )
    assert PASSWORD not in result.stdout.str() + result.stderr.str()


def test_requires_postgres_passes_when_a_listener_serves_it(pytester, plugin_env):
    """A postgres URL at a real listener on 127.0.0.1 that answers an SSLRequest runs the marked test,
    after one connection to it; one that accepts and closes at once (Docker's proxy) skips it."""
    pytester.makepyprojecttoml("[tool.layercfg]\n")
    pytester.makepyfile(NEEDS_POSTGRES)
    with ReplyingListener(reply=b"N") as listener:
        plugin_env(**NO_DOCKER, NETRA_DATABASE_URL=f"postgresql://app:{PASSWORD}@127.0.0.1:{listener.port}/app")
        result = run_pytest(pytester)
        result.assert_outcomes(passed=1)
        assert listener.received == [b"\x00\x00\x00\x08\x04\xd2\x16\x2f"]  # one SSLRequest
    with ReplyingListener(reply=None) as proxy:
        plugin_env(**NO_DOCKER, NETRA_DATABASE_URL=f"postgresql://app:{PASSWORD}@127.0.0.1:{proxy.port}/app")
        result = run_pytest(pytester, "-rs")
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["*postgres not ready: *accepted and closed the connection in *"])


def test_requires_postgres_passes_against_the_discovered_container(pytester, plugin_env, docker_engine, stand_in):
    """requires_service('postgres') runs the test when discovery points database_url at a running stand-in."""
    netra_in_pytester(pytester)
    pytester.makepyfile(NEEDS_POSTGRES)
    project = unique_name("lcp")
    _, [port] = stand_in("alpine-test-postgres", project, 5432)
    plugin_env(**engine_environ(docker_engine, project, NETRA_PROFILE="alpine-test"))
    result = run_pytest(pytester, "-rs")
    result.stdout.fnmatch_lines([f"layercfg:   database_url=postgresql://test:<secret>@localhost:{port}/netra_test *"])
    result.assert_outcomes(passed=1)


# --- probing what discovery found -----------------------------------------------------------------


@pytest.mark.parametrize(("service", "container_port"), [("postgres", 5432), ("redis", 6379)])
def test_wait_for_service_reaches_a_discovered_stand_in(netra, docker_engine, stand_in, service, container_port):
    """wait_for_service returns the first successful TCP probe of a non-HTTP service's discovered URL."""
    project = unique_name("lcp")
    stand_in(f"alpine-test-{service}", project, container_port)
    loaded = load(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project))
    url = loaded.trace.fields[{"postgres": "database_url", "redis": "redis_url"}[service]].value
    result = wait_for_service(loaded.config, service, timeout=5)
    assert (result.ok, result.outcome, result.request) == (True, "up", ProbeRequest(url, "tcp"))


def test_wait_for_service_timeout_masks_the_password(postgres_with_password):
    """When the discovered container goes away, wait_for_service's error shows its URL with <secret> as password."""
    root, environ, container, port = postgres_with_password
    loaded = load(profile="alpine-test", project_dir=root, environ=environ)
    container.remove(force=True)
    with pytest.raises(ServiceTimeoutError) as caught:
        wait_for_service(loaded.config, "postgres", timeout=0.5)
    message = str(caught.value)
    assert (PASSWORD in message, f"postgresql://test:<secret>@localhost:{port}/netra_test" in message) == (False, True)


def test_doctor_reaches_every_endpoint_of_the_running_stack(netra, docker_engine, stand_in):
    """doctor's probes find every service endpoint of the running stand-in stack reachable."""
    project = unique_name("lcp")
    start_stack(stand_in, project)
    findings = run_doctor(
        profile="alpine-test", project_dir=str(netra), environ=engine_environ(docker_engine, project), probe=True
    )
    checks = {f.message.partition(":")[0]: f.check for f in findings if f.check.startswith("endpoint.") and f.message}
    assert {field: checks.get(field) for field in SERVICES} == dict.fromkeys(SERVICES, "endpoint.reachable")


# --- readiness that Docker's proxy cannot fool ------------------------------------------------------


def test_wait_for_service_waits_for_the_app_behind_a_published_port(project, docker_engine, run_container):
    """Docker's proxy accepts on a published port before the app listens: waiting ends when the app answers."""
    import time
    import urllib.request

    from layercfg import load_config, wait_for_service
    from layercfg._resolve.probe import ProbeRequest, probe

    container = run_container(
        name=unique_name("lc-slow"),
        ports={"8000/tcp": ("127.0.0.1", None)},
        command=[
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/health && sleep 4 && exec busybox httpd -f -h /www -p 8000",
        ],
    )
    url = f"http://127.0.0.1:{host_port(container, 8000)}"
    before = probe(ProbeRequest(url, "tcp"))
    assert (before.ok, before.outcome) == (False, "closed"), before.describe()  # accepted, then closed
    cfg = load_config(project_dir=project.root, environ={**NO_DOCKER, "NETRA_BACKEND_URL": url})
    began = time.monotonic()
    result = wait_for_service(cfg, "backend", timeout=30, interval=0.1, progress=False)
    assert (result.ok, result.status) == (True, 200)
    assert time.monotonic() - began > 1.0  # it waited for httpd, not for the proxy's accept
    with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:  # the next request is served
        assert answer.status == 200


def test_wait_for_service_waits_for_the_containers_health_check(netra, docker_engine, stand_in, run_container):
    """A discovered container whose app answers but whose Docker health check has not passed is not ready yet."""
    import time

    from layercfg import ServiceTimeoutError as layercfg_ServiceTimeoutError
    from layercfg import explain as layercfg_explain
    from layercfg import load_config, wait_for_service

    project = unique_name("lcp")
    run_container(
        name=unique_name("alpine-test-backend"),
        labels={"com.docker.compose.service": "alpine-test-backend", "com.docker.compose.project": project},
        ports={"8000/tcp": ("0.0.0.0", None)},
        command=[
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/health && (sleep 3 && touch /tmp/ready &) && "
            "exec busybox httpd -f -h /www -p 8000",
        ],
        healthcheck={"test": ["CMD", "busybox", "test", "-f", "/tmp/ready"], "interval": 500_000_000},
    )
    cfg = load_config(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project))
    origin = layercfg_explain(cfg, "backend_url").winner.origin
    assert str(origin.container).startswith("alpine-test-backend")
    began = time.monotonic()
    result = wait_for_service(cfg, "backend", timeout=30, interval=0.1, progress=False)
    assert (result.ok, result.status) == (True, 200)
    assert time.monotonic() - began > 1.5  # HTTP answered at once; the health check passed ~3 s later
    run_container(  # a second one, never healthy: the timeout names the health check
        name=unique_name("alpine-test-backend"),
        labels={"com.docker.compose.service": "alpine-test-backend", "com.docker.compose.project": project + "x"},
        ports={"8000/tcp": ("0.0.0.0", None)},
        command=[
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/health && exec busybox httpd -f -h /www -p 8000",
        ],
        healthcheck={"test": ["CMD", "busybox", "false"], "interval": 60_000_000_000, "start_period": 60_000_000_000},
    )
    never = load_config(profile="alpine-test", project_dir=netra, environ=engine_environ(docker_engine, project + "x"))
    with pytest.raises(layercfg_ServiceTimeoutError, match=r"reports health 'starting' \(Docker's health check\)"):
        wait_for_service(never, "backend", timeout=1, interval=0.2, progress=False)
