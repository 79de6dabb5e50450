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

import attrs

from .exceptions import LayercfgError, ServiceTimeoutError

if TYPE_CHECKING:
    from ._probe import ProbeResult

__all__ = ["wait_for_service"]

# A schema without probe_timeout / docker_startup_timeout fields still works with these.
_DEFAULT_PROBE_BUDGET = 1.0
_DEFAULT_STARTUP_TIMEOUT = 120.0


def service_fields(schema: type) -> dict[str, str]:
    """``{service: field}`` for every field whose ``setting(service=...)`` names a service."""
    from ._schema import METADATA_KEY

    found: dict[str, str] = {}
    for field in attrs.fields(schema):
        data = field.metadata.get(METADATA_KEY)
        service = getattr(data, "service", None)
        if service and service not in found:
            found[service] = field.name
    return found


def service_field(schema: type, service: str) -> str:
    """The URL field of ``service``; raises :class:`LayercfgError` listing the known services."""
    fields = service_fields(schema)
    try:
        return fields[service]
    except KeyError:
        known = ", ".join(sorted(fields)) or "(none: no field of the schema sets service=...)"
        raise LayercfgError(f"unknown service {service!r} (known: {known})") from None


def url_origin(cfg: object, field: str) -> str:
    """Where ``field`` of ``cfg`` came from, as one phrase, or ``unknown origin``."""
    from ._load import explain

    try:
        origin = explain(cfg, field).winner.origin
    except LayercfgError:  # a config built by hand, or by another process without its receipt
        return "unknown origin"
    return f"{origin.layer.label}: {origin}"


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
    field = service_field(type(cfg), service)
    url = getattr(cfg, field)
    source = url_origin(cfg, field)
    if timeout is None:
        timeout = float(getattr(cfg, "docker_startup_timeout", _DEFAULT_STARTUP_TIMEOUT))
    if not url:
        raise ServiceTimeoutError(
            f"{service}: {field} is not set ({source}); nothing to wait for", service=service, url="", source=source
        )
    budget = float(getattr(cfg, "probe_timeout", _DEFAULT_PROBE_BUDGET))
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
    raise ServiceTimeoutError(message, service=service, url=str(url), source=source)
