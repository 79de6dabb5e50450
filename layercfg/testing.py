"""Helpers for test suites: wait until a configured service answers.

``wait_for_service(cfg, "backend")`` replaces the hand-written loops of the seeds that
either hung for minutes or gave up without saying where the URL came from: it polls a TCP
connect to the service's URL field within a deadline and, when the deadline passes, raises
:class:`layercfg.ServiceTimeoutError` naming the URL, how long it waited, the last probe
and the receipt of the URL.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import LayercfgError, ServiceTimeoutError

if TYPE_CHECKING:
    from ._probe import ProbeResult
    from ._schema import SchemaInfo

__all__ = ["wait_for_service"]

# A schema without probe_timeout / docker_startup_timeout fields still works with these.
_DEFAULT_PROBE_BUDGET = 1.0
_DEFAULT_STARTUP_TIMEOUT = 120.0


def service_fields(schema: type, info: SchemaInfo | None = None) -> dict[str, str]:
    """``{service: URL field}`` for every declared service (main endpoints), schema order.

    ``info`` is a load's field table (services a profile declares included); without it,
    the schema's own declarations.
    """
    from ._schema import schema_info

    table = info if info is not None else schema_info(schema, "")
    return {name: service.main.url_field for name, service in table.services.items()}


def service_field(schema: type, service: str, info: SchemaInfo | None = None) -> str:
    """The URL field of ``service``; raises :class:`LayercfgError` listing the known services."""
    fields = service_fields(schema, info)
    try:
        return fields[service]
    except KeyError:
        known = ", ".join(sorted(fields)) or "(none: no field of the schema sets service=...)"
        raise LayercfgError(f"unknown service {service!r} (known: {known})") from None


def _table(cfg: object) -> SchemaInfo | None:
    """The field table of a loaded config's receipt (None for a config built by hand)."""
    from ._load import provenance

    try:
        return provenance(cfg).info
    except LayercfgError:
        return None


def field_value(cfg: object, field: str) -> object:
    """A field's value: the attribute, or (for a service a profile declares) the receipt's value."""
    if hasattr(cfg, field):
        return getattr(cfg, field)
    from ._load import provenance

    try:
        return provenance(cfg).fields[field].value
    except (LayercfgError, KeyError):
        return None


def url_origin(cfg: object, field: str) -> str:
    """Where ``field`` of ``cfg`` came from, as one phrase, or ``unknown origin``."""
    from ._load import explain

    try:
        origin = explain(cfg, field).winner.origin
    except LayercfgError:  # a config built by hand, or by another process without its receipt
        return "unknown origin"
    return f"{origin.layer.label}: {origin}"


def _masked(cfg: object, text: str) -> str:
    """``text`` with the config's secrets and every URL's password masked."""
    from ._load import provenance
    from ._render import mask_text, secret_values

    try:
        secrets = secret_values(provenance(cfg))
    except LayercfgError:
        secrets = []
    return mask_text(text, secrets)


def _seconds(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def wait_for_service(
    cfg: Any = None,
    service: str = "backend",
    *,
    timeout: float | None = None,
    interval: float = 0.2,
    environ: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Poll a TCP connect to ``service``'s URL until it is accepted; return that probe's result.

    ``cfg`` is a loaded config (None: ``layercfg.load_config(environ=environ)``; ``environ``
    is used only then). ``timeout`` defaults to ``cfg.docker_startup_timeout``; each probe
    gets ``cfg.probe_timeout`` at most, and never more than the time left. Raises
    :class:`layercfg.ServiceTimeoutError` when the deadline passes, and
    :class:`layercfg.LayercfgError` for a service the schema does not name.
    """
    from ._probe import ProbeRequest, probe

    if cfg is None:
        from ._load import load_config

        cfg = load_config(environ=environ)
    field = service_field(type(cfg), service, _table(cfg))
    url = field_value(cfg, field)
    source = url_origin(cfg, field)
    if timeout is None:
        timeout = _seconds(field_value(cfg, "docker_startup_timeout"), _DEFAULT_STARTUP_TIMEOUT)
    if not url:
        raise ServiceTimeoutError(
            f"{service}: {field} is not set ({source}); nothing to wait for", service=service, url="", source=source
        )
    budget = _seconds(field_value(cfg, "probe_timeout"), _DEFAULT_PROBE_BUDGET)
    request = ProbeRequest(str(url), kind="tcp")
    start = time.monotonic()
    deadline = start + max(timeout, 0.0)
    attempts = 0
    while True:
        attempts += 1
        remaining = deadline - time.monotonic()
        # The first probe always runs, even with timeout=0: "is it up right now?" is a fair question.
        result = probe(request, budget=max(min(budget, remaining), 0.05))
        if result.ok:
            return result
        pause = min(interval, deadline - time.monotonic())
        if pause <= 0:
            break
        time.sleep(pause)
    waited = time.monotonic() - start
    tries = "1 probe" if attempts == 1 else f"{attempts} probes"
    message = (
        f"{service} at {url} was not reachable after waiting {waited:.1f} s (timeout {timeout:g} s, {tries}); "
        f"last probe: {result.describe()}; {field} set by {source} — run `layercfg explain {field}`"
    )
    message, shown = _masked(cfg, message), _masked(cfg, str(url))
    raise ServiceTimeoutError(message, service=service, url=shown, source=source)
