"""The CLI: output, the JSON contract, exit statuses, and no tracebacks, through real processes."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from conftest import NO_DOCKER, clean_environ

from layercfg.cli import main


@pytest.fixture
def cli(project):
    """Invoke the CLI in-process against an empty project with a clean environment."""

    def invoke(*args, env=None):
        runner = CliRunner()
        # None removes a variable: hide whatever the developer's shell exports.
        full_env: dict[str, str | None] = {name: None for name in os.environ if name not in clean_environ()}
        full_env.update(NO_DOCKER)  # hermetic: never the containers other tests run on this machine's engine
        full_env.update(env or {})
        return runner.invoke(main, ["--project-dir", str(project.root), *args], env=full_env)

    return invoke


def test_explain_default_profile(run_cli, project):
    """`layercfg explain backend_url` names the built-in local profile's file:line and the default it shadowed."""
    result = run_cli("explain", "backend_url", cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "backend_url = http://localhost:8000",
        "  set by    profile      profile local   <builtin>/profiles/local.toml:5",
        "  shadowed  default      http://localhost:8000   schema default",
    ]


def test_explain_legacy_alias_over_docker_profile(run_cli, project):
    """The issue's second example: a legacy variable beats the docker profile and is flagged."""
    env = {"NETRA_PROFILE": "docker", "TEST_BACKEND_URL": "http://localhost:9000"}
    result = run_cli("explain", "backend_url", env=env, cwd=project.root)
    assert result.stdout.splitlines()[:6] == [
        "backend_url = http://localhost:9000",
        "  set by    environment  env TEST_BACKEND_URL (legacy alias of NETRA_BACKEND_URL)",
        "  shadowed  profile      http://localhost:8002   <builtin>/profiles/docker.toml:6 (profile docker)",
        "  shadowed  profile      http://localhost:8000   <builtin>/profiles/local.toml:5 (profile local)",
        "  shadowed  default      http://localhost:8000   schema default",
        "  warning   TEST_BACKEND_URL is a legacy name; prefer NETRA_BACKEND_URL",
    ]
    # The docker profile turns discovery on; what it could not find is said, not hidden.
    assert "  note      compose file docker/docker-compose.yml not found" in result.stdout


def test_explain_json_contract(run_cli, project):
    """explain --json prints exactly the documented object, winner first among candidates, with the notes."""
    env = {"NETRA_PROFILE": "docker", "TEST_BACKEND_URL": "http://localhost:9000", **NO_DOCKER}
    result = run_cli("explain", "backend_url", "--json", env=env, cwd=project.root)
    data = json.loads(result.stdout)
    plain = {"detail": None, "variable": None, "naming": None, "parts": []}
    assert data == {
        "field": "backend_url",
        "value": "http://localhost:9000",
        "layer": "environment",
        "source": "env TEST_BACKEND_URL",
        "location": None,
        "detail": "legacy alias of NETRA_BACKEND_URL",
        "variable": "TEST_BACKEND_URL",
        "naming": "alias",
        "parts": [],
        "lineage": [],
        "candidates": [
            {
                "layer": "environment",
                "source": "env TEST_BACKEND_URL",
                "location": None,
                "value": "http://localhost:9000",
                "status": "won",
                "detail": "legacy alias of NETRA_BACKEND_URL",
                "variable": "TEST_BACKEND_URL",
                "naming": "alias",
                "parts": [],
            },
            {
                "layer": "profile",
                "source": "profile docker",
                "location": "<builtin>/profiles/docker.toml:6",
                "value": "http://localhost:8002",
                "status": "shadowed",
                **plain,
            },
            {
                "layer": "profile",
                "source": "profile local",
                "location": "<builtin>/profiles/local.toml:5",
                "value": "http://localhost:8000",
                "status": "shadowed",
                **plain,
            },
            {
                "layer": "default",
                "source": "schema default",
                "location": None,
                "value": "http://localhost:8000",
                "status": "shadowed",
                **plain,
            },
        ],
        "warnings": ["TEST_BACKEND_URL is a legacy name; prefer NETRA_BACKEND_URL"],
        "notices": [
            {"kind": "legacy-name", "facts": {"variable": "TEST_BACKEND_URL", "prefer": "NETRA_BACKEND_URL"}}
        ],
        "profiles": ["local", "docker"],
        "notes": data["notes"],
    }
    assert [n.split(" (")[0] for n in data["notes"]] == [
        "compose file docker/docker-compose.yml not found",
        f"docker: Docker socket {NO_DOCKER['DOCKER_HOST'][7:]} does not exist",
    ]


