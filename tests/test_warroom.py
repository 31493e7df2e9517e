"""The war room's domain readers (dacu.warroom), on SQLite and PostgreSQL, without Airflow."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert

from dacu.crowds.snapshot import write_segment_snapshot
from dacu.metrics.definitions import SNAPSHOT_METRICS, WARMUP_METRICS
from dacu.readiness import record_confirmation, write_result
from dacu.readiness.result import GateResult
from dacu.warehouse.schema import dispatch_ledger, metric_snapshots, metric_warmup_daily, peer_benchmarks
from dacu.warroom import (
    WarroomInputError, find_playbook, init_warroom_schema, parse_now, rebuild_dispatch_totals,
    refresh_dispatch_totals, warroom_data,
)

TZ = ZoneInfo("Asia/Shanghai")
SALE = "tmall_double11_2026"
STRATEGY = "peak_1930_last_call_sms"
GATE = datetime(2026, 11, 11, 19, 30, tzinfo=TZ)
NOW = datetime(2026, 11, 12, 9, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def playbook():
    return find_playbook(SALE)


def _ledger(engine, wave: str, run_key: str, rows: list[tuple[str, str | None, float | None, str | None]]) -> None:
    stamp = GATE.astimezone(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(insert(dispatch_ledger), [
            {"message_key": f"k{i:04d}", "sale_id": SALE, "strategy_id": STRATEGY, "wave": wave, "run_key": run_key,
             "customer_id": f"c{i}", "channel": "sms", "msg_class": "marketing", "state": state, "reason": reason,
             "planned_at": stamp, "attempts": 1, "cost": cost, "receipt": receipt, "updated_at": stamp}
            for i, (state, reason, cost, receipt) in enumerate(rows)])


def _snapshot_row(day: date, crowd: str, visitors: int, buyers: int, share: float) -> dict:
    row = {m.name: None for m in SNAPSHOT_METRICS}
    for m in SNAPSHOT_METRICS:
        if m.kind in ("count", "amount"):
            row[m.name] = 0
    row.update({"sale_id": SALE, "day_from": day, "day_to": day, "crowd": crowd, "crowd_size": 1000,
                "visitors": visitors, "cart_buyers": visitors // 2, "paying_buyers": buyers, "paid_amount": buyers * 100,
                "visit_rate": visitors / 1000, "conversion_rate": buyers / 1000, "amount_share": share,
                "visit_deposit_rate": 0.25, "peer_conversion_rate": 0.02, "peer_amount_share": 0.5,
                "reference_day": date(2026, 10, 20), "active_rv_days": 90, "run_key": f"t/{day}",
                "validated_at": datetime(2026, 11, 13)})
    return row


def _fill(engine, playbook) -> None:
    init_warroom_schema(engine)
    run_key = GATE.isoformat()
    ids = [f"c{i}" for i in range(200)]
    write_segment_snapshot(engine, SALE, STRATEGY, "sale", run_key, GATE, ids, 10.0, crowd_size=230,
                           excluded_by_reason={"opted_out": 20, "no_mobile": 10}, channels=["sms"])
    # an earlier run of the same strategy: the page shows the latest and counts both
    write_segment_snapshot(engine, SALE, STRATEGY, "sale", (GATE - timedelta(days=1)).isoformat(),
                           GATE - timedelta(days=1), ids[:50], 10.0, crowd_size=50, channels=["sms"])
    wave = "sale@2026-11-11T19:30"
    _ledger(engine, wave, run_key, [("sent", None, 0.045, "delivered")] * 150 + [("sent", None, 0.045, None)] * 10
            + [("skipped", "cap_daily", None, None)] * 12 + [("skipped", "opted_out", None, None)] * 3
            + [("failed", "invalid_mobile", None, None)] * 5 + [("holdout", None, None, None)] * 20)
    refresh_dispatch_totals(engine, SALE, STRATEGY, wave, NOW)
    with engine.begin() as conn:
        conn.execute(insert(metric_snapshots), [
            _snapshot_row(date(2026, 11, d), c, 100 * d, 10 * d + i, s)
            for d in (10, 11) for i, (c, s) in enumerate([("whole_store", 1.0), ("new", 0.3), ("old", 0.7),
                                                          ("members", 0.4), ("fans", 0.2)])])
        conn.execute(insert(metric_warmup_daily), [
            {"sale_id": SALE, "metric_day": date(2026, 11, d), "crowd": c, "run_key": "t", "validated_at": NOW,
             **{m.name: 10 * (2 if c == "new" else 1) for m in WARMUP_METRICS}}
            for d in (8, 9) for c in ("new", "old")])
        conn.execute(insert(peer_benchmarks), [
            {"sale_id": SALE, "metric_day": date(2026, 11, d), "crowd": c, "metric": m.name, "value": 10}
            for d in (8, 9) for c in ("new", "old") for m in WARMUP_METRICS])
    blocked = GateResult("coupons", "fail", ["大促券 c11_sprint_late_15 未在冻结前发放"], {},
                         {STRATEGY: "coupon not issued"})
    write_result(engine, SALE, datetime(2026, 11, 10, 0, 0, tzinfo=TZ), blocked)
    write_result(engine, SALE, datetime(2026, 11, 10, 0, 0, tzinfo=TZ), GateResult("history"))
    write_result(engine, SALE, datetime(2026, 11, 13, 0, 0, tzinfo=TZ), GateResult("history", "warn", ["later"]))
    record_confirmation(engine, SALE, "scene_task", "peak_taobao_group_push", datetime(2026, 11, 11, 9, 0, tzinfo=TZ),
                        "Done", "ops_li", datetime(2026, 11, 11, 9, 5, tzinfo=TZ), {})
    record_confirmation(engine, SALE, "scene_task", "balance_service_followup",
                        datetime(2026, 11, 11, 14, 0, tzinfo=TZ), "Not done", "ops_wang", None, {})


class FakeAirflow:
    available = True

    def latest_runs(self, dag_ids):
        return {f"{SALE}__peak": {"run_id": "scheduled__2026-11-10T16:00:00+00:00", "state": "success",
                                  "run_type": "scheduled", "run_after": "2026-11-10T16:00:00+00:00", "url": "/x"}}

    def waiting_actions(self, dag_ids):
        return [{"dag_id": f"{SALE}__peak", "run_id": "r1", "task_id": "g1930.approve__peak_1930_last_call_sms",
                 "subject": "大额发送审批", "created_at": "2026-11-11T11:30:00+00:00", "url": "/ra", "moment": None},
                {"dag_id": f"{SALE}__recovery", "run_id": "r2", "task_id": "g1400.scene__recovery_1114_dsr_care",
                 "subject": "场景任务", "created_at": "2026-11-14T06:00:00+00:00", "url": "/ra2", "moment": None}]


def test_dispatch_totals_refresh_and_rebuild_agree(engine, playbook):
    _fill(engine, playbook)
    wave = "sale@2026-11-11T19:30"
    row = refresh_dispatch_totals(engine, SALE, STRATEGY, wave, NOW)
    assert (row["sent"], row["failed"], row["holdout"], row["delivered"]) == (160, 5, 20, 150)
    assert json.loads(row["skipped"]) == {"cap_daily": 12, "opted_out": 3}
    assert row["cost"] == pytest.approx(160 * 0.045)
    assert rebuild_dispatch_totals(engine, SALE, NOW) == 1
    again = refresh_dispatch_totals(engine, SALE, STRATEGY, wave, NOW)     # idempotent
    assert again == row
    with pytest.raises(ValueError, match="timezone-aware"):
        refresh_dispatch_totals(engine, SALE, STRATEGY, wave, datetime(2026, 11, 12))


def test_page_data(engine, playbook):
    _fill(engine, playbook)
    d = warroom_data(engine, playbook, NOW, airflow=FakeAirflow())
    cal = d["calendar"]
    status = {p["id"]: p["status"] for p in cal["phases"]}
    assert status["peak"] == "done" and status["recovery"] == "current" and status["warmup"] == "done"
    assert 0 < cal["position"] < 1
    assert cal["next_gate"]["at"] > NOW.isoformat() and cal["next_gate"]["phase"] == "recovery"
    peak = next(p for p in cal["phases"] if p["id"] == "peak")
    assert peak["latest_run"]["state_label"] == "成功"
    # metrics: the latest single day by now is 11-11, peers beside
    m = d["metrics"]
    assert (m["day_from"], m["day_to"]) == ("2026-11-11", "2026-11-11")
    whole = m["crowds"][0]
    assert whole["crowd"] == "whole_store" and whole["values"]["visitors"] == 1100
    assert whole["peers"]["conversion_rate"] == pytest.approx(0.02)
    assert [r["day_from"] for r in m["ranges"]] == ["2026-11-11", "2026-11-10"]
    assert d["trend"]["days"] == ["2026-11-10", "2026-11-11"] and d["trend"]["series"]["visitors"] == [1000, 1100]
    assert d["share"]["labels"] == ["新客", "老客", "会员", "粉丝"] and d["share"]["shop"][1] == pytest.approx(0.7)
    # warm-up index: new did twice the peers (200), old level (100), on every axis
    assert d["radar"]["series"]["new"] == [200.0] * 5 and d["radar"]["series"]["old"] == [100.0] * 5
    # the strategy row: latest run counts and its send totals
    peak_rows = next(p for p in d["strategies"] if p["id"] == "peak")["strategies"]
    row = next(r for r in peak_rows if r["id"] == STRATEGY)
    seg = row["segment"]
    assert (seg["crowd_size"], seg["runs"], seg["treatment"] + seg["holdout"]) == (230, 2, 200)
    assert seg["excluded"] == {"opted_out": 20, "no_mobile": 10}
    latest = row["dispatch"]["latest"]
    assert (latest["sent"], latest["failed"], latest["skipped_total"], latest["cost"]) == (160, 5, 15, 7.2)
    assert latest["skipped_labels"]["cap_daily"] == "超每日上限"
    assert row["goal"]["label"] == "提升成交率" and row["goal"]["metric"]["value"] == pytest.approx(0.11)
    assert next(r for r in peak_rows if r["id"] == "peak_1000_interest_conversion")["segment"] is None
    # people: scene tasks (a Done answer closes one, "Not done" keeps it open), approvals from Airflow
    open_ids = [t["id"] for t in d["scene_tasks"]["open"]]
    assert "peak_taobao_group_push" not in open_ids and "balance_service_followup" in open_ids
    assert next(t for t in d["scene_tasks"]["open"] if t["id"] == "balance_service_followup")["decision_label"] == "未完成"
    assert d["scene_tasks"]["done"] == 1
    assert [a["strategy_id"] for a in d["approvals"]["waiting"]] == [STRATEGY]
    # readiness as of now: the 11-13 warning is not visible yet on 11-12
    gates = {g["gate"]: g for g in d["readiness"]}
    assert gates["history"]["status"] == "pass" and gates["coupons"]["status_label"] == "未通过"
    assert gates["coupons"]["blocked"][0]["name"] == playbook.strategy(STRATEGY).name
    later = warroom_data(engine, playbook, datetime(2026, 11, 13, 12, 0, tzinfo=TZ))
    assert {g["gate"]: g["status"] for g in later["readiness"]}["history"] == "warn"
    json.dumps(d)                                   # the page's JSON


def test_range_choice_and_bad_input(engine, playbook):
    _fill(engine, playbook)
    d = warroom_data(engine, playbook, NOW, day_from="2026-11-10", day_to="2026-11-10")
    assert d["metrics"]["crowds"][0]["values"]["visitors"] == 1000
    missing = warroom_data(engine, playbook, NOW, day_from="2026-11-01", day_to="2026-11-11")
    assert missing["metrics"]["found"] is False and missing["share"]["shop"] == []
    with pytest.raises(WarroomInputError, match="day_from"):
        warroom_data(engine, playbook, NOW, day_from="11/10/2026", day_to="2026-11-10")
    with pytest.raises(WarroomInputError, match="after"):
        warroom_data(engine, playbook, NOW, day_from="2026-11-12", day_to="2026-11-10")


def test_page_reads_only_summary_tables(engine, playbook):
    _fill(engine, playbook)
    seen: list[str] = []

    def spy(conn, cursor, statement, params, context, executemany):
        seen.append(statement.lower())

    event.listen(engine, "before_cursor_execute", spy)
    try:
        warroom_data(engine, playbook, NOW, airflow=FakeAirflow())
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert seen
    per_customer = ("events", "orders", "order_items", "customers", "crowd_snapshots", "crowd_feature_rows",
                    "dispatch_ledger", "coupon_grants")
    for stmt in seen:
        words = set(stmt.replace(",", " ").replace("(", " ").replace(")", " ").split())
        assert not words & set(per_customer), stmt


def test_parse_now():
    fallback = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert parse_now(None, TZ, fallback) == fallback
    assert parse_now("2026-11-11", TZ, fallback) == datetime(2026, 11, 11, 23, 59, 59, tzinfo=TZ)
    assert parse_now("2026-11-11T20:00", TZ, fallback) == datetime(2026, 11, 11, 20, 0, tzinfo=TZ)
    assert parse_now("2026-11-11T12:00:00+00:00", TZ, fallback) == datetime(2026, 11, 11, 20, 0, tzinfo=TZ)
    with pytest.raises(ValueError, match="today="):
        parse_now("tomorrow", TZ, fallback)
