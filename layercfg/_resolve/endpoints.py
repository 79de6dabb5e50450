"""The endpoint step: a service's URL and its parts (host, port, credentials) never disagree.

Runs after conversion, before derived fields. For each service endpoint (main first), a part
set in a *higher* layer than the URL is folded into the URL (which then carries the
precedence of its inputs, like any derived value); every other part takes its value from
the URL, and a part set explicitly to something else is named in a warning. A host that is a
name the service runs under inside the compose network (``POSTGRES_HOST=alpine-test-postgres``
in an env file written for containers) cannot be reached from this machine: it is never
folded in, and the receipt says why.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import NamedTuple

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Candidate, FieldTrace, LayerKind, Origin, Status, notice
from .._model.secrets import SECRET_MASK
from .._model.services import EndpointModel, ServiceModel
from .._model.urls import composable, url_parts, with_part


class Resolved(NamedTuple):
    """A field after conversion: its value, its receipt, and the precedence of what decided it."""

    value: object
    trace: FieldTrace
    tier: int


def align_endpoints(info: SchemaInfo, done: MutableMapping[str, Resolved]) -> None:
    """Make every service URL and its parts agree (in place), main endpoints first."""
    for service in info.services.values():
        names = done.get(service.names_setting)
        internal = set(names.value) if names is not None and isinstance(names.value, tuple) else set()
        settled: dict[str, int] = {}  # part field -> tier it was settled at (shared by the endpoints)
        for endpoint in service.endpoints:
            _align(service, endpoint, done, internal, settled)


def _align(
    service: ServiceModel,
    endpoint: EndpointModel,
    done: MutableMapping[str, Resolved],
    internal: set[str],
    settled: dict[str, int],
) -> None:
    url = done.get(endpoint.url_field)
    if url is None or url.trace.winner.status is not Status.WON or not isinstance(url.value, str):
        return
    parts = service.part_fields(endpoint)
    folded: list[tuple[str, Resolved]] = []
    composed = url.value
    for part, field in parts.items():
        resolved = done[field]
        if resolved.trace.winner.status is not Status.WON or resolved.value is None:
            continue
        if not composable(part, endpoint.scheme):
            continue
        tier = settled.get(field, resolved.tier if resolved.trace.winner.origin.layer is not LayerKind.DEFAULT else -1)
        if tier <= url.tier:
            continue
        if part == "host" and resolved.value in internal:
            continue  # _part_from_url explains it
        composed = with_part(composed, part, resolved.value)
        folded.append((field, resolved))
    if folded:
        tier = max(url.tier, *(r.tier for _, r in folded))
        lineage = ((endpoint.url_field, url.trace.winner.origin), *((f, r.trace.winner.origin) for f, r in folded))
        origin = Origin(
            LayerKind.DERIVED,
            "composed from " + " + ".join(name for name, _ in lineage),
            None,
            "; ".join(f"{name} <- {origin}" for name, origin in lineage),
        )
        winner = Candidate(origin, composed, tier, Status.WON, composed)
        demoted = attrs.evolve(url.trace.winner, status=Status.SHADOWED)
        trace = attrs.evolve(
            url.trace,
            value=composed,
            winner=winner,
            candidates=(winner, demoted, *url.trace.candidates[1:]),
            lineage=lineage,
        )
        url = Resolved(composed, trace, tier)
        done[endpoint.url_field] = url
    values = url_parts(composed)
    host = values["host"]
    if host in internal:
        warning = notice("internal-host", host=repr(host), service=service.name)
        done[endpoint.url_field] = url._replace(trace=url.trace.warned(warning))
        url = done[endpoint.url_field]
    folded_fields = {field for field, _ in folded}
    for part, field in parts.items():
        if field in folded_fields or field in settled:
            settled.setdefault(field, done[field].tier)
            continue
        if not composable(part, endpoint.scheme):
            continue
        done[field] = _part_from_url(
            done[field], values[part], endpoint.url_field, url, internal if part == "host" else set()
        )
        settled[field] = url.tier


def _part_from_url(part: Resolved, value: object, url_field: str, url: Resolved, internal: set[str]) -> Resolved:
    """A part field's value taken from its URL, warning when an explicit setting of it disagrees."""
    trace = part.trace
    warnings = list(trace.notices)
    explicit = trace.winner.origin.layer is not LayerKind.DEFAULT and trace.winner.status is Status.WON
    if explicit and part.value is not None and part.value != value:
        origin = trace.winner.origin
        shown = SECRET_MASK if trace.secret else part.value
        who = origin.variable or trace.name
        facts = {"who": who, "shown": shown, "origin": origin, "field": trace.name, "url_field": url_field}
        if part.value in internal:
            warnings.append(notice("part-internal", **facts))
        else:
            why = "a higher layer" if url.tier > part.tier else "the same layer; the URL wins"
            warnings.append(notice("part-disagrees", **facts, url_origin=url.trace.winner.origin, why=why))
    if explicit and part.value == value:
        return part  # it agrees: its own receipt is the true one
    origin = Origin(LayerKind.DERIVED, f"derived from {url_field}", None, f"{url_field} <- {url.trace.winner.origin}")
    winner = Candidate(origin, value, url.tier, Status.WON, value)
    others = tuple(attrs.evolve(c, status=Status.SHADOWED) if c.status is Status.WON else c for c in trace.candidates)
    new = attrs.evolve(
        trace,
        value=value,
        winner=winner,
        candidates=(winner, *others),
        notices=tuple(warnings),
        lineage=((url_field, url.trace.winner.origin),),
    )
    return Resolved(value, new, url.tier)


def parts_of(info: SchemaInfo, url_field: str) -> Mapping[str, str]:
    """part -> field of the service endpoint whose URL ``url_field`` holds (empty when none)."""
    found = info.service_of(url_field)
    if found is None:
        return {}
    service, endpoint = found
    return {part: field for part, field in service.part_fields(endpoint).items() if composable(part, endpoint.scheme)}
