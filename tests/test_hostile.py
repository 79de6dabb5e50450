"""Hostile input (../shared/audits/hostile-input.sh): no code runs, nothing hangs, no secret prints, no line is lost.

Each case feeds one of the audit's inputs to the real CLI (or to pytest, or to the API where no
process boundary is needed) against real files under tmp_path, bounded by a subprocess timeout; the
audit's defect id (D1..D21) is in each test's name. D16 (a ConfigError pickles and crosses a process
pool) is tested in test_exceptions.py. Docker is always an absent socket unless a test says otherwise.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from conftest import NO_DOCKER, Project, clean_environ

import layercfg

pytest_plugins = ["pytester"]

LIMIT = 20  # seconds any one hostile case may take; each takes well under one
QUICK = 10  # seconds after which reading a FIFO or device counts as a hang
FEW_SECONDS = 5.0  # "loads in bounded time": the fixed code takes ~0.3 s, the defect took minutes
MEMORY_CAP = 1_500_000_000  # bytes of address space for inputs that would be read forever (as the audit caps it)
SECRET = "Hunter2Secret"
DISCOVERY_PROFILE = '[values]\ndiscovery = "auto"\ncompose_files = ["{compose}"]\ndocker_timeout = 0.3\n'


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def layercfg_process(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    timeout: float = LIMIT,
    memory_cap: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m layercfg ARGS` like conftest's run_cli, but with no engine, a short timeout and optional caps."""
    environ = clean_environ({**NO_DOCKER, **(env or {})})
    for name in unset:
        environ.pop(name, None)
    try:
        return subprocess.run(
            [sys.executable, "-m", "layercfg", *args],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=cap_memory if memory_cap else None,
        )
    except subprocess.TimeoutExpired:
        pass  # fail outside the handler: the subprocess traceback says nothing more
    pytest.fail(f"layercfg {' '.join(args)} still ran after {timeout} s (killed): it hangs", pytrace=False)


