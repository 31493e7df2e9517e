"""The playbook: one sale's calendar and strategies, read from ``include/playbooks/*.yaml``.

``load_playbook`` validates a file and returns a :class:`Playbook` (raising
:class:`PlaybookError` with every error, each naming file, line and field);
``lint_file`` returns errors and warnings. The format: ``docs/playbook.md``.
"""
from dacu.playbook.loader import PlaybookError, PlaybookFileError, PlaybookIssue, lint_file, load_playbook
from dacu.playbook.model import Coupon, Crowd, CrowdRef, Phase, Playbook, Sale, Strategy, When, Window

__all__ = [
    "Coupon", "Crowd", "CrowdRef", "Phase", "Playbook", "PlaybookError", "PlaybookFileError", "PlaybookIssue",
    "Sale", "Strategy", "When", "Window", "lint_file", "load_playbook",
]
