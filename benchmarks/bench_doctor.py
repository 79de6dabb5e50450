"""`layercfg doctor` against a hung Docker engine costs the Docker budget once, like `explain`.

Run: .venv/bin/python benchmarks/bench_doctor.py [--repeats 5] [--budget 2.0]

A unix socket that accepts and never answers plays the hung daemon (the same one
bench_discovery.py uses). Both commands run as whole processes with NETRA_PROFILE=docker
(discovery on) and NETRA_DOCKER_TIMEOUT=BUDGET, interleaved; doctor runs with --no-probe so
only Docker is measured. Target (issue: compute once): doctor within budget + 0.3 s.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_discovery import failing_socket

ROOT = Path(__file__).parent.parent


def timed(args: list[str], environ: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "layercfg", *args], env=environ, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0)
    options = parser.parse_args()
    compileall.compile_dir(str(ROOT / "layercfg"), quiet=1)  # as pip does: PYTHONDONTWRITEBYTECODE hides it
    cwd = Path(tempfile.mkdtemp(prefix="lcd-"))
    with failing_socket("hung socket") as docker_host:
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NETRA_")},
            "DOCKER_HOST": docker_host,
            "NETRA_PROFILE": "docker",
            "NETRA_DOCKER_TIMEOUT": str(options.budget),
        }
        rows: dict[str, list[float]] = {"explain backend_url": [], "doctor --no-probe": []}
        for _ in range(options.repeats):
            rows["explain backend_url"].append(timed(["explain", "backend_url"], environ, cwd))
            rows["doctor --no-probe"].append(timed(["doctor", "--no-probe"], environ, cwd))
    print(f"hung Docker engine, budget {options.budget:g} s, {options.repeats} interleaved runs each\n")
    print("| command | median | over budget |")
    print("|---|---:|---:|")
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"| `layercfg {name}` | {median:.2f} s | +{median - options.budget:.2f} s |")
    ratio = statistics.median(rows["doctor --no-probe"]) / statistics.median(rows["explain backend_url"])
    print(f"\ndoctor / explain: {ratio:.2f}x")


if __name__ == "__main__":
    main()
