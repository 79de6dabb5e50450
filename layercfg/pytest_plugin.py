"""The layercfg pytest plugin: one resolved config per session, a header that says where it
came from, a ``layercfg_config`` fixture and a ``requires_service`` marker.

pytest imports this module in every run of every environment layercfg is installed in, so
at module level it imports nothing but pytest, the standard library and the session's state
(``_plugin/state.py``, itself stdlib and pytest only), and it stays inactive (no header, no
loading) unless the project asks for it: a ``--layercfg-*`` option, a ``layercfg_*`` ini key,
``[tool.layercfg]`` in the rootdir's pyproject.toml, or a test using the fixture or the marker.
This file holds the hooks and fixtures only; what they do is in ``_plugin/``, imported on first
use. See docs/pytest.md.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import pytest

from ._plugin.state import (
    GATE,
    LEDGER_KEY,
    STACK_KEY,
    STATE,
    WHY_SECTION,
    WORKERINPUT_ERROR_KEY,
    WORKERINPUT_KEY,
    Failure,
    State,
    assignments,
    time_limit,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("layercfg", "layercfg: layered test-environment configuration")
    group.addoption(
        "--layercfg-profile",
        dest="layercfg_profile",
        metavar="NAME[,NAME]",
        default=None,
        help="layercfg profiles to use, stacked left to right (beats NETRA_PROFILE and the ini key).",
    )
    group.addoption(
        "--layercfg-set",
        dest="layercfg_set",
        action="append",
        metavar="FIELD=VALUE",
        default=None,
        help="Override one config field (the override layer); repeatable; beats the ini key per field.",
    )
    group.addoption(
        "--layercfg-strict",
        dest="layercfg_strict",
        action="store_true",
        default=False,
        help="Fail, instead of skip, tests marked requires_service whose service is unreachable (also: CI=true).",
    )
    parser.addini("layercfg_profile", "layercfg profiles to use (NAME[,NAME]).", type="string", default="")
    parser.addini("layercfg_set", "layercfg field overrides, one FIELD=VALUE a line.", type="linelist", default=[])
    parser.addini(
        "layercfg_strict", "Fail instead of skip when a required service is down.", type="bool", default=False
    )
    group.addoption(
        "--layercfg-skip-budget",
        dest="layercfg_skip_budget",
        metavar="N",
        type=int,
        default=None,
        help="Fail the run when more than N tests are skipped by requires_service (default: 0 under CI=true).",
    )
    group.addoption(
        "--layercfg-receipt",
        dest="layercfg_receipt",
        metavar="PATH",
        default=None,
        help="Where the run receipt (JSON) is written; 'off' writes none (default: .layercfg/run.json).",
    )
    parser.addini(
        "layercfg_skip_budget", "Most requires_service skips a passing run may have.", type="string", default=""
    )
    parser.addini(
        "layercfg_receipt",
        "Path of the run receipt, relative to the rootdir; 'off' for none.",
        type="string",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_service(name): probe the layercfg service's URL once per session; skip the test when "
        "it is unreachable (fail under --layercfg-strict or CI=true).",
    )
    cli_profile = config.getoption("layercfg_profile")
    ini_profile = str(config.getini("layercfg_profile")).strip()
    ini_set = list(config.getini("layercfg_set"))
    cli_set = config.getoption("layercfg_set") or []
    ini_strict = bool(config.getini("layercfg_strict"))
    cli_strict = bool(config.getoption("layercfg_strict"))
    overrides = assignments(ini_set, "layercfg_set")
    overrides.update(assignments(cli_set, "--layercfg-set"))  # the command line beats the ini file
    profile = cli_profile.strip() if cli_profile and cli_profile.strip() else ini_profile
    state = State(
        rootpath=config.rootpath,
        profile=profile or None,
        overrides=overrides,
        strict=cli_strict or ini_strict,
        explicit=bool(cli_profile or ini_profile or ini_set or cli_set or ini_strict or cli_strict),
    )
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        state.shipped = workerinput.get(WORKERINPUT_KEY)
        state.shipped_error = workerinput.get(WORKERINPUT_ERROR_KEY)
    state.timeout_plugin = config.pluginmanager.hasplugin("timeout")
    if workerinput is None:
        state.terminal = config
    config.stash[STATE] = state
    if state.active:
        # One truth per session: the project's own load_config() calls get the session's config.
        from ._load import use_session
        from ._plugin.stack import session_resolution

        use_session(lambda: session_resolution(state))
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        # pytest_configure_node is xdist's hook: registered only when xdist defines it, so pytest
        # does not reject an unknown hook in runs without xdist.
        from ._plugin.stack import XdistController

        config.pluginmanager.register(XdistController(state), "layercfg-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.resolved_active:
        from ._load import use_session

        use_session(None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or not state.active:
        return []
    from ._plugin.header import report_header

    return report_header(state)


@pytest.fixture(scope="session")
def layercfg_environ() -> Mapping[str, str]:
    """The environment layercfg resolves from (``os.environ``); override it, e.g. with a dict."""
    return os.environ


@pytest.fixture(scope="session")
def layercfg_config(request: pytest.FixtureRequest, layercfg_environ: Mapping[str, str]) -> Any:
    """The session's resolved layercfg config; a configuration error fails the tests that ask."""
    from ._plugin.stack import bring_up_stack, session_outcome

    state = request.config.stash[STATE]
    if layercfg_environ is os.environ:
        bring_up_stack(state)
    outcome = session_outcome(state, layercfg_environ)
    if isinstance(outcome, Failure):
        pytest.fail(f"layercfg: {outcome.message}", pytrace=False)
    return outcome.config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [
        item for item in items if isinstance(item, pytest.Function) and item.get_closest_marker("requires_service")
    ]
    if not marked:
        return
    # A usage error stops the run before any test. xdist workers collect too, but a usage
    # error there crashes the worker, so they leave it to the gate, which fails the test.
    if not hasattr(config, "workerinput"):
        from ._plugin.marker import check_markers

        check_markers(config.stash[STATE], marked)
    for item in marked:
        # First, like skipif: no fixture of the test (a connection, a client) runs against a dead service.
        item.fixturenames.insert(0, GATE)


