"""The merge stage: entries become candidates per field, highest precedence first, and a late layer fits its place."""

from __future__ import annotations

from layercfg import LayerKind, Origin, TestEnvConfig
from layercfg._model.fieldtable import schema_info
from layercfg._model.provenance import Entry, Layer
from layercfg._resolve.merge import merge, splice

INFO = schema_info(TestEnvConfig, "NETRA_")


def layer(kind: LayerKind, *values: str) -> Layer:
    return Layer(kind, kind.label, tuple(Entry("backend_url", v, Origin(kind, f"{kind.label} {v}")) for v in values))


def test_merge_orders_by_tier_then_by_place_in_the_layer():
    """Higher tiers first; inside one layer the later entry wins."""
    ranked = merge([(0, layer(LayerKind.DEFAULT, "a")), (2000, layer(LayerKind.ENVIRONMENT, "b", "c"))], INFO)
    assert [(r.tier, r.entry.raw) for r in ranked["backend_url"]] == [(2000, "c"), (2000, "b"), (0, "a")]
    assert ranked["auth_url"] == []


def test_splice_puts_a_late_layer_in_its_place():
    """A layer computed after the merge (discovery) lands between the tiers around it, its own order kept."""
    ranked = merge([(0, layer(LayerKind.DEFAULT, "a")), (3000, layer(LayerKind.ENVIRONMENT, "e"))], INFO)
    splice(ranked, 2000, layer(LayerKind.DISCOVERY, "d1", "d2"))
    assert [(r.tier, r.entry.raw) for r in ranked["backend_url"]] == [(3000, "e"), (2000, "d2"), (2000, "d1"), (0, "a")]
