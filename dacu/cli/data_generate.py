"""``dacu data generate``: write a deterministic synthetic shop into the warehouse."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from dacu.synth.generate import DEFAULT_END, GenerateError, generate, load_playbook_file

HELP = f"""\
Generate a realistic shop (customers, SKUs, three years of orders with 618 and Double 11
surges, behaviour events, coupons and grants) into the warehouse.

The generator OWNS the warehouse while it runs: in one transaction it deletes all customers,
SKUs, orders, order items, events, coupons, coupon grants and import batches, then inserts
the new shop. The same --customers/--seed/--end/--years/--playbook give identical tables,
so a rerun replaces the data with the same data. The data never depends on today's date:
--end defaults to the playbook's sale window end, else {DEFAULT_END.isoformat()}.
See docs/synthetic-shop.md for the rates chosen."""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--end must be a date YYYY-MM-DD, got {value!r}") from None


def register(data_subparsers) -> None:
    p = data_subparsers.add_parser("generate", help="write a deterministic synthetic shop (replaces all data)",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, required=True, help="number of customers, e.g. 20000")
    p.add_argument("--seed", type=int, required=True, help="random seed (same seed, same shop)")
    p.add_argument("--playbook", help="shape the sale surges around this playbook's phase windows")
    p.add_argument("--end", type=_day, help="last sale-local day of the data (default: playbook sale end, "
                                            f"else {DEFAULT_END.isoformat()})")
    p.add_argument("--years", type=int, default=3, help="years of history up to --end (default 3)")
    p.add_argument("--issue-playbook-coupons", action="store_true",
                   help="also write the playbook's coupons, issued 7 days before their issue_deadline")
    p.add_argument("--unissued-coupon", action="append", default=[], metavar="ID",
                   help="with --issue-playbook-coupons: leave this playbook coupon unissued (repeatable; the "
                        "readiness coupon gate then warns before its deadline and fails after it)")
    p.add_argument("--progress", action="store_true", help="print rows/s on stderr every few seconds")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dacu.cli import CliError
    from dacu.playbook import PlaybookError
    from dacu.warehouse.connect import describe, init_schema, make_engine, resolve_url

    playbook = None
    if args.playbook:
        try:
            playbook = load_playbook_file(args.playbook)
        except PlaybookError as exc:
            raise CliError(f"cannot use playbook {args.playbook}:\n{exc}") from None
    try:
        from dacu.synth.generate import validate

        validate(args.customers, args.seed, args.years)
        if args.unissued_coupon and not args.issue_playbook_coupons:
            raise GenerateError("--unissued-coupon needs --issue-playbook-coupons")
        if args.issue_playbook_coupons and playbook is None:
            raise GenerateError("--issue-playbook-coupons needs --playbook")
    except GenerateError as exc:
        raise CliError(str(exc)) from None
    url = resolve_url(getattr(args, "warehouse", None))
    engine = make_engine(url)
    try:
        init_schema(engine)
        result = generate(engine, customers=args.customers, seed=args.seed, end=args.end, years=args.years,
                          playbook=playbook, playbook_name=args.playbook,
                          progress=sys.stderr if args.progress else None,
                          issue_playbook_coupons=args.issue_playbook_coupons,
                          unissued_coupons=tuple(args.unissued_coupon))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"generated a synthetic shop into {describe(url)} (batch {result.batch_id}, seed {result.seed}, "
          f"{result.start} .. {result.end})")
    for table, count in result.counts.items():
        print(f"  {table:<14} {count:>12,}")
    print(f"  {result.rows:,} rows in {result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)")
    return 0
