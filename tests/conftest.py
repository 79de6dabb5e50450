"""Shared fixtures: throwaway projects on disk and a real `layercfg` process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from docker_support import *  # noqa: F403  (fixtures: docker_engine, run_container, docker_network)

FIXTURES = Path(__file__).parent / "fixtures"
NETRA = FIXTURES / "netra"
# An engine address known to be absent: tests that are not about Docker stay independent of
# whether this machine runs one.
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent-layercfg-test/docker.sock"}


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
