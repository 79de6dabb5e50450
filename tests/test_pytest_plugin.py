"""Tests for layercfg.pytest_plugin: real pytest runs (pytester) against real sockets on loopback."""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NO_DOCKER
from servers import LocalService, closed_port

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.layercfg]
schema = "layercfg:TestEnvConfig"
"""
# backend_url on line 2: the header and the skip reason name profiles/p.toml:2.
PROFILE = """\
[values]
backend_url = "{url}"
probe_timeout = 0.5
"""
TIMEOUT = 120  # seconds for one inner pytest process; each normally takes about one


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable layercfg reads leaks in from the machine running these tests."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    names = set(schema_info(TestEnvConfig, "NETRA_").by_env_name) | {"NETRA_PROFILE", "CI"}
    for name in names & set(os.environ):
        monkeypatch.delenv(name)
    for name, value in NO_DOCKER.items():
        monkeypatch.setenv(name, value)


def make_project(pytester: pytest.Pytester, url: str, *, table: bool = True, ini: str = "") -> None:
    """A project with profiles/p.toml setting backend_url, and optionally [tool.layercfg] and ini keys."""
    pyproject = PYPROJECT if table else ""
    if ini:
        pyproject += "\n[tool.pytest.ini_options]\n" + textwrap.dedent(ini)
    pytester.makepyprojecttoml(pyproject)
    pytester.mkdir("profiles")
    (pytester.path / "profiles" / "p.toml").write_text(PROFILE.format(url=url), encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a fresh process (the environment as monkeypatched here, nothing cached)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT)


@pytest.fixture
def service() -> Iterator[LocalService]:
    with LocalService() as running:
        yield running


def header(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("layercfg:")]


# --- header and options --------------------------------------------------------------------------


def test_header_names_profile_and_backend_source(pytester: pytest.Pytester) -> None:
    """The header says which profile is active and which profile line set backend_url."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile("def test_nothing(): pass")
    result = run(pytester, "--layercfg-profile", "p")
    assert header(result) == [
        "layercfg: profile p",
        "layercfg:   backend_url=http://127.0.0.1:9 (profile: profile p, profiles/p.toml:2)",
        "layercfg:   auth_url=http://localhost:8081 (default: schema default)",
        "layercfg:   frontend_url=http://localhost:3000 (default: schema default)",
        "layercfg:   database_url=postgresql://postgres@localhost:5432/postgres (default: schema default)",
        "layercfg:   redis_url=redis://localhost:6379/0 (default: schema default)",
        "layercfg:   clickhouse_url=http://localhost:8123 (default: schema default)",
        "layercfg:   websocket_url=ws://127.0.0.1:9/ws (derived)",
    ]
    result.assert_outcomes(passed=1)


