"""All crowds of one 618 gate at 100k / 1M customers: PostgreSQL, SQLite, DuckDB (reference).

    .venv/bin/python bench/bench_crowds.py --customers 100000 [--customers 1000000]
        [--at "2027-06-19 20:00"] [--cache /work/bench-cache] [--backends pg,sqlite,duckdb] [--reference]

Data: the synthetic shop (dacu.synth, seed 7, shaped by include/playbooks/tmall_618_2027.yaml;
~10 orders and ~30 events per customer) is generated once into ``<cache>/shop-<n>.db`` (SQLite),
exported once to CSV with the sqlite3 CLI, and loaded from those CSVs into PostgreSQL
(database ``dacu_bench_<n>``, indexes rebuilt after COPY, VACUUM ANALYZE; then orders and events
stored in time order, as daily imports leave them in production: time_order_pg) and DuckDB
(``<cache>/shop-<n>.duckdb``). DuckDB is bench-only (``pip install duckdb``); it is skipped with a
message when missing. Its SQLite extension needs a download, hence the CSV route.

Per backend it times, at the gate moment:
- two one-pass references: ``raw`` = count(*) over the data the feature crowds are defined on
  (orders up to the moment, 30 days of events, customers: include/sql/crowds/features/one_pass_count.sql)
  and ``gate`` = count(*) over what a gate reads once the day's base layer exists (the base rows,
  the day's events, the orders of the customers changed since 00:00: one_pass_gate.sql);
- the day's base layer build (base.sql, forced; once per sale-local day and data mark);
- the day's history parts of the timed crowds that have one (part_<crowd>.sql, forced; once per
  day: the phase DAG's crowd_features task builds them with the base layer, before the gates);
- the gate layer build (gate.sql, forced; once per gate moment);
- every catalogue crowd as the product runs it (feature SQL where the rows answer it, else the
  crowd's reference SQL), each timed alone (PostgreSQL: with JIT off, as GateEvaluator reads);
and totals for the crowds the 618 playbook uses (*) and for the whole catalogue. The ratios it
prints say what they compare. ``--reference`` also times each crowd's reference SQL (the old path).
Not a test: run it by hand; the machine is shared, so run when it is quiet (it prints the load).
"""
from __future__ import annotations

import argparse
import re
from contextlib import contextmanager
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from dacu.crowds.catalog import CROWDS  # noqa: E402
from dacu.crowds.evaluate import (  # noqa: E402
    CrowdRef, GateEvaluator, SaleContext, crowd_expr, crowd_part, feature_plan, run_crowd, run_crowd_features,
    run_repurchase_due_bounded, sale_context, statement, typed_text,
)
from dacu.crowds.bounds import CrowdContext  # noqa: E402
from dacu.crowds.features import (  # noqa: E402
    BATCH_SIZE, EVENT_DAYS, base_binds, base_layer, batch_condition, batch_query, drop_features, ensure_base,
    ensure_gate, ensure_part, gate_binds, gate_layer,
)
from dacu.warehouse.schema import metadata  # noqa: E402

PLAYBOOK = ROOT / "include" / "playbooks" / "tmall_618_2027.yaml"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATA_TABLES = ("customers", "skus", "orders", "order_items", "events", "coupons", "coupon_grants", "import_batches")
# params for the catalogue crowds that have required ones (the 618 playbook's where it has them)
REQUIRED = {
    "category_interest": {"categories": ["面部护肤", "彩妆"]},
    "buyers_not_members": {"since": "2027-05-05"},
    "closed_unpaid_potentials": {"start": "2027-06-16", "end": "2027-06-19"},
    "last_year_sale_buyers": {"start": "2026-05-20", "end": "2026-06-20"},
    "sale_buyers": {"start": "2027-05-20", "end": "2027-06-20"},
    "sale_new_customers": {"start": "2027-05-20", "end": "2027-06-20"},
    "paid_in_sale": {"since": "2027-06-16 00:00"},
}


# --- data ------------------------------------------------------------------------------------------

def ensure_sqlite(cache: Path, n: int) -> Path:
    path = cache / f"shop-{n}.db"
    if not path.exists():
        from dacu.synth.generate import generate, load_playbook_file
        from dacu.warehouse import init_schema, make_engine

        print(f"generating {n:,} customers into {path} (one-off) ...", flush=True)
        eng = make_engine(f"sqlite:///{path}")
        init_schema(eng)
        generate(eng, customers=n, seed=7, playbook=load_playbook_file(PLAYBOOK))
        eng.dispose()
    return path