@pytest.fixture
def _layercfg_requires_service(request: pytest.FixtureRequest) -> None:
    """Skip (or fail, when strict) a test whose required services are not ready (their protocol's probe)."""
    from ._plugin.marker import require_services

    require_services(request, request.config.stash[STATE])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_time_limit(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_time_limit(item))


def _with_time_limit(item: pytest.Item) -> Iterator[None]:
    """pytest-timeout's limit on the running test, where wait_for_service can compare it with its wait."""
    state = item.config.stash.get(STATE, None)
    if state is None or not state.timeout_plugin:
        return (yield)
    limit = time_limit(item)
    if limit is None:
        return (yield)
    from .testing import test_time_limit

    token = test_time_limit.set(limit)
    try:
        return (yield)
    finally:
        test_time_limit.reset(token)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash.get(STATE, None)
    if state is not None and state.stack_unsent is not None:
        # The stack record travels like the ledger: in user_properties, to the xdist controller.
        report.user_properties.append((STACK_KEY, state.stack_unsent))
        state.stack_unsent = None
    if not report.failed or call.excinfo is None or report.when not in ("setup", "call"):
        return report
    if state is None or not state.active:
        return report
    from ._plugin.stack import session_outcome

    outcome = session_outcome(state, os.environ)
    if isinstance(outcome, Failure):
        return report
    from ._explainer import explain_exception, test_source

    try:
        section = explain_exception(call.excinfo.value, outcome.trace, test_text=test_source(item))
    except Exception as exc:  # an explanation must never hide the test's own failure
        section = f"(layercfg could not explain this failure: {type(exc).__name__}: {exc})"
    if section:
        report.sections.append((WHY_SECTION, section))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entries: list[dict[str, Any]] = [
        value for key, value in report.user_properties if key == LEDGER_KEY and isinstance(value, dict)
    ]
    stacks = [value for key, value in report.user_properties if key == STACK_KEY and isinstance(value, dict)]
    if not entries and not stacks:
        return
    state = _REPORTING.get("state")
    if state is None:
        return
    from ._plugin.runfile import count_report

    count_report(state, report, entries, stacks)


# The state the report hooks use: pytest_runtest_logreport gets no config (set at session start).
_REPORTING: dict[str, State] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None:
        _REPORTING["state"] = state


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return
    if state.stack_unsent is not None or state.stacks:
        from ._plugin.stack import collect_stack, stop_stacks

        if state.stack_unsent is not None:  # brought up outside any test (e.g. load_config() at import)
            collect_stack(state, state.stack_unsent)
            state.stack_unsent = None
        stop_stacks(state)
    if not state.active:
        return
    from ._plugin.runfile import over_budget, write_receipt

    if over_budget(config, state) is not None and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    write_receipt(config, state)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput") or not (state.stacks or state.ledger):
        return
    from ._plugin.runfile import write_summary

    write_summary(terminalreporter, config, state)