def test_set_option_beats_profile_and_shows_as_override(pytester: pytest.Pytester) -> None:
    """--layercfg-set backend_url=... wins over the profile and the header names it as an override."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile("def test_nothing(): pass")
    port = closed_port()
    result = run(pytester, "--layercfg-profile", "p", "--layercfg-set", f"backend_url=http://127.0.0.1:{port}")
    result.stdout.fnmatch_lines(
        ["layercfg: profile p", f"layercfg:   backend_url=http://127.0.0.1:{port} (override: --layercfg-set)"]
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((), "backend_url=http://127.0.0.1:1111 (override: --layercfg-set)", id="ini set applies"),
        pytest.param(
            ("--layercfg-set", "backend_url=http://127.0.0.1:2222"),
            "backend_url=http://127.0.0.1:2222 (override: --layercfg-set)",
            id="command line set beats ini set",
        ),
        pytest.param(
            ("--layercfg-profile", "local", "--layercfg-set", "websocket_path=/socket"),
            "backend_url=http://127.0.0.1:1111 (override: --layercfg-set)",
            id="command line set adds to ini set",
        ),
    ],
)
def test_ini_keys(pytester: pytest.Pytester, args: tuple[str, ...], expected: str) -> None:
    """The layercfg_* ini keys configure the plugin and the command line beats them field by field."""
    make_project(
        pytester,
        "http://127.0.0.1:9",
        table=False,
        ini="""
        layercfg_profile = "p"
        layercfg_set = ["backend_url=http://127.0.0.1:1111"]
        """,
    )
    pytester.makepyfile("def test_nothing(): pass")
    result = run(pytester, *args)
    assert not [line for line in header(result) if "note" in line]
    assert f"layercfg:   {expected}" in header(result)


def test_profile_option_beats_ini_profile(pytester: pytest.Pytester) -> None:
    """--layercfg-profile replaces the layercfg_profile ini key."""
    make_project(pytester, "http://127.0.0.1:9", table=False, ini='layercfg_profile = "p"\n')
    pytester.makepyfile("def test_nothing(): pass")
    result = run(pytester, "--layercfg-profile", "local")
    result.stdout.fnmatch_lines(
        ["layercfg: profile local", "layercfg:   backend_url=http://localhost:8000 (profile: profile local*"]
    )


def test_inactive_plugin_prints_no_header_and_loads_nothing(pytester: pytest.Pytester) -> None:
    """Without options, ini keys, [tool.layercfg] or the fixture, an invalid environment goes unnoticed."""
    make_project(pytester, "http://127.0.0.1:9", table=False)
    pytester.makepyfile("def test_nothing(): pass")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETRA_BACKEND_URL", "not a url")
        result = run(pytester)
    assert header(result) == []
    assert "layercfg" not in result.stdout.str().replace("plugins: layercfg", "")
    result.assert_outcomes(passed=1)


# What an inactive plugin may import: the entry point, the session's state, the xdist controller, and
# (with a pytest-timeout limit set) the contextvar wait_for_service reads it from.
INACTIVE_IMPORTS = {
    "layercfg.testing",
    "layercfg.exceptions",
    "layercfg.pytest_plugin",
    "layercfg._plugin",
    "layercfg._plugin.state",
    "layercfg._plugin.stack",
    "layercfg._model",
    "layercfg._model.words",
}


def test_inactive_plugin_imports_nothing_of_the_load(pytester: pytest.Pytester) -> None:
    """A project that does not use layercfg pays for the entry point only: with pytest-timeout's limit
    read before every test and xdist's controller registered, no load, view or probe is imported."""
    pytester.makepyfile("def test_nothing(): pass")
    pytester.makeconftest(
        """
        import sys

        def pytest_unconfigure(config):
            loaded = sorted(name for name in sys.modules if name.startswith("layercfg"))
            print("LAYERCFG-MODULES " + " ".join(loaded))
        """
    )
    result = run(pytester, "-s", "-p", "timeout", "--timeout", "60", "-p", "xdist")
    result.assert_outcomes(passed=1)
    (line,) = [line for line in result.outlines if line.startswith("LAYERCFG-MODULES ")]
    assert set(line.split()[1:]) - {"layercfg"} <= INACTIVE_IMPORTS


def test_header_lists_load_notes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Warnings of the load (here: a legacy variable) follow the header as notes."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile("def test_nothing(): pass")
    monkeypatch.setenv("TEST_BACKEND_URL", "http://127.0.0.1:7")
    result = run(pytester, "--layercfg-profile", "p")
    result.stdout.fnmatch_lines(
        [
            "layercfg: profile p",
            "layercfg:   backend_url=http://127.0.0.1:7 (environment: env TEST_BACKEND_URL*",
            "layercfg: note backend_url: TEST_BACKEND_URL is a legacy name*",
        ]
    )


# --- fixtures ------------------------------------------------------------------------------------


def test_config_fixture_returns_the_resolved_config(pytester: pytest.Pytester) -> None:
    """layercfg_config is the session's config, with its receipt available to layercfg.explain."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(
        """
        import layercfg

        def test_config(layercfg_config):
            assert isinstance(layercfg_config, layercfg.TestEnvConfig)
            assert layercfg_config.backend_url == "http://127.0.0.1:9"
            assert layercfg.explain(layercfg_config, "backend_url").winner.origin.location == "profiles/p.toml:2"

        def test_same_object(layercfg_config, request):
            assert request.getfixturevalue("layercfg_config") is layercfg_config
        """
    )
    run(pytester, "--layercfg-profile", "p").assert_outcomes(passed=2)


def test_environ_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    """A project's layercfg_environ (a plain dict) is what layercfg_config is resolved from."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def layercfg_environ():
            return {"NETRA_BACKEND_URL": "http://127.0.0.1:4444"}
        """
    )
    pytester.makepyfile(
        """
        def test_config(layercfg_config):
            assert layercfg_config.backend_url == "http://127.0.0.1:4444"
        """
    )
    run(pytester, "--layercfg-profile", "p").assert_outcomes(passed=1)


def test_config_error_fails_tests_with_message_and_no_traceback(pytester: pytest.Pytester) -> None:
    """A bad value fails every test that asks for the config, with layercfg's message and nothing else."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(
        """
        def test_one(layercfg_config):
            pass

        def test_two(layercfg_config):
            pass

        def test_unrelated():
            pass
        """
    )
    result = run(pytester, "--layercfg-profile", "p", "--layercfg-set", "docker_startup_timeout=abc")
    expected = "docker_startup_timeout: expected seconds (a number), got 'abc' (--layercfg-set)"
    result.stdout.fnmatch_lines([f"layercfg: configuration error: {expected}", f"layercfg: {expected}"])
    result.assert_outcomes(passed=1, errors=2)
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "def layercfg_config" not in output
    assert output.count(f"layercfg: {expected}") == 2