def ensure_csv(cache: Path, n: int, db: Path) -> Path:
    folder = cache / f"csv-{n}"
    folder.mkdir(exist_ok=True)
    for t in DATA_TABLES:
        out = folder / f"{t}.csv"
        if out.exists():
            continue
        cols = ", ".join(c.name for c in metadata.tables[t].columns)
        tmp = out.with_suffix(".part")
        with tmp.open("wb") as fh:
            subprocess.run(["sqlite3", "-csv", str(db), f"SELECT {cols} FROM {t}"], stdout=fh, check=True)
        tmp.rename(out)
    return folder


def missing_indexes(engine) -> None:
    """Indexes the schema has and a cached shop (loaded by an older schema) lacks."""
    for t in DATA_TABLES:
        for idx in metadata.tables[t].indexes:
            idx.create(engine, checkfirst=True)


def _counts(conn_exec) -> dict[str, int]:
    return {t: conn_exec(f"SELECT COUNT(*) FROM {t}") for t in ("customers", "orders", "events")}


def ensure_pg(n: int, csv_dir: Path, want: dict[str, int]) -> str:
    import psycopg

    name = f"dacu_bench_{n}"
    url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    admin = PG_SERVER.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as cx:
        exists = cx.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        eng = create_engine(url)
        try:
            with eng.connect() as c:
                if _counts(lambda q: c.execute(text(q)).scalar()) == want:
                    missing_indexes(eng)
                    time_order_pg(url)
                    return url
        except Exception:   # noqa: BLE001 - half-loaded: reload
            pass
        finally:
            eng.dispose()
    print(f"loading PostgreSQL {name} from {csv_dir} (one-off) ...", flush=True)
    with psycopg.connect(admin, autocommit=True) as cx:
        cx.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cx.execute(f'CREATE DATABASE "{name}"')
    eng = create_engine(url)
    metadata.create_all(eng)
    with eng.begin() as conn:
        for t in DATA_TABLES:
            for idx in metadata.tables[t].indexes:
                idx.drop(conn)
    eng.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as cx:
        for t in DATA_TABLES:
            cols = ", ".join(c.name for c in metadata.tables[t].columns)
            with cx.cursor() as cur, cur.copy(f"COPY {t} ({cols}) FROM STDIN (FORMAT csv)") as cp, \
                    (csv_dir / f"{t}.csv").open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
    eng = create_engine(url)
    with eng.begin() as conn:
        for t in DATA_TABLES:
            for idx in metadata.tables[t].indexes:
                idx.create(conn)
    eng.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as cx:
        cx.execute("VACUUM ANALYZE")
    time_order_pg(url)
    return url


# The synthetic shop is generated customer by customer, so a plain COPY stores each customer's orders
# and events together and a day's rows end up scattered over the whole heap. In production both
# tables grow by daily imports (dacu.ingest appends each import's rows), so their rows sit roughly in
# time order: orders by created_at, events by occurred_at. The bench stores them that way (CLUSTER,
# once per database; the table comment records it) so that reading a day's rows through the time
# indexes costs what it costs in production. bench_crowds_results.md has figures for both layouts.
TIME_ORDER = {"orders": "created_at", "events": "occurred_at"}
TIME_ORDER_MARK = "dacu bench layout: time order"


def time_order_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as cx:
        for t, col in TIME_ORDER.items():
            if cx.execute("SELECT obj_description(%s::regclass, 'pg_class')", (t,)).fetchone()[0] == TIME_ORDER_MARK:
                continue
            print(f"storing {t} in {col} order (CLUSTER, one-off) ...", flush=True)
            cx.execute("SET maintenance_work_mem = '1GB'")
            cx.execute(f"CREATE INDEX IF NOT EXISTS bench_{t}_time_order ON {t} ({col})")
            cx.execute(f"CLUSTER {t} USING bench_{t}_time_order")
            cx.execute(f"DROP INDEX bench_{t}_time_order")
            cx.execute(f"VACUUM (ANALYZE) {t}")   # all-visible pages: seq scans skip per-row visibility checks
            cx.execute(f"COMMENT ON TABLE {t} IS '{TIME_ORDER_MARK}'")


