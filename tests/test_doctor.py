"""layercfg doctor: stable check ids, severities, locations, exit status, and no secrets in findings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import NETRA, NO_DOCKER, Project
from servers import LocalService, closed_port

from layercfg._doctor import run_doctor


def checks(findings, check):
    return [f for f in findings if f.check == check]


@pytest.fixture
def netra(tmp_path: Path) -> Path:
    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    return root


def test_real_netra_files(netra):
    """On the real netra files, doctor finds the env file's stale Dockerfile paths and the renamed services."""
    findings = run_doctor(profile="alpine-test", project_dir=str(netra), environ=NO_DOCKER, probe=False)
    assert not checks(findings, "compose.dockerfile-missing")  # every build: entry resolves
    stale = checks(findings, "env.dockerfile-missing")
    assert (stale[0].location, stale[0].message) == (
        "config/.env.alpine-test:15",
        "BACKEND_DOCKERFILE=./docker/backend.alpine.Dockerfile names docker/backend.alpine.Dockerfile, which does "
        "not exist; found dockerfiles/backend.alpine.Dockerfile",
    )
    renamed = checks(findings, "compose.service-renamed")
    assert renamed[0].message.startswith("backend: no compose service is named 'backend' ('backend' is only its alias)")
    assert checks(findings, "docker.unreachable")[0].severity == "warning"
    assert not [f for f in findings if f.severity == "error"]


def test_dev_compose_builds_resolve_from_parent_context(netra):
    """docker-compose.yml's context '..' + './dockerfiles/x' resolves to the real Dockerfiles."""
    findings = run_doctor(profile="docker", project_dir=str(netra), environ=NO_DOCKER, probe=False)
    assert not checks(findings, "compose.dockerfile-missing")
    assert checks(findings, "compose.found")[0].location == "docker/docker-compose.yml"
    assert checks(findings, "compose.service-found")[0].message == (
        "backend is compose service dev-backend (alias 'backend') in docker/docker-compose.yml"
    )


def test_dockerfile_missing_is_an_error_with_the_fix(project: Project, run_cli):
    """A dockerfile resolved against the wrong context is an error naming both paths and where the file is."""
    project.write("dockerfiles/backend.staging.Dockerfile", "FROM scratch\n")
    project.write(
        "docker/docker-compose.staging.yml",
        """
        services:
          backend:
            image: x
            build:
              context: .
              dockerfile: dockerfiles/backend.staging.Dockerfile
            ports:
              - "8002:8000"
        """,
    )
    result = run_cli(
        "doctor",
        "--json",
        "--no-probe",
        "--compose-file",
        "docker/docker-compose.staging.yml",
        env=NO_DOCKER,
        cwd=project.root,
    )
    data = json.loads(result.stdout)
    assert (result.returncode, data["ok"]) == (1, False)
    [finding] = [f for f in data["findings"] if f["check"] == "compose.dockerfile-missing"]
    assert finding == {
        "check": "compose.dockerfile-missing",
        "severity": "error",
        "message": "service backend: dockerfile dockerfiles/backend.staging.Dockerfile resolves to "
        "docker/dockerfiles/backend.staging.Dockerfile (context '.' is relative to docker/), which does not exist; "
        "found dockerfiles/backend.staging.Dockerfile",
        "location": "docker/docker-compose.staging.yml:6",
    }
    fixed = run_cli(
        "doctor",
        "--json",
        "--no-probe",
        "--compose-file",
        "docker/docker-compose.staging.yml",
        "--project-directory",
        ".",
        env=NO_DOCKER,
        cwd=project.root,
    )
    assert fixed.returncode == 0, fixed.stdout


