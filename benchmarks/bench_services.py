"""Load cost as the number of declared services grows: it must stay linear.

Run: .venv/bin/python benchmarks/bench_services.py [--repeats 30]

Schemas of 3, 6, 12 and 24 services are built with attrs.make_class: half HTTP services (URL,
host, port) and half database-like ones (URL, host, port, user, password, database, with the
compose variables that declare their credentials). The environment sets a legacy part variable
for every service (``SVCn_PORT``), so the endpoint step folds a part into every URL: the work
grows with the services, not only the field count. Each schema is timed in-process, after
imports and a warm-up load, discovery off; the table gives the median per load, the cost per
service, and the growth ratio from the previous row (linear: 2.0). The built-in TestEnvConfig
(6 services) is timed beside a custom schema of 3.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import attrs

import layercfg
from layercfg import Service, setting


def make_schema(services: int) -> type:
    fields: dict[str, object] = {}
    types: dict[str, object] = {}
    for n in range(services):
        name = f"svc{n}"
        if n % 2 == 0:
            fields[f"{name}_url"] = setting(
                f"http://localhost:{8000 + n}",
                schemes=("http",),
                aliases=(f"{name.upper()}_URL",),
                service=Service(
                    name, names=(name, f"dev-{name}"), container_port=8000, host=f"{name}_host", port=f"{name}_port"
                ),
            )
        else:
            fields[f"{name}_url"] = setting(
                f"postgresql://app@localhost:{5400 + n}/db",
                schemes=("postgresql",),
                service=Service(
                    name,
                    names=(name,),
                    container_port=5432,
                    host=f"{name}_host",
                    port=f"{name}_port",
                    user=f"{name}_user",
                    password=f"{name}_password",
                    database=f"{name}_db",
                    credentials_env=(("user", "POSTGRES_USER"), ("password", "POSTGRES_PASSWORD")),
                ),
            )
            fields[f"{name}_user"] = setting(None, aliases=(f"{name.upper()}_USER",))
            fields[f"{name}_password"] = setting(None, secret=True)
            fields[f"{name}_db"] = setting(None)
        fields[f"{name}_host"] = setting(None, aliases=(f"{name.upper()}_HOST",))
        fields[f"{name}_port"] = setting(None, aliases=(f"{name.upper()}_PORT",), minimum=1)
    for field in fields:
        types[field] = int | None if field.endswith("_port") else (str if field.endswith("_url") else str | None)
    # A class body with annotations, as a schema author writes it (make_class would leave types unset).
    namespace = {**fields, "__annotations__": types}
    return attrs.frozen(type(f"Services{services}", (), namespace))


def median_ms(schema: type | None, environ: dict[str, str], root: Path, repeats: int) -> float:
    layercfg.load(schema, profile=[], project_dir=root, environ=environ)  # warm: imports, field table
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layercfg.load(schema, profile=[], project_dir=root, environ=environ)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lcs-"))
    print(f"## load() by number of services (median of {options.repeats}, discovery off)\n")
    print("| services | fields in the load | median | per service | growth from previous row |")
    print("|---:|---:|---:|---:|---:|")
    previous = None
    results = {}
    for services in (3, 6, 12, 24):
        schema = make_schema(services)
        environ = {f"SVC{n}_PORT": str(9000 + n) for n in range(services)}
        info = layercfg.load(schema, profile=[], project_dir=root, environ=environ).trace.info
        assert info is not None
        ms = median_ms(schema, environ, root, options.repeats)
        results[services] = ms
        growth = f"{ms / previous:.2f}x" if previous else ""
        print(f"| {services} | {len(info.fields)} | {ms:.2f} ms | {ms / services * 1000:.0f} us | {growth} |")
        previous = ms
    builtin = median_ms(None, {"POSTGRES_PORT": "5999", "REDIS_PORT": "6999"}, root, options.repeats)
    print(
        f"\nbuilt-in TestEnvConfig (6 services): {builtin:.2f} ms; custom 3 services: {results[3]:.2f} ms; "
        f"ratio {builtin / results[3]:.2f}x"
    )
    print(f"6 services / 3 services (custom schemas): {results[6] / results[3]:.2f}x (linear, no fixed cost: 2.0x)")


if __name__ == "__main__":
    main()