def _duck_type(col) -> str:
    from sqlalchemy.dialects import postgresql

    return col.type.compile(dialect=postgresql.dialect()).replace("WITHOUT TIME ZONE", "")


def ensure_duckdb(cache: Path, n: int, csv_dir: Path, want: dict[str, int]):
    import duckdb

    path = cache / f"shop-{n}.duckdb"
    if path.exists():
        con = duckdb.connect(str(path))
        try:
            if _counts(lambda q: con.execute(q).fetchone()[0]) == want:
                duck_feature_tables(con)
                return con
        except duckdb.Error:
            pass
        con.close()
        path.unlink()
    print(f"loading DuckDB {path} from {csv_dir} (one-off) ...", flush=True)
    con = duckdb.connect(str(path))
    duck_feature_tables(con)
    for t in DATA_TABLES:
        cols = metadata.tables[t].columns
        con.execute(f"CREATE TABLE {t} ({', '.join(f'{c.name} {_duck_type(c)}' for c in cols)})")
        types = ", ".join(f"'{c.name}': '{_duck_type(c)}'" for c in cols)
        con.execute(f"INSERT INTO {t} SELECT * FROM read_csv('{csv_dir / (t + '.csv')}', header=false, "
                    f"columns={{{types}}}, nullstr='')")
    return con


def duck_feature_tables(con) -> None:
    """The bench's own feature tables in the DuckDB file (the cached shop tables are not touched)."""
    for t in ("crowd_feature_rows", "crowd_feature_layers", "crowd_part_rows"):
        cols = metadata.tables[t].columns
        con.execute(f"DROP TABLE IF EXISTS {t}")             # derived, and its columns may have changed
        con.execute(f"CREATE TABLE {t} ({', '.join(f'{c.name} {_duck_type(c)}' for c in cols)})")


# --- running the product's SQL on DuckDB ------------------------------------------------------------

_BIND = re.compile(r"(?<![:\w]):(\w+)")


class DuckConn:
    """Enough of a SQLAlchemy Connection for run_crowd / run_crowd_features: the same SQL files."""

    def __init__(self, con) -> None:
        self.con = con

    def execute(self, stmt, params=None):
        params = dict(params or {})
        sql = stmt.text if hasattr(stmt, "text") else stmt.element.text     # TextClause / TextualSelect
        for k, v in list(params.items()):
            if isinstance(v, (list, tuple)):
                names = [f"{k}_{i}" for i in range(len(v))]
                sql = re.sub(rf"(?<![:\w]):{k}\b", "(" + ", ".join(f":{m}" for m in names) + ")", sql)
                params.pop(k)
                params.update(zip(names, v))
        sql = _BIND.sub(lambda m: f"${m.group(1)}", sql)
        used = set(re.findall(r"\$(\w+)", sql))
        return _Rows(self.con.execute(sql, {k: v for k, v in params.items() if k in used}).fetchall())


class _Rows(list):
    def all(self):
        return list(self)

    def one(self):
        return self[0]

    def scalar(self):
        return self[0][0] if self else None


# --- timing -----------------------------------------------------------------------------------------

def playbook_refs() -> set[CrowdRef]:
    from dacu.synth.generate import load_playbook_file

    pb = load_playbook_file(PLAYBOOK)
    refs: set[CrowdRef] = set()
    for s in pb.strategies:
        if getattr(s, "crowd", None) is not None:
            e = crowd_expr(s.crowd)
            refs |= {e.base, *e.intersect, *e.exclude}
    return refs


def catalogue_refs() -> list[CrowdRef]:
    return [crowd_expr({"base": name, "params": REQUIRED.get(name, {})}).base for name in sorted(CROWDS)]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def product_crowd(conn, ref: CrowdRef, ctx: CrowdContext) -> frozenset[str]:
    """One crowd as a segment task reads it (GateEvaluator.crowd, layers built)."""
    if feature_plan(ref, ctx) is not None:
        return run_crowd_features(conn, ref, ctx)
    if ref.base == "repurchase_due":
        return run_repurchase_due_bounded(conn, ref, ctx)
    return run_crowd(conn, ref, ctx)