def test_moved_compose_file_is_found_and_named(project: Project):
    """Seed 544: asked for ./docker-compose.alpine-test.yml, found docker/...: a warning saying where."""
    shutil.copy(NETRA / "docker" / "docker-compose.alpine-test.yml", project.write("docker/.keep", "").parent)
    project.profile(
        "p", '[profile]\nextends = "docker"\n[values]\ncompose_files = ["docker-compose.alpine-test.yml"]\n'
    )
    findings = run_doctor(profile="p", project_dir=str(project.root), environ=NO_DOCKER, probe=False)
    [moved] = checks(findings, "compose.moved")
    assert moved.message == (
        "compose file docker-compose.alpine-test.yml (compose_files, set by profile p at profiles/p.toml:4) is not "
        "there; found docker/docker-compose.alpine-test.yml instead (point compose_files at "
        "docker/docker-compose.alpine-test.yml)"
    )


def test_missing_compose_file_is_an_error(project: Project):
    """A compose file that is nowhere is an error listing where it was looked for."""
    findings = run_doctor(profile="docker", project_dir=str(project.root), environ=NO_DOCKER, probe=False)
    [missing] = checks(findings, "compose.missing")
    assert missing.severity == "error"
    assert "searched docker/docker-compose.yml, docker-compose.yml" in missing.message


def test_expected_service_not_defined(project: Project):
    """Seed 315: the profile expects `backend`, the compose file defines dev-*: a warning listing what exists."""
    project.write("docker-compose.yml", "services:\n  dev-backend:\n    image: x\n  dev-auth:\n    image: y\n")
    project.profile(
        "p",
        '[profile]\nextends = "docker"\n[values]\ncompose_files = ["docker-compose.yml"]\n'
        '[services.backend]\nnames = ["backend"]\n',
    )
    findings = run_doctor(profile="p", project_dir=str(project.root), environ=NO_DOCKER, probe=False)
    [missing] = [f for f in checks(findings, "compose.service-missing") if f.severity == "warning"]
    assert missing.message == (
        "backend: none of backend is a service, container name or alias in the compose files "
        "(they define dev-auth, dev-backend); set [services.backend] names in a profile "
        "(or NETRA_BACKEND_SERVICE_NAMES)"
    )
    notes = {f.message.split(":")[0] for f in checks(findings, "compose.service-missing") if f.severity == "info"}
    assert notes == {"frontend", "postgres", "redis", "clickhouse"}


def test_port_conflict_with_compose_declaration(netra):
    """A URL whose port differs from the compose declaration is reported with the declaring line."""
    env = {**NO_DOCKER, "NETRA_BACKEND_URL": "http://localhost:8000"}
    findings = run_doctor(profile="alpine-test", project_dir=str(netra), environ=env, probe=False)
    [conflict] = checks(findings, "port.conflict")
    assert (conflict.location, conflict.message) == (
        "docker/docker-compose.alpine-test.yml:171",
        "NETRA_BACKEND_URL points at localhost:8000 but compose service alpine-test-backend declares "
        "${ALPINE_TEST_BACKEND_PORT:-8002}:8000 (ALPINE_TEST_BACKEND_PORT=8002 from config/.env.alpine-test:52)",
    )


def test_secrets_never_in_findings(project: Project):
    """A secret that disagrees between names, or sits in a compose environment block, never appears."""
    project.write(
        "docker-compose.yml",
        "services:\n  backend:\n    image: x\n    environment:\n      JWT_SECRET_KEY: hunter2-compose\n"
        "    ports:\n      - '8000:8000'\n",
    )
    project.profile("p", '[profile]\nextends = "docker"\n[values]\ncompose_files = ["docker-compose.yml"]\n')
    env = {**NO_DOCKER, "TEST_USER_PASSWORD": "hunter2-legacy", "NETRA_TEST_USER_PASSWORD": "hunter2-canonical"}
    findings = run_doctor(profile="p", project_dir=str(project.root), environ=env, probe=False)
    text = json.dumps([f.as_dict() for f in findings])
    assert "hunter2" not in text
    assert "TEST_USER_PASSWORD=<secret> disagrees" in text


