"""``dacu metrics snapshot|show|day``: compute, validate and publish war-room snapshots; print published ones.

``snapshot`` runs the same code as the Airflow task (dacu.metrics.publish):
exit 0 when published, 1 when the Great Expectations gate refused it (the
previous snapshot stays published), 2 on bad input. ``day`` (also written
``dacu metrics --playbook P --day D``, the issue's form) prints one day's
published snapshot with every metric's Chinese label and its peer average
(同行同层) beside it; exit 1 when that day has no published snapshot.
Output is counts and keys, never customer data.
"""
from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timezone

from dacu.cli import EXIT_OK, EXIT_PROBLEMS, CliError

_SHOW_COLUMNS = ("crowd_size", "visitors", "cart_buyers", "deposit_buyers", "balance_buyers", "paying_buyers",
                 "paid_amount", "visit_rate", "cart_pay_rate", "conversion_rate", "amount_share")
_STORE_COLUMNS = ("rv_start", "active_rv_start", "active_rv_buyers", "active_rv_amount", "active_rv_value",
                  "non_rv_value", "active_members", "active_member_buyers", "active_fans_excl_members",
                  "active_fan_buyers_excl_members", "store_buyers", "store_visitors", "store_paid_amount")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "metrics", help="war-room metric snapshots per crowd (seed 000 §四)",
        usage="dacu metrics {snapshot,show,day} ... | dacu metrics --playbook P --day D [--crowd C] [--json]")
    # The bare form prints a day's snapshot; the verbs keep working (their options win).
    _day_options(group, required=False)
    group.set_defaults(func=cmd_day)
    verbs = group.add_subparsers(dest="verb", required=False)

    snap = verbs.add_parser("snapshot", help="compute, validate (GX) and publish the snapshot of a day or range")
    snap.add_argument("--sale-id", required=True)
    snap.add_argument("--reference-day", required=True, metavar="YYYY-MM-DD", help="old customer = paid before it")
    snap.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="first (or only) sale-local day")
    snap.add_argument("--to", metavar="YYYY-MM-DD", help="last sale-local day of a range (default: --day)")
    snap.add_argument("--tz", default="Asia/Shanghai", help="the sale's timezone")
    snap.add_argument("--active-rv-days", type=int, default=90, help="playbook metrics.active_rv_days")
    snap.add_argument("--run-key", help="key of this run's candidates and verdict (default: cli:<sale>:<days>)")
    snap.add_argument("--validated-at", metavar='"YYYY-MM-DD HH:MM"',
                      help="time stamped on the rows, UTC (default: now)")
    snap.add_argument("--json", action="store_true", help="print the summary as JSON")
    snap.set_defaults(func=cmd_snapshot)

    show = verbs.add_parser("show", help="print published snapshots (and the latest verdicts)")
    show.add_argument("--sale-id", required=True)
    show.add_argument("--day", metavar="YYYY-MM-DD", help="only snapshots starting on or after this day")
    show.add_argument("--to", metavar="YYYY-MM-DD", help="only snapshots ending on or before this day")
    show.add_argument("--json", action="store_true", help="print every published column as JSON")
    show.set_defaults(func=cmd_show)

    day = verbs.add_parser("day", help="print a day's published snapshot per crowd, with peer averages beside it")
    _day_options(day, required=True)
    day.set_defaults(func=cmd_day)


def _day_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    from dacu.metrics.definitions import CROWDS

    parser.add_argument("--playbook", required=required, metavar="FILE", help="the sale's playbook")
    parser.add_argument("--day", required=required, metavar="YYYY-MM-DD", help="the sale-local day")
    parser.add_argument("--crowd", choices=list(CROWDS), help="only this crowd (default: all five)")
    parser.add_argument("--json", action="store_true", help="print the day as JSON")


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag} {value!r} is not a date YYYY-MM-DD") from None


def _utc(value: str | None) -> datetime:
    if value is None:   # the CLI is the edge: the domain code only ever gets a passed-in time
        return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M")
    except ValueError:
        raise CliError(f"--validated-at {value!r} is not 'YYYY-MM-DD HH:MM'") from None


