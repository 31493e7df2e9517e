"""``dacu report retro --playbook P [--out DIR]``: the sale's retro (复盘) report as one static HTML file.

Reads published snapshots, peers, segment runs and the dispatch ledger; writes
``<out>/retro_<sale>.html`` (default ``$DACU_HOME/reports``) and prints its path.
Exit 0 written; 2 bad input (unknown playbook, unreadable warehouse).
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from dacu.cli import EXIT_OK, CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("report", help="reports for the ops team (retro)")
    verbs = group.add_subparsers(dest="verb", required=True)
    retro = verbs.add_parser("retro", help="write the sale's retro report (static HTML, works offline)")
    retro.add_argument("--playbook", required=True, metavar="FILE", help="the sale's playbook")
    retro.add_argument("--out", metavar="DIR", help="output folder (default $DACU_HOME/reports)")
    # also accepted after the verb; SUPPRESS keeps a global `dacu --warehouse URL report ...` intact
    retro.add_argument("--warehouse", default=argparse.SUPPRESS, help="SQLAlchemy URL of the warehouse")
    retro.add_argument("--generated-at", metavar='"YYYY-MM-DD HH:MM"',
                       help="time stamped on the report and end of open attribution windows, UTC (default: now)")
    retro.add_argument("--json", action="store_true", help="print the summary as JSON")
    retro.set_defaults(func=cmd_retro)


def cmd_retro(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dacu.paths import PLAYBOOK_DIR
    from dacu.playbook import PlaybookError, load_playbook
    from dacu.report import write_retro_report
    from dacu.warehouse import get_engine

    path = Path(args.playbook)
    if not path.exists() and (PLAYBOOK_DIR / args.playbook).exists():
        path = PLAYBOOK_DIR / args.playbook
    try:
        playbook = load_playbook(path)
    except PlaybookError as exc:
        raise CliError(f"{args.playbook}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{args.playbook}: {exc.strerror or exc}") from None
    if args.generated_at:   # the CLI is the edge where the wall clock may enter
        try:
            generated_at = datetime.strptime(args.generated_at, "%Y-%m-%d %H:%M")
        except ValueError:
            raise CliError(f"--generated-at {args.generated_at!r} is not 'YYYY-MM-DD HH:MM'") from None
    else:
        generated_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    from dacu.warehouse import init_schema

    engine = get_engine(getattr(args, "warehouse", None))
    init_schema(engine)   # a warehouse that predates the metric tables gets them (empty): the report says so
    out = write_retro_report(engine, playbook, generated_at=generated_at, out_dir=args.out)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"retro report for {out['sale_id']}: {out['path']} ({out['snapshot_days']} snapshot day(s), "
              f"{out['strategies']} strateg(ies), {out['peer_values']} peer value(s))")
    return EXIT_OK
