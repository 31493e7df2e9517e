"""Readiness gates (issue 4): each gate pass / warn / fail on small fixtures, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from dacu.warehouse import schema

TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

PLAYBOOK = """\
sale:
  id: t_sale
  name: 测试大促
  platform: tmall
  reference_day: 2027-05-24
  window: {start: 2027-05-01, end: 2027-06-30}
phases:
  - id: readiness
    name: 准备期
    windows:
      - {id: prep, name: 准备, start: "2027-05-01 00:00", end: "2027-05-23 23:59"}
  - id: peak
    name: 爆发期
    windows:
      - {id: sale, name: 售卖, start: "2027-06-16 00:00", end: "2027-06-20 23:59"}
strategies:
  - id: prep_group_setup
    name: 创建淘宝群
    scene: taobao_group
    phase: readiness
    kind: scene_task
    description: 分层建群
    when: {at: ["2027-05-10 10:00"]}
    link: https://myseller.taobao.com/home.htm/qun
  - id: peak_members_sms
    name: 会员加码
    scene: member
    phase: peak
    kind: crowd_task
    when: {at: ["2027-06-18 10:00"]}
    crowd: {base: members}
    material:
      template: "{template}"
      coupon: c1
      products: [SKU-1]
    channels: [sms]
  - id: peak_members_inapp
    name: 会员站内信
    scene: member
    phase: peak
    kind: crowd_task
    when: {at: ["2027-06-19 10:00"]}
    crowd: {base: members}
    material: {template: "618会员专享 {link}"}
    channels: [inapp]
coupons:
  - id: c1
    name: 加码券
    kind: store
    face_value: 20
    threshold: 199
    budget: 1000
    valid_from: "2027-06-18 00:00"
    valid_to: "2027-06-20 23:59"
    issue_deadline: "2027-05-20 23:59"
channels:
  sms:
    signature: 【测试旗舰店】
    unsubscribe_suffix: 拒收请回复R
    unit_price: 0.05
    test_numbers: {china_mobile: "13800000001", china_unicom: "13000000002", china_telecom: "13300000003"}
