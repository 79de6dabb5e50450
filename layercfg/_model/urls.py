"""The parts of a URL: host, port, credentials and database, read and replaced; whether it points at
this machine. Pure functions on strings, shared by discovery, resolution, fallback, doctor and scan."""

from __future__ import annotations

from urllib.parse import SplitResult, quote, unquote, urlsplit

from .services import default_port

HTTP_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def url_parts(url: str) -> dict[str, object]:
    """host, port (explicit or the scheme's default), user, password and database of a URL."""
    parts = urlsplit(url)
    try:
        port: int | None = parts.port
    except ValueError:
        port = None
    path = parts.path.strip("/")
    return {
        "host": parts.hostname,
        "port": port if port is not None else default_port(parts.scheme),
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "database": unquote(path) if path and parts.scheme not in HTTP_SCHEMES else None,
    }


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})


def is_local(url: str) -> bool:
    """Whether a URL points at this machine (loopback, or a wildcard address published by Docker)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and (host in LOCAL_HOSTS or host.startswith("127."))


def same_endpoint(a: str, b: str) -> bool:
    """Whether two URLs reach the same endpoint: same scheme and port, and the same host, where every
    loopback name of this machine is one host (``localhost:8002`` is ``127.0.0.1:8002``)."""
    try:
        left, right = urlsplit(a), urlsplit(b)
        ports = (left.port or default_port(left.scheme), right.port or default_port(right.scheme))
    except ValueError:
        return a == b
    if left.scheme != right.scheme or ports[0] != ports[1] or left.path.rstrip("/") != right.path.rstrip("/"):
        return False
    return left.hostname == right.hostname or (is_local(a) and is_local(b))


def composable(part: str, scheme: str) -> bool:
    """Whether ``part`` lives inside a URL of ``scheme`` (HTTP URLs carry no database)."""
    return not (part == "database" and scheme in HTTP_SCHEMES)


def with_part(url: str, part: str, value: object) -> str:
    """``url`` with one part replaced."""
    parts = urlsplit(url)
    current = url_parts(url)
    current[part] = value
    host = str(current["host"] or "localhost")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host
    if current["port"] is not None and (part == "port" or parts.port is not None):
        netloc += f":{current['port']}"
    if current["user"] or current["password"]:
        userinfo = quote(str(current["user"] or ""), safe="")
        if current["password"]:
            userinfo += ":" + quote(str(current["password"]), safe="")
        netloc = f"{userinfo}@{netloc}"
    path = parts.path
    if part == "database":
        path = f"/{quote(str(value), safe='')}" if value else ""
    return SplitResult(parts.scheme, netloc, path, parts.query, parts.fragment).geturl()


def port_of(url: str) -> int | None:
    """The port a URL connects to (explicit, or the scheme's default)."""
    port = url_parts(url)["port"]
    return port if isinstance(port, int) else None