# --- requires_service ----------------------------------------------------------------------------

MARKED = """
import pytest

@pytest.mark.requires_service("backend")
def test_needs_backend():
    pass
"""


def test_requires_service_runs_test_when_service_listens(pytester: pytest.Pytester, service: LocalService) -> None:
    """A test marked requires_service('backend') runs when the backend accepts a connection."""
    make_project(pytester, service.base_url)
    pytester.makepyfile(MARKED)
    run(pytester, "--layercfg-profile", "p").assert_outcomes(passed=1)


def test_requires_service_skips_with_explain_style_reason(pytester: pytest.Pytester) -> None:
    """Against a closed port the test is skipped, saying what the probe saw, where the URL came from and what to run."""
    port = closed_port()
    make_project(pytester, f"http://127.0.0.1:{port}")
    pytester.makepyfile(MARKED)
    result = run(pytester, "--layercfg-profile", "p", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED * backend not ready: http://127.0.0.1:{port}/health refused connection in * "
            "(set by profile: profile p, profiles/p.toml:2); fallback off — run `layercfg explain backend_url`"
        ]
    )


@pytest.mark.parametrize(
    ("args", "env", "ini", "why"),
    [
        pytest.param(("--layercfg-strict",), {}, "", "--layercfg-strict", id="strict option"),
        pytest.param((), {}, "layercfg_strict = true\n", "--layercfg-strict", id="strict ini key"),
        pytest.param((), {"CI": "true"}, "", "CI=true", id="CI=true"),
    ],
)
def test_requires_service_fails_when_strict(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    ini: str,
    why: str,
) -> None:
    """Under --layercfg-strict, the ini key or CI=true, an unreachable service fails the test instead of skipping it."""
    port = closed_port()
    make_project(pytester, f"http://127.0.0.1:{port}", ini=ini)
    pytester.makepyfile(MARKED)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run(pytester, "--layercfg-profile", "p", *args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"backend not ready: http://127.0.0.1:{port}/health refused * *{why}: not skipped]"])
    assert "Traceback" not in result.stdout.str()


def test_requires_service_probes_once_per_session(pytester: pytest.Pytester, service: LocalService) -> None:
    """Three marked tests cost one connection to the service."""
    make_project(pytester, service.base_url)
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.requires_service("backend")

        def test_one(): pass
        def test_two(): pass
        def test_three(): pass
        """
    )
    run(pytester, "--layercfg-profile", "p").assert_outcomes(passed=3)
    time.sleep(0.2)  # let the server thread accept anything still queued before counting
    assert service.connections == 1


def test_requires_service_unknown_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """An unknown service name stops the run before any test, listing the services the schema knows."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(MARKED.replace('"backend"', '"bakend"'))
    result = run(pytester, "--layercfg-profile", "p")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*requires_service: unknown service 'bakend' (known: auth, backend, clickhouse, frontend, postgres, redis)"]
    )


def test_requires_service_unknown_name_fails_tests_under_xdist(pytester: pytest.Pytester) -> None:
    """Under xdist (where a usage error would crash a worker) an unknown service name fails its test."""
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(MARKED.replace('"backend"', '"bakend"'))
    result = run(pytester, "--layercfg-profile", "p", "-n", "2")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*requires_service: unknown service 'bakend' (known: auth, backend, clickhouse, frontend, postgres, redis)"]
    )


# --- xdist ---------------------------------------------------------------------------------------


