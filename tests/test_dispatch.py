"""Outreach dispatch: the reference gateway, the exactly-once ledger, send-time rules, channels.

Every ledger test runs on SQLite and PostgreSQL against a real gateway on a
loopback port; exactly-once is asserted against the gateway's own record of
accepted messages and of messages handed to each number.
"""
from __future__ import annotations

import json
import logging
import random
import re
import textwrap
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, insert, select, update

from dacu.crowds.snapshot import write_segment_snapshot
from dacu.dispatch import DispatchError, TemplateError, dispatch_strategy, message_key
from dacu.dispatch.channels import GatewayClient, TokenBucket, mailbox_provider
from dacu.dispatch.gateway import Faults, Gateway, GatewayConfig, sms_segments
from dacu.dispatch.render import PAID_NOTE, sms_text
from dacu.dispatch.rules import in_quiet_hours, quiet_hold
from dacu.playbook import load_playbook
from dacu.warehouse.schema import customers, dispatch_cap_slots, dispatch_ledger

TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
SALE = "t618_2027"
PII_RE = re.compile(r"1[3-9]\d{9}|[A-Za-z0-9._%+-]+@(qq|163|126|gmail)\.com")

PLAYBOOK = textwrap.dedent("""\
    sale:
      id: t618_2027
      name: 天猫618 2027
      platform: tmall
      timezone: Asia/Shanghai
      reference_day: 2027-05-24
      window: {start: 2027-05-10, end: 2027-07-01}
    phases:
      - id: peak
        name: 爆发期
        windows:
          - {id: sale, name: 正式售卖, start: "2027-06-16 00:00", end: "2027-06-21 23:59"}
    strategies:
      - id: peak_morning
        name: 6.19 上午提醒
        scene: promo_preferred
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 10:00"]}
        crowd: {base: members}
        material: {template: "{nick},618专享{coupon}已到账,戳 {link}", coupon: c20}
        channels: [sms, inapp]
        holdout_pct: 10
      - id: peak_noon
        name: 6.19 中午再提醒
        scene: promo_preferred
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 12:00"]}
        crowd: {base: members}
        material: {template: "618最后冲刺,戳 {link}"}
        channels: [sms, inapp]
      - id: peak_night
        name: 6.19 21:00 加码
        scene: promo_preferred
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 21:00"]}
        crowd: {base: members}
        material: {template: "今晚加码,戳 {link}"}
        channels: [sms]
      - id: peak_pay_remind
        name: 催付
        scene: transaction
        phase: peak
        wave: sale
        kind: payment_reminder
        when: {from: "2027-06-16 00:00", to: "2027-06-21 23:59", after_order_minutes: 25, every_minutes: 15}
        crowd: {base: unpaid_orders, params: {window_minutes: 4320}}
        material: {template: "您拍下的宝贝还未付款,点此付款 {pay_link}"}
        channels: [sms]
      - id: peak_mail
        name: 邮件预告
        scene: promo_preferred
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 10:00"]}
        crowd: {base: members}
        material: {template: "{nick}您好,618主会场已开,详情 {link} 退订 {unsubscribe_link}", subject: 618主会场}
        channels: [email]
      - id: peak_bad_template
        name: 坏模板
        scene: promo_preferred
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 10:00"]}
        crowd: {base: members}
        material: {template: "您好 {coupon_code}"}
        channels: [sms]
    coupons:
      - id: c20
        name: 满199减20券
        kind: store
        face_value: 20
        threshold: 199
        budget: 1000
        valid_from: "2027-06-16 00:00"
        valid_to: "2027-06-20 23:59"
        issue_deadline: "2027-05-20 23:59"
    channels:
      sms: {signature: 【品牌旗舰店】, unsubscribe_suffix: 拒收请回复R, unit_price: 0.045,
            quiet_hours: {start: "20:00", end: "08:00"}, daily_cap: 1}
      email: {sender: crm@example.com, daily_cap: 1}
      inapp: {daily_cap: 2}
    """)


def local(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=TZ)


def mobile(i: int) -> str:
    return f"138{i:08d}"


@pytest.fixture(scope="module")
def playbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("pb") / "t618.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


@pytest.fixture
def gateway():
    gw = Gateway(port=0).start()
    yield gw
    gw.stop()


