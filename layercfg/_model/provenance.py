"""The receipt: which layer, source and place set each value, and what it shadowed.

Provenance lives beside the config, never on it (the config stays a plain frozen
attrs value). :class:`LayerKind` names the built-in kinds of origin; the precedence
order itself is the table in :mod:`layercfg._precedence`. A record says itself in words here,
next to its fields (a notice's wording, one field's receipt); the views of whole loads
(JSON, the show table, env exports) are the renderer's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import attrs

from .secrets import display, mask_text, text, url_passwords


class LayerKind(enum.IntEnum):
    """Where a value can come from: the built-in sources (lowest first), then the resolution steps."""

    DEFAULT = 1
    PROFILE = 2
    ENV_FILE = 3
    DISCOVERY = 4
    ENVIRONMENT = 5
    OVERRIDE = 6
    DERIVED = 7
    FALLBACK = 8

    @property
    def label(self) -> str:
        """The name used in every output and in the JSON contract (``env-file``)."""
        return self.name.lower().replace("_", "-")

    @property
    def summary(self) -> str:
        return _SUMMARIES[self]


_SUMMARIES = {
    LayerKind.DEFAULT: "the schema's attrs defaults",
    LayerKind.PROFILE: "profile files: each profile's extends chain first, then the active profiles left to right",
    LayerKind.ENV_FILE: "dotenv files the active profiles name (never written into os.environ)",
    LayerKind.DISCOVERY: "published ports of running Docker containers, then compose port declarations",
    LayerKind.ENVIRONMENT: "the process environment: legacy aliases (lower), then canonical names (higher)",
    LayerKind.OVERRIDE: "explicit: load_config(overrides=...), --set FIELD=VALUE, --layercfg-set",
    LayerKind.DERIVED: "computed from other fields; carries the precedence of its inputs",
    LayerKind.FALLBACK: "staging endpoints that replace an unreachable primary set, with the probe as receipt",
}


class SourceKind(NamedTuple):
    """The kind of a source that is not built in (a source added to the precedence table)."""

    label: str
    summary: str


@attrs.frozen
class Origin:
    """One place a value came from.

    ``source`` names the thing (``env TEST_BACKEND_URL``, ``profile docker``,
    ``config/.env.alpine-test``); ``location`` is ``PATH:LINE`` where a file is
    involved; ``detail`` adds why (``legacy alias of NETRA_BACKEND_URL``); ``variable``
    is the exact variable name when one was read.
    """

    layer: LayerKind | SourceKind
    source: str
    location: str | None = None
    detail: str | None = None
    variable: str | None = None  # the variable name it came under (environment, env files)
    naming: str | None = None  # how a variable's name matched: "canonical", "alias", "port-variable", "switch"
    parts: tuple[
        tuple[str, str], ...
    ] = ()  # URL parts taken from elsewhere: ("user", "compose.yml:12 (POSTGRES_USER)")
    container: str | None = None  # the running container discovery found the value on

    def __str__(self) -> str:
        text = self.source
        if self.detail:
            text += f" ({self.detail})"
        if self.location and self.location not in self.source:
            text += f", {self.location}"
        return text


class Status(enum.Enum):
    """What became of one candidate value of a field."""

    WON = "won"
    SHADOWED = "shadowed"
    INVALID = "invalid"


@attrs.frozen
class Candidate:
    """A value some layer offered for a field.

    ``raw`` is the text (or TOML value) before conversion; ``tier`` is the index of
    its layer in the resolved stack, so candidates of different fields compare by
    precedence (the derived step relies on that).
    """

    origin: Origin
    raw: object
    tier: int
    status: Status = Status.SHADOWED
    value: object = None


class Entry(NamedTuple):
    """One value a layer offers for one field.

    ``prefer`` is the canonical name when the value came in under a legacy alias,
    so the merge can warn about it. A named tuple: a load makes one per value it reads.
    """

    field: str
    raw: object
    origin: Origin
    prefer: str | None = None


class Layer(NamedTuple):
    """What one source says, in its own precedence order (later entries win)."""

    kind: LayerKind | SourceKind
    name: str
    entries: tuple[Entry, ...]
    warnings: tuple[str, ...] = ()


class Notice(NamedTuple):
    """One warning as data: its kind (``legacy-name``, ``names-disagree``, ``port-conflict``, ...)
    and the facts it states, each already masked if secret. Only the renderer turns it into text
    (``str()`` asks it); a consumer that needs to know what a warning says reads ``kind`` and
    ``facts``, never the text."""

    kind: str
    facts: tuple[tuple[str, str], ...] = ()

    def fact(self, name: str) -> str:
        return dict(self.facts)[name]

    def __str__(self) -> str:
        return notice_text(self)


def notice(kind: str, **facts: object) -> Notice:
    """``notice("legacy-name", variable="TEST_BACKEND_URL", prefer="NETRA_BACKEND_URL")``."""
    return Notice(kind, tuple((name, str(value)) for name, value in facts.items()))


@attrs.frozen(repr=False)
class FieldTrace:
    """Everything known about how one field got its value.

    ``str()`` is the receipt as ``layercfg explain`` prints it, and neither ``str()`` nor
    ``repr()`` shows a secret value or a URL's password.
    """

    name: str
    value: object
    secret: bool
    winner: Candidate
    candidates: tuple[Candidate, ...]  # highest precedence first, winner included
    notices: tuple[Notice, ...] = ()  # its warnings, as data
    lineage: tuple[tuple[str, Origin], ...] = ()  # for derived values: (input field, its origin)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings as the renderer words them."""
        return tuple(str(item) for item in self.notices)

    def warned(self, *added: Notice) -> FieldTrace:
        """This trace with more warnings."""
        return attrs.evolve(self, notices=(*self.notices, *added))

    def __str__(self) -> str:
        return field_text(self)

    def __repr__(self) -> str:
        shown = text(display(self.value, secret=self.secret))
        return (
            f"FieldTrace(name={self.name!r}, value={shown!r}, layer={self.winner.origin.layer.label!r}, "
            f"source={self.winner.origin.source!r}, candidates={len(self.candidates)})"
        )


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


