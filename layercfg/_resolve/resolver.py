"""Convert and resolve: merged candidates become typed values with receipts, field by field.

Plain fields take their highest candidate; then every service URL and its parts are made to
agree (:mod:`layercfg._resolve.endpoints`); then derived fields are computed, carrying the
precedence of their inputs. Every conversion problem is collected, none stops the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Candidate, Entry, FieldTrace, LayerKind, Notice, Origin, Status, notice
from .._model.schema import FieldSpec
from .._model.secrets import SECRET_MASK
from ..exceptions import ConversionError, LayercfgError, MissingValueError
from .convert import Invalid, convert
from .endpoints import Resolved, align_endpoints
from .merge import Ranked, legacy_warning, name_warnings

# (id of a defaults-layer entry, tier) -> (that entry, its shadowed candidate); the entry is kept so the
# id is never reused while the pair lives.
_DEFAULT_CANDIDATES: dict[tuple[int, int], tuple[Entry, Candidate]] = {}


class Resolver:
    """Turns merged entries into converted values, candidates and warnings, field by field."""

    def __init__(self, info: SchemaInfo, ranked: Mapping[str, list[Ranked]]) -> None:
        self.info = info
        self.ranked = ranked
        self.errors: list[LayercfgError] = []
        self.done: dict[str, Resolved] = {}

    def run(self) -> dict[str, Resolved]:
        pending = [spec for spec in self.info.fields.values() if spec.derive is None]
        derived = [(spec, spec.derive) for spec in self.info.fields.values() if spec.derive is not None]
        for spec in pending:
            self.done[spec.name] = self._plain(spec, self.ranked[spec.name])
        align_endpoints(self.info, self.done)  # before derived fields: websocket_url follows a folded port
        while derived:  # derived fields may depend on other derived fields
            ready = [pair for pair in derived if all(name in self.done for name in pair[1].inputs)]
            if not ready:
                names = ", ".join(spec.name for spec, _ in derived)
                raise LayercfgError(f"derived fields depend on each other in a cycle: {names}")
            for pair in ready:
                self.done[pair[0].name] = self._derived(pair[0])
                derived.remove(pair)
        return self.done

    def _convert(self, spec: FieldSpec, raw: object, origin: Origin) -> tuple[object, bool]:
        try:
            return convert(spec, raw), True
        except Invalid as exc:
            self.errors.append(ConversionError(spec.name, str(exc), origin))
            return None, False

    def _plain(self, spec: FieldSpec, ranked: Sequence[Ranked]) -> Resolved:
        if not ranked:
            self.errors.append(MissingValueError(spec.name, spec.env))
            missing = Candidate(Origin(LayerKind.DEFAULT, "nothing"), None, 0, Status.INVALID)
            return Resolved(None, FieldTrace(spec.name, None, spec.secret, missing, (missing,)), -1)
        tier, entry = ranked[0]
        value, ok = self._convert(spec, entry.raw, entry.origin)
        winner = Candidate(entry.origin, entry.raw, tier, Status.WON if ok else Status.INVALID, value)
        warnings = name_warnings(ranked, spec.secret)
        legacy = legacy_warning(entry) if entry.prefer is not None else None
        if legacy is not None:
            warnings.insert(0, legacy)
        # This runs once per field of every load: plain loops, no generator.
        candidates = [winner]
        for other_tier, other in ranked[1:]:
            if other.origin.layer is LayerKind.DEFAULT:
                # The defaults layer is the same entries every load (computed once per schema), and
                # candidates are immutable: its shadowed candidates are made once too.
                key = (id(other), other_tier)
                shadowed = _DEFAULT_CANDIDATES.get(key)
                if shadowed is None or shadowed[0] is not other:
                    shadowed = _DEFAULT_CANDIDATES[key] = (other, Candidate(other.origin, other.raw, other_tier))
                candidates.append(shadowed[1])
            else:
                candidates.append(Candidate(other.origin, other.raw, other_tier))
        trace = FieldTrace(spec.name, value, spec.secret, winner, tuple(candidates), tuple(warnings))
        return Resolved(value, trace, tier)

    def _derived(self, spec: FieldSpec) -> Resolved:
        derivation = spec.derive
        assert derivation is not None
        inputs = [self.done[name] for name in derivation.inputs]
        ranked = self.ranked[spec.name]
        explicit = [r for r in ranked if r.entry.origin.layer is not LayerKind.DEFAULT]
        input_tier = max(resolved.tier for resolved in inputs)
        if explicit and explicit[0].tier >= input_tier:
            return self._plain(spec, ranked)  # set at or above its inputs' layer: it stands
        if any(resolved.trace.winner.status is not Status.WON for resolved in inputs):
            return self._plain(spec, ranked)  # an input is invalid; its error is already collected
        raw = derivation.compute(*(resolved.value for resolved in inputs))
        if raw is None:
            return self._plain(spec, ranked)
        lineage = tuple(
            (name, resolved.trace.winner.origin) for name, resolved in zip(derivation.inputs, inputs, strict=True)
        )
        origin = Origin(
            LayerKind.DERIVED,
            "derived from " + " + ".join(derivation.inputs),
            None,
            "; ".join(f"{name} <- {origin}" for name, origin in lineage),
        )
        warnings: list[Notice] = []
        if explicit:
            stale = explicit[0]
            newest = max(inputs, key=lambda resolved: resolved.tier)
            warnings.append(
                notice(
                    "half-overridden",
                    field=spec.name,
                    stale=SECRET_MASK if spec.secret else stale.entry.raw,
                    stale_origin=stale.entry.origin,
                    newest=newest.trace.name,
                    newest_origin=newest.trace.winner.origin,
                )
            )
        value, ok = self._convert(spec, raw, origin)
        winner = Candidate(origin, raw, input_tier, Status.WON if ok else Status.INVALID, value)
        candidates = (winner, *(Candidate(r.entry.origin, r.entry.raw, r.tier) for r in ranked))
        trace = FieldTrace(spec.name, value, spec.secret, winner, candidates, tuple(warnings), lineage)
        return Resolved(value, trace, input_tier)


def top_value(ranked: Mapping[str, Sequence[Ranked]], info: SchemaInfo, name: str) -> object:
    """The converted value of ``name``'s highest candidate so far (None when unset or invalid).

    Used for settings that decide what else to read (discovery's own); the full resolution
    reports a bad value with its source.
    """
    candidates = ranked.get(name)
    if not candidates:
        return None
    try:
        return convert(info.fields[name], candidates[0].entry.raw)
    except Invalid:
        return None
