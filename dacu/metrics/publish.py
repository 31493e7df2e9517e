"""Publish validated metric snapshots: one transaction, keyed, replacing its own key.

Every run writes its candidate rows (``metric_snapshot_candidates``,
``metric_warmup_candidates``, keyed by run_key) and its verdict
(``metric_validations``). Only a run whose validation passed (no critical
failure) replaces the published rows of its key; a failed run leaves the
previously published snapshot in place. All of it commits together or not at all.
"""
from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, insert
from sqlalchemy.engine import Connection, Engine

from dacu.metrics.compute import compute_snapshot, compute_warmup
from dacu.metrics.definitions import BY_NAME, CROWDS, WARMUP_CROWDS
from dacu.metrics.validate import ValidationOutcome, validate_frame
from dacu.warehouse.schema import (
    metric_snapshot_candidates, metric_snapshots, metric_validations, metric_warmup_candidates, metric_warmup_daily,
)

log = logging.getLogger(__name__)

SNAPSHOT_SUITE = "daily_snapshot"
WARMUP_SUITE = "warmup_daily"


class MetricValidationError(RuntimeError):
    """The snapshot failed a critical expectation and was not published (do not retry: the data is wrong)."""

    def __init__(self, summary: dict):
        self.summary = summary
        names = ", ".join(f["name"] + (f"[{','.join(f['rows'])}]" if f["rows"] else "")
                          for f in summary["failed_expectations"])
        super().__init__(f"metric snapshot {summary['sale_id']} {summary['day_from']}..{summary['day_to']} "
                         f"(run {summary['run_key']}) not published; failed: {names}")


