"""RetroReportOperator: the sale's retro (复盘) report as one static HTML file; the snapshot Asset that triggers it."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from airflow.sdk import Asset, BaseOperator

from operators.context import load_playbook, run_time, warehouse


def snapshot_asset(sale_id: str) -> Asset:
    """The published snapshot table of one sale as an Airflow Asset.

    MetricSnapshotOperator lists it in ``outlets``: a successful (published)
    snapshot emits an asset event; a refused one fails the task and emits none.
    A DAG scheduled on it (``schedule=[snapshot_asset(sale_id)]``) rebuilds the report.
    """
    return Asset(name=f"{sale_id}__metric_snapshots", uri=f"dacu://{sale_id}/metric_snapshots",
                 group="dacu_metrics")


class RetroReportOperator(BaseOperator):
    """Writes ``retro_<sale>.html`` from the published snapshots, peers, uplift and crowds.

    The report is stamped with the run's own time (never the wall clock), which
    also ends attribution windows still open at that time. A rerun overwrites the
    file atomically. XCom: the path and counts only.
    """

    template_fields: Sequence[str] = ("playbook", "out_dir")
    ui_color = "#fde68a"

    def __init__(self, *, playbook: str, out_dir: str | None = None, last_day_of: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.out_dir = out_dir
        self.last_day_of = last_day_of     # a phase id: in its DAG, write only on the phase's last day

    def execute(self, context: Any) -> dict:
        from dacu.report import write_retro_report

        pb = load_playbook(self.playbook)
        if self.last_day_of:
            from datetime import date

            from airflow.sdk.exceptions import AirflowSkipException

            from operators.context import day_plan

            last = pb.phase(self.last_day_of).days()[-1]
            if date.fromisoformat(day_plan(context)["day"]) != last:
                raise AirflowSkipException(f"the retro report is written on the last day of {self.last_day_of} ({last})")
        generated_at = run_time(context).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        out = write_retro_report(warehouse(), pb, generated_at=generated_at, out_dir=self.out_dir or None)
        self.log.info("Retro report of %s written: %s", pb.sale.id, out)
        return out
