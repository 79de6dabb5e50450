"""The precedence table: the loader iterates it, and a new source is one function plus one entry."""

from __future__ import annotations

from collections.abc import Sequence

from conftest import Project

from layercfg import Origin, Status
from layercfg._load import resolve
from layercfg._model.provenance import Entry, Layer, SourceKind
from layercfg._precedence import SOURCES, LoadContext, Source
from layercfg._views.render import explain_dict, explain_text

REMOTE = SourceKind("remote", "a key-value store the team keeps its endpoints in")


def remote_store(context: LoadContext) -> Sequence[Layer]:
    """A test-only source: what a remote store says, with the key it came from."""
    store = {"backend_url": ("http://remote:7000", "kv://netra/backend_url")}
    entries = tuple(
        Entry(field, value, Origin(REMOTE, f"remote key {key}", key)) for field, (value, key) in store.items()
    )
    return [Layer(REMOTE, "remote store", entries)]


WITH_REMOTE = (*SOURCES[:3], Source(REMOTE, remote_store), *SOURCES[3:])  # above env files, below legacy names


def test_new_source_takes_its_place_in_the_order(project: Project):
    """A source added to the table beats the sources below it, and the receipt names it."""
    project.profile("p", '[values]\nbackend_url = "http://profile:1"\n')
    resolution = resolve(profile="p", project_dir=project.root, environ={}, sources=WITH_REMOTE)
    trace = resolution.trace["backend_url"]
    assert resolution.config.backend_url == "http://remote:7000"
    assert [(c.origin.layer.label, c.raw, c.status) for c in trace.candidates] == [
        ("remote", "http://remote:7000", Status.WON),
        ("profile", "http://profile:1", Status.SHADOWED),
        ("default", "http://localhost:8000", Status.SHADOWED),
    ]
    assert resolution.config.websocket_url == "ws://remote:7000/ws"  # derived values follow it
    assert "remote store" in resolution.trace.layers
    assert explain_text(trace, resolution.trace).splitlines()[1].startswith("  set by    remote       remote key")
    assert explain_dict(trace, resolution.trace)["layer"] == "remote"


def test_higher_sources_still_beat_it(project: Project):
    """The environment, above the new source in the table, wins over it."""
    resolution = resolve(project_dir=project.root, environ={"NETRA_BACKEND_URL": "http://env:1"}, sources=WITH_REMOTE)
    assert resolution.config.backend_url == "http://env:1"
    assert resolution.trace["backend_url"].candidates[1].origin.layer is REMOTE


def test_table_is_the_documented_order():
    """The built-in table lists the seven documented sources, discovery deferred."""
    assert [(s.label, s.deferred) for s in SOURCES] == [
        ("default", False),
        ("profile", False),
        ("env-file", False),
        ("legacy-env", False),
        ("discovery", True),
        ("environment", False),
        ("override", False),
    ]
