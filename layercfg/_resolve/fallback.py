"""The fallback step: switch the endpoint set to staging together, with the probe as receipt.

``fallback = "auto"``: the primary service (the first declared service whose URL field
has a staging counterpart, ``backend`` in the built-in schema) is probed (TCP connect within
``probe_timeout``, concurrently with its staging counterpart); when it is down and staging
answers, every endpoint that has a staging counterpart switches at once, together with
the host and port fields of those URLs, so a run never talks to a local backend and a
staging auth service. ``"force"`` switches without
probing. An endpoint set by the override layer is never replaced. Nothing happens
silently: each switched field's receipt says why, and so does a load-wide note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Candidate, FieldTrace, LayerKind, Origin, Status, notice
from .._model.schema import ENGINE_DEFAULTS
from .._model.urls import url_parts
from .endpoints import parts_of

if TYPE_CHECKING:
    from .probe import ProbeResult


@attrs.frozen
class FallbackReport:
    """What the fallback step decided and why (for explain, doctor and the pytest header)."""

    mode: str  # "off" | "auto" | "force"
    switched: bool
    reason: str
    probes: tuple[ProbeResult, ...] = ()  # of the primary (and its staging counterpart)
    fields: tuple[str, ...] = ()  # the fields that switched
    unswitched: tuple[str, ...] = ()  # fields with a staging counterpart that is not set: they stay local


def _pinned(trace: FieldTrace) -> bool:
    """Set explicitly by the override layer (directly, or derived from an overridden input)."""
    if trace.winner.origin.layer is LayerKind.OVERRIDE:
        return True
    return any(origin.layer is LayerKind.OVERRIDE for _, origin in trace.lineage)


def _probe_kind(info: SchemaInfo, field: str, fields: dict[str, FieldTrace]) -> tuple[str, str | None]:
    """How the primary service is probed: its service's probe (HTTP health for the backend)."""
    found = info.service_of(field)
    if found is None or found[0].probe != "http":
        return ("tcp", None)
    path = found[0].health_path or fields["health_path"].value
    return ("http", str(path) if path else None)


def _local_candidates(trace: FieldTrace, primary_url: str) -> list[str]:
    """The other values the primary field was offered that point at this machine, each once."""
    from .._model.urls import is_local

    urls = []
    for candidate in trace.candidates[1:]:
        raw = candidate.raw
        if isinstance(raw, str) and raw != primary_url and raw not in urls and is_local(raw):
            urls.append(raw)
    return urls


