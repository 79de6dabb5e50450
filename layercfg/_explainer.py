"""Why a connection failed: join a failing address to the receipt of the field it came from.

A consumer of the receipt, like the renderers: given an exception (or an address) and a resolved
config, it finds the connection-class error, the address the client tried, the field whose value
(or one of whose shadowed candidates) is that address, probes the address and every candidate now,
and writes a short section ending in one suggested fix when the evidence points to one.

Clients are recognised by the names of their exception classes, never by importing them: an
explanation must not import requests, httpx, aiohttp, websockets, psycopg or redis.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from ._model.schema import ENGINE_DEFAULTS
from .exceptions import walk_causes

if TYPE_CHECKING:
    from ._load import Trace
    from ._model.provenance import FieldTrace
    from ._resolve.probe import ProbeRequest, ProbeResult

__all__ = ["Address", "connection_failure", "explain_address", "explain_exception", "explain_failure"]

# Exception classes (by name, anywhere in the MRO) that mean "could not talk to the service".
_CONNECTION_CLASSES = frozenset(
    {
        "ConnectionError",  # builtins (refused, reset, aborted), requests, redis
        "TimeoutError",
        "gaierror",
        "SSLError",
        "URLError",  # urllib
        "NewConnectionError",  # urllib3
        "MaxRetryError",
        "ProtocolError",
        "RemoteDisconnected",
        "ConnectTimeout",  # requests, httpx
        "ReadTimeout",
        "ConnectError",  # httpx
        "RemoteProtocolError",
        "ClientConnectorError",  # aiohttp
        "ServerDisconnectedError",
        "ClientOSError",
        "InvalidStatus",  # websockets: handshake rejected
        "InvalidStatusCode",
        "InvalidHandshake",
        "InvalidMessage",
        "ConnectionClosedError",
        "OperationalError",  # psycopg / psycopg2: connection failed
    }
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443, "postgres": 5432, "postgresql": 5432, "redis": 6379}
_URL = re.compile(r"\b(?:https?|wss?|postgres(?:ql)?|rediss?)://[^\s'\"<>)\],]+")
_TUPLE = re.compile(r"\(\s*'([0-9a-fA-F.:]+|localhost)'\s*,\s*(\d{1,5})\s*[,)]")  # ('127.0.0.1', 8000)
_HOST_PORT = re.compile(r"host='([^']+)',\s*port=(\d{1,5})")  # urllib3: HTTPConnectionPool(host='x', port=1)
_BARE = re.compile(r"\b(localhost|127\.0\.0\.1|\[::1\]):(\d{1,5})\b")


@attrs.frozen
class Address:
    """Where a client tried to connect: host (loopback names folded to ``localhost``) and port."""

    host: str
    port: int
    url: str | None = None  # the URL, when the failure names one

    def __str__(self) -> str:
        return self.url or f"{self.host}:{self.port}"


def _fold(host: str) -> str:
    host = host.strip("[]").lower()
    return "localhost" if host in _LOCAL_HOSTS else host


def address_of_url(url: str) -> Address | None:
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return Address(_fold(parts.hostname), port, url)


def connection_failure(exc: BaseException) -> BaseException | None:
    """The connection-class exception in ``exc``'s chain (``exc`` itself first), if any."""
    for current in walk_causes(exc):
        if any(klass.__name__ in _CONNECTION_CLASSES for klass in type(current).__mro__):
            return current
    return None


def addresses_in(exc: BaseException) -> list[Address]:
    """Every address the failure names: attributes the common clients set, then its messages."""
    found: list[Address] = []

    def add(address: Address | None) -> None:
        if address is not None and all((a.host, a.port) != (address.host, address.port) for a in found):
            found.append(address)

    for current in walk_causes(exc):
        request = getattr(current, "request", None)
        url = getattr(request, "url", None)
        if url is not None:
            add(address_of_url(str(url)))
        host, port = getattr(current, "host", None), getattr(current, "port", None)
        if isinstance(host, str) and isinstance(port, int):
            add(Address(_fold(host), port))
        for text in (str(current), *(str(arg) for arg in getattr(current, "args", ()))):
            for match in _URL.finditer(text):
                add(address_of_url(match.group(0)))
            for pattern in (_TUPLE, _HOST_PORT, _BARE):
                for match in pattern.finditer(text):
                    add(Address(_fold(match.group(1)), int(match.group(2))))
    if not found:
        for address in _frame_addresses(exc):
            add(address)
    return found


