"""When a test cannot reach a service: the failure explainer, the skip ledger and the run receipt.

Inner pytest runs (pytester, in subprocesses) against real sockets on 127.0.0.1: a healthy
LocalService, closed ports, a port that accepts and closes at once, and one that never answers.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator

import pytest
from conftest import NO_DOCKER
from servers import LocalService, ReplyingListener, SilentListener, closed_port

pytest_plugins = ["pytester"]
TIMEOUT = 120
WHY = "layercfg: why this connection failed"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from layercfg import TestEnvConfig
    from layercfg._model.fieldtable import schema_info

    for name in (set(schema_info(TestEnvConfig, "NETRA_").by_env_name) | {"NETRA_PROFILE", "CI"}) & set(os.environ):
        monkeypatch.delenv(name)
    for name, value in NO_DOCKER.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def service() -> Iterator[LocalService]:
    with LocalService() as running:
        yield running


def project(pytester: pytest.Pytester, backend_url: str, test: str) -> None:
    pytester.makepyprojecttoml('[tool.layercfg]\nschema = "layercfg:TestEnvConfig"\n')
    pytester.mkdir("profiles")
    (pytester.path / "profiles" / "p.toml").write_text(
        f'[values]\nbackend_url = "{backend_url}"\nprobe_timeout = 0.5\n', encoding="utf-8"
    )
    pytester.makepyfile(textwrap.dedent(test))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--layercfg-profile", "p", *args, timeout=TIMEOUT)


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the explainer's section in the output (empty when there is none)."""
    lines = result.outlines
    starts = [i for i, line in enumerate(lines) if WHY in line]
    if not starts:
        return []
    body = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith(("---", "===", "___")):
            break
        body.append(line)
    return body


CLIENTS = {
    "requests": """
        import requests

        def test_backend(layercfg_config):
            requests.get(layercfg_config.backend_url + "/health", timeout=2)
        """,
    "urllib": """
        import urllib.request

        def test_backend(layercfg_config):
            urllib.request.urlopen(layercfg_config.backend_url + "/health", timeout=2)
        """,
}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_legacy_variable_over_an_answering_profile_value_gets_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, service: LocalService, client: str
) -> None:
    """A refused connection to the URL a legacy variable set, while the profile's value answers: the
    section names the field, its receipt, the probes, and the fix."""
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("TEST_BACKEND_URL", dead)
    project(pytester, service.base_url, CLIENTS[client])
    result = run(pytester)
    result.assert_outcomes(failed=1)
    body = section(result)
    assert body, result.stdout.str()
    text = "\n".join(body)
    # requests names the URL it tried; urllib only the socket address (read from the failing frame).
    assert f"{dead}/health is backend_url" in text if client == "requests" else f"{dead} is backend_url" in text
    assert "set by env TEST_BACKEND_URL (legacy alias of NETRA_BACKEND_URL) (environment)" in text
    assert f"shadowed: {service.base_url} from profile p, profiles/p.toml:2 (profile)" in text
    assert f"probe now: {dead}/health refused connection in " in text
    assert f"{service.base_url}/health up (HTTP 200)" in text
    assert body[-1] == f"likely fix: unset TEST_BACKEND_URL, or set NETRA_BACKEND_URL={service.base_url}"


