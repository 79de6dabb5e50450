"""Reachability probes: is the service behind a URL up, answered within a time budget?

A probe never raises and never outlives its budget by more than thread scheduling: every
blocking step (name resolution, connect, TLS handshake, send, each read) is given only the
time that remains before one deadline. Whatever goes wrong becomes a classified
:class:`ProbeResult` whose :meth:`~ProbeResult.describe` is one line a person can act on.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import ipaddress
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import SplitResult, urlsplit

import attrs

from .._model.schema import ENGINE_DEFAULTS
from .._model.services import default_port

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from .._model.fieldtable import SchemaInfo

__all__ = ["KINDS", "OUTCOMES", "ProbeRequest", "ProbeResult", "probe", "probe_all", "readiness_request"]

KINDS = ("tcp", "http", "websocket")
OUTCOMES = (
    "up",
    "refused",
    "closed",
    "timeout",
    "dns",
    "tls",
    "http-status",
    "unhealthy",
    "handshake-rejected",
    "protocol",
    "container-health",
    "error",
)
# How long a TCP connection must stay open to count: Docker's userland proxy accepts on a
# published port before anything listens in the container, then closes the connection.
_SETTLE = 0.05
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest: answered with one byte, S or N

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_SECURE_SCHEMES = frozenset({"https", "wss"})
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A handshake response is a status line and a few headers; more than this is not a WebSocket server.
_MAX_HEAD = 64 * 1024


@attrs.frozen
class ProbeRequest:
    """What to probe: a URL and how deep to look.

    ``kind`` is ``"tcp"``, ``"http"`` (GET ``health_path``, or the URL's own path; any status
    below 500 counts as up there, while a health path answering 4xx is ``unhealthy``: reachable,
    but not well) or ``"websocket"`` (an RFC 6455 opening handshake to the URL's path).

    ``"tcp"`` speaks the service's protocol where one has a greeting: PostgreSQL URLs get an
    SSLRequest (a server answers one byte), Redis URLs a ``PING``. For other schemes the
    connection must stay open a moment: one closed at once (Docker's proxy with nothing
    listening behind it) is ``closed``, not up, and an up result says it was a TCP check only.
    """

    url: str
    kind: str = attrs.field(default="tcp", validator=attrs.validators.in_(KINDS))
    health_path: str | None = None


@attrs.frozen
class ProbeResult:
    """How a probe went: ``ok`` is true exactly when ``outcome`` is ``"up"``."""

    request: ProbeRequest
    ok: bool
    outcome: str
    elapsed: float
    status: int | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line for a person, e.g. ``http://localhost:8002 refused connection in 0.4 ms``."""
        target = _target(self.request)
        took = _duration(self.elapsed)
        if self.outcome == "up":
            if self.status is not None and self.request.kind == "http":
                return f"{target} up (HTTP {self.status}) in {took}"
            if self.detail:
                return f"{target} up in {took} ({self.detail})"
            return f"{target} up in {took}"
        if self.outcome == "refused":
            return f"{target} refused connection in {took}"
        if self.outcome == "closed":
            return f"{target} accepted and closed the connection in {took}: {self.detail}"
        if self.outcome == "protocol":
            return f"{target} answered, but not as expected: {self.detail}"
        if self.outcome == "container-health":
            return f"{target} answers, but {self.detail}"
        if self.outcome == "timeout":
            return f"{target} did not answer within {self.elapsed:.1f} s"
        if self.outcome == "http-status":
            return f"{target} answered HTTP {self.status} in {took}"
        if self.outcome == "unhealthy":
            return f"{target} answered HTTP {self.status} in {took}: reachable, but its health check fails"
        if self.outcome == "handshake-rejected":
            return f"{target} rejected the WebSocket handshake: {self.detail}"
        if self.outcome == "dns":
            return f"{target} host name did not resolve: {self.detail}"
        if self.outcome == "tls":
            return f"{target} TLS handshake failed: {self.detail}"
        return f"{target} could not be probed: {self.detail}"


def probe(request: ProbeRequest, *, budget: float = ENGINE_DEFAULTS.probe_timeout) -> ProbeResult:
    """Probe one endpoint; return within about ``budget`` seconds, never raise."""
    start = time.perf_counter()
    deadline = start + max(budget, 0.0)
    try:
        outcome, status, detail = _run(request, deadline)
    except Exception as exc:  # a probe reports; it never raises
        outcome, status, detail = _classify(exc), None, _exc_text(exc)
        if outcome == "closed":
            detail = _NOTHING_BEHIND
    return ProbeResult(
        request=request,
        ok=outcome == "up",
        outcome=outcome,
        elapsed=time.perf_counter() - start,
        status=status,
        detail=detail,
    )


def probe_all(
    requests: Sequence[ProbeRequest], *, budget: float = ENGINE_DEFAULTS.probe_timeout
) -> dict[ProbeRequest, ProbeResult]:
    """Probe every distinct request at once; the whole call costs about the slowest probe.

    The result has one entry per distinct request, in first-seen order.
    """
    unique = list(dict.fromkeys(requests))
    if len(unique) <= 1:
        return {request: probe(request, budget=budget) for request in unique}
    # One thread per endpoint: probes wait on the network, not the CPU, and a bounded pool
    # would make the cost of many dead endpoints a multiple of the budget.
    with ThreadPoolExecutor(max_workers=len(unique), thread_name_prefix="layercfg-probe") as pool:
        futures = [pool.submit(probe, request, budget=budget) for request in unique]
        return {request: future.result() for request, future in zip(unique, futures, strict=True)}


# --- the probes ---------------------------------------------------------------------------------


def _run(request: ProbeRequest, deadline: float) -> tuple[str, int | None, str]:
    parts = urlsplit(request.url)
    scheme = parts.scheme.lower()
    # A TCP connect works for any scheme with a port (postgresql://, redis://); HTTP and the
    # WebSocket handshake need their own schemes.
    if not scheme:
        return "error", None, "URL has no scheme"
    if request.kind != "tcp" and scheme not in _DEFAULT_PORTS:
        return "error", None, f"unsupported URL scheme {parts.scheme!r} (use http, https, ws or wss)"
    host = parts.hostname
    if not host:
        return "error", None, "URL has no host"
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme) or default_port(scheme)
    except ValueError as exc:
        return "error", None, str(exc)
    if port is None:
        return "error", None, f"the URL has no port and {scheme}:// has no default port"
    secure = scheme in _SECURE_SCHEMES
    sock = _connect(host, port, deadline)
    try:
        if request.kind == "tcp":
            if scheme in _POSTGRES_SCHEMES:
                return _postgres(_DeadlineSocket(sock, deadline))
            if scheme == "redis":
                return _redis(_DeadlineSocket(sock, deadline))
            return _tcp(sock, deadline, scheme)
        if secure:
            sock = _wrap_tls(sock, host, deadline)
        if request.kind == "http":
            health_check = request.health_path is not None
            return _http(sock, host, port, secure, _http_path(request, parts), deadline, health_check)
        return _websocket(sock, host, port, secure, _path(parts), deadline)
    finally:
        sock.close()