LABEL_WIDTH = 9
LAYER_WIDTH = 12


def source_text(candidate: Candidate) -> str:
    """Where a candidate came from, with why (the derived step says its lineage on lines of its own)."""
    origin = candidate.origin
    source = origin.source
    if origin.detail and origin.layer is not LayerKind.DERIVED:
        source += f" ({origin.detail})"
    return source


def field_text(field: FieldTrace) -> str:
    """The receipt of one field on its own (``str(explain(cfg, name))``), secrets masked."""
    return explain_lines(field, secret_values_of([field]), show_secrets=False)


def explain_lines(field: FieldTrace, secrets: Sequence[str], *, show_secrets: bool) -> str:
    """The receipt of one field as ``layercfg explain`` prints it; ``secrets`` are masked in free text."""
    value = text(display(field.value, secret=field.secret, show_secrets=show_secrets))
    lines = [f"{field.name} = {value}"]
    for candidate in field.candidates:
        label = "set by" if candidate.status is Status.WON else candidate.status.value
        layer = candidate.origin.layer.label
        if candidate.status is Status.WON:
            body = source_text(candidate)
            if candidate.origin.location:
                body += f"   {candidate.origin.location}"
        else:
            raw = display(candidate.raw, secret=field.secret, show_secrets=show_secrets)
            body = f"{text(raw)}   {candidate.origin.location or source_text(candidate)}"
            if candidate.origin.location:
                body += f" ({source_text(candidate)})"
        lines.append(f"  {label:<{LABEL_WIDTH}} {layer:<{LAYER_WIDTH}} {body}")
        for part, where in candidate.origin.parts if candidate.status is Status.WON else ():
            secret = " <secret>" if part == "password" and not show_secrets else ""
            lines.append(f"  {'':<{LABEL_WIDTH}} {'':<{LAYER_WIDTH}}   {part:<8} <- {where}{secret}")
        if candidate.status is Status.WON and field.lineage:
            for name, origin in field.lineage:
                lines.append(f"  {'':<{LABEL_WIDTH}} {'':<{LAYER_WIDTH}}   {name} <- {mask_text(str(origin), secrets)}")
    for warning in field.warnings:
        lines.append(f"  {'warning':<{LABEL_WIDTH}} {mask_text(warning, secrets)}")
    return "\n".join(lines)


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
