"""The project a load works in: its directory and its ``[tool.layercfg]`` settings."""

from __future__ import annotations

import importlib
import os
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import attrs

from ..exceptions import MalformedFileError, ProjectError, UnreadableFileError
from .files import is_dir, is_file, resolved

DEFAULT_SCHEMA = "layercfg:TestEnvConfig"
_KEYS = (
    "schema",
    "env_prefix",
    "profile_var",
    "profiles_dir",
    "default_profile",
    "builtin_profiles",
    "scan_accessors",
    "legacy_names",
    "ignore_variables",
    "doctor_ignore",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@attrs.frozen
class ProjectSettings:
    """How layercfg reads this project (``[tool.layercfg]`` of its pyproject.toml)."""

    project_dir: Path
    schema: str = DEFAULT_SCHEMA  # "package.module:ClassName"
    env_prefix: str = "NETRA_"
    profile_var: str = "NETRA_PROFILE"
    profiles_dir: str = "profiles"
    default_profile: str = "local"
    builtin_profiles: bool | None = None  # None: only with the built-in schema (the load decides)
    pyproject: Path | None = None
    scan_accessors: tuple[str, ...] = ()  # extra env accessor patterns for `layercfg scan` ("get_env().get")
    # [tool.layercfg.legacy_names]: FIELD = [names, lowest precedence first], replacing the schema's aliases
    legacy_names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignore_variables: tuple[str, ...] = ()  # variables under the prefix that are not layercfg's (no warning)
    doctor_ignore: tuple[str, ...] = ()  # doctor checks a project accepts (`layercfg doctor --ignore`)

    def relative(self, path: Path) -> str:
        """``path`` relative to the project directory when inside it, else absolute."""
        try:
            return resolved(path).relative_to(self.project_dir).as_posix()
        except ValueError:
            return str(path)

    def _import(self, module_name: str) -> ModuleType:
        """Import the schema's module; when its package is not importable, from the project directory
        (or its ``src/``) put first on ``sys.path``, as pytest's rootdir and ``pythonpath`` do."""
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            top = module_name.partition(".")[0]
            if exc.name != top:
                raise
            candidates = (self.project_dir / "src", self.project_dir)
            roots = [str(root) for root in candidates if is_dir(root / top) or is_file(root / f"{top}.py")]
            if not roots:
                raise
            for root in roots:
                if root not in sys.path:
                    sys.path.insert(0, root)
            return importlib.import_module(module_name)

    def load_schema(self) -> type:
        module_name, _, attr = self.schema.partition(":")
        where = f"{self.pyproject}" if self.pyproject else "[tool.layercfg]"
        if not module_name or not attr or module_name.startswith("."):
            raise ProjectError(
                f"schema must be 'package.module:ClassName' (an absolute module), got {self.schema!r}", location=where
            )
        try:
            module = self._import(module_name)
            schema = getattr(module, attr)
        except Exception as exc:  # ImportError, or whatever the module raises while it is imported
            fix = ""
            if isinstance(exc, ModuleNotFoundError) and module_name.startswith(str(exc.name)):
                fix = (
                    f" (looked in the project directory {self.project_dir} and on sys.path: install the "
                    "project with `pip install -e .`, or add its directory to PYTHONPATH)"
                )
            raise ProjectError(
                f"cannot import schema {self.schema!r}: {type(exc).__name__}: {exc}{fix}", location=where
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
    from .files import read_text

    return read_text(path, str(path), "pyproject.toml")


def _read_settings(root: Path, pyproject: Path) -> ProjectSettings:
    if not is_file(pyproject):
        return ProjectSettings(project_dir=root)
    text = _read_text(pyproject)
    try:
        document = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or an integer over 4300 digits
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
    from .._model.schema import suggest

    for key in table:
        if key not in _KEYS:
            hint = suggest(key, _KEYS)
            extra = f"; did you mean {hint!r}?" if hint else f" (known: {', '.join(_KEYS)})"
            raise ProjectError(f"unknown key {key!r}{extra}", location=where)
    lists: dict[str, object] = {}
    for key, value in table.items():
        if key in ("scan_accessors", "ignore_variables", "doctor_ignore"):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ProjectError(f"{key} must be a list of strings, got {value!r}", location=where)
            lists[key] = tuple(value)
            continue
        if key == "legacy_names":
            lists[key] = _legacy_names(value, f"{pyproject} [tool.layercfg.legacy_names]")
            continue
        expected = bool if key == "builtin_profiles" else str
        if not isinstance(value, expected):
            raise ProjectError(f"{key} must be a {expected.__name__}, got {value!r}", location=where)
    return ProjectSettings(project_dir=root, pyproject=pyproject, **{**table, **lists})


def _legacy_names(value: object, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``FIELD = ["OLD_NAME", ...]`` entries: each field's legacy names, lowest precedence first."""
    if not isinstance(value, dict):
        raise ProjectError("legacy_names must be a table of FIELD = [NAME, ...]", location=where)
    entries = []
    for field, names in value.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and _ENV_NAME.match(n) for n in names):
            raise ProjectError(f"{field} must be a list of variable names, got {names!r}", location=where)
        if len(set(names)) != len(names):
            raise ProjectError(f"{field} names a variable twice: {names!r}", location=where)
        entries.append((field, tuple(names)))
    return tuple(entries)
