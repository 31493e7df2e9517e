"""The incremental metric state (dacu/metrics/state.py) gives exactly the from-scratch figures.

The reference SQL (crowd_funnel.sql, store_rv.sql, warmup_day.sql) reads all history and stays the
definition; the state path (day/*.sql over metric_customer_state / metric_active_spells) must give the
same frames whatever happened before: a backfill of earlier days, days in any order or in parallel,
new orders imported for a day already computed, two sales sharing the warehouse, rows the day's
indexed reads would miss. Shop: the synthetic 618 shop (dacu.synth) plus hand-made edge rows.
"""
from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import func, insert, select

from dacu.metrics import state as st
from dacu.metrics.compute import compute_snapshot, compute_warmup
from dacu.paths import SQL_DIR
from dacu.warehouse.schema import (
    customers, events, metric_active_spells, metric_snapshots, metric_state_builds, metric_warmup_daily, orders, skus,
)

TZ = "Asia/Shanghai"
SALE = "tmall_618_2027"
REF = date(2027, 5, 24)
PLAYBOOK = SQL_DIR.parent / "playbooks" / "tmall_618_2027.yaml"
DAYS = [date(2027, 5, 23), REF, date(2027, 5, 28), date(2027, 6, 1), date(2027, 6, 18), date(2027, 6, 20)]
AT = datetime(2027, 7, 1)


def L(text: str, tz: str = TZ) -> datetime:
    local = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(tz))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _rows(table, rows: list[dict]) -> list[dict]:
    """Every column in every row (executemany wants one shape); unset nullable columns are NULL."""
    return [{c.name: r.get(c.name) for c in table.columns if c.name in r or c.nullable} for r in rows]


def _edge_rows(engine) -> None:
    """Rows that stress the state: midnight boundaries, a customer known only by an event, a presale
    balance paid at another moment than paid_at, an event type outside the import contract."""
    with engine.begin() as conn:
        conn.execute(insert(customers), _rows(customers, [
            {"customer_id": "e_member_edge", "first_seen_at": L("2027-01-01 00:00"), "member_since": L("2027-06-01 00:00"),
             "member_level": 1, "consent_sms": True, "consent_email": True, "consent_inapp": True, "blacklisted": False},
            {"customer_id": "e_fan_edge", "first_seen_at": L("2027-06-18 00:00"), "fan_since": L("2027-06-18 00:00"),
             "member_level": 0, "consent_sms": True, "consent_email": True, "consent_inapp": True, "blacklisted": False},
        ]))
        conn.execute(insert(orders), _rows(orders, [
            # paid exactly at 00:00 of the reference day: not old; active at the window's first instant
            {"order_id": "e_o1", "customer_id": "e_member_edge", "status": "paid", "created_at": L("2027-03-02 23:59"),
             "paid_at": L("2027-03-03 00:00"), "amount": Decimal("12.00"), "is_presale": False},
            {"order_id": "e_o2", "customer_id": "e_fan_edge", "status": "paid", "created_at": L("2027-05-23 23:59"),
             "paid_at": L("2027-05-24 00:00"), "amount": Decimal("7.50"), "is_presale": False},
            # presale: paid_at says the deposit moment, the balance (the payment moment) is on 06-01
            {"order_id": "e_o3", "customer_id": "e_member_edge", "status": "paid", "created_at": L("2027-05-25 10:00"),
             "paid_at": L("2027-05-25 10:01"), "amount": Decimal("300.00"), "is_presale": True,
             "deposit_amount": Decimal("50.00"), "deposit_paid_at": L("2027-05-25 10:01"),
             "balance_amount": Decimal("250.00"), "balance_paid_at": L("2027-06-01 00:30")},
            # presale balance paid with paid_at NULL
            {"order_id": "e_o4", "customer_id": "e_fan_edge", "status": "paid", "created_at": L("2027-06-17 10:00"),
             "paid_at": None, "amount": Decimal("99.00"), "is_presale": True, "deposit_amount": Decimal("9.00"),
             "deposit_paid_at": L("2027-06-17 10:05"), "balance_amount": Decimal("90.00"),
             "balance_paid_at": L("2027-06-18 23:59")},
        ]))
        # explicit ids: the generator writes its own, the sequence may lag behind them
        next_id = (conn.execute(select(func.max(events.c.event_id))).scalar() or 0) + 1
        conn.execute(insert(events), [{"event_id": next_id + i, **e} for i, e in enumerate([
            {"customer_id": "e_ghost", "event_type": "visit", "occurred_at": L("2027-06-18 00:00")},
            {"customer_id": "e_odd_type", "event_type": "share", "occurred_at": L("2027-06-01 12:00")},
            {"customer_id": "e_member_edge", "event_type": "visit", "occurred_at": L("2027-03-02 23:59")},
            {"customer_id": "e_fan_edge", "event_type": "cart", "occurred_at": L("2027-06-18 23:58")},
        ])])


