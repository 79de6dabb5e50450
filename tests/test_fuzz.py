"""Property tests over the three file formats layercfg reads: profile TOML, dotenv files, compose YAML.

Each format is fuzzed twice: as a structurally valid file holding random keys and values (known
fields, unknown keys, every TOML type, strings with quotes, ``${``, backslashes, newlines, NUL and
non-ASCII text), and as raw random bytes or text. Through the public API (``layercfg.load``) only a
:class:`layercfg.LayercfgError` may escape and every error names its source (the file, the variable
or ``--set``); through the CLI the exit status is 0, 1 or 2 and no traceback is printed.

The central property: a witness field, ``max_retries = 7`` (or ``NETRA_MAX_RETRIES=7``, or a port
mapping of the ``backend`` compose service), sits in the same source as one random value of another
field. Then either the load succeeds and the witness is still exactly what was written, at its own
line, or it fails with errors that concern only the random key and name its file; a bad value never
loses or changes the witness. Docker is always an absent socket (``NO_DOCKER``).
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from conftest import NO_DOCKER, clean_environ
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import layercfg
from layercfg.cli import main

LAYERCFG = Path(sys.executable).parent / "layercfg"  # the script the venv running the tests installed
PROCESS_LIMIT = 20  # seconds one CLI process may take on a small fuzzed file; each takes well under one

# A wall-clock guard per test (pytest-timeout): Hypothesis' own deadline is off, examples vary in size.
pytestmark = pytest.mark.timeout(120)

FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = tuple(field.name for field in attrs.fields(layercfg.TestEnvConfig))
# Fields whose *valid* values legitimately change what other fields resolve to (fallback switches
# endpoints, discovery = "required" demands a running container): not "one bad field" cases.
COUPLED = {"max_retries", "fallback", "discovery"}
RANDOM_FIELDS = sorted(set(FIELDS) - COUPLED)
UNKNOWN_KEYS = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda key: key not in FIELDS
)
KEYS = st.one_of(st.sampled_from(RANDOM_FIELDS), UNKNOWN_KEYS)


def hits_host_defect(field: str | None, value: object) -> bool:
    """A host part holding ':', '[' or ']' crashes the load with a ValueError (a known defect, pinned by
    test_host_part_that_is_no_host_is_a_conversion_error): the fuzz tests leave it to that test."""
    return bool(field and field.endswith("_host") and any(char in str(value) for char in ":[]"))


# Text a hostile user could write: quotes, ${, backslashes, newlines, NUL, non-ASCII (no lone surrogates:
# they cannot be written as UTF-8).
HOSTILE_PIECES = st.sampled_from(["'", '"', "\\", "${", "${X:-", "}", "$", "\n", "\r\n", "\x00", "#", "=", "é", "☃"])
TEXT = st.lists(
    st.one_of(HOSTILE_PIECES, st.text(st.characters(exclude_categories=["Cs"]), max_size=6)), max_size=6
).map("".join)


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (every control character escaped, the rest written as is)."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_float(value: float) -> str:
    if value != value:
        return "nan"
    return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))


TOML_SCALARS = st.one_of(
    TEXT.map(toml_string),
    TEXT.filter(lambda s: not any(c in s for c in "'\r\n\x7f") and all(ord(c) >= 0x20 for c in s)).map(
        lambda s: f"'{s}'"
    ),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(["1e300", "-1e300", "1e-300", "0x7FFFFFFF", "0o777", "+0", "-0.0"]),
    st.floats().map(toml_float),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.sampled_from(["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"]),
)
TOML_VALUES = st.one_of(
    TOML_SCALARS,
    st.lists(TOML_SCALARS, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    st.dictionaries(st.sampled_from(["a", "b", "port"]), TOML_SCALARS, max_size=2).map(
        lambda table: "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"
    ),
)


@contextmanager
def new_project() -> Iterator[Path]:
    """A throwaway project directory (Hypothesis runs many examples per test: one each, removed after)."""
    with tempfile.TemporaryDirectory(prefix="layercfg-fuzz-") as tmp:
        root = Path(tmp)
        for directory in ("profiles", "config", "docker"):
            (root / directory).mkdir()
        yield root


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def load(root: Path, environ: Mapping[str, str] | None = None) -> layercfg.Loaded[layercfg.TestEnvConfig]:
    """The profile `h` of ``root`` through the public API, with no engine and only ``environ``."""
    return layercfg.load(profile="h", project_dir=root, environ={**NO_DOCKER, **(environ or {})})


def load_or_error(root: Path, environ: Mapping[str, str] | None = None) -> layercfg.Loaded | layercfg.LayercfgError:
    """The load's result, or the LayercfgError it raised; any other exception fails the test."""
    try:
        return load(root, environ)
    except layercfg.LayercfgError as exc:
        return exc


