"""Secrets never print: what looks secret, and every value and text masked before it is shown.

Pure functions on strings, with no import from the rest of layercfg: records, renderers and
errors all mask through here, so there is one rule for what ``<secret>`` hides.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

SECRET_MASK = "<secret>"

# Names that look secret are masked even when the schema did not say so (DESIGN.md).
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY$|PASSWD|CREDENTIAL", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """True for names like ``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*`` and ``*_KEY``."""
    return bool(_SECRET_NAME.search(name))


# scheme://user:PASSWORD@host: the password part of a URL's userinfo.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:)([^/?#@\s]*)(@)")


def mask_url_passwords(text: str) -> str:
    """Replace the password of every URL inside ``text`` with ``<secret>``; the user stays visible."""
    if "@" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: m.group(1) + SECRET_MASK + m.group(3) if m.group(2) else m.group(0), text)


def url_passwords(text: str) -> list[str]:
    """The passwords of the URLs inside ``text`` (for masking them in free text)."""
    if "@" not in text:
        return []
    return [m.group(2) for m in _URL_PASSWORD.finditer(text) if m.group(2)]


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
