"""Services as declared data: any schema, any protocol, parts that agree with their URL, masked credentials.

Docker-free: endpoints come from profiles, env files, variables and compose declarations on disk;
staging stand-ins and live services are real sockets on 127.0.0.1 (tests/servers.py). The same model
against a real engine is in test_services_docker.py.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NETRA, NO_DOCKER, Project
from servers import LocalService, closed_port

import layercfg
from layercfg import ConfigError, LayerKind, load, load_config, wait_for_service
from layercfg._doctor import run_doctor
from layercfg._model.fieldtable import schema_info

pytest_plugins = ["pytester"]

# --- a project with its own schema and its own service names --------------------------------------

APP_SCHEMA = """
import attrs
import layercfg


@attrs.frozen
class AppConfig:
    api_url: str = layercfg.setting("http://localhost:9", schemes=("http", "https"), service="api",
                                    staging="staging_api_url")
    staging_api_url: str | None = layercfg.setting(None, schemes=("http", "https"))
    workers: int = 1
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Path]:
    """A project with schema svc_app_cfg:AppConfig (prefix APP_) and a profile naming the api's containers."""
    root = tmp_path / "app"
    (root / "svc_app_cfg").mkdir(parents=True)
    (root / "svc_app_cfg" / "__init__.py").write_text(textwrap.dedent(APP_SCHEMA))
    (root / "pyproject.toml").write_text(
        '[tool.layercfg]\nschema = "svc_app_cfg:AppConfig"\nenv_prefix = "APP_"\nprofile_var = "APP_PROFILE"\n'
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "stack.toml").write_text(
        '[values]\ncompose_files = ["compose.yml"]\n\n[services.api]\nnames = ["my-api"]\ncontainer_port = 8080\n'
    )
    (root / "compose.yml").write_text('services:\n  my-api:\n    image: x\n    ports:\n      - "18080:8080"\n')
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m == "svc_app_cfg" or m.startswith("svc_app_cfg.")]:
        del sys.modules[name]


def test_custom_schema_service_is_discovered_from_its_declared_names(app):
    """The api of a custom schema is found under the names its profile declares, in its container port."""
    loaded = load(project_dir=app, profile="stack", environ={**NO_DOCKER, "APP_DISCOVERY": "auto"})
    trace = loaded.trace["api_url"]
    assert loaded.config.api_url == "http://localhost:18080"
    assert (trace.winner.origin.layer, trace.winner.origin.source, trace.winner.origin.location) == (
        LayerKind.DISCOVERY,
        "compose service my-api",
        "compose.yml:5",
    )
    names = loaded.trace["api.names"]
    assert (names.value, names.winner.origin.location) == (("my-api",), "profiles/stack.toml:5")


def test_custom_schema_required_discovery_fails_loudly(app):
    """discovery=required with the api nowhere to be found is an error naming the service and its names."""
    environ = {**NO_DOCKER, "APP_DISCOVERY": "required", "APP_API_SERVICE_NAMES": "other-api"}
    with pytest.raises(ConfigError) as caught:
        load(project_dir=app, profile="stack", environ=environ)
    assert "api_url: discovery is required but service api (names other-api) is not running" in str(caught.value)


def test_custom_schema_forced_fallback_switches_to_staging(app):
    """APP_FALLBACK=force moves the custom api to its staging counterpart, with the receipt saying why."""
    environ = {"APP_FALLBACK": "force", "APP_STAGING_API_URL": "https://staging.example.test"}
    loaded = load(project_dir=app, profile=[], environ=environ)
    trace = loaded.trace["api_url"]
    assert loaded.config.api_url == "https://staging.example.test"
    assert trace.winner.origin.layer is LayerKind.FALLBACK
    assert loaded.trace.fallback is not None
    assert loaded.trace.fallback.fields == ("api_url",)


def test_custom_schema_automatic_fallback_probes_its_own_service(app):
    """fallback=auto probes the custom api (down) and its staging stand-in (up on 127.0.0.1), and switches."""
    with LocalService() as staging:
        environ = {
            "APP_FALLBACK": "auto",
            "APP_API_URL": f"http://127.0.0.1:{closed_port()}",
            "APP_STAGING_API_URL": staging.base_url,
            "APP_PROBE_TIMEOUT": "5",  # a loaded CI machine starts threads slowly; a refusal is still instant
        }
        loaded = load(project_dir=app, profile=[], environ=environ)
        assert loaded.trace.fallback is not None
        assert loaded.config.api_url == staging.base_url, loaded.trace.fallback.reason
    assert loaded.trace.fallback.reason.startswith("using staging endpoints: api ")


