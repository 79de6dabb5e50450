"""Tests for layercfg._sources.interpolate: compose-specification variable interpolation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layercfg._sources.interpolate import Interpolated, InterpolationError, VariableUse, interpolate
from layercfg.exceptions import SourceError

ENV = {"SET": "value", "EMPTY": "", "PORT": "9999", "OTHER": "other"}


def lookup(name: str) -> str | None:
    return ENV.get(name)


def use(name: str, expression: str, *, used_default: bool = False) -> VariableUse:
    return VariableUse(name=name, value=ENV.get(name), used_default=used_default, expression=expression)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$SET", Interpolated("value", (use("SET", "$SET"),)), id="bare name"),
        pytest.param(
            "a-$SET.b", Interpolated("a-value.b", (use("SET", "$SET"),)), id="bare name stops at non-name"
        ),
        pytest.param("${SET}", Interpolated("value", (use("SET", "${SET}"),)), id="braced name"),
        pytest.param("${UNSET}", Interpolated("", (use("UNSET", "${UNSET}"),)), id="unset becomes empty"),
        pytest.param(
            "${SET}x", Interpolated("valuex", (use("SET", "${SET}"),)), id="braces delimit the name"
        ),
        pytest.param(
            "${UNSET:-d}", Interpolated("d", (use("UNSET", "${UNSET:-d}", used_default=True),)), id=":- unset"
        ),
        pytest.param(
            "${EMPTY:-d}", Interpolated("d", (use("EMPTY", "${EMPTY:-d}", used_default=True),)), id=":- empty"
        ),
        pytest.param("${SET:-d}", Interpolated("value", (use("SET", "${SET:-d}"),)), id=":- set"),
        pytest.param(
            "${UNSET-d}", Interpolated("d", (use("UNSET", "${UNSET-d}", used_default=True),)), id="- unset"
        ),
        pytest.param("${EMPTY-d}", Interpolated("", (use("EMPTY", "${EMPTY-d}"),)), id="- keeps empty"),
        pytest.param("${SET-d}", Interpolated("value", (use("SET", "${SET-d}"),)), id="- set"),
        pytest.param("${SET:?err}", Interpolated("value", (use("SET", "${SET:?err}"),)), id=":? set"),
        pytest.param("${EMPTY?err}", Interpolated("", (use("EMPTY", "${EMPTY?err}"),)), id="? accepts empty"),
        pytest.param(
            "${SET:+r}", Interpolated("r", (use("SET", "${SET:+r}", used_default=True),)), id=":+ set"
        ),
        pytest.param("${EMPTY:+r}", Interpolated("", (use("EMPTY", "${EMPTY:+r}"),)), id=":+ empty"),
        pytest.param("${UNSET:+r}", Interpolated("", (use("UNSET", "${UNSET:+r}"),)), id=":+ unset"),
        pytest.param(
            "${EMPTY+r}", Interpolated("r", (use("EMPTY", "${EMPTY+r}", used_default=True),)), id="+ empty"
        ),
        pytest.param("${UNSET+r}", Interpolated("", (use("UNSET", "${UNSET+r}"),)), id="+ unset"),
        pytest.param("$$SET", Interpolated("$SET", ()), id="$$ escapes"),
        pytest.param("$$$SET", Interpolated("$value", (use("SET", "$SET"),)), id="$$ then a name"),
        pytest.param("$${SET}", Interpolated("${SET}", ()), id="$$ escapes braces"),
        pytest.param("cost: $5 or $", Interpolated("cost: $5 or $", ()), id="lone $ kept"),
        pytest.param(
            "${UNSET:-a b:c/d}",
            Interpolated("a b:c/d", (use("UNSET", "${UNSET:-a b:c/d}", used_default=True),)),
            id="default with punctuation",
        ),
        pytest.param(
            "${UNSET:-{x}}",
            Interpolated("{x}", (use("UNSET", "${UNSET:-{x}}", used_default=True),)),
            id="bare braces balance inside a default",
        ),
        pytest.param(
            "${UNSET:-$$x}",
            Interpolated("$x", (use("UNSET", "${UNSET:-$$x}", used_default=True),)),
            id="$$ inside a default",
        ),
        pytest.param(
            "${PORT}:${SET}",
            Interpolated("9999:value", (use("PORT", "${PORT}"), use("SET", "${SET}"))),
            id="two variables in order",
        ),
    ],
)
def test_forms(text: str, expected: Interpolated) -> None:
    """Each compose-spec form gives the compose result and records the variable it consulted."""
    assert interpolate(text, lookup) == expected


def test_nested_default_records_every_level() -> None:
    """A default nested in a default is interpolated, and each level is recorded in order."""
    text = "${UNSET:-${ALSO_UNSET:-${SET}}}"
    assert interpolate(text, lookup) == Interpolated(
        "value",
        (
            use("UNSET", text, used_default=True),
            use("ALSO_UNSET", "${ALSO_UNSET:-${SET}}", used_default=True),
            use("SET", "${SET}"),
        ),
    )


def test_nested_default_is_not_consulted_when_unused() -> None:
    """A default that is not taken is neither evaluated nor recorded, so its `:?` cannot fail."""
    assert interpolate("${SET:-${UNSET:?boom}}", lookup) == Interpolated(
        "value", (use("SET", "${SET:-${UNSET:?boom}}"),)
    )


def test_nested_bare_variable_in_default() -> None:
    """A bare `$NAME` inside a default is interpolated too."""
    assert interpolate("${UNSET:-x$SET}", lookup) == Interpolated(
        "xvalue", (use("UNSET", "${UNSET:-x$SET}", used_default=True), use("SET", "$SET"))
    )


def test_text_after_nested_expression_continues() -> None:
    """Text after a closed nested expression is interpolated as usual."""
    assert interpolate("${UNSET:-${SET}}-$OTHER", lookup) == Interpolated(
        "value-other",
        (
            use("UNSET", "${UNSET:-${SET}}", used_default=True),
            use("SET", "${SET}"),
            use("OTHER", "$OTHER"),
        ),
    )


def test_real_port_expression_unset_and_set() -> None:
    """The netra port expression falls back to 8002 when unset and follows the variable when set."""
    text = "${ALPINE_TEST_BACKEND_PORT:-8002}:8000"
    expression = "${ALPINE_TEST_BACKEND_PORT:-8002}"
    environ: dict[str, str] = {}
    assert interpolate(text, environ.get) == Interpolated(
        "8002:8000", (VariableUse("ALPINE_TEST_BACKEND_PORT", None, True, expression),)
    )
    assert interpolate(text, {"ALPINE_TEST_BACKEND_PORT": "9999"}.get) == Interpolated(
        "9999:8000", (VariableUse("ALPINE_TEST_BACKEND_PORT", "9999", False, expression),)
    )


def test_required_unset_names_variable_and_message() -> None:
    """`${VAR:?err}` with VAR unset fails with a message naming VAR and the user's text."""
    with pytest.raises(
        InterpolationError, match=r"required variable DB_URL is unset: set it in \.env"
    ) as info:
        interpolate("x${DB_URL:?set it in .env}", lookup)
    assert (info.value.variable, info.value.reason, info.value.expression) == (
        "DB_URL",
        "set it in .env",
        "${DB_URL:?set it in .env}",
    )
    assert isinstance(info.value, SourceError)


