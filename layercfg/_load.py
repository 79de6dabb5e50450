"""load_config(): sources -> layers -> merge -> convert -> derived -> config + provenance."""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs

from ._convert import Invalid, convert
from ._merge import Ranked, legacy_warning, merge, name_warnings
from ._profiles import ProfileReader, profile_layer, split_profile_names
from ._project import ProjectSettings, find_project
from ._provenance import Candidate, FieldTrace, LayerKind, Origin, Status, Trace
from ._schema import SECRET_MASK, FieldSpec, SchemaInfo, schema_info
from ._sources import (
    EnvFile,
    Layer,
    default_layer,
    env_file_layer,
    environment_layer,
    override_layer,
    read_env_file,
)
from .exceptions import ConfigError, ConversionError, LayercfgError, UnknownFieldError, UnreadableFileError

if TYPE_CHECKING:
    from ._discovery import DiscoveryReport

T = TypeVar("T")
PathLike = str | os.PathLike[str]


@attrs.frozen
class Loaded(Generic[T]):
    """A resolved config and its receipt."""

    config: T
    trace: Trace


@attrs.frozen
class _Resolved:
    value: object
    trace: FieldTrace
    tier: int  # precedence of what decided the value (derived values: of their inputs)


class _Resolver:
    """Turns merged entries into converted values, candidates and warnings, field by field."""

    def __init__(self, info: SchemaInfo, ranked: Mapping[str, list[Ranked]]) -> None:
        self.info = info
        self.ranked = ranked
        self.errors: list[LayercfgError] = []
        self.done: dict[str, _Resolved] = {}

    def run(self) -> dict[str, _Resolved]:
        pending = [spec for spec in self.info.fields.values() if spec.derive is None]
        derived = [spec for spec in self.info.fields.values() if spec.derive is not None]
        for spec in pending:
            self.done[spec.name] = self._plain(spec, self.ranked[spec.name])
        while derived:  # derived fields may depend on other derived fields
            ready = [spec for spec in derived if all(name in self.done for name in spec.derive.inputs)]  # type: ignore[union-attr]
            if not ready:
                names = ", ".join(spec.name for spec in derived)
                raise LayercfgError(f"derived fields depend on each other in a cycle: {names}")
            for spec in ready:
                self.done[spec.name] = self._derived(spec)
                derived.remove(spec)
        return self.done

    def _convert(self, spec: FieldSpec, raw: object, origin: Origin) -> tuple[object, bool]:
        try:
            return convert(spec, raw), True
        except Invalid as exc:
            self.errors.append(ConversionError(spec.name, str(exc), origin))
            return None, False

    def _plain(self, spec: FieldSpec, ranked: Sequence[Ranked]) -> _Resolved:
        if not ranked:
            self.errors.append(
                LayercfgError(f"{spec.name}: required, but no layer sets it (set {spec.env} or add it to a profile)")
            )
            missing = Candidate(Origin(LayerKind.DEFAULT, "nothing"), None, 0, Status.INVALID)
            return _Resolved(None, FieldTrace(spec.name, None, spec.secret, missing, (missing,)), -1)
        top = ranked[0]
        value, ok = self._convert(spec, top.entry.raw, top.entry.origin)
        winner = Candidate(top.entry.origin, top.entry.raw, top.tier, Status.WON if ok else Status.INVALID, value)
        warnings = []
        legacy = legacy_warning(top.entry)
        if legacy:
            warnings.append(legacy)
        warnings += name_warnings(ranked, spec.secret)
        candidates = (winner, *(Candidate(r.entry.origin, r.entry.raw, r.tier) for r in ranked[1:]))
        trace = FieldTrace(spec.name, value, spec.secret, winner, candidates, tuple(warnings))
        return _Resolved(value, trace, top.tier)

    def _derived(self, spec: FieldSpec) -> _Resolved:
        derivation = spec.derive
        assert derivation is not None
        inputs = [self.done[name] for name in derivation.inputs]
        ranked = self.ranked[spec.name]
        explicit = [r for r in ranked if r.entry.origin.layer is not LayerKind.DEFAULT]
        input_tier = max(resolved.tier for resolved in inputs)
        if explicit and explicit[0].tier >= input_tier:
            return self._plain(spec, ranked)  # set at or above its inputs' layer: it stands
        if any(resolved.trace.winner.status is not Status.WON for resolved in inputs):
            return self._plain(spec, ranked)  # an input is invalid; its error is already collected
        raw = derivation.compute(*(resolved.value for resolved in inputs))
        if raw is None:
            return self._plain(spec, ranked)
        lineage = tuple(
            (name, resolved.trace.winner.origin) for name, resolved in zip(derivation.inputs, inputs, strict=True)
        )
        origin = Origin(
            LayerKind.DERIVED,
            "derived from " + " + ".join(derivation.inputs),
            None,
            "; ".join(f"{name} <- {origin}" for name, origin in lineage),
        )
        warnings = []
        if explicit:
            stale = explicit[0]
            newest = max(inputs, key=lambda resolved: resolved.tier)
            shown = SECRET_MASK if spec.secret else stale.entry.raw
            warnings.append(
                f"half-overridden pair: {spec.name}={shown} from {stale.entry.origin} is below "
                f"{newest.trace.name} from {newest.trace.winner.origin}; using the derived value instead "
                f"so the pair stays consistent (set {spec.name} at the same layer to keep it)"
            )
        value, ok = self._convert(spec, raw, origin)
        winner = Candidate(origin, raw, input_tier, Status.WON if ok else Status.INVALID, value)
        candidates = (winner, *(Candidate(r.entry.origin, r.entry.raw, r.tier) for r in ranked))
        trace = FieldTrace(spec.name, value, spec.secret, winner, candidates, tuple(warnings), lineage)
        return _Resolved(value, trace, input_tier)


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