def test_custom_schema_doctor_checks_its_services(app):
    """doctor finds the custom api in the compose file under its declared name."""
    findings = run_doctor(profile="stack", project_dir=str(app), environ=NO_DOCKER, probe=False)
    found = [f for f in findings if f.check == "compose.service-found"]
    assert [(f.message, f.location) for f in found] == [
        ("api is compose service my-api (service 'my-api') in compose.yml", "compose.yml:2")
    ]


def test_custom_schema_wait_for_service(app):
    """wait_for_service knows the custom service by its declared name."""
    with LocalService() as api:
        cfg = load_config(project_dir=app, profile=[], environ={"APP_API_URL": api.base_url})
        assert wait_for_service(cfg, "api", timeout=2).ok


def test_custom_schema_plugin_header(app, pytester: pytest.Pytester):
    """The pytest header of a custom schema lists its service with the receipt."""
    for item in app.iterdir():
        target = pytester.path / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy(item, target)
    pytester.makepyfile("def test_nothing(): pass")
    pytester.makeini("[pytest]\npythonpath = .\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--layercfg-profile", "stack", timeout=60)
    result.stdout.fnmatch_lines(["layercfg: profile stack", "layercfg:   api_url=http://localhost:9 (default:*"])


# --- a service a profile declares, without Python ---------------------------------------------------


def test_profile_declares_a_new_service(project: Project):
    """[services.search] adds a service with URL, host and port fields, receipts and discovery targets."""
    project.profile(
        "p",
        """
        [values]
        search_url = "http://localhost:9200"

        [services.search]
        scheme = "http"
        names = ["search", "opensearch"]
        container_port = 9200
        """,
    )
    loaded = load(profile="p", project_dir=project.root, environ={"NETRA_SEARCH_PORT": "9300"})
    fields = loaded.trace.fields
    assert (fields["search_url"].value, fields["search_host"].value, fields["search_port"].value) == (
        "http://localhost:9300",
        "localhost",
        9300,
    )
    assert fields["search_url"].winner.origin.layer is LayerKind.DERIVED
    assert [name for name, _ in fields["search_url"].lineage] == ["search_url", "search_port"]
    assert loaded.trace.info is not None
    assert "search" in loaded.trace.info.services


def test_unknown_service_key_suggests(project: Project):
    """A typo in a [services.NAME] table is an error with file:line and a suggestion."""
    project.profile("p", "[services.search]\ncontainer_prot = 9200\n")
    with pytest.raises(ConfigError, match=r"profiles/p.toml:2: unknown key 'container_prot'.*'container_port'"):
        load(profile="p", project_dir=project.root, environ={})


# --- parts and URLs agree ---------------------------------------------------------------------------


def test_part_set_higher_joins_the_url(project: Project):
    """POSTGRES_PORT in the environment beats the profile's database_url port; the URL says so."""
    loaded = load(profile="alpine-test", project_dir=project.root, environ={**NO_DOCKER, "POSTGRES_PORT": "6543"})
    trace = loaded.trace["database_url"]
    assert loaded.config.database_url == "postgresql://test@localhost:6543/netra_test"
    assert loaded.config.postgres_port == 6543
    assert trace.winner.origin.layer is LayerKind.DERIVED
    assert [(name, origin.source) for name, origin in trace.lineage] == [
        ("database_url", "profile alpine-test"),
        ("postgres_port", "env POSTGRES_PORT"),
    ]


def test_contradicting_port_is_named_with_the_url(project: Project):
    """A POSTGRES_PORT that contradicts DATABASE_URL from the same layer is a warning naming both."""
    environ = {"DATABASE_URL": "postgresql://u@localhost:5435/db", "POSTGRES_PORT": "5999"}
    loaded = load(profile=[], project_dir=project.root, environ=environ)
    assert (loaded.config.database_url, loaded.config.postgres_port) == ("postgresql://u@localhost:5435/db", 5435)
    [warning] = [w for w in loaded.trace["postgres_port"].warnings if "disagrees" in w]
    assert warning.startswith("POSTGRES_PORT=5999 (env POSTGRES_PORT (legacy alias of NETRA_POSTGRES_PORT))")
    assert "database_url from env DATABASE_URL" in warning