def apply_fallback(
    info: SchemaInfo,
    fields: dict[str, FieldTrace],
    mode_override: str | None = None,
) -> FallbackReport:
    """Switch ``fields`` (in place) to staging when the fallback mode says so."""
    mode_trace = fields["fallback"]
    mode = mode_override or str(mode_trace.value)
    if mode_override:
        switch_on = f"fallback={mode} for this call"
    else:
        where = f" ({mode_trace.winner.origin.location})" if mode_trace.winner.origin.location else ""
        switch_on = f"fallback={mode} from {mode_trace.winner.origin.source}{where}"
    pairs = {name: spec.staging for name, spec in info.fields.items() if spec.staging}
    primary = next((s.main.url_field for s in info.services.values() if info.fields[s.main.url_field].staging), None)
    if mode == "off":
        return FallbackReport(mode, False, "fallback is off")
    if primary is None:
        return FallbackReport(mode, False, "no service of the schema has a staging counterpart (setting(staging=...))")
    primary_service = info.fields[primary].service
    service_name = primary_service.name if primary_service is not None else primary
    staging_primary = pairs[primary]
    assert staging_primary is not None
    if fields[staging_primary].value is None:
        spec = info.fields[staging_primary]
        either = f" or one of {', '.join(spec.aliases)}" if spec.aliases else ""
        reason = f"fallback is {mode} but {staging_primary} is not set (set {spec.env}{either})"
        return FallbackReport(mode, False, reason)
    if _pinned(fields[primary]):
        reason = f"{primary} is set by {fields[primary].winner.origin}; fallback never replaces an explicit override"
        return FallbackReport(mode, False, reason)

    probes: tuple[ProbeResult, ...] = ()
    if mode == "force":
        why = f"{switch_on}: staging without probing"
    else:
        from .probe import ProbeRequest, probe_all

        timeout = fields["probe_timeout"].value
        budget = float(timeout) if isinstance(timeout, (int, float)) else ENGINE_DEFAULTS.probe_timeout
        kind, health = _probe_kind(info, primary, fields)
        primary_request = ProbeRequest(str(fields[primary].value), kind, health_path=health)
        staging_request = ProbeRequest(str(fields[staging_primary].value), kind, health_path=health)
        # Before leaving the machine, every other candidate of the primary that points here.
        others = _local_candidates(fields[primary], primary_request.url)
        local = [ProbeRequest(url, kind, health_path=health) for url in others]
        results = probe_all([primary_request, staging_request, *local], budget=budget)
        primary_result, staging_result = results[primary_request], results[staging_request]
        probes = (primary_result, staging_result)
        if primary_result.ok:
            return FallbackReport(mode, False, f"{service_name} is up: {primary_result.describe()}", probes)
        running = next((results[request] for request in local if results[request].ok), None)
        if running is not None:
            reason = (
                f"{service_name} is down ({primary_result.describe()}), but another candidate of {primary} is up "
                f"on this machine ({running.describe()}): not leaving it for staging; make that candidate win "
                f"(`layercfg explain {primary}`)"
            )
            fields[primary] = fields[primary].warned(notice("fallback-kept-local", reason=reason))
            return FallbackReport(mode, False, reason, (*probes, running))
        if not staging_result.ok:
            reason = (
                f"{service_name} is down ({primary_result.describe()}) and staging is down too "
                f"({staging_result.describe()}); keeping the primary endpoints"
            )
            # Every test that needs the service will fail: a warning on the field, not only a note.
            fields[primary] = fields[primary].warned(notice("fallback-all-down", reason=reason))
            return FallbackReport(mode, False, reason, probes)
        why = f"{service_name} {primary_result.describe()}; staging {staging_result.describe()}; {switch_on}"

    switched = []
    unswitched: list[str] = []
    for name, staging_name in pairs.items():
        assert staging_name is not None
        trace, staging = fields[name], fields[staging_name]
        if _pinned(trace):
            continue
        if staging.value is None:
            # Say so: a run on staging that still talks to this field's local endpoint is half switched.
            spec = info.fields[staging_name]
            names = " or ".join([spec.env, *spec.aliases])
            warning = notice("fallback-unswitched", field=name, value=trace.value, staging=staging_name, names=names)
            fields[name] = trace.warned(warning)
            unswitched.append(name)
            continue
        origin = Origin(
            LayerKind.FALLBACK, staging.winner.origin.source, staging.winner.origin.location, f"{staging_name}: {why}"
        )
        top = max(c.tier for c in trace.candidates) + 1
        winner = Candidate(origin, staging.value, top, Status.WON, staging.value)
        demoted = attrs.evolve(trace.winner, status=Status.SHADOWED)
        candidates = (winner, demoted, *trace.candidates[1:])
        warning = notice("fallback-switched", field=name, why=why)
        fields[name] = attrs.evolve(
            trace,
            value=staging.value,
            winner=winner,
            candidates=candidates,
            notices=(*trace.notices, warning),
            lineage=staging.lineage,
        )
        switched.append(name)
        for part, part_field in parts_of(info, name).items():
            value = url_parts(str(staging.value))[part]
            part_trace = fields[part_field]
            part_origin = Origin(LayerKind.FALLBACK, f"part of {name}", None, f"{name} switched to staging ({why})")
            part_winner = Candidate(part_origin, value, top, Status.WON, value)
            fields[part_field] = attrs.evolve(
                part_trace,
                value=value,
                winner=part_winner,
                candidates=(
                    part_winner,
                    attrs.evolve(part_trace.winner, status=Status.SHADOWED),
                    *part_trace.candidates[1:],
                ),
            )
    reason = f"using staging endpoints: {why}"
    if unswitched:
        reason += f"; {', '.join(unswitched)} could not switch (no staging counterpart set)"
    return FallbackReport(mode, True, reason, probes, tuple(switched), tuple(unswitched))
