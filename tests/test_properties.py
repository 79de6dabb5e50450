"""Invariants, checked with Hypothesis over generated layers and values."""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layercfg import TestEnvConfig, load
from layercfg._model.fieldtable import schema_info
from layercfg._views.render import explain_dict, explain_text, show_dict, show_text

INFO = schema_info(TestEnvConfig, "NETRA_")
INT_FIELDS = ["max_retries"]
FLOAT_FIELDS = ["docker_startup_timeout", "connection_timeout", "event_timeout", "probe_timeout"]

values = st.integers(min_value=0, max_value=10_000)
layer = st.dictionaries(st.sampled_from(INT_FIELDS + FLOAT_FIELDS), values, max_size=5)
names_of = {name: INFO.fields[name].names for name in INT_FIELDS + FLOAT_FIELDS}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(env=layer, overrides=layer, alias_pick=st.integers(min_value=0, max_value=3))
def test_winner_value_is_config_value(project, env, overrides, alias_pick):
    """For every field, the receipt's winning value is exactly the config's value."""
    environ = {}
    for name, value in env.items():
        names = names_of[name]
        environ[names[alias_pick % len(names)]] = str(value)
    loaded = load(project_dir=project.root, environ=environ, overrides=overrides)
    for name, trace in loaded.trace.fields.items():
        assert trace.winner.value == trace.value
        if name in INFO.attributes:  # engine and service settings live in the receipt only
            assert getattr(loaded.config, name) == trace.value


@SETTINGS
@given(base=layer, higher=layer)
def test_layer_not_mentioning_a_field_never_changes_it(project, base, higher):
    """Adding an override layer changes only the fields it sets."""
    environ = {INFO.fields[name].env: str(value) for name, value in base.items()}
    before = load(project_dir=project.root, environ=environ).config
    after = load(project_dir=project.root, environ=environ, overrides=higher).config
    for name in INFO.attributes:
        if name not in higher:
            assert getattr(after, name) == getattr(before, name), name
        else:
            assert getattr(after, name) == type(getattr(before, name))(higher[name])


# The marker keeps a generated secret from being a word of ordinary output ("warnin" is in "warning").
secret_text = st.text(alphabet=string.ascii_letters + string.digits + "!@#%^&*-_=+.", min_size=1, max_size=30).map(
    lambda text: "zq§" + text
)


@SETTINGS
@given(secret=secret_text, via=st.sampled_from(["TEST_USER_PASSWORD", "NETRA_TEST_USER_PASSWORD"]))
def test_secret_never_in_any_output(project, secret, via):
    """A secret value, set under any of its names, appears in no rendering of the receipt or the config."""
    environ = {
        via: secret,
        "TEST_USER_PASSWORD" if via.startswith("NETRA") else "NETRA_TEST_USER_PASSWORD": secret + "x",
    }
    loaded = load(project_dir=project.root, environ=environ)
    field = loaded.trace["test_user_password"]
    outputs = [
        repr(loaded.config),
        explain_text(field, loaded.trace),
        json.dumps(explain_dict(field, loaded.trace)),
        show_text(loaded.trace),
        json.dumps(show_dict(loaded.trace)),
    ]
    for output in outputs:
        assert secret not in output
    assert secret in explain_text(field, loaded.trace, show_secrets=True)
