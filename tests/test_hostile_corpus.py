"""A corpus of hostile files in every role, and fuzzing of each file format through the API.

The corpus (built under tmp_path: big inputs are generated, not committed) puts each hostile
content in each role a file plays (a profile's TOML, an env file, a compose file) and runs the
real CLI on it in a subprocess, bounded in time and address space: the outcome is a correct load
(exit 0) or a clear error naming the file (exit 1), never a traceback, a hang or a crash. CRLF and
a UTF-8 BOM load to the same values as the plain file.

The fuzz tests (Hypothesis) write random and half-valid files and load them through the public
API: only LayercfgError escapes, errors name their source, and a valid value of another field
(``max_retries = 7`` in its own file) is never lost or changed by a bad one.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NO_DOCKER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile import layercfg_process

import layercfg

ROLES = ("profile", "env file", "compose file")
VALID = {"profile": "[values]\nmax_retries = 7\n", "env file": "NETRA_MAX_RETRIES=7\n", "compose file": ""}
PATHS = {"profile": "profiles/h.toml", "env file": "config/.env.h", "compose file": "docker/h.yml"}


def _alias_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    lines += ["services:", "  backend:", "    image: x", "    labels: *j"]
    return "\n".join(lines).encode()


def _merge_fan_out() -> bytes:
    out = ["x0: &x0 {ports: ['8009:8000']}"]
    out += [f"x{i}: &x{i} {{<<: [{', '.join([f'*x{i - 1}'] * 10)}]}}" for i in range(1, 9)]
    out += ["services:", "  backend: {<<: [*x8]}"]
    return "\n".join(out).encode()


CORPUS: dict[str, Callable[[str], bytes]] = {
    "yaml alias bomb": lambda role: _alias_bomb(),
    "yaml merge-key fan-out": lambda role: _merge_fan_out(),
    "deep nesting": lambda role: (
        ("a = " + "[" * 3000 + "]" * 3000 + "\n").encode()
        if role == "profile"
        else ("services: " + "[" * 5000 + "]" * 5000 + "\n").encode()
        if role == "compose file"
        else ("NETRA_X=" + "{" * 50_000 + "\n").encode()
    ),
    "8 MiB file": lambda role: ("#" + "x" * 79 + "\n").encode() * (8 * 1024 * 1024 // 80),
    "NUL bytes": lambda role: VALID[role].encode() + b"\x00\x00garbage\x00\n",
    "invalid UTF-8": lambda role: VALID[role].encode() + b"\xff\xfe\xc3\x28\n",
    "huge numbers": lambda role: (
        b"[values]\nmax_retries = 1" + b"0" * 400 + b"\nevent_timeout = 1e300\n"
        if role == "profile"
        else b"NETRA_MAX_RETRIES=1" + b"0" * 400 + b"\nNETRA_EVENT_TIMEOUT=1e300\n"
        if role == "env file"
        else b"services:\n  backend:\n    ports:\n      - '1" + b"0" * 400 + b":8000'\n"
    ),
    "very long line": lambda role: (
        b"[values]\nhealth_path = '/" + b"h" * 2_000_000 + b"'\n"
        if role == "profile"
        else b"NETRA_HEALTH_PATH=/" + b"h" * 2_000_000 + b"\n"
        if role == "env file"
        else b"services:\n  backend:\n    image: '" + b"i" * 2_000_000 + b"'\n"
    ),
    "empty file": lambda role: b"",
    "only a BOM": lambda role: b"\xef\xbb\xbf",
}


def hostile_project(root: Path, role: str, content: bytes | None) -> tuple[Path, str]:
    """A project whose profile `h` reads the hostile file in ``role``; returns (root, that file's path)."""
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / "docker").mkdir(exist_ok=True)
    path = PATHS[role]
    if role == "env file":
        (root / "profiles" / "h.toml").write_text('[profile]\nenv_files = ["config/.env.h"]\n')
    elif role == "compose file":
        (root / "profiles" / "h.toml").write_text(
            '[values]\ndiscovery = "auto"\ncompose_files = ["docker/h.yml"]\ndocker_timeout = 0.3\n'
        )
    if content is not None:
        (root / path).write_bytes(content)
    return root, path


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", list(CORPUS))
def test_corpus_ends_in_a_load_or_a_clear_error(tmp_path: Path, case: str, role: str) -> None:
    """Each hostile file, in each role: exit 0 or 1 within the time limit and memory cap, no traceback,
    and an error names the file."""
    root, path = hostile_project(tmp_path / "p", role, CORPUS[case](role))
    result = layercfg_process("--profile", "h", "show", "--json", cwd=root, memory_cap=True)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-2000:])
    if result.returncode == 1:
        assert path in result.stderr, result.stderr[-2000:]
        assert len(result.stderr.splitlines()) <= 25  # one screen
    else:
        data = json.loads(result.stdout)
        assert data["profiles"] == ["h"]
        warnings = " ".join(data["warnings"])
        if case in ("NUL bytes", "invalid UTF-8", "8 MiB file") and role == "compose file":
            assert path in warnings  # a compose file is optional input: its problem is a named note


