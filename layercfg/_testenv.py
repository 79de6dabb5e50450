"""The built-in schema: where a service's test suite finds its backend.

Field names follow the seeds' ``TestContext`` / ``RealWebSocketTestConfig``; each
legacy name the real project used is an alias, lowest precedence first (so the
test-specific ``TEST_*`` and ``E2E_*`` names beat the generic one, and the canonical
``NETRA_*`` name beats them all).
"""

from __future__ import annotations

from typing import Literal

import attrs

from ._schema import Derivation, setting

HTTP = ("http", "https")
WS = ("ws", "wss")


def websocket_url_from(base_url: str | None, path: str) -> str | None:
    """``http://host:8002`` + ``/ws`` -> ``ws://host:8002/ws`` (https -> wss)."""
    if not base_url:
        return None
    if base_url.startswith("https://"):
        base = "wss://" + base_url[len("https://") :]
    elif base_url.startswith("http://"):
        base = "ws://" + base_url[len("http://") :]
    else:
        base = base_url
    return base.rstrip("/") + "/" + path.lstrip("/")


_WS_FROM_BACKEND = Derivation(
    inputs=("backend_url", "websocket_path"),
    compute=websocket_url_from,
    describe="backend_url with http->ws, https->wss, + websocket_path",
)
_STAGING_WS_FROM_BACKEND = Derivation(
    inputs=("staging_backend_url", "websocket_path"),
    compute=websocket_url_from,
    describe="staging_backend_url with http->ws, https->wss, + websocket_path",
)


@attrs.frozen
class TestEnvConfig:
    """Where the backend, auth service and frontend of a test run are, and how long to wait."""

    __test__ = False  # not a pytest test class, despite the name

    backend_url: str = setting(
        "http://localhost:8000",
        aliases=("BACKEND_URL", "TEST_BACKEND_URL", "E2E_BACKEND_URL"),
        port_aliases=("DOCKER_BACKEND_PORT", "ALPINE_TEST_BACKEND_PORT"),
        schemes=HTTP,
        service="backend",
        staging="staging_backend_url",
        help="Base URL of the backend under test.",
    )
    websocket_path: str = setting(
        "/ws", aliases=("WEBSOCKET_PATH",), help="Path of the WebSocket endpoint on the backend."
    )
    websocket_url: str = setting(
        "ws://localhost:8000/ws",
        aliases=("WEBSOCKET_URL", "TEST_WEBSOCKET_URL", "WS_URL"),
        schemes=WS,
        derive=_WS_FROM_BACKEND,
        staging="staging_websocket_url",
        help="WebSocket URL; derived from backend_url unless set at or above backend_url's layer.",
    )
    auth_url: str = setting(
        "http://localhost:8081",
        aliases=("AUTH_URL", "TEST_AUTH_URL", "E2E_AUTH_URL"),
        schemes=HTTP,
        service="auth",
        staging="staging_auth_url",
        help="Base URL of the auth service.",
    )
    frontend_url: str = setting(
        "http://localhost:3000",
        aliases=("FRONTEND_URL", "TEST_FRONTEND_URL"),
        schemes=HTTP,
        service="frontend",
        help="Base URL of the frontend.",
    )
    docker_startup_timeout: float = setting(
        120.0,
        aliases=("DOCKER_STARTUP_TIMEOUT",),
        unit="seconds",
        minimum=0,
        help="How long to wait for the Docker stack to become reachable.",
    )
    connection_timeout: float = setting(
        10.0, aliases=("CONNECTION_TIMEOUT",), unit="seconds", minimum=0, help="Timeout of one connection attempt."
    )
    event_timeout: float = setting(
        30.0, aliases=("EVENT_TIMEOUT",), unit="seconds", minimum=0, help="How long a test waits for one event."
    )
    max_retries: int = setting(3, aliases=("MAX_RETRIES",), unit="count", minimum=0, help="Connection retries.")
    test_user_email: str | None = setting(None, aliases=("TEST_USER_EMAIL",), help="Login of the test user.")
    test_user_password: str | None = setting(
        None, aliases=("TEST_USER_PASSWORD",), secret=True, help="Password of the test user."
    )

    # Discovery (see docs/docker.md): which containers and compose services are the endpoints.
    discovery: Literal["off", "auto", "required"] = setting(
        "off",
        help="off: no Docker or compose lookups; auto: use what is found, note what is not; "
        "required: fail the load when a service's endpoint cannot be discovered.",
    )
    docker_timeout: float = setting(
        2.0, aliases=("DOCKER_TIMEOUT",), unit="seconds", minimum=0, help="Budget for all Docker engine calls."
    )
    compose_files: tuple[str, ...] = setting(
        (), help="Compose files to read declared ports from (relative to the project; searched in . and docker/)."
    )
    compose_project_directory: str | None = setting(
        None, help="Compose project directory (default: the directory of the first compose file)."
    )
    compose_project: str | None = setting(
        None, aliases=("COMPOSE_PROJECT_NAME",), help="Only containers of this compose project."
    )
    backend_service_names: tuple[str, ...] = setting(
        ("backend", "dev-backend", "alpine-test-backend", "test-backend"),
        help="Compose services, container names or network aliases of the backend, preferred first.",
    )
    backend_container_port: int = setting(8000, minimum=1, help="The backend's port inside its container.")
    auth_service_names: tuple[str, ...] = setting(
        ("auth", "dev-auth", "alpine-test-auth", "test-auth"), help="Names of the auth service, preferred first."
    )
    auth_container_port: int = setting(8081, minimum=1, help="The auth service's port inside its container.")
    frontend_service_names: tuple[str, ...] = setting(
        ("frontend", "dev-frontend", "alpine-test-frontend", "test-frontend"),
        help="Names of the frontend service, preferred first.",
    )
    frontend_container_port: int = setting(3000, minimum=1, help="The frontend's port inside its container.")

    # Staging fallback (see docs/fallback.md).
    fallback: Literal["off", "auto", "force"] = setting(
        "off",
        switches=(("USE_STAGING_FALLBACK", "auto"), ("USE_STAGING_SERVICES", "force"), ("STAGING_ENV", "force")),
        help="off: never use staging; auto: use staging when the backend fails its probe; force: always staging.",
    )
    staging_backend_url: str | None = setting(
        None, aliases=("STAGING_BASE_URL", "STAGING_BACKEND_URL"), schemes=HTTP, help="Staging backend base URL."
    )
    staging_websocket_url: str | None = setting(
        None,
        aliases=("STAGING_WEBSOCKET_URL", "STAGING_WS_URL"),
        schemes=WS,
        derive=_STAGING_WS_FROM_BACKEND,
        help="Staging WebSocket URL; derived from staging_backend_url unless set.",
    )
    staging_auth_url: str | None = setting(
        None, aliases=("STAGING_AUTH_URL",), schemes=HTTP, help="Staging auth service base URL."
    )
    probe_timeout: float = setting(
        1.0, unit="seconds", minimum=0, help="Budget of one reachability probe (fallback, doctor, pytest marker)."
    )
    health_path: str = setting("/health", help="Path probed with HTTP GET to decide whether a service is up.")
