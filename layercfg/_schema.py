"""Per-field layercfg data on attrs fields, and the field table a load works from.

A schema is any attrs class. Its fields may carry layercfg data under one metadata
key (``metadata={"layercfg": Setting(...)}``, written for you by :func:`setting`):
canonical env name, legacy aliases, secret flag, help text, unit, URL schemes,
and a derivation. Fields without it still load, with the canonical name only.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import attrs

from ._secrets import SECRET_MASK, looks_secret, mask_url_passwords

if typing.TYPE_CHECKING:
    from ._services import EndpointModel, ServiceModel

METADATA_KEY = "layercfg"


class Derivation(NamedTuple):
    """How a field is computed from others when no layer above its inputs sets it.

    ``compute`` receives the converted input values in ``inputs`` order and returns
    the raw value (or None when it cannot be derived).
    """

    inputs: tuple[str, ...]
    compute: Callable[..., object]


class Setting(NamedTuple):
    """layercfg's data for one field (stored under ``metadata["layercfg"]``)."""

    env: str | None = None  # canonical name; None = prefix + FIELD_NAME
    aliases: tuple[str, ...] = ()  # legacy names, lowest precedence first
    secret: bool = False
    help: str = ""
    unit: str | None = None  # "seconds", "count", ...
    schemes: tuple[str, ...] = ()  # accepted URL schemes; empty = not a URL
    minimum: float | None = None
    derive: Derivation | None = None
    port_aliases: tuple[str, ...] = ()  # legacy names holding only a host port: http://localhost:PORT
    service: Service | None = None  # the service endpoint whose URL this field holds (discovery, probes)
    staging: str | None = None  # the field holding this endpoint's staging counterpart (fallback)
    switches: tuple[tuple[str, str], ...] = ()  # legacy boolean variables: (NAME, value meant when true)


def setting(
    default: Any = attrs.NOTHING,
    *,
    env: str | None = None,
    aliases: Sequence[str] = (),
    secret: bool = False,
    help: str = "",
    unit: str | None = None,
    schemes: Sequence[str] = (),
    minimum: float | None = None,
    derive: Derivation | None = None,
    port_aliases: Sequence[str] = (),
    service: str | Service | None = None,
    staging: str | None = None,
    switches: Sequence[tuple[str, str]] = (),
    factory: Callable[[], Any] | None = None,
) -> Any:
    """An ``attrs.field`` carrying layercfg metadata.

    Secret fields print as ``<secret>`` in the attrs repr as well as in every
    layercfg output; so does the password inside any URL a field holds. ``service``
    declares the service endpoint whose URL this field holds: a name (``"api"``) or a
    :class:`Service` with the names it runs under, its container port and the fields of
    its parts (see docs/services.md).
    """
    if isinstance(service, str):
        service = Service(service)
    data = Setting(
        env=env,
        aliases=tuple(aliases),
        secret=secret,
        help=help,
        unit=unit,
        schemes=tuple(schemes),
        minimum=minimum,
        derive=derive,
        port_aliases=tuple(port_aliases),
        service=service,
        staging=staging,
        switches=tuple(switches),
    )
    repr_: Callable[[Any], str] = _secret_repr if secret else _masked_repr
    if factory is not None:
        return attrs.field(factory=factory, metadata={METADATA_KEY: data}, repr=repr_)
    return attrs.field(default=default, metadata={METADATA_KEY: data}, repr=repr_)


def _secret_repr(_value: object) -> str:
    return SECRET_MASK


def _masked_repr(value: object) -> str:
    return mask_url_passwords(repr(value))


PARTS = ("host", "port", "user", "password", "database")


@attrs.frozen
class Service:
    """A service endpoint, declared on the field that holds its URL (``setting(service=...)``).

    ``name`` is the logical service (``"postgres"``); ``endpoint`` names a second port of the
    same service (``"native"`` for ClickHouse's native protocol), empty for the main one. The
    main endpoint carries what belongs to the whole service: the ``names`` it may run under
    (compose service, container name or network alias, preferred first), the fields holding
    its ``user``/``password``/``database``, the compose ``environment:`` variables that
    declare those (``credentials_env``) and how it is probed. ``host`` and ``port`` name the
    fields holding this endpoint's parts. ``scheme`` defaults to the field's first scheme and
    ``probe`` to ``http`` for HTTP URLs, ``websocket`` for ws URLs and ``tcp`` otherwise.
    """

    name: str
    endpoint: str = ""
    names: tuple[str, ...] = ()
    container_port: int | None = None
    scheme: str | None = None
    host: str | None = None
    port: str | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    credentials_env: tuple[tuple[str, str], ...] = ()  # (part, compose environment variable)
    probe: str | None = None  # "http" | "tcp" | "websocket"
    health_path: str | None = None


