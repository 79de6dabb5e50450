"""load(): the documented layer order, derived values, provenance and collected errors."""

from __future__ import annotations

import enum
from pathlib import Path

import attrs
import pytest
from conftest import NETRA, NO_DOCKER, Project

import layercfg
from layercfg import ConfigError, LayerKind, Status, load, load_config
from layercfg.exceptions import UnknownFieldError


@pytest.fixture
def stack(project: Project) -> Project:
    """A project whose profile `p` sets backend_url, and env file `.env.p` sets it too."""
    project.profile(
        "p",
        """
        [profile]
        env_files = ["config/.env.p"]
        [values]
        backend_url = "http://profile:1"
        websocket_path = "/socket"
        """,
    )
    return project


PRECEDENCE = [
    pytest.param({}, {}, None, "http://profile:1", LayerKind.PROFILE, id="profile beats default"),
    pytest.param(
        {"BACKEND_URL": "http://envfile:2"},
        {},
        None,
        "http://envfile:2",
        LayerKind.ENV_FILE,
        id="env-file beats profile",
    ),
    pytest.param(
        {"BACKEND_URL": "http://envfile:2"},
        {"BACKEND_URL": "http://env:3"},
        None,
        "http://env:3",
        LayerKind.ENVIRONMENT,
        id="env beats env-file",
    ),
    pytest.param(
        {}, {"NETRA_BACKEND_URL": "http://env:3"}, None, "http://env:3", LayerKind.ENVIRONMENT, id="env beats profile"
    ),
    pytest.param(
        {},
        {"NETRA_BACKEND_URL": "http://env:3"},
        {"backend_url": "http://set:4"},
        "http://set:4",
        LayerKind.OVERRIDE,
        id="override beats env",
    ),
    pytest.param(
        {},
        {"BACKEND_URL": "http://alias:5", "NETRA_BACKEND_URL": "http://canonical:6"},
        None,
        "http://canonical:6",
        LayerKind.ENVIRONMENT,
        id="canonical beats legacy alias",
    ),
    pytest.param(
        {},
        {"BACKEND_URL": "http://generic:7", "TEST_BACKEND_URL": "http://test:8"},
        None,
        "http://test:8",
        LayerKind.ENVIRONMENT,
        id="later alias beats earlier alias",
    ),
    pytest.param(
        {"BACKEND_URL": "http://alias:9", "NETRA_BACKEND_URL": "http://canonical:10"},
        {},
        None,
        "http://canonical:10",
        LayerKind.ENV_FILE,
        id="canonical beats alias inside an env file",
    ),
]


@pytest.mark.parametrize(("env_file", "environ", "overrides", "expected", "layer"), PRECEDENCE)
def test_precedence(stack, env_file, environ, overrides, expected, layer):
    """Each pair of layers resolves in the documented order, and the receipt names the winner's layer."""
    stack.write("config/.env.p", "".join(f"{k}={v}\n" for k, v in env_file.items()))
    loaded = load(profile="p", project_dir=stack.root, environ=environ, overrides=overrides)
    assert loaded.config.backend_url == expected
    assert loaded.trace["backend_url"].winner.origin.layer is layer


def test_default_only_when_nothing_else(project):
    """With no profile at all the schema default decides, and says so."""
    loaded = load(profile=[], project_dir=project.root, environ={})
    trace = loaded.trace["backend_url"]
    assert (loaded.config.backend_url, trace.winner.origin.layer, trace.winner.origin.source) == (
        "http://localhost:8000",
        LayerKind.DEFAULT,
        "schema default",
    )


def test_receipt_lists_every_candidate_highest_first(stack):
    """explain() shows the winner and every value it shadowed, highest precedence first, with locations."""
    stack.write("config/.env.p", "# comment\nTEST_BACKEND_URL=http://envfile:2\n")
    cfg = load_config(profile="p", project_dir=stack.root, environ={"NETRA_BACKEND_URL": "http://env:3"})
    trace = layercfg.explain(cfg, "backend_url")
    rows = [(c.origin.layer, c.origin.source, c.origin.location, c.raw, c.status) for c in trace.candidates]
    assert rows == [
        (LayerKind.ENVIRONMENT, "env NETRA_BACKEND_URL", None, "http://env:3", Status.WON),
        (
            LayerKind.ENV_FILE,
            "TEST_BACKEND_URL in config/.env.p",
            "config/.env.p:2",
            "http://envfile:2",
            Status.SHADOWED,
        ),
        (LayerKind.PROFILE, "profile p", "profiles/p.toml:4", "http://profile:1", Status.SHADOWED),
        (LayerKind.DEFAULT, "schema default", None, "http://localhost:8000", Status.SHADOWED),
    ]


