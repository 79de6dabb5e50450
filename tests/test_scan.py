"""`layercfg scan`: hard-coded endpoints and ad-hoc environment reads, found in a realistic test suite."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, NETRA

from layercfg._scan.index import plausible_name
from layercfg._scan.scan import run_scan
from layercfg._sources.project import find_project
from layercfg.cli import main
from layercfg.exceptions import ProjectError

SUITE = FIXTURES / "scan" / "suite"
SARIF_SCHEMA = FIXTURES / "sarif-2.1.0.json"
ENDPOINT, ADHOC, UNKNOWN = "endpoint.hardcoded", "env.adhoc", "env.unknown"
PYPROJECT = '[tool.layercfg]\nscan_accessors = ["get_env().get"]\n'


def make_project(root: Path, pyproject: str = PYPROJECT) -> Path:
    """A project with the netra compose files and alpine-test env file, and the fixture suite (".txt" stripped)."""
    shutil.copytree(NETRA / "docker", root / "docker")
    (root / "config").mkdir(parents=True)
    shutil.copy(NETRA / "config" / ".env.alpine-test", root / "config" / ".env.alpine-test")
    for source in SUITE.rglob("*.txt"):
        target = root / source.relative_to(SUITE).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return root


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


def scan_rows(root: Path, **kwargs: object) -> set[tuple[str, int, str, str, str]]:
    result = run_scan([str(root)], project_dir=root, jobs=1, **kwargs)  # type: ignore[arg-type]
    return {(f.path, f.line, f.check, f.field, f.text) for f in result.findings}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["scan", *args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


CHAT = "tests/e2e/test_chat.py"
CONFTEST = "tests/conftest.py"
CONTEXT = "test_framework/test_context.py"
SERVICES = "tests/integration/test_services.py"

FOUND = [
    pytest.param(CHAT, 11, ENDPOINT, "websocket_url", "ws://localhost:8000/ws", id="module-level constant"),
    pytest.param(
        CHAT,
        12,
        ADHOC,
        "backend_url",
        'os.environ.get("TEST_BACKEND_URL", "http://localhost:8000")',
        id="legacy name with a hard-coded default",
    ),
    pytest.param(CHAT, 20, ENDPOINT, "backend_url", "http://localhost:8000/health", id="parametrize list"),
    pytest.param(CHAT, 21, ENDPOINT, "auth_url", "http://127.0.0.1:8081/auth/login", id="127.0.0.1 on auth's port"),
    pytest.param(CHAT, 29, ENDPOINT, "websocket_url", "ws://localhost:8002/ws", id="f-string from a read's default"),
    pytest.param(
        CHAT, 29, ADHOC, "backend_url", "os.environ.get('DOCKER_BACKEND_PORT', '8002')", id="legacy port variable"
    ),
    pytest.param(CONFTEST, 9, ENDPOINT, "backend_url", "http://localhost:8000", id="dict of service URLs: backend"),
    pytest.param(CONFTEST, 10, ENDPOINT, "auth_url", "http://localhost:8081", id="dict: auth"),
    pytest.param(
        CONFTEST, 11, ENDPOINT, "database_url", "postgresql://postgres@localhost:5432/postgres", id="dict: postgres"
    ),
    pytest.param(CONFTEST, 12, ENDPOINT, "redis_url", "redis://localhost:6379/0", id="dict: redis"),
    pytest.param(
        CONFTEST,
        18,
        UNKNOWN,
        "staging_backend_url",
        'os.getenv("BACKEND_STAGING_URL")',
        id="unknown name with did-you-mean",
    ),
    pytest.param(CONFTEST, 23, ADHOC, "backend_url", 'get_env().get("BACKEND_URL")', id="the team's accessor"),
    pytest.param(CONTEXT, 7, ENDPOINT, "backend_url", "http://localhost:8000", id="class attribute"),
    pytest.param(CONTEXT, 8, ENDPOINT, "websocket_url", "ws://localhost:8000", id="ws base URL without its path"),
    pytest.param(CONTEXT, 10, ENDPOINT, "auth_url", "http://localhost:8081", id="default argument"),
    pytest.param(
        CONTEXT,
        11,
        ADHOC,
        "backend_url",
        'os.environ.get("BACKEND_URL", "http://localhost:8000")',
        id="seed 847's TestContext read",
    ),
    pytest.param(CONTEXT, 13, ADHOC, "fallback", '"USE_STAGING_SERVICES" in os.environ', id="legacy switch test"),
    pytest.param(CONTEXT, 18, ENDPOINT, "backend_url", "http://localhost:8000/health", id="concatenation"),
    pytest.param(
        SERVICES, 3, ENDPOINT, "database_url", "postgresql://postgres@localhost:5432/postgres", id="f-string port"
    ),
    pytest.param(SERVICES, 3, ADHOC, "postgres_port", "os.getenv('POSTGRES_PORT', '5432')", id="read of a part"),
    pytest.param(SERVICES, 4, ENDPOINT, "redis_url", "redis://redis:6379/0", id="container-internal host"),
    pytest.param(SERVICES, 5, ENDPOINT, "clickhouse_url", "http://localhost:8123", id="clickhouse HTTP port"),
    pytest.param(SERVICES, 6, ADHOC, "backend_url", 'os.environ.get("NETRA_BACKEND_URL")', id="canonical name"),
    pytest.param(
        SERVICES,
        7,
        ADHOC,
        "docker_startup_timeout",
        'os.environ.get("DOCKER_STARTUP_TIMEOUT", "120")',
        id="a setting that is not an endpoint",
    ),
    pytest.param(
        SERVICES,
        9,
        ENDPOINT,
        "database_url",
        "postgresql://postgres@localhost:5434/netra_test",
        id="port only a compose file publishes",
    ),
    pytest.param(SERVICES, 17, ENDPOINT, "frontend_url", "http://localhost:3002", id="ignore of another check"),
    pytest.param("pytest.ini", 4, ENDPOINT, "backend_url", "http://localhost:8002", id="pytest.ini env entry"),
    pytest.param(".env.test", 2, ENDPOINT, "backend_url", "http://localhost:8000", id="dotenv file"),
    pytest.param(".env.test", 3, ENDPOINT, "auth_url", "http://alpine-test-auth:8081", id="compose container name"),
    pytest.param(
        ".env.test",
        4,
        ENDPOINT,
        "database_url",
        "postgresql://test:<secret>@localhost:5435/netra_test",
        id="password masked",
    ),
    pytest.param("settings.yml", 2, ENDPOINT, "backend_url", "http://localhost:8002", id="YAML that is not compose"),
]

NOT_FOUND = [
    pytest.param(CHAT, 3, id="docstring"),
    pytest.param(CHAT, 10, id="comment"),
    pytest.param(CHAT, 13, id="unrelated port 1234"),
    pytest.param(CHAT, 14, id="remote host on a service's port"),
    pytest.param(CONFTEST, 28, id="HOME, PATH and PYTEST_XDIST_WORKER"),
    pytest.param(SERVICES, 8, id="LOG_LEVEL: no similarity to a known name"),
    pytest.param(SERVICES, 13, id="inline ignore of that check"),
    pytest.param(SERVICES, 16, id="bare inline ignore"),
    pytest.param("pytest.ini", 2, id="ini comment"),
    pytest.param("pytest.ini", 5, id="inline ignore in an ini file"),
    pytest.param("pytest.ini", 6, id="remote host in an ini file"),
    pytest.param("settings.yml", 3, id="unrelated port 9090"),
    pytest.param("test_framework/env.py", 8, id="a read whose name is not a literal"),
]


@pytest.fixture(scope="module")
def suite_findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int, str, str, str]]:
    return scan_rows(make_project(tmp_path_factory.mktemp("suite") / "proj"))


@pytest.mark.parametrize(("path", "line", "check", "field", "text"), FOUND)
def test_finds_each_style(suite_findings, path, line, check, field, text):
    """Each way the team wrote an endpoint or a read is found on its line with the right field."""
    assert (path, line, check, field, text) in suite_findings


@pytest.mark.parametrize(("path", "line"), NOT_FOUND)
def test_lookalikes_are_not_reported(suite_findings, path, line):
    """Strings that only look like the stack's endpoints, and suppressed lines, are not reported."""
    assert [row for row in suite_findings if row[:2] == (path, line)] == []