def _make_shop(url: str, customers_n: int = 300):
    from dacu.synth.generate import generate, load_playbook_file
    from dacu.warehouse import init_schema, make_engine

    eng = make_engine(url)
    init_schema(eng)
    generate(eng, customers=customers_n, seed=11, playbook=load_playbook_file(PLAYBOOK))
    _edge_rows(eng)
    return eng


@pytest.fixture
def shop(warehouse_url):
    eng = _make_shop(warehouse_url)
    yield eng
    eng.dispose()


def _kw(day_from: date, day_to: date | None = None, **over) -> dict:
    kw = dict(sale_id=SALE, reference_day=REF, tz=TZ, day_from=day_from, day_to=day_to or day_from, run_key="r",
              active_rv_days=90)
    kw.update(over)
    return kw


def _both(engine, day_from: date, day_to: date | None = None, **over):
    kw = _kw(day_from, day_to, **over)
    return compute_snapshot(engine, method="state", **kw), compute_snapshot(engine, method="reference", **kw)


def assert_same(engine, day_from: date, day_to: date | None = None, **over) -> None:
    got, want = _both(engine, day_from, day_to, **over)
    assert_frame_equal(got, want, check_exact=True)
    kw = _kw(day_from, day_to, **over)
    assert_frame_equal(compute_warmup(engine, method="state", **kw), compute_warmup(engine, method="reference", **kw),
                       check_exact=True)


def _builds(engine) -> dict:
    with engine.connect() as conn:
        return {r.state_key: r for r in conn.execute(select(metric_state_builds))}


def test_state_equals_reference_on_sale_days_and_ranges(shop):
    for day in DAYS:
        assert_same(shop, day)
    assert_same(shop, date(2027, 5, 24), date(2027, 6, 1))          # a range: start/end moments differ
    assert_same(shop, date(2027, 6, 18), date(2027, 6, 20))
    for window in (1, 30, 102):                                      # other active_rv_days: their own spells
        assert_same(shop, date(2027, 6, 18), active_rv_days=window)
    # the edge rows are in the figures, not just equal by emptiness
    got, _ = _both(shop, date(2027, 6, 18))
    assert got.loc[got["crowd"] == "whole_store", "visitors"].iloc[0] > 0
    builds = _builds(shop)
    assert set(builds) == {"customers", "spells|Asia/Shanghai|90", "spells|Asia/Shanghai|1",
                           "spells|Asia/Shanghai|30", "spells|Asia/Shanghai|102"}


def test_rows_outside_the_indexed_reads_are_counted(shop):
    st.ensure_state(shop, TZ, 90, since_day=REF)
    with shop.connect() as conn:
        rows = set(conn.execute(select(st.metric_offindex_rows.c.row_kind, st.metric_offindex_rows.c.row_id)).all())
    assert {("order", "e_o3"), ("order", "e_o4")} <= rows
    assert {kind for kind, _ in rows} == {"order", "event"}
    # e_o3's balance (06-01 00:30) is paid on 06-01 although paid_at says 05-25; e_odd_type is active (new)
    assert_same(shop, date(2027, 6, 1))
    assert_same(shop, date(2027, 6, 18))
    got, _ = _both(shop, date(2027, 6, 1))
    assert got.loc[got["crowd"] == "members", "presale_paid_amount"].iloc[0] >= 300.0
    got18, _ = _both(shop, date(2027, 6, 18))
    assert got18.loc[got18["crowd"] == "fans", "paid_amount"].iloc[0] >= 99.0


