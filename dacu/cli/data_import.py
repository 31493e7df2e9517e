"""``dacu data load DIR``, ``dacu data import-orders FILE --format NAME``, ``dacu data import-peers FILE``.

Exit codes (see dacu.cli): 0 every row loaded; 1 some rows were rejected (the
good ones are loaded); 2 unreadable input (nothing of that file is written).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from dacu.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE

_ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")


def register(data_subparsers: argparse._SubParsersAction) -> None:
    load = data_subparsers.add_parser(
        "load", help="load a folder of table CSVs (customers.csv, skus.csv, orders.csv, ...)",
        description="Load customers, skus, coupons, orders, order_items, events, coupon_grants "
                    "CSV files (any subset) in that order. See docs/data-contract.md.")
    load.add_argument("dir", metavar="DIR")
    _common(load, timezone_default="Asia/Shanghai")
    load.set_defaults(func=cmd_load)

    orders = data_subparsers.add_parser(
        "import-orders", help="import a Tmall/Taobao or JD order export CSV",
        description="Import a platform order export; --format names include/formats/<NAME>.yaml.")
    orders.add_argument("file", metavar="FILE")
    orders.add_argument("--format", required=True, dest="format_name",
                        help="export format, e.g. tmall_orders_v1 or jd_orders_v1")
    orders.add_argument("--create-customers", action="store_true",
                        help="add buyers missing from customers (id and nick only) instead of rejecting their orders")
    _common(orders, timezone_default=None)
    orders.set_defaults(func=cmd_import_orders)

    peers = data_subparsers.add_parser(
        "import-peers", help="import the platform's peer averages (同行同层) for a sale",
        description="Import a peer-average CSV (columns day, crowd, metric, value or 日期, 人群, 指标, "
                    "同行同层平均值) into peer_benchmarks. See docs/data-contract.md.")
    peers.add_argument("file", metavar="FILE")
    peers.add_argument("--sale-id", required=True, help="the sale the averages belong to (playbook sale.id)")
    peers.add_argument("--rejects-dir", metavar="D", help="where rejects CSVs go (default $DACU_HOME/rejects)")
    peers.add_argument("--encoding", choices=_ENCODINGS, default="auto", help="file encoding (default: detect)")
    peers.add_argument("--json", action="store_true", help="print the batch report as JSON")
    peers.set_defaults(func=cmd_import_peers)


def _common(parser: argparse.ArgumentParser, *, timezone_default: str | None) -> None:
    parser.add_argument("--rejects-dir", metavar="D", help="where rejects CSVs go (default $DACU_HOME/rejects)")
    parser.add_argument("--timezone", default=timezone_default,
                        help="timezone of the times in the file" +
                             (f" (default {timezone_default})" if timezone_default else " (default: the format's)"))
    parser.add_argument("--encoding", choices=_ENCODINGS, default=None, help="file encoding (default: detect)")
    parser.add_argument("--chunk-size", type=int, default=5000, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the batch reports as JSON")


def _engine(args: argparse.Namespace):
    """A fresh engine (disposed by the caller): one command, one connection pool."""
    from dacu.warehouse import init_schema, make_engine, resolve_url

    engine = make_engine(resolve_url(getattr(args, "warehouse", None)))
    init_schema(engine)
    return engine


def _now() -> datetime:
    # The CLI is the edge where wall-clock time enters; the loaders take it as a parameter.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _print(args: argparse.Namespace, reports: list, *, ignored_files=(), error: str | None = None) -> None:
    if args.json:
        print(json.dumps({"reports": [r.to_dict() for r in reports], "ignored_files": list(ignored_files),
                          "error": error}, ensure_ascii=False, indent=2))
    else:
        for r in reports:
            period = (f", period {r.period_start:%Y-%m-%d %H:%M}–{r.period_end:%Y-%m-%d %H:%M} UTC"
                      if r.period_start else "")
            line = (f"{r.source}: batch {r.batch_id}, read {r.rows_read}, loaded {r.rows_loaded}, "
                    f"rejected {r.rows_rejected}{period}")
            if r.rows_duplicate:
                line += f", {r.rows_duplicate} identical duplicate line(s)"
            if r.customers_created:
                line += f", {r.customers_created} customer(s) created"
            print(line)
            if r.reasons:
                print("  rejects: " + ", ".join(f"{k} {v}" for k, v in sorted(r.reasons.items())))
                print(f"  rejects file: {r.rejects_file}")
            if r.ignored_columns:
                print("  ignored columns: " + ", ".join(r.ignored_columns))
        for name in ignored_files:
            print(f"warning: {name} is not a table file; ignored", file=sys.stderr)
    if error:
        print(f"dacu: {error}", file=sys.stderr)


def _exit(reports: list) -> int:
    return EXIT_PROBLEMS if any(r.rows_rejected for r in reports) else EXIT_OK


def cmd_load(args: argparse.Namespace) -> int:
    from dacu.ingest import IngestFileError, load_dir

    engine = _engine(args)
    try:
        reports, plan = load_dir(engine, args.dir, now=_now(), timezone=args.timezone,
                                 encoding=args.encoding or "auto", rejects_dir=args.rejects_dir,
                                 chunk_size=args.chunk_size)
    except IngestFileError as exc:
        _print(args, getattr(exc, "completed", []), error=str(exc))
        return EXIT_USAGE
    except (ValueError, OSError) as exc:   # unknown timezone; rejects folder not writable
        _print(args, [], error=str(exc))
        return EXIT_USAGE
    finally:
        engine.dispose()
    _print(args, reports, ignored_files=plan.ignored_files)
    return _exit(reports)


def _import_one(args: argparse.Namespace, run) -> int:
    """Run one file importer (``run(engine)`` returns its report) and print it; a bad file is a usage
    error that names the file."""
    from dacu.ingest import IngestFileError

    engine = _engine(args)
    try:
        report = run(engine)
    except IngestFileError as exc:
        message = str(exc)
        if exc.path is None:
            message = f"{args.file}: {message}"
        _print(args, [], error=message)
        return EXIT_USAGE
    except (ValueError, OSError) as exc:
        _print(args, [], error=f"{args.file}: {exc}")
        return EXIT_USAGE
    finally:
        engine.dispose()
    _print(args, [report])
    return _exit([report])


def cmd_import_orders(args: argparse.Namespace) -> int:
    from dacu.ingest import import_orders

    return _import_one(args, lambda engine: import_orders(
        engine, args.file, format_name=args.format_name, now=_now(), create_customers=args.create_customers,
        timezone=args.timezone, encoding=args.encoding, rejects_dir=args.rejects_dir, chunk_size=args.chunk_size))


def cmd_import_peers(args: argparse.Namespace) -> int:
    from dacu.ingest.peers import import_peers

    return _import_one(args, lambda engine: import_peers(
        engine, args.file, sale_id=args.sale_id, now=_now(), encoding=args.encoding, rejects_dir=args.rejects_dir))
