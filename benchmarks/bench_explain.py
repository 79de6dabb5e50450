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
profile, an env file and the environment, and times `load()` after imports; then it loads
100 and 1000 integer fields from environment variables alone, the data environ-config
(`environ.to_config`) reads, with both tools side by side.
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


_PEAK_MARKER = "bench-peak-kib="
_TIME_MARKER = "bench-seconds="
_PEAK_LAUNCHER = (
    "import os, sys, time\n"
    "start = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "elapsed = time.perf_counter() - start\n"
    f"sys.stderr.write('\\n{_PEAK_MARKER}%d\\n{_TIME_MARKER}%.6f\\n' % (usage.ru_maxrss, elapsed))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def timed(command: list[str], env: dict[str, str], cwd: Path, peaks: list[int] | None = None) -> float:
    """Seconds one process took; its peak resident memory (KiB, from wait4) goes to ``peaks``."""
    if peaks is not None:
        # The kernel keeps a process's peak across exec, counting the memory it was forked from:
        # a child of this process (33 MiB, layercfg and dynaconf imported) would report that for
        # both tools. A small interpreter (no site, 7 MiB) forks the command and reports its peak.
        command = [sys.executable, "-S", "-c", _PEAK_LAUNCHER, *command]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, _usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{stderr}")
    if peaks is not None:
        # The launcher's own figures: the command's peak, and its time without the launcher's start.
        peak = stderr.rsplit(_PEAK_MARKER, 1)[1].split()[0]
        seconds = stderr.rsplit(_TIME_MARKER, 1)[1].split()[0]
        peaks.append(int(peak))
        elapsed = float(seconds)
    return elapsed


def engine_answers(docker_host: str | None) -> bool:
    from layercfg._sources.containers import check_engine

    return bool(docker_host) and check_engine(environ={"DOCKER_HOST": str(docker_host)}) is None


def whole_process(rounds: int) -> list[tuple[str, float, float, float, int, int]]:
    """Paired, interleaved runs for each case: (case, ours, theirs, median ratio, our KiB, their KiB)."""
    import compileall

    import layercfg

    compileall.compile_dir(str(Path(layercfg.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_inputs(root)
        skip = ("NETRA", "DYNACONF", "ENV_FOR", "PYTHONDONTWRITEBYTECODE", "DOCKER_HOST")
        base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        ours = [str(BIN / "layercfg"), "explain", "backend_url"]
        theirs = [str(BIN / "dynaconf"), "-i", "dynconf.settings", "inspect", "-k", "BACKEND_URL"]
        theirs_env = {
            **base,
            "ENV_FOR_DYNACONF": "docker",
            "NETRA_BACKEND_URL": "http://localhost:9000",
            "PYTHONPATH": str(root),
        }
        common = {**base, "NETRA_PROFILE": "docker", "NETRA_BACKEND_URL": "http://localhost:9000"}
        cases = {
            "discovery off": {**common, "NETRA_DISCOVERY": "off"},
            "docker profile, no engine": {
                **common,
                "NETRA_DISCOVERY": "auto",
                "DOCKER_HOST": "unix:///nonexistent-layercfg-bench/docker.sock",
            },
        }
        live = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if engine_answers(live):
            cases["docker profile, engine up"] = {**common, "NETRA_DISCOVERY": "auto", "DOCKER_HOST": live}
        results = []
        for case, ours_env in cases.items():
            for _ in range(3):  # warm the OS caches and .pyc files
                timed(ours, ours_env, root)
                timed(theirs, theirs_env, root)
            a: list[float] = []
            b: list[float] = []
            peak_a: list[int] = []
            peak_b: list[int] = []
            for i in range(rounds):
                pair = [(ours, ours_env, a, peak_a), (theirs, theirs_env, b, peak_b)]
                for command, env, sink, peaks in pair if i % 2 == 0 else reversed(pair):
                    sink.append(timed(command, env, root, peaks))
            ratios = [x / y for x, y in zip(a, b, strict=True)]
            results.append(
                (
                    case,
                    statistics.median(a),
                    statistics.median(b),
                    statistics.median(ratios),
                    int(statistics.median(peak_a)),
                    int(statistics.median(peak_b)),
                )
            )
        return results


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


def against_environ_config(size: int, repeats: int) -> tuple[float, float]:
    """Median seconds of one load of ``size`` integer fields, every one set by an environment variable
    (the data environ-config can read), for ``layercfg.load()`` and ``environ.to_config()``, interleaved."""
    import warnings

    import attrs

    import layercfg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import environ  # environ-config

    env = {f"NETRA_F{i}": str(i + 3) for i in range(size)}
    theirs_schema = environ.config(prefix="NETRA")(
        type("Theirs", (), {f"f{i}": environ.var(default=i, converter=int) for i in range(size)})
    )
    ours_schema = attrs.make_class("Ours", {f"f{i}": layercfg.setting(i) for i in range(size)}, frozen=True)
    ours_schema.__annotations__ = {f"f{i}": int for i in range(size)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "profiles").mkdir()

        def ours() -> object:
            return layercfg.load(ours_schema, project_dir=root, environ=env).config

        def theirs() -> object:
            return environ.to_config(theirs_schema, environ=env)

        assert attrs.asdict(ours()) == attrs.asdict(theirs())  # the same values from the same data
        a: list[float] = []
        b: list[float] = []
        for i in range(repeats):
            pair = [(ours, a), (theirs, b)]
            for function, sink in pair if i % 2 == 0 else reversed(pair):
                start = time.perf_counter()
                function()
                sink.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    print(f"## Whole process ({args.rounds} interleaved pairs)\n")
    print("`layercfg explain backend_url` vs `dynaconf inspect -k BACKEND_URL` (discovery off, then the docker")
    print("profile without an engine, then with one when DOCKER_HOST answers); peak RSS from wait4.\n")
    print("| case | layercfg | dynaconf | ratio (median of pairs) | target | peak RSS layercfg | peak RSS dynaconf |")
    print("|---|---|---|---|---|---|---|")
    targets = {"discovery off": "<= 0.75x", "docker profile, no engine": "<= 1.00x"}
    for name, ours, theirs, ratio, mem_a, mem_b in whole_process(args.rounds):
        print(
            f"| {name} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | {ratio:.2f}x | {targets.get(name, '')} "
            f"| {mem_a / 1024:.1f} MiB | {mem_b / 1024:.1f} MiB |"
        )

    print(f"\n## In process: load() after imports ({args.repeats} repeats)\n")
    print("| fields | median | best | per field | target |")
    print("|---|---|---|---|---|")
    rows = in_process([10, 100, 1000], args.repeats)
    for size, median, best in rows:
        target = "<= 50 ms" if size == 1000 else ""
        print(f"| {size} | {median * 1000:.2f} ms | {best * 1000:.2f} ms | {median / size * 1e6:.1f} us | {target} |")
    ratio = rows[-1][1] / rows[1][1]
    print(f"\n1000 fields / 100 fields = {ratio:.1f}x (linear would be 10x)")

    print(f"\n## In process: 1000 fields from the environment, against environ-config ({args.repeats} pairs)\n")
    print("| fields | layercfg load() | environ.to_config() | ratio | target |")
    print("|---|---|---|---|---|")
    for size in (100, 1000):
        ours, theirs = against_environ_config(size, args.repeats)
        target = "<= 1.00x" if size == 1000 else ""
        print(f"| {size} | {ours * 1000:.2f} ms | {theirs * 1000:.2f} ms | {ours / theirs:.2f}x | {target} |")


if __name__ == "__main__":
    main()
