"""Staging fallback: the endpoint set switches together, with the probe result as receipt.

Real sockets only: a LocalService on 127.0.0.1 stands in for staging (and for a live
backend), a closed port for a dead backend, a blackhole listener for one that hangs. Fallback
probes every local candidate of backend_url before it leaves the machine, so each project here
has its default backend on a closed port too (conftest.pin_default_backend): no test depends on
localhost:8000 or 8002 being free.
"""

from __future__ import annotations

import time

import pytest
from conftest import NO_DOCKER, Project, pin_default_backend
from servers import BlackholeListener, LocalService, closed_port

from layercfg import ConfigError, LayerKind, load


@pytest.fixture
def project(project: Project) -> Project:
    """The conftest project, its schema's default backend_url on a closed port."""
    pin_default_backend(project.root)
    return project


@pytest.fixture
def staging():
    """A live stand-in for staging on 127.0.0.1."""
    with LocalService() as service:
        yield service


@pytest.fixture
def dead_backend():
    """A backend URL on 127.0.0.1 where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{closed_port()}"


def environ(**values: str) -> dict[str, str]:
    return {**NO_DOCKER, **values}


def test_auto_switches_the_whole_set_when_backend_refuses(project, staging, dead_backend):
    """Backend refused -> backend, WebSocket and auth URLs all switch to staging, each with the probe as receipt."""
    env = environ(
        NETRA_BACKEND_URL=dead_backend,
        STAGING_BASE_URL=staging.base_url,
        STAGING_AUTH_URL="http://127.0.0.1:1",
    )
    loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
    cfg = loaded.config
    assert (cfg.backend_url, cfg.websocket_url, cfg.auth_url) == (
        staging.base_url,
        staging.ws_url,
        "http://127.0.0.1:1",
    )
    receipt = loaded.trace["backend_url"].winner.origin
    assert (receipt.layer, receipt.source) == (LayerKind.FALLBACK, "env STAGING_BASE_URL")
    assert f"backend {dead_backend}/health refused connection in" in receipt.detail
    assert f"staging {staging.base_url}/health up (HTTP 200)" in receipt.detail
    assert "fallback=auto from profile staging-fallback (<builtin>/profiles/staging-fallback.toml:5)" in receipt.detail
    assert loaded.trace["backend_url"].candidates[1].raw == dead_backend  # the primary, shadowed
    assert loaded.trace.fallback.fields == ("backend_url", "websocket_url", "auth_url")
    assert any(note.startswith("fallback (auto): using staging endpoints") for note in loaded.trace.warnings)


def test_auto_keeps_a_live_backend(project, staging):
    """Backend up -> nothing switches, and the note says the backend answered."""
    with LocalService() as backend:
        env = environ(NETRA_BACKEND_URL=backend.base_url, STAGING_BASE_URL=staging.base_url)
        loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
        assert loaded.config.backend_url == backend.base_url
        assert loaded.trace.fallback.reason.startswith(f"backend is up: {backend.base_url}/health up (HTTP 200) in")


def test_both_down_keeps_primary_and_says_both_failed(project, dead_backend):
    """Backend and staging both refuse -> the primary set stays, and the note names both failures."""
    dead_staging = f"http://127.0.0.1:{closed_port()}"
    env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=dead_staging)
    loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
    assert loaded.config.backend_url == dead_backend
    reason = loaded.trace.fallback.reason
    assert f"backend is down ({dead_backend}/health refused connection" in reason
    assert f"staging is down too ({dead_staging}/health refused connection" in reason
    assert reason in loaded.trace["backend_url"].warnings  # a warning on the field, not only a note


def test_hung_backend_costs_about_the_budget(project, staging):
    """A backend that never completes the connection costs about probe_timeout, not more."""
    with BlackholeListener() as hole:
        env = environ(
            NETRA_BACKEND_URL=f"http://127.0.0.1:{hole.port}",
            STAGING_BASE_URL=staging.base_url,
            NETRA_PROBE_TIMEOUT="0.3",
        )
        start = time.perf_counter()
        loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
        elapsed = time.perf_counter() - start
    assert loaded.config.backend_url == staging.base_url
    assert "did not answer within" in loaded.trace["backend_url"].winner.origin.detail
    assert elapsed < 0.3 + 0.5


def test_force_switches_without_probing(project, dead_backend):
    """force switches even to a staging URL nothing listens on: it does not probe."""
    dead_staging = f"http://127.0.0.1:{closed_port()}"
    env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=dead_staging, NETRA_FALLBACK="force")
    loaded = load(project_dir=project.root, environ=env)
    assert loaded.config.backend_url == dead_staging
    assert loaded.trace.fallback.probes == ()


def test_override_is_never_replaced(project, staging, dead_backend):
    """An endpoint set by the override layer stays, even in force mode, and the note says why."""
    env = environ(STAGING_BASE_URL=staging.base_url, NETRA_FALLBACK="force")
    loaded = load(project_dir=project.root, environ=env, overrides={"backend_url": dead_backend})
    assert loaded.config.backend_url == dead_backend
    assert "fallback never replaces an explicit override" in loaded.trace.fallback.reason


def test_overridden_auth_stays_while_the_rest_switches(project, staging, dead_backend):
    """Only the overridden endpoint is kept; the others switch together."""
    env = environ(
        NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=staging.base_url, STAGING_AUTH_URL="http://127.0.0.1:2"
    )
    loaded = load(
        profile="staging-fallback", project_dir=project.root, environ=env, overrides={"auth_url": "http://127.0.0.1:3"}
    )
    assert (loaded.config.backend_url, loaded.config.auth_url) == (staging.base_url, "http://127.0.0.1:3")


def test_fallback_off_for_one_call(project, staging, dead_backend):
    """load(fallback="off") keeps the primary set even under the staging-fallback profile."""
    env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=staging.base_url)
    loaded = load(profile="staging-fallback", project_dir=project.root, environ=env, fallback="off")
    assert loaded.config.backend_url == dead_backend


def test_no_staging_configured_says_so(project, dead_backend):
    """auto without a staging URL keeps the primary and names the variables to set."""
    loaded = load(profile="staging-fallback", project_dir=project.root, environ=environ(NETRA_BACKEND_URL=dead_backend))
    assert loaded.config.backend_url == dead_backend
    assert "staging_backend_url is not set (set NETRA_STAGING_BACKEND_URL or one of STAGING_BASE_URL" in (
        loaded.trace.fallback.reason
    )


@pytest.mark.parametrize(
    ("variable", "value", "mode"),
    [
        ("USE_STAGING_FALLBACK", "true", "auto"),
        ("USE_STAGING_SERVICES", "true", "force"),
        ("STAGING_ENV", "yes", "force"),
        ("USE_STAGING_SERVICES", "false", "off"),
    ],
)
def test_legacy_switches(project, variable, value, mode):
    """The seeds' on/off variables set the fallback mode, and the receipt says which one did."""
    loaded = load(project_dir=project.root, environ=environ(**{variable: value}), fallback=None)
    assert loaded.config.fallback == mode
    if mode != "off":
        assert loaded.trace["fallback"].winner.origin.source == f"env {variable}"