def add_customers(engine, n: int, domains=("qq.com",), **overrides) -> list[str]:
    rows = [dict(customer_id=f"c{i:05d}", nick=f"n{i}", mobile=mobile(i), email=f"u{i}@{domains[i % len(domains)]}",
                 first_seen_at=datetime(2026, 1, 1), member_level=1, consent_sms=True, consent_email=True,
                 consent_inapp=True, blacklisted=False, **overrides) for i in range(n)]
    with engine.begin() as conn:
        conn.execute(insert(customers), rows)
    return [r["customer_id"] for r in rows]


def segment(engine, strategy_id: str, ids, gate: str, run_key: str = "r1", holdout_pct: float = 0,
            channels=("sms", "inapp")):
    return write_segment_snapshot(engine, SALE, strategy_id, "sale", run_key, local(gate), ids, holdout_pct,
                                  channels=channels)


def ledger_states(engine, strategy_id: str | None = None) -> dict[str, int]:
    q = select(dispatch_ledger.c.state, func.count()).group_by(dispatch_ledger.c.state)
    if strategy_id:
        q = q.where(dispatch_ledger.c.strategy_id == strategy_id)
    with engine.connect() as conn:
        return {s: n for s, n in conn.execute(q)}


def accepted(gw: Gateway) -> set[str]:
    return set(gw.state.accepted)


def intended_keys(engine, strategy_id: str) -> set[str]:
    """Keys the ledger decided to send (reserved, sent, failed, unknown)."""
    with engine.connect() as conn:
        return {k for (k,) in conn.execute(select(dispatch_ledger.c.message_key).where(
            (dispatch_ledger.c.strategy_id == strategy_id)
            & dispatch_ledger.c.state.in_(("reserved", "sent", "unknown", "failed"))))}


# ---- the gateway on its own ------------------------------------------------------------------------

def test_gateway_batch_idempotency_caps_receipts_balance():
    cfg = GatewayConfig(max_batch=100, per_number_daily_cap=2, balance=10.0, unit_price=0.25)
    with Gateway(port=0, config=cfg) as gw:
        s = requests.Session()
        url = gw.url + "/v1/send_batch"
        too_many = [{"out_id": f"x{i}", "to": mobile(i), "text": "t"} for i in range(101)]
        r = s.post(url, json={"channel": "sms", "kind": "marketing", "messages": too_many})
        assert r.status_code == 400 and "at most 100" in r.json()["error"]
        msgs = [{"out_id": "a", "to": mobile(1), "text": "x" * 71},        # 2 segments
                {"out_id": "a", "to": mobile(1), "text": "x"},             # repeated id: acknowledged
                {"out_id": "b", "to": "12345", "text": "x"},
                {"out_id": "c", "to": mobile(1), "text": "x"},
                {"out_id": "d", "to": mobile(1), "text": "x"}]             # third to one number: cap 2
        res = s.post(url, json={"channel": "sms", "kind": "marketing", "send_time": "2027-06-19T10:00:00+08:00",
                                "messages": msgs}).json()
        assert [r["status"] for r in res["results"]] == ["accepted", "duplicate", "rejected", "accepted", "rejected"]
        assert res["results"][0]["segments"] == 2 and res["results"][1]["msg_id"] == res["results"][0]["msg_id"]
        assert res["results"][2]["code"] == "invalid_number" and res["results"][4]["code"] == "number_daily_cap"
        assert res["balance"] == 10.0 - 3 * 0.25                                 # 3 segments billed
        # the next sale-local day the number's cap is fresh; the balance runs out
        more = [{"out_id": f"e{i}", "to": mobile(100 + i), "text": "x"} for i in range(50)]
        res = s.post(url, json={"channel": "sms", "kind": "marketing", "send_time": "2027-06-20T10:00:00+08:00",
                                "messages": more}).json()
        codes = [r.get("code") for r in res["results"]]
        assert codes.count(None) == 37 and codes.count("insufficient_balance") == 13
        st = s.post(gw.url + "/v1/status", json={"out_ids": ["a", "zz"]}).json()["results"]
        assert st["a"]["status"] == "accepted" and st["a"]["receipt"] in ("delivered", "failed")
        assert st["zz"]["status"] == "unknown"
        assert s.get(gw.url + "/v1/receipts?cursor=0&limit=5").json()["next_cursor"] == 5
        assert s.post(gw.url + "/admin/faults", json={"error_rate": 2}).status_code == 400
        assert s.post(gw.url + "/admin/faults", json={"bogus": 1}).status_code == 400


