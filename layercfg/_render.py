"""Consumers' views of a receipt: text for people, dicts for the JSON contract.

Every value passes through :func:`display` so secrets print as ``<secret>``
unless ``show_secrets`` is asked for explicitly.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._provenance import Candidate, FieldTrace, LayerKind, Notice, Origin, Status, Trace
from ._schema import SECRET_MASK, mask_url_passwords, url_passwords
from .exceptions import LayercfgError

_LABEL_WIDTH = 9
_LAYER_WIDTH = 12


def display(value: object, *, secret: bool, show_secrets: bool = False) -> object:
    """A value as it may be printed: masked when secret, the password of a URL masked, JSON-friendly otherwise."""
    if secret and not show_secrets and value is not None:
        return SECRET_MASK
    if isinstance(value, str) and not show_secrets:
        return mask_url_passwords(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list, frozenset)):
        return [display(item, secret=False, show_secrets=show_secrets) for item in value]
    return value


def text(value: object) -> str:
    """A displayed value as one line of text."""
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def mask_text(message: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret value, and every URL's password, in free text (warnings, errors).

    Inside a URL only the password is masked (by its place), so a user named like a password
    (``test:test@``) stays readable; elsewhere whole values are replaced, so a short password
    ("test") does not mask parts of unrelated words (``config/.env.alpine-test``).
    """
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    pieces = []
    last = 0
    for match in _URL.finditer(message):
        pieces.append(_mask_values(message[last : match.start()], values))
        pieces.append(mask_url_passwords(match.group(0)))
        last = match.end()
    pieces.append(_mask_values(message[last:], values))
    return "".join(pieces)


def _mask_values(text: str, values: Sequence[str]) -> str:
    if not values or not text:
        return text
    return _values_pattern(tuple(values)).sub(lambda _match: SECRET_MASK, text)


