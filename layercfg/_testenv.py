"""The built-in schema: where a service's test suite finds its backend.

Field names follow the seeds' ``TestContext`` / ``RealWebSocketTestConfig``; each
legacy name the real project used is an alias, lowest precedence first (so the
test-specific ``TEST_*`` and ``E2E_*`` names beat the generic one, and the canonical
``NETRA_*`` name beats them all).
"""

from __future__ import annotations

import attrs

from ._model.schema import Derivation, DiscoveryMode, FallbackMode, Service, engine_setting, setting

HTTP = ("http", "https")
WS = ("ws", "wss")
POSTGRES = ("postgresql", "postgres")
REDIS = ("redis", "rediss")


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
)
_STAGING_WS_FROM_BACKEND = Derivation(
    inputs=("staging_backend_url", "websocket_path"),
    compute=websocket_url_from,
)


@attrs.frozen
class TestEnvConfig:
    """Where every service of a test run is (backend, auth, frontend, postgres, redis, clickhouse), and how long
    to wait.

    Each service is declared on the field holding its URL (``setting(service=Service(...))``):
    the names it runs under in compose, its container port and the fields of its parts. Host,
    port and credential fields always agree with the URL (docs/services.md).
    """

    __test__ = False  # not a pytest test class, despite the name

    backend_url: str = setting(
        "http://localhost:8000",
        aliases=("API_URL", "BACKEND_SERVICE_URL", "BACKEND_URL", "TEST_BACKEND_URL", "E2E_BACKEND_URL"),
        port_aliases=("DOCKER_BACKEND_PORT", "ALPINE_TEST_BACKEND_PORT"),
        schemes=HTTP,
        service=Service(
            "backend",
            names=("backend", "dev-backend", "alpine-test-backend", "test-backend"),
            container_port=8000,
            host="backend_host",
            port="backend_port",
            probe="http",
        ),
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
    backend_host: str | None = setting(None, aliases=("BACKEND_HOST",), help="Host of backend_url.")
    backend_port: int | None = setting(None, aliases=("BACKEND_PORT",), minimum=1, help="Port of backend_url.")
    auth_url: str = setting(
        "http://localhost:8081",
        aliases=("AUTH_URL", "TEST_AUTH_URL", "E2E_AUTH_URL"),
        schemes=HTTP,
        service=Service(
            "auth",
            names=("auth", "dev-auth", "alpine-test-auth", "test-auth"),
            container_port=8081,
            host="auth_host",
            port="auth_port",
            probe="tcp",
        ),
        staging="staging_auth_url",
        help="Base URL of the auth service.",
    )
    auth_host: str | None = setting(None, aliases=("AUTH_SERVICE_HOST",), help="Host of auth_url.")
    auth_port: int | None = setting(
        None,
        aliases=("AUTH_SERVICE_PORT",),
        port_aliases=("ALPINE_TEST_AUTH_PORT",),
        minimum=1,
        help="Port of auth_url.",
    )
    frontend_url: str = setting(
        "http://localhost:3000",
        aliases=("FRONTEND_URL", "TEST_FRONTEND_URL"),
        schemes=HTTP,
        service=Service(
            "frontend",
            names=("frontend", "dev-frontend", "alpine-test-frontend", "test-frontend"),
            container_port=3000,
            host="frontend_host",
            port="frontend_port",
            probe="tcp",
        ),
        help="Base URL of the frontend.",
    )
    frontend_host: str | None = setting(None, aliases=("FRONTEND_HOST",), help="Host of frontend_url.")
    frontend_port: int | None = setting(
        None,
        aliases=("FRONTEND_PORT",),
        port_aliases=("ALPINE_TEST_FRONTEND_PORT",),
        minimum=1,
        help="Port of frontend_url.",
    )

    database_url: str = setting(
        "postgresql://postgres@localhost:5432/postgres",
        aliases=("DATABASE_URL", "TEST_DATABASE_URL"),
        schemes=POSTGRES,
        service=Service(
            "postgres",
            names=("postgres", "dev-postgres", "alpine-test-postgres", "test-postgres"),
            container_port=5432,
            host="postgres_host",
            port="postgres_port",
            user="postgres_user",
            password="postgres_password",
            database="postgres_db",
            credentials_env=(("user", "POSTGRES_USER"), ("password", "POSTGRES_PASSWORD"), ("database", "POSTGRES_DB")),
        ),
        help="PostgreSQL URL (postgresql://user:password@host:port/database); the password prints as <secret>.",
    )
    postgres_host: str | None = setting(None, aliases=("POSTGRES_HOST",), help="Host of database_url.")
    postgres_port: int | None = setting(
        None,
        aliases=("POSTGRES_PORT",),
        port_aliases=("ALPINE_TEST_POSTGRES_PORT",),
        minimum=1,
        help="Port of database_url.",
    )
    postgres_user: str | None = setting(None, aliases=("POSTGRES_USER",), help="User of database_url.")
    postgres_password: str | None = setting(
        None, aliases=("POSTGRES_PASSWORD",), secret=True, help="Password of database_url."
    )
    postgres_db: str | None = setting(None, aliases=("POSTGRES_DB",), help="Database of database_url.")

    redis_url: str = setting(
        "redis://localhost:6379/0",
        aliases=("REDIS_URL", "TEST_REDIS_URL"),
        schemes=REDIS,
        service=Service(
            "redis",
            names=("redis", "dev-redis", "alpine-test-redis", "test-redis"),
            container_port=6379,
            host="redis_host",
            port="redis_port",
            password="redis_password",
            credentials_env=(("password", "REDIS_PASSWORD"),),
        ),
        help="Redis URL (redis://[:password@]host:port/db).",
    )
    redis_host: str | None = setting(None, aliases=("REDIS_HOST",), help="Host of redis_url.")
    redis_port: int | None = setting(
        None, aliases=("REDIS_PORT",), port_aliases=("ALPINE_TEST_REDIS_PORT",), minimum=1, help="Port of redis_url."
    )
    redis_password: str | None = setting(None, aliases=("REDIS_PASSWORD",), secret=True, help="Password of redis_url.")

    clickhouse_url: str = setting(
        "http://localhost:8123",
        aliases=("CLICKHOUSE_URL",),
        schemes=("http", "https", "clickhouse"),
        service=Service(
            "clickhouse",
            names=("clickhouse", "dev-clickhouse", "alpine-test-clickhouse", "test-clickhouse"),
            container_port=8123,
            host="clickhouse_host",
            port="clickhouse_port",
            user="clickhouse_user",
            password="clickhouse_password",
            database="clickhouse_db",
            credentials_env=(
                ("user", "CLICKHOUSE_USER"),
                ("password", "CLICKHOUSE_PASSWORD"),
                ("database", "CLICKHOUSE_DB"),
            ),
            probe="http",
            health_path="/ping",
        ),
        help="ClickHouse HTTP interface URL.",
    )
    clickhouse_native_url: str = setting(
        "clickhouse://localhost:9000",
        schemes=("clickhouse",),
        service=Service(
            "clickhouse", endpoint="native", container_port=9000, host="clickhouse_host", port="clickhouse_native_port"
        ),
        help="ClickHouse native protocol URL (the second endpoint of the clickhouse service).",
    )
    clickhouse_host: str | None = setting(None, aliases=("CLICKHOUSE_HOST",), help="Host of the ClickHouse URLs.")
    clickhouse_port: int | None = setting(
        None,
        aliases=("CLICKHOUSE_HTTP_PORT",),
        port_aliases=("ALPINE_TEST_CLICKHOUSE_HTTP", "ALPINE_TEST_CLICKHOUSE_HTTP_PORT"),
        minimum=1,
        help="HTTP port of clickhouse_url.",
    )
    clickhouse_native_port: int | None = setting(
        None,
        aliases=("CLICKHOUSE_TCP_PORT", "CLICKHOUSE_NATIVE_PORT"),
        port_aliases=("ALPINE_TEST_CLICKHOUSE_TCP", "ALPINE_TEST_CLICKHOUSE_TCP_PORT"),
        minimum=1,
        help="Native-protocol port of clickhouse_native_url.",
    )
    clickhouse_user: str | None = setting(None, aliases=("CLICKHOUSE_USER",), help="ClickHouse user.")
    clickhouse_password: str | None = setting(
        None, aliases=("CLICKHOUSE_PASSWORD",), secret=True, help="ClickHouse password."
    )
    clickhouse_db: str | None = setting(None, aliases=("CLICKHOUSE_DB",), help="ClickHouse database.")

    docker_startup_timeout: float = engine_setting("docker_startup_timeout", aliases=("DOCKER_STARTUP_TIMEOUT",))
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

    # Discovery (see docs/docker.md): which compose files and project; the services say what to look for.
    discovery: DiscoveryMode = engine_setting("discovery")
    docker_timeout: float = engine_setting("docker_timeout")
    compose_files: tuple[str, ...] = engine_setting("compose_files")
    compose_project_directory: str | None = engine_setting("compose_project_directory")
    compose_project: str | None = engine_setting("compose_project")

    # Staging fallback (see docs/fallback.md).
    fallback: FallbackMode = engine_setting(
        "fallback",
        switches=(("USE_STAGING_FALLBACK", "auto"), ("USE_STAGING_SERVICES", "force"), ("STAGING_ENV", "force")),
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
    probe_timeout: float = engine_setting("probe_timeout")
    health_path: str = engine_setting("health_path")
