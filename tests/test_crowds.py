"""The crowd library: every catalogue crowd on a hand-built fixture whose members are
known by construction (boundaries in Asia/Shanghai), composition and exclusions,
holdouts, snapshots and the send-time recheck. Runs on SQLite and PostgreSQL.

Gate moment of the fixtures: 2027-06-19 20:00 Asia/Shanghai (12:00 UTC),
reference day 2027-05-24.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select

from dacu.crowds.bounds import CrowdContext, CrowdError, bind_params, resolve_params
from dacu.crowds.catalog import CROWDS
from dacu.crowds.evaluate import GateEvaluator, SaleContext, evaluate_crowd, sql_bind_names
from dacu.crowds.freshness import recheck_at_send
from dacu.crowds.holdout import holdout_bucket, is_holdout, readability_warning, split_holdout
from dacu.crowds.segment import preview_strategy, segment_gate, segment_strategy
from dacu.crowds.snapshot import write_segment_snapshot
from dacu.paths import SQL_DIR
from dacu.warehouse.schema import (
    coupon_grants, coupons, crowd_feature_layers, crowd_feature_rows, crowd_part_rows, crowd_snapshots, customers,
    events, order_items, orders, segment_runs, skus,
)

TZ = ZoneInfo("Asia/Shanghai")
SALE = SaleContext("t618_2027", date(2027, 5, 24), TZ)
AS_OF = datetime(2027, 6, 19, 20, 0, tzinfo=TZ)


def U(local: str) -> datetime:
    """A Shanghai wall time as the naive UTC the warehouse stores."""
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


# --- row builders ---------------------------------------------------------------------------------

def C(cid: str, **kw) -> tuple:
    row = dict(customer_id=cid, first_seen_at=U("2026-01-01 00:00"), mobile="13800000000", email=f"{cid}@qq.com",
               member_level=0, consent_sms=True, consent_email=True, consent_inapp=True, blacklisted=False)
    for k in ("member_since", "fan_since", "live_fan_since", "opted_out_at", "first_seen_at"):
        if isinstance(kw.get(k), str):
            kw[k] = U(kw[k])
    row.update(kw)
    if row.get("member_since") and "member_level" not in kw:
        row["member_level"] = 1                                    # a member is at least VIP1
    return ("customers", row)


_order_no = iter(range(1, 10**9))


def O(cid: str, paid: str | None = None, *, created: str | None = None, amount: float = 100, oid: str | None = None,
      items: list[tuple[str, str]] = (), **kw) -> list[tuple]:
    oid = oid or f"o{next(_order_no)}"
    row = dict(order_id=oid, customer_id=cid, status="paid" if paid else "unpaid", source="normal",
               created_at=U(created or paid or "2027-01-01 00:00"), paid_at=U(paid) if paid else None,
               amount=amount, is_presale=False)
    for k in ("closed_at", "deposit_paid_at", "balance_paid_at", "refunded_at"):
        if isinstance(kw.get(k), str):
            kw[k] = U(kw[k])
    row.update(kw)
    out = [("orders", row)]
    for n, (sku, cat) in enumerate(items, 1):
        out.append(("order_items", dict(order_id=oid, line_no=n, sku_id=sku, category=cat, price=amount, quantity=1)))
    return out


def E(cid: str, kind: str, at: str, **kw) -> tuple:
    return ("events", dict(customer_id=cid, event_type=kind, occurred_at=U(at), **kw))


def SKU(sku: str, cat: str, cycle: int | None = None) -> tuple:
    return ("skus", dict(sku_id=sku, name=sku, category=cat, list_price=10, repurchase_cycle_days=cycle))


def G(gid: str, cid: str, coupon: str, granted: str, expires: str | None = None, redeemed: str | None = None):
    return ("coupon_grants", dict(grant_id=gid, coupon_id=coupon, customer_id=cid, granted_at=U(granted),
                                  expires_at=U(expires) if expires else None,
                                  redeemed_at=U(redeemed) if redeemed else None))


def CP(cid: str, valid_to: str = "2027-06-20 23:59") -> tuple:
    return ("coupons", dict(coupon_id=cid, name=cid, kind="store", face_value=10, threshold=0,
                            valid_to=U(valid_to)))


def flat(*parts) -> list[tuple]:
    rows: list[tuple] = []
    for p in parts:
        rows.extend(p if isinstance(p, list) else [p])
    return rows


TABLES = {"customers": customers, "orders": orders, "order_items": order_items, "events": events, "skus": skus,
          "coupons": coupons, "coupon_grants": coupon_grants}


def load(engine, rows: list[tuple]) -> None:
    """Replace the fixture's data. Direct inserts make no import batch, so the feature cache of the
    gate moment is cleared too (a real load changes the data mark and the next gate rebuilds)."""
    with engine.begin() as conn:
        conn.execute(delete(crowd_feature_rows))
        conn.execute(delete(crowd_part_rows))
        conn.execute(delete(crowd_feature_layers))
        for t in ("order_items", "orders", "events", "coupon_grants", "coupons", "skus", "customers",
                  "crowd_snapshots", "segment_runs"):
            conn.execute(delete({**TABLES, "crowd_snapshots": crowd_snapshots, "segment_runs": segment_runs}[t]))
        by_table: dict[str, list[dict]] = {}
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        for table in ("customers", "skus", "coupons", "orders", "order_items", "events", "coupon_grants"):
            for row in by_table.get(table, []):   # row by row: rows of one table may have different keys
                conn.execute(insert(TABLES[table]).values(**row))


# --- scenarios: (crowd, params, rows, expected members) ------------------------------------------------

MEMBER = "2026-01-01 00:00"
SCENARIOS: dict[str, tuple[str, dict, list, set]] = {
    "whole_store": ("whole_store", {}, flat(
        C("c1"), C("c2", first_seen_at="2027-06-19 20:01"),
        C("c3", first_seen_at="2027-06-20 00:00", member_since=MEMBER),
        O("c4", created="2027-06-01 10:00"),                       # an order but no customer row yet
        O("c5", created="2027-06-19 20:30"),
    ), {"c1", "c3", "c4"}),
    "old_customers": ("old_customers", {}, flat(
        C("old_a"), O("old_a", "2027-05-23 23:30"),                # 15:30 UTC 5.23: old for reference day 5.24
        C("new_b"), O("new_b", "2027-05-24 00:10"),                # 16:10 UTC 5.23, but 5.24 in Shanghai: not old
        C("presale"), O("presale", None, created="2027-05-10 10:00", is_presale=True,
                        deposit_paid_at="2027-05-10 10:00", balance_paid_at="2027-05-20 10:00"),
        C("dep_only"), O("dep_only", None, created="2027-05-10 10:00", is_presale=True,
                         deposit_paid_at="2027-05-10 10:00"),
        C("unpaid"), O("unpaid", None, created="2027-05-01 10:00"),
    ), {"old_a", "presale"}),
    "new_customers": ("new_customers", {}, flat(
        C("old_a"), O("old_a", "2027-05-23 23:30"),
        C("new_b"), O("new_b", "2027-05-24 00:10"),
        C("visitor"), C("future", first_seen_at="2027-06-19 20:01"),
    ), {"new_b", "visitor"}),
    "members": ("members", {"min_level": 2}, flat(
        C("m1", member_since=MEMBER, member_level=3), C("m2", member_since=MEMBER, member_level=1),
        C("m3", member_since="2027-06-19 10:00", member_level=2),    # joined on the gate's day, before the gate
        C("m4", member_since="2027-06-19 20:30", member_level=4), C("m5"),
    ), {"m1", "m3"}),
    "fans": ("fans", {}, flat(
        C("f1", fan_since=MEMBER), C("f2", fan_since="2027-06-19 20:01"), C("f3"),
    ), {"f1"}),
    "promo_high_potential": ("promo_high_potential", {"intent_days": 30}, flat(
        C("p1", member_since=MEMBER), E("p1", "visit", "2027-06-10 10:00"),
        C("p2"), E("p2", "cart", "2027-06-10 10:00"), O("p2", "2026-06-19 00:00"),      # 365 days: first day in
        C("p3"), E("p3", "visit", "2027-06-10 10:00"), O("p3", "2026-06-18 23:59"),     # one minute too early
        C("p4", member_since=MEMBER), E("p4", "visit", "2027-05-19 23:59"),             # intent before 5.20
        C("p5", member_since=MEMBER), E("p5", "coupon_claim", "2027-06-10 10:00"),
        C("p6", member_since=MEMBER), E("p6", "visit", "2027-06-19 20:01"),
        C("p7", member_since=MEMBER), E("p7", "favourite", "2027-05-20 00:00"),
    ), {"p1", "p2", "p7"}),
    "category_interest": ("category_interest", {"categories": ["美妆", "母婴"], "intent_days": 30}, flat(
        SKU("S-BABY", "母婴"),
        C("ci1"), E("ci1", "visit", "2027-06-01 10:00", category="美妆"),
        C("ci2"), E("ci2", "cart", "2027-06-01 10:00", sku_id="S-BABY"),
        C("ci3"), E("ci3", "favourite", "2027-06-01 10:00", category="食品"),
        C("ci4"), E("ci4", "visit", "2027-05-19 23:00", category="美妆"),
    ), {"ci1", "ci2"}),
    "cart_or_fav_not_paid": ("cart_or_fav_not_paid", {"min_days": 3, "max_days": 10, "no_purchase_days": 10}, flat(
        C("k1"), E("k1", "cart", "2027-06-09 00:00"),          # exactly 10 days before 6.19: in
        C("k2"), E("k2", "cart", "2027-06-08 23:59"),          # 11 days: out
        C("k3"), E("k3", "favourite", "2027-06-16 23:59"),     # exactly 3 days: in
        C("k4"), E("k4", "cart", "2027-06-17 00:00"),          # 2 days: out
        C("k5"), E("k5", "cart", "2027-06-12 10:00"), O("k5", "2027-06-09 00:00"),   # paid in the last 10 days
        C("k6"), E("k6", "cart", "2027-06-12 10:00"), O("k6", "2027-06-08 23:59"),   # paid 11 days ago
        C("k7"), E("k7", "visit", "2027-06-12 10:00"),
    ), {"k1", "k3", "k6"}),
    "last_push": ("last_push", {"intent_days": 14}, flat(
        C("lp1"), E("lp1", "coupon_claim", "2027-06-18 10:00"),
        C("lp2"), E("lp2", "cart", "2027-06-10 10:00"), O("lp2", "2027-06-12 10:00"),
        C("lp3"), E("lp3", "favourite", "2027-06-10 10:00"), O("lp3", "2027-06-01 10:00"),
        C("lp4"), E("lp4", "visit", "2027-06-10 10:00"),
        C("lp5"), E("lp5", "cart", "2027-06-04 23:00"),
    ), {"lp1", "lp3"}),
    "presale_buyers_history": ("presale_buyers_history", {"lookback_days": 730}, flat(
        C("ph1"), O("ph1", "2026-06-18 01:00", is_presale=True, deposit_paid_at="2026-05-30 10:00"),
        C("ph2"), O("ph2", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00"),
        C("ph3"), O("ph3", "2025-06-18 10:00", is_presale=True, deposit_paid_at="2025-06-18 10:00"),
        C("ph4"), O("ph4", "2026-05-30 10:00"),
    ), {"ph1"}),
    "deposit_paid_balance_unpaid": ("deposit_paid_balance_unpaid", {}, flat(
        C("d1"), O("d1", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00"),
        C("d2"), O("d2", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00",
                   balance_paid_at="2027-06-18 10:00"),
        C("d3"), O("d3", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00",
                   balance_paid_at="2027-06-19 20:30"),
        C("d4"), O("d4", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00",
                   closed_at="2027-06-18 10:00"),
        C("d5"), O("d5", None, created="2027-05-10 10:00", is_presale=True, deposit_paid_at="2027-05-10 10:00"),
    ), {"d1", "d3"}),
    "high_value_repeat": ("high_value_repeat", {"min_orders": 2, "lookback_days": 365}, flat(
        C("h1", member_since=MEMBER), O("h1", "2027-01-10 10:00"), O("h1", "2027-03-10 10:00"),
        C("h2", member_since=MEMBER), O("h2", "2027-01-10 10:00"),
        C("h3"), O("h3", "2027-01-10 10:00"), O("h3", "2027-02-10 10:00"), O("h3", "2027-03-10 10:00"),
        C("h4", member_since=MEMBER), O("h4", "2026-06-18 23:00"), O("h4", "2027-01-10 10:00"),
        C("h5", member_since=MEMBER), O("h5", "2027-01-10 10:00"),
        O("h5", None, created="2027-05-01 10:00", is_presale=True, deposit_paid_at="2027-05-01 10:00",
          balance_paid_at="2027-06-01 10:00"),
    ), {"h1", "h5"}),
    "member_buyers_365": ("member_buyers_365", {}, flat(
        C("mb1", member_since=MEMBER), O("mb1", "2027-01-10 10:00"),
        C("mb2", member_since=MEMBER), O("mb2", "2026-06-18 10:00"),
        C("mb3"), O("mb3", "2027-01-10 10:00"),
        C("mb4", member_since="2027-06-19 20:30"), O("mb4", "2027-01-10 10:00"),
    ), {"mb1"}),
    "lapsed_members_category_intent": ("lapsed_members_category_intent", {"lapsed_days": 180, "intent_days": 30}, flat(
        SKU("S-MZ", "美妆"),
        C("l1", member_since=MEMBER), O("l1", "2026-10-01 10:00", items=[("S-MZ", "美妆")]),
        E("l1", "visit", "2027-06-10 10:00", category="美妆"),
        C("l2", member_since=MEMBER), O("l2", "2026-12-21 00:00", items=[("S-MZ", "美妆")]),  # 180 days: not lapsed
        E("l2", "visit", "2027-06-10 10:00", category="美妆"),
        C("l3", member_since=MEMBER), O("l3", "2026-10-01 10:00", items=[("S-MZ", "美妆")]),
        E("l3", "visit", "2027-06-10 10:00", category="食品"),
        C("l4"), O("l4", "2026-10-01 10:00", items=[("S-MZ", "美妆")]),
        E("l4", "visit", "2027-06-10 10:00", category="美妆"),
        C("l5", member_since=MEMBER), O("l5", "2026-12-20 23:59", items=[("S-MZ", "美妆")]),  # 181 days: lapsed
        E("l5", "cart", "2027-06-10 10:00", sku_id="S-MZ"),
    ), {"l1", "l5"}),
    "watching_not_buying": ("watching_not_buying", {"intent_days": 7, "visit_days": 30, "min_visits": 3}, flat(
        C("w1", member_since=MEMBER), E("w1", "coupon_claim", "2027-06-12 00:00"),
        C("w2", member_since=MEMBER), E("w2", "cart", "2027-06-11 23:59"),
        C("w3", member_since=MEMBER), *[E("w3", "visit", f"2027-06-0{d} 10:00") for d in (1, 2, 3)],
        C("w4", member_since=MEMBER), *[E("w4", "visit", f"2027-06-0{d} 10:00") for d in (1, 2)],
        E("w4", "visit", "2027-05-19 10:00"),
        C("w5", member_since=MEMBER), E("w5", "cart", "2027-06-15 10:00"), O("w5", "2027-06-01 10:00"),
        C("w6"), E("w6", "cart", "2027-06-15 10:00"),
    ), {"w1", "w3"}),
    "buyers_not_members": ("buyers_not_members", {"since": date(2027, 5, 5)}, flat(
        C("bn1"), O("bn1", "2027-05-10 10:00"),
        C("bn2", member_since=MEMBER), O("bn2", "2027-05-10 10:00"),
        C("bn3"), O("bn3", "2027-05-04 23:59"),
        C("bn4", member_since="2027-06-19 21:00"), O("bn4", "2027-05-10 10:00"),
    ), {"bn1", "bn4"}),
    "live_stream_fans": ("live_stream_fans", {"members_only": True}, flat(
        C("lf1", live_fan_since=MEMBER, member_since=MEMBER), C("lf2", live_fan_since=MEMBER),
        C("lf3", member_since=MEMBER),
    ), {"lf1"}),
    "live_stream_fans_all": ("live_stream_fans", {"members_only": False}, flat(
        C("lf1", live_fan_since=MEMBER, member_since=MEMBER), C("lf2", live_fan_since=MEMBER),
        C("lf3", member_since=MEMBER),
    ), {"lf1", "lf2"}),
    "unredeemed_coupon_holders": ("unredeemed_coupon_holders", {"coupon_ids": ["cp_a"]}, flat(
        CP("cp_a"), CP("cp_b"), CP("cp_old", valid_to="2027-06-18 23:59"),
        C("u1"), G("g1", "u1", "cp_a", "2027-06-01 10:00", "2027-06-20 23:59"),
        C("u2"), G("g2", "u2", "cp_a", "2027-06-01 10:00", "2027-06-20 23:59", redeemed="2027-06-18 10:00"),
        C("u3"), G("g3", "u3", "cp_b", "2027-06-01 10:00", "2027-06-20 23:59"),
        C("u4"), G("g4", "u4", "cp_a", "2027-06-01 10:00", "2027-06-19 19:00"),
        C("u5"), G("g5", "u5", "cp_a", "2027-06-01 10:00", None, redeemed="2027-06-19 21:00"),
        C("u6"), G("g6", "u6", "cp_old", "2027-06-01 10:00"),
    ), {"u1", "u5"}),
    "unredeemed_any_coupon": ("unredeemed_coupon_holders", {}, flat(
        CP("cp_a"), CP("cp_b"), CP("cp_old", valid_to="2027-06-18 23:59"),
        C("u1"), G("g1", "u1", "cp_a", "2027-06-01 10:00", "2027-06-20 23:59"),
        C("u2"), G("g2", "u2", "cp_a", "2027-06-01 10:00", "2027-06-20 23:59", redeemed="2027-06-18 10:00"),
        C("u3"), G("g3", "u3", "cp_b", "2027-06-01 10:00", "2027-06-20 23:59"),
        C("u6"), G("g6", "u6", "cp_old", "2027-06-01 10:00"),
    ), {"u1", "u3"}),
    "unpaid_orders": ("unpaid_orders", {}, flat(
        C("uo1"), O("uo1", None, created="2027-06-19 19:30"),
        C("uo2"), O("uo2", None, created="2027-06-19 19:40"),
        C("uo3"), O("uo3", None, created="2027-06-19 19:40", source="juhuasuan"),
        C("uo4"), O("uo4", "2027-06-19 19:50", created="2027-06-19 19:30"),
        C("uo5"), O("uo5", None, created="2027-06-19 19:30"), O("uo5", "2027-06-19 19:55"),
        C("uo6"), O("uo6", None, created="2027-06-18 19:00"),
        C("uo7"), O("uo7", "2027-06-19 20:10", created="2027-06-19 19:30"),
        C("uo8"), O("uo8", None, created="2027-06-19 19:30", closed_at="2027-06-19 19:50", status="closed"),
        # window edges (gate 20:00, window 1440 min): ordinary orders from 06-18 19:35, 聚划算 from 19:45
        C("uo9"), O("uo9", None, created="2027-06-18 19:35"),
        C("uo10"), O("uo10", None, created="2027-06-18 19:40", source="juhuasuan"),
        C("uo11"), O("uo11", None, created="2027-06-18 19:45", source="juhuasuan"),
    ), {"uo1", "uo3", "uo7", "uo9", "uo11"}),
    "closed_unpaid_potentials": ("closed_unpaid_potentials", {"start": date(2027, 6, 16), "end": date(2027, 6, 18)},
                                 flat(
        C("cl1"), O("cl1", None, created="2027-06-17 09:00", closed_at="2027-06-17 10:00"),
        C("cl2"), O("cl2", None, created="2027-06-17 09:00", closed_at="2027-06-17 10:00"), O("cl2", "2027-06-18 10:00"),
        C("cl3"), O("cl3", None, created="2027-06-18 23:00", closed_at="2027-06-18 23:59"),
        C("cl4"), O("cl4", None, created="2027-06-18 23:00", closed_at="2027-06-19 00:00"),
        C("cl5"), O("cl5", None, created="2027-06-17 09:00", closed_at="2027-06-17 10:00"), O("cl5", "2027-06-15 10:00"),
    ), {"cl1", "cl3", "cl5"}),
    "rfm_high_quality": ("rfm_high_quality", {}, flat(
        C("r1"), O("r1", "2027-01-10 10:00", amount=400), O("r1", "2027-05-01 10:00", amount=300),
        C("r2"), O("r2", "2027-01-10 10:00", amount=100), O("r2", "2027-05-01 10:00", amount=200),
        C("r3"), O("r3", "2027-01-10 10:00", amount=400), O("r3", "2027-02-01 10:00", amount=400),
        C("r4"), O("r4", "2027-06-01 10:00", amount=400), O("r4", "2027-06-10 10:00", amount=400),
        C("r5"), O("r5", "2027-05-01 10:00", amount=500),
    ), {"r1"}),
    "rfm_low_quality": ("rfm_low_quality", {}, flat(
        C("q1"), O("q1", "2026-05-10 10:00", amount=50), O("q1", "2026-08-10 10:00", amount=80),
        C("q2"), O("q2", "2026-05-10 10:00", amount=50), O("q2", "2027-01-10 10:00", amount=50),
        C("q3"), O("q3", "2026-05-10 10:00", amount=500),
    ), {"q1"}),
    "lapsed_high_value_years": ("lapsed_high_value_years", {"years_back": 3, "min_amount": 500, "lapsed_days": 365},
                                flat(
        C("ly1"), O("ly1", "2024-03-01 10:00", amount=300), O("ly1", "2025-03-01 10:00", amount=300),
        C("ly2"), O("ly2", "2025-03-01 10:00", amount=600), O("ly2", "2026-07-01 10:00", amount=10),
        C("ly3"), O("ly3", "2023-12-31 23:00", amount=600),    # 2023 in Shanghai, 2023 in UTC as well
        C("ly4"), O("ly4", "2026-06-18 10:00", amount=600),
        C("ly5"), O("ly5", "2024-01-01 00:30", amount=600),    # 2024 in Shanghai, still 2023 in UTC: in
    ), {"ly1", "ly4", "ly5"}),
    "last_year_sale_buyers": ("last_year_sale_buyers", {"start": date(2026, 6, 16), "end": date(2026, 6, 20)}, flat(
        C("ls1"), O("ls1", "2026-06-18 10:00"), C("ls2"), O("ls2", "2026-06-21 00:00"),
        C("ls3"), O("ls3", "2026-06-20 23:59"), C("ls4"), O("ls4", "2026-06-15 23:59"),
    ), {"ls1", "ls3"}),
    "loyal_repeat_buyers": ("loyal_repeat_buyers", {}, flat(
        C("lr1"), *[O("lr1", f"2027-0{m}-10 10:00") for m in (1, 2, 3)],
        C("lr2"), *[O("lr2", f"2027-0{m}-10 10:00") for m in (1, 2)],
        C("lr3"), O("lr3", "2026-06-10 10:00"), *[O("lr3", f"2027-0{m}-10 10:00") for m in (1, 2)],
    ), {"lr1"}),
    "active_recent_buyers": ("active_recent_buyers", {}, flat(
        C("ar1"), O("ar1", "2027-03-21 00:00"), C("ar2"), O("ar2", "2027-03-20 23:59"),
        C("ar3"), O("ar3", "2027-06-19 20:01"),
    ), {"ar1"}),
    "repurchase_due": ("repurchase_due", {"window_days": 7}, flat(
        SKU("S-CYC", "日化", cycle=30), SKU("S-EST", "日化"),
        C("rp1"), O("rp1", "2027-05-25 12:00", items=[("S-CYC", "日化")]),    # due 6.24: in
        C("rp2"), O("rp2", "2027-05-01 12:00", items=[("S-CYC", "日化")]),    # due 5.31: out
        C("rp3"), O("rp3", "2027-06-10 12:00", items=[("S-CYC", "日化")]),    # due 7.10: out
        *[O(f"e{n}", d, items=[("S-EST", "日化")]) for n in (1, 2, 3) for d in ("2026-01-01 10:00", "2026-01-21 10:00")],
        C("rp4"), O("rp4", "2027-06-05 12:00", items=[("S-EST", "日化")]),    # estimated cycle 20: due 6.25
    ), {"rp1", "rp4"}),
    "repurchase_due_thin_history": ("repurchase_due", {"window_days": 7, "min_history_customers": 4}, flat(
        SKU("S-EST", "日化"),
        *[O(f"e{n}", d, items=[("S-EST", "日化")]) for n in (1, 2, 3) for d in ("2026-01-01 10:00", "2026-01-21 10:00")],
        C("rp4"), O("rp4", "2027-06-05 12:00", items=[("S-EST", "日化")]),
    ), set()),
    "mobile_customers": ("mobile_customers", {}, flat(
        C("mc1", mobile="13812345678"), C("mc2", mobile=None), C("mc3", mobile="0571-8888"),
        C("mc4", mobile="23812345678"), C("mc5", mobile="13812345678", first_seen_at="2027-06-19 21:00"),
    ), {"mc1"}),
    "paid_in_sale": ("paid_in_sale", {"since": "2027-06-16 00:00"}, flat(
        C("ps1"), O("ps1", "2027-06-16 00:00"), C("ps2"), O("ps2", "2027-06-15 23:59"),
        C("ps3"), O("ps3", None, created="2027-06-01 10:00", is_presale=True, deposit_paid_at="2027-06-01 10:00",
                    balance_paid_at="2027-06-18 10:00"),
        C("ps4"), O("ps4", "2027-06-19 20:01"), C("ps5"), O("ps5", "2027-06-19 20:00"),   # exactly the gate: in
    ), {"ps1", "ps3", "ps5"}),
    "sale_buyers": ("sale_buyers", {"start": "2027-06-16", "end": "2027-06-20 23:59"}, flat(
        C("sb1"), O("sb1", "2027-06-17 10:00"), C("sb2"), O("sb2", "2027-06-19 20:30"),
        C("sb3"), O("sb3", "2027-06-15 10:00"),
    ), {"sb1"}),
    "sale_new_customers": ("sale_new_customers", {"start": date(2027, 6, 16), "end": date(2027, 6, 20)}, flat(
        C("sn1"), O("sn1", "2027-06-17 10:00"),
        C("sn2"), O("sn2", "2027-06-01 10:00"), O("sn2", "2027-06-17 10:00"),
        C("sn3"), O("sn3", None, created="2027-06-01 10:00"), O("sn3", "2027-06-17 10:00"),
    ), {"sn1", "sn3"}),
}

_RECENCY_ROWS = flat(
    C("nr1"), E("nr1", "visit", "2027-04-01 10:00"),
    C("nr2"), E("nr2", "visit", "2027-06-01 10:00"),
    C("nr3"), E("nr3", "visit", "2027-04-01 10:00"), E("nr3", "visit", "2027-06-01 10:00"),
    C("nr4"), E("nr4", "visit", "2027-04-01 10:00"), O("nr4", "2027-04-01 11:00"),
    C("nr5"), E("nr5", "visit", "2027-03-21 00:00"),       # exactly 90 days: dormant
    C("nr6"), E("nr6", "visit", "2027-03-20 23:59"),       # 91 days: lapsed
    C("nr7"), E("nr7", "visit", "2027-04-01 10:00"), O("nr7", None, created="2027-04-01 11:00"),
    C("nr8"), E("nr8", "visit", "2027-05-20 00:00"),       # exactly 30 days: recent
)
SCENARIOS["new_by_recency"] = ("new_by_recency", {"band": "dormant"}, _RECENCY_ROWS, {"nr1", "nr5", "nr7"})
SCENARIOS["new_by_recency_recent"] = ("new_by_recency", {}, _RECENCY_ROWS, {"nr2", "nr3", "nr8"})
SCENARIOS["new_by_recency_lapsed"] = ("new_by_recency", {"band": "lapsed"}, _RECENCY_ROWS, {"nr6"})


# --- a warehouse per backend for the whole module (creating one per test is slow) ------------------------

@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh(request, tmp_path_factory):
    from conftest import module_warehouse

    with module_warehouse(request.param, tmp_path_factory.mktemp("crowds")) as eng:
        yield eng


def test_every_catalogue_crowd_has_a_scenario_and_a_documented_sql_file():
    assert {crowd for crowd, *_ in SCENARIOS.values()} == set(CROWDS)
    for name, spec in CROWDS.items():
        lines = (SQL_DIR / "crowds" / f"{name}.sql").read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("-- definition: "), name
        assert any(line.startswith("-- seed: ") for line in lines[:4]), name


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_crowd_members_by_construction(wh, scenario):
    crowd, params, rows, expected = SCENARIOS[scenario]
    load(wh, rows)
    got = evaluate_crowd(wh, {"base": crowd, "params": params}, AS_OF, SALE)
    assert got == expected


@pytest.mark.parametrize("name", sorted(CROWDS))
def test_binds_cover_every_sql_parameter(name):
    params = next(p for crowd, p, *_ in SCENARIOS.values() if crowd == name)
    binds = bind_params(name, params, CrowdContext(SALE.sale_id, SALE.reference_day, TZ, AS_OF))
    assert sql_bind_names(f"crowds/{name}") <= set(binds)
    for value in binds.values():
        assert not (isinstance(value, datetime) and value.tzinfo is not None), "binds must be naive UTC"


def test_old_customers_before_the_reference_day_only_know_the_past(wh):
    load(wh, flat(C("a"), O("a", "2027-05-20 10:00"), C("b"), O("b", "2027-05-21 10:00")))
    early = datetime(2027, 5, 20, 12, 0, tzinfo=TZ)
    assert evaluate_crowd(wh, {"base": "old_customers"}, early, SALE) == {"a"}
    assert evaluate_crowd(wh, {"base": "old_customers"}, AS_OF, SALE) == {"a", "b"}


def test_member_joined_on_the_reference_day(wh):
    load(wh, flat(C("j1", member_since="2027-05-24 08:00", member_level=1),
                  C("j2", member_since="2027-05-24 10:00", member_level=1)))
    at = datetime(2027, 5, 24, 9, 0, tzinfo=TZ)
    assert evaluate_crowd(wh, {"base": "members"}, at, SALE) == {"j1"}


def test_cart_band_with_min_days_zero_reaches_the_gate_moment(wh):
    load(wh, flat(C("z1"), E("z1", "cart", "2027-06-19 19:59"), C("z2"), E("z2", "cart", "2027-06-19 20:01")))
    expr = {"base": "cart_or_fav_not_paid", "params": {"min_days": 0, "max_days": 10}}
    assert evaluate_crowd(wh, expr, AS_OF, SALE) == {"z1"}


# --- composition and global exclusions -------------------------------------------------------------------

EXCLUSION_ROWS = flat(
    C("x_ok", member_since=MEMBER), C("x_black", member_since=MEMBER, blacklisted=True),
    C("x_opt", member_since=MEMBER, opted_out_at="2027-06-19 19:00"),
    C("x_opt_later", member_since=MEMBER, opted_out_at="2027-06-19 21:00"),
    C("x_nosms", member_since=MEMBER, consent_sms=False),
    C("x_nomobile", member_since=MEMBER, mobile=None),
    C("x_paid", member_since=MEMBER), O("x_paid", "2027-06-17 10:00"),
    C("x_fan", member_since=MEMBER, fan_since=MEMBER), C("x_notmember", fan_since=MEMBER),
)
EXPR = {"base": "members", "intersect": [], "exclude": [{"base": "paid_in_sale", "params": {"since": "2027-06-16 00:00"}}]}


def test_exclude_intersect_and_channel_exclusions(wh):
    load(wh, EXCLUSION_ROWS)
    ev = GateEvaluator(wh, SALE, AS_OF)
    comp, eligible, excluded = ev.eligible(EXPR, ["sms"])
    assert len(comp.crowd) == 8 and "x_paid" not in comp.members
    assert eligible == {"x_ok", "x_opt_later", "x_fan"}
    assert excluded == {"exclude:paid_in_sale": 1, "blacklisted": 1, "opted_out": 1, "no_channel": 2}
    # email reaches the ones without SMS consent or mobile
    assert evaluate_crowd(wh, EXPR, AS_OF, SALE, channels=["sms", "email"]) == \
        {"x_ok", "x_opt_later", "x_fan", "x_nosms", "x_nomobile"}
    assert evaluate_crowd(wh, {**EXPR, "intersect": [{"base": "fans"}]}, AS_OF, SALE) == {"x_fan"}


def test_bad_crowd_expressions_are_clear_errors():
    with pytest.raises(CrowdError, match="unknown crowd 'memberz'"):
        resolve_params("memberz", {})
    with pytest.raises(CrowdError, match="unknown param.*lookback_days"):
        resolve_params("watching_not_buying", {"lookback_days": 7})
    with pytest.raises(CrowdError, match="since required"):
        resolve_params("paid_in_sale", {})
    ctx = CrowdContext(SALE.sale_id, SALE.reference_day, TZ, AS_OF)
    with pytest.raises(CrowdError, match="max_days"):
        bind_params("cart_or_fav_not_paid", {"min_days": 5, "max_days": 3}, ctx)
    with pytest.raises(CrowdError, match="band"):
        bind_params("new_by_recency", {"band": "sleepy"}, ctx)
    with pytest.raises(CrowdError, match="aware"):
        CrowdContext("s", date(2027, 5, 24), TZ, datetime(2027, 6, 19, 20, 0))


# --- holdouts ---------------------------------------------------------------------------------------------

def test_holdout_is_stable_and_close_to_its_share():
    ids = [f"cust{n:05d}" for n in range(10_000)]
    treatment, holdout = split_holdout("t618_2027", ids, 10)
    assert 900 <= len(holdout) <= 1100 and len(treatment) + len(holdout) == 10_000
    assert split_holdout("t618_2027", reversed(ids), 10) == (treatment, holdout)   # order-independent rerun
    # a 5% holdout is a subset of the 10% one; another sale reshuffles
    assert set(split_holdout("t618_2027", ids, 5)[1]) < set(holdout)
    other = set(split_holdout("d11_2027", ids, 10)[1])
    assert len(other & set(holdout)) < 300
    assert all(is_holdout("t618_2027", c, 10) for c in holdout[:50])
    assert holdout_bucket("t618_2027", "cust00001") == holdout_bucket("t618_2027", "cust00001")
    assert readability_warning(900, 100, 10) and readability_warning(5000, 50, 1)
    assert readability_warning(5000, 500, 10) is None and readability_warning(10, 0, 0) is None


# --- snapshots, segment runs and the send-time recheck -----------------------------------------------------

def _playbook(holdout_pct=50, channels=("sms",)):
    strategy = SimpleNamespace(id="peak_0619_push", wave="sale", kind="crowd_task", channels=list(channels),
                               holdout_pct=holdout_pct, crowd=SimpleNamespace(**{**EXPR, "params": {}}))
    sale = SimpleNamespace(id=SALE.sale_id, reference_day=SALE.reference_day, timezone="Asia/Shanghai")
    return SimpleNamespace(sale=sale, tz=TZ, strategy=lambda sid: strategy if sid == strategy.id else
                           (_ for _ in ()).throw(KeyError(sid)))


def _snapshot(engine, run_key):
    with engine.connect() as conn:
        return sorted(conn.execute(select(crowd_snapshots.c.customer_id, crowd_snapshots.c.is_holdout).where(
            crowd_snapshots.c.run_key == run_key)).all())


def test_segment_strategy_snapshot_is_idempotent_and_holdout_stable(wh):
    load(wh, EXCLUSION_ROWS)
    pb = _playbook()
    first = segment_strategy(wh, pb, "peak_0619_push", AS_OF, "run-1")
    rows1 = _snapshot(wh, "run-1")
    again = segment_strategy(wh, pb, "peak_0619_push", AS_OF, "run-1")
    assert _snapshot(wh, "run-1") == rows1 and again.counts == first.counts
    assert first.crowd == 8 and first.treatment + first.holdout == 3
    assert first.snapshot_key == f"{SALE.sale_id}/peak_0619_push/run-1"
    assert first.warning                                          # 3 customers cannot read an uplift
    held = {cid for cid, h in rows1 if h}
    assert held == {c for c in ("x_ok", "x_opt_later", "x_fan") if is_holdout(SALE.sale_id, c, 50)}
    # another run (a backfill, a later wave) holds out the same customers
    segment_gate(wh, pb, ["peak_0619_push"], datetime(2027, 6, 20, 9, 0, tzinfo=TZ), "run-2")
    assert {cid for cid, h in _snapshot(wh, "run-2") if h} == held
    with wh.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(segment_runs)).scalar()
        summary = conn.execute(select(segment_runs).where(segment_runs.c.run_key == "run-1")).one()
    assert runs == 2 and summary.treatment == first.treatment and summary.channels == "sms"
    assert json.loads(summary.excluded)["blacklisted"] == 1
    pv = preview_strategy(wh, pb, "peak_0619_push", AS_OF)
    assert (pv.crowd, pv.treatment, pv.holdout) == (first.crowd, first.treatment, first.holdout)


def test_snapshot_rerun_with_fewer_ids_replaces_rows_in_bulk(wh):
    load(wh, [])
    ids = [f"b{n:05d}" for n in range(25_000)]              # more than one insert chunk
    r1 = write_segment_snapshot(wh, "s1", "st", None, "rk", AS_OF, ids, 10)
    assert r1.treatment + r1.holdout == 25_000 and 2_200 < r1.holdout < 2_800 and r1.warning is None
    r2 = write_segment_snapshot(wh, "s1", "st", None, "rk", AS_OF, ids[:10], 10)
    with wh.connect() as conn:
        n = conn.execute(select(func.count()).select_from(crowd_snapshots)).scalar()
    assert n == 10 and r2.treatment + r2.holdout == 10


def test_recheck_at_send_skips_what_changed_since_the_segment(wh):
    load(wh, flat(
        C("s_ok"), C("s_paid"), C("s_opt", opted_out_at="2027-06-19 20:10"), C("s_black"), C("s_msg"),
        C("s_late_paid"), O("s_paid", "2027-06-19 20:05"), O("s_late_paid", "2027-06-19 20:30"),
        O("s_ok", "2027-06-19 19:00"),                       # paid before the segment: not a reason to skip
    ))
    write_segment_snapshot(wh, SALE.sale_id, "st", None, "rk", AS_OF,
                           ["s_ok", "s_paid", "s_opt", "s_black", "s_msg", "s_late_paid"], 0, channels=["sms"])
    with wh.begin() as conn:   # blacklisted after the segment moment
        conn.execute(customers.update().where(customers.c.customer_id == "s_black").values(blacklisted=True))
    send = datetime(2027, 6, 19, 20, 15, tzinfo=TZ)
    to_send, skipped = recheck_at_send(wh, SALE.sale_id, "st", "rk", send, already_messaged={"s_msg"})
    assert to_send == ["s_late_paid", "s_ok"]
    assert skipped == {"blacklisted": 1, "opted_out": 1, "no_channel": 0, "paid_since_segment": 1,
                       "messaged_today": 1}
    kept, _ = recheck_at_send(wh, SALE.sale_id, "st", "rk", send, skip_paid_since=False)
    assert "s_paid" in kept
    with pytest.raises(LookupError):
        recheck_at_send(wh, SALE.sale_id, "st", f"missing-{uuid.uuid4().hex[:6]}", send)


# --- CLI (the lead registers segment_cmd in dacu.cli) ------------------------------------------------------

PLAYBOOK = SQL_DIR.parent / "playbooks" / "tmall_double11_2026.yaml"


def _cli(argv: list[str]) -> int:
    import argparse

    from dacu.cli import segment_cmd

    parser = argparse.ArgumentParser(prog="dacu")
    parser.add_argument("--warehouse")
    segment_cmd.register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.mark.skipif(not PLAYBOOK.exists(), reason="sample playbook not present")
def test_cli_preview_masks_mobiles_and_sql_prints_binds(wh, capsys):
    load(wh, flat(*[C(f"fan{n}", fan_since=MEMBER, mobile=f"1391234{n:04d}") for n in range(8)],
                  C("late_fan", fan_since="2026-11-09 00:00")))
    url = wh.url.render_as_string(hide_password=False)
    argv = ["--warehouse", url, "segment", "preview", "--playbook", str(PLAYBOOK),
            "--strategy", "warmup_sprint_countdown_fans", "--at", "2026-11-08 12:00", "--json"]
    assert _cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["crowd"] == 8 and out["treatment"] + out["holdout"] == 8
    assert len(out["sample_mobiles"]) == min(5, out["treatment"])
    assert all(m.startswith("139****") for m in out["sample_mobiles"])
    assert _cli(["segment", "sql", "--playbook", str(PLAYBOOK), "--strategy", "warmup_sprint_countdown_fans",
                 "--at", "2026-11-08 12:00"]) == 0
    text_out = capsys.readouterr().out
    assert "FROM customers c" in text_out and ":as_of = datetime.datetime(2026, 11, 8, 4, 0)" in text_out


@pytest.mark.skipif(not PLAYBOOK.exists(), reason="sample playbook not present")
def test_cli_sql_prints_the_query_the_segment_task_runs(capsys):
    """`segment sql` prints what a segment task runs: the feature-rows query (and the layers it reads)
    where the gate's feature rows answer the crowd, else the reference SQL - each says which path;
    `--reference` prints the definitions."""
    argv = ["segment", "sql", "--playbook", str(PLAYBOOK), "--strategy", "warmup_early_old_customer_email",
            "--at", "2026-10-25 10:00"]
    assert _cli(argv) == 0
    out = capsys.readouterr().out
    assert "crowds/features/old_customers.sql" in out and "-- path: feature rows of the gate" in out
    assert "FROM crowd_feature_rows" in out and ":gate_layer = 'gate:2026-10-25T02:00:00'" in out
    assert ":base_layer = 'base:2026-10-25'" in out and "crowds/features/base.sql" in out
    assert "crowds/features/gate.sql" in out and "contactability.sql" in out
    assert _cli(argv + ["--reference"]) == 0
    ref_out = capsys.readouterr().out
    assert "crowds/old_customers.sql" in ref_out and "-- path: reference SQL (the definition)" in ref_out
    assert "crowd_feature_rows" not in ref_out
