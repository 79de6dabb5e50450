"""Hostile input (../shared/audits/hostile-input.sh): no code runs, nothing hangs, no secret prints, no line is lost.

Every case runs the real CLI or API in a fresh process with a time limit, against real files in
tmp_path; the audit's defect id is in each test's name.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import NO_DOCKER, clean_environ

LIMIT = 20  # seconds for any one hostile case; each takes well under one


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = clean_environ({**NO_DOCKER, **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "layercfg", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=LIMIT
    )


def python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = clean_environ({**NO_DOCKER, **(env or {})})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )


def clean_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """A one-screen error: exit status 1, no traceback, naming what it must name."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 25
    for text in expected:
        assert text in result.stderr


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- D1: variables outside layercfg's names change nothing -----------------------------------------


def test_d1_dynaconf_variables_run_no_code(tmp_path: Path):
    """*_FOR_DYNACONF variables neither run a file nor break explain or load_config(environ={})."""
    marker = tmp_path / "PWNED"
    evil = write(tmp_path, "evil.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    broken = write(tmp_path, "broken.toml", "a = [\n")
    env = {
        "INCLUDES_FOR_DYNACONF": str(evil),
        "PRELOAD_FOR_DYNACONF": str(evil),
        "SETTINGS_FILE_FOR_DYNACONF": str(broken),
        "REDIS_ENABLED_FOR_DYNACONF": "true",
    }
    result = cli("explain", "backend_url", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert python("import layercfg; layercfg.load_config(environ={})", tmp_path, env).returncode == 0
    assert not marker.exists()


# --- D2: a malformed value is a configuration error ---------------------------------------------


def test_d2_malformed_url_is_a_clear_error(tmp_path: Path):
    """NETRA_BACKEND_URL='http://[::1' is an error naming the variable."""
    result = cli("explain", "backend_url", cwd=tmp_path, env={"NETRA_BACKEND_URL": "http://[::1"})
    clean_error(result, "backend_url: expected a URL", "env NETRA_BACKEND_URL")


def test_d2_malformed_url_does_not_kill_the_pytest_session(tmp_path: Path):
    """A test that never uses layercfg still runs when the configuration is broken."""
    write(tmp_path, "pyproject.toml", "[tool.layercfg]\n")
    write(tmp_path, "test_x.py", "def test_unrelated():\n    pass\n")
    environ = clean_environ({**NO_DOCKER, "NETRA_BACKEND_URL": "http://[::1"})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout
    assert "INTERNALERROR" not in result.stdout


# --- D3: YAML bombs ----------------------------------------------------------------------------------


def merge_bomb() -> str:
    lines = ["x0: &x0 {ports: ['8009:8000']}"]
    for i in range(1, 8):
        lines.append(f"x{i}: &x{i} {{<<: [{', '.join([f'*x{i - 1}'] * 10)}]}}")
    return "\n".join([*lines, "services:", "  backend: {<<: [*x7]}"]) + "\n"


def test_d3_merge_key_bomb_loads_in_bounded_time(tmp_path: Path):
    """Anchors merging anchors ten times, seven deep, load once each: the port is found, fast."""
    write(tmp_path, "profiles/p.toml", '[values]\ndiscovery = "auto"\ncompose_files = ["docker/c.yml"]\n')
    write(tmp_path, "docker/c.yml", merge_bomb())
    result = cli("--profile", "p", "explain", "backend_url", cwd=tmp_path, env={"NETRA_DOCKER_TIMEOUT": "0.3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backend_url = http://localhost:8009")


def test_d3_deep_yaml_is_a_clear_error(tmp_path: Path):
    """A compose file nested 5000 levels deep is an error naming it."""
    write(tmp_path, "profiles/p.toml", '[values]\ndiscovery = "auto"\ncompose_files = ["c.yml"]\n')
    write(tmp_path, "c.yml", "services: " + "[" * 5000 + "]" * 5000 + "\n")
    result = cli("--profile", "p", "explain", "backend_url", cwd=tmp_path)
    assert result.returncode == 0
    assert "compose file c.yml: " in result.stdout
    assert "Traceback" not in result.stderr


# --- D4, D5, D6: special files, depth, paths ---------------------------------------------------------


def test_d4_fifo_profile_and_env_file_do_not_block(tmp_path: Path):
    """A FIFO where a profile or an env file should be is an error at once."""
    os.mkfifo(tmp_path / "f.fifo")
    (tmp_path / "profiles").mkdir()
    os.mkfifo(tmp_path / "profiles" / "f.toml")
    clean_error(cli("--profile", "f", "show", cwd=tmp_path), "profiles/f.toml: profile is not a regular file")
    write(tmp_path, "profiles/e.toml", '[profile]\nenv_files = ["f.fifo"]\n')
    clean_error(cli("--profile", "e", "show", cwd=tmp_path), "f.fifo: env file is not a regular file")


def test_d4_device_and_huge_files_are_refused(tmp_path: Path):
    """/dev/zero as a profile and a 5 MiB profile are errors, not an endless or huge read."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "z.toml").symlink_to("/dev/zero")
    clean_error(cli("--profile", "z", "show", cwd=tmp_path), "profile is not a regular file")
    write(tmp_path, "profiles/big.toml", "# " + "x" * (5 * 1024 * 1024) + "\n")
    clean_error(cli("--profile", "big", "show", cwd=tmp_path), "more than 4194304")


def test_d5_long_extends_chain_and_deep_nesting(tmp_path: Path):
    """1500 chained profiles, 1500 nested ${A:-...} and TOML nested 5000 deep each end in a clear error."""
    for n in range(1500):
        write(tmp_path, f"profiles/p{n}.toml", f'[profile]\nextends = "p{n + 1}"\n' if n < 1499 else "")
    clean_error(cli("--profile", "p0", "show", cwd=tmp_path), "extends chain deeper than 64 profiles")
    write(tmp_path, "profiles/n.toml", "[values]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    clean_error(cli("--profile", "n", "show", cwd=tmp_path), "profiles/n.toml: malformed TOML")
    write(tmp_path, "profiles/c.toml", '[values]\ndiscovery = "auto"\ncompose_files = ["c.yml"]\n')
    write(
        tmp_path, "c.yml", 'services:\n  backend:\n    ports: ["' + "${A:-" * 1500 + "8009" + "}" * 1500 + ':8000"]\n'
    )
    result = cli("--profile", "c", "explain", "backend_url", cwd=tmp_path)
    assert result.returncode == 0
    assert "nested more than 32 levels deep" in result.stdout


def test_d6_symlink_loop_and_long_names(tmp_path: Path):
    """A profile that is a symlink loop and a 300-character profiles_dir are errors, not tracebacks."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.toml").symlink_to(tmp_path / "profiles" / "p.toml")
    clean_error(cli("--profile", "p", "show", cwd=tmp_path), "too many levels of symbolic links")
    long = tmp_path / "long"
    write(long, "pyproject.toml", f'[tool.layercfg]\nprofiles_dir = "{"p" * 300}"\n')
    result = cli("show", cwd=long)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_d6_unreadable_directory_is_named(tmp_path: Path):
    """An env file in a directory this user may not enter is an error naming it (run as nobody)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="lch-", dir="/tmp"))  # pytest's own tmp dirs are closed to others
    write(root, "profiles/p.toml", '[profile]\nenv_files = ["config/.env.p"]\n')
    write(root, "config/.env.p", "X=1\n")
    for path in (root, root / "profiles", root / "profiles" / "p.toml"):
        path.chmod(0o755)
    (root / "config").chmod(0)
    environ = clean_environ({**NO_DOCKER, "HOME": str(root)})
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "layercfg"]
    try:
        result = subprocess.run(
            [*command, "--profile", "p", "show"], cwd=root, env=environ, capture_output=True, text=True, timeout=LIMIT
        )
    finally:
        (root / "config").chmod(0o755)
        shutil.rmtree(root)
    clean_error(result, "config/.env.p: cannot read env file: Permission denied")


# --- D7, D8: bad settings and numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        pytest.param('[tool.layercfg]\nschema = ":X"\n', "schema must be 'package.module:ClassName'", id="no module"),
        pytest.param('[tool.layercfg]\nschema = ".rel:X"\n', "(an absolute module)", id="relative"),
        pytest.param('[tool.layercfg]\nschema = "builtins:dict"\n', "is not an attrs class", id="not attrs"),
        pytest.param("tool = 3\n", "[tool] must be a table", id="tool not a table"),
    ],
)
def test_d7_bad_project_settings(tmp_path: Path, pyproject: str, message: str):
    """A bad [tool.layercfg] is a one-line error naming pyproject.toml."""
    write(tmp_path, "pyproject.toml", pyproject)
    clean_error(cli("--project-dir", ".", "profiles", cwd=tmp_path), "pyproject.toml", message)


def test_d8_numbers_past_any_clock(tmp_path: Path):
    """1e300 seconds and an integer past float's range are conversion errors naming their source."""
    result = cli("--profile", "docker", "show", cwd=tmp_path, env={"NETRA_DOCKER_TIMEOUT": "1e300"})
    clean_error(result, "docker_timeout: expected at most 31536000 seconds", "env NETRA_DOCKER_TIMEOUT")
    write(tmp_path, "profiles/p.toml", f"[values]\ndocker_startup_timeout = {10**400}\n")
    clean_error(cli("--profile", "p", "show", cwd=tmp_path), "docker_startup_timeout: expected seconds", "p.toml:2")


# --- D9-D14: secrets and exports -------------------------------------------------------------------


def test_d9_interpolated_password_in_notes_is_masked(tmp_path: Path):
    """A password that compose interpolation quotes in a note prints as <secret> in explain and show."""
    write(tmp_path, "profiles/p.toml", '[values]\ndiscovery = "auto"\ncompose_files = ["c.yml"]\n')
    write(tmp_path, "c.yml", 'services:\n  backend:\n    ports: ["${TEST_USER_PASSWORD:?}:8000", "8000"]\n')
    write(tmp_path, "c.yml", 'services:\n  backend:\n    ports: ["${TEST_USER_PASSWORD}:80x"]\n')
    env = {"TEST_USER_PASSWORD": "Hunter2Secret"}
    for args in (("explain", "backend_url"), ("show",), ("show", "--json")):
        result = cli("--profile", "p", *args, cwd=tmp_path, env=env)
        assert "Hunter2Secret" not in result.stdout + result.stderr, args


def test_d10_d11_d12_reprs_and_validator_errors_mask_secrets(tmp_path: Path):
    """The receipt's str and repr, a custom schema's repr and a validator's message never show a secret."""
    code = """
        import attrs, layercfg
        cfg = layercfg.load_config(profile=[], environ={"TEST_USER_PASSWORD": "Hunter2Secret"})
        trace = layercfg.explain(cfg, "test_user_password")
        print(trace); print(repr(trace))

        @attrs.frozen
        class App:
            api_token: str | None = None
            db_password: str | None = layercfg.setting(None)
        print(layercfg.load_config(App, profile=[], environ={"NETRA_API_TOKEN": "TokSecret1",
                                                              "NETRA_DB_PASSWORD": "DbSecret2"}))

        def short(instance, attribute, value):
            if value and len(value) < 20:
                raise ValueError(f"admin_password too short: {value!r}")

        @attrs.frozen
        class V:
            admin_password: str | None = attrs.field(default=None, validator=short)
        try:
            layercfg.load_config(V, profile=[], environ={"NETRA_ADMIN_PASSWORD": "Hunter2Secret"})
        except layercfg.ConfigError as error:
            print(error)
    """
    result = python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    for secret in ("Hunter2Secret", "TokSecret1", "DbSecret2"):
        assert secret not in result.stdout
    assert "test_user_password = <secret>" in result.stdout
    assert "App(api_token=<secret>, db_password=<secret>)" in result.stdout
    assert "admin_password too short: '<secret>'" in result.stdout


def test_d13_shell_export_keeps_real_passwords(tmp_path: Path):
    """After the documented eval of env --format shell --legacy, a real password is still itself."""
    script = f'eval "$({sys.executable} -m layercfg env --format shell --legacy)"; echo "$TEST_USER_PASSWORD"'
    environ = clean_environ({**NO_DOCKER, "TEST_USER_PASSWORD": "RealPw123"})
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=LIMIT
    )
    assert result.stdout.strip() == "RealPw123"


def test_d14_dotenv_export_reads_back_as_written(tmp_path: Path):
    """Every line env writes reads back with python-dotenv as the value it holds; ${ values are left out."""
    from dotenv import dotenv_values

    values = {
        "NETRA_TEST_USER_EMAIL": 'it\'s "quoted" \\ and spaced',
        "NETRA_WEBSOCKET_PATH": "/ws#frag",
        "NETRA_EVENT_TIMEOUT": "31",
    }
    result = cli("env", cwd=tmp_path, env=values)
    read = dotenv_values(stream=io.StringIO(result.stdout))
    assert {name: read[name] for name in values} == {**values, "NETRA_EVENT_TIMEOUT": "31.0"}
    expanding = cli("env", cwd=tmp_path, env={"NETRA_TEST_USER_EMAIL": "a${HOME}b"})
    assert "# NETRA_TEST_USER_EMAIL holds '${'" in expanding.stdout
    assert "NETRA_TEST_USER_EMAIL=" not in expanding.stdout


# --- D15, D19, D21 -------------------------------------------------------------------------------


def test_d15_unterminated_quote_loses_no_valid_line(tmp_path: Path):
    """Lines after an unterminated quote still load, and every skipped line is named."""
    write(tmp_path, "profiles/p.toml", '[profile]\nenv_files = ["config/.env.p"]\n')
    write(
        tmp_path,
        "config/.env.p",
        'NETRA_TEST_USER_EMAIL="ops@example.test\nNETRA_MAX_RETRIES=7\nNETRA_EVENT_TIMEOUT=31\n'
        'NETRA_AUTH_URL="http://localhost:8087"\n',
    )
    result = cli("--profile", "p", "show", "--json", cwd=tmp_path)
    data = json.loads(result.stdout)
    values = {field["field"]: field["value"] for field in data["fields"]}
    assert (values["max_retries"], values["event_timeout"], values["auth_url"]) == (7, 31.0, "http://localhost:8087")
    assert [w for w in data["warnings"] if "could not parse" in w] == [
        "config/.env.p:1: could not parse this line (a quote is not closed); it was skipped"
    ]


def test_d19_many_unknown_keys_fit_one_screen_fast(tmp_path: Path):
    """30,000 unknown keys name 20 and count the rest, well within the time limit."""
    write(tmp_path, "profiles/p.toml", "[values]\n" + "".join(f"k{i} = 1\n" for i in range(30000)))
    result = cli("--profile", "p", "show", cwd=tmp_path)
    clean_error(result, "and 29980 more unknown keys in [values]")


def test_d21_profile_list_naming_nothing_and_one_letter_secrets(tmp_path: Path):
    """--profile ',' is an error; a one-letter password does not mask that letter everywhere."""
    clean_error(cli("--profile", ",", "show", cwd=tmp_path), "',' names no profile")
    result = cli("--profile", "docker", "doctor", "--no-probe", cwd=tmp_path, env={"NETRA_TEST_USER_PASSWORD": "o"})
    assert "<secret>" not in result.stdout
    assert "does not exist" in result.stdout


# --- what held up, and must keep holding -------------------------------------------------------------


def test_tokens_tags_and_traversal_stay_inert(tmp_path: Path):
    """@format/@jinja/@python stay text, a !!python tag runs nothing, and ../ profile names are refused."""
    marker = tmp_path / "RAN"
    write(tmp_path, "profiles/t.toml", "[values]\ntest_user_email = \"@python __import__('os')\"\n")
    result = cli("--profile", "t", "explain", "test_user_email", cwd=tmp_path)
    assert result.stdout.startswith("test_user_email = @python __import__('os')")
    write(tmp_path, "profiles/y.toml", '[values]\ndiscovery = "auto"\ncompose_files = ["c.yml"]\n')
    write(tmp_path, "c.yml", f"services:\n  backend: !!python/object/apply:os.system ['touch {marker}']\n")
    cli("--profile", "y", "show", cwd=tmp_path)
    assert not marker.exists()
    clean_error(cli("--profile", "../../etc/passwd", "show", cwd=tmp_path), "invalid profile name")


def test_env_file_lines_are_exact(tmp_path: Path):
    """Receipts name the key's own line: blank lines, comments, export and CRLF before it do not shift it."""
    write(tmp_path, "profiles/p.toml", '[profile]\nenv_files = ["e.env"]\n')
    (tmp_path / "e.env").write_bytes(
        b"\r\n\r\n# a comment\r\nexport NETRA_MAX_RETRIES=7\r\n\r\nNETRA_TEST_USER_EMAIL='multi\r\nline'\r\n"
        b"NETRA_EVENT_TIMEOUT=31\r\n"
    )
    data = json.loads(cli("--profile", "p", "show", "--json", cwd=tmp_path).stdout)
    where = {f["field"]: f["location"] for f in data["fields"]}
    assert (where["max_retries"], where["test_user_email"], where["event_timeout"]) == ("e.env:4", "e.env:6", "e.env:8")
