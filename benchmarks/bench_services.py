"""Load cost as the number of declared services grows, and `layercfg explain` as a whole process.

Run: .venv/bin/python benchmarks/bench_services.py [--rounds 200] [--pairs 60] [--save]

1. In process, after imports, discovery off: ``layercfg.load(schema, profile=[], project_dir=<empty
   dir>, environ=env)`` for schemas of 3, 6, 12 and 24 services built with ``attrs.make_class``.
   Services alternate HTTP (URL, host, port) and database-like (URL, host, port, user, password,
   database, with the compose variables that declare the credentials). The environment touches
   every service, so the endpoint step does real work for each: by service number mod 4, a legacy
   URL alias (HTTP, then database: every part is taken from the URL) or legacy part variables
   (HTTP port, then database port and user: folded into the URL). Each round times one load of
   every size, in alternating order; growth ratios (6/3, 12/6, 24/12) are medians of the per-round
   ratios. A separate pass times the endpoint step alone (``align_endpoints``, wrapped in this
   process) and the first load of fresh schema classes, which also builds the cached field table:
   a CLI run or a pytest session pays that once. The built-in ``TestEnvConfig`` (6 services) is
   timed in interleaved pairs with the 3-service schema, and cProfile shows where one load of 24
   services spends its time.
2. Whole process: ``python -m layercfg explain backend_url --profile local`` (built-in schema) and
   ``python -c "import layercfg.cli"`` as its floor, in interleaved rounds with ``python -c pass``
   (the interpreter alone), in an empty project directory; the ratio is the median of per-round
   ratios. Bytecode for every process is compiled first into a private PYTHONPYCACHEPREFIX, as
   after ``pip install .`` (pip byte-compiles what it installs): this machine sets
   PYTHONDONTWRITEBYTECODE=1, which would make every run recompile. The source tree is not written.
   What explain adds to the floor is also timed from inside the process (the built-in schema's
   module, the first explain, a second one), and ``import layercfg.cli`` is broken down with
   ``-X importtime`` (which does not see ``importlib.import_module``, hence the inside timing).

Prints Markdown tables; ``--save`` also writes them to benchmarks/results/ (git-ignored).
About 30 seconds on 2 idle cores with the defaults, about a minute on a busy machine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

import layercfg
from layercfg import Service, setting
from layercfg._model.fieldtable import schema_info
from layercfg._model.provenance import LayerKind
from layercfg._resolve import resolver as _resolve
from layercfg._resolve.endpoints import align_endpoints

ROOT = Path(__file__).resolve().parent.parent
SIZES = (3, 6, 12, 24)
PROCESS_TIMEOUT = 60


def make_schema(services: int, name: str | None = None) -> type:
    """A frozen attrs schema of ``services`` services, half HTTP and half database-like."""
    fields: dict[str, Any] = {}
    types: dict[str, Any] = {}
    for n in range(services):
        svc = f"svc{n}"
        upper = svc.upper()
        if n % 2 == 0:
            fields[f"{svc}_url"] = setting(
                f"http://localhost:{8000 + n}",
                schemes=("http",),
                aliases=(f"{upper}_URL",),
                service=Service(
                    svc, names=(svc, f"dev-{svc}"), container_port=8000, host=f"{svc}_host", port=f"{svc}_port"
                ),
            )
        else:
            fields[f"{svc}_url"] = setting(
                f"postgresql://app@localhost:{5400 + n}/db{n}",
                schemes=("postgresql",),
                aliases=(f"{upper}_URL",),
                service=Service(
                    svc,
                    names=(svc, f"dev-{svc}"),
                    container_port=5432,
                    host=f"{svc}_host",
                    port=f"{svc}_port",
                    user=f"{svc}_user",
                    password=f"{svc}_password",
                    database=f"{svc}_db",
                    credentials_env=(("user", "POSTGRES_USER"), ("password", "POSTGRES_PASSWORD")),
                ),
            )
            fields[f"{svc}_user"] = setting(None, aliases=(f"{upper}_USER",))
            fields[f"{svc}_password"] = setting(None, aliases=(f"{upper}_PASSWORD",), secret=True)
            fields[f"{svc}_db"] = setting(None, aliases=(f"{upper}_DB",))
            types |= {f"{svc}_user": str | None, f"{svc}_password": str | None, f"{svc}_db": str | None}
        fields[f"{svc}_host"] = setting(None, aliases=(f"{upper}_HOST",))
        fields[f"{svc}_port"] = setting(None, aliases=(f"{upper}_PORT",), minimum=1)
        types |= {f"{svc}_url": str, f"{svc}_host": str | None, f"{svc}_port": int | None}
    schema = attrs.make_class(name or f"Services{services}", fields, frozen=True)
    # make_class leaves every field's type None and load() then fails ("cannot convert to None"):
    # the types come from annotations, as in a class body.
    schema.__annotations__ = {field: types[field] for field in fields}
    return schema


def make_environ(services: int) -> dict[str, str]:
    """A legacy URL alias or legacy part variables for every service (see the module docstring)."""
    environ = {}
    for n in range(services):
        upper = f"SVC{n}"
        match n % 4:
            case 0:
                environ[f"{upper}_URL"] = f"http://127.0.0.1:{9000 + n}"
            case 1:
                environ[f"{upper}_URL"] = f"postgresql://u{n}:pw{n}@127.0.0.1:{6000 + n}/app{n}"
            case 2:
                environ[f"{upper}_PORT"] = str(9000 + n)
            case 3:
                environ[f"{upper}_PORT"] = str(6000 + n)
                environ[f"{upper}_USER"] = f"u{n}"
    return environ


def check_endpoint_work(loaded: layercfg.Loaded[Any], services: int) -> None:
    """Fail unless every service's URL was composed from its parts or its parts taken from the URL."""
    fields = loaded.trace.fields
    for n in range(services):
        svc = f"svc{n}"
        if n % 4 in (0, 1):  # URL from the environment: its parts follow it
            want = ("host", "port", "user", "password", "db") if n % 2 else ("host", "port")
            for part in want:
                trace = fields[f"{svc}_{part}"]
                assert trace.winner.origin.layer is LayerKind.DERIVED, (svc, part, trace.winner)
        else:  # a part from the environment: it is folded into the URL
            trace = fields[f"{svc}_url"]
            assert trace.winner.origin.layer is LayerKind.DERIVED, (svc, trace.winner)
            assert f":{(9000 if n % 2 == 0 else 6000) + n}" in str(trace.value), trace.value