def test_legacy_alias_warns_and_names_canonical(project):
    """A legacy alias that wins is reported with the canonical name to prefer."""
    loaded = load(profile="docker", project_dir=project.root, environ={"TEST_BACKEND_URL": "http://localhost:9000"})
    trace = loaded.trace["backend_url"]
    assert trace.winner.origin.detail == "legacy alias of NETRA_BACKEND_URL"
    assert trace.warnings == ("TEST_BACKEND_URL is a legacy name; prefer NETRA_BACKEND_URL",)


def test_disagreeing_aliases_are_both_named(project):
    """Two names for one field with different values give a warning naming both and the winner."""
    environ = {"BACKEND_URL": "http://a:1", "E2E_BACKEND_URL": "http://b:2"}
    trace = load(project_dir=project.root, environ=environ).trace["backend_url"]
    assert trace.value == "http://b:2"
    assert any("BACKEND_URL=http://a:1" in w and "E2E_BACKEND_URL=http://b:2" in w for w in trace.warnings)


def test_empty_variable_counts_as_unset(project):
    """BACKEND_URL= (empty, as in seed 847's scenario 1) never hides a lower layer."""
    loaded = load(profile="docker", project_dir=project.root, environ={"BACKEND_URL": ""})
    assert loaded.config.backend_url == "http://localhost:8002"


class TestDerived:
    """websocket_url follows backend_url and carries the precedence of its inputs."""

    def test_derived_follows_a_higher_backend_url(self, project):
        """A websocket_url from a profile does not survive a backend_url set higher up (no stale pair)."""
        project.profile("p", '[values]\nwebsocket_url = "ws://old:1/ws"\nbackend_url = "http://old:1"\n')
        loaded = load(profile="p", project_dir=project.root, environ={"NETRA_BACKEND_URL": "https://new:2"})
        trace = loaded.trace["websocket_url"]
        assert loaded.config.websocket_url == "wss://new:2/ws"
        assert trace.winner.origin.layer is LayerKind.DERIVED
        assert [name for name, _ in trace.lineage] == ["backend_url", "websocket_path"]
        assert "half-overridden pair" in trace.warnings[0]
        assert [c.raw for c in trace.candidates] == ["wss://new:2/ws", "ws://old:1/ws", "ws://localhost:8000/ws"]

    def test_explicit_websocket_url_at_same_layer_stands(self, project):
        """A websocket_url set by the same layer as backend_url is kept as written."""
        project.profile("p", '[values]\nbackend_url = "http://h:1"\nwebsocket_url = "ws://other:2/socket"\n')
        loaded = load(profile="p", project_dir=project.root, environ={})
        assert loaded.config.websocket_url == "ws://other:2/socket"
        assert loaded.trace["websocket_url"].warnings == ()

    def test_explicit_websocket_url_above_backend_stands(self, project):
        """A websocket_url from the environment beats a backend_url from a profile."""
        loaded = load(profile="docker", project_dir=project.root, environ={"WS_URL": "ws://ws:3/ws"})
        assert loaded.config.websocket_url == "ws://ws:3/ws"

    def test_websocket_path_joins(self, project):
        """websocket_path is joined to backend_url with exactly one slash."""
        loaded = load(project_dir=project.root, environ={"NETRA_BACKEND_URL": "http://h:1/", "WEBSOCKET_PATH": "x"})
        assert loaded.config.websocket_url == "ws://h:1/x"

    def test_staging_websocket_derives_from_staging_backend(self, project):
        """STAGING_BASE_URL alone gives a wss staging WebSocket URL."""
        loaded = load(project_dir=project.root, environ={"STAGING_BASE_URL": "https://staging.example.test"})
        assert loaded.config.staging_websocket_url == "wss://staging.example.test/ws"


