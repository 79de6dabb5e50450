"""How much does probing cost, one by one versus all at once?

Probes 1, 4 and 16 endpoints on 127.0.0.1, sequentially (a loop of ``probe``) and
concurrently (``probe_all``), for (a) live LocalService health endpoints and (b) silent
endpoints that never answer, with a 0.2 s budget. Prints a Markdown table of medians.

Run from the repository root::

    .venv/bin/python benchmarks/bench_probe.py [--live-repeats 21] [--silent-repeats 3]

Bounded: the silent part takes about ``silent_repeats * 24 * 0.2`` seconds (about 15 s by
default), the live part well under a second; only loopback is contacted.

The servers run in this process, so with live endpoints the probe threads share the GIL
with the server threads; with a real backend in another process concurrency helps more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servers import LocalService, SilentListener

from layercfg._resolve.probe import ProbeRequest, probe, probe_all

COUNTS = (1, 4, 16)
SILENT_BUDGET = 0.2
LIVE_BUDGET = 1.0


def sequential(requests: Sequence[ProbeRequest], budget: float) -> None:
    for request in requests:
        probe(request, budget=budget)


def concurrent(requests: Sequence[ProbeRequest], budget: float) -> None:
    probe_all(requests, budget=budget)


def median_seconds(
    run: Callable[[Sequence[ProbeRequest], float], None],
    requests: Sequence[ProbeRequest],
    budget: float,
    repeats: int,
) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(requests, budget)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live-repeats", type=int, default=21)
    parser.add_argument("--silent-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    rows = []
    with ExitStack() as stack:
        services = [stack.enter_context(LocalService()) for _ in range(max(COUNTS))]
        silents = [stack.enter_context(SilentListener()) for _ in range(max(COUNTS))]
        cases = [
            ("live (http /health)", LIVE_BUDGET, args.live_repeats, [
                ProbeRequest(s.base_url, kind="http", health_path="/health") for s in services
            ]),
            (f"silent (http, budget {SILENT_BUDGET} s)", SILENT_BUDGET, args.silent_repeats, [
                ProbeRequest(s.url(), kind="http") for s in silents
            ]),
        ]  # fmt: skip
        for label, budget, repeats, all_requests in cases:
            concurrent(all_requests[:1], budget)  # warm up imports and the first connection
            for count in COUNTS:
                requests = all_requests[:count]
                seq = median_seconds(sequential, requests, budget, repeats)
                conc = median_seconds(concurrent, requests, budget, repeats)
                rows.append((label, count, seq, conc, repeats))

    print(f"Python {sys.version.split()[0]} on {sys.platform}; medians; 127.0.0.1 only\n")
    print("| endpoints | kind | sequential (loop of probe) | concurrent (probe_all) | seq / conc | runs |")
    print("|---|---|---|---|---|---|")
    for label, count, seq, conc, repeats in rows:
        print(f"| {count} | {label} | {fmt(seq)} | {fmt(conc)} | {seq / conc:.1f}x | {repeats} |")


if __name__ == "__main__":
    main()
