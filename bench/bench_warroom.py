"""The war-room page's answer time at 1M customers (target: <= 1 s).

    .venv/bin/python bench/bench_warroom.py [--customers 1000000] [--warehouse URL] [--repeat 20]
        [--ledger-rows 0] [--today 2026-11-12T09:00]

The page reads summary tables only, whose size grows with days, strategies and crowds, not with
customers; so the data here is synthetic summary rows *at the scale* of a 1M-customer shop for the
whole Double 11 2026 season (include/playbooks/tmall_double11_2026.yaml): a segment run for every
moment of every crowd strategy (crowd sizes up to the customer count), its dispatch totals, a
single-day metric snapshot per crowd for every sale day plus weekly ranges, the warm-up view,
peer averages, the six readiness gates every readiness day and the scene-task answers. The cached
1M shop (/work/bench-cache/shop-1000000.db) has none of these tables filled, so nothing is copied
from it. ``--ledger-rows N`` also fills the per-message dispatch_ledger with N rows, to show the
page does not read it.

Times: (1) ``dacu.warroom.warroom_data`` in-process; (2) the plugin's HTTP answer
(``GET /warroom/api/sale/<id>``) through FastAPI's TestClient with a JWT minted by Airflow's auth
manager, Airflow metadata (latest runs, HITL requests) read from a freshly migrated SQLite metadata
DB. Prints median / p95 / max of ``--repeat`` warm calls and the first (cold) call.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PLAYBOOK = ROOT / "include" / "playbooks" / "tmall_double11_2026.yaml"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def build(url: str, customers: int, ledger_rows: int, seed: int = 7) -> dict[str, int]:
    from sqlalchemy import insert

    from dacu.dispatch.ledger import occasion
    from dacu.metrics.definitions import SNAPSHOT_METRICS, WARMUP_METRICS
    from dacu.playbook import load_playbook
    from dacu.readiness.result import GATES
    from dacu.warehouse import init_schema, make_engine
    from dacu.warehouse.schema import (
        dispatch_ledger, metric_snapshots, metric_warmup_daily, peer_benchmarks, readiness_confirmations,
        readiness_results, segment_runs,
    )
    from dacu.warroom import dispatch_totals, init_warroom_schema

    rnd = random.Random(seed)
    pb = load_playbook(PLAYBOOK)
    sale = pb.sale.id
    engine = make_engine(url)
    init_schema(engine)
    init_warroom_schema(engine)
    counts: dict[str, int] = {}
    seg_rows, tot_rows = [], []
    for s in pb.strategies:
        if s.kind == "scene_task" or not s.channels:
            continue
        for m in s.moments():
            crowd = int(customers * rnd.uniform(0.005, 0.6))
            holdout = int(crowd * s.holdout_pct / 100)
            excluded = {"opted_out": int(crowd * 0.03), "no_mobile": int(crowd * 0.05), "blacklisted": crowd // 500}
            run_key = m.isoformat()
            seg_rows.append({"sale_id": sale, "strategy_id": s.id, "run_key": run_key, "wave": s.wave, "as_of": _utc(m),
                             "crowd_expr": "{}", "channels": ",".join(s.channels), "holdout_pct": s.holdout_pct,
                             "crowd_size": crowd, "treatment": crowd - holdout, "holdout": holdout,
                             "excluded": json.dumps(excluded), "warning": None})
            treated = crowd - holdout
            skipped = {"cap_daily": treated // 20, "opted_out": treated // 100, "quiet_hours_expired": treated // 400}
            failed = treated // 300
            sent = treated - sum(skipped.values()) - failed
            tot_rows.append({"sale_id": sale, "strategy_id": s.id,
                             "wave": occasion(s.wave, m, daily=s.when.form == 3), "run_key": run_key,
                             "sent": sent, "failed": failed, "held": 0, "holdout": holdout, "pending": 0, "dry_run": 0,
                             "delivered": int(sent * 0.97), "undelivered": int(sent * 0.01),
                             "skipped": json.dumps(skipped), "failed_by_reason": json.dumps({"invalid_mobile": failed}),
                             "cost": round(sent * 0.045 if "sms" in s.channels else 0, 4), "updated_at": _utc(m)})
    days = [pb.sale.window.start + timedelta(days=i) for i in range((pb.sale.window.end - pb.sale.window.start).days + 1)]
    crowds = {"whole_store": 1.0, "new": 0.25, "old": 0.75, "members": 0.35, "fans": 0.3}

    def snap(day_from: date, day_to: date, crowd: str, share: float) -> dict:
        row = {m.name: (0 if m.kind in ("count", "amount") else None) for m in SNAPSHOT_METRICS}
        size = int(customers * share)
        visitors = int(size * rnd.uniform(0.01, 0.08))
        buyers = int(visitors * rnd.uniform(0.05, 0.3))
        row.update({"sale_id": sale, "day_from": day_from, "day_to": day_to, "crowd": crowd, "crowd_size": size,
                    "visitors": visitors, "cart_buyers": visitors // 3, "deposit_buyers": visitors // 10,
                    "paying_buyers": buyers, "paid_amount": buyers * 180, "store_paid_amount": int(customers * 0.02) * 180,
                    "visit_rate": visitors / size, "conversion_rate": buyers / size, "amount_share": share * 0.8,
                    "visit_cart_rate": 1 / 3, "peer_visit_rate": 0.03, "peer_conversion_rate": 0.004,
                    "peer_amount_share": share * 0.7, "reference_day": pb.sale.reference_day, "active_rv_days": 90,
                    "run_key": f"bench/{day_to}", "validated_at": datetime(2026, 12, 1)})
        return row

    snaps = [snap(d, d, c, s) for d in days for c, s in crowds.items()]
    snaps += [snap(d, d + timedelta(days=6), c, s) for d in days[::7] for c, s in crowds.items()]
    warm = [{"sale_id": sale, "metric_day": d, "crowd": c, "run_key": "bench", "validated_at": datetime(2026, 12, 1),
             **{m.name: int(customers * rnd.uniform(0.001, 0.02)) for m in WARMUP_METRICS}}
            for d in days for c in ("new", "old")]
    peer_names = [m.name for m in WARMUP_METRICS] + ["visit_rate", "conversion_rate", "amount_share"]
    peers = [{"sale_id": sale, "metric_day": d, "crowd": c, "metric": n, "value": rnd.uniform(0.001, 1) * 1000}
             for d in days for c in crowds for n in peer_names]
    ready_days = pb.phase("readiness").days()
    ready = [{"sale_id": sale, "gate": g, "check_at": _utc(datetime.combine(d, datetime.min.time(), tzinfo=pb.tz)),
              "status": rnd.choice(("pass", "pass", "warn", "fail")), "reasons": json.dumps(["bench reason"] * 3),
              "details": "{}", "blocked": json.dumps({s.id: "bench" for s in pb.strategies[:2]})}
             for d in ready_days for g in GATES]
    confirm = [{"sale_id": sale, "kind": "scene_task", "item_id": s.id, "moment": _utc(m), "decision": "Done",
                "responded_by": "ops", "responded_at": _utc(m), "detail": "{}"}
               for s in pb.strategies if s.kind == "scene_task" for m in s.moments()[::2]]
    with engine.begin() as conn:
        for table, rows in ((segment_runs, seg_rows), (dispatch_totals, tot_rows), (metric_snapshots, snaps),
                            (metric_warmup_daily, warm), (peer_benchmarks, peers), (readiness_results, ready),
                            (readiness_confirmations, confirm)):
            conn.execute(table.delete())
            conn.execute(insert(table), rows)
            counts[table.name] = len(rows)
        if ledger_rows:
            conn.execute(dispatch_ledger.delete())
            stamp = datetime(2026, 11, 11, 12)
            batch = []
            for i in range(ledger_rows):
                batch.append({"message_key": f"{i:064x}", "sale_id": sale, "strategy_id": seg_rows[i % len(seg_rows)]["strategy_id"],
                              "wave": "bench", "run_key": "bench", "customer_id": f"C{i % customers:08d}", "channel": "sms",
                              "msg_class": "marketing", "state": "sent", "planned_at": stamp, "attempts": 1, "cost": 0.045,
                              "updated_at": stamp})
                if len(batch) == 50000:
                    conn.execute(insert(dispatch_ledger), batch)
                    batch = []
            if batch:
                conn.execute(insert(dispatch_ledger), batch)
            counts["dispatch_ledger"] = ledger_rows
    engine.dispose()
    return counts


def _stats(label: str, seconds: list[float], cold: float) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    print(f"{label:<34} cold {cold * 1000:7.1f} ms · median {statistics.median(ms):7.1f} ms · p95 {p95:7.1f} ms · "
          f"max {ms[-1]:7.1f} ms  ({len(ms)} warm calls)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--warehouse", help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--ledger-rows", type=int, default=0)
    ap.add_argument("--today", default="2026-11-12T09:00", help="the page's ?today=")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dacu-bench-warroom-"))
    url = args.warehouse or f"sqlite:///{tmp / 'warehouse.db'}"
    os.environ.update({"AIRFLOW_HOME": str(tmp / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                       "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                       "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow' / 'airflow.db'}",
                       "AIRFLOW__API_AUTH__JWT_SECRET": "bench-" + "k" * 64,
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"})
    from dacu.warehouse.connect import airflow_conn_value, describe

    os.environ["AIRFLOW_CONN_DACU_WAREHOUSE"] = airflow_conn_value(url)
    t = time.perf_counter()
    counts = build(url, args.customers, args.ledger_rows)
    print(f"warehouse {describe(url)}: summary rows at {args.customers:,} customers built in "
          f"{time.perf_counter() - t:.1f}s: {counts}")

    from dacu.warehouse import make_engine
    from dacu.warroom import find_playbook, parse_now, warroom_data

    pb = find_playbook("tmall_double11_2026")
    now = parse_now(args.today, pb.tz, datetime.now(UTC))
    engine = make_engine(url)
    t = time.perf_counter()
    data = warroom_data(engine, pb, now)
    cold = time.perf_counter() - t
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        warroom_data(engine, pb, now)
        runs.append(time.perf_counter() - t)
    _stats("warroom_data (in-process)", runs, cold)
    engine.dispose()
    print(f"  page: {sum(len(p['strategies']) for p in data['strategies'])} strategies, "
          f"{len(data['trend']['days'])} trend days, {len(data['metrics']['ranges'])} snapshot ranges, "
          f"JSON {len(json.dumps(data, ensure_ascii=False)) / 1024:.0f} KiB")

    (tmp / "airflow").mkdir(exist_ok=True)
    subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                   capture_output=True, env=os.environ)
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    import dacu_warroom  # the plugin module (plugins/ is on sys.path once Airflow is imported)

    token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
    root = FastAPI()
    root.mount(dacu_warroom.URL_PREFIX, dacu_warroom.app)
    with TestClient(root) as client:
        path = f"/warroom/api/sale/{pb.sale.id}"
        headers = {"Authorization": f"Bearer {token}"}
        t = time.perf_counter()
        r = client.get(path, params={"today": args.today}, headers=headers)
        cold = time.perf_counter() - t
        assert r.status_code == 200, r.text[:500]
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = client.get(path, params={"today": args.today}, headers=headers)
            runs.append(time.perf_counter() - t)
            assert r.status_code == 200
        _stats("GET /warroom/api/sale (auth+JSON)", runs, cold)
        print(f"  response {len(r.content) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