def test_gateway_delivery_rates_deterministic():
    def rates(seed):
        st = Gateway(port=0, config=GatewayConfig(seed=seed, per_number_daily_cap=10**6)).state
        out = {}
        for kind in ("marketing", "transactional"):
            for i in range(0, 4000, 100):
                st.send_batch("sms", kind, [{"out_id": f"{kind}{j}", "to": mobile(j), "text": "t"}
                                            for j in range(i, i + 100)], "2027-06-19T10:00:00+08:00")
            got = [st.accepted[f"{kind}{j}"].receipt for j in range(4000)]
            out[kind] = got.count("delivered") / len(got)
        return out, [a.receipt for a in st.accepted.values()]

    (r1, seq1), (r2, seq2) = rates(7), rates(7)
    assert seq1 == seq2                                         # deterministic per (seed, id)
    assert 0.90 <= r1["marketing"] <= 0.95 and 0.97 <= r1["transactional"] <= 0.99


def free_port() -> int:
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_gateway_cli_process(tmp_path):
    import subprocess
    import sys
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dacu.dispatch.gateway", "--port", str(port),
                             "--max-batch", "50", "--fault-error-rate", "0.0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in proc.stdout.readline()
        stats = requests.get(f"http://127.0.0.1:{port}/admin/stats", timeout=5).json()
        assert stats["config"]["max_batch"] == 50
    finally:
        proc.terminate()
        proc.wait(5)


# ---- pure rules ------------------------------------------------------------------------------------

def test_quiet_hours_property_random_times():
    rnd = random.Random(5)
    quiet = (time(20, 0), time(8, 0))
    for _ in range(3000):
        t = local("2027-06-19 00:00") + timedelta(minutes=rnd.randrange(0, 3 * 24 * 60))
        h = quiet_hold(t, quiet)
        if in_quiet_hours(t.time(), quiet):
            opens, expires = h
            assert opens > t and not in_quiet_hours(opens.time(), quiet) and opens.time() == time(8, 0)
            assert opens - t <= timedelta(hours=12) and expires > opens
            # every minute between t and the opening is quiet: nothing can go out before it
            assert in_quiet_hours((opens - timedelta(minutes=1)).time(), quiet)
        else:
            assert h is None
    assert quiet_hold(local("2027-06-19 21:00"), quiet)[0] == local("2027-06-20 08:00")
    assert quiet_hold(local("2027-06-20 03:00"), quiet)[0] == local("2027-06-20 08:00")


def test_sms_text_and_segments():
    t = sms_text("您的订单未付款", signature="【店】", unsubscribe="拒收请回复R", msg_class="reminder")
    assert t.startswith("【店】") and PAID_NOTE in t and "拒收" not in t
    m = sms_text("【店】上新", signature="【店】", unsubscribe="拒收请回复R", msg_class="marketing")
    assert m == "【店】上新 拒收请回复R"
    assert sms_segments("字" * 70) == 1 and sms_segments("字" * 71) == 2 and sms_segments("字" * 135) == 3


def test_token_bucket_paces():
    import time as t
    tb = TokenBucket(2000, burst=100)
    start = t.monotonic()
    for _ in range(10):
        tb.acquire(100)
    assert t.monotonic() - start >= 0.4        # 1000 tokens at 2000/s after a burst of 100


# ---- the ledger and the dispatcher ------------------------------------------------------------------