def together_duck(conn, refs: list[CrowdRef], ctx: CrowdContext) -> dict:
    """GateEvaluator.prefetch + crowd on DuckDB (no SQLAlchemy engine there): the simple feature
    crowds in batched passes (features.batch_query), the others one by one; same SQL."""
    simple = [(r, p) for r in refs if (p := feature_plan(r, ctx)) and batch_condition(p[0])]
    out: dict = {}
    for start in range(0, len(simple), BATCH_SIZE):
        chunk = simple[start:start + BATCH_SIZE]
        sql, binds = batch_query([p for _r, p in chunk])
        rows = conn.execute(typed_text(sql, binds), binds)
        for i, (r, _p) in enumerate(chunk):
            out[r] = frozenset(str(c) for c, m in rows if int(m) >> i & 1)
    for r in refs:
        if r not in out:
            out[r] = product_crowd(conn, r, ctx)
    return out


def day_parts(refs: list[CrowdRef], ctx: CrowdContext) -> list:
    """The distinct history parts (features.part_plan) the crowds read: built once per day."""
    return list({p.layer: p for r in refs if (p := crowd_part(r, ctx)) is not None}.values())


def bench_backend(label: str, conn_factory, base_fn, parts_fn, gate_fn, one_pass_fn, one_pass_gate_fn,
                  refs: list[CrowdRef], ctx: CrowdContext, reference: bool, together_fn,
                  gate_refs: set[CrowdRef], drop_gate_fn=None) -> dict:
    res: dict = {"backend": label, "crowds": {}, "ref_crowds": {}}
    # the two figures of the target's ratio are each the best of ARGS.repeat runs (the machine is
    # shared: single runs of the same step differed by 2x); every run is printed
    runs = [_timed(one_pass_fn) for _ in range(ARGS.repeat)]
    res["one_pass_runs"] = [t for t, _n in runs]
    res["one_pass"], res["one_pass_rows"] = min(runs, key=lambda r: r[0])
    res["base"], res["base_rows"] = _timed(base_fn)
    # the history parts of the crowds that have one (the DAG's crowd_base task builds the playbook's)
    res["parts"], res["parts_rows"] = _timed(parts_fn)
    res["gate"], res["gate_rows"] = _timed(gate_fn)
    res["one_pass_gate"], res["one_pass_gate_rows"] = _timed(one_pass_gate_fn)
    alone: dict[CrowdRef, frozenset[str]] = {}       # the gate's crowds, each by its own query
    with conn_factory() as conn:
        for ref in refs:
            secs, members = _timed(lambda ref=ref: product_crowd(conn, ref, ctx))
            res["crowds"][ref] = (secs, len(members), feature_plan(ref, ctx) is not None)
            if ref in gate_refs:
                alone[ref] = members
            if reference:
                res["ref_crowds"][ref] = _timed(lambda ref=ref: run_crowd(conn, ref, ctx))[0]
    # the playbook's crowds together, as segment_gate evaluates a gate (GateEvaluator.prefetch). With
    # drop_gate_fn the gate layer is dropped first and the evaluator builds it (as the gate's first
    # segment task does, the day's base and parts current): the time includes the gate layer
    gate_list = [r for r in refs if r in gate_refs]
    res["together_has_gate"] = drop_gate_fn is not None
    res["together_runs"] = []
    for _ in range(ARGS.repeat):
        if drop_gate_fn is not None:
            drop_gate_fn()
        secs, together = _timed(lambda: together_fn(gate_list))
        res["together_runs"].append(secs)
    res["together"] = min(res["together_runs"])
    # the same members, not only the same sizes: the batched sets against each crowd's own query
    bad = [r.label() for r in gate_list if frozenset(together[r]) != alone[r]]
    if bad:
        raise SystemExit(f"{label}: batched crowds differ from one by one: {bad}")
    print(f"  {label}: one-pass raw {res['one_pass']:.2f}s, gate reads {res['one_pass_gate']:.2f}s; base "
          f"{res['base']:.2f}s parts {res['parts']:.2f}s gate {res['gate']:.2f}s "
          f"crowds {sum(v[0] for v in res['crowds'].values()):.2f}s "
          f"(load {_load()})", flush=True)
    return res


