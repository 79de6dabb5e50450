"""How long discover() takes as containers pile up, and how long each engine failure costs.

Run: ``.venv/bin/python benchmarks/bench_discovery.py [--repeat 15]``

Uses DOCKER_HOST (or /var/run/docker.sock) when it answers; otherwise, as root, starts a private
engine with ``.ci/docker-engine`` and stops it afterwards. Starts 1, 50 and 200 busybox containers
(all labelled ``layercfg.bench=<run id>`` and removed at the end), times one query per lookup
strategy (median of repeated runs), a whole load of the alpine-test profile (seven service
endpoints, in process) and ``layercfg explain backend_url`` as a whole process, with the growth
from the first row (target: 200 containers at most 1.3x the cost at 1); then times discover()
against a missing socket, a refused socket and a socket that accepts and never answers, with
budgets of 0.5 s and 2.0 s; and the team's case, the alpine-test stack (six compose services)
running beside 0, 50 and 200 unrelated containers. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import layercfg  # noqa: E402
from layercfg._sources.containers import ServiceQuery, check_engine, discover  # noqa: E402

IMAGE = "layercfg-busybox:latest"
COUNTS = (1, 50, 200)
NETRA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "netra"
BUDGETS = (0.5, 2.0)


@contextlib.contextmanager
def engine() -> Iterator[str]:
    """DOCKER_HOST if it answers, else a private engine for the duration of the benchmark."""
    configured = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if check_engine(environ={**os.environ, "DOCKER_HOST": configured}) is None:
        yield configured
        return
    directory = tempfile.mkdtemp(prefix="lcb-", dir="/tmp")
    script = str(REPO / ".ci" / "docker-engine")
    started = subprocess.run(["bash", script, "start", directory], capture_output=True, text=True, check=False)
    try:
        if started.returncode != 0:
            raise SystemExit(f"no Docker engine: .ci/docker-engine start failed:\n{started.stderr}")
        yield started.stdout.strip().splitlines()[-1].removeprefix("DOCKER_HOST=")
    finally:
        subprocess.run(["bash", script, "stop", directory], check=False)
        subprocess.run(["rm", "-rf", directory], check=False)


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def scaling(docker_host: str, repeat: int) -> list[str]:
    import docker

    client = docker.DockerClient(base_url=docker_host, version="auto", timeout=60)
    run_id = uuid.uuid4().hex[:8]
    environ = {"DOCKER_HOST": docker_host}
    target = f"bench-backend-{run_id}"
    queries = {
        "compose label": ServiceQuery("backend", (f"backend-{run_id}", target), 8000),
        "container name": ServiceQuery("backend", (f"backend-{run_id}", f"{target}-c"), 8000),
        "no match": ServiceQuery("backend", (f"backend-{run_id}", f"absent-{run_id}"), 8000),
    }
    project_dir = Path(tempfile.mkdtemp(prefix="lcb-netra-"))
    shutil.copytree(NETRA, project_dir, dirs_exist_ok=True)
    load_environ = {"DOCKER_HOST": docker_host, "NETRA_PROFILE": "alpine-test"}
    process_environ = {**os.environ, **load_environ}
    process_environ.pop("PYTHONDONTWRITEBYTECODE", None)

    def full_load() -> object:
        return layercfg.load(project_dir=project_dir, environ=load_environ)

    def explain_process() -> object:
        return subprocess.run(
            [sys.executable, "-m", "layercfg", "explain", "backend_url"],
            cwd=project_dir,
            env=process_environ,
            capture_output=True,
            check=True,
        )

    columns = [*(f"{label} (ms)" for label in queries), "full load (ms)", "explain process (ms)"]
    rows = [
        "| containers | " + " | ".join(columns) + " |",
        "|---:|" + "---:|" * len(columns),
    ]
    first: list[float] = []
    labels = {"layercfg.bench": run_id}
    try:
        for count in COUNTS:
            running = len(client.containers.list(filters={"label": f"layercfg.bench={run_id}"}))
            for index in range(running, count):
                extra = {"com.docker.compose.service": target} if index == 0 else {}
                client.containers.run(
                    IMAGE,
                    ["busybox", "httpd", "-f", "-p", "8000"],
                    name=f"{target}-c" if index == 0 else f"bench-{run_id}-{index}",
                    labels={**labels, **extra},
                    ports={"8000/tcp": ("127.0.0.1", None)},
                    detach=True,
                )
            for query in queries.values():  # a failed lookup must not be timed as a fast one
                result = discover([query], environ=environ)
                assert result.problem is None, result.problem
            times = [
                median_seconds(lambda q=query: discover([q], environ=environ), repeat) for query in queries.values()
            ]
            times.append(median_seconds(full_load, repeat))
            times.append(median_seconds(explain_process, max(repeat // 3, 3)))
            first = first or times
            cells = [f"{t * 1000:.1f} ({t / f:.2f}x)" for t, f in zip(times, first, strict=True)]
            rows.append(f"| {count} | " + " | ".join(cells) + " |")
    finally:
        for container in client.containers.list(all=True, filters={"label": f"layercfg.bench={run_id}"}):
            container.remove(force=True)
        client.close()
    return rows


STACK = ("backend", "auth", "frontend", "postgres", "redis", "clickhouse")
UNRELATED = (0, 50, 200)


def stack_scaling(docker_host: str, repeat: int) -> list[str]:
    """The team's case: its stack runs (six compose services of the alpine-test profile) beside
    0, 50 and 200 unrelated containers; a whole load and a whole `explain` process."""
    import docker

    client = docker.DockerClient(base_url=docker_host, version="auto", timeout=60)
    run_id = uuid.uuid4().hex[:8]
    project_dir = Path(tempfile.mkdtemp(prefix="lcb-netra-"))
    shutil.copytree(NETRA, project_dir, dirs_exist_ok=True)
    load_environ = {"DOCKER_HOST": docker_host, "NETRA_PROFILE": "alpine-test"}
    process_environ = {**os.environ, **load_environ}
    process_environ.pop("PYTHONDONTWRITEBYTECODE", None)
    labels = {"layercfg.bench": run_id}
    rows = [
        "| unrelated containers | full load (ms) | explain process (ms) |",
        "|---:|---:|---:|",
    ]
    first: list[float] = []
    try:
        for service in STACK:
            client.containers.run(
                IMAGE,
                ["busybox", "sleep", "3600"],
                name=f"alpine-test-{service}-{run_id}",
                labels={
                    **labels,
                    "com.docker.compose.project": f"bench-{run_id}",
                    "com.docker.compose.service": f"alpine-test-{service}",
                },
                ports={f"{port}/tcp": ("127.0.0.1", None) for port in (8000, 8081, 3000, 5432, 6379, 8123, 9000)},
                detach=True,
            )
        for count in UNRELATED:
            running = len(client.containers.list(filters={"label": f"layercfg.bench={run_id}"})) - len(STACK)
            for index in range(running, count):
                client.containers.run(
                    IMAGE,
                    ["busybox", "httpd", "-f", "-p", "8000"],
                    name=f"bench-{run_id}-{index}",
                    labels=labels,
                    ports={"8000/tcp": ("127.0.0.1", None)},
                    detach=True,
                )
            loaded = layercfg.load(project_dir=project_dir, environ=load_environ)
            winners = [loaded.trace.fields[f].winner.origin.layer.label for f in ("backend_url", "database_url")]
            assert winners == ["discovery", "discovery"], winners  # the stack is found, or the timing is not this case

            def explain_process() -> object:
                return subprocess.run(
                    [sys.executable, "-m", "layercfg", "explain", "backend_url"],
                    cwd=project_dir,
                    env=process_environ,
                    capture_output=True,
                    check=True,
                )

            times = [
                median_seconds(lambda: layercfg.load(project_dir=project_dir, environ=load_environ), repeat),
                median_seconds(explain_process, max(repeat // 3, 3)),
            ]
            first = first or times
            cells = [f"{t * 1000:.1f} ({t / f:.2f}x)" for t, f in zip(times, first, strict=True)]
            rows.append(f"| {count} | " + " | ".join(cells) + " |")
    finally:
        for container in client.containers.list(all=True, filters={"label": f"layercfg.bench={run_id}"}):
            container.remove(force=True)
        client.close()
    return rows


@contextlib.contextmanager
def failing_socket(kind: str) -> Iterator[str]:
    """A DOCKER_HOST that fails in the way ``kind`` names."""
    directory = Path(tempfile.mkdtemp(prefix="lcb-", dir="/tmp"))
    path = directory / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stop = threading.Event()
    accepted: list[Any] = []
    thread = None
    if kind != "missing socket":
        server.bind(str(path))
        server.listen(64)
    if kind == "refused socket":
        server.close()
    elif kind == "hung socket":

        def serve() -> None:
            while not stop.is_set():
                if select.select([server], [], [], 0.05)[0]:
                    accepted.append(server.accept()[0])

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
    try:
        yield f"unix://{path}"
    finally:
        stop.set()
        if thread is not None:
            thread.join()
        for conn in accepted:
            conn.close()
        server.close()
        path.unlink(missing_ok=True)
        directory.rmdir()


def failures(repeat: int) -> list[str]:
    query = ServiceQuery("backend", ("backend",), 8000)
    rows = [
        "| engine | " + " | ".join(f"budget {b} s (ms)" for b in BUDGETS) + " | kind |",
        "|---|" + "---:|" * len(BUDGETS) + "---|",
    ]
    for kind in ("missing socket", "refused socket", "hung socket"):
        with failing_socket(kind) as host:
            environ = {"DOCKER_HOST": host}
            cells = []
            for budget in BUDGETS:
                ms = median_seconds(lambda b=budget, e=environ: discover([query], budget=b, environ=e), repeat) * 1000
                cells.append(f"{ms:.1f}")
            problem = discover([query], budget=BUDGETS[0], environ=environ).problem
            rows.append(f"| {kind} | " + " | ".join(cells) + f" | {problem.kind if problem else '-'} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per median (failures: a third)")
    args = parser.parse_args()
    discover([], environ={})  # import the docker SDK once, outside the timings
    compileall.compile_dir(str(REPO / "layercfg"), quiet=1)  # as pip does: PYTHONDONTWRITEBYTECODE hides it
    with engine() as docker_host:
        print(f"discover() against {docker_host}, median of {args.repeat} runs, one query:\n")
        print("\n".join(scaling(docker_host, args.repeat)))
        print(f"\nThe stack of six services running beside unrelated containers, median of {args.repeat} runs:\n")
        print("\n".join(stack_scaling(docker_host, args.repeat)))
    repeat = max(args.repeat // 3, 1)
    print(f"\ndiscover() against a failing engine, median of {repeat} runs:\n")
    print("\n".join(failures(repeat)))


if __name__ == "__main__":
    main()
