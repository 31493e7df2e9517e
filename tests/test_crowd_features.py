"""The feature-table path of every crowd equals its reference SQL (include/sql/crowds/<name>.sql)
on a generated shop (dacu.synth, 2,000 customers, seed 7, shaped by the 618 playbook) at several
gate moments, on SQLite and PostgreSQL; plus the build cache: reuse, staleness, concurrency.
"""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select

from dacu.crowds.catalog import CROWDS
from dacu.crowds.evaluate import CrowdRef, GateEvaluator, SaleContext, crowd_expr, feature_plan
from dacu.crowds.features import (
    FEATURE_VERSION, base_layer, batch_condition, drop_features, ensure_features, gate_layer,
)
from dacu.paths import SQL_DIR
from dacu.warehouse.schema import (
    crowd_feature_layers, crowd_feature_rows, customers, events, import_batches, order_items, orders,
)

TZ = ZoneInfo("Asia/Shanghai")
SALE = SaleContext("t618_2027", date(2027, 5, 24), TZ)
PLAYBOOK = SQL_DIR.parent / "playbooks" / "tmall_618_2027.yaml"
MOMENTS = [datetime(2027, 5, 20, 10, 0, tzinfo=TZ),     # before the reference day
           datetime(2027, 6, 1, 20, 0, tzinfo=TZ),
           datetime(2027, 6, 19, 0, 0, tzinfo=TZ),       # a gate at the day's 00:00: the gate layer is ~empty
           datetime(2027, 6, 19, 9, 0, tzinfo=TZ),       # two gates of one day share the base layer
           datetime(2027, 6, 19, 20, 0, tzinfo=TZ)]      # the 618 peak gate

