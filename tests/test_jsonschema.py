"""The published JSON Schema of profile files (``layercfg schema``) and the reader agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jsonschema
import pytest
from conftest import Project

from layercfg import ConfigError, LayercfgError, TestEnvConfig, load
from layercfg._model.fieldtable import schema_info
from layercfg._sources.profiles import builtin_profiles_dir
from layercfg._views.jsonschema import profile_json_schema

SCHEMA = profile_json_schema(schema_info(TestEnvConfig, "NETRA_"))


def test_schema_is_valid_json_schema():
    """The schema itself is a valid draft 2020-12 schema."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(builtin_profiles_dir().glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_profile_validates(path: Path):
    """Each built-in profile is valid against the published schema."""
    jsonschema.validate(tomllib.loads(path.read_text()), SCHEMA)


CASES = [
    pytest.param('[profile]\nenv_files = "config/.env.x"\n', True, id="env_files as one path"),
    pytest.param('[profile]\nenv_files = [{path = "a.env", required = false}]\n', True, id="env_files table"),
    pytest.param('[profile]\nenv_files = [{path = "a.env", optional = true}]\n', False, id="env_files unknown key"),
    pytest.param('[values]\nbackend_url = "http://x:1"\n', True, id="a value"),
    pytest.param('[values]\nbackend_ulr = "http://x:1"\n', False, id="unknown value"),
    pytest.param("[values]\nmax_retries = 2\n", True, id="integer"),
    pytest.param("[services.postgres]\nnames = ['db']\ncontainer_port = 5433\n", True, id="service settings"),
    pytest.param("[services.postgres]\ncontainer_prot = 1\n", False, id="unknown service key"),
    pytest.param("[services.postgres]\nprobe = 'icmp'\n", False, id="unknown probe"),
    pytest.param("[services.clickhouse.endpoints.native]\ncontainer_port = 9000\n", True, id="endpoint"),
    pytest.param("[services.x.endpoints.native]\nport = 9000\n", False, id="unknown endpoint key"),
    pytest.param("[services.db]\ncredentials = {user = 'PGUSER'}\n", True, id="credentials"),
    pytest.param("[services.db]\ncredentials = {token = 'X'}\n", False, id="unknown credential part"),
    pytest.param('[values]\n"postgres.names" = ["db"]\n', False, id="service setting under values"),
    pytest.param("[extra]\nx = 1\n", False, id="unknown table"),
]


@pytest.mark.parametrize(("text", "valid"), CASES)
def test_reader_accepts_what_the_schema_accepts(project: Project, text: str, valid: bool):
    """A profile loads exactly when it validates against the published schema."""
    project.profile("p", text)
    schema_says = jsonschema.Draft202012Validator(SCHEMA).is_valid(tomllib.loads(text))
    try:
        load(profile="p", project_dir=project.root, environ={})
        reader_says = True
    except (ConfigError, LayercfgError):
        reader_says = False
    assert (schema_says, reader_says) == (valid, valid)
