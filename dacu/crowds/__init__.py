"""The crowd library: named crowds (catalog.py, include/sql/crowds/), evaluated as of a gate
moment, composed, split into treatment/holdout and frozen per strategy run (docs/crowds.md)."""
from dacu.crowds.bounds import CrowdContext, CrowdError
from dacu.crowds.evaluate import GateEvaluator, SaleContext, crowd_expr, evaluate_crowd
from dacu.crowds.freshness import recheck_at_send
from dacu.crowds.holdout import holdout_bucket, is_holdout, split_holdout
from dacu.crowds.segment import prepare_crowd_day, preview_strategy, segment_gate, segment_strategy
from dacu.crowds.snapshot import SegmentResult, write_segment_snapshot

__all__ = [
    "CrowdContext", "CrowdError", "GateEvaluator", "SaleContext", "SegmentResult", "crowd_expr", "evaluate_crowd",
    "holdout_bucket", "is_holdout", "prepare_crowd_day", "preview_strategy", "recheck_at_send", "segment_gate", "segment_strategy",
    "split_holdout", "write_segment_snapshot",
]
