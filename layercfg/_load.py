"""load_config(): sources -> layers -> merge -> (discovery) -> resolve -> fallback -> config + provenance.

The receipt of a whole load (:class:`Trace`) lives here with :class:`Loaded` and :class:`Resolution`:
it holds what the stages below reported (discovery, fallback, the field table), so it sits above them.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs

from ._model.fieldtable import SchemaInfo, schema_info
from ._model.provenance import FieldTrace, Layer
from ._model.schema import construct, suggest
from ._precedence import SOURCES, LoadContext, Source, tier
from ._resolve.merge import merge, splice
from ._resolve.resolver import Resolver, top_value
from ._sources.env import EnvFile
from ._sources.profiles import ProfileReader, check_values, split_profile_names
from ._sources.project import ProjectSettings, find_project
from .exceptions import ConfigError, LayercfgError, ProjectError, UnknownFieldError

if TYPE_CHECKING:
    from ._resolve.fallback import FallbackReport
    from ._sources.discovery import ComposeReport, DiscoveryReport

T = TypeVar("T")
PathLike = str | os.PathLike[str]


@attrs.frozen
class Trace:
    """The receipt for one whole load."""

    schema: type
    profiles: tuple[str, ...]
    project_dir: Path
    fields: Mapping[str, FieldTrace]
    warnings: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()  # the resolved stack, lowest first, e.g. "profile docker (profiles/docker.toml)"
    discovery: DiscoveryReport | None = None  # when discovery ran
    fallback: FallbackReport | None = None  # what the fallback step decided
    info: SchemaInfo | None = None  # the load's field table (schema fields, engine settings, services)

    def __getitem__(self, name: str) -> FieldTrace:
        return self.fields[name]


@attrs.frozen
class Loaded(Generic[T]):
    """A resolved config and its receipt."""

    config: T
    trace: Trace


def builtin_profiles_apply(settings: ProjectSettings, schema: type) -> bool:
    """Built-in profiles apply to the built-in schema and schemas derived from it, unless the project's
    ``builtin_profiles`` says otherwise (their values name the built-in schema's fields)."""
    if settings.builtin_profiles is not None:
        return settings.builtin_profiles
    from ._testenv import TestEnvConfig

    return issubclass(schema, TestEnvConfig)


def _profile_names(
    profile: str | Sequence[str] | None,
    settings: ProjectSettings,
    environ: Mapping[str, str],
    reader: ProfileReader,
) -> list[str]:
    if profile is not None:
        return split_profile_names(profile) if isinstance(profile, str) else list(profile)
    from_env = environ.get(settings.profile_var, "").strip()
    if from_env:
        return split_profile_names(from_env)
    return [settings.default_profile] if settings.default_profile in reader.available else []


@attrs.frozen
class Resolution:
    """The outcome of one resolution, errors included (``layercfg doctor`` reads it whole)."""

    config: Any  # an instance of the schema; None when there were errors
    trace: Trace
    errors: tuple[LayercfgError, ...]
    project: ProjectSettings
    discovery: DiscoveryReport | None
    env_files: tuple[EnvFile, ...] = ()

    @property
    def compose(self) -> tuple[ComposeReport, ...]:
        """The compose files discovery read (doctor reuses them rather than reading again)."""
        return self.discovery.compose if self.discovery is not None else ()


def unknown_variables(environ: Mapping[str, str], info: SchemaInfo, settings: ProjectSettings) -> list[str]:
    """A warning for each variable under the project's prefix that layercfg does not read (a typo, an
    old name), with a did-you-mean; ``ignore_variables`` in ``[tool.layercfg]`` silences one."""
    prefix = info.prefix
    if not prefix:
        return []
    known = info.by_env_name.keys() | {settings.profile_var, *settings.ignore_variables}
    warnings = []
    for name in sorted(name for name in environ if name.startswith(prefix) and name not in known):
        hint = suggest(name, [n for n in info.by_env_name if n.startswith(prefix)])
        advice = f"; did you mean {hint}?" if hint else ""
        warnings.append(
            f"env {name} is not a variable layercfg reads{advice} (ignore_variables in [tool.layercfg] silences this)"
        )
    return warnings


def resolve(
    schema: type[Any] | None = None,
    *,
    profile: str | Sequence[str] | None = None,
    project_dir: PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    override_source: str = "load_config(overrides=...)",
    fallback: str | None = None,
    sources: Sequence[Source] = SOURCES,
) -> Resolution:
    """Resolve everything and report every problem, without raising for configuration errors.

    Unknown profiles, cyclic extends and unknown override fields still raise: nothing
    sensible can be resolved without them. ``sources`` is the precedence table (tests add to it).
    """
    if fallback not in (None, "off", "auto", "force"):
        raise LayercfgError(f"fallback must be 'off', 'auto' or 'force', got {fallback!r}")
    environ = os.environ if environ is None else environ
    settings = find_project(project_dir)
    if schema is None:
        schema = settings.load_schema()
    legacy = settings.legacy_names
    try:
        base = schema_info(schema, settings.env_prefix, (), legacy)  # type: ignore[arg-type]  # classes are hashable
    except UnknownFieldError as exc:
        raise ProjectError(f"[tool.layercfg.legacy_names]: {exc}", location=str(settings.pyproject)) from None
    reader = ProfileReader(settings, base, builtin_profiles_apply(settings, schema))
    profiles = reader.resolve(_profile_names(profile, settings, environ, reader))
    declared = tuple(service for item in profiles for service in item.services)
    info = schema_info(schema, settings.env_prefix, declared, legacy) if declared else base  # type: ignore[arg-type]
    checked = []
    for item in profiles:
        item, unknown = check_values(item, info)
        reader.errors.extend(unknown)
        checked.append(item)

    context = LoadContext(settings, info, environ, checked, overrides, override_source)
    context.warnings.extend(unknown_variables(environ, info, settings))
    stack: list[tuple[int, Layer]] = []
    deferred: list[tuple[int, Source]] = []
    for index, source in enumerate(sources):
        if source.deferred:
            deferred.append((index, source))
        else:
            stack += [(tier(index, n), layer) for n, layer in enumerate(source.read(context))]
    ranked = merge(stack, info)  # once: deferred sources are spliced into their place below
    context.setting = lambda name: top_value(ranked, info, name)
    for index, source in deferred:
        for n, layer in enumerate(source.read(context)):
            splice(ranked, tier(index, n), layer)
            stack.append((tier(index, n), layer))
    stack.sort(key=lambda pair: pair[0])

    resolver = Resolver(info, ranked)
    resolved = resolver.run()
    fields = {name: resolved[name].trace for name in info.fields}  # schema order
    warnings = context.warnings
    fallback_report = None
    if not resolver.errors and (fallback or fields["fallback"].value) != "off":  # imported only when on
        from ._resolve.fallback import apply_fallback

        fallback_report = apply_fallback(info, fields, fallback)
        warnings.append(f"fallback ({fallback_report.mode}): {fallback_report.reason}")
    report = context.discovery
    if report is not None:
        from ._resolve.conflicts import conflict_warning, port_conflicts

        for conflict in port_conflicts(report, fields):
            warning = conflict_warning(conflict)
            if warning is not None:
                fields[conflict.field] = fields[conflict.field].warned(warning)
    errors = [*reader.errors, *context.errors, *resolver.errors]
    config = None
    if not errors:
        try:
            config = construct(schema, {name: fields[name].value for name in info.attributes})
        except (TypeError, ValueError) as exc:
            from ._model.provenance import secret_values_of
            from ._model.secrets import mask_text

            # A validator's message may quote the value it rejected: mask secrets as everywhere else.
            message = mask_text(str(exc), secret_values_of(fields.values()))
            errors.append(LayercfgError(f"{schema.__name__} rejected the resolved values: {message}"))
    trace = Trace(
        schema=schema,
        profiles=tuple(item.name for item in profiles),
        project_dir=settings.project_dir,
        fields=fields,
        warnings=tuple(warnings),
        layers=tuple(layer.name for _, layer in stack),
        discovery=report,
        fallback=fallback_report,
        info=info,
    )
    return Resolution(config, trace, tuple(errors), settings, report, tuple(context.env_files))


# Set by the pytest plugin for the length of a session: the session's resolution (None when it failed).
_session: Callable[[], Loaded[Any] | None] | None = None


def use_session(provider: Callable[[], Loaded[Any] | None] | None) -> None:
    """Make argument-less :func:`load` / :func:`load_config` calls return ``provider()``'s
    resolution (None: resolve as usual again). The pytest plugin's one truth per session."""
    global _session
    _session = provider


def load(
    schema: type[T] | None = None,
    *,
    profile: str | Sequence[str] | None = None,
    project_dir: PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    override_source: str = "load_config(overrides=...)",
    fallback: str | None = None,
) -> Loaded[T]:
    """Resolve the configuration and return it with its receipt.

    ``environ`` defaults to ``os.environ``; it is only read. ``profile`` beats the
    profile variable (``NETRA_PROFILE``); a comma list stacks profiles left to right.
    ``fallback`` ("off", "auto", "force") replaces the fallback mode for this call only.
    Raises :class:`ConfigError` listing every problem found.

    In a pytest session with the layercfg plugin active, a call with no argument but the
    schema returns the session's resolution (``--layercfg-profile``, ``--layercfg-set`` and
    the ini keys included), the same object the ``layercfg_config`` fixture holds, on xdist
    workers too. Any argument asks for a resolution of its own.
    """
    if _session is not None and (profile, project_dir, environ, overrides, fallback) == (None,) * 5:
        session = _session()
        if session is not None and (schema is None or session.trace.schema is schema):
            return session
    resolution = resolve(
        schema,
        profile=profile,
        project_dir=project_dir,
        environ=environ,
        overrides=overrides,
        override_source=override_source,
        fallback=fallback,
    )
    if resolution.errors:
        raise ConfigError(resolution.errors)
    remember(resolution.config, resolution.trace)
    return Loaded(resolution.config, resolution.trace)


@overload
def load_config(schema: None = None, **kwargs: Any) -> Any: ...
@overload
def load_config(schema: type[T], **kwargs: Any) -> T: ...
def load_config(schema: type[T] | None = None, **kwargs: Any) -> T:
    """Resolve the configuration; its receipt stays retrievable with :func:`explain`.

    Takes the same keyword arguments as :func:`load`.
    """
    return load(schema, **kwargs).config


# Receipts are kept beside configs, keyed by identity: equal configs can have
# different receipts, and a frozen attrs value must stay a plain value.
_TRACES: dict[int, tuple[weakref.ref[Any], Trace]] = {}


def remember(config: object, trace: Trace) -> None:
    key = id(config)

    def forget(_ref: weakref.ref[Any]) -> None:
        _TRACES.pop(key, None)

    try:
        ref = weakref.ref(config, forget)
    except TypeError:  # a schema without __weakref__: keep the receipt alive with the config
        _TRACES[key] = (lambda: config, trace)  # type: ignore[assignment]
        return
    _TRACES[key] = (ref, trace)


def provenance(config: object) -> Trace:
    """The receipt of a config returned by :func:`load_config` (no re-loading)."""
    held = _TRACES.get(id(config))
    if held is None or held[0]() is not config:
        raise LayercfgError("this config was not returned by layercfg.load_config(); no receipt is kept for it")
    return held[1]


def explain(config: object, field: str) -> FieldTrace:
    """How ``field`` of a loaded config got its value: winner, every candidate, warnings."""
    trace = provenance(config)
    try:
        return trace.fields[field]
    except KeyError:
        from ._model.schema import suggest

        raise UnknownFieldError(field, suggest(field, trace.fields)) from None
