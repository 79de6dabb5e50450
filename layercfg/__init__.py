"""layercfg: one typed answer to "where is the backend?", with a receipt for every value.

``import layercfg`` is cheap and has no side effects: it reads no file and no
environment variable, and imports neither dynaconf, docker nor click. Names are
loaded from their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .exceptions import (
    ConfigError,
    ConversionError,
    LayercfgError,
    ProfileError,
    ServiceTimeoutError,
    SourceError,
    StackError,
    UnknownFieldError,
    UnknownProfileError,
)

if TYPE_CHECKING:
    from ._explainer import explain_failure
    from ._lifecycle import StackReport, up
    from ._load import Loaded, Trace, explain, load, load_config, provenance
    from ._model.provenance import Candidate, FieldTrace, LayerKind, Notice, Origin, Status
    from ._model.schema import Derivation, Service, Setting, setting
    from ._testenv import TestEnvConfig, websocket_url_from
    from .testing import wait_for_service, wait_for_service_async

__all__ = [
    "Candidate",
    "ConfigError",
    "ConversionError",
    "Derivation",
    "FieldTrace",
    "LayerKind",
    "LayercfgError",
    "Loaded",
    "Notice",
    "Origin",
    "ProfileError",
    "Service",
    "ServiceTimeoutError",
    "Setting",
    "SourceError",
    "StackError",
    "StackReport",
    "Status",
    "TestEnvConfig",
    "Trace",
    "UnknownFieldError",
    "UnknownProfileError",
    "explain",
    "explain_failure",
    "load",
    "load_config",
    "provenance",
    "setting",
    "up",
    "wait_for_service",
    "wait_for_service_async",
    "websocket_url_from",
]

_LAZY = {
    "Loaded": "._load",
    "explain": "._load",
    "explain_failure": "._explainer",
    "StackReport": "._lifecycle",
    "up": "._lifecycle",
    "load": "._load",
    "load_config": "._load",
    "provenance": "._load",
    "Candidate": "._model.provenance",
    "FieldTrace": "._model.provenance",
    "LayerKind": "._model.provenance",
    "Notice": "._model.provenance",
    "Origin": "._model.provenance",
    "Status": "._model.provenance",
    "Trace": "._load",
    "Derivation": "._model.schema",
    "Service": "._model.schema",
    "Setting": "._model.schema",
    "setting": "._model.schema",
    "TestEnvConfig": "._testenv",
    "websocket_url_from": "._testenv",
    "wait_for_service": ".testing",
    "wait_for_service_async": ".testing",
}

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'layercfg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
