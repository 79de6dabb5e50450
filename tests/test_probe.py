"""Tests for layercfg._resolve.probe, against real sockets on loopback only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from servers import (
    SHUTDOWN_TIMEOUT,
    BlackholeListener,
    LocalService,
    ReplyingListener,
    SilentListener,
    closed_port,
    ipv6_available,
)

from layercfg._resolve.probe import ProbeRequest, ProbeResult, probe, probe_all, readiness_request

# Slack for a timed-out probe over its budget: thread scheduling on a busy CI machine.
SLACK = 0.1
BUDGET = 0.3

HOSTS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param(
        "::1",
        id="ipv6",
        marks=pytest.mark.skipif(not ipv6_available(), reason="::1 cannot be bound on this machine"),
    ),
]


def settled(result: ProbeResult) -> ProbeResult:
    """The result with its elapsed time zeroed, so whole results can be compared."""
    return attrs.evolve(result, elapsed=0.0)


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service(host: str) -> Iterator[LocalService]:
    with LocalService(host=host) as running:
        yield running


@pytest.fixture
def silent(host: str) -> Iterator[SilentListener]:
    with SilentListener(host) as listener:
        yield listener


@pytest.fixture
def blackhole(host: str) -> Iterator[BlackholeListener]:
    with BlackholeListener(host) as listener:
        yield listener


# --- up -----------------------------------------------------------------------------------------


def test_tcp_up(service: LocalService) -> None:
    """A TCP probe of a listening service is up, with no status, and says it checked TCP only."""
    request = ProbeRequest(service.base_url)
    assert settled(probe(request)) == ProbeResult(
        request, ok=True, outcome="up", elapsed=0.0, detail="TCP connect only: no protocol check for http://"
    )
    assert "(TCP connect only: no protocol check for http://)" in probe(request).describe()


def test_tcp_closed_at_once_is_not_up(host: str) -> None:
    """A port that accepts and closes at once (Docker's proxy, nothing behind it) is closed, not up."""
    with ReplyingListener(host, reply=None) as proxy:
        result = probe(ProbeRequest(proxy.url("clickhouse")))
    assert (result.ok, result.outcome) == (False, "closed")
    assert "accepted and closed the connection" in result.describe()
    assert "nothing listens behind the port yet" in result.describe()


@pytest.mark.parametrize(
    ("scheme", "reply", "outcome", "detail", "sent"),
    [
        ("postgresql", b"N", "up", "PostgreSQL answered an SSLRequest", b"\x00\x00\x00\x08\x04\xd2\x16\x2f"),
        ("postgres", b"S", "up", "PostgreSQL answered an SSLRequest", b"\x00\x00\x00\x08\x04\xd2\x16\x2f"),
        ("postgresql", b"HTTP/1.1 400", "protocol", "expected a PostgreSQL server, got b'H'", None),
        ("redis", b"+PONG\r\n", "up", "Redis answered PING", b"PING\r\n"),
        ("redis", b"-NOAUTH Authentication required.\r\n", "up", "Redis answered PING with '-NOAUTH", None),
        ("redis", b"SSH-2.0-OpenSSH\r\n", "protocol", "expected a Redis server, got 'SSH-2.0-OpenSSH'", None),
    ],
)
def test_protocol_greetings(host: str, scheme: str, reply: bytes, outcome: str, detail: str, sent: bytes | None):
    """PostgreSQL and Redis URLs are checked with their protocol's first exchange, not a bare connect."""
    with ReplyingListener(host, reply=reply) as server:
        result = probe(ProbeRequest(server.url(scheme, "/db")))
        received = list(server.received)
    assert result.outcome == outcome
    assert result.detail.startswith(detail)
    if sent is not None:
        assert received == [sent]


@pytest.mark.parametrize("scheme", ["postgresql", "redis"])
def test_protocol_greeting_closed_at_once(host: str, scheme: str) -> None:
    """A greeting probe of a port that closes at once is closed, not up."""
    with ReplyingListener(host, reply=None) as proxy:
        result = probe(ProbeRequest(proxy.url(scheme)))
    assert (result.ok, result.outcome) == (False, "closed")


def test_readiness_request_follows_the_service() -> None:
    """Each built-in service is checked by its own protocol: HTTP health, WebSocket handshake, greeting."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    info = schema_info(TestEnvConfig, "NETRA_")
    backend = readiness_request(info, "backend_url", "http://localhost:8000", "/health")
    assert (backend.kind, backend.health_path) == ("http", "/health")
    assert readiness_request(info, "websocket_url", "ws://localhost:8000/ws").kind == "websocket"
    assert readiness_request(info, "database_url", "postgresql://u@localhost:5432/d").kind == "tcp"
    assert readiness_request(None, "anything", "ws://x:1/ws").kind == "websocket"


def test_http_up(service: LocalService) -> None:
    """An HTTP probe of a healthy service's health path is up with status 200."""
    request = ProbeRequest(service.base_url, kind="http", health_path="/health")
    assert settled(probe(request)) == ProbeResult(
        request, ok=True, outcome="up", elapsed=0.0, status=200, detail="HTTP/1.1 200 OK"
    )
    assert service.requests == [("GET", "/health")]


def test_http_without_health_path_gets_the_url_path(service: LocalService) -> None:
    """Without a health path an HTTP probe GETs the URL's own path, and a 404 still counts as up."""
    request = ProbeRequest(service.base_url + "/missing?x=1", kind="http")
    result = probe(request)
    assert (result.outcome, result.status) == ("up", 404)
    assert service.requests == [("GET", "/missing?x=1")]


def test_health_path_replaces_url_path(service: LocalService) -> None:
    """A health path is absolute: it replaces the URL's path rather than extending it."""
    request = ProbeRequest(service.base_url + "/api/", kind="http", health_path="health")
    assert probe(request).ok
    assert service.requests == [("GET", "/health")]


def test_websocket_up(service: LocalService) -> None:
    """A WebSocket probe completing the RFC 6455 handshake is up with status 101."""
    request = ProbeRequest(service.ws_url, kind="websocket")
    assert settled(probe(request)) == ProbeResult(
        request, ok=True, outcome="up", elapsed=0.0, status=101, detail="HTTP/1.1 101 Switching Protocols"
    )


def test_localhost_name_resolves_from_hosts_file() -> None:
    """A probe of ``localhost`` resolves it (from the hosts file) and connects."""
    with LocalService() as service:
        result = probe(ProbeRequest(f"http://localhost:{service.port}/health", kind="http"))
    assert (result.outcome, result.status) == ("up", 200)


# --- refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tcp", "http", "websocket"])
def test_refused(host: str, kind: str) -> None:
    """A probe of a port where nothing listens is refused at once, whatever its kind."""
    url_host = f"[{host}]" if ":" in host else host
    request = ProbeRequest(f"ws://{url_host}:{closed_port(host)}/ws", kind=kind)
    result = probe(request, budget=1.0)
    assert (result.ok, result.outcome, result.status) == (False, "refused", None)
    assert result.elapsed < 0.1


# --- timeout ------------------------------------------------------------------------------------


def test_blackhole_listener_makes_connect_hang(blackhole: BlackholeListener, host: str) -> None:
    """A plain connect to a BlackholeListener times out instead of completing."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.connect((host, blackhole.port))


@pytest.mark.parametrize("kind", ["tcp", "http", "websocket"])
def test_timeout_on_connect(blackhole: BlackholeListener, kind: str) -> None:
    """A probe whose connect hangs times out after about its budget, never much later."""
    result = probe(ProbeRequest(blackhole.url("ws", "/ws"), kind=kind), budget=BUDGET)
    assert (result.ok, result.outcome) == (False, "timeout")
    assert BUDGET - 0.01 <= result.elapsed <= BUDGET + SLACK


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_timeout_waiting_for_answer(silent: SilentListener, kind: str) -> None:
    """A probe of a server that accepts and never answers times out after about its budget."""
    result = probe(ProbeRequest(silent.url("ws", "/ws"), kind=kind, health_path="/health"), budget=BUDGET)
    assert (result.ok, result.outcome) == (False, "timeout")
    assert BUDGET - 0.01 <= result.elapsed <= BUDGET + SLACK


def test_tcp_probe_of_silent_server_is_up(silent: SilentListener) -> None:
    """A TCP probe only connects, so a server that never answers is still up."""
    assert probe(ProbeRequest(silent.url()), budget=BUDGET).outcome == "up"


def test_slow_drip_answer_stays_within_budget() -> None:
    """A server sending its answer one byte at a time cannot stretch a probe past the budget."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        stop = threading.Event()

        def drip() -> None:
            connection, _ = listener.accept()
            with connection:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    if stop.wait(0.02):
                        return
                    connection.sendall(bytes([byte]))

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        result = probe(ProbeRequest(f"http://127.0.0.1:{port}/", kind="http"), budget=BUDGET)
        stop.set()
        thread.join(1.0)
    assert result.outcome == "timeout"
    assert result.elapsed <= BUDGET + SLACK


def test_zero_budget_times_out_at_once() -> None:
    """A probe with no budget left reports a timeout without contacting anything."""
    result = probe(ProbeRequest(f"http://127.0.0.1:{closed_port()}"), budget=0.0)
    assert result.outcome == "timeout"
    assert result.elapsed < 0.01


# --- answers that are not "up" ------------------------------------------------------------------


def test_http_503_is_http_status() -> None:
    """A health path answering 503 gives outcome http-status with the status kept."""
    with LocalService(health_status=503) as service:
        request = ProbeRequest(service.base_url, kind="http", health_path="/health")
        assert settled(probe(request)) == ProbeResult(
            request,
            ok=False,
            outcome="http-status",
            elapsed=0.0,
            status=503,
            detail="HTTP/1.1 503 Service Unavailable",
        )


def test_websocket_rejected() -> None:
    """A server answering the handshake with 400 gives handshake-rejected and the status line."""
    with LocalService(websocket="reject") as service:
        request = ProbeRequest(service.ws_url, kind="websocket")
        assert settled(probe(request)) == ProbeResult(
            request,
            ok=False,
            outcome="handshake-rejected",
            elapsed=0.0,
            status=400,
            detail="HTTP/1.1 400 Bad Request",
        )


def test_websocket_wrong_accept_key() -> None:
    """A 101 answer with a wrong Sec-WebSocket-Accept is still a rejected handshake."""
    with LocalService(websocket="wrong-accept") as service:
        result = probe(ProbeRequest(service.ws_url, kind="websocket"))
    assert (result.ok, result.outcome, result.status) == (False, "handshake-rejected", 101)
    assert result.detail == "HTTP/1.1 101 Switching Protocols with a wrong Sec-WebSocket-Accept"


def test_websocket_to_plain_http_endpoint(service: LocalService) -> None:
    """A plain HTTP endpoint that answers 200 instead of upgrading rejects the handshake."""
    result = probe(ProbeRequest(service.base_url.replace("http", "ws", 1) + "/health", kind="websocket"))
    assert (result.ok, result.outcome, result.status) == (False, "handshake-rejected", 200)
    assert result.detail == "HTTP/1.1 200 OK"


def test_websocket_to_non_http_server() -> None:
    """A server that answers the handshake with something other than HTTP rejects it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        result = probe(ProbeRequest(f"ws://127.0.0.1:{listener.getsockname()[1]}/", kind="websocket"))
        thread.join(1.0)
    assert (result.outcome, result.status) == ("handshake-rejected", None)
    assert result.detail == "not an HTTP response: 'SSH-2.0-OpenSSH_9.6'"


@pytest.mark.parametrize(
    ("kind", "scheme"),
    [pytest.param("http", "https", id="https"), pytest.param("websocket", "wss", id="wss")],
)
def test_tls_to_plain_port(kind: str, scheme: str) -> None:
    """Speaking TLS to a plain HTTP port fails the TLS handshake, outcome tls."""
    with LocalService() as service:
        result = probe(ProbeRequest(f"{scheme}://127.0.0.1:{service.port}/ws", kind=kind))
    assert (result.ok, result.outcome, result.status) == (False, "tls", None)
    assert result.detail.startswith("SSLError: ")


# --- name resolution ----------------------------------------------------------------------------


def _hosts_lookup_is_local() -> bool:
    """True when nsswitch resolves host names from local sources only (no DNS server)."""
    try:
        lines = Path("/etc/nsswitch.conf").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        key, _, sources = line.partition(":")
        if key.strip() == "hosts":
            return set(sources.split()) <= {"files", "myhostname"}
    return False


@pytest.mark.skipif(
    not _hosts_lookup_is_local(),
    reason="host names here may be sent to a DNS server, and tests contact loopback only",
)
def test_dns_failure_real_resolver() -> None:
    """A name under the reserved .invalid domain does not resolve: outcome dns."""
    result = probe(ProbeRequest("http://nonexistent.invalid:80"), budget=1.0)
    assert (result.ok, result.outcome) == (False, "dns")


def test_dns_failure_is_classified(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver error (socket.gaierror) becomes outcome dns with the resolver's words.

    The resolver is replaced because a real lookup of an unknown name may leave this machine.
    """

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    request = ProbeRequest("http://nonexistent.invalid:8000")
    assert settled(probe(request)) == ProbeResult(
        request,
        ok=False,
        outcome="dns",
        elapsed=0.0,
        detail=f"gaierror: [Errno {socket.EAI_NONAME}] Name or service not known",
    )


def test_hung_resolver_stays_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that never answers cannot stretch a probe past its budget: outcome timeout."""
    release = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> Any:
        release.wait(5.0)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    try:
        result = probe(ProbeRequest("http://slow.invalid:8000"), budget=BUDGET)
    finally:
        release.set()
    assert result.outcome == "timeout"
    assert result.detail == "TimeoutError: resolving 'slow.invalid' did not finish"
    assert result.elapsed <= BUDGET + SLACK


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        pytest.param("//127.0.0.1:8000", "URL has no scheme", id="bare"),
        pytest.param("foo://127.0.0.1", "the URL has no port and foo:// has no default port", id="no port"),
        pytest.param("http:///health", "URL has no host", id="no host"),
        pytest.param("http://127.0.0.1:99999", "Port out of range 0-65535", id="port range"),
        pytest.param("http://127.0.0.1:abc", "Port could not be cast to integer value as 'abc'", id="port text"),
    ],
)
def test_malformed_url_is_an_error_result(url: str, detail: str) -> None:
    """A URL that cannot be probed gives outcome error with the reason, not an exception."""
    result = probe(ProbeRequest(url))
    assert settled(result) == ProbeResult(ProbeRequest(url), ok=False, outcome="error", elapsed=0.0, detail=detail)


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_protocol_probe_needs_its_scheme(kind: str) -> None:
    """An HTTP or WebSocket probe of an ftp:// URL is an error naming the schemes it speaks."""
    url = "ftp://127.0.0.1:21"
    result = probe(ProbeRequest(url, kind))
    assert settled(result) == ProbeResult(
        ProbeRequest(url, kind),
        ok=False,
        outcome="error",
        elapsed=0.0,
        detail="unsupported URL scheme 'ftp' (use http, https, ws or wss)",
    )


def test_tcp_probe_speaks_any_scheme() -> None:
    """A TCP probe of a scheme with no known greeting connects to its port and stays a moment."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = probe(ProbeRequest(f"amqp://app:pw@127.0.0.1:{port}/vhost", "tcp"), budget=2)
        silent_postgres = probe(ProbeRequest(f"postgresql://app:pw@127.0.0.1:{port}/db", "tcp"), budget=0.3)
    assert (result.ok, result.outcome) == (True, "up")
    # A port that accepts but never answers PostgreSQL's SSLRequest is not a database that is up.
    assert (silent_postgres.ok, silent_postgres.outcome) == (False, "timeout")


def test_unknown_kind_is_refused_at_construction() -> None:
    """A ProbeRequest names one of the three kinds, or it cannot be made."""
    with pytest.raises(ValueError, match="'kind' must be in"):
        ProbeRequest("http://127.0.0.1:1", kind="udp")


# --- many probes --------------------------------------------------------------------------------


def test_probe_all_is_concurrent() -> None:
    """Four silent endpoints with budget 0.5 cost about 0.5 s together, not 2 s."""
    listeners = [SilentListener().start() for _ in range(4)]
    try:
        requests = [ProbeRequest(listener.url(), kind="http") for listener in listeners]
        start = time.perf_counter()
        results = probe_all(requests, budget=0.5)
        total = time.perf_counter() - start
    finally:
        for listener in listeners:
            listener.stop()
    assert list(results) == requests
    assert {result.outcome for result in results.values()} == {"timeout"}
    assert total < 1.0


def test_probe_all_mixed_outcomes(service: LocalService, host: str) -> None:
    """probe_all returns one result per request, in order, each classified on its own."""
    url_host = f"[{host}]" if ":" in host else host
    requests = [
        ProbeRequest(service.base_url, kind="http", health_path="/health"),
        ProbeRequest(f"http://{url_host}:{closed_port(host)}"),
        ProbeRequest(service.ws_url, kind="websocket"),
    ]
    results = probe_all(requests, budget=1.0)
    assert list(results) == requests
    assert [result.outcome for result in results.values()] == ["up", "refused", "up"]
    assert all(results[request].request == request for request in requests)


def test_probe_all_probes_duplicates_once() -> None:
    """A request listed three times is probed once and reported once."""
    with LocalService() as service:
        request = ProbeRequest(service.base_url, kind="http", health_path="/health")
        results = probe_all([request, request, attrs.evolve(request)], budget=1.0)
        assert list(results) == [request]
        assert service.connections == 1


def test_probe_all_of_nothing() -> None:
    """probe_all of no requests is an empty dict."""
    assert probe_all([]) == {}


# --- describe -----------------------------------------------------------------------------------

URL = "http://localhost:8002"


@pytest.mark.parametrize(
    ("result", "text"),
    [
        pytest.param(
            ProbeResult(ProbeRequest(URL), ok=False, outcome="refused", elapsed=0.0004),
            "http://localhost:8002 refused connection in 0.4 ms",
            id="refused",
        ),
        pytest.param(
            ProbeResult(ProbeRequest(URL), ok=False, outcome="timeout", elapsed=1.0004),
            "http://localhost:8002 did not answer within 1.0 s",
            id="timeout",
        ),
        pytest.param(
            ProbeResult(ProbeRequest(URL), ok=True, outcome="up", elapsed=0.0012),
            "http://localhost:8002 up in 1.2 ms",
            id="tcp up",
        ),
        pytest.param(
            ProbeResult(ProbeRequest(URL, "http", "/health"), ok=True, outcome="up", elapsed=0.0021, status=204),
            "http://localhost:8002/health up (HTTP 204) in 2.1 ms",
            id="http up",
        ),
        pytest.param(
            ProbeResult(
                ProbeRequest(URL, "http", "/health"),
                ok=False,
                outcome="http-status",
                elapsed=0.0031,
                status=503,
            ),
            "http://localhost:8002/health answered HTTP 503 in 3.1 ms",
            id="http status",
        ),
        pytest.param(
            ProbeResult(
                ProbeRequest("ws://localhost:8002/ws", "websocket"),
                ok=False,
                outcome="handshake-rejected",
                elapsed=0.002,
                status=400,
                detail="HTTP/1.1 400 Bad Request",
            ),
            "ws://localhost:8002/ws rejected the WebSocket handshake: HTTP/1.1 400 Bad Request",
            id="handshake rejected",
        ),
        pytest.param(
            ProbeResult(ProbeRequest("http://db.invalid"), ok=False, outcome="dns", elapsed=0.01, detail="x"),
            "http://db.invalid host name did not resolve: x",
            id="dns",
        ),
        pytest.param(
            ProbeResult(ProbeRequest("https://localhost:8443"), ok=False, outcome="tls", elapsed=0.01, detail="y"),
            "https://localhost:8443 TLS handshake failed: y",
            id="tls",
        ),
        pytest.param(
            ProbeResult(ProbeRequest("ftp://x"), ok=False, outcome="error", elapsed=0.0, detail="z"),
            "ftp://x could not be probed: z",
            id="error",
        ),
        pytest.param(
            ProbeResult(ProbeRequest(URL), ok=True, outcome="up", elapsed=1.25),
            "http://localhost:8002 up in 1.2 s",
            id="slow up in seconds",
        ),
    ],
)
def test_describe(result: ProbeResult, text: str) -> None:
    """describe() is one line naming the URL, what happened and how long it took."""
    assert result.describe() == text


def test_describe_of_a_real_refusal() -> None:
    """A real refused probe describes itself with its URL and milliseconds."""
    url = f"http://127.0.0.1:{closed_port()}"
    text = probe(ProbeRequest(url)).describe()
    assert text.startswith(f"{url} refused connection in ")
    assert text.endswith(" ms")


# --- the servers themselves ---------------------------------------------------------------------


def test_local_service_stops_promptly_with_a_client_holding_a_connection() -> None:
    """Leaving LocalService cuts idle connections instead of waiting for them."""
    service = LocalService().start()
    port = service.port
    idle = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    try:
        deadline = time.monotonic() + 1.0
        while service.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        start = time.monotonic()
        service.stop()
        assert time.monotonic() - start < SHUTDOWN_TIMEOUT / 2
    finally:
        idle.close()
    assert probe(ProbeRequest(f"http://127.0.0.1:{port}")).outcome == "refused"


def test_silent_listener_counts_and_holds_connections(silent: SilentListener, host: str) -> None:
    """A SilentListener accepts a connection and keeps it open without sending anything."""
    with socket.create_connection((host, silent.port), timeout=1.0) as client:
        client.settimeout(0.1)
        with pytest.raises(TimeoutError):
            client.recv(1)
    assert silent.accepted == 1


def test_health_path_answering_4xx_is_unhealthy() -> None:
    """A health path answering 404 is reachable but unhealthy, not up (the URL's own path answering 404 is up)."""
    with LocalService(health_status=404) as service:
        result = probe(ProbeRequest(service.base_url, "http", health_path="/health"), budget=2)
    assert (result.ok, result.outcome, result.status) == (False, "unhealthy", 404)
    assert result.describe().endswith("reachable, but its health check fails")
