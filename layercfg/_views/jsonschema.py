"""The JSON Schema of profile files for a schema (``layercfg schema``)."""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any

import attrs

from .._model.fieldtable import SchemaInfo
from .._model.schema import FieldSpec
from .._sources.profiles import CREDENTIAL_PARTS, ENDPOINT_KEYS, PROBES, PROFILE_KEYS, SERVICE_KEYS


def _type_schema(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        members = [_type_schema(arg) for arg in args if arg is not type(None)]
        return members[0] if len(members) == 1 else {"anyOf": members}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (tuple, list, frozenset):
        return {"type": "array", "items": _type_schema(args[0] if args else str)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp]}
    simple = {str: "string", Path: "string", bool: "boolean", int: "integer", float: "number"}
    return {"type": simple[tp]} if tp in simple else {}


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema = _type_schema(spec.type)
    if spec.help:
        schema["description"] = spec.help + (f" ({spec.unit})" if spec.unit else "")
    if spec.schemes:
        schema["format"] = "uri"
        schema["pattern"] = "^(" + "|".join(spec.schemes) + ")://"
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.default is not attrs.NOTHING and spec.default is not None and not spec.secret:
        default = spec.default
        schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


def profile_json_schema(info: SchemaInfo) -> dict[str, Any]:
    env_file = {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {"path": {"type": "string"}, "required": {"type": "boolean"}},
                "required": ["path"],
                "additionalProperties": False,
            },
        ]
    }
    names = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    profile = {
        "description": {"type": "string"},
        "extends": names,
        "env_files": {"oneOf": [env_file, {"type": "array", "items": env_file}]},
    }
    assert set(profile) == set(PROFILE_KEYS)
    port = {"type": "integer", "minimum": 1, "maximum": 65535}
    scheme = {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*$"}
    endpoint_keys: dict[str, Any] = {"container_port": port, "scheme": scheme}
    assert set(endpoint_keys) == set(ENDPOINT_KEYS)
    endpoint = {"type": "object", "additionalProperties": False, "properties": endpoint_keys}
    service_keys: dict[str, Any] = {
        "names": {"type": "array", "items": {"type": "string"}},
        "container_port": port,
        "scheme": scheme,
        "probe": {"enum": list(PROBES)},
        "health_path": {"type": "string"},
        "credentials": {
            "type": "object",
            "additionalProperties": False,
            "properties": {part: {"type": "string"} for part in CREDENTIAL_PARTS},
        },
        "endpoints": {"type": "object", "additionalProperties": endpoint},
    }
    assert set(service_keys) == set(SERVICE_KEYS)
    service = {"type": "object", "additionalProperties": False, "properties": service_keys}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"layercfg profile for {info.schema.__name__}",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "profile": {"type": "object", "additionalProperties": False, "properties": profile},
            "services": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                "additionalProperties": service,
            },
            "values": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: _field_schema(spec) for name, spec in info.fields.items() if "." not in name},
            },
        },
    }