@pytest.mark.parametrize("role", ["profile", "env file"])
@pytest.mark.parametrize("variant", ["CRLF", "BOM", "BOM and CRLF"])
def test_crlf_and_bom_load_the_same_values(tmp_path: Path, role: str, variant: str) -> None:
    """Windows line endings and a UTF-8 BOM give exactly the values of the plain file."""
    plain = {
        "profile": '[values]\nmax_retries = 7\nhealth_path = "/hz"\nbackend_url = "http://localhost:8123"\n',
        "env file": "NETRA_MAX_RETRIES=7\nNETRA_HEALTH_PATH=/hz\nNETRA_BACKEND_URL='http://localhost:8123'\n",
    }[role]
    text = plain.replace("\n", "\r\n") if "CRLF" in variant else plain
    data = text.encode()
    if "BOM" in variant:
        data = b"\xef\xbb\xbf" + data
    values = {}
    for name, content in (("plain", plain.encode()), (variant, data)):
        root, _ = hostile_project(tmp_path / name.replace(" ", "-"), role, content)
        result = layercfg_process("--profile", "h", "show", "--json", cwd=root)
        assert result.returncode == 0, result.stderr
        values[name] = {f["field"]: (f["value"], f["location"]) for f in json.loads(result.stdout)["fields"]}
    assert values[variant] == values["plain"]
    assert values["plain"]["max_retries"][0] == 7
    assert values["plain"]["backend_url"][0] == "http://localhost:8123"


# --- fuzzing through the public API --------------------------------------------------------------

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = st.sampled_from(["max_retries", "event_timeout", "backend_url", "health_path", "nope", "discovery", "probe"])
NASTY = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
TOML_VALUES = st.one_of(
    NASTY.map(json.dumps),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True).map(lambda f: repr(f).replace("inf", "inf").replace("nan", "nan")),
    st.sampled_from(["true", "[1, 'a']", "{a = 1}", '"""\nx\n"""', "'x", "[", "1979-05-27"]),
)


def fuzz_load(root: Path) -> None:
    """Load profile `h` (stacked on `base`, which sets max_retries = 7): an error must be a
    LayercfgError naming its source; a success keeps max_retries."""
    failure: layercfg.LayercfgError | None = None
    try:
        loaded = layercfg.load(profile="base,h", project_dir=root, environ=dict(NO_DOCKER))
    except layercfg.LayercfgError as exc:  # anything else escapes and fails the test
        failure = exc
    if failure is not None:
        errors = failure.errors if isinstance(failure, layercfg.ConfigError) else [failure]
        for error in errors:
            assert any(where in str(error) for where in ("h.toml", ".env.h", "h.yml")), str(error)
        return
    if loaded.trace.fields["max_retries"].winner.origin.location == "profiles/base.toml:2":
        assert loaded.config.max_retries == 7


def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "profiles").mkdir()
    (root / "profiles" / "base.toml").write_text("[values]\nmax_retries = 7\n")
    return root


@FUZZ
@given(pairs=st.lists(st.tuples(KEYS, TOML_VALUES), max_size=4), table=st.sampled_from(["values", "profile", "x"]))
def test_fuzz_profile_toml(tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, str]], table: str) -> None:
    root = fuzz_project(tmp_path_factory)
    body = "".join(f"{key} = {value}\n" for key, value in pairs)
    (root / "profiles" / "h.toml").write_text(f"[{table}]\n{body}", encoding="utf-8")
    fuzz_load(root)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_fuzz_profile_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    root = fuzz_project(tmp_path_factory)
    (root / "profiles" / "h.toml").write_bytes(raw)
    fuzz_load(root)


ENV_NAMES = st.sampled_from(
    ["NETRA_MAX_RETRIES", "NETRA_EVENT_TIMEOUT", "TEST_BACKEND_URL", "X", "export NETRA_PROBE_TIMEOUT"]
)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            st.tuples(ENV_NAMES, NASTY).map(lambda p: f"{p[0]}={p[1]}"),
            st.tuples(ENV_NAMES, NASTY).map(lambda p: f'{p[0]}="{p[1]}'),  # an unterminated quote
            st.tuples(ENV_NAMES, NASTY).map(lambda p: f"{p[0]}=${{{p[1]}}}"),
            NASTY,
        ),
        max_size=6,
    )
)
def test_fuzz_env_file(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    root = fuzz_project(tmp_path_factory)
    (root / "profiles" / "h.toml").write_text('[profile]\nenv_files = ["config/.env.h"]\n')
    (root / "config").mkdir()
    (root / "config" / ".env.h").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fuzz_load(root)


YAML_SCALARS = st.one_of(
    NASTY.map(json.dumps),
    st.sampled_from(
        ["8002:8000", "'${X:-8002}:8000'", "[", "*a", "&a x", "!!python/object:os.system", "~", "0x1F", "{"]
    ),
    st.text(alphabet=string.printable, max_size=30),
)


@FUZZ
@given(
    service=st.sampled_from(["backend", "alpine-test-backend", "x"]),
    ports=st.lists(YAML_SCALARS, max_size=3),
    extra=st.lists(
        st.tuples(st.sampled_from(["image", "build", "environment", "extends", "<<"]), YAML_SCALARS), max_size=3
    ),
)
def test_fuzz_compose_yaml(
    tmp_path_factory: pytest.TempPathFactory, service: str, ports: list[str], extra: list[tuple[str, str]]
) -> None:
    root = fuzz_project(tmp_path_factory)
    (root / "profiles" / "h.toml").write_text(
        '[values]\ndiscovery = "auto"\ncompose_files = ["docker/h.yml"]\ndocker_timeout = 0.3\n'
    )
    (root / "docker").mkdir()
    body = "".join(f"    {key}: {value}\n" for key, value in extra)
    port_lines = "".join(f"      - {port}\n" for port in ports)
    (root / "docker" / "h.yml").write_text(
        f"services:\n  {service}:\n{body}    ports:\n{port_lines or '      []'}\n", encoding="utf-8"
    )
    fuzz_load(root)
