"""A corpus of hostile files, each put in every role a file plays and read by the real CLI.

The corpus is tests/fixtures/hostile/ (small files: YAML alias and merge-key bombs, NUL bytes,
invalid UTF-8, huge numbers, the plain files of the CRLF/BOM checks) plus inputs generated under
tmp_path (8 MiB files, nesting 3000 and 5000 deep, 2 MB lines, an empty file, a directory, a symlink
loop). Each goes in as the profile's TOML, as an env file the profile names and as a compose file
discovery reads, and `layercfg --profile h show --json` runs on it as a real process under a 20 s
timeout and (where prlimit exists) a 1.5 GB address-space cap. The outcome is the one in EXPECTED:
a correct load, a clear error naming the file (exit 1), or, for a compose file (optional input), a
load with a note naming it. CRLF line endings and a UTF-8 BOM load to the values of the LF file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, NO_DOCKER, clean_environ

HOSTILE = FIXTURES / "hostile"
LIMIT = 20  # seconds per process; every case takes well under one
MEMORY_CAP = 1_500_000_000  # bytes of address space: an expanded bomb or an endless read hits it
PRLIMIT = shutil.which("prlimit")
LAYERCFG = Path(sys.executable).parent / "layercfg"

# beyond the per-process timeout: a whole test never hangs; slow: one real process per case and role
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

ROLES = {"profile": "profiles/h.toml", "env file": "config/.env.h", "compose file": "docker/h.yml"}
EXTENSION = {"profile": "toml", "env file": "env", "compose file": "yml"}
PROFILE_OF_ROLE = {
    "env file": '[profile]\nenv_files = ["config/.env.h"]\n',
    "compose file": '[values]\ndiscovery = "auto"\ncompose_files = ["docker/h.yml"]\ndocker_timeout = 0.3\n',
}
EIGHT_MIB = 8 * 1024 * 1024


def fixture(name: str) -> Callable[[str], bytes]:
    """The committed fixture ``name``, or ``name.<ext>`` for the role when the name has no suffix."""
    return lambda role: (HOSTILE / (name if "." in name else f"{name}.{EXTENSION[role]}")).read_bytes()


def deep_arrays(role: str) -> bytes:
    return {
        "profile": b"[values]\ncompose_files = " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "env file": b"NETRA_HEALTH_PATH=" + b"${A:-" * 3000 + b"/hz" + b"}" * 3000 + b"\n",
        "compose file": b"services: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    }[role]


def deep_tables(role: str) -> bytes:
    return {
        "profile": b"[" + b".".join([b"values"] + [b"a"] * 2999) + b"]\nx = 1\n",
        "env file": b"NETRA_HEALTH_PATH=" + b"{" * 3000 + b"}" * 3000 + b"\n",
        "compose file": b"services:\n  backend: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n",
    }[role]


def eight_mib(role: str) -> bytes:
    head = fixture("plain")(role)
    line = b"#" + b"x" * 78 + b"\n"
    return head + line * ((EIGHT_MIB - len(head)) // len(line) + 1)


def long_line(role: str) -> bytes:
    text = b"/" + b"h" * 2_000_000
    return {
        "profile": b'[values]\nmax_retries = 7\nhealth_path = "' + text + b'"\n',
        "env file": b"NETRA_MAX_RETRIES=7\nNETRA_HEALTH_PATH=" + text + b"\n",
        "compose file": b"services:\n  backend:\n    ports: ['8009:8000']\n    image: '" + text + b"'\n",
    }[role]


def crlf(role: str) -> bytes:
    return fixture("plain")(role).replace(b"\n", b"\r\n")


def bom(role: str) -> bytes:
    return b"\xef\xbb\xbf" + fixture("plain")(role)


# What each case is; a case that must be a special file has None as content and is made by SPECIAL.
CORPUS: dict[str, Callable[[str], bytes] | None] = {
    "yaml alias bomb": fixture("alias-bomb.yml"),
    "yaml merge-key fan-out": fixture("merge-fanout.yml"),
    "nested 3000/5000 deep": deep_arrays,
    "tables 3000/5000 deep": deep_tables,
    "8 MiB file": eight_mib,
    "NUL byte": fixture("nul-byte"),
    "invalid UTF-8": fixture("invalid-utf8"),
    "1e300 and 10**400": fixture("huge-numbers"),
    "integer of 4400 digits": fixture("int-over-4300-digits.toml"),
    "2 MB line": long_line,
    "empty file": lambda role: b"",
    "only a BOM": lambda role: b"\xef\xbb\xbf",
    "CRLF": crlf,
    "UTF-8 BOM": bom,
    "a directory": None,
    "a symlink loop": None,
}
SPECIAL: dict[str, Callable[[Path], None]] = {
    "a directory": lambda path: path.mkdir(),
    "a symlink loop": lambda path: path.symlink_to(path.name),
}

# (exit status, text that must be in the error, or in a warning when the status is 0; None: a clean load)
# An error or note must also name the file; "load" cases also check the values in CHECKS.
ERROR, NOTE, LOAD = 1, 0, 0
EXPECTED: dict[tuple[str, str], tuple[int, str | None]] = {
    ("yaml alias bomb", "profile"): (ERROR, "malformed TOML"),
    ("yaml alias bomb", "env file"): (NOTE, "could not parse this line"),
    ("yaml alias bomb", "compose file"): (LOAD, None),
    ("yaml merge-key fan-out", "profile"): (ERROR, "malformed TOML"),
    ("yaml merge-key fan-out", "env file"): (NOTE, "could not parse this line"),
    ("yaml merge-key fan-out", "compose file"): (LOAD, None),
    ("nested 3000/5000 deep", "profile"): (ERROR, "malformed TOML"),
    ("nested 3000/5000 deep", "env file"): (LOAD, None),
    ("nested 3000/5000 deep", "compose file"): (NOTE, "nested too deeply"),
    ("tables 3000/5000 deep", "profile"): (ERROR, "unknown key"),
    ("tables 3000/5000 deep", "env file"): (LOAD, None),
    ("tables 3000/5000 deep", "compose file"): (NOTE, "nested too deeply"),
    ("8 MiB file", "profile"): (ERROR, "more than 4194304"),
    ("8 MiB file", "env file"): (ERROR, "more than 4194304"),
    ("8 MiB file", "compose file"): (NOTE, "more than 4194304"),
    ("NUL byte", "profile"): (ERROR, "contains a NUL byte"),
    ("NUL byte", "env file"): (ERROR, "contains a NUL byte"),
    ("NUL byte", "compose file"): (NOTE, "contains a NUL byte"),
    ("invalid UTF-8", "profile"): (ERROR, "not UTF-8"),
    ("invalid UTF-8", "env file"): (ERROR, "not UTF-8"),
    ("invalid UTF-8", "compose file"): (NOTE, "not UTF-8"),
    ("1e300 and 10**400", "profile"): (ERROR, "expected seconds"),
    ("1e300 and 10**400", "env file"): (ERROR, "expected seconds"),
    ("1e300 and 10**400", "compose file"): (NOTE, "is not a port number"),
    ("integer of 4400 digits", "profile"): (ERROR, "max_retries"),
    ("integer of 4400 digits", "env file"): (LOAD, None),  # `max_retries = 1...`: not a variable layercfg reads
    ("integer of 4400 digits", "compose file"): (LOAD, None),
    ("2 MB line", "profile"): (LOAD, None),
    ("2 MB line", "env file"): (LOAD, None),
    ("2 MB line", "compose file"): (LOAD, None),
    ("empty file", "profile"): (LOAD, None),
    ("empty file", "env file"): (LOAD, None),
    ("empty file", "compose file"): (NOTE, "docker/h.yml"),
    ("only a BOM", "profile"): (LOAD, None),
    ("only a BOM", "env file"): (LOAD, None),
    ("only a BOM", "compose file"): (NOTE, "docker/h.yml"),
    ("CRLF", "profile"): (LOAD, None),
    ("CRLF", "env file"): (LOAD, None),
    ("CRLF", "compose file"): (LOAD, None),
    ("UTF-8 BOM", "profile"): (LOAD, None),
    ("UTF-8 BOM", "env file"): (LOAD, None),
    ("UTF-8 BOM", "compose file"): (LOAD, None),
    ("a directory", "profile"): (ERROR, "Is a directory"),
    ("a directory", "env file"): (ERROR, "Is a directory"),
    ("a directory", "compose file"): (NOTE, "is a directory"),
    ("a symlink loop", "profile"): (ERROR, "too many levels of symbolic links"),
    ("a symlink loop", "env file"): (ERROR, "too many levels of symbolic links"),
    ("a symlink loop", "compose file"): (NOTE, "symbolic links"),
}
# Values a correct load must have (field -> value), by role; compose bombs still declare the backend.
CHECKS: dict[tuple[str, str], dict[str, Any]] = {
    ("yaml alias bomb", "compose file"): {"backend_url": "http://localhost:8009"},
    ("yaml merge-key fan-out", "compose file"): {"backend_url": "http://localhost:8009"},
    # python-dotenv's ${VAR:-default} does not nest: the default ends at the first "}" (dotenv_values() agrees).
    ("nested 3000/5000 deep", "env file"): {"health_path": "${A:-" * 2999 + "/hz" + "}" * 2999},
    ("tables 3000/5000 deep", "env file"): {"health_path": "{" * 3000 + "}" * 3000},
    ("2 MB line", "profile"): {"max_retries": 7, "health_path": "/" + "h" * 2_000_000},
    ("2 MB line", "env file"): {"max_retries": 7, "health_path": "/" + "h" * 2_000_000},
    ("2 MB line", "compose file"): {"backend_url": "http://localhost:8009"},
    ("integer of 4400 digits", "env file"): {"max_retries": 3},
    ("integer of 4400 digits", "compose file"): {"backend_url": "http://localhost:8000"},
    **{
        (case, role): values
        for case in ("CRLF", "UTF-8 BOM")
        for role, values in {
            "profile": {"max_retries": 7, "health_path": "/hz", "test_user_email": "multi\nline"},
            "env file": {"max_retries": 7, "test_user_email": "ops@example.test", "auth_url": "http://localhost:8089"},
            "compose file": {"backend_url": "http://localhost:8123", "auth_url": "http://localhost:8089"},
        }.items()
    },
}
# Defects this corpus found, each fixed since (kept as a table so a new one can be pinned here).
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def make_project(root: Path, role: str, case: str) -> Path:
    """A project whose profile `h` reads the case's file in ``role``."""
    for directory in ("profiles", "config", "docker"):
        (root / directory).mkdir(parents=True)
    if role in PROFILE_OF_ROLE:
        (root / "profiles" / "h.toml").write_text(PROFILE_OF_ROLE[role])
    path = root / ROLES[role]
    content = CORPUS[case]
    if content is None:
        SPECIAL[case](path)
    else:
        path.write_bytes(content(role))
    return root


