"""Uplift and ROI (dacu.metrics.uplift) on a hand-built fixture, SQLite and PostgreSQL.

Gate moment G = 2027-06-18 12:00 UTC (naive), attribution window 3 days: [G, G + 3d).

strategy st_a, run r1 — 40 treated (t00..t39), 40 holdout (h00..h39):
  t00..t11  paid ¥100 at G + 1h                      -> 12 converters, ¥1200
  t14       paid ¥50 exactly at G (window start)     -> converter, ¥50
  t15       presale: deposit before G, balance at G + 2d, ¥300 (deposit + balance) -> converter, ¥300
  t12       paid ¥80 at G − 1 min                    -> outside (before the gate)
  t13       paid ¥90 exactly at G + 3d               -> outside (window end is exclusive)
  h00..h05  paid ¥100 at G + 1d                      -> 6 converters, ¥600
  ledger: 38 sms sent at ¥0.045, 2 sms skipped, 40 in-app sent at ¥0
strategy st_b, run r2 — 10 treated, no holdout; 10 sms sent at ¥0.045
strategy st_c, run r3 — 10 treated, 5 holdout (too small); no sends recorded

Hand computation (st_a): p_t = 14/40 = 0.35, p_c = 6/40 = 0.15, diff 0.20,
se = sqrt(.35·.65/40 + .15·.85/40) = 0.0942072, CI 0.20 ± 1.959964·se = [0.015357, 0.384643].
GMV/customer: mean_t = 1550/40 = 38.75, mean_c = 600/40 = 15, diff 23.75;
var_t = (212500 − 1550²/40)/39 = 3908.6538, var_c = (60000 − 600²/40)/39 = 1307.6923,
se = sqrt(var_t/40 + var_c/40) = 11.41966, Welch df = 62.47 -> t = 1.99918, CI 23.75 ± 22.8300.
cost 38 × 0.045 = 1.71; incremental GMV 23.75 × 40 = 950; ROI 950 / 1.71 = 555.556.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from dacu.metrics.uplift import Arm, compute_uplift, gmv_interval, t975
from dacu.warehouse.schema import crowd_snapshots, dispatch_ledger, orders, segment_runs

SALE = "s_uplift"
G = datetime(2027, 6, 18, 12, 0)


def _order(oid, cid, amount, paid_at, *, presale=False, deposit_at=None):
    return {"order_id": oid, "customer_id": cid, "platform": "tmall", "status": "paid",
            "source": "presale" if presale else "normal", "created_at": deposit_at or paid_at,
            "paid_at": paid_at, "amount": Decimal(amount), "is_presale": presale,
            "deposit_amount": Decimal("50") if presale else None, "deposit_paid_at": deposit_at,
            "balance_amount": Decimal(amount) - 50 if presale else None,
            "balance_paid_at": paid_at if presale else None}


def _run(conn, strategy, run_key, as_of, treated, holdout, pct):
    conn.execute(insert(segment_runs), [{
        "sale_id": SALE, "strategy_id": strategy, "run_key": run_key, "wave": "sale", "as_of": as_of,
        "crowd_expr": "{}", "channels": "sms,inapp", "holdout_pct": pct, "crowd_size": len(treated) + len(holdout),
        "treatment": len(treated), "holdout": len(holdout), "excluded": "{}"}])
    conn.execute(insert(crowd_snapshots), [
        {"sale_id": SALE, "strategy_id": strategy, "run_key": run_key, "customer_id": c, "wave": "sale",
         "is_holdout": c in holdout, "as_of": as_of} for c in [*treated, *holdout]])


def _ledger(conn, strategy, run_key, customers, channel, state, cost):
    conn.execute(insert(dispatch_ledger), [
        {"message_key": f"{strategy}|{run_key}|{c}|{channel}", "sale_id": SALE, "strategy_id": strategy,
         "wave": "sale", "run_key": run_key, "customer_id": c, "channel": channel, "msg_class": "marketing",
         "state": state, "planned_at": G, "cost": Decimal(cost) if state == "sent" else None, "updated_at": G}
        for c in customers])


def load(engine) -> None:
    treated = [f"t{i:02d}" for i in range(40)]
    holdout = [f"h{i:02d}" for i in range(40)]
    with engine.begin() as conn:
        _run(conn, "st_a", "r1", G, treated, holdout, 50)
        _run(conn, "st_b", "r2", G + timedelta(days=1), [f"b{i}" for i in range(10)], [], 0)
        _run(conn, "st_c", "r3", G + timedelta(days=1), [f"c{i}" for i in range(10)],
             [f"d{i}" for i in range(5)], 33)
        rows = [_order(f"o_t{i}", f"t{i:02d}", "100", G + timedelta(hours=1)) for i in range(12)]
        rows += [_order("o_t14", "t14", "50", G),
                 _order("o_t15", "t15", "300", G + timedelta(days=2), presale=True,
                        deposit_at=G - timedelta(days=5)),
                 _order("o_t12", "t12", "80", G - timedelta(minutes=1)),
                 _order("o_t13", "t13", "90", G + timedelta(days=3))]
        rows += [_order(f"o_h{i}", f"h{i:02d}", "100", G + timedelta(days=1)) for i in range(6)]
        rows += [_order("o_c0", "c0", "70", G + timedelta(days=1, hours=2))]
        conn.execute(insert(orders), rows)
        _ledger(conn, "st_a", "r1", treated[:38], "sms", "sent", "0.045")
        _ledger(conn, "st_a", "r1", treated[38:], "sms", "skipped", "0")
        _ledger(conn, "st_a", "r1", treated, "inapp", "sent", "0")
        _ledger(conn, "st_b", "r2", [f"b{i}" for i in range(10)], "sms", "sent", "0.045")


def test_uplift_and_roi_hand_computed(engine):
    load(engine)
    rep = compute_uplift(engine, sale_id=SALE, attribution_days=3)
    by = {s.strategy_id: s for s in rep.strategies}
    a = by["st_a"]
    assert (a.treated.customers, a.treated.converters, a.treated.gmv) == (40, 14, 1550.0)
    assert (a.holdout.customers, a.holdout.converters, a.holdout.gmv) == (40, 6, 600.0)
    assert a.conv_diff == pytest.approx(0.20)
    assert (a.conv_low, a.conv_high) == (pytest.approx(0.015357, abs=1e-5), pytest.approx(0.384643, abs=1e-5))
    assert a.gmv_diff == pytest.approx(23.75)
    assert (a.gmv_low, a.gmv_high) == (pytest.approx(23.75 - 22.8300, abs=2e-3), pytest.approx(23.75 + 22.8300, abs=2e-3))
    assert a.cost_by_channel == {"inapp": 0.0, "sms": pytest.approx(1.71)}
    assert a.sent_by_channel == {"inapp": 40, "sms": 38}
    assert a.incremental_gmv == pytest.approx(950.0)
    assert a.roi == pytest.approx(950 / 1.71)
    assert a.gross_roi == pytest.approx(1550 / 1.71)
    assert a.notes == []

    b = by["st_b"]
    assert b.treated.customers == 10 and b.holdout.customers == 0 and "no_holdout" in b.notes
    assert math.isnan(b.conv_diff) and math.isnan(b.roi) and b.cost == pytest.approx(0.45)
    c = by["st_c"]
    assert c.notes == ["small_sample", "no_cost"]
    assert (c.treated.converters, c.holdout.converters) == (1, 0)
    assert c.conv_diff == pytest.approx(0.1)

    assert rep.cost_by_channel == {"inapp": 0.0, "sms": pytest.approx(2.16)}
    assert rep.total_cost == pytest.approx(2.16)
    assert rep.measured_cost == pytest.approx(1.71)          # st_b has no holdout, st_c no cost
    assert rep.incremental_gmv == pytest.approx(950.0 + 7.0 * 10)     # st_c: ¥7 per customer x 10 treated
    assert rep.roi == pytest.approx((950.0 + 70.0) / 1.71)
    d = rep.to_dict()
    assert d["strategies"][0]["strategy_id"] == "st_a" and d["strategies"][0]["treated"]["rate"] == 0.35
    assert d["strategies"][1]["conv_diff"] is None and "无对照组" in d["strategies"][1]["note_text"][0]


def test_open_window_is_cut_at_until(engine):
    load(engine)
    rep = compute_uplift(engine, sale_id=SALE, attribution_days=3, until=G + timedelta(days=1))
    a = next(r for r in rep.runs if r.run_key == "r1")
    # the presale balance (G + 2d) and the holdout payments (G + 1d, end exclusive) are not in yet
    assert (a.treated.converters, a.treated.gmv, a.holdout.converters) == (13, 1250.0, 0)
    assert "window_open" in a.notes
    with pytest.raises(ValueError, match="attribution_days"):
        compute_uplift(engine, sale_id=SALE, attribution_days=0)


def test_interval_helpers():
    assert t975(1) == 12.706 and t975(30) == 2.042
    assert t975(62.47) == pytest.approx(1.99918, abs=1e-4)
    assert 1.96 < t975(10_000) < 1.961
    diff, lo, hi = gmv_interval(Arm(3, 3, 30.0, 300.0), Arm(3, 0, 0.0, 0.0))   # no variance: a point
    assert (diff, lo, hi) == (10.0, 10.0, 10.0)
    diff, lo, hi = gmv_interval(Arm(1, 1, 5.0, 25.0), Arm(4, 0, 0.0, 0.0))
    assert diff == 5.0 and math.isnan(lo)
