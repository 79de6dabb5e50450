"""`layercfg scan` on 5,000 test files, against `grep -rn localhost` over the same tree as the floor.

Run: .venv/bin/python benchmarks/bench_scan.py [--files 5000] [--repeats 5]

The tree is generated in a temporary directory: test modules of 60-150 lines in the team's style
(fixtures, test classes, helpers, asserts, parametrize lists), one in ten with hard-coded
endpoints, one in twenty with ad-hoc environment reads, plus a conftest.py and a pytest.ini per
package. Measured (median of interleaved runs): `grep -rn localhost DIR`, `layercfg scan DIR` as a
whole process (what a pre-commit hook pays), and `run_scan()` in-process with the default jobs
(every usable CPU) and with one job. Prints files/second and the ratio to grep's time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

HEADER = '''"""Tests of the {area} flow ({n})."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from test_framework.helpers import make_user, wait_for
'''

ENDPOINTS = [
    'BACKEND_URL = "http://localhost:8000"\n',
    'WS_URL = "ws://localhost:8000/ws"\n',
    "AUTH = f\"http://localhost:{os.environ.get('AUTH_PORT', '8081')}/auth\"\n",
    'DATABASE_URL = "postgresql://postgres@localhost:5432/postgres"\n',
    'SERVICES = {"backend": "http://127.0.0.1:8002", "redis": "redis://localhost:6379/0"}\n',
]
READS = [
    'BASE = os.environ.get("TEST_BACKEND_URL", "http://localhost:8000")\n',
    'TIMEOUT = float(os.getenv("DOCKER_STARTUP_TIMEOUT", "120"))\n',
    'STAGING = os.getenv("BACKEND_STAGING_URL")\n',
]

TEST = '''

class Test{name}:
    """Behaviour of {area} when {case}."""

    @pytest.fixture
    def payload(self) -> dict[str, Any]:
        return {{"user": make_user("{area}-{i}"), "items": [1, 2, 3], "mode": "{case}"}}

    def test_{area}_{i}_accepts(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload)
        assert json.loads(body)["mode"] == "{case}"
        assert len(payload["items"]) == 3

    @pytest.mark.parametrize("count", [0, 1, 5, 10])
    def test_{area}_{i}_counts(self, payload: dict[str, Any], count: int) -> None:
        items = payload["items"] * count
        assert len(items) == 3 * count, f"expected {{3 * count}} items, got {{len(items)}}"

    async def test_{area}_{i}_waits(self) -> None:
        result = await asyncio.wait_for(wait_for(lambda: True, timeout=0.1), timeout=1)
        assert result is True
'''

AREAS = ["chat", "auth", "billing", "agents", "threads", "uploads", "search", "settings"]
CASES = ["the user is new", "the token expired", "the thread is empty", "retries run out"]


def generate(root: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (root / "pyproject.toml").write_text("[tool.layercfg]\n", encoding="utf-8")
    for n in range(count):
        package = root / "tests" / f"pkg{n // 100:02d}"
        if not package.exists():
            package.mkdir(parents=True)
            (package / "conftest.py").write_text(
                'import pytest\n\n\n@pytest.fixture\ndef anyio_backend():\n    return "asyncio"\n', encoding="utf-8"
            )
            (package / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
        area = rng.choice(AREAS)
        parts = [HEADER.format(area=area, n=n)]
        if n % 10 == 0 or n % 20 == 5:
            parts.append("import os\n\n")
        if n % 10 == 0:
            parts += rng.sample(ENDPOINTS, 2)
        if n % 20 == 5:
            parts.append(rng.choice(READS))
        for i in range(rng.randint(2, 5)):
            parts.append(TEST.format(name=f"{area.title()}{i}", area=area, case=rng.choice(CASES), i=i))
        (package / f"test_{area}_{n}.py").write_text("".join(parts), encoding="utf-8")


def median_time(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lcscan-"))
    try:
        generate(root, options.files)
        py_files = sum(1 for _ in root.rglob("*.py"))
        scanned = sum(1 for path in root.rglob("*") if path.suffix in (".py", ".ini", ".toml"))
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NETRA_")}
        scan_args = [sys.executable, "-m", "layercfg", "scan", "--project-dir", str(root), "--format", "json"]

        def grep() -> None:
            subprocess.run(["grep", "-rn", "localhost", str(root)], capture_output=True, check=False)

        def whole_process() -> None:
            done = subprocess.run([*scan_args, str(root)], capture_output=True, env=environ, check=False)
            assert done.returncode == 1, done.stderr  # the tree has findings

        from layercfg._scan.scan import run_scan

        def in_process() -> None:
            run_scan([str(root)], project_dir=root)

        def in_process_one_job() -> None:
            run_scan([str(root)], project_dir=root, jobs=1)

        findings = len(run_scan([str(root)], project_dir=root).findings)
        rows = {name: 0.0 for name in ("grep -rn localhost", "layercfg scan (process)", "run_scan() (in-process)")}
        rows["run_scan() (in-process, 1 job)"] = 0.0
        runs = {
            "grep -rn localhost": grep,
            "layercfg scan (process)": whole_process,
            "run_scan() (in-process)": in_process,
            "run_scan() (in-process, 1 job)": in_process_one_job,
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(options.repeats):  # interleaved, so a noisy moment hits every row alike
            for name, run in runs.items():
                samples[name].append(median_time(run, 1))
        for name in runs:
            rows[name] = statistics.median(samples[name])
        floor = rows["grep -rn localhost"]
        print(
            f"{scanned} files scanned ({py_files} Python), {findings} findings, "
            f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} CPUs, "
            f"median of {options.repeats} interleaved runs\n"
        )
        print("| run | median | files/s | x grep |")
        print("|---|---:|---:|---:|")
        for name, seconds in rows.items():
            print(f"| `{name}` | {seconds:.3f} s | {scanned / seconds:,.0f} | {seconds / floor:.1f}x |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
