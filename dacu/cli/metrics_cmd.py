"""``dacu metrics snapshot|show``: compute, validate and publish war-room snapshots; print published ones.

``snapshot`` runs the same code as the Airflow task (dacu.metrics.publish):
exit 0 when published, 1 when the Great Expectations gate refused it (the
previous snapshot stays published), 2 on bad input. Output is counts and keys,
never customer data.
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
    group = subparsers.add_parser("metrics", help="war-room metric snapshots per crowd (seed 000 §四)")
    verbs = group.add_subparsers(dest="verb", required=True)

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
    with get_engine(args.warehouse).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(ms.c.day_from, ms.c.day_to))]
        checks = [dict(r._mapping) for r in conn.execute(verdicts.order_by(mv.c.validated_at, mv.c.run_key))]
    rows.sort(key=lambda r: (r["day_from"], r["day_to"], order.get(r["crowd"], 99)))
    if args.json:
        print(json.dumps({"snapshots": [{k: _jsonable(v) for k, v in r.items()} for r in rows],
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
    failed = [c for c in checks if not c["success"]]
    if failed:
        print(f"\n{len(failed)} run(s) refused by validation (not published):")
        for c in failed:
            names = [f"{f['name']}[{','.join(f['rows'])}]" for f in json.loads(c["failed"])
                     if f["severity"] == "critical"]
            print(f"  {c['day_from']}..{c['day_to']} run {c['run_key']} at {c['validated_at']}: {', '.join(names)}")
    return EXIT_OK