def problems(error: layercfg.LayercfgError) -> tuple[layercfg.LayercfgError, ...]:
    return error.errors if isinstance(error, layercfg.ConfigError) else (error,)


def is_file_error(error: layercfg.LayercfgError, display: str) -> bool:
    """A problem with the file as a whole (malformed, not UTF-8, a NUL byte), located in it."""
    return (
        isinstance(error, layercfg.SourceError)
        and error.field is None
        and (error.location == display or (error.location or "").startswith(display + ":"))
    )


def assert_only(error: layercfg.LayercfgError, key: str, source: str, display: str | None = None) -> None:
    """Every problem of ``error`` concerns ``key`` and names ``source`` (or is about the file ``display``)."""
    for problem in problems(error):
        if display is not None and is_file_error(problem, display):
            continue
        # A derived field (websocket_url from websocket_path) may fail instead, naming its input.
        assert problem.field == key or f"{key} <- " in str(problem), (key, str(problem))
        assert source in str(problem), (source, str(problem))
    assert "max_retries" not in {problem.field for problem in problems(error)}


def assert_witness(loaded: layercfg.Loaded, value: object, location: str) -> None:
    """The witness field kept the value and the place it was written at."""
    winner = loaded.trace.fields["max_retries"].winner
    assert (loaded.config.max_retries, winner.origin.location) == (value, location)


# Characters str.splitlines() breaks lines at but TOML and python-dotenv do not (allowed raw in TOML strings).
UNICODE_LINE_BREAKS = "\x85\u2028\u2029"


# --- profile TOML ----------------------------------------------------------------------------------------


@MANY
@given(key=KEYS, value=TOML_VALUES, before=st.booleans())
def test_bad_profile_value_never_touches_another_field(key: str, value: str, before: bool) -> None:
    """A random value beside `max_retries = 7`: 7 stays at its line, or the errors name only that key and file."""
    assume(not hits_host_defect(key, value))
    witness, other = "max_retries = 7", f"{key} = {value}"
    lines = [other, witness] if before else [witness, other]
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", ("[values]\n" + "\n".join(lines) + "\n").encode())
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        assert isinstance(result, layercfg.ConfigError), str(result)
        assert_only(result, key, "profiles/h.toml:" + ("2" if before else "3"))
        return
    assert key in FIELDS, f"unknown key {key!r} was accepted"
    if before and any(char in value for char in UNICODE_LINE_BREAKS):
        assert result.config.max_retries == 7  # its line is misnumbered: test_unicode_line_break_in_a_profile_...
        return
    assert_witness(result, 7, "profiles/h.toml:" + ("3" if before else "2"))
    written = tomllib.loads(f"v = {value}")["v"]
    # Blank text counts as unset (a host part then comes from its URL); anything else wins from its line.
    if not (isinstance(written, str) and not written.strip()):
        assert result.trace.fields[key].winner.origin.location == "profiles/h.toml:" + ("2" if before else "3")


@MANY
@given(
    table=st.sampled_from(["values", "profile", "services.backend", "services.x", "nope"]),
    pairs=st.lists(st.tuples(KEYS, TOML_VALUES), max_size=3, unique_by=lambda pair: pair[0]),
)
def test_random_profile_tables_fail_cleanly(table: str, pairs: list[tuple[str, str]]) -> None:
    """Random keys in any table of a profile: a load, or a LayercfgError whose every problem names profiles/h.toml."""
    assume(not any(hits_host_defect(key, value) for key, value in pairs))
    body = "".join(f"{key} = {value}\n" for key, value in pairs)
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", f"[{table}]\n{body}".encode())
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        for problem in problems(result):
            assert "profiles/h.toml" in str(problem), str(problem)
    else:
        assert table != "nope" or not pairs, "keys in an unknown table were accepted"


TOML_NOISE = st.text(alphabet="abcdef012[]{}=.,\"'#\n\r\t \\${}-+:_é\x00", max_size=80)


