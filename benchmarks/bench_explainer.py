"""What the failure explainer, skip ledger and run receipt cost, when nothing fails and when something does.

1. Whole process, a passing run: an active project (``[tool.layercfg]``) with 100 passing tests
   that use the ``layercfg_config`` fixture, ``pytest -q`` with the plugin as shipped versus
   ``--layercfg-receipt off``, and versus ``-p no:layercfg`` (the plugin's whole cost, resolution
   included), run as interleaved triples; medians of the paired differences (target: the
   explainer/ledger/receipt machinery adds < 5 ms to a passing run).
2. In process, a failing connection: ``explain_exception`` for a refused connection whose field
   has three candidates (three probes on 127.0.0.1), median of runs.

Run from the repository root::

    .venv/bin/python benchmarks/bench_explainer.py [--runs 20]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

TESTS = "\n".join(f"def test_{i}(layercfg_config):\n    assert layercfg_config.max_retries >= 0\n" for i in range(100))


def whole_process(runs: int) -> list[str]:
    root = Path(tempfile.mkdtemp(prefix="lcb-explainer-"))
    (root / "pyproject.toml").write_text("[tool.layercfg]\n")
    (root / "test_many.py").write_text(TESTS)
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent-layercfg-bench/docker.sock"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    variants = {
        "shipped": base,
        "receipt off": [*base, "--layercfg-receipt", "off"],
        "plugin off": [*base, "-p", "no:layercfg"],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(runs + 1):
        order = list(variants.items()) if round_ % 2 else list(reversed(variants.items()))
        for name, command in order:
            start = time.perf_counter()
            subprocess.run(command, cwd=root, env=env, capture_output=True, check=False, timeout=120)
            if round_:  # the first round warms the caches
                times[name].append(time.perf_counter() - start)

    def paired(a: str, b: str) -> float:
        return statistics.median(x - y for x, y in zip(times[a], times[b], strict=True)) * 1000

    return [
        "| run (100 passing tests) | median | |",
        "|---|---:|---|",
        *(f"| {name} | {statistics.median(t) * 1000:.1f} ms | |" for name, t in times.items()),
        f"| shipped - receipt off (receipt writing), median of pairs | {paired('shipped', 'receipt off'):+.1f} ms | |",
        f"| shipped - plugin off (the whole plugin), median of pairs | {paired('shipped', 'plugin off'):+.1f} ms | |",
    ]


def in_process(runs: int) -> list[str]:
    import urllib.request

    from servers import LocalService, closed_port

    import layercfg
    from layercfg._explainer import explain_exception

    with LocalService() as service, tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "profiles").mkdir()
        (root / "profiles" / "p.toml").write_text(f'[values]\nbackend_url = "{service.base_url}"\n')
        dead = f"http://127.0.0.1:{closed_port()}"
        environ = {"DOCKER_HOST": "unix:///nonexistent", "TEST_BACKEND_URL": dead}
        loaded = layercfg.load(profile="p", project_dir=root, environ=environ)
        try:
            urllib.request.urlopen(f"{dead}/health", timeout=2)
        except OSError as exc:
            error = exc
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            assert explain_exception(error, loaded.trace) is not None
            samples.append(time.perf_counter() - start)
    return [f"| explain_exception, refused, 3 candidates probed | {statistics.median(samples) * 1000:.2f} ms | |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print("\n".join(whole_process(args.runs)))
    print("\n".join(in_process(args.runs)[0:]))


if __name__ == "__main__":
    main()