class TestSeed847:
    """Issue #847's scenarios, as far as they apply without Docker discovery or fallback."""

    SCENARIO_1 = {"TEST_BACKEND_URL": "http://localhost:8000", "DOCKER_BACKEND_PORT": "8002", "BACKEND_URL": ""}

    def test_scenario_1_port_variable_beats_the_stale_legacy_url(self, project):
        """DOCKER_BACKEND_PORT=8002 (what Docker publishes) beats TEST_BACKEND_URL=...:8000 (a stale guess).

        Documented outcome (docs/precedence.md, docs/migration.md): with no engine the port variable
        wins, the legacy URL is shadowed and the disagreement is a warning naming both; with a
        running container its published port wins over both (test_discovery.py).
        """
        loaded = load(profile="docker", project_dir=project.root, environ={**self.SCENARIO_1, **NO_DOCKER})
        trace = loaded.trace["backend_url"]
        assert (loaded.config.backend_url, loaded.config.websocket_url) == (
            "http://localhost:8002",
            "ws://localhost:8002/ws",
        )
        assert [(c.origin.source, c.raw) for c in trace.candidates[:3]] == [
            ("env DOCKER_BACKEND_PORT", "http://localhost:8002"),
            ("env TEST_BACKEND_URL", "http://localhost:8000"),
            ("profile docker", "http://localhost:8002"),
        ]
        named = "TEST_BACKEND_URL=http://localhost:8000 and DOCKER_BACKEND_PORT=http://localhost:8002 disagree"
        assert any(w.startswith(named) for w in trace.warnings)

    def test_canonical_name_still_beats_discovery(self, project):
        """An explicit NETRA_BACKEND_URL stays above discovery: a choice, not a guess."""
        environ = {**self.SCENARIO_1, **NO_DOCKER, "NETRA_BACKEND_URL": "http://localhost:9100"}
        loaded = load(profile="docker", project_dir=project.root, environ=environ)
        assert loaded.config.backend_url == "http://localhost:9100"

    # Scenarios 2 and 3 need the fallback step: see test_fallback.py::TestSeed847.


