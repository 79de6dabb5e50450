"""Profiles: extends chains, stacking, project overrides of built-ins, and every way a profile can be wrong."""

from __future__ import annotations

import os

import pytest

from layercfg import ConfigError, load
from layercfg._sources.profiles import key_lines
from layercfg.exceptions import ProfileCycleError, UnknownProfileError


def test_builtin_profiles_resolve_without_project_files(project):
    """pip install alone gives working profiles: each built-in resolves with its documented ports."""
    expected = {
        "local": ("http://localhost:8000", "http://localhost:8081"),
        "docker": ("http://localhost:8002", "http://localhost:8081"),
        "alpine-test": ("http://localhost:8002", "http://localhost:8083"),
        "staging-fallback": ("http://localhost:8000", "http://localhost:8081"),
    }
    got = {}
    for name in expected:
        cfg = load(profile=name, project_dir=project.root, environ={}).config
        got[name] = (cfg.backend_url, cfg.auth_url)
    assert got == expected


def test_alpine_test_extends_docker_extends_local(project):
    """alpine-test loads its chain parents first, and waits longer for a cold stack."""
    loaded = load(profile="alpine-test", project_dir=project.root, environ={})
    assert loaded.trace.profiles == ("local", "docker", "alpine-test")
    assert loaded.config.docker_startup_timeout == 300.0


def test_missing_optional_env_file_is_a_warning(project):
    """alpine-test's env file is optional: its absence is a receipt warning naming the profile line, not a crash."""
    loaded = load(profile="alpine-test", project_dir=project.root, environ={"NETRA_DISCOVERY": "off"})
    assert loaded.trace.warnings == (
        "env file config/.env.alpine-test named by profile alpine-test "
        "(<builtin>/profiles/alpine-test.toml:4) does not exist; skipped (it is optional)",
    )


def test_missing_required_env_file_is_an_error(project):
    """An env file the profile marks required must exist."""
    project.profile("p", '[profile]\nenv_files = [{path = "must.env", required = true}]\n')
    with pytest.raises(ConfigError, match=r"must.env: env file not found"):
        load(profile="p", project_dir=project.root, environ={})


def test_stacking_left_to_right(project):
    """NETRA_PROFILE=a,b applies b over a."""
    project.profile("a", "[values]\nmax_retries = 1\nevent_timeout = 5\n")
    project.profile("b", "[values]\nmax_retries = 2\n")
    cfg = load(project_dir=project.root, environ={"NETRA_PROFILE": "a, b"}).config
    assert (cfg.max_retries, cfg.event_timeout) == (2, 5.0)


def test_explicit_profile_beats_profile_variable(project):
    """--profile (the profile argument) wins over NETRA_PROFILE."""
    loaded = load(profile="docker", project_dir=project.root, environ={"NETRA_PROFILE": "alpine-test"})
    assert loaded.trace.profiles == ("local", "docker")


def test_project_profile_overrides_builtin_by_name(project):
    """A project's profiles/docker.toml replaces the built-in docker profile."""
    project.profile("docker", '[values]\nbackend_url = "http://localhost:8010"\n')
    loaded = load(profile="docker", project_dir=project.root, environ={})
    assert loaded.config.backend_url == "http://localhost:8010"
    assert loaded.trace["backend_url"].winner.origin.location == "profiles/docker.toml:2"


def test_unknown_profile_lists_available_and_suggests(project):
    """An unknown profile name is an error listing the available ones, with a did-you-mean."""
    with pytest.raises(UnknownProfileError) as info:
        load(profile="alpine", project_dir=project.root, environ={})
    assert str(info.value) == (
        "unknown profile 'alpine'; did you mean 'alpine-test'? "
        "(available: alpine-test, docker, local, staging-fallback)"
    )


def test_unknown_profile_in_extends_names_the_line(project):
    """extends naming a missing profile points at the extends line."""
    project.profile("p", '[profile]\ndescription = "x"\nextends = "dockr"\n')
    with pytest.raises(UnknownProfileError, match=r"^profiles/p.toml:3: unknown profile 'dockr'; did you mean"):
        load(profile="p", project_dir=project.root, environ={})


def test_cyclic_extends(project):
    """A cycle in extends is an error that shows the whole chain."""
    project.profile("a", '[profile]\nextends = "b"\n')
    project.profile("b", '[profile]\nextends = ["a"]\n')
    with pytest.raises(ProfileCycleError, match=r"profiles/b.toml:2: profile extends form a cycle: a -> b -> a"):
        load(profile="a", project_dir=project.root, environ={})


def test_unknown_key_names_file_line_and_suggestion(project):
    """A misspelt field in [values] is reported with file:line and the field it probably meant."""
    project.profile("p", '[values]\nbackend_url = "http://x:1"\nbackend_ulr = "http://y:2"\n')
    with pytest.raises(ConfigError) as info:
        load(profile="p", project_dir=project.root, environ={})
    assert str(info.value) == (
        "profiles/p.toml:3: unknown key 'backend_ulr' in [values] (not a field of TestEnvConfig); "
        "did you mean 'backend_url'?"
    )