def test_days_in_any_order_after_a_backfill(shop):
    from dacu.metrics.publish import run_daily_snapshot

    days = [REF + timedelta(days=i) for i in range(0, 28)]
    random.Random(5).shuffle(days)
    for day in days:                                     # a backfill, days in any order
        out = run_daily_snapshot(shop, sale_id=SALE, reference_day=REF, tz=TZ, day=day, active_rv_days=90,
                                 run_key=f"backfill:{day}", validated_at=AT)
        assert out["published"], out["failed_expectations"]
    builds = _builds(shop)
    first_ids = {k: b.build_id for k, b in builds.items()}
    assert set(first_ids) == {"customers", "spells|Asia/Shanghai|90"}    # one build served every day
    # the published rows are the reference figures of each day
    with shop.connect() as conn:
        pub = conn.execute(select(metric_snapshots).where(metric_snapshots.c.sale_id == SALE)).all()
        warm = conn.execute(select(func.count()).select_from(metric_warmup_daily)).scalar()
    assert len(pub) == 5 * len(days) and warm == 2 * len(days)
    for day in (days[0], days[-1], date(2027, 6, 18)):
        _, want = _both(shop, day)
        for r in (r for r in pub if r.day_from == day):
            expected = want.loc[want["crowd"] == r.crowd].iloc[0]
            for col in ("crowd_size", "visitors", "paying_buyers", "active_rv_start", "active_members"):
                assert getattr(r, col) == expected[col], (day, r.crowd, col)
            assert float(r.paid_amount) == pytest.approx(expected["paid_amount"], abs=0.001)
    # a later day after the backfill, and an earlier one than the reference day (widens the spells)
    assert_same(shop, date(2027, 6, 22))
    assert_same(shop, date(2027, 3, 1))
    assert _builds(shop)["customers"].build_id == first_ids["customers"]
    assert _builds(shop)["spells|Asia/Shanghai|90"].covers_from == date(2027, 3, 1).toordinal() - 90


def _tmall_csv(path, rows: list[dict]) -> None:
    header = ["订单编号", "买家会员名", "总金额", "买家实际支付金额", "订单状态", "订单创建时间", "订单付款时间", "订单类型",
              "定金", "定金付款时间", "尾款", "尾款付款时间", "宝贝标题", "商家编码", "价格", "购买数量"]
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join(str(r.get(h, "")) for h in header))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_day_recomputed_after_new_orders_were_imported(shop, tmp_path):
    from dacu.ingest.orders_export import import_orders

    day = date(2027, 6, 18)
    before, _ = _both(shop, day)
    ids = {k: b.build_id for k, b in _builds(shop).items()}
    with shop.connect() as conn:
        sku = conn.execute(select(skus.c.sku_id).order_by(skus.c.sku_id)).scalars().first()
        never_paid = conn.execute(
            select(customers.c.customer_id).where(customers.c.member_since.is_not(None))
            .where(~customers.c.customer_id.in_(select(orders.c.customer_id).where(orders.c.paid_at.is_not(None))))
            .order_by(customers.c.customer_id)).scalars().first()
    assert never_paid is not None
    _tmall_csv(tmp_path / "late.csv", [
        # a member who never paid pays on the day, and a brand-new buyer (created by the import)
        {"订单编号": "late-1", "买家会员名": never_paid, "总金额": "88.00", "买家实际支付金额": "88.00",
         "订单状态": "交易成功", "订单创建时间": "2027-06-18 20:00:00", "订单付款时间": "2027-06-18 20:01:00",
         "订单类型": "一口价", "宝贝标题": "x", "商家编码": sku, "价格": "88.00", "购买数量": "1"},
        {"订单编号": "late-2", "买家会员名": "brand_new_buyer", "总金额": "20.00", "买家实际支付金额": "20.00",
         "订单状态": "交易成功", "订单创建时间": "2027-06-18 21:00:00", "订单付款时间": "2027-06-18 21:00:30",
         "订单类型": "一口价", "宝贝标题": "x", "商家编码": sku, "价格": "20.00", "购买数量": "1"},
        # an old payment before the reference day: this customer becomes old for the whole sale
        {"订单编号": "late-3", "买家会员名": "brand_new_buyer", "总金额": "5.00", "买家实际支付金额": "5.00",
         "订单状态": "交易成功", "订单创建时间": "2027-05-01 21:00:00", "订单付款时间": "2027-05-01 21:00:30",
         "订单类型": "一口价", "宝贝标题": "x", "商家编码": sku, "价格": "5.00", "购买数量": "1"},
    ])
    rep = import_orders(shop, tmp_path / "late.csv", format_name="tmall_orders_v1", now=AT, create_customers=True,
                        rejects_dir=tmp_path)
    assert rep.rows_loaded == 3, rep
    after, _ = _both(shop, day)
    assert_same(shop, day)
    assert_same(shop, date(2027, 6, 1))                  # an earlier day sees the new old customer too
    new_ids = {k: b.build_id for k, b in _builds(shop).items()}
    assert all(new_ids[k] != ids[k] for k in ids)        # the import invalidated both builds
    ws_b, ws_a = (f.set_index("crowd") for f in (before, after))
    assert ws_a.loc["whole_store", "paid_amount"] == pytest.approx(ws_b.loc["whole_store", "paid_amount"] + 108.0)
    assert ws_a.loc["old", "crowd_size"] == ws_b.loc["old", "crowd_size"] + 1
    assert ws_a.loc["whole_store", "crowd_size"] == ws_b.loc["whole_store", "crowd_size"] + 1