def test_reports_nothing_else(suite_findings):
    """The table above is everything: no compose file, profile env file or helper module is reported."""
    assert suite_findings == {param.values for param in FOUND}


def test_messages_say_field_profile_value_and_what_to_use(proj):
    """The issue's three findings read as the issue words them (profile values included)."""
    result = run_scan([str(proj)], project_dir=proj, jobs=1)
    by_place = {(f.path, f.line, f.check): f.message for f in result.findings}
    assert by_place[(CHAT, 11, ENDPOINT)] == (
        '"ws://localhost:8000/ws" is websocket_url of profiles local and staging-fallback; '
        "under alpine-test and docker it is ws://localhost:8002/ws (use layercfg_config.websocket_url)"
    )
    assert by_place[(CONTEXT, 11, ADHOC)] == (
        'os.environ.get("BACKEND_URL", "http://localhost:8000") reads a legacy name of backend_url and hard-codes '
        "its default; backend_url is http://localhost:8000 under local and staging-fallback; "
        "http://localhost:8002 under alpine-test and docker (use load_config().backend_url)"
    )
    assert by_place[(CONFTEST, 18, UNKNOWN)] == (
        'os.getenv("BACKEND_STAGING_URL") is not a name layercfg knows; did you mean STAGING_BACKEND_URL '
        "(staging_backend_url)? staging_backend_url is unset under every profile "
        "(use layercfg_config.staging_backend_url)"
    )
    assert by_place[(SERVICES, 9, ENDPOINT)].startswith(
        '"postgresql://postgres@localhost:5434/netra_test" uses port 5434, published for test-postgres by '
        "docker/docker-compose.yml:334; database_url is"
    )


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        pytest.param("BACKEND_STAGING_URL", "STAGING_BACKEND_URL", id="same words, other order"),
        pytest.param("TEST_DB_URL", "TEST_DATABASE_URL", id="DB read as DATABASE"),
        pytest.param("DOCKER_START_TIMEOUT", "DOCKER_STARTUP_TIMEOUT", id="close spelling"),
        pytest.param("HOME", None, id="HOME"),
        pytest.param("PATH", None, id="PATH"),
        pytest.param("DOCKER_HOST", None, id="another kind of value"),
        pytest.param("TEST_TIMEOUT", None, id="only generic words shared"),
        pytest.param("LOG_LEVEL", None, id="nothing shared"),
    ],
)
def test_plausible_names(name, meant):
    """Did-you-mean only for names that plausibly mean a known one."""
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    assert plausible_name(name, schema_info(TestEnvConfig, "NETRA_").by_env_name) == meant