_NOTHING_BEHIND = "nothing listens behind the port yet (Docker's proxy accepts before the service does)"


def _tcp(sock: socket.socket, deadline: float, scheme: str) -> tuple[str, int | None, str]:
    """Up when the connection stays open (or the server speaks first); closed at once is not up."""
    sock.settimeout(min(_SETTLE, _remaining(deadline)))
    try:
        data = sock.recv(1)
    except TimeoutError:
        return "up", None, f"TCP connect only: no protocol check for {scheme}://"
    except (ConnectionResetError, BrokenPipeError):
        return "closed", None, _NOTHING_BEHIND
    if not data:
        return "closed", None, _NOTHING_BEHIND
    return "up", None, f"TCP connect only: the server spoke first; no protocol check for {scheme}://"


def _postgres(sock: _DeadlineSocket) -> tuple[str, int | None, str]:
    """A PostgreSQL server answers an SSLRequest with ``S`` or ``N`` before anything else."""
    try:
        sock.sendall(_SSL_REQUEST)
        answer = sock.recv(1)
    except (ConnectionResetError, BrokenPipeError):
        return "closed", None, _NOTHING_BEHIND
    if not answer:
        return "closed", None, _NOTHING_BEHIND
    if answer in (b"S", b"N"):
        return "up", None, "PostgreSQL answered an SSLRequest"
    return "protocol", None, f"expected a PostgreSQL server, got {answer!r} for an SSLRequest"


