"""Operators are thin: unit tests of their context handling, without a DAG run.

Manual runs in Airflow 3.3 have no logical date; the plan must come from
``run_after`` (or the ``sale_day`` param), never from the wall clock.
"""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import airflow  # noqa: F401  (importing Airflow puts plugins/ on sys.path, as in a worker)
import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _context(logical_date, run_after, params=None, plan=None):
    ti = SimpleNamespace(xcom_pull=lambda task_ids=None, **_: plan)
    return {"dag_run": SimpleNamespace(logical_date=logical_date, run_after=run_after, run_type="manual"),
            "params": params or {}, "ti": ti}


def test_plan_uses_run_after_when_a_manual_run_has_no_logical_date():
    from operators.phase import PhasePlanOperator

    op = PhasePlanOperator(task_id="plan_day", playbook="tmall_618_2027.yaml", phase_id="peak")
    # 2027-06-18 17:30 UTC is 6.19 01:30 in Shanghai: the sale day is 6.19, not 6.18.
    plan = op.execute(_context(None, datetime(2027, 6, 18, 17, 30, tzinfo=timezone.utc)))
    assert plan["day"] == "2027-06-19"
    assert any("20:00:00+08:00" in g["at"] and g["strategies"] for g in plan["gates"].values())


def test_plan_prefers_the_logical_date_and_the_sale_day_param():
    from operators.phase import PhasePlanOperator

    op = PhasePlanOperator(task_id="plan_day", playbook="tmall_618_2027.yaml", phase_id="peak")
    scheduled = datetime(2027, 6, 20, 0, 0, tzinfo=SHANGHAI)
    assert op.execute(_context(scheduled, datetime(2027, 6, 25, tzinfo=SHANGHAI)))["day"] == "2027-06-20"
    manual = op.execute(_context(None, datetime(2027, 6, 25, tzinfo=SHANGHAI), {"sale_day": "2027-06-18",
                                                                                "dry_run": True}))
    assert manual["day"] == "2027-06-18" and manual["dry_run"] is True
    with pytest.raises(ValueError, match="sale_day"):
        op.execute(_context(None, datetime(2027, 6, 25, tzinfo=SHANGHAI), {"sale_day": "6/18"}))


def test_gate_skips_when_nothing_is_due():
    from airflow.sdk.exceptions import AirflowSkipException

    from operators.phase import GateSensor

    plan = {"gates": {"g2000": {"at": "2027-06-18T20:00:00+08:00", "strategies": []}}}
    gate = GateSensor(task_id="gate", gate="g2000")
    with pytest.raises(AirflowSkipException, match="no strategy due"):
        gate.execute(_context(None, datetime(2027, 6, 18, tzinfo=SHANGHAI), plan=plan))


def test_segment_skips_a_strategy_not_due_at_its_gate():
    from airflow.sdk.exceptions import AirflowSkipException

    from operators.segment import SegmentAudienceOperator

    plan = {"gates": {"g2000": {"at": "2027-06-19T20:00:00+08:00", "strategies": ["other"]}}}
    op = SegmentAudienceOperator(task_id="s", playbook="tmall_618_2027.yaml", strategy_id="x", gate="g2000")
    with pytest.raises(AirflowSkipException, match="not due"):
        op.execute(_context(None, datetime(2027, 6, 19, tzinfo=SHANGHAI), plan=plan))


def test_crowd_features_skips_a_day_without_segments_and_builds_the_day_otherwise(monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowSkipException

    import operators.segment as seg
    from dacu.warehouse.connect import init_schema, make_engine

    op = seg.CrowdFeaturesOperator(task_id="crowd_features", playbook="tmall_618_2027.yaml")
    nothing = {"gates": {"g2000": {"at": "2027-06-19T20:00:00+08:00", "strategies": []}}}
    with pytest.raises(AirflowSkipException, match="no crowd strategy"):
        op.execute(_context(None, datetime(2027, 6, 19, tzinfo=SHANGHAI), plan=nothing))
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    init_schema(engine)
    monkeypatch.setattr(seg, "warehouse", lambda: engine)
    from operators.phase import PhasePlanOperator

    plan = PhasePlanOperator(task_id="plan_day", playbook="tmall_618_2027.yaml", phase_id="peak").execute(  # 6.19
        _context(None, datetime(2027, 6, 18, 17, 30, tzinfo=timezone.utc)))
    out = op.execute(_context(None, datetime(2027, 6, 18, 17, 30, tzinfo=timezone.utc), plan=plan))
    assert out["day"] == "2027-06-19" and out["base_built"] and out["base_rows"] == 0    # an empty shop
    again = op.execute(_context(None, datetime(2027, 6, 18, 17, 30, tzinfo=timezone.utc), plan=plan))
    assert not again["base_built"] and again["parts_built"] == 0 and again["parts"] == out["parts"]