def test_send_once_holdout_and_rerun_sends_nothing(engine, playbook):
    # idempotency off at the gateway: only the ledger stands between a rerun and a second send
    with Gateway(port=0, config=GatewayConfig(idempotency=False)) as gw:
        ids = add_customers(engine, 300)
        seg = segment(engine, "peak_morning", ids, "2027-06-19 10:00", holdout_pct=10)
        res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                                gateway_url=gw.url, db_batch=200)
        assert res["sent"] == 2 * seg.treatment and res["holdout"] == 2 * seg.holdout > 0
        assert res["failed"] == res["unknown"] == res["pending"] == 0 and res["skipped"] == {}
        assert res["delivered"] + res["undelivered"] == res["sent"]
        sms_segs = sum(a.segments for a in gw.state.accepted.values() if a.channel == "sms")
        assert sms_segs > seg.treatment and res["segments"] == sms_segs         # long texts bill 2 segments
        assert res["cost_estimate"] == pytest.approx(sms_segs * 0.045, abs=0.01)
        assert res["this_call"]["handed_over"] == res["sent"]
        assert len(accepted(gw)) == res["sent"] and gw.state.stats.duplicates == 0
        for _ in range(2):                     # rerun, cleared task, backfill of the same run: 0 new sends
            again = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                                      gateway_url=gw.url)
            assert again["this_call"]["handed_over"] == 0 and again["sent"] == res["sent"]
        # a re-segmented run (new run_key) for the same gate moment maps to the same keys
        segment(engine, "peak_morning", ids, "2027-06-19 10:00", run_key="r2", holdout_pct=10)
        again = dispatch_strategy(engine, playbook, "peak_morning", "r2", local("2027-06-19 10:05"),
                                  gateway_url=gw.url)
        assert again["this_call"]["handed_over"] == 0
        # the provider's record: one message per number / in-app id (sms -> mobile, inapp -> customer id)
        assert gw.state.stats.accepted == res["sent"] and max(gw.state.deliveries.values()) == 1
        holdout_ids = set(ids) - {c for c in ids if message_key(SALE, "peak_morning", res["wave"], c, "sms")
                                  in accepted(gw)}
        assert len(holdout_ids) == seg.holdout
        json.dumps(res)                        # XCom-safe


class CrashingClient(GatewayClient):
    """Simulates a killed worker: raises after N provider calls (after or before the call)."""

    def __init__(self, url, after: int, when: str):
        super().__init__(url, max_batch=100)
        self.after, self.when = after, when

    def send_batch(self, channel, kind, items, send_time):
        if self.when == "before" and self.calls >= self.after:
            raise RuntimeError("worker killed")
        out = super().send_batch(channel, kind, items, send_time)
        if self.when == "after" and self.calls >= self.after:
            raise RuntimeError("worker killed")       # accepted by the provider, never marked
        return out


@pytest.mark.parametrize("when", ["after", "before"])
def test_crash_between_reserve_and_mark_then_rerun(engine, playbook, gateway, when):
    ids = add_customers(engine, 500)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    send_time = local("2027-06-19 10:00")
    for after in (3, 7):
        with pytest.raises(RuntimeError, match="killed"):
            dispatch_strategy(engine, playbook, "peak_morning", "r1", send_time, gateway_url=gateway.url,
                              gateway_client=CrashingClient(gateway.url, after, when), db_batch=400, threads=2)
    assert ledger_states(engine).get("reserved", 0) > 0          # reserved, provider called or not, unmarked
    res = dispatch_strategy(engine, playbook, "peak_morning", "r1", send_time, gateway_url=gateway.url)
    intended = intended_keys(engine, "peak_morning")
    assert len(intended) == 1000 and res["sent"] == 1000 and res["pending"] == res["unknown"] == 0
    assert accepted(gateway) == intended                          # none dropped, none extra
    # one SMS per number and one in-app message per customer id, whatever crashed in between
    assert max(gateway.state.deliveries.values()) == 1 and len(gateway.state.deliveries) == 1000


def test_faults_5xx_timeouts_429_no_duplicates_no_loss(engine, playbook):
    faults = Faults(error_rate=0.2, rate_429=0.1, retry_after=0, timeout_rate=0.1, timeout_s=0.6, seed=3)
    with Gateway(port=0, faults=faults) as gw:
        ids = add_customers(engine, 400)
        segment(engine, "peak_morning", ids, "2027-06-19 10:00")
        client = GatewayClient(gw.url, timeout=(1.0, 0.25), retries=1, backoff=0.0)
        res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                                gateway_url=gw.url, gateway_client=client, reconcile_rounds=10, db_batch=400)
        st = gw.state.summary()
        assert st["faults"].get("503", 0) > 0 and st["faults"].get("timeout", 0) > 0 and st["faults"].get("429", 0) > 0
        assert res["sent"] == 800 and res["unknown"] == res["pending"] == res["failed"] == 0
        assert accepted(gw) == intended_keys(engine, "peak_morning")
        assert st["max_per_recipient"] == 1 and st["recipients"] == 800      # 400 numbers + 400 in-app ids