def _load() -> str:
    import os

    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_engine(name: str, engine, connect, args, refs, ctx, gate, one_pass: dict, one_gate: dict) -> dict:
    """bench_backend over one SQLAlchemy engine (PostgreSQL or SQLite): the product's own layer
    builders and GateEvaluator, the feature tables dropped before (and after, unless --keep)."""
    drop_features(engine, ctx.sale_id)
    result = bench_backend(
        name, connect, lambda: ensure_base(engine, ctx, rebuild=True).rows,
        lambda: sum(ensure_part(engine, ctx, p, rebuild=True).rows for p in day_parts(refs, ctx)),
        lambda: ensure_gate(engine, ctx, rebuild=True).rows,
        lambda: _scalar(engine, "crowds/features/one_pass_count", one_pass),
        lambda: _scalar(engine, "crowds/features/one_pass_gate", one_gate), refs, ctx, args.reference,
        lambda rs: _together(engine, rs, ctx), gate, lambda: drop_gate_layer(engine, ctx))
    if not args.keep:
        drop_features(engine, ctx.sale_id)
    return result


def run_size(n: int, args, ctx: CrowdContext, refs: list[CrowdRef], gate: set[CrowdRef]) -> None:
    cache = Path(args.cache)
    db = ensure_sqlite(cache, n)
    csv_dir = ensure_csv(cache, n, db)
    from dacu.warehouse.connect import make_engine

    sq = make_engine(f"sqlite:///{db}")
    missing_indexes(sq)
    fresh_feature_tables(sq)
    with sq.connect() as c:
        want = _counts(lambda q: c.execute(text(q)).scalar())
    bb = base_binds(ctx)
    one_pass = {"as_of": ctx.as_of_utc, "ev_since": bb["ev_since"]}
    one_gate = {"sale_id": ctx.sale_id, "base_layer": base_layer(ctx), "day_start": bb["day_start"],
                "as_of": ctx.as_of_utc}
    results = []
    backends = args.backends.split(",")
    if "pg" in backends:
        url = ensure_pg(n, csv_dir, want)
        pg = make_engine(url)
        fresh_feature_tables(pg)
        results.append(bench_engine("PostgreSQL", pg, lambda: _no_jit(pg), args, refs, ctx, gate, one_pass, one_gate))
        pg.dispose()
    if "sqlite" in backends:
        results.append(bench_engine("SQLite", sq, sq.connect, args, refs, ctx, gate, one_pass, one_gate))
    sq.dispose()
    if "duckdb" in backends:
        try:
            import duckdb
        except ImportError:
            print("  DuckDB: skipped (pip install duckdb to compare with the columnar reference)")
        else:
            con = ensure_duckdb(cache, n, csv_dir, want)
            dc = DuckConn(con)

            class _Ctx:
                def __enter__(self):
                    return dc

                def __exit__(self, *exc):
                    return False

            def duck_layer(layer: str, name: str, binds: dict, table: str = "crowd_feature_rows"):
                con.execute(f"DELETE FROM {table} WHERE sale_id = $s AND layer = $l",
                            {"s": ctx.sale_id, "l": layer})
                dc.execute(statement(name, binds), binds)
                return con.execute(f"SELECT COUNT(*) FROM {table} WHERE sale_id = $s AND layer = $l",
                                   {"s": ctx.sale_id, "l": layer}).fetchone()[0]
            results.append(bench_backend(
                f"DuckDB {duckdb.__version__}", _Ctx,
                lambda: duck_layer(base_layer(ctx), "crowds/features/base", bb),
                lambda: sum(duck_layer(p.layer, p.sql, p.binds, "crowd_part_rows") for p in day_parts(refs, ctx)),
                lambda: duck_layer(gate_layer(ctx), "crowds/features/gate", gate_binds(ctx)),
                lambda: dc.execute(statement("crowds/features/one_pass_count", one_pass), one_pass)[0][0],
                lambda: dc.execute(statement("crowds/features/one_pass_gate", one_gate), one_gate)[0][0],
                refs, ctx, args.reference, lambda rs: together_duck(dc, rs, ctx), gate))
            if not args.keep:
                con.execute("DELETE FROM crowd_feature_rows WHERE sale_id = $s", {"s": ctx.sale_id})
                con.execute("DELETE FROM crowd_part_rows WHERE sale_id = $s", {"s": ctx.sale_id})
            con.close()
    report(n, want, results, refs, gate, args.reference)