def test_parallel_scan_finds_the_same(proj, monkeypatch):
    """Worker processes over file chunks find exactly what one process finds."""
    import layercfg._scan.scan

    single = run_scan([str(proj)], project_dir=proj, jobs=1).findings
    monkeypatch.setattr(layercfg._scan.scan, "PARALLEL_MIN_FILES", 1)
    assert run_scan([str(proj)], project_dir=proj, jobs=2).findings == single


def test_json_contract_for_one_finding(proj):
    """--format json: version, findings (each with the documented keys, in order) and summary."""
    code, out, _ = invoke("--project-dir", str(proj), "--format", "json", str(proj))
    assert code == 1
    data = json.loads(out)
    assert list(data) == ["version", "findings", "summary"]
    assert data["version"] == 1
    finding = next(f for f in data["findings"] if (f["path"], f["line"]) == (CHAT, 11))
    key = f"{ENDPOINT}\0{CHAT}\0ws://localhost:8000/ws\0" + "0"
    assert finding == {
        "id": hashlib.sha256(key.encode()).hexdigest()[:20],
        "check": ENDPOINT,
        "path": CHAT,
        "line": 11,
        "column": 11,
        "text": "ws://localhost:8000/ws",
        "field": "websocket_url",
        "service": "backend",
        "profile_values": {
            "local": "ws://localhost:8000/ws",
            "alpine-test": "ws://localhost:8002/ws",
            "docker": "ws://localhost:8002/ws",
            "staging-fallback": "ws://localhost:8000/ws",
        },
        "suggestion": "layercfg_config.websocket_url",
        "message": '"ws://localhost:8000/ws" is websocket_url of profiles local and staging-fallback; '
        "under alpine-test and docker it is ws://localhost:8002/ws (use layercfg_config.websocket_url)",
        "new": True,
    }
    assert list(finding) == [  # the documented order
        *("id", "check", "path", "line", "column", "text", "field", "service"),
        *("profile_values", "suggestion", "message", "new"),
    ]
    summary = data["summary"]
    assert summary["findings"] == len(FOUND) == summary["new"]
    assert summary["by_check"] == {ENDPOINT: 22, ADHOC: 8, UNKNOWN: 1}
    assert summary["files_with_findings"] == 7
    assert summary["baseline"] is None


