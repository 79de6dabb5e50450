"""Whole-process `layercfg explain backend_url` vs `dynaconf inspect -k BACKEND_URL`, and in-process load cost.

Run: .venv/bin/python benchmarks/bench_explain.py [--rounds 30]

Both tools get equivalent inputs in a temporary directory: the same profile content
(a `docker` environment extending defaults), one dotenv file, and one environment
override. Runs are paired and interleaved (A, B, B, A, ...) so drift in machine
load hits both sides; the table reports medians and the ratio layercfg / dynaconf.

Both sides run from byte-compiled modules, as after `pip install .` (pip byte-compiles
what it installs): the script runs `compileall` on layercfg first, because an editable
install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every
run, a cost no installed user pays. PYTHONDONTWRITEBYTECODE is removed for both sides.

The in-process part builds schemas of 10, 100 and 1000 fields, each set by a
profile, an env file and the environment, and times `load()` after imports.
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

BIN = Path(sys.executable).parent


def write_inputs(root: Path) -> None:
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "docker.toml").write_text(
        '[profile]\nextends = "local"\nenv_files = [".env"]\n[values]\nbackend_url = "http://localhost:8002"\n'
        "docker_startup_timeout = 180.0\n"
    )
    (root / "profiles" / "local.toml").write_text('[values]\nbackend_url = "http://localhost:8000"\n')
    (root / ".env").write_text("TEST_BACKEND_URL=http://localhost:8003\nMAX_RETRIES=4\n")
    # dynaconf's equivalent: environments in one settings file, the same dotenv, the same override.
    (root / "settings.toml").write_text(
        '[default]\nbackend_url = "http://localhost:8000"\n'
        '[docker]\nbackend_url = "http://localhost:8002"\ndocker_startup_timeout = 180.0\n'
    )
    (root / "dynconf.py").write_text(
        "from dynaconf import Dynaconf\n"
        "settings = Dynaconf(settings_files=['settings.toml'], environments=True, load_dotenv=True,\n"
        "                    dotenv_path='.env', envvar_prefix='NETRA')\n"
    )


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{result.stderr}")
    return elapsed


def whole_process(rounds: int) -> list[tuple[str, float, float, float]]:
    import compileall

    import layercfg

    compileall.compile_dir(str(Path(layercfg.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_inputs(root)
        skip = ("NETRA", "DYNACONF", "ENV_FOR", "PYTHONDONTWRITEBYTECODE")
        base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        ours = [str(BIN / "layercfg"), "explain", "backend_url"]
        ours_env = {**base, "NETRA_PROFILE": "docker", "NETRA_BACKEND_URL": "http://localhost:9000"}
        theirs = [str(BIN / "dynaconf"), "-i", "dynconf.settings", "inspect", "-k", "BACKEND_URL"]
        theirs_env = {
            **base,
            "ENV_FOR_DYNACONF": "docker",
            "NETRA_BACKEND_URL": "http://localhost:9000",
            "PYTHONPATH": str(root),
        }
        for _ in range(3):  # warm the OS caches and .pyc files
            timed(ours, ours_env, root)
            timed(theirs, theirs_env, root)
        a, b = [], []
        for i in range(rounds):
            pair = [(ours, ours_env, a), (theirs, theirs_env, b)]
            for command, env, sink in pair if i % 2 == 0 else reversed(pair):
                sink.append(timed(command, env, root))
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        return [("explain vs dynaconf inspect", statistics.median(a), statistics.median(b), statistics.median(ratios))]


def in_process(sizes: list[int], repeats: int) -> list[tuple[int, float, float]]:
    import attrs

    import layercfg

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "profiles").mkdir()
            fields = {f"f{i}": layercfg.setting(i, aliases=(f"OLD_F{i}",)) for i in range(size)}
            schema = attrs.make_class(f"Schema{size}", fields, frozen=True)
            schema.__annotations__ = {f"f{i}": int for i in range(size)}
            lines = "\n".join(f"f{i} = {i + 1}" for i in range(size))
            (root / "profiles" / "p.toml").write_text(f'[profile]\nenv_files = [".env"]\n[values]\n{lines}\n')
            (root / ".env").write_text("".join(f"OLD_F{i}={i + 2}\n" for i in range(0, size, 2)))
            environ = {f"NETRA_F{i}": str(i + 3) for i in range(0, size, 3)}
            layercfg.load(schema, profile="p", project_dir=root, environ=environ)  # imports, schema cache
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                layercfg.load(schema, profile="p", project_dir=root, environ=environ)
                times.append(time.perf_counter() - start)
            rows.append((size, statistics.median(times), min(times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    print(f"## Whole process ({args.rounds} interleaved pairs)\n")
    print("| comparison | layercfg median | dynaconf median | ratio (median of pairs) | target |")
    print("|---|---|---|---|---|")
    for name, ours, theirs, ratio in whole_process(args.rounds):
        print(f"| {name} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | {ratio:.2f}x | <= 1.00x |")

    print(f"\n## In process: load() after imports ({args.repeats} repeats)\n")
    print("| fields | median | best | per field | target |")
    print("|---|---|---|---|---|")
    rows = in_process([10, 100, 1000], args.repeats)
    for size, median, best in rows:
        target = "<= 50 ms" if size == 1000 else ""
        print(f"| {size} | {median * 1000:.2f} ms | {best * 1000:.2f} ms | {median / size * 1e6:.1f} us | {target} |")
    ratio = rows[-1][1] / rows[1][1]
    print(f"\n1000 fields / 100 fields = {ratio:.1f}x (linear would be 10x)")


if __name__ == "__main__":
    main()
