"""Tests for layercfg.testing.wait_for_service, against real sockets on loopback."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NO_DOCKER, Project
from servers import LocalService, ReplyingListener, closed_port

import layercfg
from layercfg.testing import wait_for_service

# Slack over a deadline: thread scheduling on a busy CI machine.
SLACK = 0.5


def load(project: Project, url: str) -> layercfg.TestEnvConfig:
    """A config whose backend_url comes from profiles/p.toml line 2."""
    project.profile("p", f'[values]\nbackend_url = "{url}"\nprobe_timeout = 0.2\n')
    config: layercfg.TestEnvConfig = layercfg.load_config(profile="p", project_dir=project.root, environ=NO_DOCKER)
    return config


@pytest.fixture
def service() -> Iterator[LocalService]:
    with LocalService() as running:
        yield running


def test_returns_at_once_when_service_is_up(project: Project, service: LocalService) -> None:
    """A healthy backend answers the first probe (HTTP GET of its health path), whose result is returned."""
    cfg = load(project, service.base_url)
    result = wait_for_service(cfg, "backend", timeout=5)
    request = result.request
    assert (result.ok, result.outcome, request.url, request.kind) == (True, "up", service.base_url, "http")
    assert service.requests == [("GET", "/health")]
    deadline = time.monotonic() + 1.0
    while service.connections < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # the server thread accepts a moment after the client's connect returns
    assert service.connections == 1


def test_waits_for_a_service_that_starts_later(project: Project) -> None:
    """A backend that starts listening 0.3 s after the wait began is found, after about 0.3 s."""
    port = closed_port()
    cfg = load(project, f"http://127.0.0.1:{port}")
    project.profile("p", f'[values]\nbackend_url = "http://127.0.0.1:{port}"\nprobe_timeout = 0.2\n')
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with LocalService() as service:
        cfg = load(project, service.base_url)
        service.health_status = 503
        timer = threading.Timer(0.3, lambda: setattr(service, "health_status", 200))
        began = time.monotonic()
        timer.start()
        try:
            result = wait_for_service(cfg, timeout=5, interval=0.05)
            waited = time.monotonic() - began
        finally:
            timer.cancel()
            timer.join()
    assert result.ok
    assert 0.25 <= waited < 5


def test_accepting_port_is_not_ready_until_the_app_answers(project: Project) -> None:
    """A port that accepts and closes at once (Docker's proxy before the app listens) is waited on, not ready."""
    with ReplyingListener(reply=None) as proxy:
        cfg = load(project, proxy.url())
        with pytest.raises(layercfg.ServiceTimeoutError) as caught:
            wait_for_service(cfg, "backend", timeout=0.3, interval=0.05, progress=False)
    assert "accepted and closed the connection in " in str(caught.value)
    assert "nothing listens behind the port yet" in str(caught.value)


def test_progress_lines_while_waiting(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long wait writes a progress line (to the given stream) every PROGRESS_EVERY seconds."""
    import io

    from layercfg import testing

    monkeypatch.setattr(testing, "PROGRESS_EVERY", 0.1)
    url = f"http://127.0.0.1:{closed_port()}"
    cfg = load(project, url)
    out = io.StringIO()
    with pytest.raises(layercfg.ServiceTimeoutError):
        wait_for_service(cfg, timeout=0.45, interval=0.05, progress=out)
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 5
    expected = rf"layercfg: waiting for backend: {re.escape(url)}/health refused connection in .* \(\d s of 0\.45 s\)"
    assert all(re.fullmatch(expected, line) for line in lines), lines


def test_async_twin_waits_without_blocking_the_loop(project: Project) -> None:
    """wait_for_service_async waits like wait_for_service while other tasks keep running."""
    import asyncio

    from layercfg.testing import wait_for_service_async

    with LocalService() as service:
        cfg = load(project, service.base_url)
        service.health_status = 503

        async def scenario() -> tuple[bool, int]:
            ticks = 0

            async def heal() -> None:
                nonlocal ticks
                for _ in range(6):
                    await asyncio.sleep(0.05)
                    ticks += 1
                service.health_status = 200

            healer = asyncio.create_task(heal())
            result = await wait_for_service_async(cfg, "backend", timeout=5, interval=0.02, progress=False)
            await healer
            return result.ok, ticks

        ok, ticks = asyncio.run(scenario())
    assert ok
    assert ticks == 6  # the loop ran the other task while waiting

    port = closed_port()
    refused = load(project, f"http://127.0.0.1:{port}")
    with pytest.raises(layercfg.ServiceTimeoutError, match="was not ready after waiting"):
        asyncio.run(wait_for_service_async(refused, timeout=0.2, interval=0.05, progress=False))


def test_times_out_naming_url_wait_and_source(project: Project) -> None:
    """Against a closed port the wait ends near its timeout with an error naming the URL, the wait and the receipt."""
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    cfg = load(project, url)
    began = time.monotonic()
    with pytest.raises(layercfg.ServiceTimeoutError) as caught:
        wait_for_service(cfg, "backend", timeout=0.5, interval=0.1)
    waited = time.monotonic() - began
    assert 0.5 <= waited < 0.5 + SLACK
    error = caught.value
    assert (error.service, error.url, error.source) == ("backend", url, "profile: profile p, profiles/p.toml:2")
    message = str(error)
    assert re.match(
        rf"backend at {re.escape(url)} was not ready after waiting 0\.\d s \(timeout 0\.5 s, \d+ probes\); ",
        message,
    )
    assert f"last probe: {url}/health refused connection in " in message
    assert message.endswith(
        "backend_url set by profile: profile p, profiles/p.toml:2 — run `layercfg explain backend_url`"
    )


def test_timeout_defaults_to_docker_startup_timeout(project: Project) -> None:
    """Without timeout=, the wait lasts docker_startup_timeout."""
    port = closed_port()
    project.profile(
        "p", f'[values]\nbackend_url = "http://127.0.0.1:{port}"\ndocker_startup_timeout = 0.3\nprobe_timeout = 0.1\n'
    )
    cfg = layercfg.load_config(profile="p", project_dir=project.root, environ=NO_DOCKER)
    with pytest.raises(layercfg.ServiceTimeoutError, match=r"timeout 0\.3 s"):
        wait_for_service(cfg, interval=0.05)


def test_config_without_receipt_has_unknown_origin() -> None:
    """A config built by hand has no receipt; the error says the origin is unknown."""
    url = f"http://127.0.0.1:{closed_port()}"
    cfg = layercfg.TestEnvConfig(backend_url=url, probe_timeout=0.1)
    with pytest.raises(layercfg.ServiceTimeoutError) as caught:
        wait_for_service(cfg, timeout=0.2, interval=0.05)
    assert caught.value.source == "unknown origin"
    assert "backend_url set by unknown origin" in str(caught.value)


def test_other_services_use_their_own_field(project: Project, service: LocalService) -> None:
    """wait_for_service(cfg, 'auth') probes auth_url, not backend_url."""
    project.profile(
        "p", f'[values]\nauth_url = "{service.base_url}"\nbackend_url = "http://127.0.0.1:{closed_port()}"\n'
    )
    cfg = layercfg.load_config(profile="p", project_dir=project.root, environ=NO_DOCKER)
    assert wait_for_service(cfg, "auth", timeout=2).request.url == service.base_url


def test_unknown_service_lists_known_ones(project: Project) -> None:
    """A service the schema does not name is an error listing the ones it does."""
    cfg = load(project, "http://127.0.0.1:9")
    with pytest.raises(
        layercfg.LayercfgError,
        match=r"unknown service 'bakend' \(known: auth, backend, clickhouse, frontend, postgres, redis\)",
    ):
        wait_for_service(cfg, "bakend", timeout=0)


def test_loads_the_config_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: LocalService
) -> None:
    """wait_for_service(None, environ=...) resolves the config from that mapping first."""
    monkeypatch.chdir(tmp_path)
    result = wait_for_service(None, environ={**NO_DOCKER, "NETRA_BACKEND_URL": service.base_url}, timeout=2)
    assert result.request.url == service.base_url