def _env_file_layers(
    reader: ProfileReader, profiles: Sequence[Any], settings: ProjectSettings, info: SchemaInfo
) -> tuple[list[Layer], list[EnvFile], list[str]]:
    layers: list[Layer] = []
    env_files: list[EnvFile] = []
    warnings: list[str] = []
    for profile in profiles:
        for ref in profile.env_files:
            path = settings.project_dir / ref.path
            display = settings.relative(path)
            try:
                env_file = read_env_file(path, display)
            except UnreadableFileError as exc:
                if ref.required or path.exists():
                    reader.errors.append(exc)
                else:
                    warnings.append(
                        f"env file {display} named by profile {ref.profile} ({ref.location}) "
                        "does not exist; skipped (it is optional)"
                    )
                continue
            except LayercfgError as exc:
                reader.errors.append(exc)
                continue
            layers.append(env_file_layer(env_file, info))
            env_files.append(env_file)
            warnings.extend(env_file.warnings)
    return layers, env_files, warnings


@attrs.frozen
class Resolution:
    """The outcome of one resolution, errors included (``layercfg doctor`` reads it whole)."""

    config: Any  # None when there were errors
    trace: Trace
    errors: tuple[LayercfgError, ...]
    project: ProjectSettings
    discovery: DiscoveryReport | None
    env_files: tuple[EnvFile, ...] = ()


_DISCOVERY_FIELDS = (
    "discovery",
    "docker_timeout",
    "compose_files",
    "compose_project_directory",
    "compose_project",
)


def _first_pass(info: SchemaInfo, layers: Sequence[Layer]) -> dict[str, object]:
    """Discovery's own settings, resolved from every layer but discovery (bad values are ignored here
    and reported by the full resolution)."""
    names = [*_DISCOVERY_FIELDS] + [
        f"{spec.service}_{suffix}"
        for spec in info.fields.values()
        if spec.service
        for suffix in ("service_names", "container_port")
    ]
    ranked = merge(layers, info)
    values: dict[str, object] = {}
    for name in names:
        if name in info.fields and ranked[name]:
            with contextlib.suppress(Invalid):
                values[name] = convert(info.fields[name], ranked[name][0].entry.raw)
    return values


