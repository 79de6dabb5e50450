"""What does the layercfg pytest plugin cost a project that has it installed but does not use it?

1. Whole process: ``python -m pytest -q <a trivial test dir>`` with the plugin (it autoloads
   through its ``pytest11`` entry point) versus ``-p no:layercfg``, run as interleaved pairs
   so drift on the machine hits both sides alike. Reports the medians, their difference in ms
   and the ratio. The test directory has no ``[tool.layercfg]``, so the plugin stays inactive:
   this is the price of being installed.
2. In process: ``python -X importtime -c "import layercfg.pytest_plugin"``, the cumulative
   import time of the plugin module (and of the ``layercfg`` package it pulls in) in µs,
   median over runs, with pytest already imported as it is in a real run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_plugin.py [--pairs 40] [--imports 15]

Bounded: each process gets 60 s at most; the default takes about a minute. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT = 60


def clean_env(pycache: Path, *, write: bool = True) -> dict[str, str]:
    """The environment without PYTEST_ADDOPTS and friends, which would change what is measured.

    Bytecode is cached in ``pycache`` (PYTHONPYCACHEPREFIX), as an installed package's is,
    without writing into the source tree; with ``write=False`` nothing is written there, so
    with an empty ``pycache`` every module compiles from source.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NETRA_", "PYTHONPYCACHEPREFIX"))}
    env.pop("CI", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_pytest(test_dir: Path, pycache: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(test_dir)],
        cwd=test_dir,
        env=clean_env(pycache),
        capture_output=True,
        check=True,
        timeout=PROCESS_TIMEOUT,
    )
    return time.perf_counter() - start


def import_cost_us(pycache: Path, *, write: bool = True) -> tuple[int, int]:
    """(cumulative µs of layercfg.pytest_plugin, of the layercfg package) from -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import layercfg.pytest_plugin"],
        env=clean_env(pycache, write=write),
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_TIMEOUT,
    )
    costs: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if cumulative.isdigit():
            costs[name] = int(cumulative)
    return costs["layercfg.pytest_plugin"], costs.get("layercfg", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=40, help="interleaved with/without pairs (default 40)")
    parser.add_argument("--imports", type=int, default=15, help="-X importtime runs (default 15)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="layercfg-bench-") as tmp:
        test_dir = Path(tmp) / "trivial"
        pycache = Path(tmp) / "pycache"
        test_dir.mkdir()
        (test_dir / "pyproject.toml").write_text('[project]\nname = "trivial"\n', encoding="utf-8")
        (test_dir / "test_trivial.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
        run_pytest(test_dir, pycache)  # fill the bytecode cache for both sides
        run_pytest(test_dir, pycache, "-p", "no:layercfg")
        with_plugin: list[float] = []
        without: list[float] = []
        for index in range(args.pairs):
            # Alternate which side goes first, so neither always runs on a warmer machine.
            order = [True, False] if index % 2 == 0 else [False, True]
            for plugin in order:
                if plugin:
                    with_plugin.append(run_pytest(test_dir, pycache))
                else:
                    without.append(run_pytest(test_dir, pycache, "-p", "no:layercfg"))
        cached = [import_cost_us(pycache) for _ in range(args.imports)]
        empty = Path(tmp) / "empty-pycache"
        uncached = [import_cost_us(empty, write=False) for _ in range(args.imports)]

    on = statistics.median(with_plugin) * 1000
    off = statistics.median(without) * 1000
    paired = statistics.median((a - b) * 1000 for a, b in zip(with_plugin, without, strict=True))

    def median_us(costs: list[tuple[int, int]], index: int) -> float:
        return statistics.median(cost[index] for cost in costs)

    print(f"{args.pairs} interleaved pairs, Python {sys.version.split()[0]}, {sys.platform}\n")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| `pytest -q` trivial dir, plugin installed (inactive), median | {on:.1f} ms |")
    print(f"| `pytest -q` trivial dir, `-p no:layercfg`, median | {off:.1f} ms |")
    print(f"| difference of medians | {on - off:+.1f} ms |")
    print(f"| median of paired differences | {paired:+.1f} ms |")
    print(f"| ratio (with / without) | {on / off:.3f} |")
    print(f"| `import layercfg.pytest_plugin`, cumulative, .pyc cached | {median_us(cached, 0):.0f} µs |")
    print(f"| of which the `layercfg` package | {median_us(cached, 1):.0f} µs |")
    print(f"| `import layercfg.pytest_plugin`, cumulative, compiled from source | {median_us(uncached, 0):.0f} µs |")
    print(f"\nimport times: median of {args.imports} runs of `python -X importtime` after `import pytest`.")


if __name__ == "__main__":
    main()