def test_quiet_hours_hold_then_send_with_expiry(engine, playbook, gateway):
    ids = add_customers(engine, 50)
    segment(engine, "peak_night", ids, "2027-06-19 21:00", channels=("sms",))
    res = dispatch_strategy(engine, playbook, "peak_night", "r1", local("2027-06-19 21:00"), gateway_url=gateway.url)
    assert res["held"] == 50 and res["sent"] == 0 and not accepted(gateway)
    assert res["hold_until"] == local("2027-06-20 08:00").isoformat()
    res = dispatch_strategy(engine, playbook, "peak_night", "r1", local("2027-06-20 07:59"), gateway_url=gateway.url)
    assert res["held"] == 50 and not accepted(gateway)                     # never inside the window
    res = dispatch_strategy(engine, playbook, "peak_night", "r1", local("2027-06-20 08:00"), gateway_url=gateway.url)
    assert res["sent"] == 50 and res["held"] == 0 and len(accepted(gateway)) == 50
    with engine.connect() as conn:                                          # counted on the day it went out
        days = set(conn.execute(select(dispatch_ledger.c.sent_day).distinct()).scalars())
    assert [d.isoformat() for d in days] == ["2027-06-20"]


def test_quiet_hours_expired_and_transactional_exempt(engine, playbook, gateway):
    ids = add_customers(engine, 20)
    segment(engine, "peak_night", ids, "2027-06-19 21:00", channels=("sms",))
    dispatch_strategy(engine, playbook, "peak_night", "r1", local("2027-06-19 21:00"), gateway_url=gateway.url)
    res = dispatch_strategy(engine, playbook, "peak_night", "r1", local("2027-06-20 12:01"), gateway_url=gateway.url)
    assert res["skipped"] == {"quiet_hours_expired": 20} and not accepted(gateway)
    segment(engine, "peak_pay_remind", ids, "2027-06-19 22:15", channels=("sms",))
    res = dispatch_strategy(engine, playbook, "peak_pay_remind", "r1", local("2027-06-19 22:15"),
                            gateway_url=gateway.url)
    assert res["sent"] == 20 and res["held"] == 0                           # payment reminders are exempt


def test_caps_across_strategies_and_reminder_caps(engine, playbook, gateway):
    ids = add_customers(engine, 30)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    segment(engine, "peak_noon", ids, "2027-06-19 12:00")
    a = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"), gateway_url=gateway.url)
    b = dispatch_strategy(engine, playbook, "peak_noon", "r1", local("2027-06-19 12:00"), gateway_url=gateway.url)
    assert a["sent"] == 60
    # 1 marketing SMS per day across strategies; in-app allows 2
    assert b["skipped"] == {"cap_daily": 30} and b["sent"] == 30
    # payment reminders: 1 per day, 2 per sale (micro-batches every 15 minutes)
    remind = []
    for day, moment in (("r0616", "2027-06-16 10:00"), ("r0616b", "2027-06-16 10:15"),
                        ("r0617", "2027-06-17 10:00"), ("r0618", "2027-06-18 10:00")):
        segment(engine, "peak_pay_remind", ids[:10], moment, run_key=day, channels=("sms",))
        remind.append(dispatch_strategy(engine, playbook, "peak_pay_remind", day, local(moment),
                                        gateway_url=gateway.url))
    assert [r["sent"] for r in remind] == [10, 10, 10, 0]        # the 2nd micro-batch of a day = same keys
    assert remind[1]["this_call"]["handed_over"] == 0
    assert remind[3]["skipped"] == {"cap_reminder_sale": 10}
    with engine.connect() as conn:
        slots = conn.execute(select(func.count()).select_from(dispatch_cap_slots).where(
            dispatch_cap_slots.c.scope == "remind_sale")).scalar()
    assert slots == 20


