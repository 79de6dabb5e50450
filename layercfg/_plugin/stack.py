"""The session's one resolution, the stack brought up once before the first test that needs it, and
the xdist controller that resolves once and hands the result to every worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .state import OVERRIDE_SOURCE, WORKERINPUT_ERROR_KEY, WORKERINPUT_KEY, Failure, State

if TYPE_CHECKING:
    from .._load import Loaded


def session_resolution(state: State) -> Loaded[Any] | None:
    bring_up_stack(state)
    outcome = session_outcome(state, os.environ)
    return None if isinstance(outcome, Failure) else outcome


def _load_for_session(state: State, environ: Mapping[str, str]) -> Loaded[Any] | Failure:
    from .._load import load
    from ..exceptions import LayercfgError

    try:
        return load(
            profile=state.profile,
            project_dir=state.project_dir,
            environ=environ,
            overrides=state.overrides or None,
            override_source=OVERRIDE_SOURCE,
        )
    except LayercfgError as exc:
        return Failure(str(exc))
    except Exception as exc:  # a layercfg bug must fail the tests that need the config, not the session
        return Failure(f"layercfg failed unexpectedly ({type(exc).__name__}: {exc}); please report it")


def session_outcome(state: State, environ: Mapping[str, str]) -> Loaded[Any] | Failure:
    """The session's resolution against ``environ``, computed (or unpacked) once."""
    if environ is os.environ:
        if state.process is None:
            if state.shipped_error is not None:
                state.process = Failure(state.shipped_error)
            elif state.shipped is not None:
                try:
                    state.process = _unpack(state.shipped)
                except Exception:  # e.g. the schema's module is not importable in this worker
                    state.process = _load_for_session(state, environ)
            else:
                state.process = _load_for_session(state, environ)
        return state.process
    if state.custom is None or state.custom[0] is not environ:
        state.custom = (environ, _load_for_session(state, environ))
    return state.custom[1]


def bring_up_stack(state: State) -> None:
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
    outcome = session_outcome(state, os.environ)
    if isinstance(outcome, Failure):
        return
    field = outcome.trace.fields.get("lifecycle")
    if field is None or field.value in (None, "off"):
        return
    mode = field.value
    from .._lifecycle import up
    from .._load import Loaded, provenance
    from ..exceptions import LayercfgError

    progress = _terminal_stream(state)
    try:
        report = up(
            None,
            profile=state.profile,
            project_dir=state.project_dir,
            environ=os.environ,
            overrides=state.overrides or None,
            override_source=OVERRIDE_SOURCE,
            progress=progress if progress is not None else False,
        )
    except LayercfgError as exc:
        state.process = Failure(f"lifecycle {mode} ({field.winner.origin}): the stack did not come up: {exc}")
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


def _terminal_stream(state: State) -> Any:
    """The terminal, when this process has one and it is a TTY (progress lines); else None."""
    config = state.terminal
    if config is None:
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stream = getattr(getattr(reporter, "_tw", None), "_file", None)
    return stream if stream is not None and getattr(stream, "isatty", lambda: False)() else None


def _say(state: State, line: str) -> None:
    config = state.terminal
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if reporter is None:
        return
    import contextlib

    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.write_line(line)


def collect_stack(state: State, record: dict[str, Any]) -> None:
    """Merge a process's stack record into the session's (the controller's, under xdist)."""
    key = str(record.get("state_file") or "")
    known = state.stacks.setdefault(key, {**record, "started": [], "created": []})
    known["started"] = sorted({*known["started"], *record.get("started", ())})
    known["created"] = sorted({*known["created"], *record.get("created", ())})
    if record.get("started"):
        known["lines"] = record["lines"]  # the process that started something tells the story


def stop_stacks(state: State) -> None:
    """At the session's end: stop what this session started, where the lifecycle is start-and-stop."""
    from .._lifecycle import stop_started
    from ..exceptions import LayercfgError

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

    from .._load import remember

    loaded: Loaded[Any] = pickle.loads(base64.b64decode(payload))
    remember(loaded.config, loaded.trace)  # so layercfg.explain(cfg, ...) works on this worker
    return loaded


class XdistController:
    """Resolves once on the xdist controller and hands the result to every worker."""

    def __init__(self, state: State) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        import base64
        import pickle

        state = self.state
        if not state.active:
            return  # inactive: workers resolve for themselves if a test asks
        if state.payload is None:
            outcome = session_outcome(state, os.environ)
            if isinstance(outcome, Failure):
                state.payload = {WORKERINPUT_ERROR_KEY: outcome.message}
            else:
                try:
                    state.payload = {WORKERINPUT_KEY: base64.b64encode(pickle.dumps(outcome)).decode("ascii")}
                except Exception:
                    # A schema pickle cannot carry (a local class, a value without pickle
                    # support): workers resolve for themselves, from the same files and variables.
                    state.payload = {}
        node.workerinput.update(state.payload)
