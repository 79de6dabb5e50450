"""The layercfg pytest plugin: one resolved config per session, a header that says where it
came from, a ``layercfg_config`` fixture and a ``requires_service`` marker.

pytest imports this module in every run of every environment layercfg is installed in, so
it imports nothing but pytest and the standard library at module level, and stays inactive
(no header, no loading) unless the project asks for it: a ``--layercfg-*`` option, a
``layercfg_*`` ini key, ``[tool.layercfg]`` in the rootdir's pyproject.toml, or a test
using the fixture or the marker. Everything else is imported on first use. See docs/pytest.md.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._words import TRUE_WORDS, split_assignments

if TYPE_CHECKING:
    from ._load import Loaded
    from ._probe import ProbeResult

_WORKERINPUT_KEY = "layercfg_loaded"
_WORKERINPUT_ERROR_KEY = "layercfg_error"
_GATE = "_layercfg_requires_service"
_LEDGER_KEY = "layercfg.service"
_STACK_KEY = "layercfg.stack"
_WHY_SECTION = "layercfg: why this connection failed"
_OVERRIDE_SOURCE = "--layercfg-set"


class _Failure:
    """A resolution that raised: the message is all a test needs."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _State:
    """Everything the plugin knows in one session (kept in ``config.stash``).

    A plain class rather than a dataclass: this module is imported by every pytest run, and
    building a dataclass costs more than everything else it does at import.
    """

    def __init__(self, rootpath: Path, profile: str | None, overrides: dict[str, str], strict: bool, explicit: bool):
        self.rootpath = rootpath
        self.profile = profile
        self.overrides = overrides
        self.strict = strict
        self.explicit = explicit  # a layercfg option or ini key was given
        self._active: bool | None = None
        self.process: Loaded[Any] | _Failure | None = None  # resolved against os.environ
        self.custom: tuple[Mapping[str, str], Loaded[Any] | _Failure] | None = None  # against another mapping
        self.shipped: str | None = None  # the controller's resolution, as a worker received it
        self.shipped_error: str | None = None
        self.payload: dict[str, str] | None = None  # what the controller sends every worker
        self.probes: dict[str, ProbeResult] = {}
        self.ledger: dict[str, dict[str, Any]] = {}  # service -> what it resolved to, probe, tests ran/skipped
        self.counted: set[tuple[str, str, str]] = set()  # (nodeid, service, phase) already in the ledger
        self.timeout_plugin = False  # pytest-timeout is active: wait_for_service compares its limit
        self.terminal: Any = None  # where the stack's receipt is written as it comes up (not on workers)
        self.stack_done = False  # the lifecycle step ran (or had nothing to do) in this process
        self.stack_unsent: dict[str, Any] | None = None  # this process's stack record, for the next report
        self.stacks: dict[str, dict[str, Any]] = {}  # state file -> what this session's up did there
        self.stack_stopped: list[str] = []  # receipts of the stop at the session's end

    @property
    def active(self) -> bool:
        if self._active is None:
            self._active = self.explicit or self.has_project_table
        return self._active

    @property
    def has_project_table(self) -> bool:
        pyproject = self.rootpath / "pyproject.toml"
        try:
            data = pyproject.read_bytes()
        except OSError:
            return False
        if b"[tool.layercfg" not in data:  # cheap test first: most projects never mention it
            return False
        import tomllib

        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError, a 4300-digit integer
            return True  # let the load report the malformed file
        tool = document.get("tool")
        return isinstance(tool, dict) and "layercfg" in tool

    @property
    def project_dir(self) -> Path | None:
        # The rootdir is the project when its pyproject.toml says so; otherwise layercfg's own
        # lookup (nearest [tool.layercfg] above the cwd, else the cwd) decides, as load() does.
        return self.rootpath if self.has_project_table else None


_STATE = pytest.StashKey[_State]()


# --- options and configuration ------------------------------------------------------------------


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


