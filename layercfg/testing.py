"""Helpers for test suites: wait until a configured service is ready.

``wait_for_service(cfg, "backend")`` replaces the hand-written loops of the seeds that
either hung for minutes or gave up without saying where the URL came from: it probes the
service's URL the way the service speaks (HTTP health for HTTP services, the opening
handshake for WebSocket, PostgreSQL's and Redis' first exchange, a TCP connection that
stays open otherwise) within a deadline and, when the deadline passes, raises
:class:`layercfg.ServiceTimeoutError` naming the URL, how long it waited, the last probe
and the receipt of the URL. ``await wait_for_service_async(...)`` is the same for asyncio
tests: the probes run in a worker thread and the pauses are ``asyncio.sleep``.
"""

from __future__ import annotations

import contextvars
import sys
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from .exceptions import LayercfgError, ServiceTimeoutError

if TYPE_CHECKING:
    from ._model.fieldtable import SchemaInfo
    from ._resolve.probe import ProbeResult

__all__ = ["wait_for_service", "wait_for_service_async"]

# The time limit pytest-timeout puts on the running test, set by the pytest plugin around each test.
test_time_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("layercfg_test_time_limit", default=None)
# A progress line at most this often while waiting.
PROGRESS_EVERY = 5.0


def service_fields(schema: type, info: SchemaInfo | None = None) -> dict[str, str]:
    """``{service: URL field}`` for every declared service (main endpoints), schema order.

    ``info`` is a load's field table (services a profile declares included); without it,
    the schema's own declarations.
    """
    from ._model.fieldtable import schema_info

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
    from ._model.secrets import mask_text
    from ._views.render import secret_values

    try:
        secrets = secret_values(provenance(cfg))
    except LayercfgError:
        secrets = []
    return mask_text(text, secrets)


