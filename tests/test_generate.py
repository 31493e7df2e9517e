"""dacu data generate: determinism, replacement, invariants and realism bands (both backends)."""
from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dacu.synth import DEFAULT_END, GenerateError, generate
from dacu.synth.shop import ALL_PREFIXES
from dacu.warehouse import init_schema, make_engine
from dacu.warehouse.schema import EVENT_TYPES, ORDER_SOURCES, ORDER_STATUSES, TABLES

N, SEED = 300, 11
DATA_TABLES = ("customers", "skus", "orders", "order_items", "events", "coupons", "coupon_grants")
PLAYBOOK_618 = "include/playbooks/tmall_618_2027.yaml"


def _norm(v):
    if isinstance(v, datetime):
        assert v.tzinfo is None, "warehouse timestamps are naive UTC"
        return v.isoformat(sep=" ")
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    if isinstance(v, float):
        return f"{v:.2f}"
    return v


def rows(engine, table: str) -> list[dict]:
    with engine.connect() as cx:
        return [dict(r._mapping) for r in cx.execute(select(TABLES[table]))]


def digest(engine) -> dict[str, str]:
    """A content digest per table, independent of the backend and of row order."""
    out = {}
    for t in DATA_TABLES:
        lines = sorted(json.dumps([_norm(v) for v in r.values()], ensure_ascii=False) for r in rows(engine, t))
        out[t] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    batch = [(b["batch_id"], b["kind"], b["source"], b["rows_loaded"], b["status"], _norm(b["period_start"]))
             for b in rows(engine, "import_batches")]
    out["import_batches"] = hashlib.sha256(repr(batch).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The shop (N, SEED) generated once into SQLite: digest and result."""
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    init_schema(eng)
    result = generate(eng, customers=N, seed=SEED)
    d = digest(eng)
    eng.dispose()
    return d, result


def test_same_seed_same_content_on_every_backend(engine, reference):
    ref_digest, ref_result = reference
    result = generate(engine, customers=N, seed=SEED)
    assert result.counts == ref_result.counts
    assert digest(engine) == ref_digest


def test_rerun_replaces_instead_of_adding(engine, reference):
    first = generate(engine, customers=N, seed=SEED)
    again = generate(engine, customers=N, seed=SEED)
    assert again.counts == first.counts
    for t, n in again.counts.items():
        assert len(rows(engine, t)) == n, t
    batches = rows(engine, "import_batches")
    assert [(b["kind"], b["status"], b["rows_loaded"]) for b in batches] == [("generate", "done", again.rows)]
    assert {c["import_batch_id"] for c in rows(engine, "customers")} == {batches[0]["batch_id"]}


def test_different_seed_gives_a_different_shop(tmp_path, reference):
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    init_schema(eng)
    generate(eng, customers=N, seed=SEED + 1)
    other = digest(eng)
    for t in ("customers", "orders", "events"):
        assert other[t] != reference[0][t]
    assert other["skus"] != reference[0]["skus"]  # prices are drawn from the seed too


def test_invariants_and_realism(engine):
    res = generate(engine, customers=N, seed=SEED)
    start = datetime(2023, 12, 1) - timedelta(hours=8)
    end = datetime.combine(DEFAULT_END + timedelta(days=1), datetime.min.time()) - timedelta(hours=8)
    customers = {c["customer_id"]: c for c in rows(engine, "customers")}
    orders = {o["order_id"]: o for o in rows(engine, "orders")}
    items = rows(engine, "order_items")
    events = rows(engine, "events")
    grants = rows(engine, "coupon_grants")
    coupons = {c["coupon_id"]: c for c in rows(engine, "coupons")}
    skus = {s["sku_id"]: s for s in rows(engine, "skus")}
    assert len(customers) == N and len(skus) == 200 and len(set(s["category"] for s in skus.values())) == 10
    assert 6 * N <= len(orders) <= 14 * N          # benchmark scale: ~10 orders per customer
    assert 20 * N <= len(events) <= 45 * N          # ~30 events per customer

    # orders: keys, money, life cycle
    item_sum: Counter = Counter()
    for it in items:
        assert it["order_id"] in orders and it["sku_id"] in skus
        assert it["category"] == skus[it["sku_id"]]["category"] and it["quantity"] >= 1
        item_sum[it["order_id"]] += it["price"] * it["quantity"]
    for o in orders.values():
        assert o["customer_id"] in customers
        assert o["status"] in ORDER_STATUSES and o["source"] in ORDER_SOURCES
        assert item_sum[o["order_id"]] == o["amount"] > 0
        assert start <= o["created_at"] < end
        if o["status"] in ("paid", "refunded"):
            assert o["paid_at"] is not None and o["paid_at"] >= o["created_at"] and o["paid_at"] < end
        if o["status"] == "refunded":
            assert o["refunded_at"] > o["paid_at"]
        if o["status"] == "closed":
            assert o["closed_at"] is not None and o["paid_at"] is None and o["closed_at"] >= o["created_at"]
        if o["is_presale"]:
            assert o["source"] == "presale"
            assert 0 < o["deposit_amount"] <= o["amount"]
            assert o["deposit_amount"] + o["balance_amount"] == o["amount"]
            assert o["deposit_paid_at"] >= o["created_at"]
            if o["status"] == "paid":
                assert o["balance_paid_at"] == o["paid_at"]
        else:
            assert o["deposit_amount"] is None and o["balance_paid_at"] is None
    n = len(orders)
    status = Counter(o["status"] for o in orders.values())
    source = Counter(o["source"] for o in orders.values())
    assert 0.03 <= status["closed"] / n <= 0.12       # unpaid orders closed after 24h, unpaid balances
    assert 0.01 <= status["refunded"] / n <= 0.06
    assert 0.02 <= source["juhuasuan"] / n <= 0.09
    assert 0.02 <= source["presale"] / n <= 0.15
    late = [o for o in orders.values() if o["status"] in ("paid", "refunded") and not o["is_presale"]
            and o["paid_at"] - o["created_at"] > timedelta(minutes=5)]
    assert late and all(o["paid_at"] - o["created_at"] <= timedelta(hours=1) for o in late)  # reminder targets
    # Double 11 and 618 surge: the key days carry many times an average day's orders
    per_day = Counter((o["created_at"] + timedelta(hours=8)).date() for o in orders.values())
    avg = n / len(per_day)
    for key_day in (date(2025, 11, 11), date(2026, 6, 18), date(2026, 11, 11)):
        assert per_day[key_day] > 3 * avg, key_day

    # customers: contact data and relationship rates
    prefixes = {str(p) for p in ALL_PREFIXES.tolist()}
    mobiles = [c["mobile"] for c in customers.values() if c["mobile"]]
    assert 0.80 <= len(mobiles) / N <= 0.97
    assert all(len(m) == 11 and m.isdigit() and m[:3] in prefixes for m in mobiles)
    assert len(set(mobiles)) == len(mobiles)
    assert all("@" in c["email"] for c in customers.values() if c["email"])
    members = [c for c in customers.values() if c["member_since"] is not None]
    assert 0.15 <= len(members) / N <= 0.35
    assert all(1 <= c["member_level"] <= 4 for c in members)
    assert all(c["member_level"] == 0 for c in customers.values() if c["member_since"] is None)
    assert 0.20 <= sum(c["fan_since"] is not None for c in customers.values()) / N <= 0.40
    assert 0.003 <= sum(c["live_fan_since"] is not None for c in customers.values()) / N <= 0.08
    assert sum(c["opted_out_at"] is not None for c in customers.values()) / N <= 0.07
    for c in customers.values():
        for col in ("member_since", "fan_since", "opted_out_at"):
            assert c[col] is None or c["first_seen_at"] <= c[col] < end, col
    first_order = {}
    for o in orders.values():
        first_order[o["customer_id"]] = min(o["created_at"], first_order.get(o["customer_id"], o["created_at"]))
    assert all(customers[cid]["first_seen_at"] <= t for cid, t in first_order.items())

    # events and coupons
    for e in events:
        assert e["customer_id"] in customers and e["event_type"] in EVENT_TYPES
        assert e["sku_id"] in skus and start <= e["occurred_at"] < end
        assert (e["coupon_id"] is not None) == (e["event_type"] == "coupon_claim")
    types = Counter(e["event_type"] for e in events)
    assert types["visit"] > types["cart"] > types["favourite"] > 0 and types["coupon_claim"] > 0
    assert len({e["event_id"] for e in events}) == len(events)
    redeemed = 0
    for g in grants:
        assert g["customer_id"] in customers and g["coupon_id"] in coupons
        if g["redeemed_at"] is not None:
            redeemed += 1
            o = orders[g["order_id"]]
            assert o["customer_id"] == g["customer_id"] and g["granted_at"] <= g["redeemed_at"] <= g["expires_at"]
            assert o["amount"] >= coupons[g["coupon_id"]]["threshold"]
        else:
            assert g["order_id"] is None
    assert 0 < redeemed < len(grants)
    for c in coupons.values():
        assert c["issued_at"] < c["valid_from"] or c["issued_at"] == start  # issued before the sale
    assert res.counts["orders"] == n


def test_playbook_shapes_the_sale_and_the_end(tmp_path):
    from dacu.playbook import load_playbook

    pb = load_playbook(PLAYBOOK_618)
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    init_schema(eng)
    res = generate(eng, customers=200, seed=3, playbook=pb, playbook_name=PLAYBOOK_618)
    assert res.end == pb.sale.window.end
    orders = rows(eng, "orders")
    local = [o["created_at"] + timedelta(hours=8) for o in orders]
    end = datetime.combine(pb.sale.window.end + timedelta(days=1), datetime.min.time())
    assert max(local) < end
    presale = [pb_w for ph in pb.phases if ph.id == "presale" for pb_w in ph.windows]
    deposits = [o["created_at"] + timedelta(hours=8) for o in orders
                if o["is_presale"] and (o["created_at"] + timedelta(hours=8)).year == pb.sale.window.end.year]
    assert deposits
    for t in deposits:
        assert any(w.start.replace(tzinfo=None) <= t <= w.end.replace(tzinfo=None) + timedelta(minutes=1)
                   for w in presale), t


def test_bad_arguments_write_nothing(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    init_schema(eng)
    generate(eng, customers=50, seed=1)
    for kwargs in ({"customers": 0, "seed": 1}, {"customers": 10, "seed": -1}, {"customers": 10, "seed": 1, "years": 0}):
        with pytest.raises(GenerateError):
            generate(eng, **kwargs)
    assert len(rows(eng, "customers")) == 50


def _cli(argv: list[str]) -> argparse.Namespace:
    from dacu.cli import data_generate

    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse")
    sub = parser.add_subparsers(dest="group")
    data = sub.add_parser("data").add_subparsers(dest="verb")
    data_generate.register(data)
    return parser.parse_args(argv)


def test_cli_generate_json_and_errors(tmp_path, capsys):
    from dacu.cli import CliError

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = _cli(["--warehouse", url, "data", "generate", "--customers", "40", "--seed", "2", "--end", "2026-07-01",
                 "--years", "1", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["customers"] == 40 and out["end"] == "2026-07-01" and out["start"] == "2025-07-02"
    assert out["counts"]["customers"] == 40 and out["rows"] == sum(out["counts"].values())
    with pytest.raises(CliError, match="--customers"):
        bad = _cli(["--warehouse", url, "data", "generate", "--customers", "0", "--seed", "2"])
        bad.func(bad)
    with pytest.raises(CliError, match="missing.yaml"):
        bad = _cli(["--warehouse", url, "data", "generate", "--customers", "5", "--seed", "2",
                    "--playbook", str(tmp_path / "missing.yaml")])
        bad.func(bad)
    with pytest.raises(SystemExit):
        _cli(["data", "generate", "--customers", "5", "--seed", "2", "--end", "2026-13-01"])
    assert len(rows(make_engine(url), "customers")) == 40
