"""The SMS template lint as ``dacu playbook lint`` issues (file, line, field, message).

``dacu.cli.playbook_cmd`` calls :func:`sms_lint_issues` for each file after the
playbook's own checks; a file with errors of its own is not linted here (its
strategies cannot be trusted), so nothing is reported twice.
"""
from __future__ import annotations

from pathlib import Path

from dacu.playbook import PlaybookError, PlaybookIssue, load_playbook
# the loader owns the YAML-node -> line mapping; reuse it so lines match the playbook's own issues
from dacu.playbook.loader import _issue, _parse, _read
from dacu.readiness.sms import lint_sms


def sms_lint_issues(path: str | Path) -> list[PlaybookIssue]:
    """SMS template findings of a valid playbook file; [] when the file has errors of its own."""
    try:
        playbook = load_playbook(path)
    except PlaybookError:
        return []
    try:
        findings, _ = lint_sms(playbook)
    except FileNotFoundError as exc:
        return [PlaybookIssue(str(path), None, "readiness.banned_words_file", str(exc).split(": ", 1)[-1])]
    if not findings:
        return []
    root, _ = _parse(_read(path))
    return sorted((_issue(str(path), root, loc, message, severity) for loc, message, severity, _ in findings),
                  key=lambda i: i.line or 0)