def _assignments(lines: list[str], where: str) -> dict[str, str]:
    try:
        return split_assignments(lines)
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


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
    overrides = _assignments(ini_set, "layercfg_set")
    overrides.update(_assignments(cli_set, "--layercfg-set"))  # the command line beats the ini file
    profile = cli_profile.strip() if cli_profile and cli_profile.strip() else ini_profile
    state = _State(
        rootpath=config.rootpath,
        profile=profile or None,
        overrides=overrides,
        strict=cli_strict or ini_strict,
        explicit=bool(cli_profile or ini_profile or ini_set or cli_set or ini_strict or cli_strict),
    )
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        state.shipped = workerinput.get(_WORKERINPUT_KEY)
        state.shipped_error = workerinput.get(_WORKERINPUT_ERROR_KEY)
    state.timeout_plugin = config.pluginmanager.hasplugin("timeout")
    if workerinput is None:
        state.terminal = config
    config.stash[_STATE] = state
    if state.active:
        # One truth per session: the project's own load_config() calls get the session's config.
        from ._load import use_session

        use_session(lambda: _session_resolution(state))
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        # pytest_configure_node is xdist's hook: registered only when xdist defines it, so pytest
        # does not reject an unknown hook in runs without xdist.
        config.pluginmanager.register(_XdistController(state), "layercfg-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state._active:
        from ._load import use_session

        use_session(None)


# --- resolution ---------------------------------------------------------------------------------


def _session_resolution(state: _State) -> Loaded[Any] | None:
    _bring_up_stack(state)
    outcome = _outcome(state, os.environ)
    return None if isinstance(outcome, _Failure) else outcome


def _resolve(state: _State, environ: Mapping[str, str]) -> Loaded[Any] | _Failure:
    from ._load import load
    from .exceptions import LayercfgError

    try:
        return load(
            profile=state.profile,
            project_dir=state.project_dir,
            environ=environ,
            overrides=state.overrides or None,
            override_source=_OVERRIDE_SOURCE,
        )
    except LayercfgError as exc:
        return _Failure(str(exc))
    except Exception as exc:  # a layercfg bug must fail the tests that need the config, not the session
        return _Failure(f"layercfg failed unexpectedly ({type(exc).__name__}: {exc}); please report it")


def _outcome(state: _State, environ: Mapping[str, str]) -> Loaded[Any] | _Failure:
    """The session's resolution against ``environ``, computed (or unpacked) once."""
    if environ is os.environ:
        if state.process is None:
            if state.shipped_error is not None:
                state.process = _Failure(state.shipped_error)
            elif state.shipped is not None:
                try:
                    state.process = _unpack(state.shipped)
                except Exception:  # e.g. the schema's module is not importable in this worker
                    state.process = _resolve(state, environ)
            else:
                state.process = _resolve(state, environ)
        return state.process
    if state.custom is None or state.custom[0] is not environ:
        state.custom = (environ, _resolve(state, environ))
    return state.custom[1]


# --- the stack's lifecycle: `layercfg up` once per session, before the first test that needs it ---


def _bring_up_stack(state: _State) -> None:
    """With ``lifecycle`` reuse / start / start-and-stop, bring the stack up (once) and resolve again.

    Runs in the process that needs the config: the first test asking for ``layercfg_config``,
    a ``requires_service`` marker or ``load_config()``. Under xdist every worker gets here; the
    project's lock (``layercfg up``'s) lets one start the stack while the others wait and then
    reuse it, so every worker resolves the same containers. The record of what was started goes
    to the controller with the next test report; the controller stops it at the session's end.
    """
    if state.stack_done:
        return
    state.stack_done = True
    outcome = _outcome(state, os.environ)
    if isinstance(outcome, _Failure):
        return
    field = outcome.trace.fields.get("lifecycle")
    if field is None or field.value in (None, "off"):
        return
    mode = field.value
    from ._lifecycle import up
    from ._load import Loaded, provenance
    from .exceptions import LayercfgError

    progress = _terminal_stream(state)
    try:
        report = up(
            None,
            profile=state.profile,
            project_dir=state.project_dir,
            environ=os.environ,
            overrides=state.overrides or None,
            override_source=_OVERRIDE_SOURCE,
            progress=progress if progress is not None else False,
        )
    except LayercfgError as exc:
        state.process = _Failure(f"lifecycle {mode} ({field.winner.origin}): the stack did not come up: {exc}")
        record: dict[str, Any] = {"lines": [f"stack: the start failed: {str(exc).splitlines()[0]}"]}
    else:
        if report.config is not None:
            state.process = Loaded(report.config, provenance(report.config))
        record = {
            "project": report.project,
            "state_file": report.state_file,
            "lifecycle": report.lifecycle,
            "started": list(report.started),
            "created": list(report.created),
            "lines": [report.summary(), *(f"  {outcome.receipt()}" for outcome in report.services)],
        }
    _say(state, f"layercfg: {record['lines'][0]}")
    state.stack_unsent = record


def _terminal_stream(state: _State) -> Any:
    """The terminal, when this process has one and it is a TTY (progress lines); else None."""
    config = state.terminal
    if config is None:
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stream = getattr(getattr(reporter, "_tw", None), "_file", None)
    return stream if stream is not None and getattr(stream, "isatty", lambda: False)() else None


def _say(state: _State, line: str) -> None:
    config = state.terminal
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is None:
        return
    import contextlib

    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.write_line(line)


def _collect_stack(state: _State, record: dict[str, Any]) -> None:
    """Merge a process's stack record into the session's (the controller's, under xdist)."""
    key = str(record.get("state_file") or "")
    known = state.stacks.setdefault(key, {**record, "started": [], "created": []})
    known["started"] = sorted({*known["started"], *record.get("started", ())})
    known["created"] = sorted({*known["created"], *record.get("created", ())})
    if record.get("started"):
        known["lines"] = record["lines"]  # the process that started something tells the story


def _stop_stacks(state: _State) -> None:
    """At the session's end: stop what this session started, where the lifecycle is start-and-stop."""
    from ._lifecycle import stop_started
    from .exceptions import LayercfgError

    for key, record in state.stacks.items():
        if record.get("lifecycle") != "start-and-stop" or not record.get("started") or not key:
            continue
        try:
            receipts = stop_started(key, record["started"], record["created"], os.environ)
        except LayercfgError as exc:
            receipts = (f"could not stop {', '.join(record['started'])}: {exc}",)
        state.stack_stopped += [f"{record.get('project')}: {line}" for line in receipts]


def _unpack(payload: str) -> Loaded[Any]:
    import base64
    import pickle

    from ._load import remember

    loaded: Loaded[Any] = pickle.loads(base64.b64decode(payload))
    remember(loaded.config, loaded.trace)  # so layercfg.explain(cfg, ...) works on this worker
    return loaded


class _XdistController:
    """Resolves once on the xdist controller and hands the result to every worker."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        import base64
        import pickle

        state = self.state
        if not state.active:
            return  # inactive: workers resolve for themselves if a test asks
        if state.payload is None:
            outcome = _outcome(state, os.environ)
            if isinstance(outcome, _Failure):
                state.payload = {_WORKERINPUT_ERROR_KEY: outcome.message}
            else:
                try:
                    state.payload = {_WORKERINPUT_KEY: base64.b64encode(pickle.dumps(outcome)).decode("ascii")}
                except Exception:
                    # A schema pickle cannot carry (a local class, a value without pickle
                    # support): workers resolve for themselves, from the same files and variables.
                    state.payload = {}
        node.workerinput.update(state.payload)


# --- the header ---------------------------------------------------------------------------------


def _origin_text(trace: Any) -> str:
    origin = trace.winner.origin
    if origin.layer.label == "derived":
        return "derived"
    return f"{origin.layer.label}: {origin}"


def _header_lines(loaded: Loaded[Any]) -> list[str]:
    """What the header says about one resolution: the profiles, then one line per endpoint with its origin,
    then the notes (each once)."""
    from ._render import secret_values
    from ._secrets import display, mask_text, text
    from .testing import service_fields

    trace = loaded.trace
    secrets = secret_values(trace)
    names = list(service_fields(trace.schema, trace.info).values())
    if "websocket_url" in trace.fields:
        names.append("websocket_url")
    lines = ["layercfg: profile " + (",".join(trace.profiles) or "(none)")]
    notes = [*trace.warnings]
    for name in names:
        field = trace.fields[name]
        shown = text(display(field.value, secret=field.secret))
        lines.append(f"layercfg:   {name}={shown} ({_origin_text(field)})")
        # A field warning that repeats a load-wide note (a fallback's reason) is said once, by the note.
        notes += [f"{name}: {warning}" for warning in field.warnings if not any(warning in n for n in trace.warnings)]
    lines += [f"layercfg: note {mask_text(note, secrets)}" for note in dict.fromkeys(notes)]
    return lines


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE, None)
    if state is None or not state.active:
        return []
    outcome = _outcome(state, os.environ)
    if isinstance(outcome, _Failure):
        lines = outcome.message.splitlines() or [""]
        more = " (tests that use the config show the rest)" if len(lines) > 1 else ""
        return [f"layercfg: configuration error: {lines[0]}{more}"]
    lines = _header_lines(outcome)
    lifecycle = outcome.trace.fields.get("lifecycle")
    if lifecycle is not None and lifecycle.value not in (None, "off"):
        lines.insert(
            1,
            f"layercfg: lifecycle {lifecycle.value} ({_origin_text(lifecycle)}): the stack comes up before the "
            "first test that needs it; the values below are from before",
        )
    return lines


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def layercfg_environ() -> Mapping[str, str]:
    """The environment layercfg resolves from (``os.environ``); override it, e.g. with a dict."""
    return os.environ


@pytest.fixture(scope="session")
def layercfg_config(request: pytest.FixtureRequest, layercfg_environ: Mapping[str, str]) -> Any:
    """The session's resolved layercfg config; a configuration error fails the tests that ask."""
    state = request.config.stash[_STATE]
    if layercfg_environ is os.environ:
        _bring_up_stack(state)
    outcome = _outcome(state, layercfg_environ)
    if isinstance(outcome, _Failure):
        pytest.fail(f"layercfg: {outcome.message}", pytrace=False)
    return outcome.config


# --- the requires_service marker ----------------------------------------------------------------


class _MarkerError(Exception):
    pass


def _service_names(item: pytest.Item) -> Iterator[str]:
    for marker in item.iter_markers("requires_service"):
        if len(marker.args) != 1 or not isinstance(marker.args[0], str) or marker.kwargs:
            raise _MarkerError(f"{item.nodeid}: use @pytest.mark.requires_service('NAME'), got {marker}")
        yield marker.args[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [
        item for item in items if isinstance(item, pytest.Function) and item.get_closest_marker("requires_service")
    ]
    if not marked:
        return
    # A usage error stops the run before any test. xdist workers collect too, but a usage
    # error there crashes the worker, so they leave it to the gate, which fails the test.
    if not hasattr(config, "workerinput"):
        _check_markers(config.stash[_STATE], marked)
    for item in marked:
        # First, like skipif: no fixture of the test (a connection, a client) runs against a dead service.
        item.fixturenames.insert(0, _GATE)


def _check_markers(state: _State, marked: list[pytest.Function]) -> None:
    try:
        names = {name for item in marked for name in _service_names(item)}
    except _MarkerError as exc:
        raise pytest.UsageError(str(exc)) from None
    known = _known_services(state)
    if known is not None and names - set(known):
        # A service a profile declares is known only once the profiles are read.
        outcome = _outcome(state, os.environ)
        if not isinstance(outcome, _Failure):
            known = {**known, **service_fields_of(outcome)}
    if known is not None:
        unknown = sorted(names - set(known))
        if unknown:
            listing = ", ".join(sorted(known)) or "(none)"
            raise pytest.UsageError(f"requires_service: unknown service {unknown[0]!r} (known: {listing})")


def _known_services(state: _State) -> dict[str, str] | None:
    """The schema's services without resolving values; None when the schema cannot be read
    (the gate fixture then reports the load's own error)."""
    from ._project import find_project
    from .exceptions import LayercfgError
    from .testing import service_fields

    try:
        return service_fields(find_project(state.project_dir).load_schema())
    except LayercfgError:
        return None


def service_fields_of(loaded: Loaded[Any]) -> dict[str, str]:
    from .testing import service_fields

    return service_fields(loaded.trace.schema, loaded.trace.info)


def _is_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").strip().lower() in TRUE_WORDS


@pytest.fixture
def _layercfg_requires_service(request: pytest.FixtureRequest) -> None:
    """Skip (or fail, when strict) a test whose required services are not ready (their protocol's probe)."""
    from ._probe import probe, readiness_request
    from ._render import secret_values
    from ._schema import ENGINE_DEFAULTS
    from ._secrets import mask_text
    from .exceptions import LayercfgError
    from .testing import field_value, service_field

    state = request.config.stash[_STATE]
    try:
        names = list(dict.fromkeys(_service_names(request.node)))
    except _MarkerError as exc:
        pytest.fail(str(exc), pytrace=False)
    cfg = request.getfixturevalue("layercfg_config")
    loaded = _outcome(state, request.getfixturevalue("layercfg_environ"))
    assert not isinstance(loaded, _Failure)  # layercfg_config has already failed the test
    # CI is read from the process, not from layercfg_environ: a project that hands layercfg a
    # clean dict still runs in CI, where a skipped service test must not pass unnoticed.
    strict = state.strict or _is_ci(os.environ)
    for name in names:
        try:
            field = service_field(type(cfg), name, loaded.trace.info)
        except LayercfgError as exc:
            pytest.fail(f"requires_service: {exc}", pytrace=False)
        origin = loaded.trace.fields[field].winner.origin
        url = field_value(cfg, field)
        if name not in state.probes and url:
            timeout = loaded.trace.fields["probe_timeout"].value
            budget = float(timeout) if isinstance(timeout, (int, float)) else ENGINE_DEFAULTS.probe_timeout
            health = loaded.trace.fields["health_path"].value
            readiness = readiness_request(loaded.trace.info, field, str(url), health)
            state.probes[name] = probe(readiness, budget=budget)
        result = state.probes.get(name)
        secrets = secret_values(loaded.trace)
        request.node.user_properties.append(
            (
                _LEDGER_KEY,
                {
                    "service": name,
                    "field": field,
                    "url": mask_text(str(url), secrets) if url else None,
                    "origin": f"{origin.layer.label}: {mask_text(str(origin), secrets)}",
                    "probe": mask_text(result.describe(), secrets) if result is not None else f"{field} is not set",
                    "ok": bool(result is not None and result.ok),
                },
            )
        )
        if result is not None and result.ok:
            continue
        found = result.describe() if result is not None else f"{field} is not set"
        message = (
            f"{name} not ready: {found} (set by {origin.layer.label}: {origin}); "
            f"fallback {loaded.trace.fields['fallback'].value} — run `layercfg explain {field}`"
        )
        message = mask_text(message, secret_values(loaded.trace))
        if strict:
            why = "--layercfg-strict" if state.strict else "CI=true"
            pytest.fail(f"{message} [{why}: not skipped]", pytrace=False)
        pytest.skip(message)


# --- pytest-timeout: say before waiting when its limit is shorter than the wait ------------------


def _time_limit(item: pytest.Item) -> float | None:
    """The limit pytest-timeout puts on ``item`` (marker, option, ini, PYTEST_TIMEOUT), if it is active."""
    config = item.config
    state = config.stash.get(_STATE, None)
    if state is None or not state.timeout_plugin:
        return None
    marker = item.get_closest_marker("timeout")
    value: object = None
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = config.getoption("timeout", None)
        if value is None:
            try:
                value = config.getini("timeout") or None
            except ValueError:
                value = None
        if value is None:
            value = os.environ.get("PYTEST_TIMEOUT")
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_time_limit(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_time_limit(item))


def _with_time_limit(item: pytest.Item) -> Iterator[None]:
    limit = _time_limit(item)
    if limit is None:
        return (yield)
    from .testing import test_time_limit

    token = test_time_limit.set(limit)
    try:
        return (yield)
    finally:
        test_time_limit.reset(token)


# --- when a test cannot reach a service: the explainer, the skip ledger and the run receipt ---------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state is not None and state.stack_unsent is not None:
        # The stack record travels like the ledger: in user_properties, to the xdist controller.
        report.user_properties.append((_STACK_KEY, state.stack_unsent))
        state.stack_unsent = None
    if not report.failed or call.excinfo is None or report.when not in ("setup", "call"):
        return report
    if state is None or not state.active:
        return report
    outcome = _outcome(state, os.environ)
    if isinstance(outcome, _Failure):
        return report
    from ._explainer import explain_exception, test_source

    try:
        section = explain_exception(call.excinfo.value, outcome.trace, test_text=test_source(item))
    except Exception as exc:  # an explanation must never hide the test's own failure
        section = f"(layercfg could not explain this failure: {type(exc).__name__}: {exc})"
    if section:
        report.sections.append((_WHY_SECTION, section))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entries: list[dict[str, Any]] = [
        value for key, value in report.user_properties if key == _LEDGER_KEY and isinstance(value, dict)
    ]
    stacks = [value for key, value in report.user_properties if key == _STACK_KEY and isinstance(value, dict)]
    if not entries and not stacks:
        return
    state = _REPORTING.get("state")
    if state is None:
        return
    for record in stacks:
        _collect_stack(state, record)
    for entry in entries:
        service = entry["service"]
        ledger = state.ledger.setdefault(service, {**entry, "ran": 0, "skipped": 0, "errors": 0})
        key = (report.nodeid, service, report.when)
        if key in state.counted:
            continue
        state.counted.add(key)
        if report.when == "setup" and report.skipped:
            ledger["skipped"] += 1
        elif report.when == "setup" and report.failed and not entry["ok"]:
            ledger["errors"] += 1
        elif report.when == "call":
            ledger["ran"] += 1


# The state the report hooks use: pytest_runtest_logreport gets no config (set at session start).
_REPORTING: dict[str, _State] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        _REPORTING["state"] = state


def _skip_budget(config: pytest.Config) -> int | None:
    option = config.getoption("layercfg_skip_budget")
    if option is not None:
        return int(option)
    text = str(config.getini("layercfg_skip_budget")).strip()
    if text:
        try:
            return int(text)
        except ValueError:
            raise pytest.UsageError(f"layercfg_skip_budget: expected a number of tests, got {text!r}") from None
    return 0 if _is_ci(os.environ) else None


def _over_budget(config: pytest.Config, state: _State) -> tuple[int, int] | None:
    budget = _skip_budget(config)
    skipped = sum(entry["skipped"] for entry in state.ledger.values())
    return (skipped, budget) if budget is not None and skipped > budget else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(_STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return
    if state.stack_unsent is not None:  # brought up outside any test (e.g. load_config() at import)
        _collect_stack(state, state.stack_unsent)
        state.stack_unsent = None
    _stop_stacks(state)
    if not state.active:
        return
    if _over_budget(config, state) is not None and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _write_receipt(config, state)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return
    if state.stacks:
        terminalreporter.write_sep("=", "layercfg: stack")
        for record in state.stacks.values():
            for line in record["lines"]:
                terminalreporter.write_line(line)
        for line in state.stack_stopped:
            terminalreporter.write_line(line)
    if not state.ledger:
        return
    terminalreporter.write_sep("=", "layercfg: service summary")
    width = max(len(name) for name in state.ledger)
    for name, entry in state.ledger.items():
        status = "up" if entry["ok"] else "down"
        counts = [f"{entry['ran']} tests"]
        if entry["skipped"]:
            counts.append(f"{entry['skipped']} skipped")
        if entry["errors"]:
            counts.append(f"{entry['errors']} errors")
        terminalreporter.write_line(
            f"{name:<{width}}  {entry['url'] or '(unset)'} ({entry['origin']})  {status}  {', '.join(counts)}"
        )
        if not entry["ok"]:
            terminalreporter.write_line(f"{'':<{width}}  probe: {entry['probe']}")
    over = _over_budget(config, state)
    if over is not None:
        skipped, budget = over
        why = "CI=true: " if _is_ci(os.environ) and config.getoption("layercfg_skip_budget") is None else ""
        terminalreporter.write_line(
            f"{why}{skipped} requires_service skips exceed layercfg_skip_budget = {budget}: the run fails"
        )
    path = _receipt_path(config)
    if path is not None and path.exists():
        terminalreporter.write_line(f"receipt written to {path}")


def _receipt_path(config: pytest.Config) -> Path | None:
    value = config.getoption("layercfg_receipt") or str(config.getini("layercfg_receipt")).strip()
    if value == "off":
        return None
    path = Path(value or ".layercfg/run.json")
    return path if path.is_absolute() else config.rootpath / path


def _write_receipt(config: pytest.Config, state: _State) -> None:
    """The run receipt: what the session resolved and what its services answered, secrets masked."""
    path = _receipt_path(config)
    if path is None:
        return
    outcome = _outcome(state, os.environ) if state.process is not None or state.ledger else state.process
    if outcome is None:
        return
    import json

    from ._render import secret_values
    from ._secrets import display, mask_text

    receipt: dict[str, Any] = {"version": 1}
    if isinstance(outcome, _Failure):
        receipt["error"] = outcome.message
    else:
        trace = outcome.trace
        secrets = secret_values(trace)
        receipt["profiles"] = list(trace.profiles)
        receipt["fields"] = {
            name: {
                "value": display(field.value, secret=field.secret),
                "layer": field.winner.origin.layer.label,
                "source": mask_text(field.winner.origin.source, secrets),
                "location": field.winner.origin.location,
                "variable": field.winner.origin.variable,
            }
            for name, field in trace.fields.items()
        }
        receipt["warnings"] = [mask_text(warning, secrets) for warning in trace.warnings]
        receipt["fallback"] = trace.fallback.reason if trace.fallback is not None else None
        docker = trace.discovery.docker if trace.discovery is not None else None
        receipt["docker"] = (
            {"engine": docker.engine, "problem": docker.problem.message if docker.problem else None}
            if docker is not None
            else None
        )
    receipt["services"] = state.ledger
    if state.stacks:
        receipt["stack"] = {"runs": list(state.stacks.values()), "stopped": state.stack_stopped}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(receipt, indent=1, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        config.issue_config_time_warning(
            pytest.PytestWarning(f"layercfg: cannot write the run receipt {path}: {exc}"), 2
        )
