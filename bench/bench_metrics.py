"""One day's full metric snapshot (all crowds, all metrics) at 100k / 1M customers: PostgreSQL, SQLite, DuckDB.

    .venv/bin/python bench/bench_metrics.py --customers 100000 [--customers 1000000] [--day 2027-06-18]
        [--backends pg,sqlite,duckdb] [--backfill-days 30] [--backfill-backends pg] [--cache /work/bench-cache]
        [--reference]

Data: the synthetic 618 shop of bench/bench_crowds.py (same cache, same loaders: SQLite file
``<cache>/shop-<n>.db``, PostgreSQL database ``dacu_bench_<n>``, DuckDB ``<cache>/shop-<n>.duckdb``).

Per backend, for the sale-local day ``--day`` (Asia/Shanghai):
- one pass: count(*) over the day's events and the orders with a moment in the day
  (include/sql/metrics/one_pass_day.sql), the issue's yardstick (target: snapshot <= 3x on PostgreSQL);
- the incremental state (dacu/metrics/state.py): built from scratch, timed apart (per-customer state,
  RV activity spells); it is built once per data mark (import batches), not per day;
- the two SQL statements of a day's snapshot on that state (day/crowds.sql: every crowd's funnel and the
  warm-up view; day/store.sql: crowd sizes and RV counts), each timed; DuckDB runs the very same files
  (columnar reference) on the same state built by the same SQL;
- ``--reference``: also the from-scratch SQL (crowd_funnel, store_rv, warmup_day) the state path replaces;
- PostgreSQL and SQLite: the product path ``snapshot_and_publish`` (compute + Great Expectations + publish);
- ``--backfill-days N``: N consecutive single-day snapshots ending at ``--day`` through the product path,
  starting with no state (so the first day pays the build; the retro backfill; target <= 5 min for 30 days).
Not a test: run it by hand, sequentially, when the machine is quiet.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import text  # noqa: E402

from bench_crowds import DuckConn, _counts, ensure_csv, ensure_duckdb, ensure_pg, ensure_sqlite  # noqa: E402
from dacu.metrics.compute import local_midnight_utc, range_bounds  # noqa: E402
from dacu.warehouse.schema import metadata  # noqa: E402
from dacu.warehouse.sqlfiles import sql, sql_text  # noqa: E402

TZ = "Asia/Shanghai"
SALE = "bench_618_2027"
REFERENCE_DAY = date(2027, 5, 24)
ACTIVE_RV_DAYS = 90
STATEMENTS = ("metrics/day/crowds", "metrics/day/store")
REFERENCE = ("metrics/crowd_funnel", "metrics/store_rv", "metrics/warmup_day")
STATE_TABLES = ("metric_state_builds", "metric_customer_state", "metric_offindex_rows", "metric_active_spells",
                "metric_day_calendar")


def binds_for(day: date) -> dict[str, dict]:
    """The binds compute_snapshot / compute_warmup pass for a single day."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(TZ)
    start_at, end_at = range_bounds(day, day, TZ)
    ref_at = local_midnight_utc(REFERENCE_DAY, zone)
    day_binds = {"start_at": start_at, "end_at": end_at, "ref_at": ref_at, "tz": TZ, "window_days": ACTIVE_RV_DAYS,
                 "start_day": day.toordinal(), "end_day": day.toordinal() + 1}
    return {
        "metrics/one_pass_day": {"start_at": start_at, "end_at": end_at},
        "metrics/day/crowds": day_binds,
        "metrics/day/store": day_binds,
        "metrics/crowd_funnel": {"start_at": start_at, "end_at": end_at, "ref_at": ref_at},
        "metrics/store_rv": {"start_at": start_at, "end_at": end_at,
                             "rv_from": local_midnight_utc(day - timedelta(days=ACTIVE_RV_DAYS), zone),
                             "act_from": local_midnight_utc(day + timedelta(days=1 - ACTIVE_RV_DAYS), zone)},
        "metrics/warmup_day": {"start_at": start_at, "end_at": end_at, "ref_at": ref_at},
    }


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_sql(label: str, run, day: date, reference: bool, build=None) -> dict:
    binds = binds_for(day)
    res = {"backend": label}
    res["one_pass"], rows = _timed(lambda: run("metrics/one_pass_day", binds["metrics/one_pass_day"]))
    res["one_pass_rows"] = int(rows[0][0])
    if build is not None:
        res["build"] = build()
    for name in STATEMENTS + (REFERENCE if reference else ()):
        res[name], out = _timed(lambda name=name: run(name, binds[name]))
        res[name + ":rows"] = len(out)
    res["sql_total"] = sum(res[n] for n in STATEMENTS)
    if reference:
        res["ref_total"] = sum(res[n] for n in REFERENCE)
    print(f"  {label}: one-pass {res['one_pass']:.2f}s ({res['one_pass_rows']:,} rows); "
          + ", ".join(f"{n.split('/')[-1]} {res[n]:.2f}s" for n in STATEMENTS + (REFERENCE if reference else ()))
          + (f"; state build {res['build']}" if build is not None else ""), flush=True)
    return res