readiness:
  history_days: 30
  freshness_hours: 24
  coupon_warn_days: 3
  budget_margin_pct: 20
  approval_min_recipients: 5
  approval_min_cost: null
  link_base: https://t.cn
{extra}
"""
GOOD_TEMPLATE = "【测试旗舰店】618会员专享{coupon}已到账,戳 {link} 拒收请回复R"


def make_playbook(tmp_path, template: str = GOOD_TEMPLATE, extra: str = "", name: str = "pb.yaml"):
    from dacu.playbook import load_playbook

    path = tmp_path / name
    extra = textwrap.indent(textwrap.dedent(extra), "  ") if extra else ""
    path.write_text(PLAYBOOK.replace("{template}", template).replace("{extra}", extra), encoding="utf-8")
    return load_playbook(path)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def add_orders(engine, first_day, last_day, per_day=10, skip=(), low=(), sku="SKU-1", price=100):
    """``per_day`` paid orders at 12:00 sale-local on each day (``skip``: none, ``low``: one)."""
    rows, items = [], []
    d = first_day
    while d <= last_day:
        n = 0 if d in skip else (1 if d in low else per_day)
        for i in range(n):
            t = utc(datetime(d.year, d.month, d.day, 12, tzinfo=TZ)) + timedelta(minutes=i)
            oid = f"o{d:%Y%m%d}{i:03d}"
            rows.append({"order_id": oid, "customer_id": f"c{i % 6}", "status": "paid", "created_at": t,
                         "paid_at": t, "amount": price, "platform": "tmall", "source": "normal",
                         "is_presale": False})
            items.append({"order_id": oid, "line_no": 1, "sku_id": sku, "category": "cat", "price": price,
                          "quantity": 1})
        d += timedelta(days=1)
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(schema.orders), rows)
            conn.execute(insert(schema.order_items), items)


def add_customers(engine, n=6):
    with engine.begin() as conn:
        conn.execute(insert(schema.customers), [
            {"customer_id": f"c{i}", "mobile": f"1390000{i:04d}", "first_seen_at": datetime(2026, 1, 1),
             "member_since": datetime(2026, 1, 1), "member_level": 1, "consent_sms": True, "consent_email": True,
             "consent_inapp": True, "blacklisted": False} for i in range(n)])
        conn.execute(insert(schema.skus), [{"sku_id": "SKU-1", "name": "精华", "category": "cat", "list_price": 120}])


# --- SMS segments ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n,segments", [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_sms_segments_edges(n, segments):
    from dacu.readiness.sms import sms_segments

    assert sms_segments("字" * n) == segments


def test_longest_text_counts_signature_suffix_and_max_variables(tmp_path):
    from dacu.readiness.sms import longest_text, sms_segments

    body = "字" * 60 + "{nick}"
    pb = make_playbook(tmp_path, template=body, extra="variable_max_length: {nick: 10}")
    text = longest_text(pb, pb.strategy("peak_members_sms"))
    # signature prepended (7) + 60 + nick at max 10 + " 拒收请回复R" (7)
    assert text.startswith("【测试旗舰店】") and text.endswith("拒收请回复R")
    assert len(text) == 7 + 60 + 10 + 7 and sms_segments(text) == 2


# --- gate 4: SMS template lint ---------------------------------------------------------------------

def test_sms_lint_pass_warn_fail(tmp_path):
    from dacu.readiness.sms import check_sms_lint

    res = check_sms_lint(make_playbook(tmp_path))
    assert res.status == "pass" and res.details["templates"]["peak_members_sms"] == {"length": 66, "segments": 1}

    # per-recipient variable during the sale + missing suffix: warnings only
    res = check_sms_lint(make_playbook(tmp_path, template="【测试旗舰店】{nick}您好,618会员专享{coupon} {link}"))
    assert res.status == "warn" and not res.blocked
    assert any("{nick}" in r and "during the sale" in r for r in res.reasons)
    assert any("unsubscribe suffix" in r for r in res.reasons)

    # banned word and unknown variable: errors that block the strategy
    res = check_sms_lint(make_playbook(tmp_path, template="【测试旗舰店】全网第一 {unknown_var} {link} 拒收请回复R"))
    assert res.status == "fail" and set(res.blocked) == {"peak_members_sms"}
    assert any("全网第一" in r for r in res.reasons) and any("{unknown_var}" in r for r in res.reasons)

    # a second signature in the template
    res = check_sms_lint(make_playbook(tmp_path, template="【别家店】618 {link} 拒收请回复R"))
    assert res.status == "fail" and "two signatures" in res.blocked["peak_members_sms"]


def test_sms_lint_payment_reminder_needs_pay_link(tmp_path):
    from dacu.readiness.sms import lint_sms

    pb = make_playbook(tmp_path)
    reminder = pb.strategy("peak_members_sms").model_copy(update={"kind": "payment_reminder"})
    pb2 = pb.model_copy(update={"strategies": [reminder if s.id == reminder.id else s for s in pb.strategies]})
    findings, _ = lint_sms(pb2, banned=[])
    warnings = {m for _, m, sev, _ in findings if sev == "warning"}
    assert not [f for f in findings if f[2] == "error"]
    assert any("{pay_link}" in m for m in warnings) and any("若已付款请忽略此短信" in m for m in warnings)


def test_sms_lint_as_playbook_lint_issues(tmp_path):
    from dacu.readiness.lint import sms_lint_issues

    pb = make_playbook(tmp_path, template="【测试旗舰店】贷款秒批 {link} 拒收请回复R")
    issues = sms_lint_issues(pb.path)
    assert len(issues) == 1 and issues[0].severity == "error"
    assert issues[0].field == "strategies[1].material.template"
    line = pb.path.read_text(encoding="utf-8").splitlines()[issues[0].line - 1]
    assert "template:" in line and "贷款" in str(issues[0])


def test_shipped_playbooks_have_no_sms_lint_errors():
    from dacu.paths import PLAYBOOK_DIR
    from dacu.readiness.lint import sms_lint_issues

    for path in sorted(PLAYBOOK_DIR.glob("*.yaml")):
        assert [i for i in sms_lint_issues(path) if i.severity == "error"] == [], path


# --- gate 1: history -------------------------------------------------------------------------------

def test_history_pass_warn_fail(engine, tmp_path):
    from dacu.readiness.history import check_history

    pb = make_playbook(tmp_path)             # needs orders from 2027-04-24 (30 days before 05-24)
    at = local(2027, 5, 10, 9, 0)
    assert check_history(engine, pb, at).status == "fail"           # empty warehouse
    gap, low = datetime(2027, 4, 28).date(), datetime(2027, 5, 3).date()
    add_orders(engine, datetime(2027, 3, 1).date(), datetime(2027, 5, 9).date(), skip=(gap,), low=(low,))
    res = check_history(engine, pb, at)
    assert res.status == "fail"
    assert res.details["gap_days"] == ["2027-04-28"] and res.details["suspect_days"] == ["2027-05-03"]
    assert any("2027-04-28" in r for r in res.reasons)
    assert res.blocked.keys() == {"peak_members_sms", "peak_members_inapp"}

    add_orders(engine, gap, gap, per_day=10, sku="SKU-1")
    res = check_history(engine, pb, at)
    assert res.status == "warn" and not res.blocked and any("2027-05-03" in r for r in res.reasons)

    # freshness: two days later, nothing new
    res = check_history(engine, pb, at + timedelta(days=2))
    assert res.status == "fail" and any("freshness_hours" in r for r in res.reasons)


def test_history_coverage_and_rejects(engine, tmp_path):
    from dacu.readiness.history import check_history

    pb = make_playbook(tmp_path)
    at = local(2027, 5, 10, 9, 0)
    add_orders(engine, datetime(2027, 4, 30).date(), datetime(2027, 5, 9).date())
    res = check_history(engine, pb, at)
    assert res.status == "fail" and any("history starts on 2027-04-30, needs 2027-04-24" in r for r in res.reasons)

    add_orders(engine, datetime(2027, 3, 1).date(), datetime(2027, 4, 29).date())
    assert check_history(engine, pb, at).status == "pass"
    with engine.begin() as conn:
        conn.execute(insert(schema.import_batches), [
            {"batch_id": 7, "kind": "csv_load", "source": "x", "started_at": datetime(2027, 5, 1),
             "rows_read": 1000, "rows_loaded": 999, "rows_rejected": 1, "status": "done"}])
        conn.execute(insert(schema.import_rejects), [
            {"batch_id": 7, "table_name": "orders", "line_no": 5, "reason": "bad_date", "resolved": False}])
    res = check_history(engine, pb, at)
    assert res.status == "warn" and any("import batch 7" in r for r in res.reasons)
    with engine.begin() as conn:
        conn.execute(insert(schema.import_rejects), [
            {"batch_id": 7, "table_name": "orders", "line_no": n, "reason": "bad_date", "resolved": False}
            for n in range(6, 30)])
    assert check_history(engine, pb, at).status == "fail"


# --- gate 2: coupons -------------------------------------------------------------------------------

def test_coupon_deadline_pass_warn_fail(engine, tmp_path):
    from dacu.readiness.coupons import check_coupons

    pb = make_playbook(tmp_path)             # c1 deadline 2027-05-20 23:59, warn 3 days before
    res = check_coupons(engine, pb, local(2027, 5, 10, 9, 0))
    assert res.status == "pass" and res.details["coupons"] == {"c1": "pending"}
    res = check_coupons(engine, pb, local(2027, 5, 19, 9, 0))
    assert res.status == "warn" and "not in the warehouse" in res.reasons[0] and not res.blocked
    res = check_coupons(engine, pb, local(2027, 5, 21, 9, 0))
    assert res.status == "fail" and list(res.blocked) == ["peak_members_sms"]

    with engine.begin() as conn:
        conn.execute(insert(schema.coupons), [{"coupon_id": "c1", "name": "加码券", "kind": "store",
                                              "face_value": 20, "threshold": 199,
                                              "issued_at": utc(local(2027, 5, 15, 10, 0))}])
    assert check_coupons(engine, pb, local(2027, 5, 14, 9, 0)).status == "pass"     # not yet issued, not due
    assert check_coupons(engine, pb, local(2027, 5, 19, 9, 0)).details["coupons"] == {"c1": "issued"}
    assert check_coupons(engine, pb, local(2027, 5, 21, 9, 0)).status == "pass"


# --- gate 3: budget --------------------------------------------------------------------------------

class FakeProbe:
    def __init__(self, balance=100.0, receipts=None, refuse=()):
        self._balance = balance
        self.receipts = receipts or {}
        self.refuse = set(refuse)
        self.sent: list[tuple[str, str]] = []

    def balance(self):
        return self._balance

    def send_test(self, number, text, *, out_id, send_time):
        from dacu.readiness.gateway import ProbeError

        if number in self.refuse:
            raise ProbeError("gateway refused the test message: invalid_number")
        self.sent.append((number, out_id))
        return out_id

    def receipt(self, message_id):
        number = next(n for n, o in self.sent if o == message_id)
        value = self.receipts.get(number, "delivered")
        return value(message_id) if callable(value) else value


def test_budget_pass_warn_fail(engine, tmp_path):
    from dacu.readiness.budget import check_budget, estimate_sms

    add_customers(engine, 6)
    pb = make_playbook(tmp_path)
    at = local(2027, 5, 20, 9, 0)
    est, problems = estimate_sms(engine, pb, at)
    assert problems == [] and [e.strategy_id for e in est] == ["peak_members_sms"]
    e = est[0]
    assert (e.recipients, e.segments) == (6, 1) and e.cost == pytest.approx(6 * 1 * 0.05)

    assert check_budget(engine, pb, at, FakeProbe(balance=100)).status == "pass"
    res = check_budget(engine, pb, at, FakeProbe(balance=0.31))            # covers 0.30, not +20%
    assert res.status == "warn" and not res.blocked
    res = check_budget(engine, pb, at, FakeProbe(balance=0.10))
    assert res.status == "fail" and list(res.blocked) == ["peak_members_sms"] and "top up" in res.reasons[0]
    res = check_budget(engine, pb, at, None)
    assert res.status == "warn" and "no channel gateway" in res.reasons[0]
    # after the last SMS moment there is nothing to pay for
    assert check_budget(engine, pb, local(2027, 6, 18, 10, 1), FakeProbe(balance=0)).status == "pass"


def test_budget_against_reference_gateway(engine, tmp_path):
    from dacu.dispatch.gateway import Gateway, GatewayConfig
    from dacu.readiness import HttpChannelProbe
    from dacu.readiness.budget import check_budget

    add_customers(engine, 6)
    pb = make_playbook(tmp_path)
    with Gateway(config=GatewayConfig(balance=0.2)) as gw:
        probe = HttpChannelProbe(gw.url)
        res = check_budget(engine, pb, local(2027, 5, 20, 9, 0), probe)
        assert res.status == "fail" and res.details["balance"] == 0.2
        probe.close()


# --- gate 5: carrier test sends ---------------------------------------------------------------------

def test_carriers_pass_and_fail(tmp_path):
    from dacu.readiness.carriers import check_carriers

    pb = make_playbook(tmp_path)
    at = local(2027, 5, 20, 9, 0)
    probe = FakeProbe()
    res = check_carriers(pb, at, probe, sleep=lambda s: None)
    assert res.status == "pass" and len(probe.sent) == 3
    assert "13800000001" not in json.dumps(res.as_dict())                 # masked only

    # Telecom fails on both attempts; Unicom fails once then is delivered on the retry
    first = {}

    def unicom(mid):
        first.setdefault("id", mid)
        return "failed" if mid == first["id"] else "delivered"

    res = check_carriers(pb, at, FakeProbe(receipts={"13300000003": "failed", "13000000002": unicom}),
                         sleep=lambda s: None)
    assert res.status == "fail" and res.details["carriers"]["china_unicom"]["attempts"] == ["failed", "delivered"]
    assert res.details["carriers"]["china_telecom"]["attempts"] == ["failed", "failed"]
    assert set(res.blocked) == {"peak_members_sms"} and "china_telecom" in res.blocked["peak_members_sms"]

    # no receipt in time (a fake clock: no real waiting)
    now = [0.0]
    res = check_carriers(pb, at, FakeProbe(receipts={"13800000001": None}), clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert res.status == "fail" and res.details["carriers"]["china_mobile"]["receipt"] == "timeout"

    res = check_carriers(pb, at, FakeProbe(refuse={"13000000002"}), sleep=lambda s: None)
    assert res.status == "fail" and "invalid_number" in " ".join(res.reasons)


def test_carriers_warn_without_numbers_and_reference_gateway(tmp_path):
    from dacu.dispatch.gateway import Gateway
    from dacu.readiness import HttpChannelProbe
    from dacu.readiness.carriers import check_carriers

    pb = make_playbook(tmp_path)
    sms = pb.channels.sms.model_copy(update={"test_numbers": {"china_mobile": "13800000001"}})
    pb1 = pb.model_copy(update={"channels": pb.channels.model_copy(update={"sms": sms})})
    with Gateway() as gw:
        probe = HttpChannelProbe(gw.url)
        res = check_carriers(pb1, local(2027, 5, 20, 9, 0), probe, sleep=lambda s: None)
        # the reference gateway's receipt is deterministic per message id
        assert res.status == "warn" and res.details["carriers"]["china_mobile"]["receipt"] == "delivered"
        accepted = len(gw.state.accepted)
        check_carriers(pb1, local(2027, 5, 20, 9, 0), probe, sleep=lambda s: None)
        assert len(gw.state.accepted) == accepted                # a rerun of the same check sends nothing new
        probe.close()


# --- gate 6: 30-day lowest price ------------------------------------------------------------------

def write_prices(tmp_path, rows: str):
    path = tmp_path / "prices.csv"
    path.write_text("sku_id,activity,price,start,end\n" + textwrap.dedent(rows), encoding="utf-8")
    return f"planned_prices_file: {path}"


def test_lowest_price_pass_warn_fail(engine, tmp_path):
    from dacu.readiness.lowest_price import check_lowest_price

    add_customers(engine, 6)
    add_orders(engine, datetime(2027, 5, 20).date(), datetime(2027, 5, 25).date(), per_day=2, price=80)
    at = local(2027, 6, 1, 9, 0)
    assert check_lowest_price(engine, make_playbook(tmp_path), at).status == "warn"   # no file configured

    ok = write_prices(tmp_path, "SKU-1,official_sale,79.00,2027-06-16 00:00,2027-06-20 23:59\n"
                                "SKU-1,taojinbi,50.00,2027-06-05 00:00,2027-06-05 23:59\n")
    res = check_lowest_price(engine, make_playbook(tmp_path, extra=ok), at)
    assert res.status == "pass" and res.details["skus"]["SKU-1"]["lowest_paid"] == "80.00"

    risky = write_prices(tmp_path, "SKU-1,official_sale,79.00,2027-06-16 00:00,2027-06-20 23:59\n"
                                   "SKU-1,juhuasuan,75.00,2027-06-05 00:00,2027-06-06 23:59\n")
    res = check_lowest_price(engine, make_playbook(tmp_path, extra=risky), at)
    assert res.status == "warn" and "聚划算" in res.reasons[0] and not res.blocked

    high = write_prices(tmp_path, "SKU-1,official_sale,85.00,2027-06-16 00:00,2027-06-20 23:59\n")
    res = check_lowest_price(engine, make_playbook(tmp_path, extra=high), at)
    assert res.status == "fail" and list(res.blocked) == ["peak_members_sms"]
    assert res.details["skus"]["SKU-1"]["verdict"] == "ineligible"


def test_lowest_price_bad_file_names_the_line(engine, tmp_path):
    from dacu.readiness.lowest_price import check_lowest_price

    bad = write_prices(tmp_path, "SKU-1,official_sale,-5,2027-06-16 00:00,2027-06-20 23:59\n"
                                 "SKU-1,made_up,5,2027-06-01 00:00,2027-06-02 00:00\n")
    res = check_lowest_price(engine, make_playbook(tmp_path, extra=bad), local(2027, 6, 1, 9, 0))
    assert res.status == "fail" and any("prices.csv:2 price '-5' must be > 0" in r for r in res.reasons)
    assert any("prices.csv:3 activity 'made_up'" in r for r in res.reasons)
    assert list(res.blocked) == ["peak_members_sms"]


def test_activity_table_is_seed_004():
    from dacu.paths import REPO_ROOT
    from dacu.readiness.lowest_price import load_activities

    acts = load_activities(REPO_ROOT / "include/readiness/lowest_price_activities.yaml")
    counted = {a.name for a in acts.values() if a.counts}
    assert counted == {"聚划算", "淘抢购", "商品优惠券", "付邮试用", "店铺满减"}
    assert not acts["store_coupon"].counts and not acts["flash_sale"].counts


# --- the table, blocked strategies, the whole check, the CLI ---------------------------------------

def test_results_idempotent_and_blocked_strategies(engine, tmp_path):
    from dacu.readiness import blocked_strategies, latest_results, run_checks

    pb = make_playbook(tmp_path)
    late = local(2027, 5, 21, 9, 0)                      # c1 overdue, history empty
    for _ in range(2):
        report = run_checks(engine, pb, late, gates=["coupons", "history"], record=True)
    with engine.connect() as conn:
        assert len(conn.execute(select(schema.readiness_results)).all()) == 2
    assert report.status == "fail"
    blocked = blocked_strategies(engine, pb, late)
    assert set(blocked) == {"peak_members_sms", "peak_members_inapp"}
    assert "coupons" in blocked["peak_members_sms"] and "history" in blocked["peak_members_sms"]
    assert blocked_strategies(engine, pb, late - timedelta(hours=1)) == {}       # nothing checked before

    # the coupon is issued; a later check releases the strategy from that gate
    with engine.begin() as conn:
        conn.execute(insert(schema.coupons), [{"coupon_id": "c1", "name": "加码券", "kind": "store",
                                              "face_value": 20, "threshold": 199,
                                              "issued_at": utc(local(2027, 5, 21, 10, 0))}])
    run_checks(engine, pb, local(2027, 5, 21, 11, 0), gates=["coupons"], record=True)
    blocked = blocked_strategies(engine, pb, local(2027, 5, 21, 12, 0))
    assert "coupons" not in blocked["peak_members_sms"] and "history" in blocked["peak_members_sms"]
    assert {r["gate"]: r["status"] for r in latest_results(engine, "t_sale", local(2027, 5, 22))} == \
        {"coupons": "pass", "history": "fail"}


def test_cli_check(engine, tmp_path, capsys, warehouse_url):
    import argparse

    from dacu.cli import check_cmd

    pb = make_playbook(tmp_path)
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse")
    check_cmd.register(parser.add_subparsers(dest="group"))
    args = parser.parse_args(["--warehouse", warehouse_url, "check", "--playbook", str(pb.path),
                              "--at", "2027-05-19 09:00", "--gate", "coupons", "--gate", "sms_lint", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "warn" and [g["gate"] for g in out["gates"]] == ["coupons", "sms_lint"]
    args = parser.parse_args(["--warehouse", warehouse_url, "check", "--playbook", str(pb.path),
                              "--at", "2027-05-21 09:00", "--gate", "coupons", "--record"])
    assert args.func(args) == 1
    text = capsys.readouterr().out
    assert "FAIL  coupons" in text and "peak_members_sms: readiness gate coupons" in text
    with engine.connect() as conn:
        assert conn.execute(select(schema.readiness_results.c.status)).scalars().all() == ["fail"]


# --- approvals and scene tasks ----------------------------------------------------------------------

def test_approval_request_and_scene_tasks(engine, tmp_path):
    from dacu.readiness import approval_request, record_confirmation, confirmations, scene_tasks

    add_customers(engine, 6)
    pb = make_playbook(tmp_path)                         # approval_min_recipients 5
    moment = local(2027, 6, 18, 10, 0)
    req = approval_request(engine, pb, "peak_members_sms", moment)
    assert req.required and req.recipients == 6 and req.segments == 1 and req.cost == pytest.approx(0.3)
    assert "6 recipients" in req.body(pb) and "【测试旗舰店】" in req.sample and "1390000" not in req.body(pb)
    small = pb.model_copy(update={"readiness": pb.readiness.model_copy(update={"approval_min_recipients": 100})})
    assert not approval_request(engine, small, "peak_members_sms", moment).required

    tasks = scene_tasks(pb)
    assert [t.strategy_id for t in tasks] == ["prep_group_setup"]
    assert "https://myseller.taobao.com/home.htm/qun" in tasks[0].body()
    assert scene_tasks(pb, day=local(2027, 5, 11).date()) == []

    for _ in range(2):
        record_confirmation(engine, "t_sale", "scene_task", "prep_group_setup", tasks[0].moments[0], "Done",
                            "ops_li", local(2027, 5, 10, 11, 3), {"note": "群已建"})
    rows = confirmations(engine, "t_sale")
    assert len(rows) == 1 and rows[0]["responded_by"] == "ops_li" and rows[0]["detail"]["note"] == "群已建"


def test_generator_playbook_coupons(tmp_path):
    from dacu.synth.generate import playbook_coupon_columns
    from dacu.synth.shop import NULL

    pb = make_playbook(tmp_path)
    cols = playbook_coupon_columns(pb, {"c1"}, 3000)
    assert list(cols["coupon_id"]) == ["c1"] and cols["issued_at"][0] == NULL and cols["face_value"][0] == 2000
    cols = playbook_coupon_columns(pb, set(), 3000)
    # 7 days before the deadline 2027-05-20 23:59 sale-local, in local seconds
    assert cols["issued_at"][0] == int((datetime(2027, 5, 13, 23, 59) - datetime(1970, 1, 1)).total_seconds())


def test_gate_and_report_operators(tmp_path, monkeypatch):
    """The thin operators on an embedded SQLite warehouse (execute called directly: no templates)."""
    import sys
    from types import SimpleNamespace

    from dacu.paths import REPO_ROOT
    from dacu.warehouse import init_schema, make_engine
    from dacu.warehouse.connect import quote_conn_path

    db = tmp_path / "wh.db"
    eng = make_engine(f"sqlite:///{db}")
    init_schema(eng)
    monkeypatch.setenv("AIRFLOW_CONN_DACU_WAREHOUSE", quote_conn_path(str(db)))
    monkeypatch.syspath_prepend(str(REPO_ROOT / "plugins"))
    sys.modules.pop("operators", None)
    from operators.readiness import ReadinessGateOperator, ReadinessReportOperator, SceneTaskOperator

    pb = make_playbook(tmp_path)
    ctx = {"dag_run": SimpleNamespace(logical_date=local(2027, 5, 21, 9, 0), run_after=None)}
    out = ReadinessGateOperator(task_id="coupons", playbook=str(pb.path), gate="coupons").execute(ctx)
    assert out["status"] == "fail" and out["blocked"] == ["peak_members_sms"]
    report = ReadinessReportOperator(task_id="report", playbook=str(pb.path), at="2027-05-21 10:00").execute(ctx)
    assert report["gates"] == {"coupons": "fail"} and "peak_members_sms" in report["blocked"]
    op = SceneTaskOperator(task_id="scene", playbook=str(pb.path), strategy_id="prep_group_setup")
    assert op.options == ["Done", "Not done"]
    # the answer is recorded whatever it is: a choice, then a timeout (which still fails the task)
    from dacu.readiness import confirmations

    op.at = "2027-05-21 10:00"
    answered = datetime(2027, 5, 21, 3, 5, tzinfo=timezone.utc)
    op.execute_complete(ctx, {"chosen_options": ["Done"], "params_input": {}, "responded_at": answered,
                              "responded_by_user": {"id": "u7", "name": "Li Na"}})
    with pytest.raises(Exception):
        SceneTaskOperator(task_id="scene2", playbook=str(pb.path), strategy_id="prep_group_setup",
                          at="2027-05-22 10:00").execute_complete(
            ctx, {"error": "timed out", "error_type": "timeout"})
    got = sorted((c["moment"], c["kind"], c["item_id"], c["decision"], c["responded_by"])
                 for c in confirmations(eng, pb.sale.id))
    assert [g[1:] for g in got] == [("scene_task", "prep_group_setup", "Done", "Li Na"),
                                    ("scene_task", "prep_group_setup", "timeout", None)]
    eng.dispose()
