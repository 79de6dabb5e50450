"""load_config() cost with staging fallback, against fallback off, on 127.0.0.1 only.

Run: .venv/bin/python benchmarks/bench_fallback.py [--repeats 15]

Cases (primary backend / staging), each timed in-process after imports, median of
repeats, as a ratio to the same load with fallback off:
  up / up            auto probes both, keeps the primary
  refused / up       auto switches to staging
  hung / up          the backend never completes the TCP handshake: costs ~probe_timeout
  refused / refused  both down: keeps the primary
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import BlackholeListener, LocalService, closed_port

import layercfg

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent-layercfg-bench/docker.sock"}


def median_ms(environ: dict[str, str], root: Path, repeats: int, **kwargs: object) -> float:
    layercfg.load(project_dir=root, environ=environ, **kwargs)  # warm: imports, schema cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layercfg.load(project_dir=root, environ=environ, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.25, help="probe_timeout for the hung case (s)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalService() as staging,
        LocalService() as backend,
        BlackholeListener() as hole,
    ):
        root = Path(tmp)
        (root / "profiles").mkdir()
        refused = f"http://127.0.0.1:{closed_port()}"
        cases = {
            "up / up": backend.base_url,
            "refused / up": refused,
            f"hung / up (probe_timeout {args.budget} s)": f"http://127.0.0.1:{hole.port}",
        }
        print("| primary / staging | fallback off | fallback auto | ratio | outcome |")
        print("|---|---|---|---|---|")
        for name, primary in cases.items():
            environ = {
                **NO_DOCKER,
                "NETRA_BACKEND_URL": primary,
                "STAGING_BASE_URL": staging.base_url,
                "NETRA_FALLBACK": "auto",
                "NETRA_PROBE_TIMEOUT": str(args.budget),
            }
            off = median_ms(environ, root, args.repeats, fallback="off")
            on = median_ms(environ, root, args.repeats)
            outcome = layercfg.load(project_dir=root, environ=environ).trace.fallback
            print(
                f"| {name} | {off:.2f} ms | {on:.2f} ms | {on / off:.1f}x | "
                f"{'switched' if outcome.switched else 'kept primary'} |"
            )
        environ = {
            **NO_DOCKER,
            "NETRA_BACKEND_URL": refused,
            "STAGING_BASE_URL": f"http://127.0.0.1:{closed_port()}",
            "NETRA_FALLBACK": "auto",
        }
        off = median_ms(environ, root, args.repeats, fallback="off")
        on = median_ms(environ, root, args.repeats)
        print(f"| refused / refused | {off:.2f} ms | {on:.2f} ms | {on / off:.1f}x | kept primary |")


if __name__ == "__main__":
    main()