def _redis(sock: _DeadlineSocket) -> tuple[str, int | None, str]:
    """A Redis server answers ``PING`` with ``+PONG``, or with an error such as ``-NOAUTH``."""
    try:
        sock.sendall(b"PING\r\n")
        line = b""
        while not line.endswith(b"\n") and len(line) < 512:
            chunk = sock.recv(512 - len(line))
            if not chunk:
                break
            line += chunk
    except (ConnectionResetError, BrokenPipeError):
        return "closed", None, _NOTHING_BEHIND
    if not line:
        return "closed", None, _NOTHING_BEHIND
    first = line.split(b"\r\n", 1)[0][:80].decode("ascii", "replace")
    if line.startswith(b"+PONG"):
        return "up", None, "Redis answered PING"
    if line.startswith(b"-"):  # -NOAUTH, -LOADING: a Redis server, answering
        return "up", None, f"Redis answered PING with {first!r}"
    return "protocol", None, f"expected a Redis server, got {first!r} for PING"


def readiness_request(info: SchemaInfo | None, field: str, url: str, health_path: object = None) -> ProbeRequest:
    """How ``field``'s service is checked for readiness: HTTP health for HTTP services, the
    opening handshake for WebSocket URLs, a protocol greeting or a settled TCP connection otherwise.
    ``health_path`` is the load's ``health_path`` setting, used when the service names none."""
    found = info.service_of(field) if info is not None else None
    if found is not None:
        service, endpoint = found
        if endpoint is service.main and service.probe == "http":
            path = service.health_path or (health_path if isinstance(health_path, str) and health_path else None)
            return ProbeRequest(url, "http", health_path=path)
        if endpoint is service.main and service.probe == "websocket":
            return ProbeRequest(url, "websocket")
    if urlsplit(url).scheme.lower() in ("ws", "wss"):
        return ProbeRequest(url, "websocket")
    return ProbeRequest(url, "tcp")


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    """Connect to the first address of ``host`` that answers, as socket.create_connection does,
    but with all addresses sharing one deadline instead of each getting the full timeout."""
    error: OSError | None = None
    for address in dict.fromkeys(_resolve(host, port, deadline)):
        try:
            return socket.create_connection(address, timeout=_remaining(deadline))
        except OSError as exc:
            error = exc
    raise error or OSError(f"{host} has no address")


def _resolve(host: str, port: int, deadline: float) -> list[tuple[str, int]]:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [(host, port)]
    # getaddrinfo cannot be given a timeout and a dead resolver can block for many seconds, so
    # it runs in a daemon thread that is abandoned (and finishes on its own) if the budget ends.
    found: list[tuple[str, int]] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                found.append((str(sockaddr[0]), int(sockaddr[1])))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=lookup, name=f"layercfg-resolve-{host}", daemon=True)
    worker.start()
    worker.join(_remaining(deadline))
    if worker.is_alive():
        raise TimeoutError(f"resolving {host!r} did not finish")
    if failure:
        raise failure[0]
    return found