@MANY
@given(raw=st.one_of(st.binary(max_size=120), TOML_NOISE.map(lambda text: text.encode())))
def test_random_profile_bytes_fail_cleanly(raw: bytes) -> None:
    """Random bytes as a profile: a load, or a LayercfgError naming profiles/h.toml (never another exception)."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", raw)
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        for problem in problems(result):
            assert "profiles/h.toml" in str(problem), str(problem)
    else:
        assert result.trace.profiles == ("h",)


# --- dotenv files ----------------------------------------------------------------------------------------

# A few legacy names with the field they feed (docs/docker.md, docs/migration.md).
ALIASES = {"TEST_BACKEND_URL": "backend_url", "BACKEND_URL": "backend_url", "DOCKER_BACKEND_PORT": "backend_url"}
ENV_NAMES = st.one_of(
    st.sampled_from(RANDOM_FIELDS).map(lambda field: "NETRA_" + field.upper()),
    st.sampled_from(sorted(ALIASES)),
    st.sampled_from(["NETRA_NOPE", "X", "lower_case", "A.B-C"]),
)


def field_of(name: str) -> str | None:
    if name in ALIASES:
        return ALIASES[name]
    field = name.removeprefix("NETRA_").lower()
    return field if name.startswith("NETRA_") and field in FIELDS else None


DOTENV_LINE_END = re.compile(r"\r\n|\n|\r")


def dotenv_line(name: str, value: str, style: str) -> str:
    if style == "bare":
        return f"{name}={value}"
    if style == "export":
        return f"export {name}={value}"
    if style == "single":
        return f"{name}='{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


@MANY
@given(
    name=ENV_NAMES,
    value=TEXT,
    style=st.sampled_from(["bare", "export", "single", "double"]),
    before=st.booleans(),
)
def test_bad_env_file_value_never_touches_another_field(name: str, value: str, style: str, before: bool) -> None:
    """A random line beside NETRA_MAX_RETRIES=7: 7 stays at its line, or the errors name only that field and file."""
    assume(not hits_host_defect(field_of(name), value))
    other = dotenv_line(name, value, style)
    witness = "NETRA_MAX_RETRIES=7"
    text = f"{other}\n{witness}\n" if before else f"{witness}\n{other}\n"
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b'[profile]\nenv_files = ["config/.env.h"]\n')
        write_bytes(root / "config/.env.h", text.encode())
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        assert isinstance(result, layercfg.ConfigError), str(result)
        # A NUL byte makes the whole file unreadable: one error naming the file and line.
        field = field_of(name)
        assert_only(result, field or "", "config/.env.h", display="config/.env.h")
        return
    # Lines end where python-dotenv ends them: at CRLF, LF or a lone CR (and nowhere else).
    witness_line = len(DOTENV_LINE_END.split(text[: text.rindex(witness)])) if before else 1
    if "\r\n" in other and result.trace.fields["max_retries"].winner.origin.location != f"config/.env.h:{witness_line}":
        assume(False)  # a known defect, pinned by test_corpus.py::test_crlf_after_an_unparsable_line_keeps_line_numbers
    assert_witness(result, 7, f"config/.env.h:{witness_line}")


@MANY
@given(lines=st.lists(st.one_of(TEXT, st.tuples(ENV_NAMES, TEXT).map("=".join)), max_size=5))
def test_random_env_file_fails_cleanly(lines: list[str]) -> None:
    """A random dotenv file: a load, or a ConfigError whose every problem names config/.env.h."""
    assume(not any(hits_host_defect(field_of(line.partition("=")[0]), line) for line in lines))
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b'[profile]\nenv_files = ["config/.env.h"]\n')
        write_bytes(root / "config/.env.h", "\n".join(lines).encode())
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        for problem in problems(result):
            assert "config/.env.h" in str(problem), str(problem)
    else:
        for warning in result.trace.warnings:
            if "could not parse" in warning:
                assert warning.startswith("config/.env.h:"), warning


@MANY
@given(raw=st.binary(max_size=160))
def test_random_env_file_bytes_fail_cleanly(raw: bytes) -> None:
    """Random bytes as an env file: a load, or a LayercfgError naming config/.env.h."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b'[profile]\nenv_files = ["config/.env.h"]\n')
        write_bytes(root / "config/.env.h", raw)
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        for problem in problems(result):
            assert "config/.env.h" in str(problem), str(problem)