@contextmanager
def _no_jit(engine):
    """A connection as GateEvaluator reads crowds on PostgreSQL: JIT off (its compile time exceeds
    the query's for the plans of a crowd over a million rows)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SET jit = off")
        yield conn


def _together(engine, refs: list[CrowdRef], ctx: CrowdContext) -> dict:
    """A gate's crowds as segment_gate reads them: one GateEvaluator (build mode: it builds the gate
    layer, the day's base layer and parts being current) and one prefetch of all of them."""
    ev = GateEvaluator(engine, SaleContext(ctx.sale_id, ctx.reference_day, ctx.tz), ctx.as_of)
    ev.prefetch(refs)
    if ev.feature_build is None or ev.feature_build.base_built or not ev.feature_build.gate_built:
        raise SystemExit("together: expected the day's base reused and the gate layer built by the gate")
    return {r: ev.crowd(r) for r in refs}


def drop_gate_layer(engine, ctx: CrowdContext) -> None:
    """Forget the gate moment's layer (rows and registry row): the next evaluator builds it."""
    from dacu.warehouse.schema import crowd_feature_layers, crowd_feature_rows

    with engine.begin() as conn:
        for t in (crowd_feature_rows, crowd_feature_layers):
            conn.execute(t.delete().where((t.c.sale_id == ctx.sale_id) & (t.c.layer == gate_layer(ctx))))


def fresh_feature_tables(engine) -> None:
    """The bench's own tables in a cached shop: the feature layers (derived; dropped and created
    again so a changed column list or leftover rows never skew a run). Shop tables are untouched."""
    from dacu.warehouse.schema import crowd_feature_layers, crowd_feature_rows, crowd_part_rows

    for t in (crowd_feature_rows, crowd_feature_layers, crowd_part_rows):
        t.drop(engine, checkfirst=True)
        t.create(engine)


def _scalar(engine, name: str, binds: dict):
    with engine.connect() as c:
        return c.execute(statement(name, binds), binds).scalar()


