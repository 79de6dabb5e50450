"""The receipt of ``up``: one :class:`ServiceOutcome` per service, and the :class:`StackReport`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from .project import stop_recorded

if TYPE_CHECKING:
    from .._model.provenance import FieldTrace
    from ..exceptions import StackError
    from .compose_cli import Runner

MODES: Final = ("off", "reuse", "start", "start-and-stop")


@attrs.frozen
class ServiceOutcome:
    """What became of one compose service: the receipt of one decision."""

    service: str  # the compose service
    action: str  # "reused" | "started" | "not-running" | "failed"
    detail: str  # "running since 09:12:03, 8000/tcp -> 0.0.0.0:32768", "healthy after 2.1 s", ...
    container: str | None = None
    elapsed: float | None = None  # seconds until ready, for a started service
    requested: bool = True  # False: a dependency compose started for a requested service
    ports: tuple[str, ...] = ()

    def receipt(self) -> str:
        """One line: ``backend  started  healthy after 2.1 s``."""
        return f"{self.service:<22} {self.action:<10} {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "action": self.action,
            "detail": self.detail,
            "container": self.container,
            "elapsed": self.elapsed,
            "requested": self.requested,
            "ports": list(self.ports),
        }


@attrs.frozen
class StackReport:
    """The outcome of :func:`up`: what runs, what this run started, and how to stop that.

    ``with layercfg.up(...) as stack:`` stops what the run started on exit when the lifecycle is
    ``start-and-stop``; :meth:`stop` does it explicitly, whatever the lifecycle. ``config`` is a
    fresh load made after the stack came up (when :func:`up` loaded the config itself), so
    discovery reads the ports the containers really publish.
    """

    project: str
    compose: str  # "docker compose v2.40.3 (docker-compose on PATH)"
    engine: str  # "unix:///var/run/docker.sock"
    engine_source: str  # why that engine: "DOCKER_HOST=...", "found Docker Desktop's socket ..."
    files: tuple[str, ...]  # the compose files, as shown in receipts
    project_directory: str
    lifecycle: str  # the mode used
    lifecycle_source: str  # where it came from: "default", "env NETRA_LIFECYCLE", "up(lifecycle=...)"
    services: tuple[ServiceOutcome, ...]
    started: tuple[str, ...]  # compose services this run started (requested ones and dependencies)
    created: tuple[str, ...]  # of those, the ones whose containers this run created
    timeout: float  # docker_startup_timeout, the --wait-timeout
    elapsed: float
    notes: tuple[str, ...] = ()
    error: StackError | None = None  # a start that failed while staging fallback was on
    fallback_reason: str | None = None
    config: Any = None
    state_file: str | None = None
    _runner: Runner | None = attrs.field(default=None, repr=False, eq=False, alias="runner")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stops_at_end(self) -> bool:
        """True when the lifecycle says what this run started is stopped at its end."""
        return self.lifecycle == "start-and-stop"

    def stop(self) -> tuple[str, ...]:
        """Stop (and remove the containers of) what this run started, and only that; one receipt line each."""
        if self._runner is None or not self.started:
            return ("nothing to stop: this run started nothing",)
        return stop_recorded(self._runner, self.project, self.started, self.created, self.state_file)

    def endpoint(self) -> FieldTrace | None:
        """The receipt, in ``config``, of the first declared service's URL (the backend in the built-in
        schema): where the fresh load found it once the stack was up. None without a config."""
        if self.config is None:
            return None
        from .._load import provenance

        trace = provenance(self.config)
        if trace.info is None:
            return None
        name = next((service.main.url_field for service in trace.info.services.values()), None)
        return None if name is None else trace.fields[name]

    def __enter__(self) -> StackReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.stops_at_end:
            self.stop()

    def header(self) -> str:
        compose = self.compose or "compose not run (every service already runs)"
        return f"layercfg: {compose}, project {self.project}, engine {self.engine} ({self.engine_source})"

    def summary(self) -> str:
        """One line: ``stack netra-alpine-test: 2 reused, 3 started in 11.9 s; will stop the 3 it started``."""
        if self.error is not None:
            first = str(self.error).splitlines()[0]
            name = self.project or "(unnamed)"
            return f"stack {name}: start failed ({self.error.kind}: {first}); {self.fallback_reason}"
        reused = sum(1 for outcome in self.services if outcome.action == "reused")
        text = f"stack {self.project}: {reused} reused, {len(self.started)} started in {self.elapsed:.1f} s"
        if self.stops_at_end and self.started:
            text += f"; will stop the {len(self.started)} it started"
        return text

    def lines(self) -> list[str]:
        """The receipts as ``layercfg up`` prints them."""
        lines = [self.header()]
        lines += [f"  {outcome.receipt()}" for outcome in self.services]
        lines += [f"  note: {note}" for note in self.notes]
        if self.error is not None:
            lines.append(f"  start failed: {self.error}")
        if self.fallback_reason:
            lines.append(f"  fallback: {self.fallback_reason}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "compose": self.compose,
            "engine": self.engine,
            "engine_source": self.engine_source,
            "files": list(self.files),
            "project_directory": self.project_directory,
            "lifecycle": self.lifecycle,
            "lifecycle_source": self.lifecycle_source,
            "timeout": self.timeout,
            "elapsed": round(self.elapsed, 3),
            "services": [outcome.to_json() for outcome in self.services],
            "started": list(self.started),
            "created": list(self.created),
            "notes": list(self.notes),
            "error": None
            if self.error is None
            else {"kind": self.error.kind, "service": self.error.service, "message": str(self.error)},
            "fallback": self.fallback_reason,
            "state_file": self.state_file,
        }
