"""War-room metrics (seed 000 §四, seed 002 warm-up view): compute, validate with GX, publish.

Kept light: the heavy modules (pandas, Great Expectations) load on first use, so
importing ``dacu.metrics.definitions`` (the warehouse schema does) stays cheap.
"""
from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "compute_snapshot": "dacu.metrics.compute",
    "compute_warmup": "dacu.metrics.compute",
    "publish_snapshot": "dacu.metrics.publish",
    "run_daily_snapshot": "dacu.metrics.publish",
    "MetricValidationError": "dacu.metrics.publish",
    "validate_frame": "dacu.metrics.validate",
    "ValidationOutcome": "dacu.metrics.validate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dacu.metrics' has no attribute {name!r}")