def test_explain_json_has_lineage_and_port_mapping(run_cli, project):
    """explain --json carries what the text shows: the derived lineage and the detail of each origin."""
    env = {"NETRA_BACKEND_URL": "http://localhost:8123"}
    data = json.loads(run_cli("explain", "websocket_url", "--json", env=env, cwd=project.root).stdout)
    assert (data["layer"], data["lineage"]) == (
        "derived",
        [
            {"field": "backend_url", "layer": "environment", "source": "env NETRA_BACKEND_URL", "location": None},
            {"field": "websocket_path", "layer": "default", "source": "schema default", "location": None},
        ],
    )
    assert data["detail"] == "backend_url <- env NETRA_BACKEND_URL; websocket_path <- schema default"


def test_show_json_shape(cli):
    """show --json has the profiles and one explain object per field."""
    data = json.loads(cli("show", "--json").output)
    assert data["profiles"] == ["local"]
    assert [f["field"] for f in data["fields"]][:3] == ["backend_url", "websocket_path", "websocket_url"]
    assert set(data["fields"][0]) == {
        "field",
        "value",
        "layer",
        "source",
        "location",
        "detail",
        "variable",
        "naming",
        "parts",
        "lineage",
        "candidates",
        "warnings",
        "notices",
        "profiles",
    }


def test_bad_value_is_one_line_error_exit_1(run_cli, project):
    """A wrong type prints `Error: ...` naming the variable, exit 1, no traceback."""
    result = run_cli("show", env={"NETRA_DOCKER_STARTUP_TIMEOUT": "abc"}, cwd=project.root)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: docker_startup_timeout: expected seconds (a number), got 'abc' (env NETRA_DOCKER_STARTUP_TIMEOUT)\n"
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--profile", "nope", "show"], {}, "Error: unknown profile 'nope'"),
        (["explain", "backend_ur"], {}, "Error: unknown field 'backend_ur'; did you mean 'backend_url'?"),
        (["show"], {"NETRA_PROFILE": "p"}, "Error: profiles/p.toml:1: malformed TOML"),
        (
            ["--set", "max_retries=lots", "show"],
            {},
            "Error: max_retries: expected count (a whole number), got 'lots' (--set)",
        ),
    ],
)
def test_errors_have_no_traceback(run_cli, project, args, env, message):
    """Unknown profile, unknown field, malformed TOML and a bad --set all exit 1 with one clear line."""
    project.profile("p", "[values\n")
    result = run_cli(*args, env=env, cwd=project.root)
    assert (result.returncode, "Traceback" in result.stderr) == (1, False)
    assert result.stderr.startswith(message)


def test_usage_error_exits_2(cli):
    """A malformed --set is a usage error (exit 2)."""
    result = cli("--set", "no-equals-sign", "show")
    assert result.exit_code == 2
    assert "expected FIELD=VALUE" in result.output


def test_common_options_after_the_command(cli):
    """--profile and --set work after the command as well as before it."""
    data = json.loads(cli("explain", "backend_url", "--json", "--profile", "docker").output)
    assert data["value"] == "http://localhost:8002"
    data = json.loads(cli("explain", "max_retries", "--json", "--set", "max_retries=9").output)
    assert (data["value"], data["layer"], data["source"]) == (9, "override", "--set")