class TestErrors:
    """Bad input is collected and reported with its source; other values are not mangled."""

    @pytest.mark.parametrize(
        ("environ", "message"),
        [
            pytest.param(
                {"NETRA_DOCKER_STARTUP_TIMEOUT": "abc"},
                "docker_startup_timeout: expected seconds (a number), got 'abc' (env NETRA_DOCKER_STARTUP_TIMEOUT)",
                id="seconds from env",
            ),
            pytest.param(
                {"MAX_RETRIES": "2.5"},
                "max_retries: expected count (a whole number), got '2.5' "
                "(env MAX_RETRIES (legacy alias of NETRA_MAX_RETRIES))",
                id="int from alias",
            ),
            pytest.param(
                {"NETRA_FALLBACK": "maybe"},
                "fallback: expected one of 'off', 'auto', 'force', got 'maybe' (env NETRA_FALLBACK)",
                id="choice",
            ),
            pytest.param(
                {"NETRA_BACKEND_URL": "localhost:8000"},
                "backend_url: expected a http or https URL (scheme://host[:port]), got 'localhost:8000'",
                id="url without scheme",
            ),
            pytest.param(
                {"NETRA_CONNECTION_TIMEOUT": "-1"}, "connection_timeout: expected at least 0", id="below minimum"
            ),
        ],
    )
    def test_wrong_type_from_environment(self, project, environ, message):
        """A value of the wrong type names the field, the value, what was expected and the variable."""
        with pytest.raises(ConfigError) as info:
            load(project_dir=project.root, environ=environ)
        assert message in str(info.value)

    def test_wrong_type_from_profile_names_file_and_line(self, project):
        """A TOML value of the wrong type is reported with its profile file and line."""
        project.profile("p", '[values]\nbackend_url = "http://x:1"\nmax_retries = "many"\n')
        with pytest.raises(
            ConfigError,
            match=r"max_retries: expected count \(a whole number\), got 'many' "
            r"\(profile p, profiles/p.toml:3\)",
        ):
            load(profile="p", project_dir=project.root, environ={})

    def test_wrong_type_from_env_file_names_file_and_line(self, project):
        """A bad value in a dotenv file is reported with the file, line and variable."""
        project.profile("p", '[profile]\nenv_files = ["e.env"]\n')
        project.write("e.env", "A=1\nDOCKER_STARTUP_TIMEOUT=soon\n")
        with pytest.raises(
            ConfigError,
            match=r"got 'soon' \(DOCKER_STARTUP_TIMEOUT in e.env \(legacy alias of "
            r"NETRA_DOCKER_STARTUP_TIMEOUT\), e.env:2\)",
        ):
            load(profile="p", project_dir=project.root, environ={})

    def test_wrong_type_from_override(self, project):
        """An override of the wrong type names the override source."""
        with pytest.raises(ConfigError, match=r"max_retries: .*got 'x' \(load_config\(overrides=...\)\)"):
            load(project_dir=project.root, environ={}, overrides={"max_retries": "x"})

    def test_every_error_is_collected(self, project):
        """Two bad values give one error listing both, not only the first."""
        environ = {"NETRA_MAX_RETRIES": "x", "NETRA_EVENT_TIMEOUT": "y"}
        with pytest.raises(ConfigError) as info:
            load(project_dir=project.root, environ=environ)
        assert [e.field for e in info.value.errors] == ["event_timeout", "max_retries"]

    def test_unknown_override_field_suggests(self, project):
        """An override of a field that does not exist says which one was meant."""
        with pytest.raises(UnknownFieldError, match="did you mean 'backend_url'"):
            load(project_dir=project.root, environ={}, overrides={"backend_ur": "x"})

    def test_secret_value_is_masked_in_errors(self, project):
        """A rejected secret value never appears in the error."""

        import attrs

        @attrs.frozen
        class WithSecret:
            port: int = layercfg.setting(1, secret=True)

        with pytest.raises(ConfigError) as info:
            load(WithSecret, project_dir=project.root, environ={"NETRA_PORT": "hunter2"})
        assert "hunter2" not in str(info.value)
        assert "<secret>" in str(info.value)


def test_provenance_without_reloading(project):
    """The receipt of a config is retrievable from the config itself, without loading again."""
    cfg = load_config(project_dir=project.root, environ={"NETRA_MAX_RETRIES": "7"})
    assert layercfg.provenance(cfg)["max_retries"].winner.origin.source == "env NETRA_MAX_RETRIES"
    assert layercfg.explain(cfg, "max_retries").value == 7


def test_equal_configs_keep_their_own_receipts(project):
    """Two equal configs loaded from different sources keep different receipts."""
    a = load_config(project_dir=project.root, environ={"NETRA_MAX_RETRIES": "3"})
    b = load_config(project_dir=project.root, environ={})
    assert a == b
    assert layercfg.explain(a, "max_retries").winner.origin.layer is LayerKind.ENVIRONMENT
    assert layercfg.explain(b, "max_retries").winner.origin.layer is LayerKind.DEFAULT


def test_foreign_config_has_no_receipt():
    """explain() on a config layercfg did not load says so instead of guessing."""
    with pytest.raises(layercfg.LayercfgError, match=r"not returned by layercfg\.load_config"):
        layercfg.explain(layercfg.TestEnvConfig(), "backend_url")