@MANY
@given(name=st.sampled_from(RANDOM_FIELDS), value=TEXT)
def test_bad_environment_value_names_its_variable(name: str, value: str) -> None:
    """A random NETRA_<FIELD> beside NETRA_MAX_RETRIES=7: 7 holds, or the errors name that field and variable."""
    assume(not hits_host_defect(name, value))
    variable = "NETRA_" + name.upper()
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b"[values]\n")
        result = load_or_error(root, {"NETRA_MAX_RETRIES": "7", variable: value})
    if isinstance(result, layercfg.LayercfgError):
        assert isinstance(result, layercfg.ConfigError), str(result)
        assert_only(result, name, f"env {variable}")
        return
    assert (result.config.max_retries, result.trace.fields["max_retries"].winner.origin.source) == (
        7,
        "env NETRA_MAX_RETRIES",
    )


# --- compose YAML ----------------------------------------------------------------------------------------

COMPOSE_PROFILE = b'[values]\ndiscovery = "auto"\ncompose_files = ["docker/h.yml"]\ndocker_timeout = 0.3\n'
WITNESS_COMPOSE = "services:\n  backend:\n    ports:\n      - '8009:8000'\n"  # backend_url at docker/h.yml:4
YAML_SCALARS = st.one_of(
    TEXT.map(json.dumps),  # a double-quoted YAML scalar (JSON is YAML)
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(
        [
            "'${P:-8010}:8000'",
            "'${P}:8000'",
            "'${P:?no port}:8000'",
            "'$$P:8000'",
            "'127.0.0.1:8011:8000'",
            "'[::1]:8012:8000'",
            "'8013-8015:8000-8002'",
            "'99999:8000'",
            "'0:8000'",
            "8000",
            "1e300",
            "~",
            "[]",
            "{}",
            "{published: 8016, target: 8000}",
            "{published: '${P}', target: 8000, host_ip: '::'}",
            "!!binary aGk=",
            "!!python/object/apply:os.system ['true']",
            "&a 1",
            "*nope",
        ]
    ),
)
SERVICE_KEYS = st.sampled_from(["ports", "image", "environment", "labels", "build", "extends", "<<", "x"])
OTHER_SERVICES = st.sampled_from(["auth", "frontend", "postgres", "redis", "clickhouse", "worker", "'1'", "x y"])


@MANY
@given(
    service=OTHER_SERVICES,
    entries=st.lists(st.tuples(SERVICE_KEYS, st.lists(YAML_SCALARS, max_size=3)), max_size=3, unique_by=lambda e: e[0]),
    port=TEXT,
)
def test_bad_compose_service_never_touches_the_backend_port(
    service: str, entries: list[tuple[str, list[str]]], port: str
) -> None:
    """Another service with random keys, ports and $P: backend_url stays localhost:8009 from docker/h.yml:4."""
    body = "".join(f"    {key}: [{', '.join(values)}]\n" for key, values in entries) or "    image: x\n"
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", COMPOSE_PROFILE)
        write_bytes(root / "docker/h.yml", f"{WITNESS_COMPOSE}  {service}:\n{body}".encode())
        result = load_or_error(root, {"P": port})
    if isinstance(result, layercfg.LayercfgError):
        # Only the other service's fields may fail, each naming the compose file.
        for problem in problems(result):
            assert problem.field != "backend_url", str(problem)
            assert "docker/h.yml" in str(problem), str(problem)
        return
    winner = result.trace.fields["backend_url"].winner
    if winner.origin.location != "docker/h.yml:4":
        # Only a file YAML cannot parse at all (an undefined alias) loses the backend port, and says so.
        unparsable = [w for w in result.trace.warnings if w.startswith("compose file docker/h.yml: ")]
        assert [w for w in unparsable if "invalid YAML" in w], result.trace.warnings
        return
    assert result.config.backend_url == "http://localhost:8009"


