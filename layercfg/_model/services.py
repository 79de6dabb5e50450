"""The service model of one load: which fields hold each service's URL and parts, and its settings.

A service is declared on the field holding its URL (``setting(service=Service(...))``) or by a
profile (``[services.NAME]``); here those declarations become :class:`ServiceModel` records
and the settings every service has (``NAME.names``, ``NAME.container_port``) join the load's
field table, so they resolve through the layers and have receipts like any field.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .schema import FieldSpec, Service


@attrs.frozen
class EndpointModel:
    """One port of a service as a load sees it: which fields hold its URL and parts."""

    service: str
    endpoint: str  # "" for the main endpoint
    url_field: str
    scheme: str
    container_port_setting: str  # the field-table name of its container-port setting
    host_field: str | None = None
    port_field: str | None = None

    @property
    def label(self) -> str:
        return f"{self.service}.{self.endpoint}" if self.endpoint else self.service


@attrs.frozen
class ServiceModel:
    """A service of the stack as a load sees it (declared by the schema or a profile)."""

    name: str
    names_setting: str  # the field-table name of its ``names`` setting
    endpoints: tuple[EndpointModel, ...]  # main endpoint first
    user_field: str | None = None
    password_field: str | None = None
    database_field: str | None = None
    credentials_env: tuple[tuple[str, str], ...] = ()
    probe: str = "tcp"
    health_path: str | None = None

    @property
    def main(self) -> EndpointModel:
        return self.endpoints[0]

    def part_fields(self, endpoint: EndpointModel) -> dict[str, str]:
        """part -> field for one endpoint (credentials belong to every endpoint of the service)."""
        parts = {
            "host": endpoint.host_field,
            "port": endpoint.port_field,
            "user": self.user_field,
            "password": self.password_field,
            "database": self.database_field,
        }
        return {part: field for part, field in parts.items() if field}


_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "postgresql": 5432,
    "postgres": 5432,
    "redis": 6379,
    "rediss": 6379,
    "clickhouse": 9000,
    "mysql": 3306,
    "mongodb": 27017,
}


def default_port(scheme: str) -> int | None:
    """The port a URL of ``scheme`` connects to when it names none."""
    return _DEFAULT_PORTS.get(scheme)


def service_models(
    schema_name: str, specs: dict[str, FieldSpec], prefix: str, extra: tuple[Service, ...]
) -> dict[str, ServiceModel]:
    """Collect service declarations (schema fields, then profiles) and add their settings to ``specs``."""
    declared: dict[tuple[str, str], tuple[Service, str | None]] = {}  # (service, endpoint) -> (decl, url field)
    for spec in list(specs.values()):
        if spec.service is not None:
            declared[(spec.service.name, spec.service.endpoint)] = (spec.service, spec.name)
    for decl in extra:  # a profile's declaration refines the schema's, key by key
        key = (decl.name, decl.endpoint)
        if key in declared:
            base, field = declared[key]
            changes = {
                a.name: getattr(decl, a.name)
                for a in attrs.fields(Service)
                if a.name not in ("name", "endpoint") and getattr(decl, a.name) not in (None, ())
            }
            declared[key] = (attrs.evolve(base, **changes), field)
        else:
            declared[key] = (decl, None)
    models: dict[str, ServiceModel] = {}
    by_service: dict[str, list[tuple[Service, str | None]]] = {}
    for (name, _), pair in declared.items():
        by_service.setdefault(name, []).append(pair)
    for name, pairs in by_service.items():
        pairs.sort(key=lambda pair: pair[0].endpoint != "")
        main = pairs[0][0]
        if main.endpoint:
            raise TypeError(f"{schema_name}: service {name!r} declares endpoint {main.endpoint!r} but no main endpoint")
        endpoints = []
        for decl, url_field in pairs:
            endpoints.append(_endpoint_model(decl, url_field, specs, prefix))
        fields = {part: getattr(main, part) for part in ("user", "password", "database")}
        if pairs[0][1] is None:  # declared by a profile only: its parts get fields of their own
            for part in fields:
                if any(p == part for p, _ in main.credentials_env):
                    fields[part] = _generated(
                        specs, f"{name}_{part}", str | None, None, prefix, secret=part == "password"
                    )
        names_setting = f"{name}.names"
        _generated(
            specs,
            names_setting,
            tuple[str, ...],
            main.names or (name,),
            prefix,
            env=f"{prefix}{_env_part(name)}_SERVICE_NAMES",
            help=f"Compose services, container names or network aliases of {name}, preferred first.",
        )
        for part, field in fields.items():
            if field is not None and field in specs:
                specs[field] = specs[field]._replace(part_of=endpoints[0].url_field, part=part)
        scheme = endpoints[0].scheme
        probe = main.probe or (
            "http" if scheme in ("http", "https") else "websocket" if scheme in ("ws", "wss") else "tcp"
        )
        models[name] = ServiceModel(
            name=name,
            names_setting=names_setting,
            endpoints=tuple(endpoints),
            user_field=fields["user"],
            password_field=fields["password"],
            database_field=fields["database"],
            credentials_env=main.credentials_env,
            probe=probe,
            health_path=main.health_path,
        )
    return models


def _env_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _generated(
    specs: dict[str, FieldSpec],
    name: str,
    tp: Any,
    default: Any,
    prefix: str,
    *,
    secret: bool = False,
    schemes: tuple[str, ...] = (),
    minimum: float | None = None,
    service: Service | None = None,
    help: str = "",
    env: str | None = None,
) -> str:
    """Add a field of the load (not an attribute of the config) unless the schema has it; return its name."""
    if name not in specs:
        specs[name] = FieldSpec(
            name=name,
            type=tp,
            default=default,
            env=env or f"{prefix}{_env_part(name)}",
            aliases=(),
            secret=secret,
            help=help,
            unit=None,
            schemes=schemes,
            minimum=minimum,
            derive=None,
            service=service,
            attribute=False,
        )
    return name


def _endpoint_model(decl: Service, url_field: str | None, specs: dict[str, FieldSpec], prefix: str) -> EndpointModel:
    label = f"{decl.name}_{decl.endpoint}" if decl.endpoint else decl.name
    if url_field is None:  # a profile's service: its URL, host and port become fields of the load
        scheme = decl.scheme or "http"
        url_field = _generated(
            specs,
            f"{label}_url",
            str | None,
            None,
            prefix,
            schemes=(scheme,),
            service=decl,
            help=f"URL of {label} (declared by a profile).",
        )
        host: str | None = decl.host or (
            _generated(specs, f"{label}_host", str | None, None, prefix) if not decl.endpoint else None
        )
        port: str | None = decl.port or _generated(specs, f"{label}_port", int | None, None, prefix, minimum=1)
        if decl.endpoint and host is None:
            host = f"{decl.name}_host" if f"{decl.name}_host" in specs else None
    else:
        spec = specs[url_field]
        scheme = decl.scheme or (spec.schemes[0] if spec.schemes else "http")
        host, port = decl.host, decl.port
    for part, field in (("host", host), ("port", port)):
        if field is not None:
            if field not in specs:
                raise TypeError(f"service {decl.name!r}: {part} field {field!r} is not a field")
            specs[field] = specs[field]._replace(part_of=url_field, part=part)
    container_port = decl.container_port or default_port(scheme)
    setting_name = f"{decl.name}.{decl.endpoint}.container_port" if decl.endpoint else f"{decl.name}.container_port"
    _generated(
        specs,
        setting_name,
        int | None,
        container_port,
        prefix,
        minimum=1,
        env=f"{prefix}{_env_part(label)}_CONTAINER_PORT",
        help=f"The port {label} listens on inside its container.",
    )
    return EndpointModel(decl.name, decl.endpoint, url_field, scheme, setting_name, host, port)
