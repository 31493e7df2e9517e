"""Builds a sale's Airflow DAGs from its playbook: one DAG per phase plus the daily metrics DAG.

Called from the thin files in ``dags/`` (one per playbook, so a broken
playbook is one import error and the other sales still load). Parsing reads the
playbook file and nothing else: no database, no network.

Phase DAG ``<sale>__<phase>``: ticks daily at 00:00 sale-local from the phase's
first day to its last (schedule-driven: unpaused, it runs by itself through the
sale; backfillable). Each run plans its sale day, builds the day's crowd
features (``crowd_features``: the base layer and the due crowds' history parts,
docs/crowds.md), then per gate time a task group: a deferrable time-sensor gate,
then one segment task per crowd strategy that can fire at that gate (after
``crowd_features``). Strategies not due that day are skipped with the reason.

Metrics DAG ``<sale>__metrics``: daily at 01:00 sale-local over the sale's
window; each run snapshots the previous sale day.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

PHASE_TICK = "0 0 * * *"
# The readiness gates of the readiness DAG (dacu.readiness.GATES, kept here to avoid importing it at parse).
READINESS_GATES = ("history", "coupons", "budget", "sms_lint", "carriers", "lowest_price")
METRICS_TICK = "0 1 * * *"


def _phase_params():
    from airflow.sdk import Param

    return {
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Select crowds and record what would be sent; send nothing."),
        "sale_day": Param("", type="string", title="Sale day (YYYY-MM-DD)",
                          description="Manual runs only: the sale day to run. Empty: the run's own day.",
                          pattern=r"^(\d{4}-\d{2}-\d{2})?$"),
    }


def build_phase_dag(playbook, playbook_name: str, phase_id: str):
    from airflow.sdk import DAG, TaskGroup
    from airflow.timetables.trigger import CronTriggerTimetable

    from dacu.planning import crowd_strategies, gate_key, scene_strategies, strategy_gates
    from dacu.playbook.render import phase_doc_md
    from operators.phase import GateSensor, PhasePlanOperator
    from operators.dispatch import DispatchOperator, PaymentReminderOperator
    from operators.readiness import (
        PhasePreflightOperator,
        ReadinessGateOperator,
        ReadinessReportOperator,
        SceneTaskOperator,
        SendApprovalOperator,
    )
    from operators.segment import CrowdFeaturesOperator, SegmentAudienceOperator

    sale = playbook.sale
    phase = playbook.phase(phase_id)
    tz = playbook.tz
    days = phase.days()
    start = datetime.combine(days[0], time(0), tzinfo=tz)
    end = datetime.combine(days[-1], time(23, 59), tzinfo=tz)
    dag = DAG(
        dag_id=f"{sale.id}__{phase_id}",
        description=f"{sale.name} · {phase.name}",
        schedule=CronTriggerTimetable(PHASE_TICK, timezone=sale.timezone),
        start_date=start,
        end_date=end,
        catchup=False,           # a missed day's sends are not made up late; backfill re-plays on purpose
        max_active_runs=3,       # a scene task waiting for a person must not hold back the next days
        params=_phase_params(),
        doc_md=phase_doc_md(playbook, phase_id),
        tags=["dacu", f"sale:{sale.id}", f"phase:{phase_id}"],
        default_args={"owner": "crm-ops", "retries": 1, "retry_delay": timedelta(minutes=2)},
    )
    with dag:
        plan = PhasePlanOperator(task_id="plan_day", playbook=playbook_name, phase_id=phase_id)
        if phase_id == "readiness":
            # The readiness gates run every day of the preparation phase, at the day's tick.
            with TaskGroup(group_id="readiness", tooltip="readiness gates (pass / warn / fail)"):
                checks = [ReadinessGateOperator(task_id=g, playbook=playbook_name, gate=g)
                          for g in READINESS_GATES]
                plan >> checks >> ReadinessReportOperator(task_id="report", playbook=playbook_name)
        else:
            # Before the phase's first send: coupons, budget and carriers once more.
            preflight = PhasePreflightOperator(task_id="preflight", playbook=playbook_name, phase_id=phase_id)
            plan >> preflight
        features = None
        crowd_by_gate: dict[str, list] = {gate_key(t): [] for t in playbook.gate_times(phase_id)}
        scene_by_gate: dict[str, list] = {g: [] for g in crowd_by_gate}
        for strategy in crowd_strategies(playbook, phase_id):
            for g in strategy_gates(playbook, strategy):
                crowd_by_gate[g].append(strategy)
        for strategy in scene_strategies(playbook, phase_id):
            for g in strategy_gates(playbook, strategy):
                scene_by_gate[g].append(strategy)
        for g in sorted(crowd_by_gate):
            with TaskGroup(group_id=g, tooltip=f"gate {g[1:3]}:{g[3:]}"):
                # none_failed: the preflight skips on most days and must not skip the gates with it.
                gate = GateSensor(task_id="gate", gate=g, poke_interval=30, trigger_rule="none_failed")
                plan >> gate
                if phase_id != "readiness":
                    preflight >> gate
                for strategy in crowd_by_gate[g]:
                    common = {"playbook": playbook_name, "strategy_id": strategy.id, "gate": g}
                    if strategy.kind == "payment_reminder" and strategy.when.form == 3:
                        # Event-driven reminders: a micro-batch every N minutes through the day's window.
                        gate >> PaymentReminderOperator(task_id=f"remind__{strategy.id}", **common)
                        continue
                    if features is None:
                        # The day's crowd features (base layer + history parts of the due crowds),
                        # built once after the plan, before any segment task of the day.
                        features = CrowdFeaturesOperator(task_id="crowd_features", playbook=playbook_name,
                                                         task_group=dag.task_group)
                        plan >> features
                    segment = SegmentAudienceOperator(task_id=f"segment__{strategy.id}", **common)
                    # A large send (recipients or cost over the playbook's thresholds) waits for a person.
                    approve = SendApprovalOperator(task_id=f"approve__{strategy.id}", **common,
                                                   response_timeout=timedelta(hours=2))
                    dispatch = DispatchOperator(task_id=f"dispatch__{strategy.id}", **common)
                    gate >> segment >> approve >> dispatch
                    features >> segment
                for strategy in scene_by_gate[g]:
                    # A person does it in the back office and confirms here; unanswered by the
                    # next day it is recorded as not done.
                    gate >> SceneTaskOperator(
                        task_id=f"scene__{strategy.id}", playbook=playbook_name, strategy_id=strategy.id,
                        gate=g, response_timeout=timedelta(hours=24), defaults=SceneTaskOperator.NOT_DONE,
                    )
        if phase_id == "recovery":
            # The sale's last phase ends with its retro report, whatever the day's sends did.
            from operators.report import RetroReportOperator

            leaves = [t for t in dag.tasks if not t.downstream_list]
            leaves >> RetroReportOperator(task_id="retro_report", playbook=playbook_name, last_day_of=phase_id,
                                          trigger_rule="all_done")
    return dag


def build_metrics_dag(playbook, playbook_name: str):
    from airflow.sdk import DAG, Param
    from airflow.timetables.trigger import CronTriggerTimetable

    from operators.metrics import MetricSnapshotOperator
    from operators.report import snapshot_asset

    sale = playbook.sale
    tz = playbook.tz
    first = datetime.combine(sale.window.start + timedelta(days=1), time(0), tzinfo=tz)
    last = datetime.combine(sale.window.end + timedelta(days=1), time(23, 59), tzinfo=tz)
    dag = DAG(
        dag_id=f"{sale.id}__metrics",
        description=f"{sale.name} · 每日数据快照 (daily metric snapshots per crowd)",
        schedule=CronTriggerTimetable(METRICS_TICK, timezone=sale.timezone),
        start_date=first,
        end_date=last,
        catchup=False,          # the retro backfills past days on purpose (airflow backfill create)
        max_active_runs=2,
        params={"day": Param("", type="string", title="Sale day (YYYY-MM-DD)",
                             description="Manual runs only: the day to snapshot. Empty: the day before the run.",
                             pattern=r"^(\d{4}-\d{2}-\d{2})?$")},
        doc_md=(f"### {sale.name} · 每日数据快照\n\n"
                f"每天 01:00 ({sale.timezone}) 计算前一天的分人群指标 (全店/新客/老客/会员/粉丝), "
                f"经 Great Expectations 校验后发布; 校验失败则保留上一次的快照。\n\n"
                f"| 项目 | 值 |\n|---|---|\n| 老客基准日 | {sale.reference_day} |\n"
                f"| 统计窗口 | {sale.window.start} – {sale.window.end} |\n"
                f"| 活跃RV天数 | {playbook.metrics.active_rv_days} |\n"),
        tags=["dacu", f"sale:{sale.id}", "metrics"],
        default_args={"owner": "crm-ops", "retries": 1, "retry_delay": timedelta(minutes=5)},
    )
    with dag:
        # A published snapshot is an asset event; it triggers the retro report DAG.
        MetricSnapshotOperator(task_id="snapshot", playbook=playbook_name, outlets=[snapshot_asset(sale.id)])
    return dag


def build_report_dag(playbook, playbook_name: str):
    """``<sale>__retro_report``: rebuilds the retro report whenever a snapshot is published."""
    from airflow.sdk import DAG

    from operators.report import RetroReportOperator, snapshot_asset

    sale = playbook.sale
    dag = DAG(
        dag_id=f"{sale.id}__retro_report",
        description=f"{sale.name} · 复盘报告 (retro report, rebuilt on every published snapshot)",
        schedule=[snapshot_asset(sale.id)],
        start_date=datetime.combine(sale.window.start, time(0), tzinfo=playbook.tz),
        catchup=False,
        max_active_runs=1,
        doc_md=(f"### {sale.name} · 复盘报告\n\n每次发布每日数据快照后重新生成静态 HTML 复盘报告"
                f"(分人群漏斗、同行对比、预热指数雷达、策略增量与ROI、新客沉淀、人群留存)。\n\n"
                f"| 项目 | 值 |\n|---|---|\n| 触发 | dacu://{sale.id}/metric_snapshots |\n"),
        tags=["dacu", f"sale:{sale.id}", "report"],
        default_args={"owner": "crm-ops", "retries": 1, "retry_delay": timedelta(minutes=5)},
    )
    with dag:
        RetroReportOperator(task_id="retro_report", playbook=playbook_name)
    return dag


def build_dags(playbook_path: str | Path, namespace: dict[str, Any]) -> list:
    """Build every DAG of one playbook into ``namespace`` (a DAG file's globals)."""
    from dacu.playbook import load_playbook

    path = Path(playbook_path)
    playbook = load_playbook(path)
    dags = [build_phase_dag(playbook, path.name, p.id) for p in playbook.phases]
    dags.append(build_metrics_dag(playbook, path.name))
    dags.append(build_report_dag(playbook, path.name))
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags
