"""The precedence table: every source in order, lowest first, and the resolution steps after them.

This table *is* the precedence: :func:`layercfg._load.resolve` iterates it, ``layercfg
precedence`` prints it, and docs/precedence.md is checked against it. A source is one small
function from a :class:`LoadContext` to the layers it contributes; adding one (say, a remote
store) means one module with that function and one entry here.

A *deferred* source reads settings resolved from the other sources (discovery needs
``compose_files`` and each service's names): the stack is merged once with its place kept,
and its layers are put in that place afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import attrs

from ._model.provenance import Layer, LayerKind, SourceKind
from ._sources.env import (
    EnvFile,
    default_layer,
    env_file_layer,
    environment_layer,
    legacy_environment_layer,
    override_layer,
    read_env_file,
)
from ._sources.files import exists
from .exceptions import LayercfgError, UnreadableFileError

if TYPE_CHECKING:
    from ._model.fieldtable import SchemaInfo
    from ._sources.discovery import DiscoveryReport
    from ._sources.profiles import Profile
    from ._sources.project import ProjectSettings


@attrs.define
class LoadContext:
    """What a source may read, and where it reports what it found (one per load)."""

    project: ProjectSettings
    info: SchemaInfo
    environ: Mapping[str, str]
    profiles: Sequence[Profile]
    overrides: Mapping[str, object] | None = None
    override_source: str = "load_config(overrides=...)"
    # Filled in by the sources:
    env_files: list[EnvFile] = attrs.Factory(list)
    warnings: list[str] = attrs.Factory(list)
    errors: list[LayercfgError] = attrs.Factory(list)
    discovery: DiscoveryReport | None = None
    # For deferred sources: a setting's value as the other sources resolve it (None when unset or invalid).
    setting: Callable[[str], object] = lambda _name: None


class Source(NamedTuple):
    """One entry of the precedence table."""

    kind: LayerKind | SourceKind
    read: Callable[[LoadContext], Sequence[Layer]]
    deferred: bool = False

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def summary(self) -> str:
        return self.kind.summary


class Step(NamedTuple):
    """A resolution step after the merge: it computes values from the sources' winners."""

    label: str
    summary: str


def defaults(context: LoadContext) -> Sequence[Layer]:
    return [default_layer(context.info)]


def profiles(context: LoadContext) -> Sequence[Layer]:
    from ._sources.profiles import profile_layer

    return [profile_layer(profile) for profile in context.profiles]


def env_files(context: LoadContext) -> Sequence[Layer]:
    """The env files the active profiles name, in order; a missing optional one is a note."""
    layers = []
    project = context.project
    for profile in context.profiles:
        for ref in profile.env_files:
            path = project.project_dir / ref.path
            display = project.relative(path)
            try:
                env_file = read_env_file(path, display, context.environ)
            except UnreadableFileError as exc:
                if ref.required or exists(path):
                    context.errors.append(exc)
                else:
                    context.warnings.append(
                        f"env file {display} named by profile {ref.profile} ({ref.location}) "
                        "does not exist; skipped (it is optional)"
                    )
                continue
            except LayercfgError as exc:
                context.errors.append(exc)
                continue
            layers.append(env_file_layer(env_file, context.info))
            context.env_files.append(env_file)
            context.warnings.extend(env_file.warnings)
    return layers


def discovery(context: LoadContext) -> Sequence[Layer]:
    """Compose declarations, then running containers; imported only when discovery is on."""
    if context.setting("discovery") in (None, "off"):
        return []
    from ._sources.discovery import discovery_settings, run_discovery

    settings = discovery_settings(context.setting, context.info)
    layers, report, errors = run_discovery(settings, context.project, context.environ, context.env_files)
    context.discovery = report
    context.warnings.extend(report.notes)
    context.errors.extend(errors)
    return layers


def legacy_environment(context: LoadContext) -> Sequence[Layer]:
    return [legacy_environment_layer(context.environ, context.info)]


def environment(context: LoadContext) -> Sequence[Layer]:
    return [environment_layer(context.environ, context.info)]


def overrides(context: LoadContext) -> Sequence[Layer]:
    if not context.overrides:
        return []
    return [override_layer(context.overrides, context.info, context.override_source)]


# Values from it are environment values (their receipts say so); only their rank differs.
LEGACY_ENVIRONMENT = SourceKind(
    "legacy-env",
    "legacy names of endpoints in the environment (TEST_BACKEND_URL, DOCKER_BACKEND_PORT): below what runs",
)

SOURCES: tuple[Source, ...] = (
    Source(LayerKind.DEFAULT, defaults),
    Source(LayerKind.PROFILE, profiles),
    Source(LayerKind.ENV_FILE, env_files),
    Source(LEGACY_ENVIRONMENT, legacy_environment),
    Source(LayerKind.DISCOVERY, discovery, deferred=True),
    Source(LayerKind.ENVIRONMENT, environment),
    Source(LayerKind.OVERRIDE, overrides),
)

STEPS: tuple[Step, ...] = (
    Step("endpoints", "a service's URL and its host, port and credentials agree: a part set higher joins the URL"),
    Step(LayerKind.DERIVED.label, LayerKind.DERIVED.summary),
    Step(LayerKind.FALLBACK.label, LayerKind.FALLBACK.summary),
)

# Tiers order candidates of different fields by precedence: each source gets its own range,
# so a deferred source's layers fit in its place after the merge.
TIER_STRIDE = 1000


def tier(source_index: int, layer_index: int) -> int:
    return source_index * TIER_STRIDE + layer_index
