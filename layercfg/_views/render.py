"""Consumers' views of a receipt: text for people, dicts for the JSON contract.

Every value passes through :func:`display` so secrets print as ``<secret>``
unless ``show_secrets`` is asked for explicitly.
"""

from __future__ import annotations

import json
from typing import Any

from .._load import Trace
from .._model.provenance import (
    LAYER_WIDTH,
    Candidate,
    FieldTrace,
    Origin,
    Status,
    explain_lines,
    secret_values_of,
)
from .._model.secrets import display, mask_text, text


def secret_values(trace: Trace) -> list[str]:
    """The raw texts of every secret candidate of a receipt (for masking free text)."""
    return secret_values_of(trace.fields.values())


def field_secrets(field: FieldTrace, trace: Trace) -> list[str]:
    """The secret values a field's own texts (warnings, origins) could quote: its own candidates' and
    those of the inputs it was derived or composed from. Per field, so rendering every field stays
    linear (the load-wide notes are masked with every secret of the receipt)."""
    inputs = [trace.fields[name] for name, _ in field.lineage if name in trace.fields]
    return secret_values_of([field, *inputs])


def explain_dict(field: FieldTrace, trace: Trace, *, show_secrets: bool = False) -> dict[str, Any]:
    """One field in the shape of the JSON contract (docs/cli.md)."""
    secrets = [] if show_secrets else field_secrets(field, trace)

    def shown(candidate: Candidate) -> object:
        value = candidate.value if candidate.status is Status.WON else candidate.raw
        return display(value, secret=field.secret, show_secrets=show_secrets)

    def origin(o: Origin) -> dict[str, Any]:
        """What the text output says of an origin, field by field (docs/cli.md)."""
        return {
            "detail": mask_text(o.detail, secrets) if o.detail else None,
            "variable": o.variable,
            "naming": o.naming,
            "parts": [{"part": part, "location": where} for part, where in o.parts],
        }

    return {
        "field": field.name,
        "value": display(field.value, secret=field.secret, show_secrets=show_secrets),
        "layer": field.winner.origin.layer.label,
        "source": field.winner.origin.source,
        "location": field.winner.origin.location,
        **origin(field.winner.origin),
        "lineage": [
            {"field": name, "layer": o.layer.label, "source": o.source, "location": o.location}
            for name, o in field.lineage
        ],
        "candidates": [
            {
                "layer": c.origin.layer.label,
                "source": c.origin.source,
                "location": c.origin.location,
                "value": shown(c),
                "status": c.status.value,
                **origin(c.origin),
            }
            for c in field.candidates
        ],
        "warnings": [mask_text(w, secrets) for w in field.warnings],
        "notices": [{"kind": n.kind, "facts": {k: mask_text(v, secrets) for k, v in n.facts}} for n in field.notices],
        "profiles": list(trace.profiles),
    }


def explain_text(field: FieldTrace, trace: Trace, *, show_secrets: bool = False) -> str:
    """The receipt of one field, for people."""
    return explain_lines(field, [] if show_secrets else field_secrets(field, trace), show_secrets=show_secrets)


def show_dict(trace: Trace, *, show_secrets: bool = False) -> dict[str, Any]:
    secrets = [] if show_secrets else secret_values(trace)
    return {
        "profiles": list(trace.profiles),
        "fields": [explain_dict(field, trace, show_secrets=show_secrets) for field in trace.fields.values()],
        "warnings": [mask_text(w, secrets) for w in trace.warnings],
    }


def show_text(trace: Trace, *, show_secrets: bool = False) -> str:
    """Every field on one line: name, value, layer and where it was set."""
    rows = []
    for field in trace.fields.values():
        value = text(display(field.value, secret=field.secret, show_secrets=show_secrets))
        origin = field.winner.origin
        where = origin.location or origin.source
        rows.append((field.name, value, origin.layer.label, where))
    width = max(len(row[0]) for row in rows) if rows else 0
    vwidth = min(max((len(row[1]) for row in rows), default=0), 40)
    profiles = ", ".join(trace.profiles) or "(none)"
    lines = [f"profile: {profiles}"]
    lines += [f"{n:<{width}} = {v:<{vwidth}}  {layer:<{LAYER_WIDTH}} {where}" for n, v, layer, where in rows]
    secrets = [] if show_secrets else secret_values(trace)
    lines += [f"warning: {mask_text(w, secrets)}" for w in trace.warnings]
    for field in trace.fields.values():
        own = [] if show_secrets or not field.notices else field_secrets(field, trace)
        lines += [f"warning: {field.name}: {mask_text(w, own)}" for w in field.warnings]
    return "\n".join(lines)


def diff_rows(
    left: Trace, right: Trace, first: str, second: str, *, show_secrets: bool = False
) -> list[dict[str, Any]]:
    """The fields whose values differ between two loads: each side's value and where it was set."""
    rows: list[dict[str, Any]] = []
    for name, a in left.fields.items():
        b = right.fields[name]
        if a.value == b.value:
            continue
        rows.append({"field": name, first: _side(a, show_secrets), second: _side(b, show_secrets)})
    return rows


def _side(field: FieldTrace, show_secrets: bool) -> dict[str, Any]:
    origin = field.winner.origin
    return {
        "value": display(field.value, secret=field.secret, show_secrets=show_secrets),
        "layer": origin.layer.label,
        "where": origin.location or origin.source,
    }


def diff_text(rows: list[dict[str, Any]], first: str, second: str) -> list[str]:
    """``diff_rows`` for people: the field, then each side's value and origin on a line of its own."""
    if not rows:
        return [f"{first} and {second} resolve to the same values"]
    lines = []
    for row in rows:
        lines.append(f"{row['field']}")
        for side in (first, second):
            info = row[side]
            lines.append(f"  {side:<16} {text(info['value'])}   ({info['layer']}: {info['where']})")
    return lines


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