@pytest.mark.parametrize("failure", ["reset", "timeout"])
def test_reset_and_timed_out_connections_get_the_section(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """A connection closed at once and one that never answers are explained like a refused one."""
    server = ReplyingListener(reply=None) if failure == "reset" else SilentListener()
    with server:
        url = server.url()
        project(
            pytester,
            url,
            """
            import requests

            def test_backend(layercfg_config):
                requests.get(layercfg_config.backend_url + "/health", timeout=0.5)
            """,
        )
        result = run(pytester)
    result.assert_outcomes(failed=1)
    text = "\n".join(section(result))
    assert f"{url}/health is backend_url" in text
    assert "set by profile p, profiles/p.toml:2 (profile)" in text
    expected = "accepted and closed the connection" if failure == "reset" else "did not answer within"
    assert expected in text


def test_hard_coded_port_shadowed_by_the_resolved_one(pytester: pytest.Pytester, service: LocalService) -> None:
    """A test that hard-codes a value the config shadowed (the old default port) while the config resolved
    another: use the fixture."""
    old = f"http://127.0.0.1:{closed_port()}"  # the value a lower profile set, where nothing listens
    project(
        pytester,
        service.base_url,
        f"""
        import urllib.request

        def test_backend():
            urllib.request.urlopen("{old}/health", timeout=2)
        """,
    )
    (pytester.path / "profiles" / "old.toml").write_text(f'[values]\nbackend_url = "{old}"\n', encoding="utf-8")
    profile = (pytester.path / "profiles" / "p.toml").read_text(encoding="utf-8")
    (pytester.path / "profiles" / "p.toml").write_text('[profile]\nextends = "old"\n' + profile, encoding="utf-8")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    text = "\n".join(section(result))
    assert f"{old} is not what layercfg resolved: it is backend_url's shadowed value from" in text
    assert f"layercfg resolved backend_url = {service.base_url} (profile p, profiles/p.toml:4 (profile))" in text
    assert text.endswith(
        f"likely fix: the code does not use layercfg's value: use layercfg_config.backend_url "
        f"(backend_url = {service.base_url})"
    )


def test_unrelated_failures_get_no_section(pytester: pytest.Pytester, service: LocalService) -> None:
    """An assertion, and a refused connection to an address that is no service, get no section."""
    other = f"http://127.0.0.1:{closed_port()}"
    project(
        pytester,
        service.base_url,
        f"""
        import requests

        def test_assertion(layercfg_config):
            assert layercfg_config.max_retries == 99

        def test_not_a_service():
            requests.get("{other}/x", timeout=2)
        """,
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    assert WHY not in result.stdout.str()


MARKED = """
import pytest

@pytest.mark.requires_service("backend")
def test_one():
    pass

@pytest.mark.requires_service("backend")
def test_two():
    pass

def test_plain():
    pass
"""


def test_skip_ledger_summary_budget_and_receipt(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skips are counted per service in the summary; over the budget the run fails; the receipt has no secret."""
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("NETRA_TEST_USER_PASSWORD", "Hunter2-Secret")
    project(pytester, dead, MARKED)
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == 0  # no budget outside CI
    result.stdout.fnmatch_lines(
        [
            "*= layercfg: service summary =*",
            f"backend  {dead} (profile: profile p, profiles/p.toml:2)  down  0 tests, 2 skipped",
            f"         probe: {dead}/health refused connection in *",
            "receipt written to *run.json",
        ]
    )
    receipt = json.loads((pytester.path / ".layercfg" / "run.json").read_text())
    assert receipt["profiles"] == ["p"]
    assert receipt["fields"]["backend_url"]["value"] == dead
    assert receipt["services"]["backend"]["skipped"] == 2
    assert "Hunter2-Secret" not in (pytester.path / ".layercfg" / "run.json").read_text()
    assert receipt["fields"]["test_user_password"]["value"] == "<secret>"

    over = run(pytester, "-rs", "--layercfg-skip-budget", "1")
    over.assert_outcomes(passed=1, skipped=2)
    assert over.ret == 1
    over.stdout.fnmatch_lines(["2 requires_service skips exceed layercfg_skip_budget = 1: the run fails"])


def test_xdist_workers_report_to_one_ledger(pytester: pytest.Pytester, service: LocalService) -> None:
    """Under xdist the controller counts every worker's tests and writes the one receipt."""
    project(pytester, service.base_url, MARKED)
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"backend  {service.base_url} (profile: profile p, profiles/p.toml:2)  up  2 tests"])
    receipt = json.loads((pytester.path / ".layercfg" / "run.json").read_text())
    assert receipt["services"]["backend"]["ran"] == 2


def test_hard_coded_port_shadowed_by_a_discovered_container(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, docker_engine, run_container
) -> None:
    """Seed 847: the test hard-codes the declared port while discovery found the running container's:
    the section shows the discovered value and suggests the fixture."""
    import shutil

    from conftest import NETRA
    from docker_support import unique_name

    compose_project = unique_name("lcp")
    container = run_container(
        name=unique_name("alpine-test-backend"),
        labels={"com.docker.compose.service": "alpine-test-backend", "com.docker.compose.project": compose_project},
        ports={"8000/tcp": ("0.0.0.0", None)},
        command=[
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/health && exec busybox httpd -f -h /www -p 8000",
        ],
    )
    port = int(container.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    shutil.copytree(NETRA, pytester.path, dirs_exist_ok=True)
    pytester.makepyprojecttoml("[tool.layercfg]\n")
    closed = closed_port()
    pytester.makepyfile(
        f"""
        import urllib.request

        def test_chat(layercfg_config):
            urllib.request.urlopen("http://localhost:{closed}/health", timeout=2)
        """
    )
    monkeypatch.setenv("DOCKER_HOST", docker_engine.docker_host)
    monkeypatch.setenv("NETRA_COMPOSE_PROJECT", compose_project)
    monkeypatch.setenv(
        "ALPINE_TEST_BACKEND_PORT", str(closed)
    )  # what the compose file declares, and the test hard-codes
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--layercfg-profile", "alpine-test", timeout=TIMEOUT
    )
    result.assert_outcomes(failed=1)
    text = "\n".join(section(result))
    assert f"http://localhost:{closed} is not what layercfg resolved: it is backend_url's shadowed value" in text
    assert f"layercfg resolved backend_url = http://localhost:{port} (docker container {container.name}" in text
    assert f"http://localhost:{port}/health up (HTTP 200)" in text
    assert text.endswith(
        f"likely fix: the code does not use layercfg's value: use layercfg_config.backend_url "
        f"(backend_url = http://localhost:{port})"
    )


def test_library_call_explains_an_exception_or_an_address(tmp_path, service: LocalService) -> None:
    """Outside pytest: layercfg.explain_failure(exception or address, cfg); None for an unrelated error."""
    import urllib.request

    import layercfg

    dead = f"http://127.0.0.1:{closed_port()}"
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.toml").write_text(f'[values]\nbackend_url = "{service.base_url}"\n')
    environ = {**NO_DOCKER, "TEST_BACKEND_URL": dead, "NETRA_TEST_USER_PASSWORD": "Hunter2-Secret"}
    cfg = layercfg.load_config(profile="p", project_dir=tmp_path, environ=environ)
    with pytest.raises(OSError) as caught:
        urllib.request.urlopen(f"{cfg.backend_url}/health", timeout=2)
    text = layercfg.explain_failure(caught.value, cfg)
    assert text is not None
    assert text.splitlines()[-1] == f"likely fix: unset TEST_BACKEND_URL, or set NETRA_BACKEND_URL={service.base_url}"
    by_address = layercfg.explain_failure(dead.replace("http://", ""), cfg)
    assert by_address is not None
    assert by_address.startswith(f"{dead} is backend_url")  # the address names the field's value
    assert layercfg.explain_failure(ValueError("not a connection"), cfg) is None
    assert layercfg.explain_failure(f"http://127.0.0.1:{closed_port()}", cfg) is None
    assert "Hunter2-Secret" not in text


def test_diff_of_two_run_receipts(pytester: pytest.Pytester, service: LocalService, run_cli) -> None:
    """`layercfg diff --receipt A B` shows what changed between a red run and a green one."""
    dead = f"http://127.0.0.1:{closed_port()}"
    project(pytester, dead, MARKED)
    run(pytester, "--layercfg-receipt", "red.json").assert_outcomes(passed=1, skipped=2)
    (pytester.path / "profiles" / "p.toml").write_text(f'[values]\nbackend_url = "{service.base_url}"\n')
    run(pytester, "--layercfg-receipt", "green.json").assert_outcomes(passed=3)
    result = run_cli("diff", "--receipt", "red.json", "green.json", cwd=pytester.path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "backend_url"
    assert lines[1].split() == ["red.json", dead, "(profile:", "profiles/p.toml:2)"]
    assert "service backend" in lines
    assert any(line.strip().startswith("green.json") and f"{service.base_url} up:" in line for line in lines)
    bad = run_cli("diff", "--receipt", "red.json", "pyproject.toml", cwd=pytester.path)
    assert (bad.returncode, "Traceback" in bad.stderr) == (1, False)
    assert "pyproject.toml: not a run receipt" in bad.stderr
