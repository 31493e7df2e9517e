"""The feature-table path of every crowd equals its reference SQL (include/sql/crowds/<name>.sql)
on a generated shop (dacu.synth, 2,000 customers, seed 7, shaped by the 618 playbook) at several
gate moments, on SQLite and PostgreSQL; plus the build cache: reuse, staleness, concurrency.
"""
from __future__ import annotations

import os
import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from dacu.crowds.catalog import CROWDS
from dacu.crowds.evaluate import CrowdRef, GateEvaluator, SaleContext, crowd_expr, feature_plan, run_crowd
from dacu.crowds.features import FEATURE_VERSION, drop_features, ensure_features
from dacu.paths import SQL_DIR
from dacu.warehouse.schema import crowd_feature_builds, crowd_features, import_batches

TZ = ZoneInfo("Asia/Shanghai")
SALE = SaleContext("t618_2027", date(2027, 5, 24), TZ)
PLAYBOOK = SQL_DIR.parent / "playbooks" / "tmall_618_2027.yaml"
MOMENTS = [datetime(2027, 5, 20, 10, 0, tzinfo=TZ),     # before the reference day
           datetime(2027, 6, 1, 20, 0, tzinfo=TZ),
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
    from conftest import _drop_pg_database, _new_pg_database, _pg_admin

    from dacu.synth.generate import generate, load_playbook_file
    from dacu.warehouse import init_schema, make_engine

    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path_factory.mktemp('features') / 'warehouse.db'}", None
    else:
        try:
            with _pg_admin():
                pass
        except Exception:
            if os.environ.get("DACU_REQUIRE_PG", "1") == "1":
                pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable (set DACU_REQUIRE_PG=0 to skip)")
            pytest.skip("PostgreSQL not reachable")
        name, url = _new_pg_database()
    eng = make_engine(url)
    init_schema(eng)
    generate(eng, customers=2000, seed=7, playbook=load_playbook_file(PLAYBOOK))
    yield eng
    eng.dispose()
    if name:
        _drop_pg_database(name)


def _ref(crowd: str, params: dict) -> CrowdRef:
    return crowd_expr({"base": crowd, "params": params}).base


def test_every_catalogue_crowd_is_compared():
    assert {c for c, _ in VARIANTS} == set(CROWDS)


@pytest.mark.parametrize("as_of", MOMENTS, ids=lambda m: m.strftime("%m%d-%H%M"))
def test_feature_path_equals_reference_sql(shop, as_of):
    ev = GateEvaluator(shop, SALE, as_of)                   # features="build"
    reference = GateEvaluator(shop, SALE, as_of, features="off")
    via_features, non_empty = 0, 0
    for crowd, params in VARIANTS:
        ref = _ref(crowd, params)
        got, want = ev.crowd(ref), reference.crowd(ref)
        assert got == want, f"{ref.label()} at {as_of}: {len(got ^ want)} differ (features {len(got)}, sql {len(want)})"
        via_features += feature_plan(ref, ev.ctx) is not None
        non_empty += bool(want)
    assert ev.feature_build is not None and ev.feature_build.rows >= 2000
    assert via_features >= 35                               # most crowds really use the table
    if as_of == MOMENTS[-1]:
        assert non_empty >= len(VARIANTS) - 6, "the generated shop should populate nearly every crowd at 6.19"


def test_build_is_reused_keyed_and_rebuilt_when_stale(shop):
    at = MOMENTS[-1]
    ctx = GateEvaluator(shop, SALE, at).ctx
    drop_features(shop, SALE.sale_id, ctx.as_of_utc)
    first = ensure_features(shop, ctx)
    again = ensure_features(shop, ctx)                       # a later segment task of the gate
    assert first.built and not again.built and again.rows == first.rows
    with shop.connect() as conn:
        n = conn.execute(select(func.count()).select_from(crowd_features).where(
            (crowd_features.c.sale_id == SALE.sale_id) & (crowd_features.c.as_of == ctx.as_of_utc))).scalar()
        build = conn.execute(select(crowd_feature_builds).where(
            crowd_feature_builds.c.as_of == ctx.as_of_utc)).one()
    assert n == first.rows and build.version == FEATURE_VERSION
    # a new import batch changes the data mark: the next task rebuilds, replacing the key's rows
    with shop.begin() as conn:
        conn.execute(insert(import_batches).values(kind="csv_load", source="test", started_at=datetime(2027, 6, 19),
                                                   status="done"))
    rebuilt = ensure_features(shop, ctx)
    assert rebuilt.built and rebuilt.rows == first.rows
    with shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crowd_features).where(
            crowd_features.c.as_of == ctx.as_of_utc)).scalar() == first.rows
    # a preview reuses a current build and never builds one
    other = datetime(2027, 6, 18, 20, 0, tzinfo=TZ)
    pv = GateEvaluator(shop, SALE, other, features="reuse")
    assert pv.crowd(_ref("paid_in_sale", {"since": "2027-06-16"})) is not None and pv.feature_build is None
    with shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crowd_feature_builds).where(
            crowd_feature_builds.c.as_of == pv.ctx.as_of_utc)).scalar() == 0


def test_concurrent_builds_of_one_gate_build_once(shop):
    at = datetime(2027, 6, 16, 20, 0, tzinfo=TZ)
    ctx = GateEvaluator(shop, SALE, at).ctx
    drop_features(shop, SALE.sale_id, ctx.as_of_utc)
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
    assert sum(r.built for r in results) == 1 and len({r.rows for r in results}) == 1
    with shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(crowd_features).where(
            crowd_features.c.as_of == ctx.as_of_utc)).scalar() == results[0].rows