def test_two_sales_share_the_warehouse(shop):
    # the Double 11 sale: its own reference day, another window; then a sale in another timezone
    d11 = dict(sale_id="tmall_double11_2026", reference_day=date(2026, 10, 20))
    assert_same(shop, date(2027, 6, 18))
    assert_same(shop, date(2026, 11, 11), **d11)
    assert_same(shop, date(2026, 11, 11), active_rv_days=60, **d11)
    assert_same(shop, date(2027, 6, 1))
    assert_same(shop, date(2027, 3, 14), tz="America/New_York", reference_day=date(2027, 3, 1),
                sale_id="us_sale")        # a DST change day
    assert_same(shop, date(2027, 6, 18), tz="Asia/Kolkata")     # a half-hour offset
    builds = _builds(shop)
    assert builds["spells|Asia/Shanghai|90"].covers_from == date(2026, 10, 20).toordinal() - 90
    with shop.connect() as conn:
        keys = set(conn.execute(select(metric_active_spells.c.tz, metric_active_spells.c.window_days).distinct()).all())
    assert keys == {("Asia/Shanghai", 90), ("Asia/Shanghai", 60), ("America/New_York", 90), ("Asia/Kolkata", 90)}


def test_parallel_days_from_a_cold_state(shop):
    days = [date(2027, 6, 16) + timedelta(days=i) for i in range(3)]
    out, errors = {}, []

    def run(day):
        try:
            out[day] = compute_snapshot(shop, method="state", **_kw(day))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for day in days:
        assert_frame_equal(out[day], compute_snapshot(shop, method="reference", **_kw(day)), check_exact=True)
    assert set(_builds(shop)) == {"customers", "spells|Asia/Shanghai|90"}


def test_calendar_maps_moments_to_local_days():
    for tz, moments in (
        ("Asia/Shanghai", ["2027-06-01 00:00", "2027-05-31 23:59", "2027-06-01 15:59"]),
        ("America/New_York", ["2027-03-14 00:00", "2027-03-14 03:00", "2027-11-07 00:59", "2027-11-07 01:30",
                              "2027-11-06 23:59"]),
        ("Asia/Kolkata", ["2027-06-01 00:00", "2027-05-31 23:59"]),
    ):
        cal = {r["utc_date"]: r for r in st.calendar_rows(tz)}
        for text in moments:
            local = datetime.strptime(text, "%Y-%m-%d %H:%M")
            for probe in (local, local + timedelta(minutes=1)):
                at = probe.replace(tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
                r = cal[at.date()]
                got = (r["day0"] if r["split1"] is None or at < r["split1"] else
                       r["day1"] if r["split2"] is None or at < r["split2"] else r["day2"])
                assert got == probe.date().toordinal(), (tz, probe)
    assert not st.covers(date(1989, 12, 1), date(1990, 1, 1), 90)
    assert st.covers(date(2027, 6, 1), date(2027, 6, 1), 90)


def test_rebuild_on_request_sees_rows_written_outside_imports(shop):
    day = date(2027, 6, 18)
    assert_same(shop, day)
    with shop.begin() as conn:          # a direct write: no import batch, the data mark does not move
        conn.execute(insert(orders), [{"order_id": "direct-1", "customer_id": "only_direct", "status": "paid",
                                       "created_at": L("2027-04-01 10:00"), "paid_at": L("2027-04-01 10:00"),
                                       "amount": Decimal("1.00"), "is_presale": False}])
    stale, want = _both(shop, day)
    assert stale.loc[stale["crowd"] == "old", "crowd_size"].iloc[0] + 1 == want.loc[want["crowd"] == "old",
                                                                                     "crowd_size"].iloc[0]
    st.ensure_state(shop, TZ, 90, since_day=REF, rebuild=True)
    assert_same(shop, day)


def test_a_regenerated_shop_is_a_new_data_mark(shop):
    from dacu.synth.generate import generate, load_playbook_file

    day = date(2027, 6, 18)
    assert_same(shop, day)
    mark = _builds(shop)["customers"].data_mark
    # the generator wipes and reloads: batch ids restart at 1, but rows loaded / times differ
    generate(shop, customers=250, seed=12, playbook=load_playbook_file(PLAYBOOK))
    assert_same(shop, day)
    assert _builds(shop)["customers"].data_mark != mark