def layercfg_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `layercfg` script on ``root``, no engine, bounded in time and (with prlimit) memory."""
    command = [str(LAYERCFG) if LAYERCFG.exists() else "layercfg", *args]
    if PRLIMIT is not None:
        command = [PRLIMIT, f"--as={MEMORY_CAP}", "--", *command]
    try:
        return subprocess.run(
            command,
            cwd=root,
            env=clean_environ(NO_DOCKER),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pass  # fail outside the handler: its traceback says nothing more
    pytest.fail(f"layercfg {' '.join(args)} still ran after {LIMIT} s (killed): it hangs", pytrace=False)


def fields_of(stdout: str) -> dict[str, Any]:
    return {field["field"]: field["value"] for field in json.loads(stdout)["fields"]}


def corpus_params() -> list[Any]:
    params = []
    for case in CORPUS:
        for role in ROLES:
            defect = KNOWN_DEFECTS.get((case, role))
            marks = [pytest.mark.xfail(strict=True, reason=defect)] if defect else []
            params.append(pytest.param(case, role, marks=marks, id=f"{case} as {role}"))
    return params


@pytest.mark.parametrize(("case", "role"), corpus_params())
def test_corpus_ends_in_a_load_or_an_error_naming_the_file(tmp_path: Path, case: str, role: str) -> None:
    """Each hostile file in each role: the expected exit status (0 or 1) in time and memory, no traceback,
    the error (or note) naming the file and saying what is wrong, and a load's values correct."""
    root = make_project(tmp_path / "p", role, case)
    result = layercfg_run(root, "--profile", "h", "show", "--json", "--show-secrets")
    output = result.stdout[-4000:] + result.stderr[-4000:]
    for crash in ("Traceback", "RecursionError", "MemoryError"):
        assert crash not in output, output
    status, text = EXPECTED[case, role]
    assert result.returncode == status, (result.returncode, result.stderr[-2000:])
    path = ROLES[role]
    if status == ERROR:
        assert result.stderr.startswith("Error: "), result.stderr[:2000]
        assert path in result.stderr, result.stderr[:2000]
        assert text is not None
        assert text in result.stderr, result.stderr[:2000]
        assert len(result.stderr.splitlines()) <= 25, "more than one screen"
        return
    data = json.loads(result.stdout)
    assert data["profiles"] == ["h"]
    if text is not None:
        named = [warning for warning in data["warnings"] if path in warning]
        assert [warning for warning in named if text in warning], data["warnings"]
    values = fields_of(result.stdout)
    assert {name: values[name] for name in CHECKS.get((case, role), {})} == CHECKS.get((case, role), {})


