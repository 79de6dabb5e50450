"""Local stand-ins for the services a test suite probes, all on loopback and all bounded.

- :class:`LocalService` - a real backend: ``GET /health`` and a WebSocket endpoint at ``/ws``.
- :func:`closed_port` - a port where nothing listens, so a connect is refused at once.
- :class:`BlackholeListener` - a listener whose accept queue is full, so a connect hangs
  until the caller's timeout (checked when it starts; see the class docstring).
- :class:`SilentListener` - accepts connections and never says a word, so a request or a
  handshake waits until the caller's timeout.

Every server binds port 0 on ``127.0.0.1`` (or ``::1`` with ``host="::1"``; see
:func:`ipv6_available`), is a context manager, and on exit closes its sockets and joins its
threads within :data:`SHUTDOWN_TIMEOUT` seconds. Nothing here resolves a host name.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import select
import socket
import socketserver
import threading
import time
from contextlib import suppress
from typing import Any, Literal

__all__ = [
    "SHUTDOWN_TIMEOUT",
    "BlackholeListener",
    "LocalService",
    "SilentListener",
    "closed_port",
    "ipv6_available",
    "url_host",
]

SHUTDOWN_TIMEOUT = 2.0
"""Upper bound, in seconds, on how long leaving any of these context managers may take."""

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A TLS connection starts with a handshake record (content type 22).
_TLS_HANDSHAKE_RECORD = 0x16

WebSocketMode = Literal["accept", "reject", "wrong-accept"]


def ipv6_available() -> bool:
    """True when a socket can be bound to ``::1`` here."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` where nothing listens: bound to port 0, read, then closed.

    Another process could take the port in between; on a test machine that is rare enough,
    and a test that sees a refusal fail that way will say so.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


# --- LocalService -------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # a 101 Switching Protocols answer needs HTTP/1.1
    # A client that connects and then says nothing frees its thread after this long.
    timeout = SHUTDOWN_TIMEOUT

    def handle(self) -> None:
        # A plain HTTP server reading a TLS hello waits for a newline that may never come; real
        # servers answer 400 at once, so this one does too, and a TLS client fails fast.
        with suppress(OSError):
            first = self.connection.recv(1, socket.MSG_PEEK)
            if first and first[0] == _TLS_HANDSHAKE_RECORD:
                self.connection.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                return
        super().handle()

    def do_GET(self) -> None:
        service = self.server.service
        service._record(self.command, self.path)
        self.close_connection = True  # one request per connection keeps shutdown simple
        path = self.path.split("?", 1)[0]
        if path == "/health":
            status = service.health_status
            self._send_json(status, {"status": "ok" if status < 500 else "unavailable"})
        elif path == "/ws":
            self._websocket(service.websocket)
        else:
            self._send_json(404, {"error": f"no route {path}"})

    def _websocket(self, mode: WebSocketMode) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
        if mode == "reject" or not upgrade or not key:
            self._send_json(400, {"error": "websocket handshake rejected"})
            return
        accept = base64.b64encode(hashlib.sha1((key.strip() + _WS_GUID).encode()).digest()).decode()
        if mode == "wrong-accept":
            accept = base64.b64encode(b"\0" * 20).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        # Then close the WebSocket at once: a close frame, status 1000 (normal closure).
        with suppress(OSError):
            self.wfile.write(b"\x88\x02\x03\xe8")
            self.wfile.flush()

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read .requests instead of stderr


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    # Handler threads are tracked and joined here, with a bound, instead of by ThreadingMixIn,
    # which would wait forever for a client that keeps a connection open.
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, service: LocalService) -> None:
        self.address_family = _family(host)
        self.service = service
        self.open_connections: set[socket.socket] = set()
        self.handler_threads: list[threading.Thread] = []
        self.connection_lock = threading.Lock()
        super().__init__((host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which may ask a DNS server.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self.connection_lock:
            self.open_connections.add(request)
            self.handler_threads = [t for t in self.handler_threads if t.is_alive()]
            self.handler_threads.append(thread)
        self.service._accepted()
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.connection_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)


class LocalService:
    """A small real backend on loopback, served from threads.

    - ``GET /health`` answers ``health_status`` (default 200) with a JSON body.
    - ``GET /ws`` does a real RFC 6455 opening handshake: ``101`` with the right
      ``Sec-WebSocket-Accept``, then a close frame. ``websocket="reject"`` answers ``400``
      instead, and ``websocket="wrong-accept"`` answers ``101`` with a wrong accept key.
    - Any other path answers ``404``; every answer closes its connection.
    - A TLS client hello is answered with a plain ``400``, as real plain-HTTP servers do.

    ``health_status`` and ``websocket`` may be changed while the service runs.
    ``connections`` counts accepted TCP connections and ``requests`` lists
    ``(method, path)`` pairs, so tests can tell how often a service was contacted.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", health_status: int = 200, websocket: WebSocketMode = "accept"
    ) -> None:
        self.host = host
        self.health_status = health_status
        self.websocket: WebSocketMode = websocket
        self._lock = threading.Lock()
        self._connections = 0
        self._requests: list[tuple[str, str]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalService:
        """Bind a free port and serve; returns self."""
        if self._server is not None:
            raise RuntimeError("LocalService is already running")
        self._server = _Server(self.host, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalService-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and join every thread within SHUTDOWN_TIMEOUT."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        server.shutdown()
        thread.join(max(deadline - time.monotonic(), 0))
        with server.connection_lock:
            connections = list(server.open_connections)
            handlers = list(server.handler_threads)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for handler in handlers:
            handler.join(max(deadline - time.monotonic(), 0))
        self._server = self._thread = None

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalService is not running")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (or ``http://[::1]:PORT``)."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws`` (or ``ws://[::1]:PORT/ws``)."""
        return f"ws://{url_host(self.host)}:{self.port}/ws"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._requests)

    def _accepted(self) -> None:
        with self._lock:
            self._connections += 1

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests.append((method, path))