def test_required_empty_with_colon_fails() -> None:
    """`${VAR:?err}` also fails when VAR is set but empty, and says so."""
    with pytest.raises(InterpolationError, match="required variable EMPTY is set but empty: need it"):
        interpolate("${EMPTY:?need it}", lookup)


def test_required_without_colon_fails_only_when_unset() -> None:
    """`${VAR?err}` fails for an unset VAR."""
    with pytest.raises(InterpolationError, match="required variable UNSET is unset: gone") as info:
        interpolate("${UNSET?gone}", lookup)
    assert info.value.variable == "UNSET"


def test_required_without_message() -> None:
    """`${VAR:?}` fails with a message that still names the variable."""
    with pytest.raises(InterpolationError, match=r"^required variable UNSET is unset$") as info:
        interpolate("${UNSET:?}", lookup)
    assert info.value.reason == ""


def test_required_message_is_interpolated() -> None:
    """The `?err` text is itself interpolated, as the spec's `${VARIABLE?$FOO}` example shows."""
    with pytest.raises(InterpolationError, match="required variable UNSET is unset: see value") as info:
        interpolate("${UNSET?see $SET}", lookup)
    assert info.value.reason == "see value"


def test_required_inside_taken_default_fails() -> None:
    """A `:?` nested in a default that is taken fails and names the inner variable."""
    with pytest.raises(InterpolationError, match="required variable INNER is unset: x") as info:
        interpolate("${UNSET:-${INNER:?x}}", lookup)
    assert info.value.variable == "INNER"