def _seconds(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class _Wait:
    """One wait for one service: what to probe, until when, and what to say."""

    def __init__(
        self,
        cfg: Any,
        service: str,
        timeout: float | None,
        interval: float,
        environ: Mapping[str, str] | None,
        progress: TextIO | bool,
    ) -> None:
        from ._model.schema import ENGINE_DEFAULTS
        from ._resolve.probe import readiness_request

        if cfg is None:
            from ._load import load_config

            cfg = load_config(environ=environ)
        self.cfg, self.service, self.interval = cfg, service, interval
        info = _table(cfg)
        self.field = service_field(type(cfg), service, info)
        self.url = field_value(cfg, self.field)
        self.source = url_origin(cfg, self.field)
        if timeout is None:
            timeout = _seconds(field_value(cfg, "docker_startup_timeout"), ENGINE_DEFAULTS.docker_startup_timeout)
        self.timeout = timeout
        if not self.url:
            raise ServiceTimeoutError(
                f"{service}: {self.field} is not set ({self.source}); nothing to wait for",
                service=service,
                url="",
                source=self.source,
            )
        self.budget = _seconds(field_value(cfg, "probe_timeout"), ENGINE_DEFAULTS.probe_timeout)
        health = field_value(cfg, "health_path") if info is not None and "health_path" in info.fields else None
        self.request = readiness_request(info, self.field, str(self.url), health)
        self.container = self._container()
        self.out: TextIO | None = (sys.stderr if progress is True else progress) or None
        self.start = time.monotonic()
        self.deadline = self.start + max(timeout, 0.0)
        self.attempts = 0
        self.next_progress = self.start + PROGRESS_EVERY
        self.result: ProbeResult | None = None
        self._warn_about_test_limit()

    def _container(self) -> str | None:
        """The container discovery found the URL on, whose Docker health check also counts."""
        from ._load import provenance

        try:
            origin = provenance(self.cfg).fields[self.field].winner.origin
        except (LayercfgError, KeyError):
            return None
        return origin.container

    def judged(self, result: ProbeResult) -> ProbeResult:
        """``result``, unless the service's container reports a health check that has not passed."""
        if not result.ok or self.container is None:
            return result
        import attrs

        from ._sources.containers import container_health

        status = container_health(self.container, budget=self.budget)
        if status in (None, "healthy"):
            return result
        detail = f"container {self.container} reports health {status!r} (Docker's health check)"
        return attrs.evolve(result, ok=False, outcome="container-health", detail=detail)

    def _warn_about_test_limit(self) -> None:
        limit = test_time_limit.get()
        if limit is None or limit <= 0 or limit >= self.timeout:
            return
        message = (
            f"layercfg: pytest-timeout stops this test after {limit:g} s, before wait_for_service's "
            f"{self.timeout:g} s for {self.service} (docker_startup_timeout): a slow start will end as a "
            f"pytest-timeout failure; raise the test's timeout or pass timeout= below {limit:g} s"
        )
        warnings.warn(message, stacklevel=4)
        if self.out is not None:
            print(message, file=self.out, flush=True)

    def probe_budget(self) -> float:
        # The first probe always runs, even with timeout=0: "is it up right now?" is a fair question.
        self.attempts += 1
        return max(min(self.budget, self.deadline - time.monotonic()), 0.05)

    def pause(self, result: ProbeResult) -> float | None:
        """Seconds to sleep before the next probe, or None when the deadline has passed."""
        self.result = result
        now = time.monotonic()
        if self.out is not None and now >= self.next_progress:
            print(
                f"layercfg: waiting for {self.service}: {_masked(self.cfg, result.describe())} "
                f"({now - self.start:.0f} s of {self.timeout:g} s)",
                file=self.out,
                flush=True,
            )
            self.next_progress = now + PROGRESS_EVERY
        pause = min(self.interval, self.deadline - now)
        return pause if pause > 0 else None

    def failure(self) -> ServiceTimeoutError:
        assert self.result is not None
        waited = time.monotonic() - self.start
        tries = "1 probe" if self.attempts == 1 else f"{self.attempts} probes"
        message = (
            f"{self.service} at {self.url} was not ready after waiting {waited:.1f} s (timeout {self.timeout:g} s, "
            f"{tries}); last probe: {self.result.describe()}; {self.field} set by {self.source} — "
            f"run `layercfg explain {self.field}`"
        )
        message, shown = _masked(self.cfg, message), _masked(self.cfg, str(self.url))
        return ServiceTimeoutError(message, service=self.service, url=shown, source=self.source)


def wait_for_service(
    cfg: Any = None,
    service: str = "backend",
    *,
    timeout: float | None = None,
    interval: float = 0.2,
    environ: Mapping[str, str] | None = None,
    progress: TextIO | bool = True,
) -> ProbeResult:
    """Probe ``service`` until it is ready; return the probe's result.

    Ready is decided at the protocol level (HTTP health, WebSocket handshake, PostgreSQL and
    Redis greetings; a TCP connection that stays open where nothing better exists, which the
    result says): Docker's proxy accepts connections on a published port before the service
    inside listens, and that is not ready. When discovery found the URL on a container with a
    Docker health check, that check must also report ``healthy``.

    ``cfg`` is a loaded config (None: ``layercfg.load_config(environ=environ)``; ``environ``
    is used only then). ``timeout`` defaults to ``cfg.docker_startup_timeout``; each probe
    gets ``cfg.probe_timeout`` at most, and never more than the time left. While it waits it
    writes a progress line every few seconds to stderr (``progress``: a stream, or False).
    Under pytest-timeout, it warns before waiting when the test's limit is shorter than the
    wait. Raises :class:`layercfg.ServiceTimeoutError` when the deadline passes, and
    :class:`layercfg.LayercfgError` for a service the schema does not name.
    """
    from ._resolve.probe import probe

    wait = _Wait(cfg, service, timeout, interval, environ, progress)
    while True:
        result = wait.judged(probe(wait.request, budget=wait.probe_budget()))
        if result.ok:
            return result
        pause = wait.pause(result)
        if pause is None:
            raise wait.failure()
        time.sleep(pause)


async def wait_for_service_async(
    cfg: Any = None,
    service: str = "backend",
    *,
    timeout: float | None = None,
    interval: float = 0.2,
    environ: Mapping[str, str] | None = None,
    progress: TextIO | bool = True,
) -> ProbeResult:
    """The awaitable twin of :func:`wait_for_service` (same arguments, same result and errors).

    Each probe runs in a worker thread (``asyncio.to_thread``) and the pauses are
    ``asyncio.sleep``, so the event loop (a WebSocket test's client, a server under test)
    keeps running while it waits.
    """
    import asyncio

    from ._resolve.probe import probe

    wait = _Wait(cfg, service, timeout, interval, environ, progress)
    while True:
        result = await asyncio.to_thread(lambda: wait.judged(probe(wait.request, budget=wait.probe_budget())))
        if result.ok:
            return result
        pause = wait.pause(result)
        if pause is None:
            raise wait.failure()
        await asyncio.sleep(pause)