def test_set_beats_environment(cli):
    """--set wins over the environment and both are listed."""
    data = json.loads(
        cli(
            "--set",
            "backend_url=http://set:1",
            "explain",
            "backend_url",
            "--json",
            env={"NETRA_BACKEND_URL": "http://env:2"},
        ).output
    )
    assert [(c["layer"], c["status"]) for c in data["candidates"][:2]] == [
        ("override", "won"),
        ("environment", "shadowed"),
    ]


def test_secrets_masked_unless_asked(cli):
    """A secret is <secret> in explain, show and JSON, left out of env exports; --show-secrets reveals it."""
    env = {"TEST_USER_PASSWORD": "s3cr3t-value"}
    for args in (
        ["explain", "test_user_password"],
        ["show"],
        ["show", "--json"],
        ["env", "--json"],
        ["explain", "test_user_password", "--json"],
    ):
        output = cli(*args, env=env).output
        assert "s3cr3t-value" not in output, args
        assert "<secret>" in output, args
    for args in (["env"], ["env", "--legacy"]):  # an export never writes the mask where the value belongs
        output = cli(*args, env=env).output
        assert "s3cr3t-value" not in output, args
        assert "# NETRA_TEST_USER_PASSWORD holds a secret: add --show-secrets to export it" in output, args
    assert "s3cr3t-value" in cli("--show-secrets", "explain", "test_user_password", env=env).output


def test_profiles_lists_builtins(cli):
    """profiles lists the four built-ins with what they extend."""
    data = json.loads(cli("profiles", "--json").output)
    assert [(p["name"], p["extends"]) for p in data["profiles"]] == [
        ("alpine-test", ["docker"]),
        ("docker", ["local"]),
        ("local", []),
        ("staging-fallback", []),
    ]


def test_precedence_matches_layer_order(cli):
    """precedence prints the seven sources lowest first, then the three resolution steps."""
    data = json.loads(cli("precedence", "--json").output)
    assert [row["layer"] for row in data["layers"]] == [
        "default",
        "profile",
        "env-file",
        "legacy-env",
        "discovery",
        "environment",
        "override",
    ]
    assert [row["rank"] for row in data["layers"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [row["step"] for row in data["steps"]] == ["endpoints", "derived", "fallback"]


def test_diff_profiles(cli):
    """diff shows only the fields that differ, with where each side came from."""
    data = json.loads(cli("diff", "local", "alpine-test", "--json").output)
    assert {row["field"] for row in data["differences"]} == {
        "backend_url",
        "backend_port",
        "websocket_url",
        "auth_url",
        "auth_port",
        "frontend_url",
        "frontend_port",
        "database_url",
        "postgres_port",
        "postgres_user",
        "postgres_db",
        "redis_url",
        "redis_port",
        "clickhouse_url",
        "clickhouse_port",
        "clickhouse_native_url",
        "clickhouse_native_port",
        "docker_startup_timeout",
        "discovery",
        "compose_files",
    }


def test_env_formats(cli):
    """env prints dotenv, shell and JSON; --legacy adds every alias with the same value."""
    assert "NETRA_BACKEND_URL=http://localhost:8000" in cli("env").output.splitlines()
    assert "export NETRA_BACKEND_URL=http://localhost:8000" in cli("env", "--format", "shell").output
    legacy = json.loads(cli("env", "--legacy", "--json").output)
    assert {legacy[k] for k in ("BACKEND_URL", "TEST_BACKEND_URL", "E2E_BACKEND_URL", "NETRA_BACKEND_URL")} == {
        "http://localhost:8000"
    }


def test_schema_is_json_schema_of_profiles(cli):
    """schema prints a JSON Schema whose values properties are the schema's fields."""
    data = json.loads(cli("schema").output)
    assert data["properties"]["values"]["properties"]["docker_startup_timeout"]["type"] == "number"
    assert data["properties"]["values"]["additionalProperties"] is False


def test_python_dash_m(run_cli, project):
    """`python -m layercfg` is the same CLI."""
    result = run_cli("--version", cwd=project.root)
    assert result.returncode == 0
    assert "0.1.0" in result.stdout
