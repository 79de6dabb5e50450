"""The ``requires_service`` marker: its names checked at collection, and the gate that probes each
service once per session before a marked test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .._model.schema import ENGINE_DEFAULTS
from .._model.secrets import mask_text
from .._resolve.probe import probe, readiness_request
from .._sources.project import find_project
from .._views.render import secret_values
from ..exceptions import LayercfgError
from ..testing import field_value, service_field, service_fields
from .stack import session_outcome
from .state import LEDGER_KEY, Failure, State, is_ci

if TYPE_CHECKING:
    from .._load import Loaded


class MarkerError(Exception):
    """A ``requires_service`` marker written wrong."""


def service_names(item: pytest.Item) -> Iterator[str]:
    """The services ``item``'s ``requires_service`` markers name."""
    for marker in item.iter_markers("requires_service"):
        if len(marker.args) != 1 or not isinstance(marker.args[0], str) or marker.kwargs:
            raise MarkerError(f"{item.nodeid}: use @pytest.mark.requires_service('NAME'), got {marker}")
        yield marker.args[0]


def check_markers(state: State, marked: list[pytest.Function]) -> None:
    """Stop the run before any test when a marker is malformed or names a service no one declares."""
    try:
        names = {name for item in marked for name in service_names(item)}
    except MarkerError as exc:
        raise pytest.UsageError(str(exc)) from None
    known = _known_services(state)
    if known is not None and names - set(known):
        # A service a profile declares is known only once the profiles are read.
        outcome = session_outcome(state, os.environ)
        if not isinstance(outcome, Failure):
            known = {**known, **_service_fields_of(outcome)}
    if known is not None:
        unknown = sorted(names - set(known))
        if unknown:
            listing = ", ".join(sorted(known)) or "(none)"
            raise pytest.UsageError(f"requires_service: unknown service {unknown[0]!r} (known: {listing})")


def _known_services(state: State) -> dict[str, str] | None:
    """The schema's services without resolving values; None when the schema cannot be read
    (the gate fixture then reports the load's own error)."""
    try:
        return service_fields(find_project(state.project_dir).load_schema())
    except LayercfgError:
        return None


def _service_fields_of(loaded: Loaded[Any]) -> dict[str, str]:
    return service_fields(loaded.trace.schema, loaded.trace.info)


def require_services(request: pytest.FixtureRequest, state: State) -> None:
    """Skip (or fail, when strict) a test whose required services are not ready (their protocol's probe)."""
    try:
        names = list(dict.fromkeys(service_names(request.node)))
    except MarkerError as exc:
        pytest.fail(str(exc), pytrace=False)
    cfg = request.getfixturevalue("layercfg_config")
    loaded = session_outcome(state, request.getfixturevalue("layercfg_environ"))
    assert not isinstance(loaded, Failure)  # layercfg_config has already failed the test
    # CI is read from the process, not from layercfg_environ: a project that hands layercfg a
    # clean dict still runs in CI, where a skipped service test must not pass unnoticed.
    strict = state.strict or is_ci(os.environ)
    secrets = secret_values(loaded.trace)
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
        request.node.user_properties.append(
            (
                LEDGER_KEY,
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
        message = mask_text(message, secrets)
        if strict:
            why = "--layercfg-strict" if state.strict else "CI=true"
            pytest.fail(f"{message} [{why}: not skipped]", pytrace=False)
        pytest.skip(message)