@MANY
@given(port=TEXT)
def test_interpolated_backend_port_is_used_or_named(port: str) -> None:
    """`${P:-8009}:8000` with a random P: a valid port is used; a bad one is a note naming docker/h.yml:4."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", COMPOSE_PROFILE)
        write_bytes(root / "docker/h.yml", b"services:\n  backend:\n    ports:\n      - '${P:-8009}:8000'\n")
        loaded = load(root, {"P": port})
    backend = loaded.trace.fields["backend_url"]
    given = port.strip()
    if port == "" or (given.isascii() and given.isdigit() and 0 < int(given) < 65536):
        expected = "8009" if port == "" else str(int(given))  # `:-` takes the default when P is empty
        assert (loaded.config.backend_url, backend.winner.origin.location) == (
            f"http://localhost:{expected}",
            "docker/h.yml:4",
        )
    elif given and ":" not in given:  # (blank: no host port is published; with ':' P also names an address)
        assert backend.winner.origin.location != "docker/h.yml:4"
        notes = [note for note in loaded.trace.warnings if note.startswith("docker/h.yml:4: service 'backend': ")]
        assert [note for note in notes if " ignored: " in note], loaded.trace.warnings


YAML_NOISE = st.text(alphabet="ab:-[]{}&*!<>|'\"#$ \n\t\r,?%@`~\\é\x00", max_size=80)


@MANY
@given(
    raw=st.one_of(
        st.binary(max_size=120),
        YAML_NOISE.map(str.encode),
        YAML_NOISE.map(lambda text: ("services:\n  backend:\n" + text).encode()),
    )
)
def test_random_compose_bytes_are_a_note(raw: bytes) -> None:
    """Random bytes as a compose file never fail the load: a compose file is optional input, its problems are notes."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", COMPOSE_PROFILE + b"max_retries = 7\n")
        write_bytes(root / "docker/h.yml", raw)
        result = load_or_error(root)
    if isinstance(result, layercfg.LayercfgError):
        for problem in problems(result):
            assert "docker/h.yml" in str(problem), str(problem)
        return
    assert_witness(result, 7, "profiles/h.toml:5")


# --- the CLI -----------------------------------------------------------------------------------------------


