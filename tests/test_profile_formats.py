"""Profiles written in YAML, JSON or INI: the same receipts as TOML, pure data, read only when present."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import clean_environ

import layercfg
from layercfg import ConfigError

YAML_PROFILE = """\
# a YAML profile
profile:
  description: YAML profile
  extends: local
values:
  backend_url: http://localhost:8011
  probe_timeout: 0.5
services:
  postgres:
    names: [db, pg]
"""
JSON_PROFILE = """\
{
  "profile": {"extends": "local"},
  "values": {
    "probe_timeout": 0.5,
    "backend_url": "http://localhost:8012"
  }
}
"""
INI_PROFILE = """\
# an INI profile
[profile]
extends = local

[values]
backend_url = http://localhost:8013
probe_timeout = 0.5

[services.postgres]
names = db, pg
"""


def project(tmp_path: Path, name: str, text: str | bytes) -> Path:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    path = tmp_path / "profiles" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return tmp_path


def load(root: Path, profile: str, **environ: str) -> layercfg.Loaded:  # type: ignore[type-arg]
    return layercfg.load(profile=profile, project_dir=root, environ=clean_environ(environ))


def load_error(root: Path, profile: str, **environ: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(root, profile, **environ)
    return str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "url_line", "timeout_line"),
    [
        ("p.yaml", YAML_PROFILE, 6, 7),
        ("p.yml", YAML_PROFILE, 6, 7),
        ("p.json", JSON_PROFILE, 5, 4),
        ("p.ini", INI_PROFILE, 6, 7),
    ],
)
def test_receipts_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, url_line: int, timeout_line: int
) -> None:
    """A value from a YAML, JSON or INI profile has the receipt a TOML one has: profiles/FILE:LINE."""
    loaded = load(project(tmp_path, name, text), "p")
    assert loaded.config.probe_timeout == 0.5  # INI's "0.5" converts like an environment variable
    url = loaded.trace.fields["backend_url"].winner.origin
    assert url.location == f"profiles/{name}:{url_line}"
    assert loaded.trace.fields["probe_timeout"].winner.origin.location == f"profiles/{name}:{timeout_line}"
    assert loaded.trace.profiles == ("local", "p")  # extends works in every format


@pytest.mark.parametrize(("name", "text"), [("p.yaml", YAML_PROFILE), ("p.ini", INI_PROFILE)])
def test_service_tables(tmp_path: Path, name: str, text: str) -> None:
    """[services.NAME] (a nested mapping in YAML, a dotted section in INI) declares names like TOML."""
    loaded = load(project(tmp_path, name, text), "p")
    names = loaded.trace.fields["postgres.names"]
    assert names.value == ("db", "pg")
    assert names.winner.origin.location == f"profiles/{name}:10"


def test_yaml_runs_no_code_and_reads_no_setting_from_the_environment(tmp_path: Path) -> None:
    """dynaconf's own switches in the environment change nothing: no unsafe loader, no @tokens."""
    marker = tmp_path / "pwned"
    root = project(
        tmp_path,
        "p.yaml",
        f'values:\n  backend_url: !!python/object/apply:os.system ["touch {marker}"]\n',
    )
    dynaconf_switches = {
        "YAML_LOADER_FOR_DYNACONF": "unsafe_load",
        "INCLUDES_FOR_DYNACONF": str(tmp_path / "other.yaml"),
        "ENVVAR_PREFIX_FOR_DYNACONF": "NETRA",
        "ENV_FOR_DYNACONF": "production",
    }
    message = load_error(root, "p", **dynaconf_switches)
    assert not marker.exists()
    assert "profiles/p.yaml:2" in message
    assert "malformed YAML" in message
    # In-process too: os.environ, where dynaconf would read them, holds the switches.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dynaconf_switches.items():
            patch.setenv(key, value)
        with pytest.raises(ConfigError):
            layercfg.load(profile="p", project_dir=root)
    assert not marker.exists()


def test_dynaconf_tokens_stay_literal(tmp_path: Path) -> None:
    """`@format {env[HOME]}` and `@int 3` are text in a profile, as in a TOML one."""
    root = project(
        tmp_path,
        "p.yaml",
        "values:\n  test_user_email: '@format {env[HOME]}'\n  staging_backend_url: http://staging:1\n"
        "  health_path: '@int 3'\n",
    )
    loaded = load(root, "p", HOME="/home/someone")
    assert loaded.config.test_user_email == "@format {env[HOME]}"
    assert loaded.config.health_path == "@int 3"


def test_dynaconf_is_imported_only_for_such_a_profile(tmp_path: Path) -> None:
    """A TOML-only load never imports dynaconf or configobj; a YAML profile imports dynaconf's reader."""
    project(tmp_path, "t.toml", '[values]\nbackend_url = "http://localhost:8014"\n')
    project(tmp_path, "y.yaml", "values:\n  backend_url: http://localhost:8015\n")
    code = (
        "import sys, layercfg; layercfg.load_config(profile=sys.argv[1], project_dir=sys.argv[2]); "
        "print(sorted(m for m in ('dynaconf', 'configobj') if m in sys.modules))"
    )
    seen = {}
    for profile in ("t", "y"):
        done = subprocess.run(
            [sys.executable, "-c", code, profile, str(tmp_path)],
            capture_output=True,
            text=True,
            env=clean_environ(),
            timeout=60,
            check=True,
        )
        seen[profile] = done.stdout.strip()
    assert seen["t"] == "[]"
    assert "'dynaconf'" in seen["y"]  # (dynaconf's package imports configobj when it is installed)


