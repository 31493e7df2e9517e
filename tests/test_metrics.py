"""War-room metrics (seed 000 §四, seed 002): hand-built fixture, hand-computed figures, GX gate, publishing.

The fixture (sale-local times, Asia/Shanghai; reference day 2027-05-24; snapshot day 2027-06-01):

| customer       | before the day                          | on 2027-06-01                                      | member/fan |
|----------------|-----------------------------------------|----------------------------------------------------|------------|
| c_old1         | paid 05-23 23:30 (old)                  | visit 10:00, paid 12:00 ¥100                       | member     |
| c_new_boundary | paid 05-24 00:10 (NOT old)              | visit 09:00, cart 09:05, paid 09:30 ¥80            | fan        |
| c_both         | paid 04-10 (old)                        | visit 14:00, paid 14:00 ¥50, cart 15:00 (after)    | both       |
| c_presale      | deposit 05-26                           | balance 01:00: ¥50 + ¥150 (no visit)               |            |
| c_presale2     | opted out, blacklisted                  | visit 08:00, deposit 08:10, balance 20:00 ¥100+¥200|            |
| c_deposit_only | visit 05-20                             | deposit 11:00, balance unpaid                      | member     |
| c_refund       | paid 05-01 (old)                        | paid 11:00 ¥60, refunded 18:00 (no visit)          |            |
| c_cart_only    |                                         | cart 20:00, favourite, 2 coupon claims             |            |
| c_late_pay     |                                         | cart 23:00, order 23:50, paid 06-02 00:30 ¥70      |            |
| c_idle_member  | visit 02-20 (outside 90 days)           | -                                                  | member     |
| x_evt          | (no customer row)                       | visit 12:00                                        |            |
| c_future       | first seen / member 06-05               | - (visit 06-05)                                    | member     |
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from dacu.metrics import compute as mc
from dacu.metrics.compute import MetricInputError, compute_snapshot, compute_warmup, local_midnight_utc
from dacu.metrics.definitions import CROWDS, SNAPSHOT_METRICS
from dacu.warehouse.schema import (
    customers, events, metric_snapshot_candidates, metric_snapshots, metric_validations, metric_warmup_daily,
    orders, peer_benchmarks,
)

TZ = "Asia/Shanghai"
REF = date(2027, 5, 24)
DAY = date(2027, 6, 1)
SALE = "tmall_618_2027"
AT = datetime(2027, 6, 2, 2, 0)   # validated_at (naive UTC), passed in: no wall clock


def L(text: str) -> datetime:
    """Sale-local 'YYYY-MM-DD HH:MM' -> naive UTC (the warehouse convention)."""
    local = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(TZ))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _customer(cid, *, member=None, fan=None, first="2027-01-01 00:00", opted_out=None, blacklisted=False):
    return {"customer_id": cid, "first_seen_at": L(first), "member_since": L(member) if member else None,
            "member_level": 1 if member else 0, "fan_since": L(fan) if fan else None,
            "opted_out_at": L(opted_out) if opted_out else None, "blacklisted": blacklisted,
            "consent_sms": True, "consent_email": True, "consent_inapp": True}


def _order(oid, cid, amount, *, paid=None, created=None, status="paid", presale=False, deposit=None,
           deposit_at=None, balance=None, refunded=None):
    created = created or deposit_at or paid
    return {"order_id": oid, "customer_id": cid, "platform": "tmall", "status": status,
            "source": "presale" if presale else "normal", "created_at": L(created),
            "paid_at": L(paid) if paid else None, "amount": Decimal(amount), "is_presale": presale,
            "deposit_amount": Decimal(deposit) if deposit else None,
            "deposit_paid_at": L(deposit_at) if deposit_at else None,
            "balance_amount": Decimal(balance) if balance else None,
            "balance_paid_at": L(paid) if presale and paid else None,
            "refunded_at": L(refunded) if refunded else None}


_EVENTS = [
    ("c_old1", "visit", "2027-06-01 10:00"),
    ("c_new_boundary", "visit", "2027-06-01 09:00"), ("c_new_boundary", "cart", "2027-06-01 09:05"),
    ("c_both", "visit", "2027-06-01 14:00"), ("c_both", "cart", "2027-06-01 15:00"),
    ("c_presale2", "visit", "2027-06-01 08:00"),
    ("c_deposit_only", "visit", "2027-05-20 10:00"),
    ("c_cart_only", "cart", "2027-06-01 20:00"), ("c_cart_only", "favourite", "2027-06-01 20:01"),
    ("c_cart_only", "coupon_claim", "2027-06-01 20:02"), ("c_cart_only", "coupon_claim", "2027-06-01 20:03"),
    ("c_late_pay", "cart", "2027-06-01 23:00"),
    ("c_idle_member", "visit", "2027-02-20 10:00"),
    ("x_evt", "visit", "2027-06-01 12:00"),
    ("c_future", "visit", "2027-06-05 10:00"),
]


def load_fixture(engine) -> None:
    custs = [
        _customer("c_old1", member="2027-01-01 00:00"),
        _customer("c_new_boundary", fan="2027-03-01 00:00"),
        _customer("c_both", member="2027-02-01 00:00", fan="2027-02-01 00:00"),
        _customer("c_presale"),
        _customer("c_presale2", opted_out="2027-05-01 00:00", blacklisted=True),
        _customer("c_deposit_only", member="2027-05-01 00:00"),
        _customer("c_refund"),
        _customer("c_cart_only"),
        _customer("c_late_pay"),
        _customer("c_idle_member", member="2027-01-01 00:00"),
        _customer("c_future", member="2027-06-05 00:00", first="2027-06-05 00:00"),
    ]
    ords = [
        _order("o1", "c_old1", "30.00", paid="2027-05-23 23:30"),
        _order("o2", "c_old1", "100.00", paid="2027-06-01 12:00"),
        _order("o3", "c_new_boundary", "40.00", paid="2027-05-24 00:10"),
        _order("o4", "c_new_boundary", "80.00", paid="2027-06-01 09:30"),
        _order("o5", "c_both", "20.00", paid="2027-04-10 12:00"),
        _order("o6", "c_both", "50.00", paid="2027-06-01 14:00"),
        _order("o7", "c_presale", "200.00", paid="2027-06-01 01:00", presale=True, deposit="50.00",
               deposit_at="2027-05-26 10:00", balance="150.00"),
        _order("o8", "c_presale2", "300.00", paid="2027-06-01 20:00", presale=True, deposit="100.00",
               deposit_at="2027-06-01 08:10", balance="200.00", created="2027-06-01 08:05"),
        _order("o9", "c_deposit_only", "120.00", status="deposit_paid", presale=True, deposit="20.00",
               deposit_at="2027-06-01 11:00", balance="100.00"),
        _order("o10", "c_refund", "10.00", paid="2027-05-01 10:00"),
        _order("o11", "c_refund", "60.00", paid="2027-06-01 11:00", created="2027-06-01 10:55", status="refunded",
               refunded="2027-06-01 18:00"),
        _order("o12", "c_late_pay", "70.00", paid="2027-06-02 00:30", created="2027-06-01 23:50"),
        _order("o13", "c_cart_only", "15.00", status="unpaid", created="2027-05-30 10:00"),
    ]
    with engine.begin() as conn:
        conn.execute(insert(customers), custs)
        conn.execute(insert(orders), ords)
        conn.execute(insert(events), [{"customer_id": c, "event_type": t, "occurred_at": L(at)}
                                      for c, t, at in _EVENTS])


@pytest.fixture
def wh(engine):
    load_fixture(engine)
    return engine


def _snap(engine, day_from=DAY, day_to=DAY, run_key="r1", **kw):
    df = compute_snapshot(engine, sale_id=SALE, reference_day=REF, tz=TZ, day_from=day_from, day_to=day_to,
                          active_rv_days=kw.pop("active_rv_days", 90), run_key=run_key)
    return df, {r["crowd"]: r for r in df.to_dict(orient="records")}


# Hand-computed per-crowd counts/amounts for 2027-06-01 (see the module docstring).
EXPECTED = {
    #               size vis cart dep bal d&b presale cp_b cp_amt pay paid
    "whole_store": (11, 5, 4, 2, 2, 1, 500.0, 1, 80.0, 6, 790.0),
    "old":         (3, 2, 1, 0, 0, 0, 0.0, 0, 0.0, 3, 210.0),
    "new":         (7, 3, 3, 2, 2, 1, 500.0, 1, 80.0, 3, 580.0),
    "members":     (4, 2, 1, 1, 0, 0, 0.0, 0, 0.0, 2, 150.0),
    "fans":        (2, 2, 2, 0, 0, 0, 0.0, 1, 80.0, 2, 130.0),
}
FIELDS = ("crowd_size", "visitors", "cart_buyers", "deposit_buyers", "balance_buyers", "deposit_balance_buyers",
          "presale_paid_amount", "cart_paid_buyers", "cart_paid_amount", "paying_buyers", "paid_amount")


def test_single_day_figures_match_hand_computation(wh):
    df, by = _snap(wh)
    assert list(df["crowd"]) == list(CROWDS)
    for crowd, values in EXPECTED.items():
        got = tuple(by[crowd][f] for f in FIELDS)
        assert got == values, f"{crowd}: {dict(zip(FIELDS, got))}"
    # rates: numerator / denominator, NaN when the denominator is 0
    rates = {
        "whole_store": dict(visit_rate=5 / 11, visit_cart_rate=4 / 5, visit_deposit_rate=2 / 5, cart_pay_rate=1 / 4,
                            deposit_balance_rate=1 / 2, visit_pay_rate=6 / 5, conversion_rate=6 / 11,
                            amount_share=1.0),
        "old": dict(visit_rate=2 / 3, visit_cart_rate=1 / 2, visit_deposit_rate=0.0, cart_pay_rate=0.0,
                    deposit_balance_rate=None, visit_pay_rate=3 / 2, conversion_rate=1.0, amount_share=210 / 790),
        "new": dict(visit_rate=3 / 7, visit_cart_rate=1.0, visit_deposit_rate=2 / 3, cart_pay_rate=1 / 3,
                    deposit_balance_rate=1 / 2, visit_pay_rate=1.0, conversion_rate=3 / 7, amount_share=580 / 790),
        "members": dict(visit_rate=2 / 4, cart_pay_rate=0.0, deposit_balance_rate=0.0, conversion_rate=2 / 4,
                        amount_share=150 / 790),
        "fans": dict(visit_rate=1.0, cart_pay_rate=1 / 2, deposit_balance_rate=None, conversion_rate=1.0,
                     amount_share=130 / 790),
    }
    for crowd, expected in rates.items():
        for name, value in expected.items():
            got = by[crowd][name]
            ok = math.isnan(got) if value is None else got == pytest.approx(value, abs=1e-6)
            assert ok, f"{crowd}.{name} = {got}, expected {value}"
    # members 0/1 deposit->balance is 0, not NaN; old has no deposit buyers: NaN
    assert by["members"]["deposit_balance_rate"] == 0.0
    # new + old partition every activity figure of the whole store
    for f in ("visitors", "cart_buyers", "deposit_buyers", "balance_buyers", "paying_buyers", "paid_amount"):
        assert by["new"][f] + by["old"][f] == by["whole_store"][f], f


def test_store_level_rv_figures(wh):
    _, by = _snap(wh)
    row = by["members"]   # store-level figures repeat on every crowd row
    expected = dict(rv_start=5, active_rv_start=4, active_rv_buyers=3, active_rv_amount=230.0,
                    active_rv_value=57.5, store_paid_amount=790.0, non_rv_value=80.0, active_members=3,
                    active_member_buyers=2, active_fans_excl_members=1, active_fan_buyers_excl_members=1,
                    store_buyers=6, store_visitors=5)
    assert {k: row[k] for k in expected} == expected
    # the setting counts: with a 102-day window the 02-20 visit makes c_idle_member active at both ends
    _, by100 = _snap(wh, active_rv_days=102)
    assert by100["old"]["active_rv_start"] == 5 and by100["old"]["active_members"] == 4


def test_range_and_boundaries(wh):
    # old is fixed on the reference day: the 23:30 payment the day before counts, the 00:10 one does not
    _, by = _snap(wh, day_from=date(2027, 5, 24), day_to=DAY)
    assert by["old"]["crowd_size"] == 3
    # in 05-24..06-01 the 05-26 deposit is inside: c_presale's deposit and balance both count
    assert by["whole_store"]["deposit_buyers"] == 3
    assert by["whole_store"]["deposit_balance_buyers"] == 2
    assert by["whole_store"]["deposit_balance_rate"] == pytest.approx(2 / 3, abs=1e-6)
    # paid: 05-24 00:10 ¥40 + the day's ¥790
    assert by["whole_store"]["paid_amount"] == 830.0 and by["new"]["paid_amount"] == 620.0
    # cart -> paid needs the payment after the cart *within the range*: 06-02 00:30 counts in 06-01..06-02
    _, two = _snap(wh, day_from=DAY, day_to=DAY + timedelta(days=1))
    assert two["whole_store"]["cart_paid_buyers"] == 2 and two["whole_store"]["cart_paid_amount"] == 150.0
    # crowd size as of the range's last day: c_future (first seen / member 06-05) joins by 06-05
    _, later = _snap(wh, day_from=date(2027, 6, 5), day_to=date(2027, 6, 5))
    assert later["whole_store"]["crowd_size"] == 12 and later["members"]["crowd_size"] == 5
    assert later["new"]["crowd_size"] == 1 and later["new"]["visit_rate"] == 1.0
    # an empty day: zero counts, NaN rates with a zero denominator
    _, empty = _snap(wh, day_from=date(2027, 7, 1), day_to=date(2027, 7, 1))
    assert empty["new"]["crowd_size"] == 0 and math.isnan(empty["new"]["visit_rate"])
    assert math.isnan(empty["whole_store"]["amount_share"]) and empty["old"]["active_rv_value"] == 0.0


def test_day_bounds_follow_the_sale_timezone():
    assert local_midnight_utc(date(2027, 5, 24), ZoneInfo(TZ)) == datetime(2027, 5, 23, 16, 0)
    assert mc.range_bounds(DAY, DAY, TZ) == (datetime(2027, 5, 31, 16, 0), datetime(2027, 6, 1, 16, 0))


def test_bad_input_is_refused_before_any_query(wh):
    with pytest.raises(MetricInputError, match="day_to"):
        _snap(wh, day_from=DAY, day_to=DAY - timedelta(days=1))
    with pytest.raises(MetricInputError, match="tz"):
        compute_snapshot(wh, sale_id=SALE, reference_day=REF, tz="Mars/Base", day_from=DAY, day_to=DAY,
                         run_key="r")
    with pytest.raises(MetricInputError, match="active_rv_days"):
        _snap(wh, active_rv_days=0)


def test_warmup_view_new_vs_old(wh):
    df = compute_warmup(wh, sale_id=SALE, reference_day=REF, tz=TZ, day_from=DAY - timedelta(days=1), day_to=DAY,
                        run_key="r1")
    assert len(df) == 4
    got = {(r["metric_day"], r["crowd"]): (r["visitors"], r["favourite_customers"], r["cart_customers"],
                                           r["buyers"], r["coupons_claimed"]) for r in df.to_dict(orient="records")}
    assert got[(DAY, "old")] == (2, 0, 1, 3, 0)
    assert got[(DAY, "new")] == (3, 1, 3, 3, 2)
    assert got[(DAY - timedelta(days=1), "new")] == (0, 0, 0, 0, 0)


def test_peer_averages_beside_single_day(wh):
    with wh.begin() as conn:
        conn.execute(insert(peer_benchmarks), [
            {"sale_id": SALE, "metric_day": DAY, "crowd": "old", "metric": "visit_rate", "value": Decimal("0.3")},
            {"sale_id": SALE, "metric_day": DAY, "crowd": "whole_store", "metric": "active_rv_value",
             "value": Decimal("40")},
        ])
    _, by = _snap(wh)
    assert by["old"]["peer_visit_rate"] == pytest.approx(0.3)
    assert math.isnan(by["new"]["peer_visit_rate"])
    assert by["fans"]["peer_active_rv_value"] == pytest.approx(40.0)


# ---- GX gate and publishing ----------------------------------------------------------------------

def _published(engine):
    with engine.connect() as conn:
        return {r.crowd: r for r in conn.execute(select(metric_snapshots).where(metric_snapshots.c.sale_id == SALE))}


def test_publish_validate_fail_and_rerun(wh, monkeypatch):
    from dacu.metrics.publish import MetricValidationError, publish_snapshot, run_daily_snapshot
    from dacu.metrics.validate import validate_frame

    first = run_daily_snapshot(wh, sale_id=SALE, reference_day=REF, tz=TZ, day=DAY, active_rv_days=90,
                               run_key="run-1", validated_at=AT)
    assert first["success"] and first["published"] and first["rows_published"] == 5
    assert first["warmup_rows_published"] == 2 and first["failed_expectations"] == []
    # visit->pay above 1 (balances paid without a visit) is a warning: reported, not blocking
    warn = {w["name"]: w["rows"] for w in first["warnings"]}
    assert sorted(warn["visit_pay_rate_between_0_1"]) == ["old", "whole_store"]
    assert "c_" not in json.dumps(first)          # counts and keys only, never customer ids
    pub = _published(wh)
    assert pub["new"].paid_amount == Decimal("580.00") and pub["old"].deposit_balance_rate is None
    assert pub["whole_store"].run_key == "run-1"

    # a corrupt frame (a rate > 1) fails critically: previous rows stay, candidates + verdict recorded
    df, _ = _snap(wh, run_key="run-bad")
    df.loc[df["crowd"] == "old", "visit_rate"] = 1.5
    outcome = validate_frame(df, "daily_snapshot", params={"expected_rows": 5})
    assert not outcome.success and outcome.failed_names == ["visit_rate_between_0_1"]
    assert outcome.blocking[0].rows == ("old",)
    counts = publish_snapshot(wh, df, SALE, DAY, DAY, "run-bad", outcome, validated_at=AT)
    assert counts == {"published": False, "rows_published": 0, "warmup_rows_published": 0, "candidate_rows": 5}
    pub = _published(wh)
    assert pub["old"].visit_rate == pytest.approx(2 / 3) and pub["old"].run_key == "run-1"
    with wh.connect() as conn:
        cand = conn.execute(select(metric_snapshot_candidates.c.visit_rate).where(
            metric_snapshot_candidates.c.run_key == "run-bad", metric_snapshot_candidates.c.crowd == "old")).scalar()
        verdict = conn.execute(select(metric_validations).where(metric_validations.c.run_key == "run-bad")).one()
    assert cand == pytest.approx(1.5)
    assert verdict.success is False and verdict.published is False
    failed = json.loads(verdict.failed)
    assert {"name": "visit_rate_between_0_1", "rows": ["old"]}.items() <= \
        next(f for f in failed if f["severity"] == "critical").items()
    assert verdict.validated_at == AT

    # the operator's variant: raise (after recording) so the task fails without retry
    monkeypatch.setattr("dacu.metrics.publish.compute_snapshot", lambda *a, **k: df)
    with pytest.raises(MetricValidationError, match=r"visit_rate_between_0_1\[old\]") as err:
        run_daily_snapshot(wh, sale_id=SALE, reference_day=REF, tz=TZ, day=DAY, active_rv_days=90,
                           run_key="run-bad", validated_at=AT, raise_on_failure=True)
    assert err.value.summary["published"] is False
    monkeypatch.undo()

    # rerun after new data replaces the day's rows (same key, one row per crowd)
    with wh.begin() as conn:
        conn.execute(insert(orders), [_order("o14", "c_cart_only", "25.00", paid="2027-06-01 21:00")])
    again = run_daily_snapshot(wh, sale_id=SALE, reference_day=REF, tz=TZ, day=DAY, active_rv_days=90,
                               run_key="run-2", validated_at=AT + timedelta(hours=1))
    assert again["published"]
    pub = _published(wh)
    assert len(pub) == 5 and pub["whole_store"].paid_amount == Decimal("815.00")
    assert pub["new"].cart_paid_buyers == 2 and pub["new"].run_key == "run-2"
    with wh.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metric_snapshots)).scalar() == 5
        assert conn.execute(select(func.count()).select_from(metric_warmup_daily)).scalar() == 2


def test_publish_refuses_a_frame_of_another_key(wh):
    from dacu.metrics.publish import publish_snapshot
    from dacu.metrics.validate import ValidationOutcome

    df, _ = _snap(wh)
    with pytest.raises(ValueError, match="day_to"):
        publish_snapshot(wh, df, SALE, DAY, DAY + timedelta(days=1), "r", ValidationOutcome(True, 1), validated_at=AT)
    with wh.connect() as conn:
        assert conn.execute(select(func.count()).select_from(metric_validations)).scalar() == 0


def test_suite_files_are_complete_and_strict(tmp_path):
    from dacu.metrics.validate import SuiteError, load_suite, read_suite_json, suite_path

    data = read_suite_json(suite_path("daily_snapshot"))
    covered = {e["kwargs"].get("column") for e in data["expectations"]}
    assert {m.name for m in SNAPSHOT_METRICS} <= covered, "every metric needs a range check in the suite"
    doc = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text(encoding="utf-8")
    undocumented = [m.name for m in SNAPSHOT_METRICS if f"`{m.name}`" not in doc]
    assert not undocumented, f"docs/metrics.md lacks {undocumented}"
    assert len(load_suite(suite_path("warmup_daily")).expectations) == \
        len(read_suite_json(suite_path("warmup_daily"))["expectations"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "expectations": [
        {"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "x"}, "meta": {"name": "typo"}}]}))
    with pytest.raises(SuiteError, match="typo"):
        load_suite(bad)
    bad.write_text(json.dumps({"name": "bad", "expectations": [{"type": "expect_column_values_to_not_be_null",
                                                                 "kwargs": {"column": "x"}}]}))
    with pytest.raises(SuiteError, match=r"expectations\[0\] has no meta.name"):
        read_suite_json(bad)


def _cli(argv: list[str]) -> int:
    import argparse

    from dacu.cli import metrics_cmd

    parser = argparse.ArgumentParser(prog="dacu")
    parser.add_argument("--warehouse")
    metrics_cmd.register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_snapshot_and_show(warehouse_url, capsys):
    from dacu.cli import CliError
    from dacu.warehouse import init_schema, make_engine

    engine = make_engine(warehouse_url)
    init_schema(engine)
    load_fixture(engine)
    engine.dispose()
    base = ["--warehouse", warehouse_url, "metrics"]
    rc = _cli(base + ["snapshot", "--sale-id", SALE, "--reference-day", "2027-05-24", "--day", "2027-06-01",
                      "--validated-at", "2027-06-02 02:00", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["published"] and out["rows_published"] == 5 and out["run_key"].startswith("cli:")
    assert _cli(base + ["show", "--sale-id", SALE, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {r["crowd"]: r["paid_amount"] for r in shown["snapshots"]}["new"] == 580.0
    assert _cli(base + ["show", "--sale-id", SALE]) == 0
    text = capsys.readouterr().out
    assert "whole_store(全店)" in text and "active_rv_value=57.5" in text
    with pytest.raises(CliError, match="--day"):
        _cli(base + ["snapshot", "--sale-id", SALE, "--reference-day", "2027-05-24", "--day", "6/1"])


# ---- peers import (同行同层) and the day view -------------------------------------------------------

PEERS_CSV = (
    "日期,人群,指标,同行同层平均值,备注\n"
    "2027-06-01,老客,进店率,30%,\n"                       # 2: label + percentage -> old/visit_rate 0.3
    "2027-06-01,全店,活跃RV关系价值,\"1,040.50\",\n"      # 3: money with a thousands comma
    "2027/06/01,new,visitors,6,\n"                          # 4: codes and a slashed date
    "2027-06-01,老客,进店率,30%,\n"                         # 5: identical duplicate of line 2
    "2027-06-01,老客,进店率,31%,\n"                         # 6: conflicting duplicate
    "2027-13-01,全店,转化率,1%,\n"                          # 7: bad_date
    "2027-06-01,路人,转化率,1%,\n"                          # 8: unknown crowd
    "2027-06-01,全店,客单价,50,\n"                          # 9: unknown metric
    "2027-06-01,全店,转化率,1.5,\n"                         # 10: rate above 1
    "2027-06-01,全店,进店访客数,5%,\n"                      # 11: a percentage for a count
    "2027-06-01,全店,进店-支付比率,120%,\n"                 # 12: allowed: this rate may exceed 1
    "2027-06-01,全店,成交占比,,\n"                          # 13: missing value
    "2027-06-01,全店,成交占比\n"                            # 14: bad_row (4 fields)
    "2027-06-01,全店,全部成交金额,-3,\n"                    # 15: negative amount
)


def test_import_peers_quarantines_bad_rows(engine, tmp_path):
    from dacu.ingest.peers import import_peers
    from dacu.warehouse.schema import import_batches, import_rejects

    path = tmp_path / "peers.csv"
    path.write_text(PEERS_CSV, encoding="utf-8-sig")
    rep = import_peers(engine, path, sale_id=SALE, now=AT, rejects_dir=tmp_path / "rej")
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected, rep.rows_duplicate) == (14, 5, 9, 1)
    assert rep.reasons == {"conflicting_duplicate": 1, "bad_date": 1, "unknown_value": 2, "bad_number": 2,
                           "missing_field": 1, "bad_row": 1, "negative_amount": 1}
    assert rep.ignored_columns == ["备注"] and Path(rep.rejects_file).exists()
    with engine.connect() as conn:
        stored = {(r.crowd, r.metric): float(r.value) for r in conn.execute(select(peer_benchmarks))}
        lines = sorted(r.line_no for r in conn.execute(select(import_rejects)))
        batch = conn.execute(select(import_batches)).one()
    assert stored == {("old", "visit_rate"): 0.3, ("whole_store", "active_rv_value"): 1040.5,
                      ("new", "visitors"): 6.0, ("whole_store", "visit_pay_rate"): 1.2}
    assert lines == [6, 7, 8, 9, 10, 11, 13, 14, 15]
    assert (batch.kind, batch.status, batch.rows_loaded, batch.rows_rejected) == ("peers", "done", 5, 9)
    # a re-import changes nothing but records its batch; the snapshot shows the peer beside the shop
    import_peers(engine, path, sale_id=SALE, now=AT, rejects_dir=tmp_path / "rej")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(peer_benchmarks)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(import_batches)).scalar() == 2
    load_fixture(engine)
    _, by = _snap(engine)
    assert by["old"]["peer_visit_rate"] == pytest.approx(0.3)
    assert by["members"]["peer_active_rv_value"] == pytest.approx(1040.5)


def test_import_peers_unreadable_writes_nothing(engine, tmp_path):
    from dacu.ingest import IngestFileError
    from dacu.ingest.peers import import_peers
    from dacu.warehouse.schema import import_batches

    path = tmp_path / "p.csv"
    path.write_text("day,crowd,metric\n2027-06-01,new,visitors\n", encoding="utf-8")
    with pytest.raises(IngestFileError, match="missing required column 'value'"):
        import_peers(engine, path, sale_id=SALE, now=AT, rejects_dir=tmp_path)
    path.write_text("day,crowd,metric,value,数值\n", encoding="utf-8")
    with pytest.raises(IngestFileError, match="value and 数值"):
        import_peers(engine, path, sale_id=SALE, now=AT, rejects_dir=tmp_path)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(import_batches)).scalar() == 0


def test_cli_import_peers_and_metrics_day(warehouse_url, tmp_path, capsys):
    import argparse

    from dacu.cli import CliError, data_import, metrics_cmd
    from dacu.warehouse import init_schema, make_engine

    engine = make_engine(warehouse_url)
    init_schema(engine)
    load_fixture(engine)
    run = __import__("dacu.metrics.publish", fromlist=["x"]).run_daily_snapshot
    assert run(engine, sale_id="tmall_618_2027", reference_day=REF, tz=TZ, day=DAY, active_rv_days=90,
               run_key="r1", validated_at=AT)["published"]
    engine.dispose()
    parser = argparse.ArgumentParser(prog="dacu")
    parser.add_argument("--warehouse")
    sub = parser.add_subparsers(dest="group", required=True)
    metrics_cmd.register(sub)
    data = sub.add_parser("data").add_subparsers(dest="verb", required=True)
    data_import.register(data)

    def cli(argv):
        args = parser.parse_args(["--warehouse", warehouse_url, *argv])
        return args.func(args)

    path = tmp_path / "peers.csv"
    path.write_text(PEERS_CSV, encoding="utf-8-sig")
    assert cli(["data", "import-peers", str(path), "--sale-id", "tmall_618_2027", "--rejects-dir",
                str(tmp_path), "--json"]) == 1          # some rows rejected, the good ones loaded
    assert '"rows_loaded": 5' in capsys.readouterr().out
    pb = "tmall_618_2027.yaml"
    assert cli(["metrics", "--playbook", pb, "--day", "2027-06-01", "--json"]) == 0       # the bare form
    view = json.loads(capsys.readouterr().out)
    assert view["crowds"]["new"]["metrics"]["paid_amount"] == 580.0
    assert view["crowds"]["old"]["peers"] == {"visit_rate": 0.3, "active_rv_value": 1040.5}
    assert view["crowds"]["new"]["peers"] == {"visitors": 6.0, "active_rv_value": 1040.5}
    assert view["crowds"]["fans"]["peers"]["active_rv_value"] == 1040.5        # store-level: whole_store's
    assert view["warmup"]["new"]["coupons_claimed"] == 2
    assert cli(["metrics", "day", "--playbook", pb, "--day", "2027-06-01", "--crowd", "old"]) == 0
    text = capsys.readouterr().out
    assert "进店率 visit_rate" in text and "(同行 0.3000)" in text and "new(新客)" not in text
    assert cli(["metrics", "show", "--sale-id", "tmall_618_2027"]) == 0           # the old verbs still work
    assert "同行同层 peers: visit_rate=0.3000 (shop 0.6667)" in capsys.readouterr().out
    assert cli(["metrics", "--playbook", pb, "--day", "2027-06-02"]) == 1
    assert "no published snapshot" in capsys.readouterr().out
    with pytest.raises(CliError, match="give a verb"):
        cli(["metrics"])
    with pytest.raises(CliError, match="--day"):
        cli(["metrics", "day", "--playbook", pb, "--day", "June 1"])