def resolve(
    schema: type[Any] | None = None,
    *,
    profile: str | Sequence[str] | None = None,
    project_dir: PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    override_source: str = "load_config(overrides=...)",
    fallback: str | None = None,
    discovery: bool = True,
) -> Resolution:
    """Resolve everything and report every problem, without raising for configuration errors.

    Unknown profiles, cyclic extends and unknown override fields still raise: nothing
    sensible can be resolved without them.
    """
    if fallback not in (None, "off", "auto", "force"):
        raise LayercfgError(f"fallback must be 'off', 'auto' or 'force', got {fallback!r}")
    environ = os.environ if environ is None else environ
    settings = find_project(project_dir)
    if schema is None:
        schema = settings.load_schema()
    info = schema_info(schema, settings.env_prefix)  # type: ignore[arg-type]  # classes are hashable
    reader = ProfileReader(settings, info, settings.includes_builtin_profiles(schema))
    names = _profile_names(profile, settings, environ, reader)
    profiles = reader.resolve(names)

    lower: list[Layer] = [default_layer(info)]
    lower += [profile_layer(item) for item in profiles]
    env_layers, env_files, warnings = _env_file_layers(reader, profiles, settings, info)
    lower += env_layers
    upper = [environment_layer(environ, info)]
    if overrides:
        upper.append(override_layer(overrides, info, override_source))

    report: DiscoveryReport | None = None
    discovery_layers: list[Layer] = []
    discovery_errors: list[LayercfgError] = []
    first_pass = _first_pass(info, [*lower, *upper]) if discovery and "discovery" in info.fields else {}
    if first_pass.get("discovery", "off") != "off":  # imported only when on: explain stays cheap
        from ._discovery import discovery_settings, run_discovery

        discovery_conf = discovery_settings(first_pass, info)
        if discovery_conf is not None:
            discovery_layers, report, discovery_errors = run_discovery(discovery_conf, settings, environ, env_files)
            warnings += report.notes
    layers = [*lower, *discovery_layers, *upper]

    resolver = _Resolver(info, merge(layers, info))
    resolved = resolver.run()
    fields = {name: resolved[name].trace for name in info.fields}  # schema order
    fallback_report = None
    mode = fallback or (fields["fallback"].value if "fallback" in fields else "off")
    if not resolver.errors and mode != "off":
        from ._fallback import apply_fallback

        fallback_report = apply_fallback(info, fields, fallback)
        if fallback_report is not None:
            warnings.append(f"fallback ({fallback_report.mode}): {fallback_report.reason}")
    if report is not None:
        from ._discovery import port_conflicts

        winners = {name: (str(t.value), t.winner.origin) for name, t in fields.items() if t.value is not None}
        for name, warning in port_conflicts(report, winners).items():
            fields[name] = attrs.evolve(fields[name], warnings=(*fields[name].warnings, warning))
    errors = [*reader.errors, *discovery_errors, *resolver.errors]
    config = None
    if not errors:
        try:
            config = schema(**{name: fields[name].value for name in info.fields})
        except (TypeError, ValueError) as exc:
            errors.append(LayercfgError(f"{schema.__name__} rejected the resolved values: {exc}"))
    trace = Trace(
        schema=schema,
        profiles=tuple(item.name for item in profiles),
        project_dir=settings.project_dir,
        fields=fields,
        warnings=tuple(warnings),
        layers=tuple(layer.name for layer in layers),
        discovery=report,
        fallback=fallback_report,
    )
    return Resolution(config, trace, tuple(errors), settings, report, tuple(env_files))


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
    """
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
    _remember(resolution.config, resolution.trace)
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


def _remember(config: object, trace: Trace) -> None:
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
        from ._schema import suggest

        raise UnknownFieldError(field, suggest(field, trace.fields)) from None