class FieldSpec(NamedTuple):
    """Everything a load needs to know about one field, resolved once per schema."""

    name: str
    type: Any
    default: Any  # attrs.NOTHING when required
    env: str  # canonical environment name
    aliases: tuple[str, ...]
    secret: bool
    help: str
    unit: str | None
    schemes: tuple[str, ...]
    minimum: float | None
    derive: Derivation | None
    port_aliases: tuple[str, ...] = ()
    service: Service | None = None
    staging: str | None = None
    switches: tuple[tuple[str, str], ...] = ()
    attribute: bool = True  # an attrs field of the schema (False: an engine or service setting of the load)
    part_of: str | None = None  # the URL field this field is a part (host, port, ...) of
    part: str | None = None  # which part of it: "host", "port", "user", "password" or "database"

    @property
    def switch_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.switches)

    @property
    def names(self) -> tuple[str, ...]:
        """Every environment name, lowest precedence first (switches, port variables, aliases, canonical)."""
        return (*self.switch_names, *self.port_aliases, *self.aliases, self.env)


class SchemaInfo(NamedTuple):
    """The field table of one load: the schema's fields, the engine's settings and the services.

    Fields with ``attribute=False`` are settings the engine needs (discovery, fallback, a
    service's names and container ports) that the schema does not declare: they resolve and
    have receipts like any field, but are not attributes of the config object.
    """

    schema: type
    prefix: str
    fields: Mapping[str, FieldSpec]
    by_env_name: Mapping[str, FieldSpec]  # canonical and alias names -> field
    services: Mapping[str, ServiceModel] = MappingProxyType({})

    def suggest(self, name: str) -> str | None:
        return suggest(name, self.fields)

    def service_of(self, field: str) -> tuple[ServiceModel, EndpointModel] | None:
        """The service and endpoint whose URL ``field`` holds, if any."""
        for service in self.services.values():
            for endpoint in service.endpoints:
                if endpoint.url_field == field:
                    return service, endpoint
        return None

    @property
    def attributes(self) -> tuple[str, ...]:
        """The names of the schema's own attrs fields (what the config object is built from)."""
        return tuple(name for name, spec in self.fields.items() if spec.attribute)


def _spec_of(field: Any, hints: Mapping[str, Any], prefix: str, attribute: bool) -> FieldSpec:
    data = field.metadata.get(METADATA_KEY) or Setting()
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    return FieldSpec(
        name=field.name,
        type=hints.get(field.name, field.type),
        default=default,
        env=data.env or f"{prefix}{field.name.upper()}",
        aliases=data.aliases,
        secret=data.secret or looks_secret(field.name),
        help=data.help,
        unit=data.unit,
        schemes=data.schemes,
        minimum=data.minimum,
        derive=data.derive,
        port_aliases=data.port_aliases,
        service=data.service,
        staging=data.staging,
        switches=data.switches,
        attribute=attribute,
    )


def _attrs_specs(cls: type, prefix: str, attribute: bool) -> dict[str, FieldSpec]:
    if not attrs.has(cls):
        raise TypeError(f"{cls!r} is not an attrs class")
    hints = typing.get_type_hints(cls)
    return {field.name: _spec_of(field, hints, prefix, attribute) for field in attrs.fields(cls)}


def _mask_repr(schema: type, specs: Mapping[str, FieldSpec]) -> None:
    """Give ``schema`` a repr that masks its secret fields, when attrs' own would print them.

    ``setting(secret=True)`` masks through the field's own repr, but a field that is secret only
    by its name (``api_token``, ``db_password``), or a plain ``attrs.field``, would print its
    value; secrets never print, whatever the schema, so such a class gets this repr instead.
    """
    fields = attrs.fields(schema)
    leaky = [f for f in fields if specs[f.name].secret and f.repr is not _secret_repr and f.repr is not False]
    if not leaky or getattr(schema.__repr__, "_layercfg_masked", False):
        return
    secret = {f.name for f in leaky}

    def __repr__(self: object) -> str:
        parts = []
        for field in fields:
            if field.repr is False:
                continue
            value = getattr(self, field.name)
            shown = SECRET_MASK if field.name in secret and value is not None else mask_url_passwords(repr(value))
            parts.append(f"{field.name}={shown}")
        return f"{type(self).__qualname__}({', '.join(parts)})"

    __repr__._layercfg_masked = True  # type: ignore[attr-defined]
    schema.__repr__ = __repr__  # type: ignore[method-assign, assignment]


T = TypeVar("T")