def test_config_is_plain_frozen_attrs(project):
    """The config is a frozen attrs value; the secret field's repr is masked."""
    import attrs

    cfg = load_config(project_dir=project.root, environ={"TEST_USER_PASSWORD": "pw-123"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cfg.backend_url = "x"
    assert "pw-123" not in repr(cfg)
    assert cfg.test_user_password == "pw-123"


def test_generic_schema_with_project_settings(tmp_path: Path):
    """A project names its own schema, prefix and profile variable in [tool.layercfg]."""
    root = tmp_path / "app"
    (root / "app_cfg").mkdir(parents=True)
    (root / "app_cfg" / "__init__.py").write_text(
        "import attrs\nimport layercfg\n\n@attrs.frozen\nclass AppConfig:\n"
        "    api_url: str = layercfg.setting('http://x:1', aliases=('OLD_API',), schemes=('http',))\n"
        "    workers: int = 1\n"
    )
    (root / "pyproject.toml").write_text(
        '[tool.layercfg]\nschema = "app_cfg:AppConfig"\nenv_prefix = "APP_"\nprofile_var = "APP_PROFILE"\n'
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "ci.toml").write_text("[values]\nworkers = 4\n")
    import sys

    sys.path.insert(0, str(root))
    try:
        loaded = load(project_dir=root, environ={"APP_PROFILE": "ci", "OLD_API": "http://y:2"})
    finally:
        sys.path.remove(str(root))
    assert (loaded.config.api_url, loaded.config.workers, loaded.trace.profiles) == ("http://y:2", 4, ("ci",))
    assert loaded.trace["api_url"].warnings == ("OLD_API is a legacy name; prefer APP_API_URL",)


def test_real_netra_files_resolve_with_alpine_test(tmp_path: Path):
    """The real alpine-test env file and compose file resolve: ports from compose, receipts name file:line."""
    import shutil

    root = tmp_path / "netra"
    shutil.copytree(NETRA, root)
    loaded = load(profile="alpine-test", project_dir=root, environ=NO_DOCKER)
    assert (loaded.config.backend_url, loaded.config.auth_url) == ("http://localhost:8002", "http://localhost:8083")
    assert "env-file config/.env.alpine-test" in loaded.trace.layers
    winner = loaded.trace["backend_url"].winner.origin
    assert (winner.layer, winner.source, winner.location) == (
        LayerKind.DISCOVERY,
        "compose service alpine-test-backend",
        "docker/docker-compose.alpine-test.yml:171",
    )
    assert winner.detail == (
        "${ALPINE_TEST_BACKEND_PORT:-8002}:8000; ALPINE_TEST_BACKEND_PORT=8002 from config/.env.alpine-test:52"
    )
    assert [w.split(" (")[0] for w in loaded.trace.warnings] == [
        f"docker: Docker socket {NO_DOCKER['DOCKER_HOST'][7:]} does not exist"
    ]


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@attrs.frozen
class ModeConfig:
    mode: Mode = Mode.FAST


def test_enum_field_with_enum_member_default(project):
    """A custom schema's Enum field whose default is a member loads, and takes members by value or name."""
    assert load_config(ModeConfig, profile=[], project_dir=project.root, environ={}).mode is Mode.FAST
    environ = {"NETRA_MODE": "slow"}
    assert load_config(ModeConfig, profile=[], project_dir=project.root, environ=environ).mode is Mode.SLOW


def test_field_without_a_type_says_so(project):
    """A schema made with attrs.make_class has untyped fields: the error says to annotate them."""
    schema = attrs.make_class("Untyped", {"x": layercfg.setting("a")}, frozen=True)
    with pytest.raises(ConfigError, match="x: the schema gives this field no type: declare it with an annotation"):
        load(schema, profile=[], project_dir=project.root, environ={})


def test_warnings_are_records_with_a_kind(project):
    """Each warning is a Notice with a kind and its facts; the renderer words it, and secrets never reach it."""
    environ = {"BACKEND_URL": "http://a:1", "E2E_BACKEND_URL": "http://b:2", "TEST_USER_PASSWORD": "pw-1"}
    environ["NETRA_TEST_USER_PASSWORD"] = "pw-2"
    loaded = load(profile=[], project_dir=project.root, environ=environ)
    notices = loaded.trace["backend_url"].notices
    assert [(n.kind, n.fact("won")) for n in notices if n.kind == "names-disagree"] == [
        ("names-disagree", "E2E_BACKEND_URL")
    ]
    assert [n.kind for n in notices] == ["legacy-name", "names-disagree"]
    assert loaded.trace["backend_url"].warnings == tuple(str(n) for n in notices)
    [disagree] = [n for n in loaded.trace["test_user_password"].notices if n.kind == "names-disagree"]
    assert (disagree.fact("lost_value"), disagree.fact("won_value")) == ("<secret>", "<secret>")
