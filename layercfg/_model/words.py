"""Text forms shared by conversion, the sources, the CLI and the pytest plugin.

Standard library only: the pytest plugin imports this in every pytest run, and must not
pay for attrs or the rest of layercfg there.
"""

from __future__ import annotations

from collections.abc import Iterable

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def split_assignments(texts: Iterable[str]) -> dict[str, str]:
    """``["backend_url=http://x", ...]`` -> ``{"backend_url": "http://x"}``; later ones win.

    Raises ValueError with the offending text when one is not ``FIELD=VALUE``; callers turn
    it into their own usage error (click's, pytest's).
    """
    result: dict[str, str] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected FIELD=VALUE, got {text!r}")
        result[name.strip()] = value
    return result