def test_xdist_workers_share_the_controllers_config(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With -n 2 both workers get the controller's config and receipt, and layercfg.explain works on them."""
    out = tmp_path_factory.mktemp("workers")
    make_project(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(
        f"""
        import json, os, pathlib
        import attrs, pytest, layercfg

        @pytest.mark.parametrize("n", range(20))
        def test_record(layercfg_config, request, n):
            winner = layercfg.explain(layercfg_config, "backend_url").winner.origin
            record = {{
                "config": attrs.asdict(layercfg_config, value_serializer=lambda i, a, v: str(v)),
                "source": winner.source,
                "location": winner.location,
                "shipped": "layercfg_loaded" in request.config.workerinput,
            }}
            path = pathlib.Path({str(out)!r}) / (os.environ["PYTEST_XDIST_WORKER"] + ".json")
            path.write_text(json.dumps(record, sort_keys=True))
        """
    )
    run(pytester, "--layercfg-profile", "p", "-n", "2").assert_outcomes(passed=20)
    records = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    assert sorted(records) == ["gw0", "gw1"]
    assert records["gw0"] == records["gw1"]
    assert records["gw0"]["source"] == "profile p"
    assert records["gw0"]["location"] == "profiles/p.toml:2"
    assert records["gw0"]["shipped"] is True
    assert records["gw0"]["config"]["backend_url"] == "http://127.0.0.1:9"


# --- docs/pytest.md ------------------------------------------------------------------------------


def docs_example(name: str) -> str:
    """The Python block of docs/pytest.md whose first line is ``# NAME``."""
    text = (Path(__file__).parent.parent / "docs" / "pytest.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# (\S+)\n.*?)```", text, re.DOTALL)
    return next(body for body, title in blocks if title == name)


def test_docs_conftest_example_runs(pytester: pytest.Pytester, service: LocalService) -> None:
    """The conftest.py and test_health.py of docs/pytest.md pass against a live backend."""
    make_project(pytester, service.base_url)
    pytester.makeconftest(docs_example("conftest.py"))
    pytester.makepyfile(test_health=docs_example("test_health.py"))
    run(pytester, "--layercfg-profile", "p").assert_outcomes(passed=2)
    assert ("GET", "/health") in service.requests


TIMEOUT_LIMITED = """
import warnings

import pytest

from layercfg.testing import wait_for_service


@pytest.mark.timeout(7)
def test_marker_shorter_than_the_wait(layercfg_config):
    with pytest.warns(UserWarning, match=r"pytest-timeout stops this test after 7 s, before wait_for_service's 30 s"):
        assert wait_for_service(layercfg_config, timeout=30, progress=False).ok


@pytest.mark.timeout(60)
def test_marker_longer_than_the_wait(layercfg_config):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert wait_for_service(layercfg_config, timeout=30, progress=False).ok


def test_option_applies_without_marker(layercfg_config):
    with pytest.warns(UserWarning, match=r"pytest-timeout stops this test after 9 s"):
        assert wait_for_service(layercfg_config, timeout=30, progress=False).ok
"""


def test_wait_for_service_warns_when_pytest_timeout_is_shorter(pytester: pytest.Pytester, service: LocalService):
    """Under pytest-timeout, wait_for_service says before waiting that the test's limit is shorter than the wait."""
    make_project(pytester, service.base_url)
    pytester.makepyfile(TIMEOUT_LIMITED)
    result = run(pytester, "--layercfg-profile", "p", "--timeout", "9")
    result.assert_outcomes(passed=3)


ONE_TRUTH = """
import layercfg

# The project's own code, as the pilot's TestContext did: resolved at import, with no arguments.
AT_IMPORT = layercfg.load_config()


def test_project_code_sees_the_session_config(layercfg_config):
    assert AT_IMPORT is layercfg_config
    assert layercfg.load_config() is layercfg_config
    assert layercfg.load_config(layercfg.TestEnvConfig) is layercfg_config
    assert (layercfg_config.backend_url, layercfg_config.max_retries) == ("http://127.0.0.1:18765", 9)
    assert layercfg.explain(AT_IMPORT, "max_retries").winner.origin.source == "--layercfg-set"


def test_explicit_arguments_resolve_on_their_own(layercfg_config):
    own = layercfg.load_config(environ={})
    assert own is not layercfg_config
    assert own.max_retries != 9
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_load_config_returns_the_session_config(pytester: pytest.Pytester, workers: list[str]) -> None:
    """--layercfg-profile and --layercfg-set reach load_config() in the project's code, xdist workers included."""
    make_project(pytester, "http://127.0.0.1:18765")
    pytester.makepyfile(ONE_TRUTH)
    result = run(pytester, "--layercfg-profile", "p", "--layercfg-set", "max_retries=9", *workers)
    result.assert_outcomes(passed=2)