@pytest.mark.parametrize("page", [50_000, 7])
def test_optout_blacklist_consent_rechecked_at_send(engine, playbook, gateway, monkeypatch, page):
    # page 7: the crowd is read, rechecked and batched in 6 pages (memory flat in the crowd size)
    import dacu.dispatch.dispatcher as dispatcher

    monkeypatch.setattr(dispatcher, "CROWD_PAGE", page)
    ids = add_customers(engine, 40)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    with engine.begin() as conn:                     # changes between segment and send
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[:5])).values(
            opted_out_at=datetime(2027, 6, 19, 1, 0)))
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[5:8])).values(blacklisted=True))
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[8:12])).values(consent_sms=False))
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[12:14])).values(mobile=None))
        # opting out AFTER the send moment does not stop this send
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[14:16])).values(
            opted_out_at=datetime(2027, 6, 19, 3, 0)))
    res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"), gateway_url=gateway.url)
    assert res["skipped"] == {"opted_out": 10, "blacklisted": 6, "no_consent": 4, "no_mobile": 2}
    assert res["sent"] == 80 - 22 and res["recipients"] == 40
    sent_to = {gateway.state.accepted[k].recipient for k in accepted(gateway)}
    assert not ({mobile(i) for i in range(14)} & sent_to) and mobile(15) in sent_to
    assert len(accepted(gateway)) == res["sent"] and max(gateway.state.deliveries.values()) == 1


def dry_reasons(engine, strategy_id: str) -> dict[str, int]:
    q = (select(dispatch_ledger.c.reason, func.count()).where(
        (dispatch_ledger.c.state == "dry_run") & (dispatch_ledger.c.strategy_id == strategy_id))
        .group_by(dispatch_ledger.c.reason))
    with engine.connect() as conn:
        return {r: n for r, n in conn.execute(q)}


def test_dry_run_records_apart_and_never_blocks_the_real_send(engine, playbook, gateway):
    ids = add_customers(engine, 60)
    with engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.customer_id.in_(ids[:3])).values(blacklisted=True))
    segment(engine, "peak_morning", ids, "2027-06-19 10:00", holdout_pct=10)
    res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                            gateway_url=None, dry_run=True)
    would = res["would"]["would_send"]
    assert res["dry_run"] and would + res["would"].get("holdout", 0) + res["skipped"].get("blacklisted", 0) == 120
    assert res["cost_estimate"] > 0 and res["recorded"] == 120
    # recorded, marked as such, under keys of their own; no cap slot taken, nothing sent
    assert ledger_states(engine) == {"dry_run": 120} and not accepted(gateway)
    assert dry_reasons(engine, "peak_morning") == {"would_send": would, **({"holdout": res["would"]["holdout"]}
                                                                         if res["would"].get("holdout") else {}),
                                                   **({"blacklisted": res["skipped"]["blacklisted"]}
                                                      if res["skipped"].get("blacklisted") else {})}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dispatch_cap_slots)).scalar() == 0
    again = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                              gateway_url=None, dry_run=True)                 # replaces its own record
    assert again["would"] == res["would"] and ledger_states(engine) == {"dry_run": 120}
    real = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"), gateway_url=gateway.url)
    assert real["sent"] == would == len(accepted(gateway)) and real["skipped"] == res["skipped"]
    after = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                              gateway_url=None, dry_run=True)
    assert after["would"].get("would_send", 0) == 0 and after["would"]["already_sent"] == real["sent"]
    assert dry_reasons(engine, "peak_morning").get("already_sent") == real["sent"]
    assert len(accepted(gateway)) == real["sent"]
    quiet = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                              gateway_url=None, dry_run=True, record_dry_run=False)
    assert quiet["recorded"] == 0


def test_bad_input_fails_before_any_send(engine, playbook, gateway):
    ids = add_customers(engine, 5)
    segment(engine, "peak_bad_template", ids, "2027-06-19 10:00", channels=("sms",))
    with pytest.raises(TemplateError, match=r"peak_bad_template.*\{coupon_code\}"):
        dispatch_strategy(engine, playbook, "peak_bad_template", "r1", local("2027-06-19 10:00"),
                          gateway_url=gateway.url)
    with pytest.raises(DispatchError, match="no segment run"):
        dispatch_strategy(engine, playbook, "peak_morning", "nope", local("2027-06-19 10:00"), gateway_url=gateway.url)
    with pytest.raises(DispatchError, match="timezone-aware"):
        dispatch_strategy(engine, playbook, "peak_morning", "r1", datetime(2027, 6, 19, 10), gateway_url=gateway.url)
    assert ledger_states(engine) == {} and not accepted(gateway)