def test_unknown_profile_and_malformed_profile(project: Project, run_cli):
    """An unknown profile or malformed TOML is an error finding with its location, exit 1, no traceback."""
    result = run_cli("doctor", "--profile", "nope", env=NO_DOCKER, cwd=project.root)
    assert result.returncode == 1
    assert result.stdout.startswith("error  profile.invalid  unknown profile 'nope'")
    project.profile("bad", "[values]\nmax_retries = = 1\n")
    data = json.loads(run_cli("doctor", "--json", "--profile", "bad", env=NO_DOCKER, cwd=project.root).stdout)
    assert data["findings"][0] == {
        "check": "profile.invalid",
        "severity": "error",
        "message": "malformed TOML: Invalid value (column 15)",
        "location": "profiles/bad.toml:2",
    }


def test_endpoint_probes(project: Project):
    """doctor probes each endpoint: a live backend is reachable, a dead auth service is not, with its origin."""
    with LocalService() as backend:
        env = {
            **NO_DOCKER,
            "NETRA_BACKEND_URL": backend.base_url,
            "NETRA_AUTH_URL": f"http://127.0.0.1:{closed_port()}",
            "NETRA_FRONTEND_URL": f"http://127.0.0.1:{closed_port()}",
        }
        findings = run_doctor(profile="local", project_dir=str(project.root), environ=env)
        base_url = backend.base_url
    reachable = [f.message for f in checks(findings, "endpoint.reachable")]
    unreachable = [f.message for f in checks(findings, "endpoint.unreachable")]
    assert any(m.startswith(f"backend_url: {base_url}/health up") for m in reachable)
    assert any(
        m.startswith("auth_url: http://127.0.0.1:")
        and "refused" in m
        and "(set by environment: env NETRA_AUTH_URL)" in m
        for m in unreachable
    )


def test_two_services_publishing_one_host_port(project: Project):
    """Two compose services publishing 8002 are an error naming both lines."""
    project.write(
        "docker-compose.yml",
        'services:\n  backend:\n    ports: ["8002:8000"]\n  frontend:\n    ports: ["8002:3000"]\n',
    )
    project.profile("p", '[values]\ncompose_files = ["docker-compose.yml"]\n')
    findings = run_doctor(profile="p", project_dir=str(project.root), environ=NO_DOCKER, probe=False)
    [duplicate] = checks(findings, "port.duplicate")
    assert (duplicate.severity, duplicate.location, duplicate.message) == (
        "error",
        "docker-compose.yml:5",
        "compose services backend (docker-compose.yml:3) and frontend both publish host port 8002/tcp: "
        "only one of them can start",
    )


BROKEN_BUILD = """
services:
  backend:
    image: x
    build:
      context: .
      dockerfile: dockerfiles/missing.Dockerfile
    ports:
      - "8002:8000"
"""


def test_ignore_accepts_a_known_finding(project: Project, run_cli):
    """--ignore CHECK (or doctor_ignore in [tool.layercfg]) sets a finding apart: listed, never failing."""
    project.write("docker/docker-compose.yml", BROKEN_BUILD)
    args = ("doctor", "--no-probe", "--compose-file", "docker/docker-compose.yml")
    failing = run_cli(*args, env=NO_DOCKER, cwd=project.root)
    assert failing.returncode == 1
    assert "compose.dockerfile-missing" in failing.stdout

    accepted = run_cli(*args, "--ignore", "compose.dockerfile-missing", env=NO_DOCKER, cwd=project.root)
    assert accepted.returncode == 0, accepted.stdout
    assert "error  compose.dockerfile-missing" not in accepted.stdout
    assert accepted.stdout.splitlines()[-1].endswith(
        "; 1 accepted (compose.dockerfile-missing: --ignore / doctor_ignore)"
    )
    data = json.loads(
        run_cli(*args, "--json", "--ignore", "x,compose.dockerfile-missing", env=NO_DOCKER, cwd=project.root).stdout
    )
    assert data["ok"] is True
    assert [f["check"] for f in data["ignored"]] == ["compose.dockerfile-missing"]
    assert "compose.dockerfile-missing" not in [f["check"] for f in data["findings"]]

    project.write("pyproject.toml", '[tool.layercfg]\ndoctor_ignore = ["compose.dockerfile-missing"]\n')
    configured = run_cli(*args, env=NO_DOCKER, cwd=project.root)
    assert configured.returncode == 0, configured.stdout