def test_legacy_switch_with_a_bad_word(project):
    """USE_STAGING_SERVICES=maybe is an error naming the variable."""
    with pytest.raises(ConfigError, match=r"fallback: expected one of .*got 'maybe' \(env USE_STAGING_SERVICES"):
        load(project_dir=project.root, environ=environ(USE_STAGING_SERVICES="maybe"))


class TestSeed847:
    """Issue #847's staging scenarios with their documented outcomes (docs/fallback.md)."""

    STAGING = "https://netra-backend-701982941522.us-central1.run.app"

    def test_scenario_2_staging_services_forced(self, project):
        """USE_STAGING_SERVICES/STAGING_ENV=true mean force: the whole set is staging, with the switch as receipt."""
        env = environ(STAGING_BASE_URL=self.STAGING, USE_STAGING_SERVICES="true", STAGING_ENV="true")
        loaded = load(project_dir=project.root, environ=env)
        assert (loaded.config.backend_url, loaded.config.websocket_url) == (
            self.STAGING,
            "wss://netra-backend-701982941522.us-central1.run.app/ws",
        )
        assert loaded.trace["fallback"].winner.origin.source == "env STAGING_ENV"

    def test_scenario_3_priority_is_documented(self, project):
        """Every source at once: force-to-staging wins over TEST_BACKEND_URL and DOCKER_BACKEND_PORT, all listed."""
        env = environ(
            TEST_BACKEND_URL="http://localhost:8000",
            DOCKER_BACKEND_PORT="8002",
            STAGING_BASE_URL=self.STAGING,
            USE_STAGING_SERVICES="true",
        )
        loaded = load(profile="alpine-test", project_dir=project.root, environ=env)
        sources = [(c.origin.layer.label, c.origin.source) for c in loaded.trace["backend_url"].candidates]
        assert sources == [
            ("fallback", "env STAGING_BASE_URL"),
            ("environment", "env DOCKER_BACKEND_PORT"),
            ("environment", "env TEST_BACKEND_URL"),
            ("profile", "profile alpine-test"),
            ("profile", "profile docker"),
            ("profile", "profile local"),
            ("default", "schema default"),
        ]


