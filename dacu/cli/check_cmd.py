"""``dacu check --playbook P [--at TIME] [--json]``: run the readiness gates and print the report.

Each gate (history, coupons, budget, sms_lint, carriers, lowest_price; docs/readiness.md)
says pass / warn / fail and why, and the strategies a failure stops are listed with
the reason. ``--at`` is the check moment, sale-local (default: now). Nothing is
written unless ``--record`` (then the results go to ``readiness_results`` keyed by
sale, gate and moment, exactly as the readiness DAG writes them). The budget and
carrier gates talk to the channel gateway (``--gateway-url`` or ``$DACU_GATEWAY_URL``);
without one they warn that they did not check. ``--gate`` picks gates (repeatable).
Exit: 0 no gate failed; 1 a gate failed; 2 bad usage or unreadable playbook.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime

from dacu.cli import EXIT_OK, EXIT_PROBLEMS, CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    from dacu.readiness.result import GATES

    p = subparsers.add_parser("check", help="run the readiness gates of a sale and print the report",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--playbook", required=True, metavar="FILE",
                   help="playbook file (a bare name is looked up in include/playbooks/)")
    p.add_argument("--at", metavar='"YYYY-MM-DD HH:MM"', help="check moment, sale-local (default: now)")
    p.add_argument("--gate", action="append", choices=GATES, help="run only this gate (repeatable)")
    p.add_argument("--gateway-url", help="channel gateway for balance and carrier tests (default $DACU_GATEWAY_URL)")
    p.add_argument("--record", action="store_true", help="write the results to the readiness table")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_check)


def _playbook(name: str):
    from pathlib import Path

    from dacu.paths import PLAYBOOK_DIR
    from dacu.playbook import PlaybookError, PlaybookFileError, load_playbook

    path = Path(name)
    if not path.exists() and not path.is_absolute() and (PLAYBOOK_DIR / path).exists():
        path = PLAYBOOK_DIR / path
    try:
        return load_playbook(path)
    except PlaybookFileError as exc:
        raise CliError(str(exc)) from None
    except PlaybookError as exc:
        raise CliError(f"{exc}\n{name}: {len(exc.issues)} error(s); run `dacu playbook lint {name}`") from None


def _moment(text: str | None, tz) -> datetime:
    from dacu.playbook.timeparse import parse_local_datetime

    if not text:
        return datetime.now(tz).replace(second=0, microsecond=0)   # the CLI's own input, shown in the report
    try:
        return parse_local_datetime(text, tz)
    except ValueError as exc:
        raise CliError(f"--at {exc}") from None


def cmd_check(args: argparse.Namespace) -> int:
    from dacu.readiness import format_report, make_probe, run_checks
    from dacu.readiness.result import GATES
    from dacu.warehouse.connect import get_engine, init_schema

    playbook = _playbook(args.playbook)
    at = _moment(args.at, playbook.tz)
    try:
        probe = make_probe(args.gateway_url)
    except ValueError as exc:
        raise CliError(f"--gateway-url: {exc}") from None
    engine = get_engine(getattr(args, "warehouse", None))
    if args.record:
        init_schema(engine)
    try:
        report = run_checks(engine, playbook, at, gates=args.gate or GATES, probe=probe, record=args.record)
    finally:
        if probe is not None:
            probe.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(format_report(report, playbook), end="")
    return EXIT_PROBLEMS if report.status == "fail" else EXIT_OK