def cmd_snapshot(args: argparse.Namespace) -> int:
    from dacu.metrics.compute import MetricInputError
    from dacu.metrics.publish import snapshot_and_publish
    from dacu.metrics.validate import SuiteError
    from dacu.warehouse import get_engine, init_schema

    day_from = _day(args.day, "--day")
    day_to = _day(args.to, "--to") or day_from
    run_key = args.run_key or f"cli:{args.sale_id}:{day_from}:{day_to}"
    engine = get_engine(args.warehouse)
    init_schema(engine)   # creates the metric tables if this warehouse predates them
    try:
        summary = snapshot_and_publish(
            engine, sale_id=args.sale_id, reference_day=_day(args.reference_day, "--reference-day"), tz=args.tz,
            day_from=day_from, day_to=day_to, active_rv_days=args.active_rv_days, run_key=run_key,
            validated_at=_utc(args.validated_at))
    except (MetricInputError, SuiteError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        state = "published" if summary["published"] else "NOT published (previous snapshot kept)"
        print(f"{summary['sale_id']} {summary['day_from']}..{summary['day_to']} run {summary['run_key']}: {state}; "
              f"{summary['rows_published']} crowd row(s), {summary['warmup_rows_published']} warm-up row(s), "
              f"{summary['expectations_evaluated']} expectation(s) evaluated")
        for kind in ("failed_expectations", "warnings"):
            for f in summary[kind]:
                rows = f" [{', '.join(f['rows'])}]" if f["rows"] else ""
                print(f"  {'FAILED' if kind == 'failed_expectations' else 'warning'}: {f['suite']}.{f['name']}{rows}")
    return EXIT_OK if summary["published"] else EXIT_PROBLEMS


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _jsonable(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return float(value)   # Decimal


def cmd_show(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from dacu.metrics.definitions import CROWDS
    from dacu.warehouse import get_engine
    from dacu.warehouse.schema import metric_snapshots as ms
    from dacu.warehouse.schema import metric_validations as mv

    day_from, day_to = _day(args.day, "--day"), _day(args.to, "--to")
    query = select(ms).where(ms.c.sale_id == args.sale_id)
    verdicts = select(mv).where(mv.c.sale_id == args.sale_id)
    if day_from:
        query, verdicts = query.where(ms.c.day_from >= day_from), verdicts.where(mv.c.day_from >= day_from)
    if day_to:
        query, verdicts = query.where(ms.c.day_to <= day_to), verdicts.where(mv.c.day_to <= day_to)
    order = {c: i for i, c in enumerate(CROWDS)}
    from dacu.metrics.definitions import SNAPSHOT_METRICS
    from dacu.metrics.peers import load_peers, peers_beside

    with get_engine(args.warehouse).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(ms.c.day_from, ms.c.day_to))]
        checks = [dict(r._mapping) for r in conn.execute(verdicts.order_by(mv.c.validated_at, mv.c.run_key))]
        peers = (load_peers(conn, args.sale_id, min(r["day_from"] for r in rows), max(r["day_to"] for r in rows))
                 if rows else {})
    rows.sort(key=lambda r: (r["day_from"], r["day_to"], order.get(r["crowd"], 99)))
    names = [m.name for m in SNAPSHOT_METRICS if m.kind != "peer"]
    for r in rows:   # peer averages exist per day: beside single-day snapshots only
        r["peers"] = peers_beside(peers, r["day_from"], r["crowd"], names) if r["day_from"] == r["day_to"] else {}
    if args.json:
        print(json.dumps({"snapshots": [{k: (v if k == "peers" else _jsonable(v)) for k, v in r.items()}
                                        for r in rows],
                          "validations": [{k: (json.loads(v) if k == "failed" else _jsonable(v))
                                           for k, v in c.items()} for c in checks]},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no published snapshot for {args.sale_id}")
    key = None
    for r in rows:
        if (r["day_from"], r["day_to"]) != key:
            key = (r["day_from"], r["day_to"])
            print(f"\n{args.sale_id} {key[0]}..{key[1]} (reference day {r['reference_day']}, "
                  f"run {r['run_key']}, validated {r['validated_at']})")
            print("  store: " + ", ".join(f"{c}={_fmt(_jsonable(r[c]))}" for c in _STORE_COLUMNS))
            print("  " + "crowd".ljust(12) + "".join(c[:14].rjust(15) for c in _SHOW_COLUMNS))
        print("  " + f"{r['crowd']}({CROWDS.get(r['crowd'], '')})".ljust(12)
              + "".join(_fmt(_jsonable(r[c])).rjust(15) for c in _SHOW_COLUMNS))
        if r["peers"]:
            print("    同行同层 peers: " + ", ".join(f"{k}={_fmt(v)} (shop {_fmt(_jsonable(r[k]))})"
                                                  for k, v in r["peers"].items()))
    failed = [c for c in checks if not c["success"]]
    if failed:
        print(f"\n{len(failed)} run(s) refused by validation (not published):")
        for c in failed:
            names = [f"{f['name']}[{','.join(f['rows'])}]" for f in json.loads(c["failed"])
                     if f["severity"] == "critical"]
            print(f"  {c['day_from']}..{c['day_to']} run {c['run_key']} at {c['validated_at']}: {', '.join(names)}")
    return EXIT_OK


def _load_playbook(name: str):
    from pathlib import Path

    from dacu.paths import PLAYBOOK_DIR
    from dacu.playbook import PlaybookError, load_playbook

    path = Path(name)
    if not path.exists() and (PLAYBOOK_DIR / name).exists():
        path = PLAYBOOK_DIR / name
    try:
        return load_playbook(path)
    except PlaybookError as exc:
        raise CliError(f"{name}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{name}: {exc.strerror or exc}") from None


def day_view(engine, sale_id: str, day: date, crowd: str | None = None) -> dict | None:
    """The published single-day snapshot of ``day`` with peers beside it; None when not published."""
    from sqlalchemy import select

    from dacu.metrics.definitions import CROWDS, SNAPSHOT_METRICS
    from dacu.metrics.peers import load_peers, peers_beside
    from dacu.warehouse.schema import metric_snapshots as ms
    from dacu.warehouse.schema import metric_warmup_daily as mw

    query = select(ms).where(ms.c.sale_id == sale_id, ms.c.day_from == day, ms.c.day_to == day)
    warm = select(mw).where(mw.c.sale_id == sale_id, mw.c.metric_day == day)
    if crowd:
        query, warm = query.where(ms.c.crowd == crowd), warm.where(mw.c.crowd == crowd)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        warm_rows = [dict(r._mapping) for r in conn.execute(warm)]
        peers = load_peers(conn, sale_id, day, day)
    if not rows:
        return None
    order = {c: i for i, c in enumerate(CROWDS)}
    rows.sort(key=lambda r: order.get(r["crowd"], 99))
    names = [m.name for m in SNAPSHOT_METRICS if m.kind != "peer"]
    first = rows[0]
    return {
        "sale_id": sale_id, "day": day.isoformat(), "run_key": first["run_key"],
        "validated_at": _jsonable(first["validated_at"]), "reference_day": _jsonable(first["reference_day"]),
        "crowds": {r["crowd"]: {"label": CROWDS.get(r["crowd"], r["crowd"]),
                                "metrics": {n: _jsonable(r[n]) for n in names},
                                "peers": peers_beside(peers, day, r["crowd"], names)} for r in rows},
        "warmup": {w["crowd"]: {k: _jsonable(v) for k, v in w.items()
                                if k not in ("sale_id", "metric_day", "crowd", "run_key", "validated_at")}
                   for w in warm_rows},
    }


def cmd_day(args: argparse.Namespace) -> int:
    from dacu.metrics.definitions import SNAPSHOT_METRICS, WARMUP_METRICS
    from dacu.warehouse import get_engine

    if getattr(args, "playbook", None) is None or getattr(args, "day", None) is None:
        raise CliError("metrics: give a verb (snapshot, show, day) or --playbook FILE --day YYYY-MM-DD")
    playbook = _load_playbook(args.playbook)
    day = _day(args.day, "--day")
    view = day_view(get_engine(args.warehouse), playbook.sale.id, day, args.crowd)
    if view is None:
        what = f" crowd {args.crowd}" if args.crowd else ""
        if args.json:
            print(json.dumps({"sale_id": playbook.sale.id, "day": day.isoformat(), "published": False}))
        else:
            print(f"no published snapshot for {playbook.sale.id} {day}{what} "
                  f"(dacu metrics show --sale-id {playbook.sale.id} lists validation verdicts)")
        return EXIT_PROBLEMS
    if args.json:
        print(json.dumps({**view, "published": True}, ensure_ascii=False, indent=2))
        return EXIT_OK
    crowds = list(view["crowds"])
    print(f"{playbook.sale.name} ({view['sale_id']}) {view['day']} · run {view['run_key']} · "
          f"validated {view['validated_at']} · 老客基准日 {view['reference_day']}")
    print("  (同行 x) = peer average 同行同层平均值")
    head = "  " + "指标 metric".ljust(34) + "".join(
        f"{c}({view['crowds'][c]['label']})".rjust(26) for c in crowds)
    print(head)
    for m in SNAPSHOT_METRICS:
        if m.kind == "peer":
            continue
        if m.scope == "store":
            cells = [crowds[0]]      # the same on every crowd row: print it once
        else:
            cells = crowds
        line = "  " + f"{m.label} {m.name}"[:34].ljust(34)
        for c in cells:
            value = _fmt(view["crowds"][c]["metrics"][m.name])
            peer = view["crowds"][c]["peers"].get(m.name)
            line += (value + (f" (同行 {_fmt(peer)})" if peer is not None else "")).rjust(26)
        print(line)
    if view["warmup"]:
        print("  预热 warm-up view: " + "; ".join(
            f"{c}: " + ", ".join(f"{w.label} {view['warmup'][c][w.name]}" for w in WARMUP_METRICS)
            for c in view["warmup"]))
    return EXIT_OK
