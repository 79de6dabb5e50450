"""Every error layercfg raises on purpose derives from :class:`LayercfgError`.

Exceptions carry structured fields (``.field``, ``.origin``, ``.errors``, ``.location``)
as well as a one-screen message that names the source of the problem, so a CLI or a
test harness can print ``str(exc)`` and a program can inspect the fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._model.provenance import Origin

__all__ = [
    "ConfigError",
    "ConversionError",
    "DiscoveryError",
    "LayercfgError",
    "MalformedFileError",
    "MissingValueError",
    "ProfileCycleError",
    "ProfileError",
    "ProjectError",
    "ServiceTimeoutError",
    "SourceError",
    "StackError",
    "UnknownFieldError",
    "UnknownKeyError",
    "UnknownProfileError",
    "UnreadableFileError",
]


def _rebuild(cls: type[LayercfgError], args: tuple[Any, ...], state: dict[str, Any]) -> LayercfgError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class LayercfgError(Exception):
    """Root of every error layercfg raises on purpose.

    ``field`` is the field the error concerns, or None when it concerns no single field (a
    malformed file, an unknown profile). Every error pickles, so a failed load in a worker
    process reaches the parent intact.
    """

    field: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class SourceError(LayercfgError):
    """A source (file, variable, container) could not be read or understood.

    ``location`` is ``PATH:LINE`` (or ``PATH``) where the problem is, or None.
    """

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class UnreadableFileError(SourceError):
    """A file that had to be read does not exist, is a directory, or cannot be opened."""


class MalformedFileError(SourceError):
    """A file's syntax is invalid (TOML, YAML, dotenv)."""


class ProjectError(SourceError):
    """The project's ``[tool.layercfg]`` settings are invalid."""


class ProfileError(SourceError):
    """A profile is unknown, invalid, or its ``extends`` chain is broken."""


class UnknownProfileError(ProfileError):
    """A profile name was asked for that no profiles directory defines."""

    def __init__(
        self,
        name: str,
        available: Sequence[str],
        suggestion: str | None,
        *,
        location: str | None = None,
        why_none: str | None = None,
    ) -> None:
        self.name = name
        self.available = tuple(available)
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        listing = ", ".join(self.available) or "(none)"
        why = f"; {why_none}" if why_none and not self.available else ""
        super().__init__(f"unknown profile {name!r}{hint} (available: {listing}){why}", location=location)


class ProfileCycleError(ProfileError):
    """A profile's ``extends`` chain comes back to itself."""

    def __init__(self, chain: Sequence[str], *, location: str | None = None) -> None:
        self.chain = tuple(chain)
        super().__init__(f"profile extends form a cycle: {' -> '.join(self.chain)}", location=location)


class UnknownKeyError(ProfileError):
    """A profile file names a key the schema (or the profile format) does not have."""

    def __init__(
        self, key: str, suggestion: str | None, *, location: str | None, where: str, field: str | None = None
    ) -> None:
        self.key = key
        self.field = field
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"unknown key {key!r} in {where}{hint}", location=location)


class UnknownFieldError(LayercfgError):
    """A field name was asked for (``explain``, ``--set``) that the schema does not have."""

    def __init__(self, name: str, suggestion: str | None) -> None:
        self.field = name
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"unknown field {name!r}{hint}")


class ConversionError(LayercfgError):
    """One value could not be converted to its field's type.

    ``origin`` is the :class:`layercfg.Origin` of the offending value.
    """

    def __init__(self, field: str, message: str, origin: Origin | None) -> None:
        self.field = field
        self.origin = origin
        self.reason = message
        source = f" ({origin})" if origin is not None else ""
        super().__init__(f"{field}: {message}{source}")


class ConfigError(LayercfgError, ExceptionGroup):
    """Loading failed; ``errors`` (also ``exceptions``) holds every problem found, not only the first.

    An :class:`ExceptionGroup`, so ``except* ConversionError`` picks out one kind. Each error
    carries ``.field`` (None when it concerns no single field); the message is the one problem,
    or every problem on its own line.
    """

    def __new__(cls, errors: Sequence[LayercfgError]) -> ConfigError:
        self: ConfigError = super().__new__(cls, _problems_text(errors), list(errors))
        return self

    def __init__(self, errors: Sequence[LayercfgError]) -> None:
        super().__init__(self.message, list(errors))

    def derive(self, excs: Sequence[Exception]) -> ConfigError:  # type: ignore[override]
        return ConfigError([e for e in excs if isinstance(e, LayercfgError)])

    @property
    def errors(self) -> tuple[LayercfgError, ...]:
        return tuple(e for e in self.exceptions if isinstance(e, LayercfgError))

    def __str__(self) -> str:
        return self.message  # not ExceptionGroup's "... (2 sub-exceptions)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigError, (list(self.errors),))


def _problems_text(errors: Sequence[LayercfgError]) -> str:
    """A failed load for people: the one problem, or every problem on its own line."""
    if len(errors) == 1:
        return str(errors[0])
    return "\n".join([f"{len(errors)} problems in the configuration:", *(f"  - {e}" for e in errors)])


class DiscoveryError(LayercfgError):
    """Discovery was required by the profile and did not find what it needed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class MissingValueError(LayercfgError):
    """A required field (no default) that no layer sets."""

    def __init__(self, field: str, env: str) -> None:
        self.field = field
        super().__init__(f"{field}: required, but no layer sets it (set {env} or add it to a profile)")


class ServiceTimeoutError(LayercfgError):
    """A service did not become reachable within its time budget."""

    def __init__(self, message: str, *, service: str, url: str, source: str) -> None:
        self.service = service
        self.url = url
        self.source = source
        super().__init__(message)


class StackError(LayercfgError):
    """The compose stack could not be started (or stopped) by ``layercfg up`` / :func:`layercfg.up`.

    ``kind`` says why: ``compose-missing``, ``compose-v1``, ``docker-down``, ``no-compose-file``,
    ``unknown-service``, ``image``, ``build``, ``unhealthy``, ``timeout``, ``exited`` or ``compose``
    (anything else compose reported). ``service`` is the compose service it concerns (None when it
    concerns the whole stack); ``logs`` holds the last lines of its container log, when there is one.
    """

    def __init__(self, message: str, *, kind: str, service: str | None = None, logs: str = "") -> None:
        self.kind = kind
        self.service = service
        self.logs = logs
        super().__init__(message)


def walk_causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps, each once: causes, contexts, a ``reason`` (urllib3, urllib),
    exception arguments, and the members of an exception group. Not part of the public API."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        if isinstance(current, BaseExceptionGroup):
            wrapped += current.exceptions
        stack.extend(item for item in wrapped if isinstance(item, BaseException))