# --- listeners that never answer ----------------------------------------------------------------


class BlackholeListener:
    """A listening port whose accept queue is full, so a new connect neither succeeds nor fails.

    It listens with a backlog of 0 and never accepts, then connects to itself until a
    connect times out: from then on the kernel drops further SYNs and a client's connect
    waits for its own timeout. :meth:`start` checks that this happened and raises
    ``RuntimeError`` if the platform completes connections anyway (use
    :class:`SilentListener` there). Verified on Linux, IPv4 and IPv6.
    """

    FILL_TIMEOUT = 0.1
    MAX_FILLERS = 16

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []

    def start(self) -> BlackholeListener:
        self._listener = socket.socket(_family(self.host), socket.SOCK_STREAM)
        try:
            self._listener.bind((self.host, 0))
            self._listener.listen(0)
            for _ in range(self.MAX_FILLERS):
                if not self._fill_one():
                    return self
            raise RuntimeError(f"{self.MAX_FILLERS} connects to a backlog-0 listener all succeeded")
        except BaseException:
            self.stop()
            raise

    def _fill_one(self) -> bool:
        """Make one more connection; False once the queue is full (the connect timed out)."""
        filler = socket.socket(_family(self.host), socket.SOCK_STREAM)
        filler.settimeout(self.FILL_TIMEOUT)
        try:
            filler.connect((self.host, self.port))
        except TimeoutError:
            filler.close()
            return False
        except BaseException:
            filler.close()
            raise
        self._fillers.append(filler)
        return True

    def stop(self) -> None:
        for sock in [*self._fillers, self._listener]:
            if sock is not None:
                sock.close()
        self._fillers.clear()
        self._listener = None

    def __enter__(self) -> BlackholeListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("BlackholeListener is not running")
        port: int = self._listener.getsockname()[1]
        return port

    def url(self, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://{url_host(self.host)}:{self.port}{path}"


class SilentListener:
    """Accepts every connection and never reads or writes, until it is stopped.

    A TCP probe sees it up; an HTTP request or a WebSocket handshake waits for an answer
    until the client's own timeout. ``accepted`` counts the connections taken.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SilentListener:
        self._listener = socket.socket(_family(self.host), socket.SOCK_STREAM)
        self._listener.bind((self.host, 0))
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept_loop, name="SilentListener", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            # select with a short timeout so stop() is noticed without closing under accept().
            readable, _, _ = select.select([listener], [], [], 0.05)
            if not readable:
                continue
            with suppress(OSError):
                connection, _ = listener.accept()
                with self._lock:
                    self._held.append(connection)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            self._thread = None
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            sock.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> SilentListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("SilentListener is not running")
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._held)

    def url(self, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://{url_host(self.host)}:{self.port}{path}"


class ReplyingListener:
    """Accepts connections and answers each in a fixed way, like a service's first bytes would.

    ``reply`` is what it sends after reading whatever arrives first (``b"N"`` answers a
    PostgreSQL SSLRequest, ``b"+PONG\\r\\n"`` a Redis PING); ``None`` closes each connection as
    soon as it is accepted, the way Docker's userland proxy does when nothing listens in the
    container. ``greeting`` is sent right after accepting, before reading.
    """

    def __init__(self, host: str = "127.0.0.1", reply: bytes | None = None, greeting: bytes = b"") -> None:
        self.host = host
        self.reply = reply
        self.greeting = greeting
        self.received: list[bytes] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ReplyingListener:
        self._listener = socket.socket(_family(self.host), socket.SOCK_STREAM)
        self._listener.bind((self.host, 0))
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._serve, name="ReplyingListener", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            if not select.select([listener], [], [], 0.05)[0]:
                continue
            with suppress(OSError):
                connection, _ = listener.accept()
                with connection:
                    if self.reply is None:
                        continue  # closed at once
                    connection.settimeout(SHUTDOWN_TIMEOUT)
                    if self.greeting:
                        connection.sendall(self.greeting)
                    self.received.append(connection.recv(512))
                    connection.sendall(self.reply)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> ReplyingListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("ReplyingListener is not running")
        port: int = self._listener.getsockname()[1]
        return port

    def url(self, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://{url_host(self.host)}:{self.port}{path}"