def _frame_addresses(exc: BaseException) -> Iterator[Address]:
    """Addresses in the failing frames' locals, innermost first: ``socket.create_connection``'s
    ``address`` and a connection object's ``host``/``port`` (http.client, urllib3, most clients)."""
    for current in walk_causes(exc):
        frames = []
        tb = current.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        for frame in reversed(frames):
            local = frame.f_locals
            address = local.get("address")
            if isinstance(address, tuple) and len(address) >= 2:
                host, port = address[0], address[1]
                if isinstance(host, str) and isinstance(port, int):
                    yield Address(_fold(host), port)
            owner = local.get("self")
            try:  # any object: a property may raise anything
                host, port = getattr(owner, "host", None), getattr(owner, "port", None)
            except Exception:
                continue
            if isinstance(host, str) and isinstance(port, int):
                yield Address(_fold(host), port)


@attrs.frozen
class _Match:
    field: str
    address: Address
    candidate_index: int  # 0: the winning value; more: a shadowed candidate


def _url_fields(trace: Trace) -> list[str]:
    info = trace.info
    return [name for name, spec in info.fields.items() if spec.schemes] if info is not None else []


def _match(addresses: list[Address], trace: Trace) -> _Match | None:
    """The field whose winning value (preferred) or a shadowed candidate is one of ``addresses``."""
    fields = _url_fields(trace)
    for index_wanted in (0, None):
        for address in addresses:
            for name in fields:
                traced = trace.fields.get(name)
                if traced is None:
                    continue
                for index, candidate in enumerate(traced.candidates):
                    if index_wanted == 0 and candidate is not traced.winner:
                        continue
                    raw = candidate.raw if isinstance(candidate.raw, str) else None
                    there = address_of_url(raw) if raw else None
                    if there is not None and (there.host, there.port) == (address.host, address.port):
                        return _Match(name, address, 0 if candidate is traced.winner else max(index, 1))
    return None


def _origin_line(traced: FieldTrace, candidate_index: int = 0) -> str:
    candidate = traced.winner if candidate_index == 0 else traced.candidates[candidate_index]
    origin = candidate.origin
    return f"{origin} ({origin.layer.label})"


def _request_for(trace: Trace, field: str, url: str) -> ProbeRequest:
    from ._resolve.probe import readiness_request

    health = trace.fields["health_path"].value if "health_path" in trace.fields else None
    return readiness_request(trace.info, field, url, health)


def _root_field(trace: Trace, field: str) -> str:
    """The field a derived value comes from (websocket_url -> backend_url), else ``field`` itself."""
    from ._model.provenance import LayerKind

    traced = trace.fields[field]
    if traced.winner.origin.layer is LayerKind.DERIVED and traced.lineage:
        first = traced.lineage[0][0]
        if first in trace.fields:
            return first
    return field


def explain_failure(error: BaseException | str, cfg: object | None = None) -> str | None:
    """Why a connection failed, for code outside pytest: ``error`` is the exception (or an address:
    a URL or ``host:port``), ``cfg`` a config from :func:`layercfg.load_config` (None: load one).
    Returns the explanation (secrets masked), or None when ``error`` is no connection failure or
    its address is no configured service."""
    from ._load import load, provenance

    trace = provenance(cfg) if cfg is not None else load().trace
    if isinstance(error, str):
        return explain_address(error, trace)
    return explain_exception(error, trace)


def explain_exception(
    exc: BaseException, trace: Trace, *, test_text: str | None = None, probe_budget: float | None = None
) -> str | None:
    """The section explaining a connection failure in ``exc``, or None when it is not one or its
    address is no configured service. ``test_text`` (the failing test's source) is searched for
    addresses when the exception names none."""
    failure = connection_failure(exc)
    if failure is None:
        return None
    addresses = addresses_in(exc)
    if not addresses and test_text:
        addresses = [a for m in _URL.finditer(test_text) if (a := address_of_url(m.group(0))) is not None]
    return explain_address(addresses, trace, error=f"{type(failure).__name__}: {failure}", probe_budget=probe_budget)