# (crowd, params): defaults, windows the table holds, and windows it does not (reference fallback)
VARIANTS: list[tuple[str, dict]] = [
    ("whole_store", {}), ("old_customers", {}), ("new_customers", {}), ("members", {}), ("members", {"min_level": 3}),
    ("fans", {}), ("live_stream_fans", {}), ("live_stream_fans", {"members_only": False}), ("mobile_customers", {}),
    ("promo_high_potential", {}), ("promo_high_potential", {"intent_days": 7}),
    ("promo_high_potential", {"intent_days": 60}),
    ("category_interest", {"categories": ["面部护肤", "彩妆"]}),
    ("cart_or_fav_not_paid", {}), ("cart_or_fav_not_paid", {"min_days": 0, "max_days": 4, "no_purchase_days": 4}),
    ("cart_or_fav_not_paid", {"min_days": 3, "max_days": 10}),
    ("cart_or_fav_not_paid", {"min_days": 0, "max_days": 45, "no_purchase_days": 30}),
    ("last_push", {}), ("last_push", {"intent_days": 45}),
    ("presale_buyers_history", {}),
    ("deposit_paid_balance_unpaid", {}), ("deposit_paid_balance_unpaid", {"since": "2027-05-01"}),
    ("high_value_repeat", {}), ("high_value_repeat", {"min_orders": 3, "lookback_days": 180}),
    ("high_value_repeat", {"lookback_days": 200}),
    ("member_buyers_365", {}), ("member_buyers_365", {"lookback_days": 90}),
    ("lapsed_members_category_intent", {}), ("lapsed_members_category_intent", {"lapsed_days": 60, "intent_days": 90}),
    ("watching_not_buying", {}), ("watching_not_buying", {"visit_days": 14, "min_visits": 2}),
    ("watching_not_buying", {"visit_days": 60}),
    ("buyers_not_members", {"since": "2027-05-05"}),
    ("unredeemed_coupon_holders", {}),
    ("unpaid_orders", {}), ("unpaid_orders", {"window_minutes": 20000}),
    ("closed_unpaid_potentials", {"start": "2027-05-01", "end": "2027-06-20"}),
    ("new_by_recency", {}), ("new_by_recency", {"band": "dormant"}), ("new_by_recency", {"band": "lapsed"}),
    ("rfm_high_quality", {}), ("rfm_high_quality", {"lookback_days": 180, "min_orders": 1, "min_amount": 100}),
    ("rfm_high_quality", {"lookback_days": 400}),
    ("rfm_low_quality", {}), ("rfm_low_quality", {"recency_days": 30, "max_amount": 200}),
    ("lapsed_high_value_years", {}), ("lapsed_high_value_years", {"years_back": 1, "min_amount": 100, "lapsed_days": 90}),
    ("lapsed_high_value_years", {"years_back": 5}),
    ("last_year_sale_buyers", {"start": "2026-05-20", "end": "2026-06-20"}),
    ("sale_buyers", {"start": "2027-05-20", "end": "2027-06-20"}), ("sale_buyers", {"start": "2027-05-01", "end": "2027-05-25"}),
    ("loyal_repeat_buyers", {}), ("loyal_repeat_buyers", {"min_orders": 2, "lookback_days": 90}),
    ("active_recent_buyers", {}), ("active_recent_buyers", {"lookback_days": 7}),
    ("repurchase_due", {}),
    ("paid_in_sale", {"since": "2027-06-16 00:00"}), ("paid_in_sale", {"since": "2027-05-20 00:00"}),
    ("sale_new_customers", {"start": "2027-05-20", "end": "2027-06-20"}),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shop(request, tmp_path_factory):
    """A generated 2,000-customer shop per backend, shared by the module."""
    from conftest import module_warehouse

    from dacu.synth.generate import generate, load_playbook_file

    with module_warehouse(request.param, tmp_path_factory.mktemp("features")) as eng:
        generate(eng, customers=2000, seed=7, playbook=load_playbook_file(PLAYBOOK))
        yield eng


def _ref(crowd: str, params: dict) -> CrowdRef:
    return crowd_expr({"base": crowd, "params": params}).base


def test_every_catalogue_crowd_is_compared():
    assert {c for c, _ in VARIANTS} == set(CROWDS)


@pytest.mark.parametrize("as_of", MOMENTS, ids=lambda m: m.strftime("%m%d-%H%M"))
def test_feature_path_equals_reference_sql(shop, as_of):
    ev = GateEvaluator(shop, SALE, as_of)                   # features="build"
    reference = GateEvaluator(shop, SALE, as_of, features="off")
    batched = GateEvaluator(shop, SALE, as_of)              # the simple feature crowds in one pass
    batched.prefetch([_ref(c, p) for c, p in VARIANTS])
    in_batch = sum(1 for c, p in VARIANTS
                   if (plan := feature_plan(_ref(c, p), batched.ctx)) and batch_condition(plan[0]))
    assert in_batch >= 28 and len(batched._crowds) >= in_batch - 2     # (duplicates of one ref count once)
    via_features, non_empty = 0, 0
    for crowd, params in VARIANTS:
        ref = _ref(crowd, params)
        got, want, together = ev.crowd(ref), reference.crowd(ref), batched.crowd(ref)
        assert got == want, f"{ref.label()} at {as_of}: {len(got ^ want)} differ (features {len(got)}, sql {len(want)})"
        assert together == want, f"{ref.label()} at {as_of}, batched: {len(together ^ want)} differ"
        via_features += feature_plan(ref, ev.ctx) is not None
        non_empty += bool(want)
    assert ev.feature_build is not None and ev.feature_build.rows >= 2000
    assert via_features >= 35                               # most crowds really use the table
    if as_of == MOMENTS[-1]:
        assert non_empty >= len(VARIANTS) - 6, "the generated shop should populate nearly every crowd at 6.19"


def test_batch_grouped_by_server_falls_back_when_an_id_holds_the_separator(shop, monkeypatch):
    """PostgreSQL groups the base batch's ids by mask on the server, joined by ID_SEPARATOR; a mask
    whose pieces outnumber its rows (an id holding the separator) makes the gate read the plain rows:
    the same members. Here the separator is "0", which every generated id holds."""
    import dacu.crowds.evaluate as evaluate
    import dacu.crowds.features as features

    as_of = MOMENTS[-1]
    refs = [_ref(c, p) for c, p in VARIANTS]
    reference = GateEvaluator(shop, SALE, as_of, features="off")
    plain_reads = []
    mask_groups = evaluate._mask_groups
    monkeypatch.setattr(evaluate, "_mask_groups", lambda rows: plain_reads.append(len(rows)) or mask_groups(rows))
    grouped = GateEvaluator(shop, SALE, as_of)
    grouped.prefetch(refs)
    server_grouped = shop.dialect.name == "postgresql"
    # the base batches (>= 2000 rows): grouped by the server on PostgreSQL, else read as rows; the
    # gate layer's rows (fewer: the customers changed since 00:00) are read as rows
    assert plain_reads and (max(plain_reads) >= 2000) != server_grouped
    monkeypatch.setattr(features, "ID_SEPARATOR", "0")
    monkeypatch.setattr(evaluate, "ID_SEPARATOR", "0")
    plain_reads.clear()
    fallback = GateEvaluator(shop, SALE, as_of)
    fallback.prefetch(refs)
    assert max(plain_reads) >= 2000                                 # the base rows read plainly
    for ref in refs:
        want = reference.crowd(ref)
        assert grouped.crowd(ref) == want and fallback.crowd(ref) == want, ref.label()


UTC_ = ZoneInfo("UTC")


def _utc(y, mo, d, h=0, mi=0) -> datetime:
    """A sale-local (Shanghai) wall time as the naive UTC the warehouse stores."""
    return datetime(y, mo, d, h, mi, tzinfo=TZ).astimezone(UTC_).replace(tzinfo=None)


def _edge_rows() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Customers whose data changes exactly at the day's 00:00 / the gate moment (6.19 20:00 Shanghai),
    so the base layer (before 00:00) and the gate layer (00:00 .. as_of) must split them right."""
    midnight, gate = _utc(2027, 6, 19), _utc(2027, 6, 19, 20)
    just_before, just_after = midnight - timedelta(microseconds=1), gate + timedelta(microseconds=1)
    cust = [{"customer_id": f"edge-{i}", "first_seen_at": _utc(2026, 1, 1), "member_level": 2,
             "member_since": _utc(2026, 2, 1) if i % 2 else gate, "consent_sms": True, "consent_email": True,
             "consent_inapp": True, "blacklisted": False} for i in range(8)]
    o, items = [], []

    def order(oid, cid, created, paid=None, *, amount=120.0, presale=False, deposit=None, balance=None,
              closed=None, refunded=None):
        o.append({"order_id": oid, "customer_id": cid, "status": "paid" if paid or balance else "created",
                  "created_at": created, "paid_at": paid, "amount": amount, "is_presale": presale,
                  "deposit_paid_at": deposit, "balance_paid_at": balance, "closed_at": closed,
                  "refunded_at": refunded, "platform": "tmall", "source": "presale" if presale else "normal"})
        items.append({"order_id": oid, "line_no": 1, "sku_id": "SKU-EDGE", "category": "面部护肤",
                      "price": amount, "quantity": 1})

    old = _utc(2026, 6, 18, 10)
    order("edge-o0", "edge-0", old, old)                                   # history only
    order("edge-o1a", "edge-0", midnight, midnight)                        # paid exactly at 00:00: today
    order("edge-o1", "edge-1", old, old)
    order("edge-o1b", "edge-1", just_before, just_before)                  # last microsecond of 6.18: base
    order("edge-o2", "edge-2", old, old)
    order("edge-o2b", "edge-2", gate, gate)                                # paid exactly at the gate: counts
    order("edge-o3", "edge-3", old, old)
    order("edge-o3b", "edge-3", just_after, just_after)                    # a microsecond after: not yet
    # presale: deposit before midnight, balance today -> paid today and no longer open
    order("edge-o4", "edge-4", _utc(2027, 6, 1, 10), None, presale=True, deposit=_utc(2027, 6, 1, 10),
          balance=_utc(2027, 6, 19, 12))
    # presale: deposit before midnight, closed today (no paid_at/created today: only closed_at changes)
    order("edge-o5", "edge-5", _utc(2027, 6, 1, 11), None, presale=True, deposit=_utc(2027, 6, 1, 11),
          closed=_utc(2027, 6, 19, 8))
    # presale still open at the gate; its balance is paid after the gate
    order("edge-o6", "edge-6", _utc(2027, 6, 1, 12), None, presale=True, deposit=_utc(2027, 6, 1, 12),
          balance=just_after)
    # lapsed members (last paid 2026-06-18, a 面部护肤 item) whose category intent sits on the
    # boundaries of the day's history part (before 00:00) and the gate's own events (00:00 .. as_of)
    for i in range(8, 13):
        cust.append({**cust[1], "customer_id": f"edge-{i}"})
        order(f"edge-o{i}", f"edge-{i}", old, old)
    order("edge-o12b", "edge-12", _utc(2027, 6, 19, 1), _utc(2027, 6, 19, 1))      # pays at 01:00: no longer lapsed
    # open deposits on the history part's boundary: paid exactly at 00:00 (the gate's own range), and
    # a microsecond before 00:00 with the balance paid exactly at the gate moment (no longer open then)
    order("edge-o13", "edge-13", midnight, None, presale=True, deposit=midnight)
    order("edge-o14", "edge-14", just_before, None, presale=True, deposit=just_before, balance=gate)
    cust += [{**cust[1], "customer_id": f"edge-{i}"} for i in (13, 14)]
    face, makeup = "面部护肤", "彩妆"
    ev = [{"customer_id": "edge-8", "event_type": "visit", "occurred_at": just_before, "category": face},
          {"customer_id": "edge-9", "event_type": "cart", "occurred_at": midnight, "category": face},
          {"customer_id": "edge-10", "event_type": "favourite", "occurred_at": just_after, "category": face},
          {"customer_id": "edge-11", "event_type": "visit", "occurred_at": gate, "category": makeup},
          {"customer_id": "edge-12", "event_type": "visit", "occurred_at": just_before, "category": face},
          {"customer_id": "edge-7", "event_type": "visit", "occurred_at": midnight},
          {"customer_id": "edge-7", "event_type": "cart", "occurred_at": gate},
          {"customer_id": "edge-1", "event_type": "favourite", "occurred_at": just_before},
          {"customer_id": "edge-2", "event_type": "cart", "occurred_at": just_after},
          {"customer_id": "edge-ghost", "event_type": "cart", "occurred_at": _utc(2027, 6, 19, 10)}]   # no customer row
    for i, e in enumerate(ev):
        e["event_id"] = 900_000_000 + i          # explicit: the generator COPYs ids past the sequence
        e.setdefault("category", None)
    return cust, o, items, ev


def test_feature_path_exact_at_midnight_and_gate_moment(shop):
    cust, o, items, ev = _edge_rows()
    with shop.begin() as conn:
        conn.execute(insert(customers), cust)
        conn.execute(insert(orders), o)
        conn.execute(insert(order_items), items)
        conn.execute(insert(events), ev)
    drop_features(shop, SALE.sale_id)          # direct inserts make no import batch: rebuild
    try:
        for at in (datetime(2027, 6, 19, 0, 0, tzinfo=TZ), datetime(2027, 6, 19, 20, 0, tzinfo=TZ)):
            ev_f, ev_r = GateEvaluator(shop, SALE, at), GateEvaluator(shop, SALE, at, features="off")
            for crowd, params in VARIANTS:
                ref = _ref(crowd, params)
                got, want = ev_f.crowd(ref), ev_r.crowd(ref)
                assert got == want, f"{ref.label()} at {at}: {sorted(got ^ want)[:5]}"
            # the edge customers really sit on both sides of the boundaries
            paid = ev_f.crowd(_ref("paid_in_sale", {"since": "2027-06-19 00:00"}))
            if at.hour == 20:
                assert {"edge-0", "edge-2", "edge-4"} <= paid and not {"edge-1", "edge-3"} & paid
                assert {"edge-6"} <= ev_f.crowd(_ref("deposit_paid_balance_unpaid", {"since": "2027-06-01"}))
                assert not {"edge-4", "edge-5"} & ev_f.crowd(_ref("deposit_paid_balance_unpaid", {"since": "2027-06-01"}))
                assert "edge-7" in ev_f.crowd(_ref("last_push", {}))
            else:
                assert "edge-0" in paid and "edge-2" not in paid
            # history part (before 00:00) + the gate's events (00:00 .. as_of), both sides of each boundary
            lapsed = ev_f.crowd(_ref("lapsed_members_category_intent", {}))
            interest = ev_f.crowd(_ref("category_interest", {"categories": ["面部护肤", "彩妆"]}))
            assert {"edge-8", "edge-9"} <= lapsed and not {"edge-10", "edge-11"} & lapsed
            assert ("edge-12" in lapsed) == (at.hour == 0)          # paid at 01:00: lapsed at 00:00 only
            assert {"edge-8", "edge-9", "edge-12"} <= interest and "edge-10" not in interest
            assert ("edge-11" in interest) == (at.hour == 20)
            deposits = ev_f.crowd(_ref("deposit_paid_balance_unpaid", {"since": "2027-06-01"}))
            assert "edge-13" in deposits and ("edge-14" in deposits) == (at.hour == 0)
    finally:
        with shop.begin() as conn:
            conn.execute(delete(order_items).where(order_items.c.sku_id == "SKU-EDGE"))
            conn.execute(delete(orders).where(orders.c.order_id.like("edge-%")))
            conn.execute(delete(events).where(events.c.customer_id.like("edge-%")))
            conn.execute(delete(customers).where(customers.c.customer_id.like("edge-%")))
        drop_features(shop, SALE.sale_id)


def _rows(shop, layer: str) -> int:
    with shop.connect() as conn:
        return conn.execute(select(func.count()).select_from(crowd_feature_rows).where(
            (crowd_feature_rows.c.sale_id == SALE.sale_id) & (crowd_feature_rows.c.layer == layer))).scalar()


def _layers(shop, sale_id: str = SALE.sale_id) -> set[str]:
    with shop.connect() as conn:
        return {r.layer for r in conn.execute(select(crowd_feature_layers.c.layer).where(
            crowd_feature_layers.c.sale_id == sale_id))}


def test_build_is_reused_keyed_and_rebuilt_when_stale(shop):
    at = MOMENTS[-1]
    ctx = GateEvaluator(shop, SALE, at).ctx
    drop_features(shop, SALE.sale_id, day=ctx.local_day)
    first = ensure_features(shop, ctx)
    again = ensure_features(shop, ctx)                       # a later segment task of the gate
    assert first.built and first.base_built and first.gate_built
    assert not again.built and again.rows == first.rows and again.gate_rows == first.gate_rows
    assert _rows(shop, base_layer(ctx)) == first.rows and _rows(shop, gate_layer(ctx)) == first.gate_rows
    # the gate layer holds only the customers changed since the day's 00:00 (6.19 is a peak day)
    assert 0 < first.gate_rows < first.rows / 2
    with shop.connect() as conn:
        build = conn.execute(select(crowd_feature_layers).where(
            crowd_feature_layers.c.layer == base_layer(ctx))).one()
    assert build.version == FEATURE_VERSION and build.day == ctx.local_day
    # a later gate of the same day reuses the day's base layer and adds only its own gate layer
    later = GateEvaluator(shop, SALE, datetime(2027, 6, 19, 22, 0, tzinfo=TZ)).ctx
    other_gate = ensure_features(shop, later)
    assert other_gate.gate_built and not other_gate.base_built and other_gate.gate_rows >= first.gate_rows
    # a new import batch changes the data mark: the next task rebuilds both layers, replacing their rows
    with shop.begin() as conn:
        conn.execute(insert(import_batches).values(kind="csv_load", source="test", started_at=datetime(2027, 6, 19),
                                                   status="done"))
    rebuilt = ensure_features(shop, ctx)
    assert rebuilt.base_built and rebuilt.gate_built and rebuilt.rows == first.rows
    assert _rows(shop, base_layer(ctx)) == first.rows and _rows(shop, gate_layer(ctx)) == first.gate_rows
    # a preview reuses current layers and never builds any
    other = datetime(2027, 6, 18, 20, 0, tzinfo=TZ)
    pv = GateEvaluator(shop, SALE, other, features="reuse")
    assert pv.crowd(_ref("paid_in_sale", {"since": "2027-06-16"})) is not None and pv.feature_build is None
    assert not {base_layer(pv.ctx), gate_layer(pv.ctx)} & _layers(shop)


def test_housekeeping_keeps_only_recent_days(shop):
    """Feature rows do not pile up: a new day's base layer drops the sale's layers of days more than
    KEEP_DAYS before it, with their rows."""
    drop_features(shop, SALE.sale_id)
    days = [datetime(2027, 6, d, 20, 0, tzinfo=TZ) for d in (14, 15, 16, 17, 18)]
    ctxs = [GateEvaluator(shop, SALE, at).ctx for at in days]
    for ctx in ctxs:
        ensure_features(shop, ctx)
    kept = {f"base:2027-06-{d}" for d in (16, 17, 18)}
    assert {layer for layer in _layers(shop) if layer.startswith("base:")} == kept
    assert len(_layers(shop)) == 2 * len(kept)
    with shop.connect() as conn:
        left = {r.layer for r in conn.execute(select(crowd_feature_rows.c.layer).where(
            crowd_feature_rows.c.sale_id == SALE.sale_id).distinct())}
    assert left <= _layers(shop) and {base_layer(c) for c in ctxs[:2]}.isdisjoint(left)
    # another sale's layers are untouched; drop_features(day=...) drops one day
    drop_features(shop, SALE.sale_id, day=date(2027, 6, 18))
    assert {layer for layer in _layers(shop) if layer.startswith("base:")} == kept - {"base:2027-06-18"}
    drop_features(shop, SALE.sale_id)
    assert _layers(shop) == set()


def test_evaluator_rebuilds_layers_dropped_while_it_reads(shop):
    at = datetime(2027, 6, 19, 9, 0, tzinfo=TZ)
    ev = GateEvaluator(shop, SALE, at)
    reference = GateEvaluator(shop, SALE, at, features="off")
    first = ev.crowd(_ref("whole_store", {}))
    assert ev.feature_build is not None
    drop_features(shop, SALE.sale_id, day=ev.ctx.local_day)      # another day's housekeeping, say
    ref = _ref("active_recent_buyers", {})
    assert ev.crowd(ref) == reference.crowd(ref) and first == reference.crowd(_ref("whole_store", {}))
    assert base_layer(ev.ctx) in _layers(shop)


def test_concurrent_builds_of_one_gate_build_once(shop):
    at = datetime(2027, 6, 16, 20, 0, tzinfo=TZ)
    ctx = GateEvaluator(shop, SALE, at).ctx
    drop_features(shop, SALE.sale_id, day=ctx.local_day)
    results, errors = [], []
    barrier = threading.Barrier(3)

    def task():
        try:
            barrier.wait()
            results.append(ensure_features(shop, ctx))
        except Exception as exc:           # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=task) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.base_built for r in results) == 1 and sum(r.gate_built for r in results) == 1
    assert len({(r.rows, r.gate_rows) for r in results}) == 1
    assert _rows(shop, base_layer(ctx)) == results[0].rows and _rows(shop, gate_layer(ctx)) == results[0].gate_rows


def test_feature_files_include_the_one_gate_rows_block():
    """The gate's feature rows are written once (gate_rows.sql) and included where a file reads them."""
    from dacu.paths import SQL_DIR
    from dacu.warehouse.sqlfiles import sql_text

    block = [line for line in sql_text("crowds/features/gate_rows").splitlines() if not line.lstrip().startswith("--")]
    including = [p for p in sorted((SQL_DIR / "crowds" / "features").glob("*.sql"))
                 if "-- @include crowds/features/gate_rows" in p.read_text(encoding="utf-8")]
    assert len(including) >= 20
    for p in including:
        raw = p.read_text(encoding="utf-8").splitlines()
        marker = next(line for line in raw if "-- @include" in line)
        indent = marker[:len(marker) - len(marker.lstrip())]
        text = sql_text(f"crowds/features/{p.stem}")
        assert "@include" not in text, p.name
        assert "\n".join(indent + line[4:] for line in block) in text, p.name


def test_day_preparation_builds_base_and_history_parts_once(shop):
    """prepare_crowd_day (the phase DAG's crowd_features task) builds the day's base layer and the
    history parts of the playbook's crowds; the day's gates then build only their gate layer, read
    the parts, and give the reference SQL's members. Parts are housekept with their day."""
    from dacu.crowds import prepare_crowd_day
    from dacu.crowds.evaluate import crowd_part
    from dacu.crowds.features import ensure_part
    from dacu.synth.generate import load_playbook_file
    from dacu.warehouse.schema import crowd_part_rows

    pb = load_playbook_file(PLAYBOOK)
    ids = [s.id for s in pb.strategies if getattr(s, "crowd", None) is not None]
    sale = SaleContext(pb.sale.id, pb.sale.reference_day, TZ)      # the playbook's own sale id
    drop_features(shop, sale.sale_id)
    out = prepare_crowd_day(shop, pb, ids, datetime(2027, 6, 19, 0, 0, tzinfo=TZ))
    assert out["day"] == "2027-06-19" and out["base_built"] and out["parts"] >= 3
    assert out["parts_built"] == out["parts"] and out["part_rows"] > 0
    again = prepare_crowd_day(shop, pb, ids, datetime(2027, 6, 19, 9, 0, tzinfo=TZ))
    assert not again["base_built"] and again["parts_built"] == 0 and again["part_rows"] == out["part_rows"]
    parts = {layer for layer in _layers(shop, sale.sale_id) if layer.startswith("part:2027-06-19:")}
    assert len(parts) == out["parts"]

    at = datetime(2027, 6, 19, 20, 0, tzinfo=TZ)
    ev, reference = GateEvaluator(shop, sale, at), GateEvaluator(shop, sale, at, features="off")
    refs = [_ref("lapsed_members_category_intent", {"lapsed_days": 180, "intent_days": 30}),
            _ref("category_interest", {"categories": ["护肤", "彩妆"], "intent_days": 30}),
            _ref("presale_buyers_history", {"lookback_days": 730})]
    ev.prefetch(refs)
    for ref in refs:
        part = crowd_part(ref, ev.ctx)
        assert part is not None and part.layer in parts, ref.label()
        assert ev.crowd(ref) == reference.crowd(ref), ref.label()
        assert not ensure_part(shop, ev.ctx, part).built            # the day's task built it
    assert ev.feature_build is not None and not ev.feature_build.base_built and ev.feature_build.gate_built
    assert _layers(shop, sale.sale_id) - parts == {base_layer(ev.ctx), gate_layer(ev.ctx)}

    # a preview reuses a current part; without one it runs the reference SQL (same members)
    for ref in refs:
        assert GateEvaluator(shop, sale, at, features="reuse").crowd(ref) == reference.crowd(ref)
    drop_features(shop, sale.sale_id, day=date(2027, 6, 19))
    with shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crowd_part_rows).where(
            crowd_part_rows.c.sale_id == sale.sale_id)).scalar() == 0
    pv = GateEvaluator(shop, sale, at, features="reuse")
    members = [_ref("members", {}), _ref("old_customers", {})]
    pv.prefetch(refs + members)                                # no layers to reuse: every crowd by its SQL
    assert all(pv.crowd(ref) == reference.crowd(ref) for ref in refs + members)
    assert _layers(shop, sale.sale_id) == set()