def test_container_internal_host_is_not_used(tmp_path: Path):
    """POSTGRES_HOST=alpine-test-postgres from the real env file never reaches database_url."""
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    loaded = load(profile="alpine-test", project_dir=root, environ=NO_DOCKER)
    assert loaded.config.postgres_host == "localhost"
    assert loaded.config.database_url.startswith("postgresql://test:test@localhost:5435/")
    [warning] = [w for w in loaded.trace["postgres_host"].warnings if "compose network" in w]
    assert "config/.env.alpine-test:20" in warning


def test_every_service_of_the_real_stack_from_compose_declarations(tmp_path: Path):
    """With no engine, the alpine-test stack's six services come from the compose file, each with file:line."""
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    loaded = load(profile="alpine-test", project_dir=root, environ=NO_DOCKER)
    rows = {
        name: (loaded.trace[name].value, loaded.trace[name].winner.origin.location)
        for name in ("backend_url", "auth_url", "frontend_url", "database_url", "redis_url")
    }
    compose = "docker/docker-compose.alpine-test.yml"
    assert rows == {
        "backend_url": ("http://localhost:8002", f"{compose}:171"),
        "auth_url": ("http://localhost:8083", f"{compose}:225"),
        "frontend_url": ("http://localhost:3002", f"{compose}:264"),
        "database_url": ("postgresql://test:test@localhost:5435/netra_test", f"{compose}:17"),
        "redis_url": ("redis://localhost:6382", f"{compose}:56"),
    }
    assert (loaded.config.clickhouse_url, loaded.config.clickhouse_native_url) == (
        "http://test:test@localhost:8126",
        "clickhouse://test:test@localhost:9003/test_analytics",
    )
    assert loaded.trace["database_url"].winner.origin.parts == (
        ("user", f"{compose}:12 (POSTGRES_USER)"),
        ("password", f"{compose}:13 (POSTGRES_PASSWORD)"),
        ("database", f"{compose}:14 (POSTGRES_DB)"),
    )


# --- passwords inside URLs ---------------------------------------------------------------------------

PASSWORD = "pw-Zq8-unique"


@pytest.mark.parametrize(
    ("args", "shows_url"),
    [
        pytest.param(("explain", "backend_url"), True, id="explain"),
        pytest.param(("explain", "websocket_url"), True, id="explain derived"),
        pytest.param(("explain", "backend_port"), False, id="explain part"),
        pytest.param(("explain", "backend_url", "--json"), True, id="explain json"),
        pytest.param(("show",), True, id="show"),
        pytest.param(("show", "--json"), True, id="show json"),
        pytest.param(("env",), False, id="env"),
        pytest.param(("env", "--legacy", "--json"), True, id="env legacy json"),
        pytest.param(("doctor",), True, id="doctor"),
        pytest.param(("doctor", "--json"), True, id="doctor json"),
        pytest.param(("diff", "local", "docker"), False, id="diff"),
    ],
)
def test_url_password_never_printed(run_cli, tmp_path: Path, args, shows_url):
    """The password inside a URL prints as <secret> on every CLI channel, the user part stays."""
    environ = {**NO_DOCKER, "NETRA_BACKEND_URL": f"http://admin:{PASSWORD}@127.0.0.1:{closed_port()}"}
    result = run_cli(*args, env=environ, cwd=tmp_path)
    assert PASSWORD not in result.stdout + result.stderr
    if shows_url:
        assert "admin:<secret>@127.0.0.1" in result.stdout


@pytest.mark.parametrize("fmt", ["dotenv", "shell"])
def test_export_never_writes_a_mask_as_a_value(run_cli, tmp_path: Path, fmt: str):
    """env --format dotenv/shell leaves a secret out with a comment saying how to include it."""
    environ = {**NO_DOCKER, "NETRA_BACKEND_URL": f"http://admin:{PASSWORD}@127.0.0.1:8000"}
    lines = run_cli("env", "--format", fmt, env=environ, cwd=tmp_path).stdout.splitlines()
    assert "# NETRA_BACKEND_URL holds a secret: add --show-secrets to export it" in lines
    assert not [line for line in lines if "<secret>" in line and not line.startswith("#")]
    shown = run_cli("env", "--format", fmt, "--show-secrets", env=environ, cwd=tmp_path).stdout
    assert PASSWORD in shown