def invoke(root: Path, *args: str, environ: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """`layercfg --project-dir ROOT ARGS` in-process; returns (exit status, stdout, stderr)."""
    hidden: dict[str, str | None] = {name: None for name in os.environ if name not in clean_environ()}
    result = CliRunner().invoke(
        main, ["--project-dir", str(root), *args], env={**hidden, **NO_DOCKER, **(environ or {})}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: show its traceback
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exit_code in (0, 1, 2), (result.exit_code, output)
    return result.exit_code, result.stdout, result.stderr


@SOME
@given(field=st.one_of(st.sampled_from(RANDOM_FIELDS), UNKNOWN_KEYS, TEXT), value=TEXT)
def test_cli_set_of_random_values_fails_cleanly(field: str, value: str) -> None:
    """`--set FIELD=VALUE` with random text: exit 0 with max_retries 7, 1 naming --set or the field, or 2 (usage)."""
    assume(not hits_host_defect(field, value))
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b"[values]\nmax_retries = 7\n")
        status, stdout, stderr = invoke(root, "--profile", "h", "--set", f"{field}={value}", "show", "--json")
    if status == 0:
        assert {f["field"]: f["value"] for f in json.loads(stdout)["fields"]}["max_retries"] == 7
    elif status == 1:
        assert stderr.startswith("Error: "), stderr
        assert "(--set)" in stderr or "unknown field" in stderr, stderr
        assert "max_retries" not in stderr
    else:
        assert "--set" in stderr, stderr


@SOME
@given(key=KEYS, value=TOML_VALUES, command=st.sampled_from(["show", "env", "doctor", "explain"]))
def test_cli_on_random_profile_values(key: str, value: str, command: str) -> None:
    """Every data command on a profile with one random value: exit 0 or 1 (naming the file), never a traceback."""
    assume(not hits_host_defect(key, value))
    args = {
        "show": ("show", "--json"),
        "env": ("env", "--format", "json"),
        "doctor": ("doctor", "--no-probe", "--json"),
    }
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", f"[values]\nmax_retries = 7\n{key} = {value}\n".encode())
        status, stdout, stderr = invoke(root, "--profile", "h", *args.get(command, ("explain", "max_retries")))
    if command == "doctor":
        # doctor reports a bad profile as a finding (exit 1 on errors) and still prints its JSON.
        findings = json.loads(stdout)
        assert status in (0, 1)
        assert (status == 1) == any(item["severity"] == "error" for item in findings["findings"]), findings
        return
    assert status in (0, 1)
    if status == 1:
        assert stderr.startswith("Error: "), stderr
        assert "profiles/h.toml:3" in stderr, stderr
    elif command == "explain":
        assert stdout.startswith("max_retries = 7\n"), stdout
    else:
        assert json.loads(stdout)


def run_process(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `layercfg` script as a real process, bounded by PROCESS_LIMIT seconds."""
    executable = str(LAYERCFG) if LAYERCFG.exists() else "layercfg"
    try:
        return subprocess.run(
            [executable, *args],
            cwd=root,
            env=clean_environ(NO_DOCKER),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROCESS_LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pass  # fail outside the handler: its traceback says nothing more
    pytest.fail(f"layercfg {' '.join(args)} still ran after {PROCESS_LIMIT} s: it hangs", pytrace=False)


ROLE_PATHS = {"profile": "profiles/h.toml", "env file": "config/.env.h", "compose file": "docker/h.yml"}


@FEW
@given(role=st.sampled_from(sorted(ROLE_PATHS)), raw=st.binary(max_size=200))
def test_process_on_random_bytes_in_each_role(role: str, raw: bytes) -> None:
    """`layercfg show` as a process on random bytes in each role: exit 0, or 1 naming the file; no traceback."""
    with new_project() as root:
        if role == "env file":
            write_bytes(root / "profiles/h.toml", b'[profile]\nenv_files = ["config/.env.h"]\n')
        elif role == "compose file":
            write_bytes(root / "profiles/h.toml", COMPOSE_PROFILE)
        write_bytes(root / ROLE_PATHS[role], raw)
        result = run_process(root, "--profile", "h", "show", "--json")
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    if result.returncode == 1:
        assert result.stderr.startswith("Error: "), result.stderr
        assert ROLE_PATHS[role] in result.stderr, result.stderr
    else:
        assert json.loads(result.stdout)["profiles"] == ["h"]


# --- known defects found by the properties above -------------------------------------------------------------

HOST_CASES = [
    pytest.param("env", "auth_host", "a:b", "env NETRA_AUTH_HOST", id="env NETRA_AUTH_HOST=a:b"),
    pytest.param("profile", "backend_host", "a:b", "profiles/h.toml:2", id="profile backend_host = 'a:b'"),
    pytest.param("env file", "postgres_host", "[db", "config/.env.h:1", id="env file NETRA_POSTGRES_HOST=[db"),
]


@pytest.mark.parametrize(("where", "field", "value", "source"), HOST_CASES)
def test_host_part_that_is_no_host_is_a_conversion_error(where: str, field: str, value: str, source: str) -> None:
    """A *_host value holding ':' or '[' is a ConfigError about that field naming its source, not a ValueError."""
    environ: dict[str, str] = {}
    with new_project() as root:
        if where == "env":
            write_bytes(root / "profiles/h.toml", b"[values]\n")
            environ["NETRA_" + field.upper()] = value
        elif where == "profile":
            write_bytes(root / "profiles/h.toml", f"[values]\n{field} = {toml_string(value)}\n".encode())
        else:
            write_bytes(root / "profiles/h.toml", b'[profile]\nenv_files = ["config/.env.h"]\n')
            write_bytes(root / "config/.env.h", f"NETRA_{field.upper()}={value}\n".encode())
        with pytest.raises(layercfg.ConfigError) as caught:
            load(root, environ)
    url_field = {"auth_host": "auth_url", "backend_host": "backend_url", "postgres_host": "database_url"}[field]
    assert {problem.field for problem in caught.value.errors} <= {field, url_field}
    assert source in str(caught.value)


def test_host_part_that_is_no_host_is_a_one_line_cli_error() -> None:
    """`NETRA_AUTH_HOST=a:b layercfg explain auth_url` exits 1 with one `Error:` line naming the variable."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", b"[values]\n")
        executable = str(LAYERCFG) if LAYERCFG.exists() else "layercfg"
        result = subprocess.run(
            [executable, "--profile", "h", "explain", "auth_url"],
            cwd=root,
            env=clean_environ({**NO_DOCKER, "NETRA_AUTH_HOST": "a:b"}),
            capture_output=True,
            text=True,
            timeout=PROCESS_LIMIT,
            check=False,
        )
    assert "Traceback" not in result.stderr, result.stderr[-1000:]
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert "env NETRA_AUTH_HOST" in result.stderr


@pytest.mark.parametrize("char", list(UNICODE_LINE_BREAKS), ids=["U+0085", "U+2028", "U+2029"])
def test_unicode_line_break_in_a_profile_string_keeps_line_numbers(char: str) -> None:
    """A U+0085/U+2028/U+2029 inside a TOML string does not shift the file:line of the keys after it."""
    with new_project() as root:
        write_bytes(root / "profiles/h.toml", f'[values]\nhealth_path = "a{char}b"\nmax_retries = 7\n'.encode())
        loaded = load(root)
    assert loaded.config.health_path == f"a{char}b"
    assert_witness(loaded, 7, "profiles/h.toml:3")
