"""``dacu playbook lint|show``: check a playbook file, or print its calendar and strategies.

Exit codes (see dacu.cli): 0 clean; 1 a file has errors; 2 a file is missing or unreadable.
"""
from __future__ import annotations

import argparse
import json
import sys

from dacu.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("playbook", help="validate or show a playbook file")
    verbs = group.add_subparsers(dest="verb", required=True)

    lint = verbs.add_parser("lint", help="check playbook files; print path:line field message per issue")
    lint.add_argument("files", nargs="+", metavar="FILE")
    lint.add_argument("--json", action="store_true", help="print the issues as JSON")
    lint.set_defaults(func=cmd_lint)

    show = verbs.add_parser("show", help="print a playbook's calendar and strategies")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true", help="print the validated playbook as JSON")
    show.set_defaults(func=cmd_show)


def cmd_lint(args: argparse.Namespace) -> int:
    from dacu.playbook import PlaybookFileError, lint_file
    from dacu.readiness.lint import sms_lint_issues

    issues, unreadable = [], []
    for path in args.files:
        try:
            issues += lint_file(path)
        except PlaybookFileError as exc:
            unreadable += exc.issues
            continue
        issues += sms_lint_issues(path)
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    if args.json:
        print(json.dumps({"files": len(args.files), "errors": errors, "warnings": warnings,
                          "unreadable": [i.as_dict() for i in unreadable],
                          "issues": [i.as_dict() for i in issues]}, ensure_ascii=False, indent=2))
    else:
        for issue in issues:
            print(("warning: " if issue.severity == "warning" else "") + str(issue))
        for issue in unreadable:
            print(str(issue), file=sys.stderr)
        checked = len(args.files) - len(unreadable)
        summary = f"{checked} file(s) checked: {errors} error(s), {warnings} warning(s)"
        if unreadable:
            summary += f"; {len(unreadable)} file(s) unreadable"
        print(summary)
    if unreadable:
        return EXIT_USAGE
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from dacu.playbook import PlaybookError, PlaybookFileError, load_playbook
    from dacu.playbook import render

    try:
        playbook = load_playbook(args.file)
    except PlaybookFileError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except PlaybookError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{args.file}: {len(exc.issues)} error(s); run `dacu playbook lint {args.file}`", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.json:
        print(json.dumps(render.to_json(playbook), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render.show_text(playbook))
    return EXIT_OK
