"""The field table of one load: a schema's fields, the engine's settings and the services, as one table.

:func:`schema_info` reads a schema's attrs fields and their layercfg data (:mod:`layercfg._model.schema`),
adds the settings every load has (:class:`EngineSettings`) and the services the schema and the
active profiles declare (:mod:`layercfg._model.services`). It sits above both, so neither imports it.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import attrs

from ..exceptions import UnknownFieldError
from .schema import METADATA_KEY, EngineSettings, FieldSpec, Service, Setting, secret_repr, suggest
from .secrets import SECRET_MASK, looks_secret, mask_url_passwords
from .services import EndpointModel, ServiceModel, service_models


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
    leaky = [f for f in fields if specs[f.name].secret and f.repr is not secret_repr and f.repr is not False]
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
            raise UnknownFieldError(name, suggest(name, specs))
        specs[name] = specs[name]._replace(aliases=tuple(n for n in names if n != specs[name].env))
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
