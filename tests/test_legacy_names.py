"""A project adjusts legacy names in configuration, and hears about unknown variables under its prefix."""

from __future__ import annotations

import pytest
from conftest import Project

from layercfg import load
from layercfg.exceptions import ProjectError

TEAM_ORDER = """
[tool.layercfg]
ignore_variables = ["NETRA_BUILD_TAG"]

[tool.layercfg.legacy_names]
# The team's test base reads E2E_ first and TEST_ last: the last name wins.
backend_url = ["BACKEND_URL", "E2E_BACKEND_URL", "TEST_BACKEND_URL"]
websocket_url = ["WEBSOCKET_URL", "E2E_WEBSOCKET_URL"]
staging_backend_url = ["BACKEND_STAGING_URL"]
auth_url = []
"""


def test_project_reorders_adds_and_silences_legacy_names(project: Project):
    """[tool.layercfg.legacy_names] replaces a field's legacy names: reorder, add and silence."""
    project.write("pyproject.toml", TEAM_ORDER)
    environ = {
        "E2E_BACKEND_URL": "http://localhost:8001",
        "TEST_BACKEND_URL": "http://localhost:8002",
        "E2E_WEBSOCKET_URL": "ws://localhost:8002/ws",
        "BACKEND_STAGING_URL": "https://staging.example.test",
        "AUTH_URL": "http://localhost:9999",  # a built-in alias, silenced
    }
    loaded = load(project_dir=project.root, environ=environ)
    assert loaded.config.backend_url == "http://localhost:8002"  # the built-in order would pick E2E_
    backend = loaded.trace.fields["backend_url"]
    assert (backend.winner.origin.variable, backend.winner.origin.detail) == (
        "TEST_BACKEND_URL",
        "legacy alias of NETRA_BACKEND_URL",
    )
    assert loaded.config.websocket_url == "ws://localhost:8002/ws"
    assert loaded.trace.fields["websocket_url"].winner.origin.variable == "E2E_WEBSOCKET_URL"
    assert loaded.config.staging_backend_url == "https://staging.example.test"
    assert loaded.config.auth_url == "http://localhost:8081"  # no legacy name left for auth_url


def test_builtin_order_without_configuration(project: Project):
    """Without the table the built-in order holds (E2E_ beats TEST_), so the test above can tell the difference."""
    environ = {"E2E_BACKEND_URL": "http://localhost:8001", "TEST_BACKEND_URL": "http://localhost:8002"}
    assert load(project_dir=project.root, environ=environ).config.backend_url == "http://localhost:8001"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('backend_ulr = ["X"]', r"unknown field 'backend_ulr'.*did you mean 'backend_url'"),
        ('backend_url = ["NOT A NAME"]', r"backend_url must be a list of variable names"),
        ('backend_url = "BACKEND_URL"', r"backend_url must be a list of variable names"),
        ('backend_url = ["A", "A"]', r"names a variable twice"),
    ],
)
def test_bad_legacy_names_name_the_file(project: Project, table: str, message: str):
    """A wrong entry is an error naming pyproject.toml, never a traceback."""
    project.write("pyproject.toml", f"[tool.layercfg]\n\n[tool.layercfg.legacy_names]\n{table}\n")
    with pytest.raises(ProjectError, match=message) as caught:
        load(project_dir=project.root, environ={})
    assert "pyproject.toml" in str(caught.value)


def test_unknown_variable_under_the_prefix_is_a_warning_with_did_you_mean(project: Project):
    """A typo under the project's prefix is a warning naming the variable and the closest known name."""
    project.write("pyproject.toml", TEAM_ORDER)
    environ = {"NETRA_BACKEND_ULR": "http://localhost:9", "NETRA_BUILD_TAG": "7", "NETRA_PROFILE": "local"}
    loaded = load(project_dir=project.root, environ=environ)
    assert loaded.config.backend_url == "http://localhost:8000"  # the typo set nothing
    assert list(loaded.trace.warnings) == [
        "env NETRA_BACKEND_ULR is not a variable layercfg reads; did you mean NETRA_BACKEND_URL? "
        "(ignore_variables in [tool.layercfg] silences this)"
    ]


def test_unknown_variable_warning_in_cli_json(project: Project, run_cli):
    """The CLI's JSON carries the same warning."""
    import json

    result = run_cli("explain", "backend_url", "--json", cwd=project.root, env={"NETRA_MAX_RETRYS": "3"})
    data = json.loads(result.stdout)
    assert any(
        "env NETRA_MAX_RETRYS is not a variable layercfg reads; did you mean NETRA_MAX_RETRIES?" in n
        for n in data["notes"]
    ), data["notes"]
