"""Profiles: TOML files of values plus metadata, read with the standard library's ``tomllib``.

A profile file has two tables::

    [profile]
    description = "Alpine test stack (docker/docker-compose.alpine-test.yml)"
    extends = "docker"                      # or a list; parents load first
    env_files = ["config/.env.alpine-test"] # or {path = "...", required = true}

    [values]
    backend_url = "http://localhost:8002"

Profile files are data: ``tomllib`` parses them (no environment variable, settings file
or ``@token`` changes what is read, and no code runs); layercfg checks every key against
the schema and keeps each key's line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Entry, Layer, LayerKind, Origin
from .._model.schema import Service, suggest
from ..exceptions import (
    LayercfgError,
    MalformedFileError,
    ProfileCycleError,
    ProfileError,
    UnknownKeyError,
    UnknownProfileError,
)
from .files import is_dir, read_text, resolved
from .project import ProjectSettings

BUILTIN_PREFIX = "<builtin>/profiles/"
# The profile file formats, by suffix: TOML through tomllib, the others through dynaconf's readers.
PROFILE_FORMATS = (".toml", ".yaml", ".yml", ".json", ".ini")
PROFILE_KEYS = ("description", "extends", "env_files")
TOP_KEYS = ("profile", "values", "services")
# [services.NAME]: names and container ports resolve through the layers like any setting; the rest
# declares the service (docs/services.md).
SERVICE_KEYS = ("names", "container_port", "scheme", "probe", "health_path", "credentials", "endpoints")
ENDPOINT_KEYS = ("container_port", "scheme")
PROBES = ("http", "tcp", "websocket")
CREDENTIAL_PARTS = ("user", "password", "database")
MAX_EXTENDS_DEPTH = 64
MAX_UNKNOWN_REPORTED = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KEY_LINE = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")
_TABLE_LINE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def builtin_profiles_dir() -> Path:
    """Where the built-in profiles are: inside the wheel, or at the top of a source checkout."""
    package = Path(__file__).parent.parent  # layercfg/, this file being layercfg/_sources/profiles.py
    packaged = package / "profiles"
    return packaged if packaged.is_dir() else package.parent / "profiles"


class EnvFileRef(NamedTuple):
    """An env file a profile names; ``location`` is where the profile names it."""

    path: str
    required: bool
    profile: str
    location: str


@attrs.frozen
class Profile:
    """One profile file, parsed and checked."""

    name: str
    path: Path
    display: str  # "profiles/docker.toml" or "<builtin>/profiles/local.toml"
    description: str
    extends: tuple[str, ...]
    env_files: tuple[EnvFileRef, ...]
    values: Mapping[str, Any]  # [values] and the layered keys of [services.NAME] ("postgres.names")
    lines: Mapping[tuple[str, str], int]  # (table, key) -> 1-based line
    services: tuple[Service, ...] = ()  # services this profile declares or refines
    value_tables: Mapping[str, str] = attrs.Factory(dict)  # value key -> the table it was written in

    def location(self, table: str, key: str) -> str:
        line = self.lines.get((table, key))
        return f"{self.display}:{line}" if line else self.display

    def value_location(self, key: str) -> str:
        table = self.value_tables.get(key, "values")
        return self.location(table, key.rsplit(".", 1)[-1] if table != "values" else key)


def profile_files(settings: ProjectSettings, include_builtin: bool) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Profile name -> file, and the names more than one file of one directory claims
    (``docker.toml`` and ``docker.yaml``). The project's own profiles override built-ins by name."""
    found: dict[str, Path] = {}
    clashes: dict[str, list[Path]] = {}
    directories = [builtin_profiles_dir()] if include_builtin else []
    directories.append(settings.project_dir / settings.profiles_dir)
    for directory in directories:
        if not is_dir(directory):
            continue
        here: dict[str, list[Path]] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix in PROFILE_FORMATS and not path.name.startswith("."):
                here.setdefault(path.stem, []).append(path)
        for name, paths in here.items():
            found[name] = paths[0]
            clashes.pop(name, None)
            if len(paths) > 1:
                clashes[name] = paths
    return found, clashes


def available_profiles(settings: ProjectSettings, include_builtin: bool) -> dict[str, Path]:
    """Profile name -> file; the project's own profiles override built-ins by name."""
    return profile_files(settings, include_builtin)[0]


def display_path(path: Path, settings: ProjectSettings) -> str:
    builtin = builtin_profiles_dir()
    project_profiles = resolved(settings.project_dir / settings.profiles_dir)
    parent = resolved(path).parent
    if parent == resolved(builtin) and parent != project_profiles:
        return BUILTIN_PREFIX + path.name
    return settings.relative(path)