def test_email_grouped_by_mailbox_provider(engine, playbook):
    from aiosmtpd.controller import Controller

    class Recorder:
        def __init__(self):
            self.sessions: dict[int, list[str]] = {}
            self.message_ids: list[str] = []

        async def handle_DATA(self, server, session, envelope):
            self.sessions.setdefault(id(session), []).extend(envelope.rcpt_tos)
            data = envelope.content.decode("utf8", errors="replace")
            self.message_ids.extend(re.findall(r"(?im)^X-Dacu-Key: (\S+)", data))
            return "250 OK"

    rec = Recorder()
    port = free_port()
    ctl = Controller(rec, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        ids = add_customers(engine, 40, domains=("qq.com", "163.com", "126.com", "gmail.com", "foxmail.com"))
        segment(engine, "peak_mail", ids, "2027-06-19 10:00", channels=("email",))
        res = dispatch_strategy(engine, playbook, "peak_mail", "r1", local("2027-06-19 10:00"), gateway_url=None,
                                smtp={"host": "127.0.0.1", "port": port})
        assert res["sent"] == 40
        providers = [{mailbox_provider(a) for a in rcpts} for rcpts in rec.sessions.values()]
        assert all(len(p) == 1 for p in providers)                  # one provider per SMTP session
        assert sorted(p.pop() for p in providers) == ["gmail", "netease", "qq"]
        assert sorted(rec.message_ids) == sorted(intended_keys(engine, "peak_mail"))
        again = dispatch_strategy(engine, playbook, "peak_mail", "r1", local("2027-06-19 10:00"), gateway_url=None,
                                  smtp={"host": "127.0.0.1", "port": port})
        assert again["this_call"]["handed_over"] == 0 and len(rec.message_ids) == 40
    finally:
        ctl.stop()


def test_no_pii_in_logs_errors_or_result(engine, playbook, caplog):
    faults = Faults(error_rate=0.3, timeout_rate=0.1, timeout_s=0.5, seed=1)
    with Gateway(port=0, faults=faults) as gw:
        ids = add_customers(engine, 120, domains=("qq.com", "163.com"))
        segment(engine, "peak_morning", ids, "2027-06-19 10:00")
        segment(engine, "peak_mail", ids, "2027-06-19 10:00", channels=("email",))
        caplog.set_level(logging.DEBUG)
        res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                                gateway_url=gw.url, gateway_client=GatewayClient(gw.url, timeout=(1, 0.2), retries=0))
        # SMTP server down: nothing handed over, keys stay reserved for the next run
        mail = dispatch_strategy(engine, playbook, "peak_mail", "r1", local("2027-06-19 10:00"), gateway_url=None,
                                 smtp={"host": "127.0.0.1", "port": 1, "timeout": 1})
        assert mail["pending"] == 120 and mail["sent"] == 0
        assert "WARNING" in caplog.text
        for blob in (caplog.text, json.dumps(res, ensure_ascii=False), json.dumps(mail, ensure_ascii=False)):
            assert not PII_RE.search(blob)


def test_shards_cover_the_crowd_exactly_once(engine, playbook, gateway):
    ids = add_customers(engine, 90)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    sent = 0
    for i in range(3):
        r = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                              gateway_url=gateway.url, shard=(i, 3))
        assert 0 < r["this_call"]["handed_over"] < 180
        sent += r["this_call"]["handed_over"]
    assert sent == 180 and accepted(gateway) == intended_keys(engine, "peak_morning")
    with pytest.raises(DispatchError, match="shard"):
        dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                          gateway_url=gateway.url, shard=(3, 3))


def test_twenty_random_crashes_then_rerun_exactly_once(engine, playbook, gateway):
    """20 kills at random points (before or after a provider call), then a clean rerun."""
    ids = add_customers(engine, 200)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    rnd = random.Random(11)
    crashes = 0
    for _ in range(20):
        client = CrashingClient(gateway.url, rnd.randint(1, 12), rnd.choice(["before", "after"]))
        client.max_batch = 10
        try:
            dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                              gateway_url=gateway.url, gateway_client=client, gateway_batch=10, db_batch=100,
                              threads=2)
        except RuntimeError:
            crashes += 1
    assert crashes >= 10
    res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"), gateway_url=gateway.url)
    assert res["sent"] == 400 and res["pending"] == res["unknown"] == 0
    assert accepted(gateway) == intended_keys(engine, "peak_morning")
    assert max(gateway.state.deliveries.values()) == 1 and len(gateway.state.deliveries) == 400


