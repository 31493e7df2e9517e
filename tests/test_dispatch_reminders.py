"""Payment reminders (催付, issue 5 item 7): micro-batches every N minutes in the window, on both backends."""
from __future__ import annotations

import textwrap
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from dacu.dispatch import DispatchError, remind_unpaid
from dacu.dispatch.channels import GatewayClient
from dacu.dispatch.gateway import Gateway
from dacu.dispatch.reminders import tick_at, ticks
from dacu.dispatch.render import PAID_NOTE
from dacu.playbook import load_playbook
from dacu.warehouse.schema import orders
from test_dispatch import PLAYBOOK, add_customers, local, mobile
from test_dispatch_faults import _context, _operator

NARROW = textwrap.indent(textwrap.dedent("""\
    - id: peak_pay_remind_hour
      name: 6.19 10:00-11:30 催付
      scene: transaction
      phase: peak
      wave: sale
      kind: payment_reminder
      when: {from: "2027-06-19 10:00", to: "2027-06-19 11:30", after_order_minutes: 25, every_minutes: 15}
      crowd: {base: unpaid_orders}
      material: {template: "您拍下的宝贝还未付款,点此付款 {pay_link}"}
      channels: [sms]
    """), "  ")
DAY = (local("2027-06-19 00:00"), local("2027-06-20 00:00"))


@pytest.fixture(scope="module")
def rpb(tmp_path_factory):
    path = tmp_path_factory.mktemp("pb") / "t618_remind.yaml"
    path.write_text(PLAYBOOK.replace("coupons:\n", NARROW + "coupons:\n", 1), encoding="utf-8")
    return load_playbook(path)


def _utc(s: str) -> datetime:
    return local(s).astimezone(timezone.utc).replace(tzinfo=None)


def _orders(engine, ids):
    rows = [
        dict(order_id="o_a", customer_id=ids[0], created_at=_utc("2027-06-19 10:00")),                # normal
        dict(order_id="o_b", customer_id=ids[1], created_at=_utc("2027-06-19 10:00"), source="juhuasuan"),
        dict(order_id="o_c", customer_id=ids[2], created_at=_utc("2027-06-19 10:00"),
             paid_at=_utc("2027-06-19 10:20"), status="paid"),                                      # paid itself
        dict(order_id="o_d", customer_id=ids[3], created_at=_utc("2027-06-19 10:00")),
        dict(order_id="o_d2", customer_id=ids[3], created_at=_utc("2027-06-19 10:03"),
             paid_at=_utc("2027-06-19 10:05"), status="paid"),                                      # paid another
        dict(order_id="o_e", customer_id=ids[4], created_at=_utc("2027-06-19 10:30")),
    ]
    full = [{"platform": "tmall", "status": "created", "source": "normal", "amount": 199, "paid_at": None, **r}
            for r in rows]          # one key set: executemany takes the first row's columns
    with engine.begin() as conn:
        conn.execute(insert(orders), full)


class Spy(GatewayClient):
    """Records the texts handed to the gateway (the provider keeps ids only)."""

    def __init__(self, url):
        super().__init__(url)
        self.texts: list[str] = []

    def send_batch(self, channel, kind, items, send_time):
        self.texts.extend(text for _, _, text in items)
        return super().send_batch(channel, kind, items, send_time)


def test_ticks():
    s, e = local("2027-06-19 10:00"), local("2027-06-19 11:30")
    assert [t.strftime("%H:%M") for t in ticks(s, e, 15)] == ["10:00", "10:15", "10:30", "10:45", "11:00", "11:15"]
    assert tick_at(s, 15, local("2027-06-19 10:44")) == local("2027-06-19 10:30")


