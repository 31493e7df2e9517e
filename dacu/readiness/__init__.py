"""Readiness gates: is the shop ready to send? (issue 4; docs/readiness.md)

Each gate checks one thing seed 004 warns about — order history imported,
coupons issued before the platform freeze, channel balance, SMS templates,
carrier test sends, the 30-day lowest-price rule — at a check moment, writes
pass / warn / fail with reasons to ``readiness_results`` and names the
strategies it blocks. ``blocked_strategies`` tells the segment and dispatch
steps which strategies to skip, and why.
"""
from dacu.readiness.approvals import ApprovalRequest, SceneTask, approval_request, scene_tasks
from dacu.readiness.check import ReadinessReport, format_report, make_probe, run_checks, run_gate
from dacu.readiness.gateway import ChannelProbe, HttpChannelProbe, ProbeError
from dacu.readiness.result import GATES, GateResult, ReadinessConfigError
from dacu.readiness.store import (
    blocked_strategies, confirmations, latest_results, record_confirmation, write_result,
)

__all__ = [
    "GATES", "ApprovalRequest", "ChannelProbe", "GateResult", "HttpChannelProbe", "ProbeError",
    "ReadinessConfigError", "ReadinessReport", "SceneTask", "approval_request", "blocked_strategies",
    "confirmations", "format_report", "latest_results", "make_probe", "record_confirmation", "run_checks",
    "run_gate", "scene_tasks", "write_result",
]