def test_sarif_validates_against_the_official_schema(proj):
    """--format sarif is a valid SARIF 2.1.0 log whose results carry rule, place and fingerprint."""
    import jsonschema

    code, out, _ = invoke("--project-dir", str(proj), "--format", "sarif", str(proj))
    assert code == 1
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [ENDPOINT, ADHOC, UNKNOWN]
    result = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["region"]["startLine"] == 29)
    assert result["ruleId"] == ENDPOINT
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": CHAT, "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == proj.resolve().as_uri() + "/"
    assert len(run["results"]) == len(FOUND)


def test_sarif_with_baseline_validates_and_marks_state(proj, tmp_path):
    """With a baseline, every SARIF result says whether it is new (still a valid log)."""
    import jsonschema

    baseline = tmp_path / "baseline.json"
    invoke("--project-dir", str(proj), "--baseline", str(baseline), str(proj))
    (proj / "tests" / "test_new.py").write_text('URL = "http://localhost:8083"\n', encoding="utf-8")
    code, out, _ = invoke("--project-dir", str(proj), "--baseline", str(baseline), "--format", "sarif", str(proj))
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(log)
    states = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["baselineState"]
        for r in log["runs"][0]["results"]
    }
    assert states["tests/test_new.py"] == "new"
    assert set(states.values()) == {"new", "unchanged"}