def build_state(engine) -> dict:
    """Build the incremental state from scratch; seconds of each part (it is kept for the day queries)."""
    from dacu.metrics.state import ensure_state

    t0 = time.perf_counter()
    st = ensure_state(engine, TZ, ACTIVE_RV_DAYS, since_day=REFERENCE_DAY, rebuild=True)
    return {"customers": st.customers.seconds, "spells": st.spells.seconds, "total": time.perf_counter() - t0,
            "state_rows": st.customers.rows, "spell_rows": st.spells.rows}


def drop_state(engine) -> None:
    """Empty the state tables (the bench's own rows; TRUNCATE on PostgreSQL leaves no dead tuples)."""
    with engine.begin() as conn:
        for t in STATE_TABLES:
            conn.exec_driver_sql(f"TRUNCATE {t}" if conn.dialect.name == "postgresql" else f"DELETE FROM {t}")


def duck_build_state(con, dc) -> dict:
    """The same build SQL on DuckDB, into the bench's own state tables (dropped after the run)."""
    import pandas as pd
    from bench_crowds import _duck_type
    from dacu.metrics.state import calendar_rows

    for t in STATE_TABLES:
        cols = metadata.tables[t].columns
        con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(f"CREATE TABLE {t} ({', '.join(f'{c.name} {_duck_type(c)}' for c in cols)})")
    cal = pd.DataFrame(list(calendar_rows(TZ)))
    con.register("cal_df", cal)
    con.execute("INSERT INTO metric_day_calendar SELECT tz, utc_date, day0, split1, day1, split2, day2 FROM cal_df")
    con.unregister("cal_df")
    out = {}
    t0 = time.perf_counter()
    dc.execute(text(sql_text("metrics/state/build_customers")))
    dc.execute(text(sql_text("metrics/state/build_offindex")))
    out["customers"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    from zoneinfo import ZoneInfo
    since_at = local_midnight_utc(REFERENCE_DAY - timedelta(days=ACTIVE_RV_DAYS), ZoneInfo(TZ))
    dc.execute(text(sql_text("metrics/state/build_spells")),
               {"tz": TZ, "window_days": ACTIVE_RV_DAYS, "since_at": since_at})
    out["spells"] = time.perf_counter() - t1
    out["total"] = time.perf_counter() - t0
    return out


def duck_drop_state(con) -> None:
    for t in STATE_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {t}")


def sqlalchemy_runner(engine):
    from dacu.metrics.compute import _run        # the product's own binding (typed by value)

    def run(name: str, params: dict):
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL jit = off")     # as the product path does (every statement)
                conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
            return [tuple(r.values()) for r in _run(conn, name, **params)]
    return run


def product_path(engine, day: date, run_key: str) -> dict:
    from dacu.metrics.publish import snapshot_and_publish

    return snapshot_and_publish(engine, sale_id=SALE, reference_day=REFERENCE_DAY, tz=TZ, day_from=day, day_to=day,
                                active_rv_days=ACTIVE_RV_DAYS, run_key=run_key, validated_at=datetime(2027, 7, 1))


def backfill(engine, last_day: date, days: int) -> tuple[float, int]:
    drop_state(engine)                          # a cold start: the first day builds the state
    t0 = time.perf_counter()
    published = 0
    for i in range(days):
        d = last_day - timedelta(days=days - 1 - i)
        published += bool(product_path(engine, d, f"bench-backfill:{d}")["published"])
    return time.perf_counter() - t0, published


def run_size(n: int, args) -> list[str]:
    from dacu.warehouse.connect import make_engine

    cache = Path(args.cache)
    db = ensure_sqlite(cache, n)
    backends = args.backends.split(",")
    day = date.fromisoformat(args.day)
    sq = make_engine(f"sqlite:///{db}")
    metadata.create_all(sq)                    # the metric tables, if the cached file predates them
    with sq.connect() as c:
        want = _counts(lambda q: c.execute(text(q)).scalar())
    print(f"\n## {n:,} customers ({want['orders']:,} orders, {want['events']:,} events), day {day} ({TZ})",
          flush=True)
    results, product, backfills = [], {}, {}
    csv_dir = ensure_csv(cache, n, db) if ("pg" in backends or "duckdb" in backends) else None
    if "pg" in backends:
        url = ensure_pg(n, csv_dir, want)
        pg = make_engine(url)
        metadata.create_all(pg)
        results.append(bench_sql("PostgreSQL", sqlalchemy_runner(pg), day, args.reference, lambda: build_state(pg)))
        product["PostgreSQL"] = _timed(lambda: product_path(pg, day, f"bench:{day}"))
        if args.backfill_days and "pg" in args.backfill_backends.split(","):
            backfills["PostgreSQL"] = backfill(pg, day, args.backfill_days)
        if not args.keep_state:
            drop_state(pg)
        pg.dispose()
    if "sqlite" in backends:
        results.append(bench_sql("SQLite", sqlalchemy_runner(sq), day, args.reference, lambda: build_state(sq)))
        product["SQLite"] = _timed(lambda: product_path(sq, day, f"bench:{day}"))
        if args.backfill_days and "sqlite" in args.backfill_backends.split(","):
            backfills["SQLite"] = backfill(sq, day, args.backfill_days)
        if not args.keep_state:
            drop_state(sq)
    sq.dispose()
    if "duckdb" in backends:
        try:
            import duckdb
        except ImportError:
            print("  DuckDB: skipped (not installed; dev-only reference)")
        else:
            con = ensure_duckdb(cache, n, csv_dir, want)
            dc = DuckConn(con)
            results.append(bench_sql(f"DuckDB {duckdb.__version__}", lambda name, p: dc.execute(text(sql_text(name)), p),
                                     day, args.reference, lambda: duck_build_state(con, dc)))
            duck_drop_state(con)
            con.close()
    load = os.getloadavg()
    lines = [f"### {n:,} customers ({want['orders']:,} orders, {want['events']:,} events), "
             f"day {day} ({TZ}), {time.strftime('%Y-%m-%d %H:%M')}, load average at the end "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)", "",
             "| seconds | " + " | ".join(r["backend"] for r in results) + " |",
             "|---|" + "---|" * len(results)]
    lines.append(f"| one pass: count(*) over the day's events + orders ({results[0]['one_pass_rows']:,} rows) | "
                 + " | ".join(f"{r['one_pass']:.2f}" for r in results) + " |")
    for name in STATEMENTS:
        lines.append(f"| {name.split('/', 1)[1]}.sql | " + " | ".join(f"{r[name]:.2f}" for r in results) + " |")
    lines.append("| day snapshot SQL total (on the state) | "
                 + " | ".join(f"{r['sql_total']:.2f}" for r in results) + " |")
    lines.append("| = × one pass | " + " | ".join(f"{r['sql_total'] / r['one_pass']:.1f}x" for r in results) + " |")
    if args.reference:
        for name in REFERENCE:
            lines.append(f"| reference {name.split('/')[1]}.sql (from scratch) | "
                         + " | ".join(f"{r[name]:.2f}" for r in results) + " |")
        lines.append("| reference SQL total = × one pass | "
                     + " | ".join(f"{r['ref_total']:.2f} = {r['ref_total'] / r['one_pass']:.1f}x" for r in results)
                     + " |")
    lines.append("| state build, once per data mark: per-customer state | "
                 + " | ".join(f"{r['build']['customers']:.2f}" for r in results) + " |")
    lines.append("| state build: RV activity spells (tz, 90 days) | "
                 + " | ".join(f"{r['build']['spells']:.2f}" for r in results) + " |")
    lines.append("| state build total = × one pass | "
                 + " | ".join(f"{r['build']['total']:.2f} = {r['build']['total'] / r['one_pass']:.1f}x" for r in results)
                 + " |")
    lines.append("")
    for label, (secs, out) in product.items():
        lines.append(f"- {label} product path, state already built (compute + GX validation + publish): {secs:.2f}s, "
                     f"published {out['published']}, {out['expectations_evaluated']} expectations")
    for label, (secs, published) in backfills.items():
        lines.append(f"- {label} backfill of {args.backfill_days} days (product path, sequential, starting with no "
                     f"state: includes one state build): {secs:.1f}s ({published} published; target <= 300 s)")
    duck = next((r for r in results if r["backend"].startswith("DuckDB")), None)
    if duck:
        for r in results:
            if r is not duck:
                lines.append(f"- {r['backend']} / DuckDB on the same day SQL: {r['sql_total'] / duck['sql_total']:.1f}x")
    lines.append("")
    print("\n".join(lines), flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, action="append", help="shop size (repeatable; default 100000)")
    p.add_argument("--day", default="2027-06-18", help="sale-local day to snapshot (the 618 shop's peak)")
    p.add_argument("--cache", default="/work/bench-cache")
    p.add_argument("--backends", default="pg,sqlite,duckdb")
    p.add_argument("--backfill-days", type=int, default=30, help="0 = no backfill")
    p.add_argument("--backfill-backends", default="pg")
    p.add_argument("--reference", action="store_true", help="also time the from-scratch reference SQL")
    p.add_argument("--keep-state", action="store_true", help="keep the state rows in the bench databases")
    p.add_argument("--results", default=str(ROOT / "bench" / "bench_metrics_results.md"),
                   help="markdown file the figures are appended to")
    args = p.parse_args(argv)
    out: list[str] = []
    for n in args.customers or [100_000]:
        out += run_size(n, args)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