def test_cli_dispatch_run_and_ledger(engine, playbook, gateway, capsys):
    import argparse

    from dacu.cli import dispatch_cmd

    ids = add_customers(engine, 10)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse")
    dispatch_cmd.register(parser.add_subparsers(dest="group"))
    url = engine.url.render_as_string(hide_password=False)
    base = ["--warehouse", url, "dispatch", "--playbook", str(playbook.path), "--strategy", "peak_morning",
            "--at", "2027-06-19 10:00", "--run-key", "r1", "--gateway-url", gateway.url]
    args = parser.parse_args(base + ["--dry-run"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["would"]["would_send"] == 20 and not accepted(gateway)
    args = parser.parse_args(base)
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 20
    args = parser.parse_args(["--warehouse", url, "dispatch", "ledger", "--sale", SALE, "--json"])
    assert args.func(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["channel"], r["state"], r["count"]) for r in rows} == {
        ("sms", "sent", 10), ("inapp", "sent", 10), ("sms", "dry_run", 10), ("inapp", "dry_run", 10)}
    args = parser.parse_args(base[:3] + ["run"] + base[3:])         # 'dacu dispatch run' is the same verb
    assert args.func(args) == 0 and json.loads(capsys.readouterr().out)["this_call"]["handed_over"] == 0


def _with_template(playbook, strategy_id: str, template: str, **material):
    s = playbook.strategy(strategy_id)
    return s.model_copy(update={"material": s.material.model_copy(update={"template": template, **material})})


def test_jinja_templates_declared_variables_fail_before_send(playbook):
    from dacu.dispatch.render import compile_template

    t = compile_template(playbook, _with_template(playbook, "peak_morning",
                                                  "{{ nick }}您好,{coupon}满{{ threshold }}减{{ coupon_value }},"
                                                  "{% if coupon_value|int >= 20 %}大额{% endif %}戳 {link}"))
    assert t.render("小王") == ("小王您好,满199减20券满199减20,大额戳 https://s.example.com/t618_2027/peak_morning")
    assert t.render(None).startswith("亲您好")
    # nick through a filter: rendered per message by Jinja, same result
    up = compile_template(playbook, _with_template(playbook, "peak_noon", "{{ nick|upper }}!"))
    assert up.render("ab") == "AB!"
    for bad, msg in (("{{ coupon_code }}", r"unknown variable \{coupon_code\}"),
                     ("{nick:>5}", "not a variable name"),
                     ("{{ nick ", "line 1"),
                     ("{% for x in %}", "line 1"),
                     ("{{ coupon }}", "material.coupon is not set")):
        with pytest.raises(TemplateError, match=msg):
            compile_template(playbook, _with_template(playbook, "peak_noon", bad))
    # a payment reminder always carries the payment link
    r = compile_template(playbook, _with_template(playbook, "peak_pay_remind", "您有订单未付款"))
    assert r.render(None).endswith("https://s.example.com/pay/t618_2027")
    assert PAID_NOTE in sms_text(r.render(None), signature="【店】", unsubscribe=None, msg_class="reminder")


def test_bulk_ledger_writes_round_trip_odd_text(engine):
    """The PostgreSQL COPY path writes COPY's text format itself: escapes must round-trip."""
    from dacu.dispatch import ledger

    t = datetime(2027, 6, 19, 2, 0, 0, 123456)
    odd = "smtp_550 a\tb\\c\nd\r\\N"
    rows = [{"message_key": f"k{i:03d}", "sale_id": SALE, "strategy_id": "s", "wave": "w", "run_key": "r",
             "customer_id": f"c{i}", "channel": "sms", "msg_class": "marketing", "state": "skipped",
             "reason": odd if i % 2 else None, "planned_at": t, "hold_until": None, "expires_at": None,
             "updated_at": t} for i in range(ledger.PG_BULK_MIN + 10)]
    with engine.begin() as conn:
        got = ledger.insert(conn, rows)
        again = ledger.insert(conn, rows)                     # conflicts: nothing inserted the second time
    if engine.dialect.name == "postgresql":
        assert got == {r["message_key"] for r in rows} and again == set()
    with engine.connect() as conn:
        back = {r.message_key: r for r in conn.execute(select(dispatch_ledger))}
    assert len(back) == len(rows)
    assert back["k001"].reason == odd and back["k000"].reason is None and back["k001"].planned_at == t