def test_every_corpus_case_has_an_expectation_in_every_role() -> None:
    """EXPECTED covers the whole corpus x roles grid, and every committed fixture is used."""
    assert set(EXPECTED) == {(case, role) for case in CORPUS for role in ROLES}
    used = {"alias-bomb.yml", "merge-fanout.yml", "int-over-4300-digits.toml", "README.md"}
    used |= {
        f"{stem}.{ext}" for stem in ("plain", "nul-byte", "invalid-utf8", "huge-numbers") for ext in EXTENSION.values()
    }
    assert {path.name for path in HOSTILE.iterdir()} == used
    assert all(path.stat().st_size < 10_000 for path in HOSTILE.iterdir())


# --- CRLF and BOM ---------------------------------------------------------------------------------------


def receipt(root: Path) -> dict[str, tuple[Any, str | None]]:
    result = layercfg_run(root, "--profile", "h", "show", "--json", "--show-secrets")
    assert result.returncode == 0, result.stderr[-2000:]
    return {field["field"]: (field["value"], field["location"]) for field in json.loads(result.stdout)["fields"]}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda data: data.replace(b"\n", b"\r\n"), id="CRLF"),
        pytest.param(lambda data: b"\xef\xbb\xbf" + data, id="BOM"),
        pytest.param(lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"), id="BOM and CRLF"),
    ],
)
def test_crlf_and_bom_load_the_values_and_lines_of_the_lf_file(
    tmp_path: Path, role: str, variant: Callable[[bytes], bytes]
) -> None:
    """CRLF line endings and a UTF-8 BOM give the LF file's values, at the same file:line."""
    plain = fixture("plain")(role)
    receipts = []
    for name, data in (("lf", plain), ("variant", variant(plain))):
        root = make_project(tmp_path / name, role, "empty file")
        (root / ROLES[role]).write_bytes(data)
        receipts.append(receipt(root))
    assert receipts[1] == receipts[0]
    from_file = {name: where for name, (_, where) in receipts[0].items() if where and where.startswith(ROLES[role])}
    assert len(from_file) >= 2  # the plain file did set values (a comparison of two defaults proves nothing)


