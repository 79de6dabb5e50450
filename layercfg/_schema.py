"""Per-field layercfg data on attrs fields, and the field table a load works from.

A schema is any attrs class. Its fields may carry layercfg data under one metadata
key (``metadata={"layercfg": Setting(...)}``, written for you by :func:`setting`):
canonical env name, legacy aliases, secret flag, help text, unit, URL schemes,
and a derivation. Fields without it still load, with the canonical name only.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

METADATA_KEY = "layercfg"
SECRET_MASK = "<secret>"

# Names that look secret are masked even when the schema did not say so (DESIGN.md).
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY$|PASSWD|CREDENTIAL", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """True for names like ``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*`` and ``*_KEY``."""
    return bool(_SECRET_NAME.search(name))


@attrs.frozen
class Derivation:
    """How a field is computed from others when no layer above its inputs sets it.

    ``compute`` receives the converted input values in ``inputs`` order and returns
    the raw value (or None when it cannot be derived).
    """

    inputs: tuple[str, ...]
    compute: Callable[..., object]
    describe: str = ""


@attrs.frozen
class Setting:
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
    service: str | None = None  # the logical service (discovery) whose published port this URL follows
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
    service: str | None = None,
    staging: str | None = None,
    switches: Sequence[tuple[str, str]] = (),
    factory: Callable[[], Any] | None = None,
) -> Any:
    """An ``attrs.field`` carrying layercfg metadata.

    Secret fields print as ``<secret>`` in the attrs repr as well as in every
    layercfg output.
    """
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
    repr_: bool | Callable[[Any], str] = (lambda _value: SECRET_MASK) if secret else True
    if factory is not None:
        return attrs.field(factory=factory, metadata={METADATA_KEY: data}, repr=repr_)
    return attrs.field(default=default, metadata={METADATA_KEY: data}, repr=repr_)


@attrs.frozen
class FieldSpec:
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
    service: str | None = None
    staging: str | None = None
    switches: tuple[tuple[str, str], ...] = ()

    @property
    def switch_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.switches)

    @property
    def names(self) -> tuple[str, ...]:
        """Every environment name, lowest precedence first (switches, port variables, aliases, canonical)."""
        return (*self.switch_names, *self.port_aliases, *self.aliases, self.env)


@attrs.frozen
class SchemaInfo:
    """The field table of one schema under one env prefix."""

    schema: type
    prefix: str
    fields: Mapping[str, FieldSpec]
    by_env_name: Mapping[str, FieldSpec]  # canonical and alias names -> field

    def suggest(self, name: str) -> str | None:
        return suggest(name, self.fields)


@functools.cache
def schema_info(schema: type, prefix: str) -> SchemaInfo:
    """Resolve a schema's fields (types, env names) once; cached per (schema, prefix)."""
    if not attrs.has(schema):
        raise TypeError(f"{schema!r} is not an attrs class")
    hints = typing.get_type_hints(schema)
    specs: dict[str, FieldSpec] = {}
    by_env: dict[str, FieldSpec] = {}
    for field in attrs.fields(schema):
        data = field.metadata.get(METADATA_KEY) or Setting()
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        spec = FieldSpec(
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
        )
        specs[field.name] = spec
        for name in spec.names:
            by_env[name] = spec
    for spec in specs.values():
        if spec.staging and spec.staging not in specs:
            raise TypeError(f"{schema.__name__}.{spec.name} names unknown staging field {spec.staging!r}")
        if spec.derive:
            missing = [name for name in spec.derive.inputs if name not in specs]
            if missing:
                raise TypeError(f"{schema.__name__}.{spec.name} derives from unknown field(s) {missing}")
    return SchemaInfo(schema=schema, prefix=prefix, fields=specs, by_env_name=by_env)


def suggest(name: str, choices: typing.Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``name``, if any is close."""
    import difflib

    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None
