"""The endpoint step's URL arithmetic: parts out of a URL, one part into it, and which endpoints are one."""

from __future__ import annotations

import pytest

from layercfg._model.urls import is_local, same_endpoint, url_parts, with_part


def test_url_parts_of_a_database_url():
    """host, port, user, password and database of a postgresql URL; the scheme's port when none is given."""
    assert url_parts("postgresql://app:p%40ss@db.local/netra") == {
        "host": "db.local",
        "port": 5432,
        "user": "app",
        "password": "p@ss",
        "database": "netra",
    }


def test_http_urls_carry_no_database():
    """An HTTP URL's path is not a database."""
    assert url_parts("http://localhost:8123/ping")["database"] is None


@pytest.mark.parametrize(
    ("url", "part", "value", "expected"),
    [
        pytest.param("postgresql://u@h:5432/db", "port", 6543, "postgresql://u@h:6543/db", id="port"),
        pytest.param("postgresql://u@h:5432/db", "password", "p@ss", "postgresql://u:p%40ss@h:5432/db", id="password"),
        pytest.param("postgresql://u@h:5432/db", "database", "other", "postgresql://u@h:5432/other", id="database"),
        pytest.param("redis://localhost:6379/0", "host", "::1", "redis://[::1]:6379/0", id="ipv6 host"),
        pytest.param("http://h", "port", 8080, "http://h:8080", id="port where none was"),
    ],
)
def test_with_part(url, part, value, expected):
    """One part replaced, the rest kept, quoting where a URL needs it."""
    assert with_part(url, part, value) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("http://localhost:8002", "http://127.0.0.1:8002/", True, id="loopback names"),
        pytest.param("http://localhost:8002", "http://localhost:8000", False, id="other port"),
        pytest.param("http://localhost", "http://localhost:80", True, id="default port"),
        pytest.param("http://localhost:8002", "https://localhost:8002", False, id="other scheme"),
        pytest.param("https://staging.example.test", "https://localhost", False, id="remote host"),
    ],
)
def test_same_endpoint(a, b, same):
    """Every loopback name of this machine is one host; scheme, port and path must match."""
    assert same_endpoint(a, b) is same


def test_is_local():
    """Loopback and wildcard addresses are this machine; a name elsewhere is not."""
    assert [is_local(u) for u in ("http://127.0.0.5:1", "http://[::1]:2", "http://0.0.0.0:3", "https://x.test")] == [
        True,
        True,
        True,
        False,
    ]
