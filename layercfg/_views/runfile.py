"""Run receipts (``.layercfg/run.json``, written by the pytest plugin): read them, and compare two.

A receipt holds what one session resolved (profiles, every field's value and winning origin,
warnings, fallback and Docker decisions) and what its services answered; secrets are masked when
it is written. Comparing a flaky CI job's receipt with a green one's shows what changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exceptions import SourceError

__all__ = ["diff_receipts", "read_receipt", "receipts_diff_text"]


def read_receipt(path: str) -> dict[str, Any]:
    """A receipt file as data; a clear error naming the file when it is not one."""
    from .._sources.files import read_text

    text = read_text(Path(path), path, "run receipt")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"not a run receipt: malformed JSON ({exc.msg}, line {exc.lineno})", location=path) from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise SourceError('not a run receipt (no "version": 1)', location=path)
    return data


def _where(entry: dict[str, Any]) -> str:
    place = entry.get("location") or entry.get("source") or ""
    return f"{entry.get('value')!s}   ({entry.get('layer')}: {place})"


def diff_receipts(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, str]]:
    """What differs: profiles, each field's value or winning origin, warnings, fallback, Docker, services."""
    changes: list[dict[str, str]] = []

    def add(what: str, a: object, b: object) -> None:
        changes.append({"what": what, "first": str(a), "second": str(b)})

    if first.get("profiles") != second.get("profiles"):
        add("profiles", ", ".join(first.get("profiles") or []), ", ".join(second.get("profiles") or []))
    if first.get("error") != second.get("error"):
        add("configuration error", first.get("error") or "(none)", second.get("error") or "(none)")
    fields_a, fields_b = first.get("fields") or {}, second.get("fields") or {}
    for name in [*fields_a, *(n for n in fields_b if n not in fields_a)]:
        a, b = fields_a.get(name), fields_b.get(name)
        if a is None or b is None:
            add(name, _where(a) if a else "(absent)", _where(b) if b else "(absent)")
        elif (a.get("value"), a.get("layer"), a.get("source")) != (b.get("value"), b.get("layer"), b.get("source")):
            add(name, _where(a), _where(b))
    for key in ("fallback", "docker"):
        if first.get(key) != second.get(key):
            add(key, json.dumps(first.get(key)), json.dumps(second.get(key)))
    services_a, services_b = first.get("services") or {}, second.get("services") or {}
    for name in [*services_a, *(n for n in services_b if n not in services_a)]:
        a, b = services_a.get(name) or {}, services_b.get(name) or {}

        def state(entry: dict[str, Any]) -> str:
            if not entry:
                return "(not used)"
            up = "up" if entry.get("ok") else "down"
            return f"{entry.get('url')} {up}: {entry.get('probe')}"

        if (a.get("url"), a.get("ok")) != (b.get("url"), b.get("ok")):
            add(f"service {name}", state(a), state(b))
    warnings_a, warnings_b = set(first.get("warnings") or []), set(second.get("warnings") or [])
    for warning in sorted(warnings_a - warnings_b):
        add("warning", warning, "(absent)")
    for warning in sorted(warnings_b - warnings_a):
        add("warning", "(absent)", warning)
    return changes


def receipts_diff_text(changes: list[dict[str, Any]], first: str, second: str) -> list[str]:
    """:func:`diff_receipts` for people: what differs, then each receipt's side of it."""
    if not changes:
        return [f"{first} and {second} resolved the same values and saw the same services"]
    lines = []
    for change in changes:
        lines += [f"{change['what']}", f"  {first:<24} {change['first']}", f"  {second:<24} {change['second']}"]
    return lines