def report(n: int, counts: dict, results: list[dict], refs: list[CrowdRef], gate: set[CrowdRef],
           reference: bool) -> None:
    print(f"\n## {n:,} customers ({counts['orders']:,} orders, {counts['events']:,} events), "
          f"gate {ARGS.at} Asia/Shanghai, load average {_load()}\n")
    head = "| step / crowd | via | " + " | ".join(r["backend"] for r in results) + " |"
    if reference:
        head += " " + " | ".join(f"{r['backend']} old SQL" for r in results) + " |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    rows = [("one pass, raw: count(*) orders to as_of + 30 days of events + customers", "",
             [r["one_pass"] for r in results], None),
            ("one pass, what the gate reads: count(*) base rows + the day's events and paid orders to the gate", "",
             [r["one_pass_gate"] for r in results], None),
            ("base layer build (once per day)", "", [r["base"] for r in results], None),
            ("history parts of the crowds that have one (once per day)", "", [r["parts"] for r in results], None),
            ("gate layer build (once per gate)", "", [r["gate"] for r in results], None)]
    for ref in refs:
        via = "features" if results and results[0]["crowds"][ref][2] else "own SQL"
        mark = " *" if ref in gate else ""
        rows.append((ref.label() + mark, via, [r["crowds"][ref][0] for r in results],
                     [r["ref_crowds"].get(ref) for r in results] if reference else None))
    for name, via, secs, old in rows:
        line = f"| {name} | {via} | " + " | ".join(f"{s:.3f}" for s in secs) + " |"
        if reference:
            line += " " + " | ".join("" if o is None else f"{o:.3f}" for o in (old or [None] * len(results))) + " |"
        print(line)
    print()
    for r in results:
        crowds_all = sum(v[0] for v in r["crowds"].values())
        crowds_gate = sum(v[0] for k, v in r["crowds"].items() if k in gate)
        r["gate_total"] = r["gate"] + crowds_gate            # a gate once the day's base exists
        r["gate_all"] = r["gate"] + crowds_all
        old = sum(r["ref_crowds"].values()) if reference else None
        print(f"- {r['backend']}: one pass raw {r['one_pass']:.2f}s ({r['one_pass_rows']:,} rows), one pass of "
              f"what the gate reads {r['one_pass_gate']:.2f}s ({r['one_pass_gate_rows']:,} rows); base layer "
              f"{r['base']:.2f}s ({r['base_rows']:,} customers), history parts {r['parts']:.2f}s "
              f"({r['parts_rows']:,} rows), gate layer {r['gate']:.2f}s "
              f"({r['gate_rows']:,} customers changed since 00:00)")
        r["gate_together"] = r["together"] if r["together_has_gate"] else r["gate"] + r["together"]
        print(f"    (best of {len(r['one_pass_runs'])} runs each: one pass raw "
              f"{', '.join(f'{t:.2f}' for t in r['one_pass_runs'])}s; gate together "
              f"{', '.join(f'{t:.2f}' for t in r['together_runs'])}s"
              + ("" if r["together_has_gate"] else f" + gate layer {r['gate']:.2f}s") + ")")
        how = ("one GateEvaluator building the gate layer while the crowds that do not read it run, then the "
               "simple feature crowds batched in one pass" if r["backend"] == "PostgreSQL" else
               "one GateEvaluator, one query after the other: gate layer, the simple feature crowds batched "
               "in one pass, the others" if r["together_has_gate"] else
               "gate layer, then the simple feature crowds batched in one pass, the others")
        print(f"  - gate = gate layer + the {len(gate)} playbook crowds (*) evaluated together ({how}): "
              f"{r['gate_together']:.2f}s "
              f"= {r['gate_together'] / r['one_pass']:.1f}x one pass raw, "
              f"{r['gate_together'] / r['one_pass_gate']:.1f}x one pass of what the gate reads")
        print(f"  - the same crowds one query each (one segment task per strategy, sum): {r['gate_total']:.2f}s "
              f"= {r['gate_total'] / r['one_pass']:.1f}x one pass raw")
        r["cold_total"] = r["base"] + r["parts"] + r["gate_together"]
        print(f"  - the day's first gate = base layer + history parts + gate layer + playbook crowds together: "
              f"{r['cold_total']:.2f}s "
              f"= {r['cold_total'] / r['one_pass']:.1f}x one pass raw")
        if len(refs) > len(gate):
            print(f"  - gate layer + all {len(refs)} crowds timed (catalogue + playbook variants), one query each: "
                  f"{r['gate_all']:.2f}s = {r['gate_all'] / r['one_pass']:.1f}x one pass raw"
                  + (f"; old per-crowd SQL, all crowds: {old:.2f}s" if old is not None else ""))
    duck = next((r for r in results if r["backend"].startswith("DuckDB")), None)
    if duck:
        for r in results:
            if r is not duck:
                print(f"- {r['backend']} / DuckDB (same SQL): gate {r['gate_together'] / duck['gate_together']:.1f}x, "
                      f"base layer {r['base'] / duck['base']:.1f}x, "
                      f"one pass raw {r['one_pass'] / duck['one_pass']:.1f}x")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, action="append", help="shop size (repeatable; default 100000)")
    p.add_argument("--at", default="2027-06-19 20:00", help="gate moment, Asia/Shanghai")
    p.add_argument("--cache", default="/work/bench-cache", help="where generated shops are kept (outside the repo)")
    p.add_argument("--backends", default="pg,sqlite,duckdb")
    p.add_argument("--reference", action="store_true", help="also time every crowd's reference SQL (old path)")
    p.add_argument("--keep", action="store_true", help="keep the feature layers in the bench databases afterwards")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of the one pass and of the gate together; the best of each is reported")
    p.add_argument("--playbook-only", action="store_true",
                   help="time only the crowds the 618 playbook uses (not the rest of the catalogue)")
    ARGS = args = p.parse_args(argv)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo("Asia/Shanghai")
    at = datetime.fromisoformat(args.at).replace(tzinfo=tz)
    sale: SaleContext = sale_context(SaleContext("t618_2027", datetime(2027, 5, 24).date(), tz))
    ctx = CrowdContext(sale.sale_id, sale.reference_day, tz, at)
    gate = playbook_refs()
    refs = [] if args.playbook_only else catalogue_refs()
    for ref in sorted(gate, key=lambda r: r.label()):        # the playbook's own params too
        if ref not in refs:
            refs.append(ref)
    print(f"event window {EVENT_DAYS} days; playbook crowds (*): {len(gate)}", flush=True)
    for n in args.customers or [100_000]:
        run_size(n, args, ctx, refs, gate)
    return 0


ARGS: argparse.Namespace


if __name__ == "__main__":
    raise SystemExit(main())
