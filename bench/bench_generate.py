"""Benchmark ``dacu data generate``: time, rows/s and peak memory per backend.

    .venv/bin/python bench/bench_generate.py                    # 1M customers into a fresh SQLite file
    .venv/bin/python bench/bench_generate.py --customers 100000 --postgres

Each backend runs in its own child process so its peak RSS (getrusage) is its own.
PostgreSQL: a fresh database is created on DACU_BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid

PG_SERVER = os.environ.get("DACU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _run_one(backend: str, customers: int, seed: int, progress: bool) -> dict:
    from dacu.synth import generate
    from dacu.warehouse import init_schema, make_engine

    with tempfile.TemporaryDirectory(prefix="dacu-bench-") as tmp:
        dbname = None
        if backend == "sqlite":
            url = f"sqlite:///{os.path.join(tmp, 'warehouse.db')}"
        else:
            import psycopg

            dbname = f"dacu_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_SERVER, autocommit=True) as cx:
                cx.execute(f'CREATE DATABASE "{dbname}"')  # generated name, not user input
            url = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"
        try:
            engine = make_engine(url)
            init_schema(engine)
            result = generate(engine, customers=customers, seed=seed, progress=sys.stderr if progress else None)
            engine.dispose()
            size = os.path.getsize(os.path.join(tmp, "warehouse.db")) if backend == "sqlite" else None
        finally:
            if dbname:
                import psycopg

                with psycopg.connect(PG_SERVER, autocommit=True) as cx:
                    cx.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    out = result.as_dict()
    out["backend"] = backend
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    # CPU seconds next to wall seconds: on a shared 2-core machine the wall time says more about
    # the neighbours than about the generator.
    out["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    out["db_bytes"] = size
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--postgres", action="store_true", help="also run into a fresh PostgreSQL database")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_run_one(args.child, args.customers, args.seed, not args.quiet)))
        return 0
    results = []
    for backend in ["sqlite"] + (["postgres"] if args.postgres else []):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", backend,
               "--customers", str(args.customers), "--seed", str(args.seed)] + (["--quiet"] if args.quiet else [])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    head = f"{'backend':<9}{'customers':>11}{'orders':>12}{'order_items':>13}{'events':>12}{'all rows':>12}" \
           f"{'seconds':>9}{'CPU s':>8}{'rows/s':>10}{'peak RSS MB':>13}"
    print(head)
    print("-" * len(head))
    for r in results:
        c = r["counts"]
        print(f"{r['backend']:<9}{c['customers']:>11,}{c['orders']:>12,}{c['order_items']:>13,}{c['events']:>12,}"
              f"{r['rows']:>12,}{r['seconds']:>9.1f}{r['cpu_seconds']:>8.0f}{r['rows_per_second']:>10,}"
              f"{r['peak_rss_mb']:>13,.0f}")
    for r in results:
        if r["db_bytes"]:
            print(f"sqlite file: {r['db_bytes'] / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
