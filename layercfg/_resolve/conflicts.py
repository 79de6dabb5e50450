"""Port conflicts: a winning URL on this machine whose port is not the one the running container
publishes (or, when none runs, the one its compose file declares). One rule, read by the load's
warning and by doctor's ``port.conflict``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from .._model.provenance import FieldTrace, LayerKind, Notice, Origin, notice
from .._model.urls import is_local, port_of

if TYPE_CHECKING:
    from .._sources.containers import PublishedPort
    from .._sources.discovery import Declared, DiscoveryReport


@attrs.frozen
class PortConflict:
    """A winning URL whose port is not the one the running system (or its compose file) uses.

    The one rule behind the receipt's warning and doctor's ``port.conflict``: each renders it.
    """

    field: str
    port: int | None  # the winning URL's port
    origin: Origin  # what set the winning URL
    published: PublishedPort | None = None  # the running container that publishes another port
    declared: Declared | None = None  # else the compose declaration of another port


def port_conflicts(report: DiscoveryReport, fields: Mapping[str, FieldTrace]) -> list[PortConflict]:
    """Every endpoint whose winning port differs from what a running container publishes (or, when none
    runs, from what its compose file declares). Winners from discovery itself or from a fallback, and
    URLs that are not on this machine, say nothing about the containers here."""
    conflicts = []
    for field, trace in fields.items():
        if not isinstance(trace.value, str) or not is_local(trace.value):
            continue
        origin = trace.winner.origin
        if origin.layer in (LayerKind.DISCOVERY, LayerKind.FALLBACK):
            continue
        port = port_of(trace.value)
        published = report.published.get(field)
        declared = report.declared.get(field)
        if published is not None:
            if port != published.host_port:
                conflicts.append(PortConflict(field, port, origin, published=published))
        elif declared is not None and port != declared.host_port:
            conflicts.append(PortConflict(field, port, origin, declared=declared))
    return conflicts


def conflict_warning(conflict: PortConflict) -> Notice | None:
    """The receipt's warning for a conflict with a running container (declarations are doctor's alone)."""
    published = conflict.published
    if published is None:
        return None
    return notice(
        "port-conflict",
        field=conflict.field,
        port=conflict.port,
        origin=conflict.origin,
        container=published.container_name,
        container_port=published.container_port,
        host_port=published.host_port,
    )
