"""The report header: which profiles a run used, where each endpoint came from, and the notes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._model.secrets import display, mask_text, text
from .._views.render import secret_values
from ..testing import service_fields
from .stack import session_outcome
from .state import Failure, State

if TYPE_CHECKING:
    from .._load import Loaded


def report_header(state: State) -> list[str]:
    """The report header of an active session: the profiles, each endpoint with its origin, the notes."""
    outcome = session_outcome(state, os.environ)
    if isinstance(outcome, Failure):
        lines = outcome.message.splitlines() or [""]
        more = " (tests that use the config show the rest)" if len(lines) > 1 else ""
        return [f"layercfg: configuration error: {lines[0]}{more}"]
    lines = header_lines(outcome)
    lifecycle = outcome.trace.fields.get("lifecycle")
    if lifecycle is not None and lifecycle.value not in (None, "off"):
        lines.insert(
            1,
            f"layercfg: lifecycle {lifecycle.value} ({_origin_text(lifecycle)}): the stack comes up before the "
            "first test that needs it; the values below are from before",
        )
    return lines


def _origin_text(trace: Any) -> str:
    origin = trace.winner.origin
    if origin.layer.label == "derived":
        return "derived"
    return f"{origin.layer.label}: {origin}"


def header_lines(loaded: Loaded[Any]) -> list[str]:
    """What the header says about one resolution: the profiles, then one line per endpoint with its origin,
    then the notes (each once)."""
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
