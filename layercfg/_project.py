"""The project a load works in: its directory and its ``[tool.layercfg]`` settings."""

from __future__ import annotations

import importlib
import os
import tomllib
from pathlib import Path

import attrs

from ._files import is_dir, is_file, resolved
from .exceptions import MalformedFileError, ProjectError, UnreadableFileError

DEFAULT_SCHEMA = "layercfg:TestEnvConfig"
_KEYS = (
    "schema",
    "env_prefix",
    "profile_var",
    "profiles_dir",
    "default_profile",
    "builtin_profiles",
)


@attrs.frozen
class ProjectSettings:
    """How layercfg reads this project (``[tool.layercfg]`` of its pyproject.toml)."""

    project_dir: Path
    schema: str = DEFAULT_SCHEMA  # "package.module:ClassName"
    env_prefix: str = "NETRA_"
    profile_var: str = "NETRA_PROFILE"
    profiles_dir: str = "profiles"
    default_profile: str = "local"
    builtin_profiles: bool | None = None  # None: only with the built-in schema
    pyproject: Path | None = None

    def relative(self, path: Path) -> str:
        """``path`` relative to the project directory when inside it, else absolute."""
        try:
            return resolved(path).relative_to(self.project_dir).as_posix()
        except ValueError:
            return str(path)

    def includes_builtin_profiles(self, schema: type) -> bool:
        """Built-in profiles apply to the built-in schema unless builtin_profiles says otherwise."""
        if self.builtin_profiles is not None:
            return self.builtin_profiles
        from ._testenv import TestEnvConfig

        return schema is TestEnvConfig

    def load_schema(self) -> type:
        module_name, _, attr = self.schema.partition(":")
        where = f"{self.pyproject}" if self.pyproject else "[tool.layercfg]"
        if not module_name or not attr or module_name.startswith("."):
            raise ProjectError(
                f"schema must be 'package.module:ClassName' (an absolute module), got {self.schema!r}", location=where
            )
        try:
            module = importlib.import_module(module_name)
            schema = getattr(module, attr)
        except Exception as exc:  # ImportError, or whatever the module raises while it is imported
            raise ProjectError(
                f"cannot import schema {self.schema!r}: {type(exc).__name__}: {exc}", location=where
            ) from None
        if not isinstance(schema, type) or not attrs.has(schema):
            raise ProjectError(f"schema {self.schema!r} is not an attrs class", location=where)
        return schema


def find_project(project_dir: str | os.PathLike[str] | None = None) -> ProjectSettings:
    """Settings of the project at ``project_dir``, or of the nearest one above the cwd.

    Without an explicit directory, the nearest ancestor of the working directory whose
    pyproject.toml has a ``[tool.layercfg]`` table is the project; failing that, the
    working directory itself.
    """
    if project_dir is not None:
        root = resolved(Path(project_dir))
        if not is_dir(root):
            raise UnreadableFileError("project directory does not exist", location=str(project_dir))
        return _read_settings(root, root / "pyproject.toml")
    cwd = resolved(Path.cwd())
    for candidate in (cwd, *cwd.parents):
        pyproject = candidate / "pyproject.toml"
        if is_file(pyproject) and "[tool.layercfg" in _read_text(pyproject):
            return _read_settings(candidate, pyproject)
    return ProjectSettings(project_dir=cwd)


def _read_text(path: Path) -> str:
    from ._files import read_text

    return read_text(path, str(path), "pyproject.toml")


def _read_settings(root: Path, pyproject: Path) -> ProjectSettings:
    if not is_file(pyproject):
        return ProjectSettings(project_dir=root)
    text = _read_text(pyproject)
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise MalformedFileError(f"malformed TOML: {exc}", location=str(pyproject)) from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ProjectError("[tool] must be a table", location=str(pyproject))
    table = tool.get("layercfg")
    if table is None:
        return ProjectSettings(project_dir=root)
    where = f"{pyproject} [tool.layercfg]"
    if not isinstance(table, dict):
        raise ProjectError("[tool.layercfg] must be a table", location=where)
    from ._schema import suggest

    for key in table:
        if key not in _KEYS:
            hint = suggest(key, _KEYS)
            extra = f"; did you mean {hint!r}?" if hint else f" (known: {', '.join(_KEYS)})"
            raise ProjectError(f"unknown key {key!r}{extra}", location=where)
    for key, value in table.items():
        expected = bool if key == "builtin_profiles" else str
        if not isinstance(value, expected):
            raise ProjectError(f"{key} must be a {expected.__name__}, got {value!r}", location=where)
    return ProjectSettings(project_dir=root, pyproject=pyproject, **table)