def test_unknown_table_and_metadata_keys(project):
    """Unknown top-level tables and [profile] keys are errors with a suggestion too."""
    project.profile("p", "[value]\nx = 1\n")
    project.profile("q", '[profile]\nextend = "local"\n')
    with pytest.raises(ConfigError, match=r"profiles/p.toml:1: unknown key 'value' in the profile file; did you"):
        load(profile="p", project_dir=project.root, environ={})
    with pytest.raises(ConfigError, match=r"profiles/q.toml:2: unknown key 'extend' in \[profile\]; did you mean"):
        load(profile="q", project_dir=project.root, environ={})


def test_malformed_toml_names_file_and_line(project):
    """Malformed TOML is reported with the file and the line the parser stopped at."""
    project.profile("p", '[values]\nbackend_url = "http://x:1"\nmax_retries = = 3\n')
    with pytest.raises(ConfigError, match=r"^profiles/p.toml:3: malformed TOML: Invalid value \(column 15\)$"):
        load(profile="p", project_dir=project.root, environ={})


def test_dynaconf_tokens_are_not_evaluated(project):
    """A profile value like '@int 3' is text, not a dynaconf token: types come from the schema."""
    project.profile("p", '[values]\ntest_user_email = "@format {this.backend_url}"\n')
    cfg = load(profile="p", project_dir=project.root, environ={}).config
    assert cfg.test_user_email == "@format {this.backend_url}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_profile(project):
    """A profile file that cannot be read is an error naming it (not a traceback)."""
    path = project.profile("p", "[values]\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match=r"profiles/p.toml: cannot read profile: Permission denied"):
        load(profile="p", project_dir=project.root, environ={})


def test_profile_that_is_a_directory(project):
    """A profiles/x.toml that is a directory is reported as unreadable, by name (runs as root too)."""
    (project.root / "profiles" / "p.toml").mkdir()
    with pytest.raises(ConfigError, match=r"profiles/p.toml: cannot read profile: Is a directory"):
        load(profile="p", project_dir=project.root, environ={})


def test_env_file_that_is_not_utf8(project):
    """An env file with invalid bytes is reported by name."""
    project.profile("p", '[profile]\nenv_files = ["bad.env"]\n')
    (project.root / "bad.env").write_bytes(b"BACKEND_URL=\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bad.env: env file is not UTF-8 text"):
        load(profile="p", project_dir=project.root, environ={})


def test_errors_from_several_files_are_collected(project):
    """Problems in two profiles are reported together."""
    project.profile("a", "[values]\nnope = 1\n")
    project.profile("b", "[values]\nmax_retries = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load(profile="a,b", project_dir=project.root, environ={})
    assert len(info.value.errors) == 2


def test_key_lines_track_tables():
    """Line numbers are found per table, for bare and quoted keys."""
    text = '# c\n[profile]\nextends = "x"\n\n[values]\n"backend_url" = "a"\nmax_retries = [\n  1,\n]\n'
    assert key_lines(text) == {
        ("", "profile"): 2,
        ("profile", "extends"): 3,
        ("", "values"): 5,
        ("values", "backend_url"): 6,
        ("values", "max_retries"): 7,
    }


ENV_CI = """\
CI_BUILD_ID=${CI_BUILD_ID:-local}
NETRA_BACKEND_HOST=backend-${CI_BUILD_ID}
NETRA_TEST_USER_EMAIL=ci-${CI_BUILD_ID:-none}@example.test
NETRA_AUTH_URL='http://localhost:8081/${NOT_EXPANDED}'
NETRA_HEALTH_PATH="/${HEALTH_SEGMENT}"
"""


def test_env_file_expands_variables_with_a_receipt(project):
    """${VAR} and ${VAR:-default} expand from earlier lines, then the given environ; the receipt says which."""
    project.profile("ci", '[profile]\nenv_files = ["config/.env.ci"]\n')
    project.write("config/.env.ci", ENV_CI)
    before = dict(os.environ)
    unset = load(profile="ci", project_dir=project.root, environ={})
    assert unset.config.backend_host == "backend-local"
    assert unset.config.test_user_email == "ci-local@example.test"
    assert unset.config.auth_url == "http://localhost:8081/${NOT_EXPANDED}"  # single quotes stay literal
    assert unset.trace.fields["health_path"].value == "/"  # unset without a default: empty, and said
    email = unset.trace.fields["test_user_email"].winner.origin
    assert email.detail == "expanded: CI_BUILD_ID from this file"
    assert unset.trace.fields["health_path"].winner.origin.detail == "expanded: HEALTH_SEGMENT unset, empty"

    given = load(profile="ci", project_dir=project.root, environ={"CI_BUILD_ID": "4711", "HEALTH_SEGMENT": "hz"})
    assert given.config.backend_host == "backend-4711"
    assert given.trace.fields["health_path"].value == "/hz"
    assert given.trace.fields["health_path"].winner.origin.detail == "expanded: HEALTH_SEGMENT from environment"
    assert dict(os.environ) == before  # nothing written to the process environment


def test_env_file_expansion_default_applies_to_empty(project):
    """``:-`` takes the default when the variable is set but empty, as compose does."""
    project.profile("ci", '[profile]\nenv_files = ["config/.env.ci"]\n')
    project.write("config/.env.ci", "NETRA_BACKEND_HOST=${HOST_OF_CI:-fallback-host}\n")
    loaded = load(profile="ci", project_dir=project.root, environ={"HOST_OF_CI": ""})
    assert loaded.config.backend_host == "fallback-host"
    detail = loaded.trace.fields["backend_host"].winner.origin.detail
    assert detail == "expanded: HOST_OF_CI empty, default 'fallback-host'"
