"""Compose port syntax: ``[[IP:]HOST:]CONTAINER[/PROTOCOL]``, ranges, and the long syntax's parts.

Pure text to numbers, no YAML: :mod:`layercfg._sources.compose` reads the file and hands each port
here; a ``ValueError`` says what is wrong with one port, and the reader turns it into a
warning with the port's ``PATH:LINE``.
"""

from __future__ import annotations

_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})


def parse_short_port(spec: str) -> tuple[str | None, list[tuple[int | None, int]], str]:
    """``[[IP:]HOST:]CONTAINER[/PROTOCOL]`` -> (host IP, (host port, container port) pairs, protocol)."""
    body, slash, protocol = spec.strip().partition("/")
    host_ip: str | None = None
    host: str | None
    if body.startswith("["):
        end = body.find("]")
        if end < 0:
            raise ValueError("'[' opens an IPv6 address that is never closed")
        host_ip, rest = body[1:end], body[end + 1 :]
        if not rest.startswith(":") or rest.count(":") != 2:
            raise ValueError("expected [IP]:HOST:CONTAINER")
        host, container = rest[1:].split(":")
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host, container = None, parts[0]
        elif len(parts) == 2:
            host, container = parts
        else:
            # An unbracketed IPv6 address: the last two fields are always the ports.
            host_ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    return host_ip or None, port_pairs(host or None, container), protocol_name(protocol if slash else "tcp")


def port_pairs(host: str | None, container: str) -> list[tuple[int | None, int]]:
    container_start, container_end = _port_range(container, "container port")
    if host is None or host.strip() == "0":
        # Host port 0 (`"${API_PORT:-0}:8000"`) is what leaving it out is: Docker picks a free
        # port, and discovery reads it back from the running container.
        return [(None, port) for port in range(container_start, container_end + 1)]
    host_start, host_end = _port_range(host, "host port")
    if container_start == container_end:
        # A host range for one container port lets Docker pick any free port in it.
        return [(host_start if host_start == host_end else None, container_start)]
    if host_end - host_start != container_end - container_start:
        raise ValueError(f"host range {host} and container range {container} differ in length")
    return list(zip(range(host_start, host_end + 1), range(container_start, container_end + 1), strict=True))


def _port_range(text: str, what: str) -> tuple[int, int]:
    first, dash, last = text.strip().partition("-")
    start = _port_number(first, what)
    end = _port_number(last, what) if dash else start
    if end < start:
        raise ValueError(f"{what} range {text!r} ends before it starts")
    return start, end


def _port_number(text: str, what: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= 65535:
        raise ValueError(f"{what} {text!r} is not a port number (1-65535)")
    return int(text)


def protocol_name(text: str) -> str:
    protocol = text.strip().lower()
    if protocol not in _PROTOCOLS:
        raise ValueError(f"protocol {text!r} is not one of {', '.join(sorted(_PROTOCOLS))}")
    return protocol
