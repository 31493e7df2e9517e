"""MetricSnapshotOperator: the sale day's per-crowd funnel snapshot, validated before it is published."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from operators.context import load_playbook, run_time, warehouse


class MetricSnapshotOperator(BaseOperator):
    """Computes seed 000 §四's metrics per crowd for one sale day and publishes them if valid.

    The day is the sale-local day before the run's own time (the 01:00 tick
    covers yesterday), or the ``day`` param of a manual run. A rerun or
    backfill replaces that day's snapshot atomically. A failed validation
    leaves the last good snapshot published and fails the task without retry
    (the data, not the infrastructure, is wrong). XCom: counts and keys only.
    """

    template_fields: Sequence[str] = ("playbook",)
    ui_color = "#e9d5ff"

    def __init__(self, *, playbook: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook

    def execute(self, context: Any) -> dict:
        from dacu.metrics import MetricValidationError, run_daily_snapshot

        pb = load_playbook(self.playbook)
        override = (context.get("params") or {}).get("day") or ""
        if override:
            day = datetime.fromisoformat(override).date()
        else:
            day = run_time(context).astimezone(pb.tz).date() - timedelta(days=1)
        if not pb.sale.window.start <= day <= pb.sale.window.end:
            raise AirflowSkipException(f"{day} is outside the sale window {pb.sale.window.start}..{pb.sale.window.end}")
        try:
            out = run_daily_snapshot(
                warehouse(), sale_id=pb.sale.id, reference_day=pb.sale.reference_day, tz=pb.sale.timezone,
                day=day, active_rv_days=pb.metrics.active_rv_days, run_key=context["dag_run"].run_id,
                # Stamped with the run's own time, so a rerun or backfill writes the same rows.
                validated_at=run_time(context).astimezone(UTC).replace(tzinfo=None), raise_on_failure=True,
            )
        except MetricValidationError as exc:
            raise AirflowFailException(f"snapshot of {day} not published: {exc}") from None
        self.log.info("Snapshot of %s: %s", day, out)
        return out
