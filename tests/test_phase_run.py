"""End to end: dated runs of real phase and metrics DAGs through ``dag.test()``, on both warehouses.

A dated run (logical date = run_after = the day's tick) is what a backfill does;
the gates' targets are in the past, so they pass at once.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dacu.warehouse.connect import airflow_conn_value

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "include" / "playbooks" / "tmall_double11_2026.yaml"
SCENE_TASKS = r".*\.scene__.*"

pytestmark = pytest.mark.slow


@pytest.fixture
def shop(warehouse_url, monkeypatch, airflow_db):
    """A generated shop (the generator owns the database while it writes), then an engine on it."""
    from dacu.cli import main
    from dacu.warehouse import make_engine

    rc = main(["--warehouse", warehouse_url, "data", "generate", "--customers", "400", "--seed", "5",
               "--playbook", str(PLAYBOOK), "--issue-playbook-coupons"])
    assert rc == 0
    monkeypatch.setenv("AIRFLOW_CONN_DACU_WAREHOUSE", airflow_conn_value(warehouse_url))
    engine = make_engine(warehouse_url)
    yield engine
    engine.dispose()


@pytest.fixture
def channels(monkeypatch):
    """The reference SMS gateway and an SMTP sink on loopback, as the dispatch tasks' connections."""
    from dacu.devservices import SmtpSink, airflow_env
    from dacu.dispatch.gateway.server import Gateway

    gateway, smtp = Gateway(port=0).start(), SmtpSink().start()
    for k, v in airflow_env(gateway.url, smtp).items():
        monkeypatch.setenv(k, v)
    yield gateway, smtp
    smtp.stop()
    gateway.stop()


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "sale_tmall_double11_2026.py"))
    assert bag.import_errors == {}
    return bag.dags


def _states(dr) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dr.get_task_instances()}


def test_dated_peak_run_segments_and_sends_every_due_strategy(shop, dags, channels):
    from dacu.playbook import load_playbook
    from dacu.warehouse.schema import crowd_snapshots

    pb = load_playbook(PLAYBOOK)
    day = pb.phase("peak").days()[0]
    tick = datetime.combine(day, time(0), tzinfo=pb.tz)
    dag = dags["tmall_double11_2026__peak"]
    dr = dag.test(logical_date=tick, run_after=tick, mark_success_pattern=SCENE_TASKS)
    states = _states(dr)
    assert str(dr.state).endswith("success"), states
    due = {sid for ids in pb.due("peak", day).values() for sid in ids}
    segmented = {t.split(".segment__")[1] for t, s in states.items() if ".segment__" in t and s == "success"}
    crowd_due = {sid for sid in due if pb.strategy(sid).kind != "scene_task"}
    reminders = {sid for sid in crowd_due
                 if pb.strategy(sid).kind == "payment_reminder" and pb.strategy(sid).when.form == 3}
    assert segmented == crowd_due - reminders
    reminded = {t.split(".remind__")[1] for t, s in states.items() if ".remind__" in t and s == "success"}
    assert reminded == reminders

    # Every segment task's counts match its snapshot in the warehouse.
    first = dr.get_task_instances()
    counts = {}
    for ti in first:
        if ".segment__" in ti.task_id and states[ti.task_id] == "success":
            out = ti.xcom_pull(task_ids=ti.task_id)
            assert set(out) >= {"crowd", "treatment", "holdout", "snapshot_key"}
            assert not any("@" in str(v) for v in out.values())     # no emails through XCom
            sale, sid, run_key = out["snapshot_key"].split("/", 2)
            with shop.connect() as cx:
                n = cx.execute(select(func.count()).select_from(crowd_snapshots).where(
                    crowd_snapshots.c.sale_id == sale, crowd_snapshots.c.strategy_id == sid,
                    crowd_snapshots.c.run_key == run_key)).scalar_one()
            assert n == out["treatment"] + out["holdout"]
            counts[ti.task_id] = n

    # Every due crowd strategy went through the reference gateway; nothing was sent twice.
    gateway, smtp = channels
    dispatched = {t for t, s in states.items() if ".dispatch__" in t and s == "success"}
    assert {t.split(".dispatch__")[1] for t in dispatched} == crowd_due - reminders
    sent_tasks = dispatched | {t for t, s in states.items() if ".remind__" in t and s == "success"}
    sent = sum((dr.get_task_instance(t).xcom_pull(task_ids=t) or {}).get("sent", 0) for t in sent_tasks)
    from dacu.readiness.carriers import TEST_ID_PREFIX

    # The phase's preflight made carrier test sends through the same gateway: count customer messages only.
    accepted = sum(1 for i in gateway.state.accepted_ids() if not i.startswith(TEST_ID_PREFIX))
    assert sent > 0 and accepted + smtp.total == sent       # SMS/in-app via the gateway, email via SMTP

    # A rerun of the same day (a cleared run) replaces the snapshots and sends nothing new.
    dr2 = dag.test(logical_date=tick, run_after=tick, mark_success_pattern=SCENE_TASKS)
    assert str(dr2.state).endswith("success")
    with shop.connect() as cx:
        # (reminder micro-batches keep their own snapshots, keyed remind@<tick>)
        total = cx.execute(select(func.count()).select_from(crowd_snapshots).where(
            ~crowd_snapshots.c.run_key.like("remind@%"))).scalar_one()
    assert total == sum(counts.values())
    again = sum(1 for i in gateway.state.accepted_ids() if not i.startswith(TEST_ID_PREFIX))
    assert again == accepted and smtp.total == sent - accepted
    # The rerun's preflight repeats its carrier test sends under the same ids: the gateway drops those;
    # no customer message is offered twice (the ledger reserved every key before the first send).
    tests = sum(1 for i in gateway.state.accepted_ids() if i.startswith(TEST_ID_PREFIX))
    assert gateway.state.summary()["duplicates"] <= tests


