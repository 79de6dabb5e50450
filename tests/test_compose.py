"""Tests for layercfg._sources.compose: compose files with line numbers, builds and file search."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from layercfg._sources.compose import (
    BuildResolution,
    BuildSpec,
    ComposeFile,
    ComposeService,
    FoundComposeFile,
    PortMapping,
    find_compose_file,
    load_compose_file,
    resolve_build,
)
from layercfg._sources.interpolate import Interpolated, VariableUse
from layercfg.exceptions import MalformedFileError, UnreadableFileError

NETRA = Path(__file__).parent / "fixtures" / "netra"
ALPINE = NETRA / "docker" / "docker-compose.alpine-test.yml"
DEV = NETRA / "docker" / "docker-compose.yml"
DOCKERFILES = NETRA / "dockerfiles"


def unset(name: str) -> str | None:
    return None


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def port_file(tmp_path: Path, item: str) -> Path:
    """A compose file whose one service `web` declares the port list item *item* on line 4."""
    return write(tmp_path / "compose.yml", f"services:\n  web:\n    ports:\n      - {item}\n")


def mapping(path: Path, text: str, **fields: object) -> PortMapping:
    values: dict[str, object] = {
        "service": "web",
        "text": text,
        "interpolated": None,
        "host_ip": None,
        "host_port": None,
        "container_port": 0,
        "protocol": "tcp",
        "path": path,
        "line": 4,
    }
    values.update(fields)
    return PortMapping(**values)  # type: ignore[arg-type]


# --- the real netra files -------------------------------------------------------------------


def test_alpine_backend_service_with_defaults() -> None:
    """The alpine-test backend reads back whole: name, alias, build, and port 8002 from its default."""
    services = load_compose_file(ALPINE, unset).services
    backend = services["alpine-test-backend"]
    expression = "${ALPINE_TEST_BACKEND_PORT:-8002}"
    assert backend == ComposeService(
        name="alpine-test-backend",
        container_name="alpine-test-backend",
        aliases=("backend",),
        ports=(
            PortMapping(
                service="alpine-test-backend",
                text=f"{expression}:8000",
                interpolated=Interpolated(
                    "8002:8000", (VariableUse("ALPINE_TEST_BACKEND_PORT", None, True, expression),)
                ),
                host_ip=None,
                host_port=8002,
                container_port=8000,
                protocol="tcp",
                path=ALPINE,
                line=171,
            ),
        ),
        build=BuildSpec(
            service="alpine-test-backend",
            context_text=".",
            dockerfile_text="../dockerfiles/backend.alpine.Dockerfile",
            path=ALPINE,
            line=139,
            dockerfile_line=141,
        ),
        path=ALPINE,
        line=132,
        environment_keys=backend.environment_keys,
    )
    assert backend.environment_keys[:3] == ("ENVIRONMENT", "LOG_LEVEL", "POSTGRES_HOST")
    assert "FERNET_KEY" in backend.environment_keys


def test_alpine_backend_port_follows_variable() -> None:
    """With ALPINE_TEST_BACKEND_PORT=9999 the backend publishes host port 9999, not the default."""
    compose = load_compose_file(ALPINE, {"ALPINE_TEST_BACKEND_PORT": "9999"}.get)
    (port,) = compose.services["alpine-test-backend"].ports
    assert (port.host_port, port.container_port, port.line) == (9999, 8000, 171)
    assert port.interpolated == Interpolated(
        "9999:8000",
        (VariableUse("ALPINE_TEST_BACKEND_PORT", "9999", False, "${ALPINE_TEST_BACKEND_PORT:-8002}"),),
    )


def test_alpine_auth_port() -> None:
    """The alpine-test auth service publishes 8083 -> 8081, declared on line 225."""
    auth = load_compose_file(ALPINE, unset).services["alpine-test-auth"]
    assert [(p.host_port, p.container_port, p.line) for p in auth.ports] == [(8083, 8081, 225)]
    assert (auth.container_name, auth.aliases) == ("alpine-test-auth", ("auth",))


def test_alpine_file_services_in_order_without_warnings() -> None:
    """The alpine-test file lists its services in file order and reads without warnings."""
    compose = load_compose_file(ALPINE, unset)
    assert list(compose.services) == [
        "alpine-test-postgres",
        "alpine-test-redis",
        "alpine-test-clickhouse",
        "alpine-test-migration",
        "alpine-test-backend",
        "alpine-test-auth",
        "alpine-test-frontend",
    ]
    assert (compose.path, compose.warnings) == (ALPINE, ())


def test_dev_backend_and_auth() -> None:
    """The dev compose file gives dev-backend (alias backend, 8000 -> 8000) and dev-auth."""
    compose = load_compose_file(DEV, unset)
    backend, auth = compose.services["dev-backend"], compose.services["dev-auth"]
    assert (backend.container_name, backend.aliases, backend.line) == ("dev-backend", ("backend",), 189)
    assert [(p.host_port, p.container_port, p.line) for p in backend.ports] == [(8000, 8000, 250)]
    assert (auth.container_name, auth.aliases) == ("dev-auth", ("auth",))
    assert [(p.host_port, p.container_port, p.line) for p in auth.ports] == [(8081, 8081, 164)]
    assert compose.warnings == ()


def test_environment_values_are_not_kept() -> None:
    """Environment entries keep their names only, so secrets in the file never reach a ComposeService."""
    compose = load_compose_file(DEV, unset)
    assert "dev-jwt-secret-key" not in repr(compose)
    assert "JWT_SECRET_KEY" in compose.services["dev-backend"].environment_keys


@pytest.mark.parametrize("compose_path", [ALPINE, DEV], ids=["alpine-test", "dev"])
def test_netra_builds_resolve_to_existing_dockerfiles(compose_path: Path) -> None:
    """Every build of the netra files resolves (context `.` or `..`) to a Dockerfile that exists."""
    builds = [s.build for s in load_compose_file(compose_path, unset).services.values() if s.build]
    assert len(builds) >= 3
    for build in builds:
        resolution = resolve_build(build, compose_path.parent, NETRA)
        expected = (DOCKERFILES / Path(build.dockerfile_text or "").name).absolute()
        assert resolution == BuildResolution(
            spec=build,
            context=resolution.context,
            dockerfile=expected,
            context_exists=True,
            dockerfile_exists=True,
            suggestion=None,
        )
        assert resolution.context in {(NETRA / "docker").absolute(), NETRA.absolute()}


# --- build resolution ------------------------------------------------------------------------


def staging_project(root: Path) -> Path:
    """A project whose staging compose file moved into docker/ but kept root-relative Dockerfile paths."""
    write(root / "dockerfiles" / "backend.staging.Dockerfile", "FROM scratch\n")
    return write(
        root / "docker" / "docker-compose.staging.yml",
        """
        services:
          backend:
            build:
              context: .
              dockerfile: dockerfiles/backend.staging.Dockerfile
        """,
    )


def test_moved_compose_file_gets_dockerfile_suggestion(tmp_path: Path) -> None:
    """A Dockerfile missing relative to the context is suggested where the same path exists from the root."""
    compose_path = staging_project(tmp_path)
    build = load_compose_file(compose_path, unset).services["backend"].build
    assert build == BuildSpec("backend", ".", "dockerfiles/backend.staging.Dockerfile", compose_path, 3, 5)
    assert resolve_build(build, compose_path.parent, tmp_path) == BuildResolution(
        spec=build,
        context=tmp_path / "docker",
        dockerfile=tmp_path / "docker" / "dockerfiles" / "backend.staging.Dockerfile",
        context_exists=True,
        dockerfile_exists=False,
        suggestion=tmp_path / "dockerfiles" / "backend.staging.Dockerfile",
    )


def test_suggestion_by_file_name_in_dockerfiles_dir(tmp_path: Path) -> None:
    """When the relative path exists nowhere, a file of the same name in a dockerfiles/ dir is suggested."""
    write(tmp_path / "build" / "dockerfiles" / "api.Dockerfile", "")
    write(tmp_path / "deep" / "er" / "docker" / "api.Dockerfile", "")
    write(tmp_path / "elsewhere" / "api.Dockerfile", "")
    spec = BuildSpec("api", ".", "files/api.Dockerfile", tmp_path / "compose.yml", 1, 2)
    resolution = resolve_build(spec, tmp_path, tmp_path)
    assert resolution.suggestion == tmp_path / "build" / "dockerfiles" / "api.Dockerfile"


def test_no_suggestion_when_nothing_matches(tmp_path: Path) -> None:
    """A Dockerfile that exists nowhere under the search root gets no suggestion."""
    write(tmp_path / "dockerfiles" / "other.Dockerfile", "")
    spec = BuildSpec("api", "app", None, tmp_path / "compose.yml", 1, None)
    assert resolve_build(spec, tmp_path, tmp_path) == BuildResolution(
        spec=spec,
        context=tmp_path / "app",
        dockerfile=tmp_path / "app" / "Dockerfile",
        context_exists=False,
        dockerfile_exists=False,
        suggestion=None,
    )


def test_absolute_paths_stay_absolute(tmp_path: Path) -> None:
    """An absolute context and an absolute Dockerfile are used as written."""
    dockerfile = write(tmp_path / "abs" / "x.Dockerfile", "")
    spec = BuildSpec("api", str(tmp_path / "ctx"), str(dockerfile), tmp_path / "c.yml", 1, 2)
    resolution = resolve_build(spec, tmp_path / "elsewhere", tmp_path)
    assert (resolution.context, resolution.dockerfile, resolution.dockerfile_exists) == (
        tmp_path / "ctx",
        dockerfile,
        True,
    )


def test_build_short_syntax_and_default_context(tmp_path: Path) -> None:
    """`build: ./app` is a context with no Dockerfile; a build mapping without context defaults to `.`."""
    path = write(
        tmp_path / "compose.yml",
        """
        services:
          a:
            build: ./${APP_DIR:-app}
          b:
            build:
              dockerfile: B.Dockerfile
        """,
    )
    services = load_compose_file(path, unset).services
    assert services["a"].build == BuildSpec("a", "./app", None, path, 3, None)
    assert services["b"].build == BuildSpec("b", ".", "B.Dockerfile", path, 5, 6)


# --- finding compose files -------------------------------------------------------------------


def test_find_compose_file_moved_to_docker_dir() -> None:
    """A compose file asked for in the project root but kept in docker/ is found there, marked moved."""
    found = find_compose_file("docker-compose.alpine-test.yml", NETRA)
    assert found == FoundComposeFile(
        requested="docker-compose.alpine-test.yml",
        path=ALPINE.absolute(),
        moved=True,
        searched=(NETRA.absolute() / "docker-compose.alpine-test.yml", ALPINE.absolute()),
    )


def test_find_compose_file_where_requested() -> None:
    """A compose file that is where the profile says is found there and not marked moved."""
    found = find_compose_file("docker/docker-compose.yml", NETRA)
    assert found == FoundComposeFile("docker/docker-compose.yml", DEV.absolute(), False, (DEV.absolute(),))


def test_find_compose_file_nowhere(tmp_path: Path) -> None:
    """A compose file that exists nowhere gives path None and lists every place searched."""
    found = find_compose_file("ci/compose.yml", tmp_path, search_dirs=(".", "docker"))
    assert found == FoundComposeFile(
        "ci/compose.yml",
        None,
        False,
        (tmp_path / "ci" / "compose.yml", tmp_path / "compose.yml", tmp_path / "docker" / "compose.yml"),
    )


# --- file-level errors -----------------------------------------------------------------------


def test_malformed_yaml_names_path_and_line(tmp_path: Path) -> None:
    """A YAML syntax error is a MalformedFileError located at PATH:LINE."""
    path = write(tmp_path / "compose.yml", "services:\n  web:\n    ports: [\n      - 80\n")
    with pytest.raises(MalformedFileError, match="invalid YAML") as info:
        load_compose_file(path, unset)
    assert info.value.location is not None
    assert info.value.location.startswith(f"{path}:")
    assert str(info.value).startswith(f"{info.value.location}: ")


def test_malformed_yaml_line_is_the_bad_line(tmp_path: Path) -> None:
    """A tab-indented line is reported at its own line number."""
    path = write(tmp_path / "compose.yml", "services:\n  web:\n\timage: x\n")
    with pytest.raises(MalformedFileError) as info:
        load_compose_file(path, unset)
    assert info.value.location == f"{path}:3"


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    """A compose file that does not exist is an UnreadableFileError naming the path."""
    path = tmp_path / "nope.yml"
    with pytest.raises(UnreadableFileError, match="does not exist") as info:
        load_compose_file(path, unset)
    assert info.value.location == str(path)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    """A directory given as a compose file is an UnreadableFileError naming the path."""
    with pytest.raises(UnreadableFileError, match="is a directory") as info:
        load_compose_file(tmp_path, unset)
    assert info.value.location == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        pytest.param("", "must be a mapping", None, id="empty file"),
        pytest.param("- a\n- b\n", "must be a mapping", 1, id="top-level list"),
        pytest.param("networks: {}\n", "no 'services' key", None, id="no services"),
        pytest.param("version: '3'\nservices: [a]\n", "'services' must be a mapping", 2, id="services list"),
    ],
)
def test_wrong_shape_is_malformed(tmp_path: Path, text: str, message: str, line: int | None) -> None:
    """A file that is not a mapping with a `services` mapping is a MalformedFileError."""
    path = write(tmp_path / "compose.yml", text)
    with pytest.raises(MalformedFileError, match=message) as info:
        load_compose_file(path, unset)
    assert info.value.location == (f"{path}:{line}" if line else str(path))


# --- short port syntax, one test per form ------------------------------------------------------


def test_short_container_port_only(tmp_path: Path) -> None:
    """`"8000"` exposes container port 8000 on a host port Docker chooses."""
    path = port_file(tmp_path, '"8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "8000", container_port=8000),
    )


def test_short_integer_item(tmp_path: Path) -> None:
    """An unquoted integer item is a container port, like its string form."""
    path = port_file(tmp_path, "8000")
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "8000", container_port=8000),
    )


def test_short_host_and_container(tmp_path: Path) -> None:
    """`"8002:8000"` publishes container port 8000 on host port 8002."""
    path = port_file(tmp_path, '"8002:8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "8002:8000", host_port=8002, container_port=8000),
    )


def test_short_unquoted_pair_is_not_base_60(tmp_path: Path) -> None:
    """Unquoted `80:80` is a port pair, as compose's YAML 1.2 reads it, not YAML 1.1's base-60 4880."""
    path = port_file(tmp_path, "80:80")
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "80:80", host_port=80, container_port=80),
    )


def test_short_with_host_ip(tmp_path: Path) -> None:
    """`"127.0.0.1:8002:8000"` binds the host port to one IPv4 address."""
    path = port_file(tmp_path, '"127.0.0.1:8002:8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "127.0.0.1:8002:8000", host_ip="127.0.0.1", host_port=8002, container_port=8000),
    )


def test_short_with_protocol(tmp_path: Path) -> None:
    """`"8002:8000/udp"` publishes a UDP port."""
    path = port_file(tmp_path, '"8002:8000/udp"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "8002:8000/udp", host_port=8002, container_port=8000, protocol="udp"),
    )


def test_short_with_bracketed_ipv6(tmp_path: Path) -> None:
    """`"[::1]:8002:8000"` binds the host port to an IPv6 address given in brackets."""
    path = port_file(tmp_path, '"[::1]:8002:8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "[::1]:8002:8000", host_ip="::1", host_port=8002, container_port=8000),
    )


def test_short_with_unbracketed_ipv6(tmp_path: Path) -> None:
    """`"::1:8002:8000"` takes the last two fields as ports and the rest as the IPv6 address."""
    path = port_file(tmp_path, '"::1:8002:8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "::1:8002:8000", host_ip="::1", host_port=8002, container_port=8000),
    )


def test_short_with_ip_and_no_host_port(tmp_path: Path) -> None:
    """`"127.0.0.1::8000"` binds to an address on a host port Docker chooses."""
    path = port_file(tmp_path, '"127.0.0.1::8000"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "127.0.0.1::8000", host_ip="127.0.0.1", container_port=8000),
    )


def test_short_host_port_zero_is_ephemeral(tmp_path: Path) -> None:
    """`"0:8000"` (what `"${API_PORT:-0}:8000"` gives) lets Docker pick the host port: no warning."""
    path = port_file(tmp_path, '"0:8000"')
    compose = load_compose_file(path, unset)
    assert compose.services["web"].ports == (mapping(path, "0:8000", container_port=8000),)
    assert compose.warnings == ()


def test_long_published_zero_is_ephemeral(tmp_path: Path) -> None:
    """`published: 0` in the long syntax is the same: a host port Docker picks."""
    path = write(
        tmp_path / "compose.yml",
        "services:\n  web:\n    image: x\n    ports:\n      - target: 8000\n        published: 0\n",
    )
    compose = load_compose_file(path, unset)
    assert [(p.host_port, p.container_port) for p in compose.services["web"].ports] == [(None, 8000)]
    assert compose.warnings == ()


def test_short_equal_ranges_expand(tmp_path: Path) -> None:
    """`"9000-9002:9000-9002"` is one fixed mapping per port, all from the same line."""
    path = port_file(tmp_path, '"9000-9002:9000-9002"')
    text = "9000-9002:9000-9002"
    assert load_compose_file(path, unset).services["web"].ports == tuple(
        mapping(path, text, host_port=port, container_port=port) for port in (9000, 9001, 9002)
    )


def test_short_host_range_for_one_port(tmp_path: Path) -> None:
    """`"9000-9005:80"` lets Docker pick the host port from a range, so it is not fixed."""
    path = port_file(tmp_path, '"9000-9005:80"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "9000-9005:80", container_port=80),
    )


def test_short_container_range_only(tmp_path: Path) -> None:
    """`"3000-3001"` exposes each container port of the range on a host port Docker chooses."""
    path = port_file(tmp_path, '"3000-3001"')
    assert load_compose_file(path, unset).services["web"].ports == (
        mapping(path, "3000-3001", container_port=3000),
        mapping(path, "3000-3001", container_port=3001),
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param('"http:8000"', "host port 'http' is not a port number", id="name"),
        pytest.param('"70000:80"', "host port '70000' is not a port number", id="too large"),
        pytest.param('"9000-9002:80-81"', "differ in length", id="uneven ranges"),
        pytest.param('"8000/icmp"', "protocol 'icmp' is not one of", id="protocol"),
        pytest.param('"[::1:80:80"', "never closed", id="unclosed bracket"),
        pytest.param('"9002-9000:80"', "ends before it starts", id="reversed range"),
    ],
)
def test_invalid_short_port_is_a_warning(tmp_path: Path, item: str, message: str) -> None:
    """An unparseable port is skipped with a warning located at PATH:LINE."""
    path = port_file(tmp_path, item)
    compose = load_compose_file(path, unset)
    assert compose.services["web"].ports == ()
    (warning,) = compose.warnings
    assert warning.startswith(f"{path}:4: service 'web': port ")
    assert message in warning


def test_required_variable_in_port_is_a_warning(tmp_path: Path) -> None:
    """A failing `${VAR:?msg}` in a port skips that mapping with a PATH:LINE warning; parsing continues."""
    path = write(
        tmp_path / "compose.yml",
        """
        services:
          web:
            ports:
              - "${WEB_PORT:?set WEB_PORT first}:80"
              - "8443:443"
        """,
    )
    compose = load_compose_file(path, unset)
    assert compose.services["web"].ports == (
        mapping(path, "8443:443", host_port=8443, container_port=443, line=5),
    )
    assert compose.warnings == (
        f"{path}:4: service 'web': port '${{WEB_PORT:?set WEB_PORT first}}:80' ignored: "
        "required variable WEB_PORT is unset: set WEB_PORT first",
    )


# --- long port syntax ------------------------------------------------------------------------


def test_long_port_syntax(tmp_path: Path) -> None:
    """Long syntax reads target, published (string or int), host_ip and protocol; the line is published's."""
    path = write(
        tmp_path / "compose.yml",
        """
        services:
          web:
            ports:
              - target: 8000
                published: "${WEB_PORT:-8002}"
                host_ip: 127.0.0.1
                protocol: UDP
              - target: 443
                published: 8443
              - target: 9000
              - target: 80
                published: "8080-8090"
                host_ip: "::1"
        """,
    )
    compose = load_compose_file(path, unset)
    expression = "${WEB_PORT:-8002}"
    assert compose.services["web"].ports == (
        mapping(
            path,
            expression,
            interpolated=Interpolated("8002", (VariableUse("WEB_PORT", None, True, expression),)),
            host_ip="127.0.0.1",
            host_port=8002,
            container_port=8000,
            protocol="udp",
            line=5,
        ),
        mapping(path, "8443", host_port=8443, container_port=443, line=9),
        mapping(path, "9000", container_port=9000, line=10),
        mapping(path, "8080-8090", host_ip="::1", container_port=80, line=12),
    )
    assert compose.warnings == ()


