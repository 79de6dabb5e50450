"""Errors are data: one ExceptionGroup per failed load, each error with its field, all picklable."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import Project

from layercfg import ConfigError, ConversionError, load
from layercfg.exceptions import DiscoveryError, LayercfgError, UnknownKeyError


def failing_load(root: str) -> None:
    load(profile="p", project_dir=root, environ={"NETRA_MAX_RETRIES": "many"})


@pytest.fixture
def broken(project: Project) -> Project:
    """A profile with an unknown key and a bad value; the environment adds another bad value."""
    project.profile("p", '[values]\nbackend_ulr = "http://x:1"\ndocker_timeout = "soon"\n')
    return project


def test_every_error_names_its_field(broken: Project):
    """Each collected error carries .field; the group holds them all."""
    with pytest.raises(ConfigError) as caught:
        load(profile="p", project_dir=broken.root, environ={"NETRA_MAX_RETRIES": "many"})
    fields = sorted((type(e).__name__, e.field) for e in caught.value.errors)
    assert fields == [
        ("ConversionError", "docker_timeout"),
        ("ConversionError", "max_retries"),
        ("UnknownKeyError", "backend_ulr"),
    ]
    assert caught.value.exceptions == caught.value.errors


def test_except_star_picks_one_kind(broken: Project):
    """except* ConversionError takes the conversion errors and leaves the rest in the group."""
    handled: list[Exception] = []

    def load_handling_bad_values() -> None:
        try:
            load(profile="p", project_dir=broken.root, environ={"NETRA_MAX_RETRIES": "many"})
        except* ConversionError as group:
            handled.extend(group.exceptions)

    with pytest.raises(ExceptionGroup) as rest:
        load_handling_bad_values()
    assert sorted(e.field for e in handled if isinstance(e, LayercfgError)) == ["docker_timeout", "max_retries"]
    assert [type(e) for e in rest.value.exceptions] == [UnknownKeyError]


def test_errors_without_a_field_say_so(project: Project):
    """A malformed profile concerns no single field: .field is None."""
    project.profile("p", "[values\n")
    with pytest.raises(ConfigError) as caught:
        load(profile="p", project_dir=project.root, environ={})
    assert [e.field for e in caught.value.errors] == [None]


def test_required_discovery_error_has_field():
    """DiscoveryError carries the URL field it could not fill."""
    assert DiscoveryError("x", field="database_url").field == "database_url"


def test_errors_pickle(broken: Project):
    """A ConfigError survives pickling whole: message, members and their fields."""
    with pytest.raises(ConfigError) as caught:
        load(profile="p", project_dir=broken.root, environ={"NETRA_MAX_RETRIES": "many"})
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), [(type(e), e.field, str(e)) for e in copy.errors]) == (
        str(caught.value),
        [(type(e), e.field, str(e)) for e in caught.value.errors],
    )


def test_failed_load_in_a_process_pool_reaches_the_parent(broken: Project):
    """A load that fails in a worker process raises the same ConfigError in the parent, not BrokenProcessPool."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(failing_load, str(broken.root))
        with pytest.raises(ConfigError, match="max_retries: expected count"):
            future.result(timeout=60)
