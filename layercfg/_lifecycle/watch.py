"""Following a start: what compose ps says while ``up --wait`` runs, and holding compose to its word."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Sequence
from typing import Final, TextIO

from ..exceptions import LayercfgError
from .compose_cli import COMMAND_TIMEOUT, ContainerState, Runner

POLL_EVERY: Final = 0.5
PROGRESS_EVERY: Final = 5.0


class Watcher:
    """Polls ``compose ps`` while ``up --wait`` runs: when each service was created, started, healthy."""

    def __init__(self, runner: Runner, services: Sequence[str], out: TextIO | None, start: float) -> None:
        self.runner = runner
        self.services = list(services)
        self.out = out
        self.start = start
        self.seen: dict[tuple[str, str], float] = {}  # (service, "created"|"started"|"healthy") -> elapsed
        self.latest: dict[str, ContainerState] = {}
        self.stop_event = threading.Event()
        self.next_progress = start + PROGRESS_EVERY
        self.thread = threading.Thread(target=self._loop, name="layercfg-compose-watch", daemon=True)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        self.thread.join(COMMAND_TIMEOUT)
        with contextlib.suppress(LayercfgError):
            self.observe(self.runner.ps())

    def _loop(self) -> None:
        while not self.stop_event.wait(POLL_EVERY):
            try:
                self.observe(self.runner.ps())
            except LayercfgError:
                continue

    def observe(self, states: Sequence[ContainerState]) -> None:
        now = time.monotonic() - self.start
        for state in states:
            self.latest[state.service] = state
            steps = ["created"]
            if state.state == "running":
                steps.append("started")
                if state.health in ("", "healthy"):
                    steps.append("healthy" if state.health else "running")
            for step in steps:
                if (state.service, step) not in self.seen:
                    self.seen[(state.service, step)] = now
                    self._say(f"{state.service:<22} {step:<8} {now:5.1f} s")
        if self.out is not None and time.monotonic() >= self.next_progress:
            waiting = [
                f"{s} ({self.latest[s].state}{', health ' + self.latest[s].health if self.latest[s].health else ''})"
                for s in self.services
                if s in self.latest and not self.latest[s].ready
            ]
            if waiting:
                self._say(f"waiting for {', '.join(waiting)}: {now:.0f} s")
            self.next_progress = time.monotonic() + PROGRESS_EVERY

    def _say(self, text: str) -> None:
        if self.out is not None:
            print(f"layercfg: {text}", file=self.out, flush=True)

    def ready_after(self, service: str) -> float | None:
        return self.seen.get((service, "healthy"), self.seen.get((service, "running")))


def progress_stream(progress: TextIO | bool | None) -> TextIO | None:
    if progress is None:
        stream = sys.stderr
        return stream if stream is not None and stream.isatty() else None
    if progress is True:
        return sys.stderr
    return progress or None


def confirm_ready(
    runner: Runner,
    services: Sequence[str],
    after: dict[str, ContainerState],
    deadline: float,
    watcher: Watcher,
    output: str,
) -> tuple[dict[str, ContainerState], str]:
    """Wait, until ``deadline``, for every service compose called up to be ready in ``ps`` too."""
    waited = False
    while any(not after[s].ready for s in services if s in after):
        if time.monotonic() >= deadline or any(
            after[s].state in ("exited", "dead") or after[s].health == "unhealthy" for s in services if s in after
        ):
            break
        waited = True
        time.sleep(POLL_EVERY)
        with contextlib.suppress(LayercfgError):
            watcher.observe(runner.ps())
            after = {state.service: state for state in watcher.latest.values()}
    if waited:
        pending = [s for s in services if s in after and not after[s].ready]
        said = f"compose up exited 0 before {', '.join(pending) or 'every service'} was ready; layercfg waited"
        output = f"{output}\n{said}" if output else said
    return after, output
