"""Per-field layercfg data on attrs fields: what a schema author writes.

A schema is any attrs class. Its fields may carry layercfg data under one metadata
key (``metadata={"layercfg": Setting(...)}``, written for you by :func:`setting`):
canonical env name, legacy aliases, secret flag, help text, unit, URL schemes,
and a derivation. Fields without it still load, with the canonical name only.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import attrs

from .secrets import SECRET_MASK, mask_url_passwords

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
    repr_: Callable[[Any], str] = secret_repr if secret else _masked_repr
    if factory is not None:
        return attrs.field(factory=factory, metadata={METADATA_KEY: data}, repr=repr_)
    return attrs.field(default=default, metadata={METADATA_KEY: data}, repr=repr_)


def secret_repr(_value: object) -> str:
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


def suggest(name: str, choices: typing.Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``name``, if any is close."""
    import difflib

    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


DiscoveryMode = typing.Literal["off", "auto", "required"]
FallbackMode = typing.Literal["off", "auto", "force"]
LifecycleMode = typing.Literal["off", "reuse", "start", "start-and-stop"]


@attrs.frozen
class EngineSettings:
    """What discovery, fallback, probes and the lifecycle need; every load has these, whatever its schema.

    This is their one declaration: default, unit, help and legacy names. A schema that wants one
    as an attribute of its config declares it with :func:`engine_setting` (as
    :class:`layercfg.TestEnvConfig` does), which copies it from here; otherwise the load adds it
    to the field table by itself, with a receipt like any field's.
    """

    discovery: DiscoveryMode = setting(
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
    fallback: FallbackMode = setting(
        "off",
        help="off: never use staging; auto: use staging when the primary service fails its probe; "
        "force: always staging.",
    )
    probe_timeout: float = setting(
        1.0, unit="seconds", minimum=0, help="Budget of one reachability probe (fallback, doctor, pytest marker)."
    )
    health_path: str = setting("/health", help="Path probed with HTTP GET to decide whether an HTTP service is up.")
    docker_startup_timeout: float = setting(
        120.0, unit="seconds", minimum=0, help="How long to wait for the Docker stack to become reachable."
    )
    lifecycle: LifecycleMode = setting(
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


# The engine settings' defaults, for code that reads a setting from a receipt that may lack it.
ENGINE_DEFAULTS = EngineSettings()


def engine_setting(name: str, *, aliases: Sequence[str] = (), switches: Sequence[tuple[str, str]] = ()) -> Any:
    """The engine setting ``name`` (:class:`EngineSettings`) as a field of another schema.

    The field has the setting's default, unit, help and legacy names, plus ``aliases`` (more
    legacy names, lowest precedence first) and ``switches``; declaring it makes it an attribute
    of the schema's config.
    """
    field = attrs.fields_dict(EngineSettings)[name]
    data: Setting = field.metadata[METADATA_KEY]
    data = data._replace(aliases=(*data.aliases, *aliases), switches=(*data.switches, *switches))
    return attrs.field(default=field.default, metadata={METADATA_KEY: data}, repr=field.repr)