def test_baseline_flow_end_to_end(proj, tmp_path):
    """Write the baseline, pass, survive a line move, then fail naming only the new endpoint."""
    baseline = tmp_path / ".layercfg-scan.json"
    args = ("--project-dir", str(proj), "--baseline", str(baseline), str(proj))

    code, out, err = invoke(*args)
    assert (code, baseline.exists()) == (0, True)
    assert f"wrote baseline {baseline} with {len(FOUND)} findings" in err
    assert out.splitlines()[-1].startswith(
        f"summary: {len(FOUND)} findings in 7 files (0 new, {len(FOUND)} in baseline"
    )

    assert invoke(*args)[0] == 0

    chat = proj / CHAT
    chat.write_text("# moved down by a new header\n\n" + chat.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = invoke(*args)
    assert code == 0, out

    with chat.open("a", encoding="utf-8") as stream:
        stream.write('\nADMIN_URL = "http://localhost:8081/admin"\n')
    code, out, _ = invoke(*args)
    assert code == 1
    lines = out.splitlines()
    new_line = len(chat.read_text(encoding="utf-8").splitlines())
    assert lines[0].startswith(f'{CHAT}:{new_line}:14  {ENDPOINT}  "http://localhost:8081/admin" is on auth_url')
    assert [line for line in lines if not line.startswith("    ")][1:] == [lines[-1]]  # one finding, then the summary
    assert "1 new" in lines[-1]


def test_ids_survive_line_moves_and_count_repeats(tmp_path):
    """Ids hash check, path, text and occurrence, never the line: moving code keeps them, a repeat gets its own."""
    root = tmp_path / "p"
    root.mkdir()
    test = root / "test_x.py"
    test.write_text('A = "http://localhost:8000"\nB = "http://localhost:8000"\n', encoding="utf-8")
    before = [f.id for f in run_scan([str(root)], project_dir=root, jobs=1).findings]
    test.write_text('"""Doc."""\n\n\nA = "http://localhost:8000"\n\nB = "http://localhost:8000"\n', encoding="utf-8")
    after = [f.id for f in run_scan([str(root)], project_dir=root, jobs=1).findings]
    assert before == after
    assert len(set(after)) == 2


@pytest.mark.parametrize(
    ("options", "checks"),
    [
        pytest.param(["--select", "env"], {ADHOC, UNKNOWN}, id="select a family"),
        pytest.param(["--select", "env.unknown,endpoint.hardcoded"], {UNKNOWN, ENDPOINT}, id="comma list"),
        pytest.param(["--select", "env.adhoc", "--select", "env.unknown"], {ADHOC, UNKNOWN}, id="repeated"),
        pytest.param(["--ignore", "endpoint.hardcoded", "--ignore", "env.unknown"], {ADHOC}, id="ignore"),
        pytest.param(["--select", "env", "--ignore", "env.adhoc"], {UNKNOWN}, id="select then ignore"),
    ],
)
def test_select_and_ignore(proj, options, checks):
    """--select and --ignore take check ids (comma-separated or repeated) or a family prefix."""
    code, out, _ = invoke("--project-dir", str(proj), "--format", "json", *options, str(proj))
    assert code == 1
    assert {f["check"] for f in json.loads(out)["findings"]} == checks


def test_inline_ignores(tmp_path):
    """`# layercfg: ignore[CHECK]` silences that check on its line, a bare one every check."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "test_x.py").write_text(
        textwrap.dedent(
            """\
            import os
            A = os.environ.get("BACKEND_URL", "x")  # layercfg: ignore[env.adhoc]
            B = os.environ.get("BACKEND_URL")  # layercfg: ignore[endpoint.hardcoded]
            C = os.getenv("BACKEND_STAGING_URL", "http://localhost:8000")  # layercfg: ignore
            D = "http://localhost:8000"  # layercfg: ignore[env.adhoc, endpoint.hardcoded]
            E = "# layercfg: ignore http://localhost:8000"
            """
        ),
        encoding="utf-8",
    )
    rows = {(line, check) for _, line, check, _, _ in scan_rows(root)}
    assert rows == {(3, ADHOC), (6, ENDPOINT)}


def test_docstrings_and_comments_on_request(tmp_path):
    """--include-docstrings also matches docstrings and comment lines."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "test_x.py").write_text('"""Runs against http://localhost:8000."""\n# localhost:8081\n', encoding="utf-8")
    (root / "pytest.ini").write_text("# http://localhost:8002\n", encoding="utf-8")
    assert scan_rows(root) == set()
    assert {row[:3] for row in scan_rows(root, include_docstrings=True)} == {
        ("test_x.py", 1, ENDPOINT),
        ("test_x.py", 2, ENDPOINT),
        ("pytest.ini", 1, ENDPOINT),
    }


def test_accessor_option_and_setting(tmp_path):
    """Accessors come from [tool.layercfg] scan_accessors and --accessor; a malformed one is a usage error."""
    root = make_project(tmp_path / "p", pyproject="")
    read = (CONFTEST, 23)
    code, out, _ = invoke("--project-dir", str(root), "--format", "json", str(root / "tests"))
    assert read not in {(f["path"], f["line"]) for f in json.loads(out)["findings"]}
    code, out, _ = invoke("--project-dir", str(root), "--format", "json", "--accessor", "get_env().get", str(root))
    assert read in {(f["path"], f["line"]) for f in json.loads(out)["findings"]}
    code, out, err = invoke("--project-dir", str(root), "--accessor", "get_env(.get", str(root))
    assert (code, out) == (2, "")
    assert err.startswith("Error: accessor 'get_env(.get' is not a dotted call pattern")


def test_scan_accessors_setting_is_checked(tmp_path):
    """scan_accessors must be a list of strings; it reads back as a tuple."""
    (tmp_path / "pyproject.toml").write_text('[tool.layercfg]\nscan_accessors = ["env().get"]\n', encoding="utf-8")
    assert find_project(tmp_path).scan_accessors == ("env().get",)
    (tmp_path / "pyproject.toml").write_text('[tool.layercfg]\nscan_accessors = "env().get"\n', encoding="utf-8")
    with pytest.raises(ProjectError, match="scan_accessors must be a list of strings"):
        find_project(tmp_path)


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        pytest.param(None, ["missing-dir"], "Error: missing-dir: no such file or directory", id="missing path"),
        pytest.param(
            None,
            ["--select", "env.adhok"],
            "Error: --select: unknown check 'env.adhok'; did you mean env.adhoc?",
            id="unknown check",
        ),
        pytest.param(
            "not json", ["--baseline", "{base}"], "Error: --baseline {base}: not JSON", id="baseline not JSON"
        ),
        pytest.param(
            '{"findings": 3}',
            ["--baseline", "{base}"],
            "Error: --baseline {base}: not a layercfg scan baseline",
            id="not a baseline",
        ),
        pytest.param(
            "dir", ["--baseline", "{base}"], "Error: --baseline {base}: cannot read", id="baseline is a directory"
        ),
        pytest.param("bad pyproject", [], "Error: ", id="malformed pyproject.toml"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, setup, args, message):
    """Bad paths, checks, baselines or project files: exit 2 and one `Error:` line, never a traceback."""
    root = tmp_path / "p"
    root.mkdir()
    base = tmp_path / "base.json"
    if setup == "dir":
        base.mkdir()
    elif setup == "bad pyproject":
        (root / "pyproject.toml").write_text("[tool.layercfg\n", encoding="utf-8")
    elif setup is not None:
        base.write_text(setup, encoding="utf-8")
    monkeypatch.chdir(root)  # so the relative missing path is looked up here, not in the caller's cwd
    args = [arg.format(base=base) for arg in args]
    code, out, err = invoke("--project-dir", str(root), *args)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err.startswith(message.format(base=base))


def test_unparsable_python_is_matched_line_by_line(tmp_path):
    """A file that is not valid Python still has its endpoints found, with a note saying why."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "test_old.py").write_text('print "http://localhost:8000"\n', encoding="utf-8")
    result = run_scan([str(root)], project_dir=root, jobs=1)
    assert [(f.line, f.field) for f in result.findings] == [(1, "backend_url")]
    assert any(note.startswith("test_old.py:1: cannot parse") for note in result.notes)


def test_own_schema_and_profiles(tmp_path):
    """A project's own profile and compose service are what the scan compares with."""
    root = tmp_path / "p"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "mine.toml").write_text(
        '[profile]\ndescription = "mine"\n[values]\nbackend_url = "http://localhost:9100"\n', encoding="utf-8"
    )
    (root / "test_x.py").write_text('URL = "http://localhost:9100/api"\n', encoding="utf-8")
    [finding] = run_scan([str(root)], project_dir=root, jobs=1).findings
    assert (finding.field, dict(finding.profile_values)["mine"]) == ("backend_url", "http://localhost:9100")
    assert "is on backend_url of profile mine" in finding.message


def test_scan_command_never_imports_docker(proj):
    """`layercfg scan` stays away from the docker SDK (and Docker), like every command that needs no engine."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from layercfg.cli import main\n"
        f"result = CliRunner().invoke(main, ['scan', '--project-dir', {str(proj)!r}, {str(proj)!r}])\n"
        "print(result.exit_code, 'docker' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split() == ["1", "False"], done.stderr
