"""Conversion: types come from the schema; booleans from one documented table."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

import attrs
import pytest

from layercfg import setting
from layercfg._model.fieldtable import schema_info
from layercfg._resolve.convert import FALSE_WORDS, TRUE_WORDS, Invalid, convert


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@attrs.frozen
class Sample:
    flag: bool = False
    count: int = 0
    seconds: float = setting(1.0, unit="seconds")
    names: tuple[str, ...] = ()
    where: Path = Path(".")
    mode: Mode = Mode.FAST
    choice: Literal["a", "b"] = "a"
    maybe: int | None = None
    url: str = setting("http://x", schemes=("http", "https"))


SPECS = schema_info(Sample, "T_").fields


@pytest.mark.parametrize("word", [*TRUE_WORDS, "TRUE", " Yes "])
def test_true_words(word):
    """Every documented true word (any case, padded) converts to True."""
    assert convert(SPECS["flag"], word) is True


@pytest.mark.parametrize("word", [*FALSE_WORDS, "False", "OFF"])
def test_false_words(word):
    """Every documented false word converts to False."""
    assert convert(SPECS["flag"], word) is False


def test_bool_rejects_other_words_listing_accepted_ones():
    """'maybe' is not a boolean, and the error lists the accepted words."""
    with pytest.raises(Invalid, match=r"expected a boolean \(true/1/yes/on/false/0/no/off\), got 'maybe'"):
        convert(SPECS["flag"], "maybe")


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("count", "42", 42),
        ("count", 7, 7),
        ("seconds", "2.5", 2.5),
        ("seconds", 3, 3.0),
        ("names", "a, b,,c", ("a", "b", "c")),
        ("names", ["x", "y"], ("x", "y")),
        ("where", "docker/x.yml", Path("docker/x.yml")),
        ("mode", "slow", Mode.SLOW),
        ("choice", "b", "b"),
        ("maybe", "", None),
        ("maybe", "none", None),
        ("maybe", "5", 5),
        ("url", "https://h:1/p", "https://h:1/p"),
    ],
)
def test_conversions(name, raw, expected):
    """Text and TOML values convert to the field's declared type."""
    assert convert(SPECS[name], raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("count", "1.5", "expected a whole number, got '1.5'"),
        ("count", True, "expected a whole number, got True"),
        ("seconds", "abc", "expected seconds (a number), got 'abc'"),
        ("seconds", "nan", "expected seconds (a number), got 'nan'"),
        ("mode", "medium", "expected one of 'fast', 'slow', got 'medium'"),
        ("choice", "c", "expected one of 'a', 'b', got 'c'"),
        ("url", "ftp://h", "expected a http or https URL"),
        ("names", 3, "expected a list"),
    ],
)
def test_rejections(name, raw, message):
    """A value that does not fit says what was expected and what it got."""
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert(SPECS[name], raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("\nhttp://x\n", "expected a URL without spaces or control characters", id="newlines"),
        pytest.param("http://local host:99", "expected a URL without spaces or control characters", id="space"),
        pytest.param("http://localhost:99999", "expected a URL, got 'http://localhost:99999'", id="port range"),
        pytest.param("http://localhost:0", "expected a URL with a port in 1-65535", id="port zero"),
        pytest.param("http://:8000", "expected a http or https URL", id="no host"),
    ],
)
def test_urls_are_parsed_strictly(raw, message):
    """A URL field takes no whitespace or control characters, a host, and a port in 1-65535."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info
    from layercfg._resolve.convert import Invalid, convert

    spec = schema_info(TestEnvConfig, "NETRA_").fields["backend_url"]
    with pytest.raises(Invalid, match=message):
        convert(spec, raw)
