"""Convert raw values (text from variables, TOML values from profiles) to field types.

Types come from the schema, never from tokens inside values. Booleans parse from
one documented table; anything else is an error that lists the accepted words.
A conversion failure raises :class:`ConversionError` with a message that says what
was expected and what was found; the caller adds the source.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._model.schema import FieldSpec
from .._model.secrets import SECRET_MASK, mask_url_passwords
from .._model.words import FALSE_WORDS, TRUE_WORDS

NONE_WORDS = ("", "none", "null")


class Invalid(ValueError):
    """A value does not fit its field; the text says what was expected."""


def show_raw(raw: object, secret: bool) -> str:
    """How a rejected value is quoted in an error: masked when secret."""
    if secret:
        return SECRET_MASK
    return mask_url_passwords(repr(raw))


_HOST_FORBIDDEN = frozenset("/@?#[]%\\")


def _check_host(spec: FieldSpec, value: str, raw: object) -> None:
    """A host part is a host name or an address: it joins a URL, so it may not carry URL syntax."""
    bad = not value or any(char.isspace() or ord(char) < 32 or char in _HOST_FORBIDDEN for char in value)
    if not bad and ":" in value:
        import ipaddress

        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            bad = True
    if bad:
        raise Invalid(
            f"expected a host name or an IP address (no port, brackets or URL syntax), got {show_raw(raw, spec.secret)}"
        )


def convert(spec: FieldSpec, raw: object) -> object:
    """Convert ``raw`` for ``spec`` or raise :class:`Invalid`."""
    tp = spec.type
    # Once per field of every load: str, int, float, bool and Path skip the typing introspection,
    # and fields without bounds, a unit, a host part or schemes skip the checks.
    value = _SCALARS[tp](raw, spec) if tp in _SCALARS else _convert_type(tp, raw, spec)
    if value is not None and (spec.part or spec.minimum is not None or spec.unit or spec.schemes):
        _check(spec, value, raw)
    return value


def _convert_type(tp: Any, raw: object, spec: FieldSpec) -> object:
    if tp in _SCALARS:
        return _SCALARS[tp](raw, spec)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        if len(members) < len(args) and (raw is None or (isinstance(raw, str) and raw.strip().lower() in NONE_WORDS)):
            return None
        errors = []
        for member in members:
            try:
                return _convert_type(member, raw, spec)
            except Invalid as exc:
                errors.append(str(exc))
        raise Invalid(" or ".join(errors))
    if origin is typing.Literal:
        text = raw if not isinstance(raw, str) else raw.strip()
        if text in args:
            return text
        choices = ", ".join(repr(arg) for arg in args)
        raise Invalid(f"expected one of {choices}, got {show_raw(raw, spec.secret)}")
    if origin in (tuple, list, frozenset):
        item_type = args[0] if args else str
        items = _split_list(raw, spec)
        converted = [_convert_type(item_type, item, spec) for item in items]
        return frozenset(converted) if origin is frozenset else (tuple(converted) if origin is tuple else converted)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if raw is member:  # an Enum member as the schema default, or from an override
                return member
            if raw in (member.value, member.name) or (isinstance(raw, str) and raw.strip() == str(member.value)):
                return member
        choices = ", ".join(repr(member.value) for member in tp)
        raise Invalid(f"expected one of {choices}, got {show_raw(raw, spec.secret)}")
    if tp is Any or tp is object:
        return raw
    if tp is None:  # attrs.make_class without type=..., or a field without an annotation
        raise Invalid("the schema gives this field no type: declare it with an annotation in a class body")
    raise Invalid(f"layercfg cannot convert to {tp!r}; use str, int, float, bool, Path, Literal, Enum or tuple")


def _split_list(raw: object, spec: FieldSpec) -> list[object]:
    if isinstance(raw, (list, tuple)):
        return list(raw)
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    raise Invalid(f"expected a list (or comma-separated text), got {show_raw(raw, spec.secret)}")


def _to_str(raw: object, spec: FieldSpec) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return str(raw)
    raise Invalid(f"expected text, got {show_raw(raw, spec.secret)}")


def _to_bool(raw: object, spec: FieldSpec) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    accepted = "/".join(TRUE_WORDS + FALSE_WORDS)
    raise Invalid(f"expected a boolean ({accepted}), got {show_raw(raw, spec.secret)}")


def _expected_number(kind: str, spec: FieldSpec) -> str:
    return f"expected {spec.unit} ({kind})" if spec.unit else f"expected {kind}"


def _to_int(raw: object, spec: FieldSpec) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip(), 10)
        except ValueError:
            pass
    raise Invalid(f"{_expected_number('a whole number', spec)}, got {show_raw(raw, spec.secret)}")


def _to_float(raw: object, spec: FieldSpec) -> float:
    value: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:
            value = float(raw)
        except OverflowError:  # an integer past float's range (10**400)
            value = None
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        raise Invalid(f"{_expected_number('a number', spec)}, got {show_raw(raw, spec.secret)}")
    return value


def _to_path(raw: object, spec: FieldSpec) -> Path:
    if isinstance(raw, (str, Path)) and str(raw):
        return Path(raw)
    raise Invalid(f"expected a path, got {show_raw(raw, spec.secret)}")


_SCALARS: dict[Any, Callable[[object, FieldSpec], object]] = {
    str: _to_str,
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    Path: _to_path,
}


# Durations past a year are mistakes, and past ~1e9 s they overflow every clock and socket timeout.
MAX_SECONDS = 365 * 24 * 3600


def _check(spec: FieldSpec, value: object, raw: object) -> None:
    if spec.part == "host" and isinstance(value, str):
        _check_host(spec, value, raw)
    if spec.minimum is not None and isinstance(value, (int, float)) and value < spec.minimum:
        raise Invalid(f"expected at least {spec.minimum:g}, got {show_raw(raw, spec.secret)}")
    if spec.unit == "seconds" and isinstance(value, (int, float)) and value > MAX_SECONDS:
        raise Invalid(f"expected at most {MAX_SECONDS} seconds (a year), got {show_raw(raw, spec.secret)}")
    if spec.schemes and isinstance(value, str):
        if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
            # urlsplit strips or keeps these silently: "http://local host" and a trailing newline from a
            # multi-line TOML string would be used as written.
            raise Invalid(f"expected a URL without spaces or control characters, got {show_raw(raw, spec.secret)}")
        try:
            parts = urlsplit(value)
            port = parts.port  # raises for a port that is not a number up to 65535
        except ValueError as exc:
            raise Invalid(f"expected a URL, got {show_raw(raw, spec.secret)}: {exc}") from None
        if port == 0:
            raise Invalid(f"expected a URL with a port in 1-65535, got {show_raw(raw, spec.secret)}")
        if parts.scheme not in spec.schemes or not parts.hostname:
            schemes = " or ".join(spec.schemes)
            raise Invalid(f"expected a {schemes} URL (scheme://host[:port]), got {show_raw(raw, spec.secret)}")