def python_process(code: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -c CODE` with ``env`` in os.environ (for what load_config must ignore there)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=clean_environ({**NO_DOCKER, **env}),
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=False,
    )


def assert_error(result: subprocess.CompletedProcess[str], *expected: str, lines: int = 1) -> None:
    """Exit status 1 with `Error: ...` on at most ``lines`` lines of stderr, no traceback, naming ``expected``."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.splitlines()) <= lines, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    for crash in ("Traceback", "RecursionError", "MemoryError"):
        assert crash not in output, output[-2000:]


def timed(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run layercfg like layercfg_process and also return how many seconds it took."""
    start = time.monotonic()
    result = layercfg_process(*args, cwd=cwd)
    return result, time.monotonic() - start


# --- D1: dynaconf's variables change nothing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("INCLUDES_FOR_DYNACONF", "{evil}", id="includes"),
        pytest.param("PRELOAD_FOR_DYNACONF", "{evil}", id="preload"),
        pytest.param("SETTINGS_FILE_FOR_DYNACONF", "{evil}", id="settings file"),
        pytest.param("LOADERS_FOR_DYNACONF", '["evil"]', id="loaders"),
        pytest.param("REDIS_ENABLED_FOR_DYNACONF", "true", id="redis"),
    ],
)
def test_d1_dynaconf_variables_run_no_code(project: Project, variable: str, value: str):
    """A *_FOR_DYNACONF variable neither runs a file nor changes explain or load_config(environ={})."""
    marker = project.root / "PWNED"
    evil = project.write("evil.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    env = {variable: value.format(evil=evil), "REDIS_ENABLED_FOR_DYNACONF": "true"}
    result = layercfg_process("explain", "backend_url", cwd=project.root, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("backend_url = http://localhost:8000\n")
    api = python_process("import layercfg; print(layercfg.load_config(environ={}).backend_url)", project.root, env)
    assert (api.returncode, api.stdout, api.stderr) == (0, "http://localhost:8000\n", "")
    assert not marker.exists()


# --- D2: a malformed value is a configuration error, not a crash ----------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param("NETRA_BACKEND_URL", "http://[::1", "backend_url: expected a URL, got 'http://[::1'", id="ipv6"),
        pytest.param(
            "NETRA_BACKEND_URL", "http://h:99999", "backend_url: expected a URL, got 'http://h:99999'", id="port"
        ),
        pytest.param(
            "NETRA_DATABASE_URL",
            f"postgresql://u:{SECRET}@[::1",
            "database_url: expected a URL, got 'postgresql://u:<secret>@[::1'",
            id="with password",
        ),
    ],
)
def test_d2_malformed_url_is_a_one_line_error(project: Project, variable: str, value: str, message: str):
    """A URL that urllib cannot split is a one-line error naming the field, the value and the variable."""
    result = layercfg_process("explain", "backend_url", cwd=project.root, env={variable: value})
    assert_error(result, message, f"(env {variable})")
    assert SECRET not in result.stderr


def test_d2_malformed_url_leaves_the_pytest_session_running(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """With a broken NETRA_BACKEND_URL a test that never uses layercfg still runs (no INTERNALERROR)."""
    for name in set(os.environ) - set(clean_environ()):
        monkeypatch.delenv(name)
    for name, value in {**NO_DOCKER, "NETRA_BACKEND_URL": "http://[::1"}.items():
        monkeypatch.setenv(name, value)
    pytester.makepyprojecttoml("[tool.layercfg]\n")
    pytester.makepyfile(test_x="def test_unrelated():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    result.assert_outcomes(passed=1)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["layercfg: configuration error: *(env NETRA_BACKEND_URL)"])


# --- D3: YAML bombs ----------------------------------------------------------------------------------


def merge_key_bomb() -> str:
    """The audit's 519-byte file: anchors merging an anchor ten times, seven levels deep."""
    lines = ["x0: &x0 {ports: ['8009:8000']}"]
    for i in range(1, 8):
        lines.append(f"x{i}: &x{i} {{<<: [{', '.join([f'*x{i - 1}'] * 10)}]}}")
    return "\n".join([*lines, "services:", "  backend: {<<: [*x7]}"]) + "\n"


def alias_bomb() -> str:
    """Lists of aliases nine levels deep (10**9 leaves) in the keys compose discovery reads beside ports."""
    lines = ["x0: &x0 ['POSTGRES_USER=u']"]
    for i in range(1, 10):
        lines.append(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]")
    body = ["services:", "  postgres:", "    ports: ['5499:5432']"]
    body += [f"    {key}: *x9" for key in ("environment", "labels", "command", "networks")]
    return "\n".join([*lines, *body]) + "\n"


@pytest.mark.parametrize(
    ("compose", "field", "found"),
    [
        pytest.param(merge_key_bomb(), "backend_url", "http://localhost:8009", id="merge keys 10^7"),
        pytest.param(alias_bomb(), "database_url", "postgresql://localhost:5499", id="aliases 10^9"),
    ],
)
def test_d3_yaml_bomb_loads_in_bounded_time(project: Project, compose: str, field: str, found: str):
    """A compose file that expands exponentially loads in a few seconds and its port is still found."""
    project.profile("p", DISCOVERY_PROFILE.format(compose="docker/c.yml"))
    project.write("docker/c.yml", compose)
    result, took = timed("--profile", "p", "explain", field, cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{field} = {found}\n")
    assert took < FEW_SECONDS


def test_d3_deeply_nested_compose_file_is_a_clear_note(project: Project):
    """A compose file nested 5000 levels deep is a note naming it, and the load goes on."""
    project.profile("p", DISCOVERY_PROFILE.format(compose="c.yml"))
    project.write("c.yml", "services: " + "[" * 5000 + "]" * 5000 + "\n")
    result = layercfg_process("--profile", "p", "explain", "backend_url", cwd=project.root)
    assert_no_traceback(result)
    assert result.returncode == 0
    notes = [line for line in result.stdout.splitlines() if "c.yml" in line]
    assert len(notes) == 1
    assert notes[0].startswith("  note      compose file c.yml: ")
    assert notes[0].endswith("invalid YAML: nested too deeply")


# --- D4: special and huge files ------------------------------------------------------------------------


def test_d4_fifo_profile_env_file_and_compose_file_do_not_block(project: Project):
    """A FIFO where a profile, an env file or a compose file should be is reported at once, never read."""
    os.mkfifo(project.root / "profiles" / "f.toml")
    result = layercfg_process("--profile", "f", "show", cwd=project.root, timeout=QUICK)
    assert_error(result, "profiles/f.toml: profile is not a regular file")
    listing = layercfg_process("profiles", cwd=project.root, timeout=QUICK)
    assert listing.returncode == 1
    assert "Traceback" not in listing.stderr
    assert "profiles/f.toml: profile is not a regular file" in listing.stderr
    (project.root / "profiles" / "f.toml").unlink()

    os.mkfifo(project.root / "f.env")
    project.profile("e", '[profile]\nenv_files = ["f.env"]\n')
    assert_error(layercfg_process("--profile", "e", "show", cwd=project.root, timeout=QUICK), "f.env: env file is not")

    os.mkfifo(project.root / "f.yml")
    project.profile("c", DISCOVERY_PROFILE.format(compose="f.yml"))
    result = layercfg_process("--profile", "c", "explain", "backend_url", cwd=project.root, timeout=QUICK)
    assert_no_traceback(result)
    assert result.returncode == 0
    assert "  note      compose file f.yml" in result.stdout


@pytest.mark.parametrize("which", ["config.json", "meta.json"])
def test_d4_fifo_in_the_docker_config_does_not_block(project: Project, which: str):
    """A FIFO as $DOCKER_CONFIG/config.json or as the current context's meta.json does not hang discovery."""
    from docker.context.config import get_context_id

    config = project.root / "docker-config"
    meta = config / "contexts" / "meta" / get_context_id("hostile")
    meta.mkdir(parents=True)
    if which == "config.json":
        os.mkfifo(config / "config.json")
    else:
        (config / "config.json").write_text('{"currentContext": "hostile"}')
        os.mkfifo(meta / "meta.json")
    # Without DOCKER_HOST the Docker context decides the engine. Once the FIFO is skipped that is the
    # default socket: absent here; on a machine running Docker, discovery lists its containers (read only).
    env = {"DOCKER_CONFIG": str(config), "HOME": str(project.root), "NETRA_PROFILE": "docker"}
    env["NETRA_DOCKER_TIMEOUT"] = "0.3"
    result = layercfg_process(
        "explain", "backend_url", cwd=project.root, env=env, unset=["DOCKER_HOST", "DOCKER_CONTEXT"], timeout=QUICK
    )
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "  note      docker: " in result.stdout


def test_d4_profile_linked_to_dev_zero_is_refused(project: Project):
    """A profile symlinked to /dev/zero is an error at once, not a read until MemoryError."""
    (project.root / "profiles" / "z.toml").symlink_to("/dev/zero")
    result = layercfg_process("--profile", "z", "show", cwd=project.root, timeout=QUICK, memory_cap=True)
    assert_error(result, "profiles/z.toml: profile is not a regular file")
    assert "MemoryError" not in result.stderr


def test_d4_files_over_4_mib_are_refused_with_their_size(project: Project):
    """A profile, an env file or a compose file over 4 MiB is refused, naming its size and the limit."""
    padding = "# " + "x" * (5 * 1024 * 1024) + "\n"
    size = str(len(padding))
    project.write("profiles/big.toml", padding)
    result = layercfg_process("--profile", "big", "show", cwd=project.root)
    assert_error(result, f"profiles/big.toml: profile is {size} bytes, more than 4194304")

    project.write("big.env", padding)
    project.profile("e", '[profile]\nenv_files = ["big.env"]\n')
    assert_error(layercfg_process("--profile", "e", "show", cwd=project.root), f"big.env: env file is {size} bytes")

    project.write("big.yml", padding)
    project.profile("c", DISCOVERY_PROFILE.format(compose="big.yml"))
    result = layercfg_process("--profile", "c", "explain", "backend_url", cwd=project.root)
    assert result.returncode == 0
    assert f"compose file is {size} bytes, more than 4194304" in result.stdout


# --- D5: depth ---------------------------------------------------------------------------------------------


def test_d5_extends_chain_of_1500_profiles_is_a_clear_error(project: Project):
    """1500 profiles each extending the next end in one error naming where the chain got too deep."""
    for n in range(1500):
        project.profile(f"p{n}", f'[profile]\nextends = "p{n + 1}"\n' if n < 1499 else "[values]\n")
    result = layercfg_process("--profile", "p0", "show", cwd=project.root)
    assert_error(result, "extends chain deeper than 64 profiles (p0 -> p1 -> p2 -> ...)")
    assert "RecursionError" not in result.stderr


def test_d5_compose_port_with_1500_nested_defaults_is_a_clear_note(project: Project):
    """A port of 1500 nested ${A:-...} is ignored with a note on the depth, not a RecursionError."""
    project.profile("p", DISCOVERY_PROFILE.format(compose="docker/c.yml"))
    port = "${A:-" * 1500 + "8009" + "}" * 1500 + ":8000"
    project.write("docker/c.yml", f'services:\n  backend:\n    ports: ["{port}"]\n')
    result = layercfg_process("--profile", "p", "explain", "backend_url", cwd=project.root)
    assert_no_traceback(result)
    assert result.returncode == 0
    assert result.stdout.startswith("backend_url = http://localhost:8000\n")
    assert "ignored: interpolation nested more than 32 levels deep" in result.stdout


def test_d5_toml_nested_5000_arrays_deep_is_a_clear_error(project: Project):
    """A profile value nested 5000 arrays deep is a malformed-TOML error naming the file."""
    project.profile("p", "[values]\ncompose_files = " + "[" * 5000 + "]" * 5000 + "\n")
    result = layercfg_process("--profile", "p", "show", cwd=project.root)
    assert_error(result, "profiles/p.toml: malformed TOML")
    assert "RecursionError" not in result.stderr


# --- D6: paths the file system refuses ---------------------------------------------------------------------


def test_d6_profile_symlink_loop_is_a_clear_error(project: Project):
    """A profile that is a symlink to itself is an error naming it, in show and in the profile list."""
    (project.root / "profiles" / "p.toml").symlink_to(project.root / "profiles" / "p.toml")
    result = layercfg_process("--profile", "p", "show", cwd=project.root)
    assert_error(result, "profiles/p.toml: cannot read profile: too many levels of symbolic links")
    listing = layercfg_process("profiles", cwd=project.root)
    assert listing.returncode == 1
    assert "Traceback" not in listing.stderr
    assert "profiles/p.toml: cannot read profile: too many levels of symbolic links" in listing.stderr


def test_d6_profiles_dir_name_too_long_still_loads(project: Project):
    """A profiles_dir of 300 characters (past NAME_MAX) leaves the built-in profiles loading cleanly."""
    project.write("pyproject.toml", f'[tool.layercfg]\nprofiles_dir = "{"p" * 300}"\n')
    for args in (("show",), ("profiles",)):
        result = layercfg_process(*args, cwd=project.root)
        assert_no_traceback(result)
        assert result.returncode == 0, result.stderr
    assert "local " in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to uid 65534 with setpriv needs root")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_d6_optional_env_file_in_an_unreadable_directory(tmp_path: Path):
    """As nobody, an optional env file in a directory closed to them is an error naming it, not a traceback."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    environ = clean_environ(NO_DOCKER)
    # pytest's own tmp dirs are closed to other users: this project must be reachable by nobody.
    root = Path(tempfile.mkdtemp(prefix="layercfg-hostile-", dir="/tmp"))
    try:
        probe = subprocess.run([*as_nobody, "-c", "import layercfg"], env=environ, capture_output=True, timeout=LIMIT)
        if probe.returncode != 0:
            pytest.skip("this interpreter cannot run as uid 65534")
        project = Project(root)
        project.profile("p", '[profile]\nenv_files = ["config/.env.p"]\n')
        project.write("config/.env.p", "NETRA_MAX_RETRIES=7\n")
        for path in (root, root / "profiles", root / "profiles" / "p.toml"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (root / "config").chmod(0)
        result = subprocess.run(
            [*as_nobody, "-m", "layercfg", "--profile", "p", "show"],
            cwd=root,
            env={**environ, "HOME": str(root)},
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
    finally:
        (root / "config").chmod(0o755)
        shutil.rmtree(root)
    assert_no_traceback(result)
    if result.returncode != 0:
        assert_error(result, "config/.env.p: cannot read env file: Permission denied")


# --- D7, D8: bad project settings and numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        pytest.param('[tool.layercfg]\nschema = ":X"\n', "schema must be 'package.module:ClassName'", id="no module"),
        pytest.param('[tool.layercfg]\nschema = ".rel:X"\n', "(an absolute module), got '.rel:X'", id="relative"),
        pytest.param('[tool.layercfg]\nschema = "builtins:dict"\n', "'builtins:dict' is not an attrs class", id="dict"),
        pytest.param("tool = 3\n", "[tool] must be a table", id="tool = 3"),
    ],
)
def test_d7_bad_project_settings_are_one_line_errors(project: Project, pyproject: str, message: str):
    """A bad schema in [tool.layercfg], or a [tool] that is no table, is one line naming pyproject.toml."""
    project.write("pyproject.toml", pyproject)
    result = layercfg_process("--project-dir", str(project.root), "show", cwd=project.root)
    assert_error(result, f"Error: {project.root / 'pyproject.toml'}: ", message)


@pytest.mark.parametrize(
    ("env", "profile", "message", "source"),
    [
        pytest.param(
            {"NETRA_PROFILE": "docker", "NETRA_DOCKER_TIMEOUT": "1e300"},
            None,
            "Error: docker_timeout: expected at most 31536000 seconds (a year), got '1e300'",
            "(env NETRA_DOCKER_TIMEOUT)",
            id="1e300 seconds with discovery on",
        ),
        pytest.param(
            {},
            f"[values]\ndocker_startup_timeout = {10**400}\n",
            f"Error: docker_startup_timeout: expected seconds (a number), got {10**400}",
            "(profile p, profiles/p.toml:2)",
            id="10**400 as a TOML integer",
        ),
    ],
)
def test_d8_numbers_past_any_clock_are_conversion_errors(
    project: Project, env: dict[str, str], profile: str | None, message: str, source: str
):
    """A number too large for a float or a clock is a one-line conversion error naming its source."""
    args = ["explain", "backend_url"]
    if profile is not None:
        project.profile("p", profile)
        args = ["--profile", "p", "show"]
    result = layercfg_process(*args, cwd=project.root, env=env)
    assert_error(result, message)
    assert result.stderr.rstrip().endswith(source)


# --- D9-D12: secrets in notes, receipts, reprs and validator messages ----------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("explain", "backend_url"), id="explain"),
        pytest.param(("show",), id="show"),
        pytest.param(("show", "--json"), id="show --json"),
        pytest.param(("doctor", "--no-probe"), id="doctor"),
    ],
)
def test_d9_password_interpolated_into_a_compose_note_is_masked(project: Project, args: tuple[str, ...]):
    """A password that compose interpolation quotes in a load-wide note prints as <secret>."""
    project.profile("c", DISCOVERY_PROFILE.format(compose="docker/c.yml"))
    project.write("docker/c.yml", 'services:\n  auth:\n    ports:\n      - "${TEST_USER_PASSWORD}:8081"\n')
    result = layercfg_process("--profile", "c", *args, cwd=project.root, env={"TEST_USER_PASSWORD": SECRET})
    assert SECRET not in result.stdout + result.stderr
    assert "host port '<secret>' is not a port number" in result.stdout + result.stderr


def test_d10_receipt_of_a_secret_prints_no_secret(project: Project):
    """str() and repr() of explain(cfg, "test_user_password") and the config's repr show <secret>."""
    cfg = layercfg.load_config(project_dir=project.root, environ={"NETRA_TEST_USER_PASSWORD": SECRET})
    trace = layercfg.explain(cfg, "test_user_password")
    assert str(trace).splitlines()[:2] == [
        "test_user_password = <secret>",
        "  set by    environment  env NETRA_TEST_USER_PASSWORD",
    ]
    assert repr(trace) == (
        "FieldTrace(name='test_user_password', value='<secret>', layer='environment',"
        " source='env NETRA_TEST_USER_PASSWORD', candidates=2)"
    )
    assert SECRET not in str(trace) + repr(trace) + repr(cfg)
    assert cfg.test_user_password == SECRET


def test_d11_custom_schema_with_secret_names_masks_them_in_its_repr(project: Project):
    """Plain attrs fields named api_token and db_password print as <secret> in the config's repr."""

    @attrs.frozen
    class App:
        api_token: str | None = None
        db_password: str | None = None
        name: str = "app"

    environ = {"NETRA_API_TOKEN": "TokSecret1", "NETRA_DB_PASSWORD": "DbSecret2", "NETRA_NAME": "visible"}
    cfg = layercfg.load_config(App, project_dir=project.root, environ=environ)
    masked = f"{App.__qualname__}(api_token=<secret>, db_password=<secret>, name='visible')"  # attrs repr: qualname
    assert repr(cfg) == str(cfg) == masked
    assert (cfg.api_token, cfg.db_password) == ("TokSecret1", "DbSecret2")


def too_short(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value and len(value) < 20:
        raise ValueError(f"{attribute.name} too short: {value!r}")


@attrs.frozen
class MarkedSecret:
    admin_password: str | None = attrs.field(
        default=None, validator=too_short, metadata={"layercfg": layercfg.Setting(secret=True)}
    )


@attrs.frozen
class NamedSecret:
    admin_password: str | None = attrs.field(default=None, validator=too_short)


@pytest.mark.parametrize("schema", [MarkedSecret, NamedSecret], ids=["Setting(secret=True)", "secret by name"])
def test_d12_validator_message_quoting_a_secret_is_masked(project: Project, schema: type):
    """An attrs validator's error that quotes the rejected password shows <secret>, also in the traceback."""
    with pytest.raises(layercfg.ConfigError) as caught:
        layercfg.load_config(schema, project_dir=project.root, environ={"NETRA_ADMIN_PASSWORD": SECRET})
    assert str(caught.value) == f"{schema.__name__} rejected the resolved values: admin_password too short: '<secret>'"
    assert SECRET not in repr(caught.value) + "".join(traceback.format_exception(caught.value))


# --- D13, D14: exports ---------------------------------------------------------------------------------------


LEFT_OUT_SECRETS = {
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "NETRA_DATABASE_URL",
    "POSTGRES_PASSWORD",
    "NETRA_POSTGRES_PASSWORD",
    "TEST_USER_PASSWORD",
    "NETRA_TEST_USER_PASSWORD",
}


@pytest.mark.parametrize("fmt", ["shell", "dotenv"])
def test_d13_export_never_writes_a_mask_as_a_value(project: Project, fmt: str):
    """env --legacy leaves each secret out with a `# NAME holds a secret: add --show-secrets` comment."""
    env = {"TEST_USER_PASSWORD": "RealPw123", "NETRA_DATABASE_URL": "postgresql://u:DbPw9@db:5432/app"}
    result = layercfg_process("env", "--format", fmt, "--legacy", cwd=project.root, env=env)
    assert result.returncode == 0, result.stderr
    for text in ("<secret>", "RealPw123", "DbPw9"):
        assert text not in result.stdout
    comments = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert {line.split()[1] for line in comments} == LEFT_OUT_SECRETS
    assert all(line.endswith("holds a secret: add --show-secrets to export it") for line in comments)


HOSTILE_VALUES = {
    "NETRA_TEST_USER_EMAIL": 'it\'s "q" \\ #x $HOME `touch BACKTICK` a=b  ',
    "TEST_USER_PASSWORD": "line1\nline2 \\n 'x' \"y\" $(touch SUBSTITUTED)",
    "NETRA_COMPOSE_PROJECT": " lead\ttab é\\",
    "NETRA_HEALTH_PATH": "/h#x?a=b c",
}


def test_d13_shell_export_evaluates_to_the_resolved_values(project: Project):
    """After the documented eval, every exported variable holds exactly what env --format json says."""
    env = {**HOSTILE_VALUES, "NETRA_WEBSOCKET_PATH": "/ws-${HOME}"}
    args = ("env", "--legacy", "--show-secrets")
    values = json.loads(layercfg_process(*args, "--format", "json", cwd=project.root, env=env).stdout)
    shell = layercfg_process(*args, "--format", "shell", cwd=project.root, env=env).stdout
    dump = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    evaluated = subprocess.run(
        ["bash", "-c", 'eval "$EXPORT" && exec "$@"', "bash", *dump],
        cwd=project.root,
        env={"PATH": os.environ["PATH"], "EXPORT": shell},
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=True,
    )
    exported = json.loads(evaluated.stdout)
    assert {name: exported.get(name) for name in values} == values
    assert values["TEST_USER_PASSWORD"] == HOSTILE_VALUES["TEST_USER_PASSWORD"]
    assert sorted(p.name for p in project.root.iterdir()) == ["profiles"]  # no `...` or $(...) ran


def test_d14_dotenv_export_reads_back_with_python_dotenv(project: Project):
    """python-dotenv reads every exported line back as the resolved value, ``${`` included."""
    from dotenv import dotenv_values

    env = {**HOSTILE_VALUES, "NETRA_WEBSOCKET_PATH": "/ws-${HOME}", "NETRA_TEST_USER_EMAIL": 'a${HOME}b"\\$x'}
    args = ("env", "--legacy", "--show-secrets")
    values = json.loads(layercfg_process(*args, "--format", "json", cwd=project.root, env=env).stdout)
    dotenv = layercfg_process(*args, "--format", "dotenv", cwd=project.root, env=env).stdout
    assert not [line for line in dotenv.splitlines() if line.startswith("#")]  # nothing left out
    assert dotenv.splitlines()[0] == "LAYERCFG_DOLLAR='$'"
    read = dotenv_values(stream=io.StringIO(dotenv))
    assert read.pop("LAYERCFG_DOLLAR") == "$"
    assert read == values
    assert read["NETRA_TEST_USER_EMAIL"] == 'a${HOME}b"\\$x'
    # layercfg reads its own export back as an env file to the same values.
    project.write("config/.env.rt", dotenv)
    project.profile("rt", '[profile]\nenv_files = ["config/.env.rt"]\n')
    shown = json.loads(layercfg_process("--profile", "rt", "show", "--json", "--show-secrets", cwd=project.root).stdout)
    by_field = {f["field"]: f["value"] for f in shown["fields"]}
    assert by_field["test_user_email"] == 'a${HOME}b"\\$x'
    assert by_field["websocket_path"] == "/ws-${HOME}"


# --- D15: an unterminated quote loses no other line ------------------------------------------------------------


def test_d15_unterminated_quote_loses_no_valid_line(project: Project):
    """Every valid line around an unterminated quote loads, and each skipped line is named by number."""
    project.profile("p", '[profile]\nenv_files = ["config/.env.p"]\n')
    project.write(
        "config/.env.p",
        "NETRA_MAX_RETRIES=7\n"
        "# comment\n"
        'NETRA_TEST_USER_EMAIL="ops@example.test\n'
        "NETRA_EVENT_TIMEOUT=31\n"
        "\n"
        'NETRA_AUTH_URL="http://localhost:8087"\n'
        "NETRA_HEALTH_PATH='/hz\n"
        "NETRA_PROBE_TIMEOUT=2.5\n",
    )
    result = layercfg_process("--profile", "p", "show", "--json", cwd=project.root)
    data = json.loads(result.stdout)
    from_file = {f["field"]: (f["value"], f["location"]) for f in data["fields"] if f["layer"] == "env-file"}
    assert from_file == {
        "max_retries": (7, "config/.env.p:1"),
        "event_timeout": (31.0, "config/.env.p:4"),
        "auth_url": ("http://localhost:8087", "config/.env.p:6"),
        "probe_timeout": (2.5, "config/.env.p:8"),
    }
    skipped = [w for w in data["warnings"] if "could not parse this line" in w]
    assert [w.split(": could not parse")[0] for w in skipped] == ["config/.env.p:3", "config/.env.p:7"]
    assert all(w.endswith("it was skipped") for w in skipped)


def test_d15_env_file_line_numbers_are_exact(project: Project):
    """Receipts name the key's own line: blank lines, comments, export and CRLF before it do not shift it."""
    project.profile("p", '[profile]\nenv_files = ["e.env"]\n')
    (project.root / "e.env").write_bytes(
        b"\r\n\r\n# a comment\r\nexport NETRA_MAX_RETRIES=7\r\n\r\nNETRA_TEST_USER_EMAIL='multi\r\nline'\r\n"
        b"NETRA_EVENT_TIMEOUT=31\r\n"
    )
    data = json.loads(layercfg_process("--profile", "p", "show", "--json", cwd=project.root).stdout)
    where = {f["field"]: f["location"] for f in data["fields"]}
    assert (where["max_retries"], where["test_user_email"], where["event_timeout"]) == ("e.env:4", "e.env:6", "e.env:8")


# --- D19: many unknown keys ----------------------------------------------------------------------------------


def test_d19_30000_unknown_keys_fail_fast_on_one_screen(project: Project):
    """30,000 unknown keys are an error within ~2 s that names 20 of them and counts the rest."""
    project.profile("p", "[values]\n" + "".join(f"k{i} = 1\n" for i in range(30000)))
    result, took = timed("--profile", "p", "show", cwd=project.root)
    assert_error(result, "Error: 21 problems in the configuration:", lines=22)
    lines = result.stderr.splitlines()
    assert lines[1] == "  - profiles/p.toml:2: unknown key 'k0' in [values] (not a field of TestEnvConfig)"
    assert sum("unknown key 'k" in line for line in lines) == 20
    assert lines[-1] == "  - profiles/p.toml: and 29980 more unknown keys in [values]"
    assert took < 2.0


# --- D21: profile lists naming nothing, one-letter secrets ------------------------------------------------------


@pytest.mark.parametrize("text", [",", " , ", ",,"])
def test_d21_profile_list_naming_no_profile_is_an_error(project: Project, text: str):
    """--profile ',' is an error, not a silent load with no profile at all."""
    assert_error(layercfg_process("--profile", text, "show", cwd=project.root), f"{text!r} names no profile")
    assert_error(layercfg_process("show", cwd=project.root, env={"NETRA_PROFILE": text}), "names no profile")


def test_d21_blank_profile_option_is_not_a_load_with_no_profile(project: Project):
    """--profile ' ' is an error or the default profile, never a load with no profile at all."""
    result = layercfg_process("--profile", " ", "show", "--json", cwd=project.root)
    assert_no_traceback(result)
    if result.returncode == 0:
        assert json.loads(result.stdout)["profiles"] == ["local"]
    else:
        assert_error(result, "names no profile")


def test_d21_one_letter_secret_does_not_mask_that_letter(project: Project):
    """TEST_USER_PASSWORD=o masks the password's own value, not every 'o' in the output."""
    env = {"TEST_USER_PASSWORD": "o", "NETRA_PROFILE": "docker"}
    doctor = layercfg_process("doctor", "--no-probe", cwd=project.root, env=env)
    assert "<secret>" not in doctor.stdout
    assert "does not exist" in doctor.stdout
    show = layercfg_process("show", cwd=project.root, env=env)
    assert show.returncode == 0, show.stderr
    assert [line.split()[0] for line in show.stdout.splitlines() if "<secret>" in line] == ["test_user_password"]
    assert "backend_url                      = http://localhost:8002" in show.stdout


# --- what held up, and must keep holding ------------------------------------------------------------------------


def test_dynaconf_tokens_in_a_profile_stay_plain_text(project: Project):
    """Profile strings "@format {env}", "@jinja ..." and "@python ..." load as written and run nothing."""
    marker = project.root / "RAN"
    tokens = {
        "test_user_email": "@format {env}",
        "compose_project": "@jinja {{ 7 * 7 }}",
        "test_user_password": f"@python __import__('os').system('touch {marker}')",
    }
    project.profile("t", "[values]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in tokens.items()))
    cfg = layercfg.load_config(profile="t", project_dir=project.root, environ={})
    assert {key: getattr(cfg, key) for key in tokens} == tokens
    assert not marker.exists()


def test_python_tag_in_a_compose_file_runs_nothing(project: Project):
    """A !!python/object/apply:os.system tag in a compose file constructs nothing and runs nothing."""
    marker = project.root / "RAN"
    project.profile("y", DISCOVERY_PROFILE.format(compose="c.yml"))
    project.write(
        "c.yml",
        f"x: !!python/object/apply:os.system ['touch {marker}']\n"
        f"services:\n  backend: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    result = layercfg_process("--profile", "y", "explain", "backend_url", cwd=project.root)
    assert_no_traceback(result)
    assert result.returncode == 0
    assert "  note      c.yml:" in result.stdout
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(("--profile", "../../outside"), {}, "invalid profile name '../../outside'", id="--profile"),
        pytest.param((), {"NETRA_PROFILE": "../../outside"}, "invalid profile name '../../outside'", id="variable"),
        pytest.param(("--profile", "/etc/passwd"), {}, "invalid profile name '/etc/passwd'", id="absolute"),
        pytest.param(("--profile", "x"), {}, "profiles/x.toml:2: invalid profile name '../../outside'", id="extends"),
        pytest.param(("--profile", "../../etc/passwd"), {}, "invalid profile name '../../etc/passwd'", id="passwd"),
    ],
)
def test_profile_names_cannot_leave_the_profiles_directory(
    project: Project, args: tuple[str, ...], env: dict[str, str], message: str
):
    """A profile name with a path in it is rejected, even when the file it points at exists."""
    (project.root.parent / "outside.toml").write_text('[values]\nbackend_url = "http://outside.invalid:1"\n')
    project.profile("x", '[profile]\nextends = "../../outside"\n')
    result = layercfg_process(*args, "show", cwd=project.root, env=env)
    assert_error(result, message)
    assert "outside.invalid" not in result.stdout