@pytest.mark.parametrize(
    ("name", "text", "location", "words"),
    [
        ("p.yaml", "values:\n  backend_url: [unclosed\n", "profiles/p.yaml:3", "malformed YAML"),
        ("p.json", '{\n  "values": {"backend_url": }\n}\n', "profiles/p.json:2", "malformed JSON: Expecting value"),
        ("p.ini", "[values]\nbackend_url = http://x:1\n[values\n", "profiles/p.ini:3", "malformed INI"),
        ("p.yaml", "- a list\n- not tables\n", "profiles/p.yaml", "must be a mapping of tables"),
        ("p.json", '"just text"\n', "profiles/p.json", "must be a mapping of tables"),
        ("p.yaml", "values:\n  nope: 1\n", "profiles/p.yaml:2", "unknown key 'nope'"),
    ],
)
def test_bad_files_name_their_place(tmp_path: Path, name: str, text: str, location: str, words: str) -> None:
    """Malformed or wrong-shaped YAML, JSON and INI are errors naming FILE:LINE, never a traceback."""
    message = load_error(project(tmp_path, name, text), "p")
    assert location in message, message
    assert words in message, message


def test_cli_error_is_one_screen(tmp_path: Path) -> None:
    """The CLI prints `Error:` with the place and exits 1; no traceback."""
    root = project(tmp_path, "p.json", '{"values": {"backend_url": "http://x:1",}}\n')
    done = subprocess.run(
        [sys.executable, "-m", "layercfg", "--project-dir", str(root), "--profile", "p", "explain", "backend_url"],
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "profiles/p.json:1" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) < 20


def test_two_files_for_one_profile_are_an_error(tmp_path: Path) -> None:
    """docker.toml and docker.yaml side by side: an error naming both, not a silent pick."""
    root = project(tmp_path, "p.toml", '[values]\nbackend_url = "http://localhost:1"\n')
    project(tmp_path, "p.yaml", "values:\n  backend_url: http://localhost:2\n")
    message = load_error(root, "p")
    assert "profile 'p' is defined twice, by profiles/p.toml and profiles/p.yaml: keep one" in message


# --- hostile files: a clear error or a correct load, in bounded time --------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        pytest.param("p.yaml", ALIAS_BOMB, "too large: more than 100,000 values", id="yaml-alias-bomb"),
        pytest.param("p.yaml", "values:\n  x: " + "[" * 10_000 + "]" * 10_000 + "\n", "", id="yaml-deep"),
        pytest.param("p.json", '{"values": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}", "", id="json-deep"),
        pytest.param("p.yaml", b"values:\n  backend_url: http://x\x00:1\n", "", id="yaml-nul"),
        pytest.param("p.json", b'{"values": {"backend_url": "\xff\xfe"}}', "UTF-8", id="json-invalid-utf8"),
        pytest.param("p.ini", b"[values]\nbackend_url = \xc3\x28\n", "UTF-8", id="ini-invalid-utf8"),
    ],
)
def test_hostile_files_end_in_a_clear_error(tmp_path: Path, name: str, content: str | bytes, words: str) -> None:
    root = project(tmp_path, name, content)
    start = time.monotonic()
    message = load_error(root, "p")
    assert time.monotonic() - start < 5
    assert f"profiles/{name}" in message
    assert words in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("p.yaml", b"\xef\xbb\xbfvalues:\r\n  backend_url: http://localhost:8016\r\n", id="yaml-bom-crlf"),
        pytest.param(
            "p.json", b'\xef\xbb\xbf{"values":\r\n {"backend_url": "http://localhost:8016"}}\r\n', id="json-bom"
        ),
        pytest.param("p.ini", b"\xef\xbb\xbf[values]\r\nbackend_url = http://localhost:8016\r\n", id="ini-bom-crlf"),
    ],
)
def test_bom_and_crlf_load(tmp_path: Path, name: str, content: bytes) -> None:
    """A byte-order mark and CRLF line ends, as Windows editors write them, load correctly."""
    loaded = load(project(tmp_path, name, content), "p")
    assert loaded.config.backend_url == "http://localhost:8016"
    assert loaded.trace.fields["backend_url"].winner.origin.location == f"profiles/{name}:2"


def test_json_profile_is_listed(tmp_path: Path) -> None:
    project(tmp_path, "j.json", json.dumps({"profile": {"description": "from JSON"}}))
    done = subprocess.run(
        [sys.executable, "-m", "layercfg", "--project-dir", str(tmp_path), "profiles"],
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=60,
        check=True,
    )
    assert "profiles/j.json" in done.stdout
    assert "from JSON" in done.stdout