def test_url_password_shown_when_asked(run_cli, tmp_path: Path):
    """--show-secrets reveals it."""
    environ = {**NO_DOCKER, "NETRA_BACKEND_URL": f"http://admin:{PASSWORD}@localhost:8000"}
    assert PASSWORD in run_cli("explain", "backend_url", "--show-secrets", env=environ, cwd=tmp_path).stdout


def test_url_password_masked_in_errors_warnings_and_repr(project: Project):
    """Conversion errors, disagreement warnings and the config's repr mask a URL's password."""
    bad = {"NETRA_BACKEND_URL": f"ftp://admin:{PASSWORD}@localhost:8000"}
    with pytest.raises(ConfigError) as caught:
        load(profile=[], project_dir=project.root, environ=bad)
    assert PASSWORD not in str(caught.value)
    assert "admin:<secret>@" in str(caught.value)
    environ = {"BACKEND_URL": f"http://a:{PASSWORD}@h:1", "E2E_BACKEND_URL": f"http://b:{PASSWORD}x@h:2"}
    loaded = load(profile=[], project_dir=project.root, environ=environ)
    assert PASSWORD not in repr(loaded.config)
    from layercfg._views.render import explain_text, show_text

    assert PASSWORD not in explain_text(loaded.trace["backend_url"], loaded.trace)
    assert PASSWORD not in show_text(loaded.trace)


def test_url_password_masked_in_plugin_header(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """The pytest header prints the URL with <secret> for its password."""
    pytester.makepyprojecttoml("[tool.layercfg]\n")
    pytester.makepyfile("def test_nothing(): pass")
    monkeypatch.setenv("NETRA_DATABASE_URL", f"postgresql://app:{PASSWORD}@127.0.0.1:5432/app")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    assert PASSWORD not in result.stdout.str()
    result.stdout.fnmatch_lines(["layercfg:   database_url=postgresql://app:<secret>@127.0.0.1:5432/app (*"])


def test_env_legacy_exports_service_names(run_cli, tmp_path: Path):
    """env --legacy writes what unmigrated code reads: DATABASE_URL, POSTGRES_HOST/PORT, REDIS_URL, ..."""
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    environ = {**NO_DOCKER, "NETRA_PROFILE": "alpine-test"}
    data = json.loads(run_cli("env", "--legacy", "--json", "--show-secrets", env=environ, cwd=root).stdout)
    assert {
        key: data[key] for key in ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT", "REDIS_URL", "REDIS_PORT")
    } == {
        "DATABASE_URL": "postgresql://test:test@localhost:5435/netra_test",
        "POSTGRES_HOST": "localhost",
        "POSTGRES_PORT": "5435",
        "REDIS_URL": "redis://localhost:6382",
        "REDIS_PORT": "6382",
    }
    assert data["ALPINE_TEST_POSTGRES_PORT"] == "5435"
    masked = json.loads(run_cli("env", "--legacy", "--json", env=environ, cwd=root).stdout)
    assert masked["DATABASE_URL"] == "postgresql://test:<secret>@localhost:5435/netra_test"


def test_schema_settings_for_every_service():
    """Each built-in service has its names and container-port settings with canonical variable names."""
    info = schema_info(layercfg.TestEnvConfig, "NETRA_")
    settings = {name: (spec.env, spec.default) for name, spec in info.fields.items() if "." in name}
    assert settings["postgres.names"] == (
        "NETRA_POSTGRES_SERVICE_NAMES",
        ("postgres", "dev-postgres", "alpine-test-postgres", "test-postgres"),
    )
    assert settings["clickhouse.native.container_port"] == ("NETRA_CLICKHOUSE_NATIVE_CONTAINER_PORT", 9000)
    assert sorted(info.services) == ["auth", "backend", "clickhouse", "frontend", "postgres", "redis"]


def test_service_setting_under_values_points_to_its_table(project: Project):
    """A service setting written under [values] is an error saying where it belongs."""
    project.profile("p", '[values]\n"postgres.names" = ["db"]\n')
    with pytest.raises(ConfigError, match=r"profiles/p.toml:2: postgres.names is a service setting: write it as names"):
        load(profile="p", project_dir=project.root, environ={})