class TestSeed666And544:
    """Docker down: tests run against staging with a visible receipt, or are told clearly why not."""

    def test_docker_down_staging_up(self, project, staging):
        """alpine-test,staging-fallback with no Docker engine and staging up: staging, with both reasons noted."""
        env = environ(STAGING_BASE_URL=staging.base_url, STAGING_WEBSOCKET_URL=staging.ws_url)
        # alpine-test's backend (localhost:8002; docker's and local's under it) is dead here: closed ports.
        for name in ("alpine-test", "docker", "local"):
            project.pin_builtin_profile(name)
        env["NETRA_BACKEND_URL"] = f"http://127.0.0.1:{closed_port()}"
        loaded = load(profile="alpine-test,staging-fallback", project_dir=project.root, environ=env)
        assert (loaded.config.backend_url, loaded.config.websocket_url) == (staging.base_url, staging.ws_url)
        notes = " | ".join(loaded.trace.warnings)
        assert "docker: Docker socket /nonexistent-layercfg-test/docker.sock does not exist" in notes
        assert "fallback (auto): using staging endpoints: backend http://127.0.0.1:" in notes

    def test_docker_down_staging_down(self, project):
        """Both down: the primary set stays and the receipt says both failed (the pytest marker then skips)."""
        for name in ("alpine-test", "docker", "local"):
            project.pin_builtin_profile(name)
        env = environ(
            NETRA_BACKEND_URL=f"http://127.0.0.1:{closed_port()}",
            STAGING_BASE_URL=f"http://127.0.0.1:{closed_port()}",
        )
        loaded = load(profile="alpine-test,staging-fallback", project_dir=project.root, environ=env)
        assert loaded.config.backend_url == env["NETRA_BACKEND_URL"]
        assert "staging is down too" in loaded.trace.fallback.reason


def test_cli_explain_shows_fallback_and_no_fallback(run_cli, project, staging, dead_backend):
    """explain says `set by fallback` with the probe; --no-fallback turns it off for the run."""
    env = {
        **NO_DOCKER,
        "NETRA_PROFILE": "staging-fallback",
        "NETRA_BACKEND_URL": dead_backend,
        "STAGING_BASE_URL": staging.base_url,
    }
    out = run_cli("explain", "backend_url", env=env, cwd=project.root).stdout
    assert out.splitlines()[0] == f"backend_url = {staging.base_url}"
    assert out.splitlines()[1].startswith("  set by    fallback     env STAGING_BASE_URL (staging_backend_url: backend")
    off = run_cli("explain", "backend_url", "--no-fallback", env=env, cwd=project.root).stdout
    assert off.splitlines()[0] == f"backend_url = {dead_backend}"


class TestRightAnswers:
    """Fallback leaves the machine only when nothing here answers, says which endpoints could not switch,
    and takes a health path answering 4xx as unhealthy."""

    def test_a_running_local_candidate_keeps_the_run_here(self, project, staging, dead_backend):
        """The winner is dead but the profile's candidate answers: no switch to staging, and a warning says which."""
        with LocalService() as local:
            project.profile(
                "p", f'[profile]\nextends = "staging-fallback"\n[values]\nbackend_url = "{local.base_url}"\n'
            )
            env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=staging.base_url)
            loaded = load(profile="p", project_dir=project.root, environ=env)
            assert loaded.trace.fallback is not None
            assert not loaded.trace.fallback.switched
            assert f"another candidate of backend_url is up on this machine ({local.base_url}/health up" in (
                loaded.trace.fallback.reason
            )
            assert loaded.config.backend_url == dead_backend  # not replaced behind the user's back: explained
            assert any("not leaving it for staging" in w for w in loaded.trace["backend_url"].warnings)

    def test_endpoints_without_a_counterpart_are_named(self, project, staging, dead_backend):
        """STAGING_BASE_URL without STAGING_AUTH_URL: auth_url stays local, and the receipt and report say so."""
        env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=staging.base_url)
        loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
        report = loaded.trace.fallback
        assert report is not None
        assert (report.switched, report.fields, report.unswitched) == (
            True,
            ("backend_url", "websocket_url"),
            ("auth_url",),
        )
        assert "auth_url could not switch (no staging counterpart set)" in report.reason
        assert (
            "fallback: auth_url stays at http://localhost:8081: staging_auth_url is not set "
            "(set NETRA_STAGING_AUTH_URL or STAGING_AUTH_URL)"
        ) in loaded.trace["auth_url"].warnings

    def test_staging_health_answering_404_is_not_up(self, project, dead_backend):
        """Seed 544: a staging backend whose /health answers 404 is reachable but unhealthy: no switch."""
        with LocalService(health_status=404) as unhealthy:
            env = environ(NETRA_BACKEND_URL=dead_backend, STAGING_BASE_URL=unhealthy.base_url)
            loaded = load(profile="staging-fallback", project_dir=project.root, environ=env)
        assert loaded.trace.fallback is not None
        assert not loaded.trace.fallback.switched
        assert "answered HTTP 404" in loaded.trace.fallback.reason
        assert "reachable, but its health check fails" in loaded.trace.fallback.reason

    def test_no_port_conflict_against_staging_or_equal_hosts(self, project):
        """localhost and 127.0.0.1 with one port are one endpoint: doctor reports no legacy disagreement."""
        from layercfg._doctor import run_doctor

        env = environ(NETRA_BACKEND_URL="http://127.0.0.1:8002", TEST_BACKEND_URL="http://localhost:8002")
        findings = run_doctor(profile="local", project_dir=str(project.root), environ=env, probe=False)
        assert [f for f in findings if f.check == "legacy.disagree"] == []
