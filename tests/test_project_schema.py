"""A project's own schema: imported from the project directory, built-in profiles for derived schemas."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import Project

DERIVED = """
import attrs

from layercfg import TestEnvConfig, setting


@attrs.frozen
class TeamConfig(TestEnvConfig):
    chat_room: str = setting("lobby", help="Room the chat tests join.")
"""

STANDALONE = """
import attrs

from layercfg import setting


@attrs.frozen
class Standalone:
    api_url: str = setting("http://localhost:9000")
"""


def team_project(project: Project, module: str, schema: str, package: str = "teampkg", src: bool = False) -> Path:
    """A project whose [tool.layercfg] schema lives in its own (not installed) package."""
    base = "src/" if src else ""
    project.write(f"{base}{package}/__init__.py", "")
    project.write(f"{base}{package}/settings.py", textwrap.dedent(module))
    project.write("pyproject.toml", f'[tool.layercfg]\nschema = "{package}.settings:{schema}"\n')
    return project.root


def test_schema_imports_from_the_project_directory_from_a_subdirectory(project: Project, run_cli):
    """The CLI imports an uninstalled project's schema (project root on sys.path), even run from a subdirectory."""
    root = team_project(project, DERIVED, "TeamConfig", package="teampkg_a")
    (root / "tests" / "e2e").mkdir(parents=True)
    result = run_cli("explain", "chat_room", cwd=root / "tests" / "e2e")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("chat_room = lobby\n")


def test_schema_imports_from_src_layout(project: Project, run_cli):
    """A src/ layout is found the same way."""
    root = team_project(project, DERIVED, "TeamConfig", package="teampkg_b", src=True)
    result = run_cli("explain", "chat_room", cwd=root)
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "chat_room = lobby")


def test_missing_schema_module_names_the_fix(project: Project, run_cli):
    """A schema module found nowhere is an error naming where it looked and how to fix it."""
    project.write("pyproject.toml", '[tool.layercfg]\nschema = "nowhere_pkg.settings:X"\n')
    result = run_cli("profiles", cwd=project.root)
    assert result.returncode == 1
    assert "No module named 'nowhere_pkg' (looked in the project directory" in result.stderr
    assert "pip install -e ." in result.stderr
    assert "Traceback" not in result.stderr


def test_derived_schema_gets_the_builtin_profiles(project: Project, run_cli):
    """A schema derived from TestEnvConfig is offered the built-in profiles, which name its inherited fields."""
    root = team_project(project, DERIVED, "TeamConfig", package="teampkg_c")
    listed = json.loads(run_cli("profiles", "--json", cwd=root).stdout)
    assert [p["name"] for p in listed["profiles"]] == ["alpine-test", "docker", "local", "staging-fallback"]
    assert listed["why_none"] is None
    shown = run_cli("--profile", "alpine-test", "explain", "backend_url", cwd=root)
    assert shown.stdout.startswith("backend_url = http://localhost:8002\n")


def test_unrelated_schema_says_why_there_are_no_profiles(project: Project, run_cli):
    """A schema not derived from the built-in one has no built-in profiles, and both commands say why."""
    root = team_project(project, STANDALONE, "Standalone", package="teampkg_d")
    listed = run_cli("profiles", cwd=root)
    assert (listed.returncode, listed.stdout) == (0, "")
    formats = "(*.toml, *.yaml, *.yml, *.json, *.ini)"
    assert listed.stderr.startswith(
        f"no profiles: profiles/ has no profile file {formats}, and the built-in profiles apply"
    )
    assert "set builtin_profiles = true in [tool.layercfg]" in listed.stderr
    unknown = run_cli("--profile", "alpine-test", "show", cwd=root)
    assert unknown.returncode == 1
    assert (
        f"unknown profile 'alpine-test' (available: (none)); profiles/ has no profile file {formats}" in unknown.stderr
    )