def test_long_port_without_target_is_a_warning(tmp_path: Path) -> None:
    """A long-syntax port without `target` is skipped with a warning."""
    path = port_file(tmp_path, "{published: 8000}")
    compose = load_compose_file(path, unset)
    assert compose.services["web"].ports == ()
    assert compose.warnings == (f"{path}:4: service 'web': a port in long syntax needs 'target'; ignored",)


# --- the rest of a service -------------------------------------------------------------------


def test_service_fields_and_merge_keys(tmp_path: Path) -> None:
    """container_name and aliases are interpolated, environment lists give names, and `<<` merges apply."""
    path = write(
        tmp_path / "compose.yml",
        """
        x-common: &common
          environment:
            - SHARED=1
            - BARE
          networks:
            default:
              aliases: [common]
        services:
          api:
            <<: *common
            container_name: ${PREFIX:-test}-api
            networks:
              default:
                aliases: ["${ALIAS:-backend}", backend]
              other:
                aliases:
                  - api
              plain:
        """,
    )
    api = load_compose_file(path, unset).services["api"]
    assert api == ComposeService(
        name="api",
        container_name="test-api",
        aliases=("backend", "api"),
        ports=(),
        build=None,
        path=path,
        line=9,
        environment_keys=("SHARED", "BARE"),
    )


def test_service_that_is_not_a_mapping_is_a_warning(tmp_path: Path) -> None:
    """A service defined as something other than a mapping is skipped with a warning; others still load."""
    path = write(tmp_path / "compose.yml", "services:\n  broken: oops\n  fine:\n    image: x\n")
    compose = load_compose_file(path, unset)
    assert compose == ComposeFile(
        path=path,
        services={"fine": ComposeService("fine", None, (), (), None, path, 3, ())},
        warnings=(f"{path}:2: service 'broken': a service definition must be a mapping; service ignored",),
    )


def test_bad_container_name_interpolation_is_a_warning(tmp_path: Path) -> None:
    """A container_name that fails to interpolate is left None with a warning naming the line."""
    path = write(tmp_path / "compose.yml", "services:\n  web:\n    container_name: ${NAME\n")
    compose = load_compose_file(path, unset)
    assert compose.services["web"].container_name is None
    (warning,) = compose.warnings
    assert warning.startswith(f"{path}:3: service 'web': container_name '${{NAME' ignored: unterminated")