def test_micro_batches_remind_once_a_day_twice_a_sale(engine, rpb):
    ids = add_customers(engine, 6)
    _orders(engine, ids)
    with Gateway(port=0) as gw:
        spy = Spy(gw.url)
        sent_at = {}
        for t in ticks(*DAY, 15):
            if not local("2027-06-19 09:45") <= t <= local("2027-06-19 12:00"):
                continue
            before = set(gw.state.accepted)
            out = remind_unpaid(engine, rpb, "peak_pay_remind", *DAY, t, gateway_url=gw.url, gateway_client=spy)
            for k in set(gw.state.accepted) - before:
                sent_at[gw.state.accepted[k].recipient] = t.strftime("%H:%M")
        # 聚划算 after 15 minutes, others after 25, at the first tick past that; paid buyers never
        assert sent_at == {mobile(1): "10:15", mobile(0): "10:30", mobile(4): "11:00"}
        assert out["tick"] == local("2027-06-19 12:00").isoformat() and out["wave"] == "sale@2027-06-19"
        assert all(PAID_NOTE in t and "/pay/t618_2027" in t for t in spy.texts) and len(spy.texts) == 3
        # the next day: a second reminder; the day after: the per-sale cap (2) is reached
        day2 = remind_unpaid(engine, rpb, "peak_pay_remind", local("2027-06-20 00:00"), local("2027-06-21 00:00"),
                             local("2027-06-20 09:00"), gateway_url=gw.url)
        assert day2["sent"] == 3 and day2["this_call"]["handed_over"] == 3
        day3 = remind_unpaid(engine, rpb, "peak_pay_remind", local("2027-06-21 00:00"), local("2027-06-21 23:59"),
                             local("2027-06-21 09:00"), gateway_url=gw.url)
        assert day3["sent"] == 0 and day3["skipped"] == {"cap_reminder_sale": 3}
        assert gw.state.summary()["max_per_recipient"] == 2
        # a rerun of a past tick sends nothing new
        again = remind_unpaid(engine, rpb, "peak_pay_remind", *DAY, local("2027-06-19 10:31"), gateway_url=gw.url)
        assert again["this_call"]["handed_over"] == 0 and again["tick"] == local("2027-06-19 10:30").isoformat()
        with pytest.raises(DispatchError, match="outside the window"):
            remind_unpaid(engine, rpb, "peak_pay_remind", *DAY, local("2027-06-20 00:00"), gateway_url=gw.url)
        with pytest.raises(DispatchError, match="payment_reminder"):
            remind_unpaid(engine, rpb, "peak_morning", *DAY, local("2027-06-19 10:00"), gateway_url=gw.url)


def test_reminder_operator_defers_between_ticks(engine, rpb, monkeypatch):
    from airflow.sdk.exceptions import TaskDeferred

    ids = add_customers(engine, 6)
    _orders(engine, ids)
    with Gateway(port=0) as gw:
        opmod, _ = _operator(monkeypatch, engine, rpb, gw.url, "peak_pay_remind_hour")
        op = opmod.PaymentReminderOperator(task_id="remind__peak_pay_remind_hour", playbook="t618.yaml",
                                           strategy_id="peak_pay_remind_hour", gate="g1000")
        ctx = _context("2027-06-19T10:00:00+08:00", "peak_pay_remind_hour")
        wakes, call, kwargs = [], op.execute, {}
        while True:
            try:
                out = call(ctx, **kwargs)
                break
            except TaskDeferred as d:
                wakes.append(d.trigger.moment.astimezone(rpb.tz).strftime("%H:%M"))
                call, kwargs = getattr(op, d.method_name), {"event": None, **d.kwargs}
        assert wakes == ["10:15", "10:30", "10:45", "11:00", "11:15"]
        assert out["ticks"] == 6 and out["handed_over"] == 3 and out["sent"] == 3
        assert len(gw.state.accepted) == 3
        # a backfill walks the ticks at once and sends nothing
        dry = op.execute(_context("2027-06-19T10:00:00+08:00", "peak_pay_remind_hour", run_type="backfill"))
        assert dry["dry_run"] and dry["ticks"] == 6 and len(gw.state.accepted) == 3


def test_cli_runs_one_micro_batch(engine, rpb, capsys):
    import argparse
    import json

    from dacu.cli import dispatch_cmd

    ids = add_customers(engine, 6)
    _orders(engine, ids)
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse")
    dispatch_cmd.register(parser.add_subparsers(dest="group"))
    with Gateway(port=0) as gw:
        args = parser.parse_args(["--warehouse", engine.url.render_as_string(hide_password=False), "dispatch",
                                  "--playbook", str(rpb.path), "--strategy", "peak_pay_remind",
                                  "--send-time", "2027-06-19 10:40", "--gateway-url", gw.url])
        assert args.func(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["tick"] == local("2027-06-19 10:30").isoformat() and out["sent"] == 2
        assert len(gw.state.accepted) == 2
