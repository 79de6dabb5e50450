"""Shared fixtures: throwaway projects on disk and a real `layercfg` process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from docker_support import *  # noqa: F403  (fixtures: docker_engine, run_container, docker_network)
from servers import closed_port

FIXTURES = Path(__file__).parent / "fixtures"
NETRA = FIXTURES / "netra"
# An engine address known to be absent: tests that are not about Docker stay independent of
# whether this machine runs one.
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent-layercfg-test/docker.sock"}


PINNED_SCHEMA = """\
\"\"\"The built-in schema with its default backend_url at a port a test closed (fields in the same order).\"\"\"

import attrs

from layercfg import TestEnvConfig


def _field(field):
    default = {url!r} if field.name == "backend_url" else field.default
    return attrs.field(default=default, metadata=field.metadata, repr=field.repr, kw_only=field.kw_only)


PinnedConfig = attrs.make_class(
    "PinnedConfig",
    {{f.name: _field(f) for f in attrs.fields(TestEnvConfig)}},
    bases=(TestEnvConfig,),
    frozen=True,
    slots=True,
)
"""


def pin_default_backend(root: Path) -> str:
    """Make the project at ``root`` use a schema whose default backend_url is a port just closed; return it.

    Fallback (and the failure explainer) probe every local candidate of backend_url, the schema's
    default localhost:8000 among them: with this, a test does not depend on that port being free.
    The schema derives from the built-in one, so the built-in profiles still apply.
    """
    url = f"http://127.0.0.1:{closed_port()}"
    module = f"pinned_{uuid.uuid4().hex[:12]}"  # one module per project: sys.modules keeps the first import
    (root / f"{module}.py").write_text(PINNED_SCHEMA.format(url=url), encoding="utf-8")
    (root / "pyproject.toml").write_text(f'[tool.layercfg]\nschema = "{module}:PinnedConfig"\n', encoding="utf-8")
    return url


class Project:
    """A project directory under tmp_path with helpers to write profiles and env files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "profiles").mkdir(parents=True)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def profile(self, name: str, text: str) -> Path:
        return self.write(f"profiles/{name}.toml", text)

    def pin_builtin_profile(self, name: str) -> str:
        """Override built-in profile ``name`` with a copy whose backend_url is a port just closed; return it.

        The copy keeps everything else of the built-in file (its extends, env files, values), so a
        test of docker or alpine-test does not depend on localhost:8002 being free.
        """
        from layercfg._sources.profiles import builtin_profiles_dir

        url = f"http://127.0.0.1:{closed_port()}"
        text = (builtin_profiles_dir() / f"{name}.toml").read_text(encoding="utf-8")
        pinned, count = re.subn(r"^backend_url = .*$", f'backend_url = "{url}"', text, flags=re.MULTILINE)
        assert count == 1, f"built-in profile {name} has no backend_url to pin"
        self.profile(name, pinned)
        return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast lane, by the fixtures a test asks for: one that needs the Docker engine is marked
    ``docker`` and ``slow``, one that runs pytest itself (``pytester``) ``slow``. A new test gets its
    marks the moment it asks for either (test_corpus.py, a real process per hostile file, marks
    itself); ``python -m pytest -m "not slow"`` runs the rest."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "docker_engine" in names:
            item.add_marker(pytest.mark.docker)
        if names & {"docker_engine", "pytester"}:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project (with a profiles/ dir) that only the built-in profiles apply to."""
    return Project(tmp_path / "proj")


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any variable layercfg would read, no Docker engine, plus ``extra``."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    names = set(schema_info(TestEnvConfig, "NETRA_").by_env_name) | {"NETRA_PROFILE", "CI"}
    env = {key: value for key, value in os.environ.items() if key not in names}
    # Hermetic: containers other tests (or the developer) run on this machine's engine are never
    # discovered by a test that does not ask for an engine by passing DOCKER_HOST itself.
    env.update(NO_DOCKER)
    env.update(extra or {})
    return env


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m layercfg ARGS` as a real process in a clean environment."""

    def run(
        *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "layercfg", *args],
            capture_output=True,
            text=True,
            env=clean_environ(env),
            cwd=cwd or tmp_path,
            timeout=60,
            check=False,
        )

    return run