def test_sale_day_param_for_a_day_without_due_strategies_skips_its_gates(shop, dags):
    """A manual run picks its day from the sale_day param; a day with nothing due skips every gate."""
    from dacu.playbook import load_playbook

    pb = load_playbook(PLAYBOOK)
    assert not pb.due("warmup", datetime(2026, 12, 25).date())
    tick = datetime(2026, 10, 1, tzinfo=pb.tz)      # inside the DAG's window, so its tasks are scheduled
    dr = dags["tmall_double11_2026__warmup"].test(logical_date=tick, run_after=tick,
                                                  run_conf={"sale_day": "2026-12-25"},
                                                  mark_success_pattern=SCENE_TASKS)
    states = _states(dr)
    assert states.pop("plan_day") == "success"
    plan = dr.get_task_instance("plan_day").xcom_pull(task_ids="plan_day")
    assert plan["day"] == "2026-12-25" and plan["due_count"] == 0
    gates = {t: s for t, s in states.items() if t.endswith(".gate")}
    assert gates and set(gates.values()) == {"skipped"}, states
    assert all(s in ("skipped", "success") for s in states.values())   # scene tasks are marked, not run


def test_dated_metrics_run_publishes_the_previous_day(shop, dags):
    from dacu.warehouse.schema import metric_snapshots

    day = datetime(2026, 11, 11).date()
    from dacu.playbook import load_playbook

    pb = load_playbook(PLAYBOOK)
    tick = datetime.combine(day + timedelta(days=1), time(1), tzinfo=pb.tz)
    dr = dags["tmall_double11_2026__metrics"].test(logical_date=tick, run_after=tick)
    assert str(dr.state).endswith("success"), _states(dr)
    out = dr.get_task_instance("snapshot").xcom_pull(task_ids="snapshot")
    assert out["published"] is True and out["day_from"] == "2026-11-11"
    with shop.connect() as cx:
        crowds = cx.execute(select(metric_snapshots.c.crowd).where(
            metric_snapshots.c.sale_id == "tmall_double11_2026")).scalars().all()
    assert sorted(crowds) == ["fans", "members", "new", "old", "whole_store"]
