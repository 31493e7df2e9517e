"""``dacu gateway serve`` and ``dacu dispatch run|ledger``: the reference gateway and one-off sends.

``dacu dispatch --playbook P --strategy S [--dry-run]`` (``dacu dispatch run``
is the same) runs the same code as the Airflow dispatch task: it segments the
strategy at ``--at`` (unless ``--run-key`` names an existing segment run) and
dispatches it at ``--send-time`` (default ``--at``). A payment reminder with a
``from``/``to``/``every_minutes`` window runs the one micro-batch due at
``--send-time``; a ``smart`` strategy sends the hour buckets open by then (the
output's ``smart.next_bucket_at`` says when to call again). Output is counts only.
Exit codes (see dacu.cli): 0 done; 1 something is unknown or
pending after the run; 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import os

from dacu.cli import EXIT_OK, EXIT_PROBLEMS, CliError

DEFAULT_GATEWAY = "http://127.0.0.1:8765"


def register(subparsers: argparse._SubParsersAction) -> None:
    from dacu.dispatch.gateway.__main__ import add_arguments

    gw = subparsers.add_parser("gateway", help="the reference SMS / in-app gateway")
    gw_verbs = gw.add_subparsers(dest="verb", required=True)
    serve = gw_verbs.add_parser("serve", help="run the gateway on a loopback port (Ctrl-C stops it)")
    add_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    d = subparsers.add_parser(
        "dispatch", help="send a strategy (dacu dispatch --playbook P --strategy S [--dry-run]), or show the ledger",
        description="dacu dispatch --playbook P --strategy S [--dry-run] sends one strategy outside Airflow on "
                    "the same code; 'dacu dispatch run ...' is the same; "
                    "'dacu dispatch ledger --sale S' shows the ledger.")
    _run_arguments(d)
    d.set_defaults(func=cmd_run)
    verbs = d.add_subparsers(dest="verb", required=False)
    run = verbs.add_parser("run", help="segment (unless --run-key) and dispatch one strategy (same as without 'run')")
    _run_arguments(run)
    run.set_defaults(func=cmd_run)

    led = verbs.add_parser("ledger", help="the ledger of a sale per strategy, occasion, channel and state")
    led.add_argument("--sale", required=True)
    led.add_argument("--json", action="store_true")
    led.set_defaults(func=cmd_ledger)


def _run_arguments(p: argparse.ArgumentParser) -> None:
    # Not required at the argparse level: 'dacu dispatch ledger' shares this parser; cmd_run checks them.
    p.add_argument("--playbook", metavar="FILE")
    p.add_argument("--strategy", metavar="ID")
    p.add_argument("--at", metavar='"YYYY-MM-DD HH:MM"',
                   help="gate moment, sale-local (default: the strategy's first)")
    p.add_argument("--send-time", metavar='"YYYY-MM-DD HH:MM"', help="send moment, sale-local (default: --at)")
    p.add_argument("--run-key", help="dispatch an existing segment run instead of segmenting now")
    p.add_argument("--dry-run", action="store_true",
                   help="send nothing; record what would be sent (ledger state dry_run) and print the counts")
    p.add_argument("--gateway-url", default=os.environ.get("DACU_GATEWAY_URL", DEFAULT_GATEWAY))
    p.add_argument("--smtp-host")
    p.add_argument("--smtp-port", type=int, default=25)
    p.add_argument("--rate", type=float, help="messages per second for this account (token bucket)")
    p.add_argument("--db-batch", type=int, default=1000, help="ledger keys per transaction")
    p.add_argument("--gateway-batch", type=int, default=100, help="messages per gateway call")
    p.add_argument("--threads", type=int, default=4, help="concurrent gateway calls")


def cmd_serve(args: argparse.Namespace) -> int:
    from dacu.dispatch.gateway.__main__ import run

    return run(args)


def _local(value: str, tz, flag: str):
    from dacu.playbook.timeparse import parse_local_datetime

    try:
        return parse_local_datetime(value, tz)
    except ValueError as exc:
        raise CliError(f"{flag} {exc}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from dacu.crowds.segment import segment_strategy
    from dacu.dispatch import DispatchError, TemplateError, dispatch_strategy
    from dacu.playbook import PlaybookError, load_playbook
    from dacu.warehouse import get_engine

    if not args.playbook or not args.strategy:
        raise CliError("dispatch needs --playbook FILE and --strategy ID")
    try:
        playbook = load_playbook(args.playbook)
        strategy = playbook.strategy(args.strategy)
    except PlaybookError as exc:
        raise CliError(str(exc)) from None
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if args.at:
        at = _local(args.at, playbook.tz, "--at")
    else:
        moments = strategy.moments()
        if not moments:
            raise CliError(f"strategy {strategy.id} has no moment; pass --at")
        at = moments[0]
    send_time = _local(args.send_time, playbook.tz, "--send-time") if args.send_time else at
    engine = get_engine(args.warehouse)
    smtp = {"host": args.smtp_host, "port": args.smtp_port} if args.smtp_host else None
    tuning = {"rate_per_s": args.rate, "db_batch": args.db_batch, "gateway_batch": args.gateway_batch,
              "threads": args.threads}
    try:
        if strategy.kind == "payment_reminder" and strategy.when.form == 3 and args.run_key is None:
            # one micro-batch: the tick at or before --send-time in that day's slice of the window
            from dacu.dispatch import remind_unpaid

            window = strategy.window_on(send_time.date())
            if window is None:
                raise CliError(f"strategy {strategy.id} has no reminder window on {send_time.date()}")
            res = remind_unpaid(engine, playbook, strategy.id, *window, send_time, gateway_url=args.gateway_url,
                                smtp=smtp, dry_run=args.dry_run, **tuning)
        else:
            run_key = args.run_key
            if run_key is None:
                run_key = f"cli__{at.strftime('%Y%m%dT%H%M')}"
                segment_strategy(engine, playbook, strategy.id, at, run_key)
            res = dispatch_strategy(engine, playbook, strategy.id, run_key, send_time, gateway_url=args.gateway_url,
                                    smtp=smtp, dry_run=args.dry_run, **tuning)
    except (DispatchError, TemplateError) as exc:
        raise CliError(f"{args.playbook}: {exc}") from None
    print(json.dumps(res, ensure_ascii=False, indent=2, default=str))
    if not args.dry_run and (res["unknown"] or res["pending"]):
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    from dacu.dispatch import ledger
    from dacu.warehouse import get_engine

    with get_engine(args.warehouse).connect() as conn:
        rows = ledger.by_sale(conn, args.sale)
    data = [{"strategy_id": r.strategy_id, "wave": r.wave, "channel": r.channel, "state": r.state,
             "reason": r.reason, "count": int(r.n), "cost": float(r.cost or 0)} for r in rows]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not data:
        print(f"no dispatch ledger rows for sale {args.sale}")
        return EXIT_OK
    print(f"{'strategy':<40} {'occasion':<28} {'ch':<6} {'state':<9} {'reason':<22} {'count':>8} {'cost':>10}")
    for d in data:
        print(f"{d['strategy_id']:<40} {d['wave']:<28} {d['channel']:<6} {d['state']:<9} {d['reason'] or '':<22} "
              f"{d['count']:>8} {d['cost']:>10.2f}")
    return EXIT_OK