def _wrap_tls(sock: socket.socket, host: str, deadline: float) -> ssl.SSLSocket:
    sock.settimeout(_remaining(deadline))  # the handshake shares one deadline across its reads
    context = ssl.create_default_context()
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _http(
    sock: socket.socket, host: str, port: int, secure: bool, path: str, deadline: float, health_check: bool
) -> tuple[str, int | None, str]:
    connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=_remaining(deadline))
    # http.client writes the request and parses the response; the socket is ours, already
    # connected (and wrapped) under the deadline, and re-arms the deadline before every read.
    connection.sock = cast(Any, _DeadlineSocket(sock, deadline))
    try:
        connection.request("GET", path, headers={"Connection": "close", "Accept": "*/*"})
        response = connection.getresponse()
        response.close()  # the status is the answer; the body is not read
        version = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
        status_line = f"{version} {response.status} {response.reason}".rstrip()
        if response.status >= 500:
            outcome = "http-status"
        elif response.status >= 400 and health_check:
            outcome = "unhealthy"  # a health path answering 4xx: the server is there, the service is not well
        else:
            outcome = "up"  # the URL's own path answering 404 still shows the server is there
        return outcome, response.status, status_line
    finally:
        connection.close()


def _websocket(
    sock: socket.socket, host: str, port: int, secure: bool, path: str, deadline: float
) -> tuple[str, int | None, str]:
    # Why by hand: a probe needs only the opening handshake (RFC 6455 section 4), which is one
    # HTTP request and one response; a WebSocket library would be a dependency for ten lines.
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {_host_header(host, port, secure)}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    )
    deadline_sock = _DeadlineSocket(sock, deadline)
    deadline_sock.sendall(request.encode("ascii"))
    head = _read_head(deadline_sock)
    status_line, _, header_block = head.partition(b"\r\n")
    status_text = status_line.decode("latin-1").strip()
    pieces = status_text.split(None, 2)
    if len(pieces) < 2 or not pieces[0].startswith("HTTP/") or not pieces[1].isdigit():
        return "handshake-rejected", None, f"not an HTTP response: {status_text[:80]!r}"
    status = int(pieces[1])
    headers = http.client.parse_headers(io.BytesIO(header_block + b"\r\n\r\n"))
    expected = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode("ascii")).digest()).decode("ascii")
    if status != 101:
        return "handshake-rejected", status, status_text
    if headers.get("Sec-WebSocket-Accept", "").strip() != expected:
        return "handshake-rejected", status, f"{status_text} with a wrong Sec-WebSocket-Accept"
    return "up", status, status_text


def _read_head(sock: _DeadlineSocket) -> bytes:
    """Bytes up to the blank line that ends a response's headers."""
    buffer = bytearray()
    chunk = bytearray(4096)
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEAD:
            raise http.client.LineTooLong("response headers")
        count = sock.recv_into(chunk)
        if count == 0:
            if not buffer:
                raise ConnectionAbortedError("server closed the connection without answering")
            break
        buffer += chunk[:count]
    return bytes(buffer.partition(b"\r\n\r\n")[0])


class _DeadlineSocket:
    """The parts of a socket http.client uses, each re-armed with the time left before a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def _arm(self) -> None:
        self._sock.settimeout(_remaining(self._deadline))

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes)

    def recv(self, size: int) -> bytes:
        self._arm()
        return self._sock.recv(size)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._sock.recv_into(buffer)


# --- small helpers ------------------------------------------------------------------------------


def _remaining(deadline: float) -> float:
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        raise TimeoutError("probe budget spent")
    return remaining


def _classify(exc: BaseException) -> str:
    # Order matters: ssl.SSLError and socket.gaierror are OSErrors, and a TLS handshake that
    # runs out of time raises a TimeoutError, which is a timeout rather than a TLS problem.
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    # http.client.RemoteDisconnected is a ConnectionResetError: accepted, then closed unanswered.
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "closed"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    return "error"


def _exc_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _path(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def _http_path(request: ProbeRequest, parts: SplitResult) -> str:
    if request.health_path is None:
        return _path(parts)
    return "/" + request.health_path.lstrip("/")


def _host_header(host: str, port: int, secure: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if secure else 80) else f"{shown}:{port}"


def _target(request: ProbeRequest) -> str:
    """The URL a probe actually contacted: for an HTTP probe, the health path replaces the URL's."""
    if request.kind == "http" and request.health_path is not None:
        parts = urlsplit(request.url)
        return f"{parts.scheme}://{parts.netloc}/{request.health_path.lstrip('/')}"
    return request.url


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.1f} s"