@functools.lru_cache(maxsize=32)
def _values_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for every secret (longest first), compiled once per receipt: linear in the text."""
    alternatives = "|".join(re.escape(value) for value in values)
    return re.compile(r"(?<![\w.-])(?:" + alternatives + r")(?![\w.-])")


def secret_values(trace: Trace) -> list[str]:
    """The raw texts of every secret candidate of a receipt (for masking free text)."""
    return secret_values_of(trace.fields.values())


def secret_values_of(fields: Iterable[FieldTrace]) -> list[str]:
    """The raw texts of the secret candidates of ``fields``, and the passwords inside their URLs."""
    found = []
    for field in fields:
        if field.secret:
            found += [str(c.raw) for c in field.candidates if c.raw is not None and str(c.raw)]
        for candidate in field.candidates:
            if isinstance(candidate.raw, str):
                found += url_passwords(candidate.raw)
    return found


def _source_text(candidate: Candidate) -> str:
    origin = candidate.origin
    source = origin.source
    if origin.detail and origin.layer is not LayerKind.DERIVED:
        source += f" ({origin.detail})"
    return source


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


def field_text(field: FieldTrace) -> str:
    """The receipt of one field on its own (``str(explain(cfg, name))``), secrets masked."""
    return _explain_lines(field, secret_values_of([field]), show_secrets=False)


def explain_text(field: FieldTrace, trace: Trace, *, show_secrets: bool = False) -> str:
    """The receipt of one field, for people."""
    return _explain_lines(field, [] if show_secrets else field_secrets(field, trace), show_secrets=show_secrets)


def _explain_lines(field: FieldTrace, secrets: Sequence[str], *, show_secrets: bool) -> str:
    value = text(display(field.value, secret=field.secret, show_secrets=show_secrets))
    lines = [f"{field.name} = {value}"]
    for candidate in field.candidates:
        label = "set by" if candidate.status is Status.WON else candidate.status.value
        layer = candidate.origin.layer.label
        if candidate.status is Status.WON:
            body = _source_text(candidate)
            if candidate.origin.location:
                body += f"   {candidate.origin.location}"
        else:
            raw = display(candidate.raw, secret=field.secret, show_secrets=show_secrets)
            body = f"{text(raw)}   {candidate.origin.location or _source_text(candidate)}"
            if candidate.origin.location:
                body += f" ({_source_text(candidate)})"
        lines.append(f"  {label:<{_LABEL_WIDTH}} {layer:<{_LAYER_WIDTH}} {body}")
        for part, where in candidate.origin.parts if candidate.status is Status.WON else ():
            secret = " <secret>" if part == "password" and not show_secrets else ""
            lines.append(f"  {'':<{_LABEL_WIDTH}} {'':<{_LAYER_WIDTH}}   {part:<8} <- {where}{secret}")
        if candidate.status is Status.WON and field.lineage:
            for name, origin in field.lineage:
                lines.append(
                    f"  {'':<{_LABEL_WIDTH}} {'':<{_LAYER_WIDTH}}   {name} <- {mask_text(str(origin), secrets)}"
                )
    for warning in field.warnings:
        lines.append(f"  {'warning':<{_LABEL_WIDTH}} {mask_text(warning, secrets)}")
    return "\n".join(lines)


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
    lines += [f"{n:<{width}} = {v:<{vwidth}}  {layer:<{_LAYER_WIDTH}} {where}" for n, v, layer, where in rows]
    secrets = [] if show_secrets else secret_values(trace)
    lines += [f"warning: {mask_text(w, secrets)}" for w in trace.warnings]
    for field in trace.fields.values():
        own = [] if show_secrets or not field.notices else field_secrets(field, trace)
        lines += [f"warning: {field.name}: {mask_text(w, own)}" for w in field.warnings]
    return "\n".join(lines)


def env_assignments(
    trace: Trace,
    names: Mapping[str, tuple[str, ...]],
    port_names: Mapping[str, tuple[str, ...]] | None = None,
    *,
    show_secrets: bool = False,
) -> list[tuple[str, str]]:
    """(variable, value) pairs for every field with a value, under each of its names.

    ``port_names`` are legacy port variables: they get the port of the field's URL (or the port itself).
    """
    pairs = []
    for field in trace.fields.values():
        if field.value is None:
            continue
        value = text(display(field.value, secret=field.secret, show_secrets=show_secrets))
        if isinstance(field.value, (tuple, list, frozenset)):
            value = ",".join(str(item) for item in field.value)
            if field.secret and not show_secrets:
                value = SECRET_MASK
        for name in (port_names or {}).get(field.name, ()):
            port = _port_text(field.value)
            if port is not None:
                pairs.append((name, port))
        for name in names[field.name]:
            pairs.append((name, value))
    return pairs


def _port_text(value: object) -> str | None:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "://" in value:
        from ._endpoints import url_parts

        port = url_parts(value)["port"]
        return None if port is None else str(port)
    return None


def error_text(errors: Sequence[LayercfgError]) -> str:
    """A failed load for people: the one problem, or every problem on its own line."""
    if len(errors) == 1:
        return str(errors[0])
    return "\n".join([f"{len(errors)} problems in the configuration:", *(f"  - {e}" for e in errors)])


_NOTICES = {
    "legacy-name": "{variable} is a legacy name; prefer {prefer}",
    "names-disagree": "{lost}={lost_value} and {won}={won_value} disagree in {where}; {won} wins ({why})",
    "half-overridden": (
        "half-overridden pair: {field}={stale} from {stale_origin} is below {newest} from {newest_origin}; "
        "using the derived value instead so the pair stays consistent (set {field} at the same layer to keep it)"
    ),
    "internal-host": (
        "host {host} is a name service {service} runs under inside the compose network; from this machine "
        "connect to the port it publishes on localhost"
    ),
    "part-internal": (
        "{who}={shown} ({origin}) is a name the service runs under inside the compose network, not reachable "
        "from this machine; {field} follows {url_field} instead"
    ),
    "part-disagrees": (
        "{who}={shown} ({origin}) disagrees with {url_field} from {url_origin} ({why}); {field} follows {url_field}"
    ),
    "port-conflict": (
        "{field} points at port {port} ({origin}) but docker container {container} publishes "
        "{container_port}/tcp on {host_port}; nothing may listen on {port}"
    ),
    "fallback-switched": "fallback: {field} switched to staging ({why})",
    "fallback-unswitched": "fallback: {field} stays at {value}: {staging} is not set (set {names})",
    "fallback-kept-local": "{reason}",
    "fallback-all-down": "{reason}",
}


def notice_text(item: Notice) -> str:
    """A warning record in words (the one place they are worded)."""
    return _NOTICES[item.kind].format(**dict(item.facts))


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