def explain_address(
    addresses: list[Address] | str,
    trace: Trace,
    *,
    error: str | None = None,
    probe_budget: float | None = None,
) -> str | None:
    """The section for a failed connection to one of ``addresses`` (or a URL / ``host:port`` text)."""
    from ._model.secrets import mask_text
    from ._resolve.probe import probe_all
    from ._views.render import secret_values

    if isinstance(addresses, str):
        text = addresses
        addresses = [a for m in _URL.finditer(text) if (a := address_of_url(m.group(0))) is not None]
        addresses += [Address(_fold(m.group(1)), int(m.group(2))) for m in _BARE.finditer(text)]
    found = _match(addresses, trace)
    if found is None:
        return None
    field = found.field
    traced = trace.fields[field]
    root = _root_field(trace, field)
    root_traced = trace.fields[root]
    lines = []
    tried = found.address.url or str(traced.candidates[found.candidate_index].raw)
    if found.candidate_index == 0:
        if root != field:
            lines.append(f"{tried} is {field}, derived from {root} = {root_traced.value}")
        else:
            lines.append(f"{tried} is {field}")
        lines.append(f"  set by {_origin_line(root_traced)}")
    else:
        lines.append(
            f"{tried} is not what layercfg resolved: it is {field}'s shadowed value from "
            f"{_origin_line(traced, found.candidate_index)}"
        )
        lines.append(f"  layercfg resolved {field} = {traced.value} ({_origin_line(traced)})")
    others = [c for c in root_traced.candidates if c is not root_traced.winner and isinstance(c.raw, str)]
    for candidate in others[:4]:
        lines.append(f"  shadowed: {candidate.raw} from {candidate.origin} ({candidate.origin.layer.label})")
    # Probe the failing address and every distinct candidate of the root field, now, within one budget.
    targets: dict[str, str] = {}
    failing_url = str(traced.candidates[found.candidate_index].raw)
    targets[failing_url] = field
    for candidate in root_traced.candidates:
        if isinstance(candidate.raw, str) and candidate.raw not in targets:
            there = address_of_url(candidate.raw)
            if there is not None and all(address_of_url(u) != there for u in targets):
                targets[candidate.raw] = root
    configured = trace.fields["probe_timeout"].value if "probe_timeout" in trace.fields else None
    budget = probe_budget if probe_budget is not None else _seconds(configured)
    requests = {url: _request_for(trace, name, url) for url, name in targets.items()}
    results = probe_all(list(requests.values()), budget=budget)
    lines.append("probe now: " + "; ".join(results[request].describe() for request in requests.values()))
    fix = _fix(trace, field, root, found, {url: results[req] for url, req in requests.items()})
    if fix:
        lines.append(f"likely fix: {fix}")
    if error:
        lines.insert(0, f"error: {error}")
    return mask_text("\n".join(lines), secret_values(trace))


def _seconds(value: object) -> float:
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        else ENGINE_DEFAULTS.probe_timeout
    )


def _fix(trace: Trace, field: str, root: str, found: _Match, results: dict[str, ProbeResult]) -> str | None:
    traced = trace.fields[field]
    root_traced = trace.fields[root]
    winner_url = str(traced.value)
    if found.candidate_index != 0:
        answer = results.get(winner_url) or results.get(str(root_traced.value))
        resolved = f"{field} = {traced.value}"
        if answer is None or answer.ok:
            return f"the code does not use layercfg's value: use layercfg_config.{field} ({resolved})"
        return f"nothing answers at {traced.value} either: start the stack, then use layercfg_config.{field}"
    answering = [
        url for url, result in results.items() if result.ok and url != str(root_traced.value) and url != winner_url
    ]
    info = trace.info
    canonical = info.fields[root].env if info is not None else root.upper()
    origin = root_traced.winner.origin
    if answering:
        good = answering[0]
        if origin.variable and origin.variable != canonical:
            return f"unset {origin.variable}, or set {canonical}={good}"
        return f"set {canonical}={good}"
    report = trace.discovery
    if report is not None and root not in report.published:
        return "no candidate answers: the stack is not running (start it, e.g. docker compose up -d)"
    return None


def test_source(item: Any) -> str | None:
    """The failing test function's source, for addresses its exception does not name."""
    import inspect

    function = getattr(item, "function", None)
    if function is None:
        return None
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return None
