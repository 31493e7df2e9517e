"""The ``dacu`` command line: the same domain code the Airflow operators call.

Exit codes: 0 success; 1 the check or command found problems (lint errors,
rejected rows over the limit, failed gates); 2 bad usage or unreadable input.
Each verb group lives in its own module with a ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import logging
import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from dacu.cli import (
        check_cmd,
        data_generate,
        data_import,
        dispatch_cmd,
        metrics_cmd,
        playbook_cmd,
        report_cmd,
        segment_cmd,
    )

    parser = argparse.ArgumentParser(prog="dacu", description="dacu (大促): mega-sale campaign automation")
    parser.add_argument("--warehouse", help="SQLAlchemy URL of the warehouse (default: the dacu_warehouse connection)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="group", required=True)

    playbook_cmd.register(sub)
    segment_cmd.register(sub)
    metrics_cmd.register(sub)
    check_cmd.register(sub)
    dispatch_cmd.register(sub)
    report_cmd.register(sub)

    data = sub.add_parser("data", help="load, import or generate warehouse data")
    data_sub = data.add_subparsers(dest="verb", required=True)
    data_generate.register(data_sub)
    data_import.register(data_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"dacu: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