@functools.cache
def _init_plan(schema: type[Any]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """How to call an attrs schema's ``__init__``: its positional fields in order, and its keyword-only
    ``(field, parameter)`` pairs; None for a class that is not attrs (keywords then)."""
    if not attrs.has(schema):
        return None
    positional: list[str] = []
    keywords: list[tuple[str, str]] = []
    for field in attrs.fields(schema):
        if not field.init:
            continue
        if field.kw_only:  # after the `*` of __init__, wherever the class declares it
            keywords.append((field.name, getattr(field, "alias", None) or field.name.lstrip("_")))
        else:
            positional.append(field.name)
    return tuple(positional), tuple(keywords)


def construct(schema: type[T], values: Mapping[str, object]) -> T:
    """``schema(**values)``, with the fields an attrs ``__init__`` takes positionally passed that way.

    CPython matches each keyword argument against the parameter names one by one, so binding N
    keywords costs N*N/2 comparisons: 7 ms of a 1000-field load, as much as the rest of the load.
    Positional binding is linear.
    """
    plan = _init_plan(schema)  # type: ignore[arg-type]  # classes are hashable
    if plan is None or not all(name in values for name in plan[0]) or len(values) != len(plan[0]) + len(plan[1]):
        return schema(**values)
    positional, keywords = plan
    return schema(*[values[name] for name in positional], **{alias: values[name] for name, alias in keywords})


@functools.cache
def schema_info(
    schema: type,
    prefix: str,
    extra_services: tuple[Service, ...] = (),
    legacy_names: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> SchemaInfo:
    """The field table of ``schema`` under ``prefix``, with services a profile declares; cached.

    The engine's own settings (:class:`EngineSettings`) join every schema that does not
    declare them itself, so discovery and fallback work for any schema. ``legacy_names``
    (a project's ``[tool.layercfg.legacy_names]``) replaces the legacy names of the fields
    it lists; a field it does not know raises :class:`UnknownFieldError`.
    """
    specs = _attrs_specs(schema, prefix, True)
    _mask_repr(schema, specs)
    for name, spec in _attrs_specs(EngineSettings, prefix, False).items():
        specs.setdefault(name, spec)
    for name, names in legacy_names:
        if name not in specs:
            from .exceptions import UnknownFieldError

            raise UnknownFieldError(name, suggest(name, specs))
        specs[name] = specs[name]._replace(aliases=tuple(n for n in names if n != specs[name].env))
    from ._services import service_models

    services = service_models(schema.__name__, specs, prefix, extra_services)
    for spec in specs.values():
        if spec.staging and spec.staging not in specs:
            raise TypeError(f"{schema.__name__}.{spec.name} names unknown staging field {spec.staging!r}")
        if spec.derive:
            missing = [name for name in spec.derive.inputs if name not in specs]
            if missing:
                raise TypeError(f"{schema.__name__}.{spec.name} derives from unknown field(s) {missing}")
    by_env: dict[str, FieldSpec] = {}
    for spec in specs.values():
        for name in spec.names:
            by_env[name] = spec
    return SchemaInfo(schema=schema, prefix=prefix, fields=specs, by_env_name=by_env, services=services)


def suggest(name: str, choices: typing.Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``name``, if any is close."""
    import difflib

    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@attrs.frozen
class EngineSettings:
    """What discovery, fallback and probes need; every load has these, whatever its schema.

    A schema that declares a field of the same name (as :class:`layercfg.TestEnvConfig`
    does) replaces the one here, and then it is also an attribute of the config.
    """

    discovery: typing.Literal["off", "auto", "required"] = setting(
        "off",
        help="off: no Docker or compose lookups; auto: use what is found, note what is not; "
        "required: fail the load when a service's endpoint cannot be discovered.",
    )
    docker_timeout: float = setting(
        2.0, aliases=("DOCKER_TIMEOUT",), unit="seconds", minimum=0, help="Budget for all Docker engine calls."
    )
    compose_files: tuple[str, ...] = setting(
        (), help="Compose files to read declared ports from (relative to the project; searched in . and docker/)."
    )
    compose_project_directory: str | None = setting(
        None, help="Compose project directory (default: the directory of the first compose file)."
    )
    compose_project: str | None = setting(
        None, aliases=("COMPOSE_PROJECT_NAME",), help="Only containers of this compose project."
    )
    fallback: typing.Literal["off", "auto", "force"] = setting(
        "off", help="off: never use staging; auto: use staging when the primary service fails its probe; force: always."
    )
    probe_timeout: float = setting(
        1.0, unit="seconds", minimum=0, help="Budget of one reachability probe (fallback, doctor, pytest marker)."
    )
    health_path: str = setting("/health", help="Path probed with HTTP GET to decide whether an HTTP service is up.")
    docker_startup_timeout: float = setting(
        120.0, unit="seconds", minimum=0, help="How long to wait for a service to become reachable."
    )
    lifecycle: typing.Literal["off", "reuse", "start", "start-and-stop"] = setting(
        "off",
        help="What `layercfg up` (and the pytest plugin) do with the compose stack: off: only find it; "
        "reuse: use what runs, start nothing; start: also start what is missing (docker compose up -d --wait); "
        "start-and-stop: also stop, at the end, what this run started (docs/lifecycle.md).",
    )
    lifecycle_services: tuple[str, ...] = setting(
        (),
        help="Services to bring up (logical or compose service names); empty: every service of the load "
        "that the compose files declare.",
    )
