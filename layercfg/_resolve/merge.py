"""Merge: every layer's entries become ranked candidates per field, highest precedence first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .._model.fieldtable import SchemaInfo
from .._model.provenance import Entry, Layer, LayerKind, Notice, notice
from .._model.secrets import SECRET_MASK


class Ranked(NamedTuple):
    """An entry with the index of its layer in the stack (its *tier*).

    A named tuple rather than an attrs class: a load makes one per entry (two per field and
    more), and a tuple is built in a third of the time a frozen attrs instance takes.
    """

    tier: int
    entry: Entry


def merge(stack: Sequence[tuple[int, Layer]], info: SchemaInfo) -> dict[str, list[Ranked]]:
    """Entries of each field, highest precedence first.

    ``stack`` is (tier, layer) pairs, lowest first; a layer's tier orders entries of different
    fields too (the derived step compares them). Within a layer later entries win (legacy
    aliases come before canonical names).
    """
    per_field: dict[str, list[Ranked]] = {name: [] for name in info.fields}
    for tier, layer in stack:
        for entry in layer.entries:
            per_field[entry.field].append(Ranked(tier, entry))
    for ranked in per_field.values():
        ranked.reverse()
    return per_field


def splice(ranked: dict[str, list[Ranked]], tier: int, layer: Layer) -> None:
    """Add a layer that was computed after the merge (discovery) at ``tier``, in place.

    Discovery needs settings resolved from the other layers, so the stack is merged once with
    its place kept free and its entries are put there afterwards: one merge per load.
    """
    added: dict[str, list[Ranked]] = {}
    for entry in layer.entries:
        added.setdefault(entry.field, []).append(Ranked(tier, entry))
    for field, new in added.items():
        current = ranked[field]
        higher = [r for r in current if r.tier > tier]
        lower = [r for r in current if r.tier <= tier]
        ranked[field] = [*higher, *reversed(new), *lower]


def name_warnings(ranked: Sequence[Ranked], secret: bool) -> list[Notice]:
    """Two names for one field that disagree within one source, naming both.

    Each tier's winning name is compared with the names it beat in the same source.
    """
    if len(ranked) < 2 or (len(ranked) == 2 and ranked[0].tier != ranked[1].tier):
        return []  # most fields: one value, or a default and one value from elsewhere
    warnings: list[Notice] = []
    start = 0
    while start < len(ranked):
        winner = ranked[start]
        end = start + 1
        while end < len(ranked) and ranked[end].tier == winner.tier:
            loser = ranked[end].entry
            won = winner.entry.origin.variable
            lost = loser.origin.variable
            if loser.raw != winner.entry.raw and won and lost:
                why = "the canonical name wins" if winner.entry.prefer is None else "later in the alias order"
                warnings.append(
                    notice(
                        "names-disagree",
                        lost=lost,
                        lost_value=_show(loser.raw, secret),
                        won=won,
                        won_value=_show(winner.entry.raw, secret),
                        where=_where(winner.entry),
                        why=why,
                    )
                )
            end += 1
        start = end
    return warnings


def legacy_warning(entry: Entry) -> Notice | None:
    """``TEST_BACKEND_URL is a legacy name; prefer NETRA_BACKEND_URL`` when an alias won."""
    if entry.prefer is None:
        return None
    return notice("legacy-name", variable=entry.origin.variable, prefer=entry.prefer)


def _where(entry: Entry) -> str:
    if entry.origin.layer is LayerKind.ENVIRONMENT:
        return "the environment"
    location = entry.origin.location or entry.origin.source
    return location.rsplit(":", 1)[0]  # "config/.env.x:3" -> the file


def _show(raw: object, secret: bool) -> str:
    return SECRET_MASK if secret else str(raw)
