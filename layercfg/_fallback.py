"""The fallback step: switch the endpoint set to staging together, with the probe as receipt.

``fallback = "auto"``: the primary backend is probed (TCP connect within
``probe_timeout``, concurrently with the staging backend); when it is down and staging
answers, every endpoint that has a staging counterpart switches at once, so a run never
talks to a local backend and a staging auth service. ``"force"`` switches without
probing. An endpoint set by the override layer is never replaced. Nothing happens
silently: each switched field's receipt says why, and so does a load-wide note.
"""

from __future__ import annotations

import attrs

from ._provenance import Candidate, FieldTrace, LayerKind, Origin, Status
from ._schema import SchemaInfo

PRIMARY = "backend"  # the service whose probe decides (its field is the one with service == "backend")


@attrs.frozen
class FallbackReport:
    """What the fallback step decided and why (for explain, doctor and the pytest header)."""

    mode: str  # "off" | "auto" | "force"
    switched: bool
    reason: str
    probes: tuple[object, ...] = ()  # _probe.ProbeResult of primary (and staging)
    fields: tuple[str, ...] = ()  # the fields that switched


def _pinned(trace: FieldTrace) -> bool:
    """Set explicitly by the override layer (directly, or derived from an overridden input)."""
    if trace.winner.origin.layer is LayerKind.OVERRIDE:
        return True
    return any(origin.layer is LayerKind.OVERRIDE for _, origin in trace.lineage)


def apply_fallback(
    info: SchemaInfo,
    fields: dict[str, FieldTrace],
    mode_override: str | None = None,
) -> FallbackReport | None:
    """Switch ``fields`` (in place) to staging when the fallback mode says so; None without a fallback field."""
    if "fallback" not in info.fields:
        return None
    mode_trace = fields["fallback"]
    mode = mode_override or str(mode_trace.value)
    if mode_override:
        switch_on = f"fallback={mode} for this call"
    else:
        where = f" ({mode_trace.winner.origin.location})" if mode_trace.winner.origin.location else ""
        switch_on = f"fallback={mode} from {mode_trace.winner.origin.source}{where}"
    pairs = {name: spec.staging for name, spec in info.fields.items() if spec.staging}
    primary = next((name for name, spec in info.fields.items() if spec.service == PRIMARY and spec.staging), None)
    if mode == "off" or primary is None:
        return FallbackReport(mode, False, "fallback is off")
    staging_primary = pairs[primary]
    assert staging_primary is not None
    if fields[staging_primary].value is None:
        reason = (
            f"fallback is {mode} but {staging_primary} is not set "
            f"(set {info.fields[staging_primary].env} or one of {', '.join(info.fields[staging_primary].aliases)})"
        )
        return FallbackReport(mode, False, reason)
    if _pinned(fields[primary]):
        reason = f"{primary} is set by {fields[primary].winner.origin}; fallback never replaces an explicit override"
        return FallbackReport(mode, False, reason)

    probes: tuple[object, ...] = ()
    if mode == "force":
        why = f"{switch_on}: staging without probing"
    else:
        from ._probe import ProbeRequest, probe_all

        budget = fields["probe_timeout"].value if "probe_timeout" in fields else 1.0
        primary_request = ProbeRequest(str(fields[primary].value))
        staging_request = ProbeRequest(str(fields[staging_primary].value))
        results = probe_all([primary_request, staging_request], budget=float(budget))  # type: ignore[arg-type]
        primary_result, staging_result = results[primary_request], results.get(staging_request)
        if staging_result is None:  # the same URL twice: one probe
            staging_result = primary_result
        probes = (primary_result, staging_result)
        if primary_result.ok:
            return FallbackReport(mode, False, f"{PRIMARY} is up: {primary_result.describe()}", probes)
        if not staging_result.ok:
            reason = (
                f"{PRIMARY} is down ({primary_result.describe()}) and staging is down too "
                f"({staging_result.describe()}); keeping the primary endpoints"
            )
            return FallbackReport(mode, False, reason, probes)
        why = f"{PRIMARY} {primary_result.describe()}; {switch_on}"

    switched = []
    for name, staging_name in pairs.items():
        assert staging_name is not None
        trace, staging = fields[name], fields[staging_name]
        if staging.value is None or _pinned(trace):
            continue
        origin = Origin(
            LayerKind.FALLBACK, staging.winner.origin.source, staging.winner.origin.location, f"{staging_name}: {why}"
        )
        top = max(c.tier for c in trace.candidates) + 1
        winner = Candidate(origin, staging.value, top, Status.WON, staging.value)
        demoted = attrs.evolve(trace.winner, status=Status.SHADOWED)
        candidates = (winner, demoted, *trace.candidates[1:])
        warning = f"fallback: {name} switched to staging ({why})"
        fields[name] = attrs.evolve(
            trace,
            value=staging.value,
            winner=winner,
            candidates=candidates,
            warnings=(*trace.warnings, warning),
            lineage=staging.lineage,
        )
        switched.append(name)
    return FallbackReport(mode, True, f"using staging endpoints: {why}", probes, tuple(switched))
