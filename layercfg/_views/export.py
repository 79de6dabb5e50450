"""A load as variables (``layercfg env``): name and value pairs, and dotenv or shell lines that every
reader (python-dotenv, compose, layercfg's env files, a POSIX shell) reads back as written."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from .._load import Trace
from .._model.secrets import SECRET_MASK, display, text
from .._model.urls import url_parts

# python-dotenv expands ${...} inside any quotes and has no escape: a literal "$" comes from a
# variable defined first, which dotenv readers, compose and the shell all expand.
DOLLAR_VARIABLE = "LAYERCFG_DOLLAR"
_SAFE = re.compile(r"^[A-Za-z0-9_./:@+,=%-]*$")


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
        port = url_parts(value)["port"]
        return None if port is None else str(port)
    return None


def export_lines(pairs: list[tuple[str, str]], fmt: str) -> list[str]:
    """``pairs`` as ``dotenv`` or ``shell`` lines; a masked secret becomes a comment, never a value."""
    lines = []
    if fmt == "dotenv" and any("${" in value and SECRET_MASK not in value for _, value in pairs):
        lines.append(f"{DOLLAR_VARIABLE}='$'")
    for name, value in pairs:
        if SECRET_MASK in value:
            # An export is read back as values: never write the mask where a password belongs.
            lines.append(f"# {name} holds a secret: add --show-secrets to export it")
        elif fmt == "shell":
            lines.append(f"export {name}={shlex.quote(value)}")
        else:
            lines.append(f"{name}={dotenv_quote(value)}")
    return lines


def dotenv_quote(value: str) -> str:
    """A value python-dotenv, compose and layercfg's env files read back as written."""
    if _SAFE.match(value):
        return value
    if "${" in value:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + escaped.replace("$", "${" + DOLLAR_VARIABLE + "}") + '"'
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
