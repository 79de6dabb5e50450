"""Compose-specification variable interpolation that records every variable it consults.

The grammar is the compose specification's (``12-interpolation.md``), with the edge cases
settled the way compose-go v2 settles them, since that is what ``docker compose`` runs:

- ``$NAME`` and ``${NAME}``; a name is ``[_a-zA-Z][_a-zA-Z0-9]*``; an unset variable
  becomes the empty string (compose only warns).
- ``${NAME:-word}`` / ``${NAME-word}``: *word* when NAME is unset or empty / unset.
- ``${NAME:?word}`` / ``${NAME?word}``: an error naming NAME and *word* when unset or empty / unset.
- ``${NAME:+word}`` / ``${NAME+word}``: *word* when NAME is set and non-empty / set, else NAME's value.
- *word* is itself interpolated, and only when its branch is taken.
- ``$$`` is a literal ``$``; a ``$`` followed by anything that cannot start a name or
  ``{`` is kept as written.
- ``${`` without a valid name, an unsupported operator (``${NAME/a/b}``) or no closing
  ``}`` is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeAlias

import attrs

from ..exceptions import SourceError

__all__ = ["Interpolated", "InterpolationError", "Lookup", "VariableUse", "interpolate"]

Lookup: TypeAlias = Callable[[str], str | None]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
# Two-character operators first: ":-" must not be read as an unsupported ":".
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


@attrs.frozen
class VariableUse:
    """One variable consulted while interpolating, and what it decided."""

    name: str
    value: str | None
    used_default: bool
    expression: str


@attrs.frozen
class Interpolated:
    """The result of interpolating a text, with the variables consulted in order of appearance."""

    value: str
    uses: tuple[VariableUse, ...]


class InterpolationError(SourceError):
    """A text is not valid compose interpolation, or a required variable (``:?``/``?``) is missing.

    ``variable`` is the variable concerned (None when the text names none, e.g. ``${1}``),
    ``expression`` the ``${...}`` text at fault, and ``reason`` the user's ``?err`` message
    after interpolation (``""`` when they gave none; None unless a required variable is missing).
    """

    def __init__(
        self,
        message: str,
        *,
        variable: str | None = None,
        expression: str | None = None,
        reason: str | None = None,
        location: str | None = None,
    ) -> None:
        self.variable = variable
        self.expression = expression
        self.reason = reason
        super().__init__(message, location=location)


@attrs.frozen
class _Literal:
    text: str


@attrs.frozen
class _Reference:
    name: str
    operator: str | None
    word: tuple[_Node, ...]
    expression: str


_Node: TypeAlias = _Literal | _Reference


def interpolate(text: str, lookup: Lookup) -> Interpolated:
    """Interpolate *text* the way compose does; *lookup* returns None for an unset variable.

    The whole text is parsed before any variable is looked up, so a syntax error is
    reported even inside a default that would not have been used.
    """
    if "$" not in text:
        return Interpolated(value=text, uses=())
    nodes = _Parser(text).parse()
    uses: list[VariableUse] = []
    value = _evaluate(nodes, lookup, uses)
    return Interpolated(value=value, uses=tuple(uses))


MAX_NESTING = 32  # compose files nest defaults two or three deep; past this is an attack or a mistake


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.nesting = 0

    def parse(self) -> tuple[_Node, ...]:
        return self._word(in_braces=False)

    def _word(self, *, in_braces: bool) -> tuple[_Node, ...]:
        text = self.text
        nodes: list[_Node] = []
        literal: list[str] = []
        # compose-go balances bare braces inside a word, so ${A:-{x}} defaults to "{x}".
        depth = 0

        def flush() -> None:
            if literal:
                nodes.append(_Literal("".join(literal)))
                literal.clear()

        while self.pos < len(text):
            char = text[self.pos]
            if in_braces and char == "}":
                if depth == 0:
                    break
                depth -= 1
            elif in_braces and char == "{":
                depth += 1
            if char != "$":
                literal.append(char)
                self.pos += 1
                continue
            following = text[self.pos + 1 : self.pos + 2]
            if following == "$":
                literal.append("$")
                self.pos += 2
            elif following == "{":
                flush()
                nodes.append(self._braced())
            elif match := _NAME.match(text, self.pos + 1):
                flush()
                name = match.group()
                nodes.append(_Reference(name, None, (), "$" + name))
                self.pos = match.end()
            else:
                literal.append("$")
                self.pos += 1
        flush()
        return tuple(nodes)

    def _braced(self) -> _Reference:
        text = self.text
        start = self.pos
        self.pos += 2
        match = _NAME.match(text, self.pos)
        if match is None:
            snippet = _snippet(text, start)
            raise InterpolationError(
                f"invalid interpolation {snippet!r}: '${{' must be followed by a variable name "
                "([_a-zA-Z][_a-zA-Z0-9]*)",
                expression=snippet,
            )
        name = match.group()
        self.pos = match.end()
        if text.startswith("}", self.pos):
            self.pos += 1
            return _Reference(name, None, (), text[start : self.pos])
        operator = next((op for op in _OPERATORS if text.startswith(op, self.pos)), None)
        if operator is None:
            if self.pos >= len(text):
                raise _unterminated(text, start, name)
            snippet = _snippet(text, start)
            raise InterpolationError(
                f"invalid interpolation {snippet!r} for variable {name}: after the name compose "
                "accepts only '}', ':-', '-', ':?', '?', ':+' or '+'",
                variable=name,
                expression=snippet,
            )
        self.pos += len(operator)
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise InterpolationError(
                f"interpolation nested more than {MAX_NESTING} levels deep", variable=name, expression=text[start:][:40]
            )
        word = self._word(in_braces=True)
        self.nesting -= 1
        if self.pos >= len(text):
            raise _unterminated(text, start, name)
        self.pos += 1
        return _Reference(name, operator, word, text[start : self.pos])


def _snippet(text: str, start: int) -> str:
    """The ``${...`` text from *start* to the next ``}`` (or the end), for error messages."""
    end = text.find("}", start)
    return text[start:] if end < 0 else text[start : end + 1]


def _unterminated(text: str, start: int, name: str) -> InterpolationError:
    snippet = text[start:]
    return InterpolationError(
        f"unterminated interpolation {snippet!r} for variable {name}: missing '}}'",
        variable=name,
        expression=snippet,
    )


def _evaluate(nodes: tuple[_Node, ...], lookup: Lookup, uses: list[VariableUse]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, _Literal):
            parts.append(node.text)
            continue
        value = lookup(node.name)
        operator = node.operator
        # The colon forms treat an empty value like an unset one.
        absent = value is None or (value == "" and operator is not None and operator.startswith(":"))
        # A default replaces an absent value; a replacement replaces a present one.
        if (operator in (":-", "-") and absent) or (operator in (":+", "+") and not absent):
            uses.append(VariableUse(node.name, value, True, node.expression))
            parts.append(_evaluate(node.word, lookup, uses))
        elif operator in (":?", "?") and absent:
            uses.append(VariableUse(node.name, value, False, node.expression))
            reason = _evaluate(node.word, lookup, uses)
            state = "is unset" if value is None else "is set but empty"
            raise InterpolationError(
                f"required variable {node.name} {state}" + (f": {reason}" if reason else ""),
                variable=node.name,
                expression=node.expression,
                reason=reason,
            )
        else:
            uses.append(VariableUse(node.name, value, False, node.expression))
            parts.append(value or "")
    return "".join(parts)