def _plain(value: Any, kind: str | None = None) -> Any:
    """A DataFrame cell as a DB value: NaN -> NULL, numpy -> Python, money -> Decimal(2 places)."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind in ("amount", "value"):
        return Decimal(f"{float(value):.2f}")
    return value


def _records(df: pd.DataFrame, columns: list[str], extra: dict) -> list[dict]:
    out = []
    for row in df.to_dict(orient="records"):
        rec = {c: _plain(row[c], BY_NAME[c].kind if c in BY_NAME else None) for c in columns if c in row}
        rec.update(extra)
        out.append(rec)
    return out


def _check_frame(df: pd.DataFrame, key_cols: dict, what: str) -> None:
    """Refuse a frame that does not belong to the key being written (nothing is written)."""
    for col, expected in key_cols.items():
        if col not in df.columns:
            raise ValueError(f"{what}: column {col!r} is missing")
        bad = df.loc[df[col] != expected, col]
        if len(bad):
            raise ValueError(f"{what}: column {col!r} holds {bad.iloc[0]!r}, expected {expected!r}")


def _replace(conn: Connection, table, where, rows: list[dict]) -> int:
    conn.execute(delete(table).where(where))
    if rows:
        conn.execute(insert(table), rows)
    return len(rows)


def publish_snapshot(engine: Engine, df: pd.DataFrame, sale_id: str, day_from: date, day_to: date, run_key: str,
                     validation: ValidationOutcome, *, validated_at: datetime,
                     warmup: pd.DataFrame | None = None) -> dict:
    """Record candidates and verdict; publish ``df`` (and ``warmup``) if ``validation.success``. One transaction.

    ``validated_at`` is the caller's time (naive UTC), stored on every row written.
    Returns counts only: published, rows_published, warmup_rows_published, candidate_rows.
    """
    _check_frame(df, {"sale_id": sale_id, "day_from": day_from, "day_to": day_to}, "snapshot frame")
    if warmup is not None:
        _check_frame(warmup, {"sale_id": sale_id}, "warm-up frame")
        outside = warmup.loc[(warmup["metric_day"] < day_from) | (warmup["metric_day"] > day_to), "metric_day"]
        if len(outside):
            raise ValueError(f"warm-up frame: metric_day {outside.iloc[0]} is outside {day_from}..{day_to}")
    snap_cols = [c.name for c in metric_snapshots.columns if c.name not in ("run_key", "validated_at")]
    warm_cols = [c.name for c in metric_warmup_daily.columns if c.name not in ("run_key", "validated_at")]
    stamp = {"run_key": run_key, "validated_at": validated_at}
    snap_rows = _records(df, snap_cols, stamp)
    warm_rows = _records(warmup, warm_cols, stamp) if warmup is not None else []
    published = bool(validation.success)

    with engine.begin() as conn:
        cand = metric_snapshot_candidates.c
        candidates = _replace(conn, metric_snapshot_candidates,
                              and_(cand.run_key == run_key, cand.day_from == day_from, cand.day_to == day_to),
                              snap_rows)
        wc = metric_warmup_candidates.c
        _replace(conn, metric_warmup_candidates,
                 and_(wc.run_key == run_key, wc.metric_day >= day_from, wc.metric_day <= day_to), warm_rows)
        vc = metric_validations.c
        _replace(conn, metric_validations,
                 and_(vc.run_key == run_key, vc.day_from == day_from, vc.day_to == day_to),
                 [{"run_key": run_key, "day_from": day_from, "day_to": day_to, "sale_id": sale_id,
                   "success": bool(validation.success), "published": published,
                   "expectations_evaluated": validation.evaluated, "failed": validation.failures_json(),
                   "validated_at": validated_at}])
        rows_published = warm_published = 0
        if published:
            sc = metric_snapshots.c
            rows_published = _replace(
                conn, metric_snapshots,
                and_(sc.sale_id == sale_id, sc.day_from == day_from, sc.day_to == day_to), snap_rows)
            if warmup is not None:
                pc = metric_warmup_daily.c
                warm_published = _replace(
                    conn, metric_warmup_daily,
                    and_(pc.sale_id == sale_id, pc.metric_day >= day_from, pc.metric_day <= day_to), warm_rows)
    return {"published": published, "rows_published": rows_published,
            "warmup_rows_published": warm_published, "candidate_rows": candidates}


def snapshot_and_publish(engine: Engine, *, sale_id: str, reference_day: date, tz: str, day_from: date,
                         day_to: date, active_rv_days: int, run_key: str, validated_at: datetime,
                         raise_on_failure: bool = False) -> dict:
    """Compute, validate (both suites), publish if valid; the summary holds counts and keys only."""
    sink: dict = {}       # a single day's warm-up comes from the snapshot's own query (state path)
    df = compute_snapshot(engine, sale_id=sale_id, reference_day=reference_day, tz=tz, day_from=day_from,
                          day_to=day_to, active_rv_days=active_rv_days, run_key=run_key, warmup_sink=sink)
    warm = sink.get("frame")
    if warm is None:
        warm = compute_warmup(engine, sale_id=sale_id, reference_day=reference_day, tz=tz, day_from=day_from,
                              day_to=day_to, run_key=run_key, active_rv_days=active_rv_days)
    days = (day_to - day_from).days + 1
    outcome = validate_frame(df, SNAPSHOT_SUITE, params={"expected_rows": len(CROWDS)}).merge(
        validate_frame(warm, WARMUP_SUITE, params={"expected_rows": len(WARMUP_CROWDS) * days},
                       index_columns=("metric_day", "crowd")))
    counts = publish_snapshot(engine, df, sale_id, day_from, day_to, run_key, outcome,
                              validated_at=validated_at, warmup=warm)
    summary = {
        "sale_id": sale_id, "day_from": day_from.isoformat(), "day_to": day_to.isoformat(), "run_key": run_key,
        "success": outcome.success, **counts, "expectations_evaluated": outcome.evaluated,
        "failed_expectations": [{"suite": f.suite, "name": f.name, "rows": list(f.rows)} for f in outcome.blocking],
        "warnings": [{"suite": f.suite, "name": f.name, "rows": list(f.rows)} for f in outcome.warnings],
    }
    log.info("metric snapshot %s %s..%s run %s: success=%s published=%s rows=%s failed=%s warnings=%s",
             sale_id, day_from, day_to, run_key, outcome.success, counts["published"], counts["rows_published"],
             outcome.failed_names, outcome.warning_names)
    if raise_on_failure and not outcome.success:
        raise MetricValidationError(summary)
    return summary


def run_daily_snapshot(engine: Engine, *, sale_id: str, reference_day: date, tz: str, day: date,
                       active_rv_days: int, run_key: str, validated_at: datetime,
                       raise_on_failure: bool = False) -> dict:
    """The Airflow entry point: the snapshot of one sale-local day, validated, published if valid.

    With ``raise_on_failure`` a failed validation raises :class:`MetricValidationError`
    (after recording candidates and verdict) so the task fails without retry.
    """
    return snapshot_and_publish(engine, sale_id=sale_id, reference_day=reference_day, tz=tz, day_from=day,
                                day_to=day, active_rv_days=active_rv_days, run_key=run_key,
                                validated_at=validated_at, raise_on_failure=raise_on_failure)

