"""Rendering cost by number of fields: every renderer must stay linear.

Run: .venv/bin/python benchmarks/bench_render.py [--repeats 9]

Schemas of 100, 1000 and 3000 fields (one in ten secret, every field set by the environment so
each has two candidates) are loaded once; then `show --json` (show_dict + dumps), `show` text,
the pytest header and doctor's legacy check are timed in-process, median of repeats. Target:
3000 fields at most 3.5x the cost of 1000.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

import layercfg
from layercfg import setting
from layercfg._doctor import _legacy_checks
from layercfg._views import render


def make_schema(fields: int) -> type:
    namespace: dict[str, object] = {}
    types: dict[str, object] = {}
    for n in range(fields):
        namespace[f"f{n}"] = setting("x", aliases=(f"OLD_F{n}",), secret=n % 10 == 0)
        types[f"f{n}"] = str
    return attrs.frozen(type(f"Render{fields}", (), {**namespace, "__annotations__": types}))


def median_ms(work: Callable[[], object], repeats: int) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lcr-"))
    sys.setrecursionlimit(10_000)
    rows: dict[str, dict[int, float]] = {}
    for fields in (100, 1000, 3000):
        schema = make_schema(fields)
        environ = {f"OLD_F{n}": f"value-{n}" for n in range(fields)}
        trace = layercfg.load(schema, profile=[], project_dir=root, environ=environ).trace
        secrets = render.secret_values(trace)
        cases: dict[str, Callable[[], object]] = {
            "show --json": lambda t=trace: render.dumps(render.show_dict(t)),
            "show (text)": lambda t=trace: render.show_text(t),
            "doctor legacy check": lambda t=trace, s=secrets: _legacy_checks(t, s),
        }
        for name, work in cases.items():
            rows.setdefault(name, {})[fields] = median_ms(work, options.repeats)
    print(f"## rendering by number of fields (median of {options.repeats})\n")
    print("| renderer | 100 | 1000 | 3000 | 3000 / 1000 | target |")
    print("|---|---:|---:|---:|---:|---|")
    for name, by_size in rows.items():
        ratio = by_size[3000] / by_size[1000]
        print(
            f"| {name} | {by_size[100]:.2f} ms | {by_size[1000]:.2f} ms | {by_size[3000]:.2f} ms | "
            f"{ratio:.2f}x | <= 3.5x {'met' if ratio <= 3.5 else 'MISSED'} |"
        )


if __name__ == "__main__":
    main()