@pytest.mark.parametrize(
    ("text", "message", "variable"),
    [
        pytest.param("${SET", r"unterminated interpolation '\$\{SET' for variable SET", "SET", id="no brace"),
        pytest.param("${SET:-x", "unterminated interpolation", "SET", id="default without brace"),
        pytest.param("${SET:-${X}", "unterminated interpolation", "SET", id="outer brace missing"),
        pytest.param("${", r"invalid interpolation '\$\{'", None, id="nothing after ${"),
        pytest.param("${}", r"invalid interpolation '\$\{\}'", None, id="empty braces"),
        pytest.param("${1X}", r"invalid interpolation '\$\{1X\}'", None, id="name starts with digit"),
        pytest.param("${A B}", r"invalid interpolation '\$\{A B\}' for variable A", "A", id="space"),
        pytest.param("${A/a/b}", "for variable A: after the name compose accepts", "A", id="substitution"),
        pytest.param("${A:x}", "for variable A", "A", id="bare colon"),
        pytest.param("${SET:-${1}}", r"invalid interpolation '\$\{1\}'", None, id="invalid nested"),
        pytest.param("${SET:-${UNSET}", "unterminated", "SET", id="unterminated in unused default"),
    ],
)
def test_syntax_errors(text: str, message: str, variable: str | None) -> None:
    """Malformed `${...}` is an error naming the expression, even where no value is needed."""
    with pytest.raises(InterpolationError, match=message) as info:
        interpolate(text, lookup)
    assert info.value.variable == variable


def test_lookup_is_not_called_for_syntax_errors() -> None:
    """The whole text is parsed before any lookup, so a bad text consults no variable."""
    seen: list[str] = []

    def recording(name: str) -> str | None:
        seen.append(name)
        return None

    with pytest.raises(InterpolationError):
        interpolate("$FIRST ${", recording)
    assert seen == []


@given(st.text().filter(lambda text: "$" not in text))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    """Text without `$` comes back as it was, with no variable consulted."""
    assert interpolate(text, lookup) == Interpolated(text, ())


@given(st.text())
def test_escaped_text_round_trips(text: str) -> None:
    """Any text with every `$` doubled interpolates back to itself, with no variable consulted."""
    assert interpolate(text.replace("$", "$$"), lookup) == Interpolated(text, ())


@given(
    name=st.from_regex(r"[_a-zA-Z][_a-zA-Z0-9]*", fullmatch=True),
    value=st.text(),
    default=st.text().filter(lambda text: not set(text) & set("${}")),
)
def test_soft_default_matches_the_spec(name: str, value: str, default: str) -> None:
    """`${NAME:-default}` is the value when it is non-empty, else the default, for any name and value."""
    result = interpolate(f"${{{name}:-{default}}}", {name: value}.get)
    assert result.value == (value or default)
    assert result.uses == (VariableUse(name, value, value == "", f"${{{name}:-{default}}}"),)