def key_lines(text: str) -> dict[tuple[str, str], int]:
    """Best-effort line of every ``key =`` under its table; the parser stays the authority on values."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    # TOML ends lines with LF or CRLF only: str.splitlines() would also break at U+2028, U+0085 and
    # friends, which a TOML string may hold, and shift every line number after them.
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        header = _TABLE_LINE.match(line)
        if header:
            table = header.group(1).strip().strip("\"'")
            lines.setdefault(("", table), number)
            continue
        key = _KEY_LINE.match(line)
        if key:
            lines.setdefault((table, key.group(1).strip("\"'")), number)
    return lines


_HUGE_INTEGER = re.compile(r"[0-9_]{4300,}")


class ProfileReader:
    """Reads the profile files of one load, each once."""

    def __init__(self, settings: ProjectSettings, info: SchemaInfo, include_builtin: bool) -> None:
        self.settings = settings
        self.info = info
        self.available, self.clashes = profile_files(settings, include_builtin)
        self.include_builtin = include_builtin
        self.errors: list[LayercfgError] = []
        self._cache: dict[str, Profile | None] = {}

    def why_none(self) -> str | None:
        """Why no profile is available (None when some are)."""
        if self.available:
            return None
        directory = self.settings.relative(self.settings.project_dir / self.settings.profiles_dir)
        builtin = (
            ""
            if self.include_builtin
            else (
                f", and the built-in profiles apply only to TestEnvConfig and schemas derived from it "
                f"(schema {self.settings.schema}; set builtin_profiles = true in [tool.layercfg] to use them)"
            )
        )
        return f"{directory}/ has no profile file ({', '.join('*' + s for s in PROFILE_FORMATS)}){builtin}"

    @staticmethod
    def _parse(text: str, display: str) -> dict[str, Any]:
        # The standard library's TOML parser: no environment variable, no settings file and no
        # "@token" can make reading a profile run code or read anything else (dynaconf's reader,
        # used before, honoured INCLUDES_FOR_DYNACONF and friends from os.environ).
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            position = _TOML_POSITION.search(message)
            if position:
                reason = _TOML_POSITION.sub("", message).strip()
                where = f"{display}:{position.group(1)}"
                raise MalformedFileError(
                    f"malformed TOML: {reason} (column {position.group(2)})", location=where
                ) from None
            raise MalformedFileError(f"malformed TOML: {message}", location=display) from None
        except RecursionError:
            raise MalformedFileError("malformed TOML: nested too deeply", location=display) from None
        except ValueError:  # an integer over Python's 4300-digit conversion limit (tomllib lets it through)
            huge = _HUGE_INTEGER.search(text)
            line = text.count("\n", 0, huge.start()) + 1 if huge else None
            key = text.split("\n")[line - 1].partition("=")[0].strip() if line else ""
            where = f"{display}:{line}" if line else display
            what = f" ({key} = <{len(huge.group(0))} digits>)" if huge and key else ""
            raise MalformedFileError(
                f"malformed TOML: an integer of more than 4300 digits{what}", location=where
            ) from None

    def read(self, name: str, *, referenced_at: str | None = None) -> Profile | None:
        """Parse and check one profile; None when it had errors (they are collected)."""
        if name in self._cache:
            return self._cache[name]
        path = self.available.get(name)
        if path is None:
            raise UnknownProfileError(
                name,
                sorted(self.available),
                suggest(name, self.available),
                location=referenced_at,
                why_none=self.why_none(),
            )
        display = display_path(path, self.settings)
        try:
            if name in self.clashes:
                files = " and ".join(display_path(p, self.settings) for p in self.clashes[name])
                raise ProfileError(f"profile {name!r} is defined twice, by {files}: keep one", location=display)
            profile: Profile | None = self._read(name, path, display)
        except LayercfgError as exc:
            self.errors.append(exc)
            profile = None
        self._cache[name] = profile
        return profile

    def _read(self, name: str, path: Path, display: str) -> Profile:
        text = read_text(path, display, "profile")
        if path.suffix == ".toml":
            data = self._parse(text, display)
            lines = key_lines(text)
        else:  # YAML, JSON or INI: dynaconf's readers, imported only now (docs/profiles.md)
            from .formats import parse

            data, lines = parse(text, display, path.suffix)

        def where(table: str, key: str) -> str:
            line = lines.get((table, key))
            return f"{display}:{line}" if line else display

        for key in data:
            if key not in TOP_KEYS:
                raise UnknownKeyError(key, suggest(key, TOP_KEYS), location=where("", key), where="the profile file")
        meta = data.get("profile", {})
        values = data.get("values", {})
        for table, content in (("profile", meta), ("values", values)):
            if not isinstance(content, dict):
                raise ProfileError(f"[{table}] must be a table", location=where("", table))
        for key in meta:
            if key not in PROFILE_KEYS:
                raise UnknownKeyError(
                    key, suggest(key, PROFILE_KEYS), location=where("profile", key), where="[profile]"
                )
        description = meta.get("description", "")
        if not isinstance(description, str):
            raise ProfileError("description must be text", location=where("profile", "description"))
        extends = _str_list(meta.get("extends", []), "extends", where("profile", "extends"))
        for parent in extends:
            if not _NAME.match(parent):
                raise ProfileError(f"invalid profile name {parent!r} in extends", location=where("profile", "extends"))
        env_files = tuple(self._env_file_refs(meta.get("env_files", []), name, where("profile", "env_files")))
        services_table = data.get("services", {})
        if not isinstance(services_table, dict):
            raise ProfileError("[services] must be a table of [services.NAME] tables", location=where("", "services"))
        all_values = dict(values)
        tables = {key: "values" for key in values}
        services = []
        for service_name, table in services_table.items():
            declared, layered = _service_table(service_name, table, where)
            services.extend(declared)
            for key, (value, table_name) in layered.items():
                all_values[key] = value
                tables[key] = table_name
        return Profile(name, path, display, description, extends, env_files, all_values, lines, tuple(services), tables)

    @staticmethod
    def _env_file_refs(raw: object, profile: str, location: str) -> list[EnvFileRef]:
        items = raw if isinstance(raw, list) else [raw]
        refs = []
        for item in items:
            if isinstance(item, str):
                refs.append(EnvFileRef(item, False, profile, location))
            elif isinstance(item, dict) and isinstance(item.get("path"), str) and set(item) <= {"path", "required"}:
                required = item.get("required", False)
                if not isinstance(required, bool):
                    raise ProfileError("env_files: required must be true or false", location=location)
                refs.append(EnvFileRef(item["path"], required, profile, location))
            else:
                raise ProfileError(
                    'env_files entries must be paths or {path = "...", required = true}', location=location
                )
        return refs

    def resolve(self, names: Sequence[str]) -> list[Profile]:
        """The active profiles with their extends chains, parents first, each once."""
        order: list[Profile] = []
        done: set[str] = set()

        def visit(name: str, stack: tuple[str, ...], referenced_at: str | None) -> None:
            if name in stack:
                raise ProfileCycleError((*stack, name), location=referenced_at)
            if len(stack) >= MAX_EXTENDS_DEPTH:
                raise ProfileError(
                    f"extends chain deeper than {MAX_EXTENDS_DEPTH} profiles ({' -> '.join(stack[:3])} -> ...)",
                    location=referenced_at,
                )
            if name in done:
                return
            profile = self.read(name, referenced_at=referenced_at)
            if profile is not None:
                for parent in profile.extends:
                    visit(parent, (*stack, name), profile.location("profile", "extends"))
                order.append(profile)
            done.add(name)

        for name in names:
            visit(name, (), None)
        return order


def _service_table(name: str, table: object, where: Any) -> tuple[list[Service], dict[str, tuple[object, str]]]:
    """A ``[services.NAME]`` table -> its declarations (main endpoint first) and layered values (``NAME.names``)."""
    header = f"services.{name}"
    if not _NAME.match(name):
        raise ProfileError(f"invalid service name {name!r}", location=where("services", name))
    if not isinstance(table, dict):
        raise ProfileError(f"[{header}] must be a table", location=where("services", name))
    for key in table:
        if key not in SERVICE_KEYS:
            raise UnknownKeyError(key, suggest(key, SERVICE_KEYS), location=where(header, key), where=f"[{header}]")
    layered: dict[str, tuple[object, str]] = {}
    if "names" in table:
        layered[f"{name}.names"] = (table["names"], header)
    if "container_port" in table:
        layered[f"{name}.container_port"] = (table["container_port"], header)
    scheme = table.get("scheme")
    if scheme is not None and not (isinstance(scheme, str) and re.match(r"^[a-z][a-z0-9+.-]*$", scheme)):
        raise ProfileError("scheme must be a URL scheme such as 'postgresql'", location=where(header, "scheme"))
    probe = table.get("probe")
    if probe is not None and probe not in PROBES:
        raise ProfileError(f"probe must be one of {', '.join(PROBES)}", location=where(header, "probe"))
    health_path = table.get("health_path")
    if health_path is not None and not isinstance(health_path, str):
        raise ProfileError("health_path must be text", location=where(header, "health_path"))
    credentials = table.get("credentials", {})
    if not isinstance(credentials, dict) or not all(
        part in CREDENTIAL_PARTS and isinstance(var, str) for part, var in credentials.items()
    ):
        raise ProfileError(
            "credentials must map user, password or database to a compose environment variable name",
            location=where(header, "credentials"),
        )
    endpoints = table.get("endpoints", {})
    extra: list[Service] = []
    if not isinstance(endpoints, dict):
        raise ProfileError(
            "endpoints must be a table of [..endpoints.NAME] tables", location=where(header, "endpoints")
        )
    for endpoint, spec in endpoints.items():
        ep_header = f"{header}.endpoints.{endpoint}"
        if not isinstance(spec, dict) or not _NAME.match(endpoint):
            raise ProfileError(f"[{ep_header}] must be a table", location=where(header, "endpoints"))
        for key in spec:
            if key not in ENDPOINT_KEYS:
                raise UnknownKeyError(
                    key, suggest(key, ENDPOINT_KEYS), location=where(ep_header, key), where=f"[{ep_header}]"
                )
        if "container_port" in spec:
            layered[f"{name}.{endpoint}.container_port"] = (spec["container_port"], ep_header)
        ep_scheme = spec.get("scheme")
        if ep_scheme is not None and not isinstance(ep_scheme, str):
            raise ProfileError("scheme must be text", location=where(ep_header, "scheme"))
        extra.append(Service(name, endpoint=endpoint, scheme=ep_scheme))
    declared = Service(
        name,
        scheme=scheme,
        probe=probe,
        health_path=health_path,
        credentials_env=tuple(sorted(credentials.items())),
    )
    return [declared, *extra], layered


def _str_list(raw: object, key: str, location: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    raise ProfileError(f"{key} must be a profile name or a list of names", location=location)


def check_values(profile: Profile, info: SchemaInfo) -> tuple[Profile, list[LayercfgError]]:
    """The profile with only the keys the load's field table knows, and an error for each other key."""
    errors: list[LayercfgError] = []
    unknown: list[str] = []
    known = {}
    for key, value in profile.values.items():
        in_values = profile.value_tables.get(key, "values") == "values"
        if key in info.fields and not (in_values and "." in key):
            known[key] = value
            continue
        if key in info.fields:  # "postgres.names" under [values]: it belongs to [services.postgres]
            service, _, setting = key.rpartition(".")
            errors.append(
                ProfileError(
                    f"{key} is a service setting: write it as {setting} under [services.{service}]",
                    location=profile.value_location(key),
                )
            )
            continue
        unknown.append(key)
    for key in unknown[:MAX_UNKNOWN_REPORTED]:
        errors.append(
            UnknownKeyError(
                key,
                info.suggest(key),
                location=profile.value_location(key),
                where=f"[values] (not a field of {info.schema.__name__})",
                field=key,
            )
        )
    if len(unknown) > MAX_UNKNOWN_REPORTED:
        # One screen of errors, and no per-key suggestion work for a file that is not a profile at all.
        rest = len(unknown) - MAX_UNKNOWN_REPORTED
        errors.append(ProfileError(f"and {rest} more unknown keys in [values]", location=profile.display))
    if not errors:
        return profile, errors
    return attrs.evolve(profile, values=known), errors


def profile_layer(profile: Profile) -> Layer:
    """The values one profile file sets, each with its file:line."""
    entries = tuple(
        Entry(key, value, Origin(LayerKind.PROFILE, f"profile {profile.name}", profile.value_location(key)))
        for key, value in profile.values.items()
    )
    return Layer(LayerKind.PROFILE, f"profile {profile.name} ({profile.display})", entries)


def split_profile_names(text: str) -> list[str]:
    """``"alpine-test, staging-fallback"`` -> ``["alpine-test", "staging-fallback"]``.

    Text that names no profile at all (``","``) is an error, not "no profiles": it was meant to name some.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names and text:
        raise ProfileError(f"{text!r} names no profile (expected NAME or NAME,NAME)")
    for name in names:
        if not _NAME.match(name):
            raise ProfileError(f"invalid profile name {name!r}")
    return names