def test_crlf_after_an_unparsable_line_keeps_line_numbers(tmp_path: Path) -> None:
    """In a CRLF env file, a line python-dotenv cannot parse does not shift the lines after it."""
    text = b"NETRA_EVENT_TIMEOUT=31\nnot a binding\nNETRA_MAX_RETRIES=7\n"
    receipts = []
    for name, data in (("lf", text), ("crlf", text.replace(b"\n", b"\r\n"))):
        root = make_project(tmp_path / name, "env file", "empty file")
        (root / ROLES["env file"]).write_bytes(data)
        receipts.append(receipt(root))
    assert receipts[0]["max_retries"] == (7, "config/.env.h:3")
    assert receipts[1] == receipts[0]


def test_crlf_multi_line_env_value_is_the_lf_value(tmp_path: Path) -> None:
    """A double-quoted value spanning two lines reads the same from a CRLF env file as from an LF one."""
    text = b'NETRA_TEST_USER_EMAIL="multi\nline"\nNETRA_MAX_RETRIES=7\n'
    receipts = []
    for name, data in (("lf", text), ("crlf", text.replace(b"\n", b"\r\n"))):
        root = make_project(tmp_path / name, "env file", "empty file")
        (root / ROLES["env file"]).write_bytes(data)
        receipts.append(receipt(root))
    assert receipts[0]["test_user_email"] == ("multi\nline", "config/.env.h:1")
    assert receipts[1] == receipts[0]