def load_seconds(schema: type, environ: dict[str, str], root: Path) -> float:
    start = time.perf_counter()
    layercfg.load(schema, profile=[], project_dir=root, environ=environ)
    return time.perf_counter() - start


@contextmanager
def endpoint_step_timer() -> Iterator[list[float]]:
    """Time every call of the endpoint step during the block (wraps the name the resolver calls)."""
    spent: list[float] = []

    def timed(*args: Any) -> None:
        start = time.perf_counter()
        align_endpoints(*args)
        spent.append(time.perf_counter() - start)

    vars(_resolve)["align_endpoints"] = timed
    try:
        yield spent
    finally:
        vars(_resolve)["align_endpoints"] = align_endpoints


def in_process(rounds: int, cold: int, root: Path) -> tuple[list[str], dict[int, type], dict[int, dict[str, str]]]:
    schemas = {size: make_schema(size) for size in SIZES}
    environs = {size: make_environ(size) for size in SIZES}
    counts = {}
    for size in SIZES:
        loaded: layercfg.Loaded[Any] = layercfg.load(
            schemas[size], profile=[], project_dir=root, environ=environs[size]
        )  # warm
        check_endpoint_work(loaded, size)
        counts[size] = (len(attrs.fields(schemas[size])), len(loaded.trace.fields))

    samples: dict[int, list[float]] = {size: [] for size in SIZES}
    for index in range(rounds):
        for size in SIZES if index % 2 == 0 else reversed(SIZES):
            samples[size].append(load_seconds(schemas[size], environs[size], root))

    step: dict[int, float] = {}
    with endpoint_step_timer() as spent:
        for size in SIZES:
            spent.clear()
            for _ in range(max(rounds // 2, 5)):
                load_seconds(schemas[size], environs[size], root)
            step[size] = statistics.median(spent)

    first: dict[int, list[float]] = {size: [] for size in SIZES}
    for index in range(cold):
        for size in SIZES if index % 2 == 0 else reversed(SIZES):
            fresh = make_schema(size, f"Fresh{size}_{index}")  # a new class: its field table is not cached
            first[size].append(load_seconds(fresh, environs[size], root))

    rows = [
        f"## In process: load() by number of services ({rounds} rounds, discovery off)\n",
        "| services | schema fields | fields in the load | median load | per service | growth (median of "
        "per-round ratios) | linear by fields | endpoint step | first load (field table built) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for size in SIZES:
        median = statistics.median(samples[size])
        growth = linear = ""
        if previous is not None:
            ratio = statistics.median(a / b for a, b in zip(samples[size], samples[previous], strict=True))
            growth = f"{size}/{previous}: {ratio:.2f}x"
            linear = f"{counts[size][1] / counts[previous][1]:.2f}x"
        rows.append(
            f"| {size} | {counts[size][0]} | {counts[size][1]} | {median * 1000:.2f} ms | "
            f"{median / size * 1e6:.0f} us | {growth} | {linear} | {step[size] * 1e6:.0f} us "
            f"({step[size] / median:.0%}) | {statistics.median(first[size]) * 1000:.2f} ms |"
        )
        previous = size
    # A straight line through the medians: marginal cost per service, fixed cost, and how far off it they lie.
    medians = [statistics.median(samples[size]) for size in SIZES]
    line = statistics.linear_regression(SIZES, medians)
    off = max(abs(m / (line.intercept + line.slope * size) - 1) for size, m in zip(SIZES, medians, strict=True))
    rows.append(
        f"\nLeast-squares line through the medians: {line.slope * 1e6:.0f} us per service, fixed cost "
        f"{line.intercept * 1000:.2f} ms; the medians lie within {off:.0%} of it. 'linear by fields' is the "
        "growth in the number of fields in the load (schema fields + 9 engine settings + 2 settings per "
        "service); growth 2.00x per doubling would mean no fixed cost at all."
    )
    return rows, schemas, environs


def builtin_vs_custom(pairs: int, schema3: type, environ3: dict[str, str], root: Path) -> list[str]:
    builtin = layercfg.TestEnvConfig
    environ = {  # a legacy URL alias or legacy part variable for each of its six services
        "TEST_BACKEND_URL": "http://127.0.0.1:9000",
        "AUTH_SERVICE_PORT": "9001",
        "FRONTEND_PORT": "9002",
        "DATABASE_URL": "postgresql://u:pw@127.0.0.1:6000/app",
        "REDIS_PORT": "6999",
        "CLICKHOUSE_URL": "http://127.0.0.1:8999",
    }
    loaded = layercfg.load(builtin, profile=[], project_dir=root, environ=environ)
    assert loaded.config.backend_port == 9000, loaded.config  # taken from TEST_BACKEND_URL
    assert loaded.config.redis_url == "redis://localhost:6999/0", loaded.config  # REDIS_PORT folded in
    layercfg.load(schema3, profile=[], project_dir=root, environ=environ3)
    ours: list[float] = []
    custom: list[float] = []
    for index in range(pairs):
        pair = [(builtin, environ, ours), (schema3, environ3, custom)]
        for schema, env, sink in pair if index % 2 == 0 else reversed(pair):
            sink.append(load_seconds(schema, env, root))
    ratio = statistics.median(a / b for a, b in zip(ours, custom, strict=True))
    n_builtin = (len(attrs.fields(builtin)), len(loaded.trace.fields))
    n_custom = (len(attrs.fields(schema3)), len(schema_info(schema3, "NETRA_").fields))
    return [
        f"\n## In process: built-in TestEnvConfig vs a custom schema ({pairs} interleaved pairs)\n",
        "| schema | services | schema fields | fields in the load | median load | ratio (median of pairs) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| TestEnvConfig | 6 | {n_builtin[0]} | {n_builtin[1]} | {statistics.median(ours) * 1000:.2f} ms | "
        f"{ratio:.2f}x |",
        f"| custom, 3 services | 3 | {n_custom[0]} | {n_custom[1]} | {statistics.median(custom) * 1000:.2f} ms | 1 |",
    ]


STAGES = {  # function name -> what it is, for the cumulative breakdown
    "find_project": "find the project",
    "default_layer": "defaults layer",
    "legacy_environment_layer": "legacy-env layer",
    "environment_layer": "env layer",
    "merge": "merge",
    "_plain": "convert plain fields",
    "align_endpoints": "endpoint step",
    "_derived": "derived fields",
    "remember": "keep the receipt",
}


def profile_load(schema: type, environ: dict[str, str], root: Path, loads: int, top: int) -> list[str]:
    """The functions with the most own time over ``loads`` loads of ``schema`` (cProfile), and the stages."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(loads):
        layercfg.load(schema, profile=[], project_dir=root, environ=environ)
    profiler.disable()
    # (file, line, function) -> (primitive calls, calls, own time, cumulative time, callers)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = vars(pstats.Stats(profiler, stream=io.StringIO()))["stats"]
    total = sum(entry[2] for entry in stats.values())
    rows = [
        f"\n## Where one load of 24 services spends its time (cProfile, {loads} loads)\n",
        "| function (most own time) | calls per load | own time per load | share of own time |",
        "|---|---:|---:|---:|",
    ]
    for (filename, line, name), (_, calls, own, *_rest) in sorted(stats.items(), key=lambda item: -item[1][2])[:top]:
        where = Path(filename).name if filename.startswith("/") else filename
        rows.append(
            f"| `{name}` ({where}:{line}) | {calls / loads:.0f} | {own / loads * 1e6:.0f} us | {own / total:.0%} |"
        )
    cumulative = {
        name: entry[3]
        for (filename, _, name), entry in stats.items()
        if (name in STAGES and "layercfg" in filename) or (name == "load" and filename.endswith("_load.py"))
    }
    whole = cumulative.pop("load")
    rows.append(
        "\nStages, cumulative share of load() (profiler overhead inflates call-heavy stages): "
        + ", ".join(f"{STAGES[name]} {cumulative[name] / whole:.0%}" for name in STAGES if name in cumulative)
    )
    return rows


def clean_env(pycache: Path) -> dict[str, str]:
    """The environment without anything the built-in schema reads, bytecode cached in ``pycache``."""
    names = set(schema_info(layercfg.TestEnvConfig, "NETRA_").by_env_name)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in names and not k.startswith(("NETRA_", "PYTHONPYCACHEPREFIX", "DOCKER_"))
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


# explain's own work, timed inside one process after `import layercfg.cli`: the built-in schema's
# module (imported lazily, through importlib, which -X importtime does not report), then the
# first call (builds the field table, reads the profile, renders), then a second call in the
# same process (field table cached). Prints the three times and the modules the work imported.
EXPLAIN_INSIDE = """
import json, sys, time
import layercfg.cli
argv = ["explain", "backend_url", "--profile", "local"]
before = set(sys.modules)
start = time.perf_counter()
layercfg.TestEnvConfig
times = [time.perf_counter() - start]
for _ in range(2):
    start = time.perf_counter()
    layercfg.cli.main(argv, standalone_mode=False)
    times.append(time.perf_counter() - start)
print(json.dumps([times, sorted(set(sys.modules) - before)]), file=sys.stderr)
"""


def explain_inside(env: dict[str, str], cwd: Path) -> tuple[list[float], list[str]]:
    """([schema import, first explain, second explain] seconds, modules imported) of one process."""
    done = subprocess.run(
        [sys.executable, "-c", EXPLAIN_INSIDE],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_TIMEOUT,
    )
    times, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return times, modules


def import_times(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, int]:
    """Module -> cumulative import µs of the modules ``layercfg.cli`` imports itself (-X importtime).

    A module's cost goes to whoever imports it first (``typing`` to the ``layercfg`` package).
    """
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_TIMEOUT,
    )
    costs: dict[str, int] = {}
    for line in done.stderr.splitlines():  # children are printed before the module that imports them
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not cumulative.strip().isdigit():
            continue
        depth = (len(name) - len(name.lstrip())) // 2  # " name" at the top, two more spaces a level
        if depth == 1:
            costs[name.strip()] = int(cumulative)
        elif depth == 0 and name.strip() == "layercfg.cli":
            return {**costs, "layercfg.cli": int(cumulative)}
        elif depth == 0:
            costs = {}  # those were another top-level import's children
    raise SystemExit(f"no layercfg.cli in the -X importtime output:\n{done.stderr}")


def whole_process(rounds: int, inside: int, imports: int, tmp: Path) -> list[str]:
    project, pycache = tmp / "project", tmp / "pycache"
    project.mkdir()
    env = clean_env(pycache)
    python = sys.executable
    # Compile layercfg whole (lazily imported modules too) into the private cache; the warm-up
    # runs below fill it with the dependencies' bytecode.
    subprocess.run(
        [python, "-m", "compileall", "-q", str(ROOT / "layercfg")], env=env, check=True, timeout=PROCESS_TIMEOUT
    )
    explain = [python, "-m", "layercfg", "explain", "backend_url", "--profile", "local"]
    commands = {
        "explain": explain,
        "floor": [python, "-c", "import layercfg.cli"],
        "bare": [python, "-c", "pass"],
    }
    output = subprocess.run(explain, env=env, cwd=project, capture_output=True, text=True, check=True).stdout
    assert "local.toml" in output, output  # the profile set it, as with a user's `--profile local`
    for _ in range(3):  # fill the bytecode cache of every dependency, warm the OS caches
        for command in commands.values():
            timed(command, env, project)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for index in range(rounds):
        for name in names[index % 3 :] + names[: index % 3]:  # each command goes first in turn
            samples[name].append(timed(commands[name], env, project))
    med = {name: statistics.median(values) * 1000 for name, values in samples.items()}

    def paired(a: str, b: str) -> tuple[float, float]:
        pairs = list(zip(samples[a], samples[b], strict=True))
        return statistics.median(x / y for x, y in pairs), statistics.median((x - y) * 1000 for x, y in pairs)

    ratio, difference = paired("explain", "floor")
    bare_ratio, bare_difference = paired("floor", "bare")
    own = [explain_inside(env, project) for _ in range(inside)]
    schema, first, second = (statistics.median(times[i] for times, _ in own) * 1000 for i in range(3))
    imported = sorted({name for _, modules in own for name in modules})
    runs = [import_times(commands["floor"], env, project) for _ in range(imports)]
    names = sorted({name for run in runs for name in run}, key=lambda n: -statistics.median(r.get(n, 0) for r in runs))
    breakdown = [(name, statistics.median(run.get(name, 0) for run in runs) / 1000) for name in names]
    return [
        f"\n## Whole process ({rounds} interleaved rounds, empty project dir, bytecode cached)\n",
        "| command | median | ratio (median of per-round ratios) | difference (median of pairs) |",
        "|---|---:|---:|---:|",
        f"| `python -m layercfg explain backend_url --profile local` | {med['explain']:.1f} ms | "
        f"{ratio:.3f}x the floor | {difference:+.1f} ms |",
        f'| `python -c "import layercfg.cli"` (floor) | {med["floor"]:.1f} ms | '
        f"{bare_ratio:.2f}x the interpreter | {bare_difference:+.1f} ms |",
        f"| `python -c pass` (interpreter alone) | {med['bare']:.1f} ms | | |",
        f"\nexplain's own work inside the process, after `import layercfg.cli` (median of {inside} processes): "
        f"{schema:.2f} ms to import the built-in schema's module, then {first:.2f} ms for the first explain "
        f"(builds the field table, reads the profile, renders), {second:.2f} ms for a second one in the same "
        "process (field table cached).",
        "Modules that work imports: " + (", ".join(f"`{m}`" for m in imported) or "none") + ".",
        f"`import layercfg.cli` under -X importtime (median of {imports} runs, cumulative, each module charged to "
        "whoever imports it first): " + ", ".join(f"`{name}` {ms:.1f} ms" for name, ms in breakdown[:7]) + ".",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="in-process rounds (one load of every size each)")
    parser.add_argument("--cold", type=int, default=15, help="fresh schema classes per size (first-load column)")
    parser.add_argument("--pairs", type=int, default=60, help="whole-process rounds")
    parser.add_argument("--inside", type=int, default=15, help="processes timing explain from inside")
    parser.add_argument("--imports", type=int, default=7, help="-X importtime runs of the floor")
    parser.add_argument("--save", action="store_true", help="also write the tables to benchmarks/results/")
    args = parser.parse_args()

    started = time.perf_counter()
    header = f"Python {sys.version.split()[0]}, {sys.platform}, {os.cpu_count()} CPUs\n"
    print(header)
    out = [header]
    with tempfile.TemporaryDirectory(prefix="layercfg-bench-") as tmp:
        root = Path(tmp) / "empty"
        root.mkdir()
        rows, schemas, environs = in_process(args.rounds, args.cold, root)
        rows += builtin_vs_custom(args.rounds, schemas[3], environs[3], root)
        rows += profile_load(schemas[24], environs[24], root, loads=20, top=12)
        print("\n".join(rows), flush=True)
        out += rows
        rows = whole_process(args.pairs, args.inside, args.imports, Path(tmp))
        print("\n".join(rows))
        out += rows
    footer = f"\nTotal run time {time.perf_counter() - started:.0f} s."
    print(footer)
    out.append(footer)
    if args.save:
        results = ROOT / "benchmarks" / "results"
        results.mkdir(exist_ok=True)
        path = results / f"bench_services-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
        print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
