"""Ordered message keys, legacy occasions, and the PostgreSQL fast paths of the ledger writes.

Runs on SQLite and PostgreSQL (the ``engine`` fixture) against a real gateway on a loopback port.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from dacu.dispatch import dispatch_strategy, ledger
from dacu.dispatch.gateway import Gateway
from dacu.warehouse.schema import dispatch_cap_slots, dispatch_ledger
from tests.test_dispatch import SALE, add_customers, local, playbook, segment  # noqa: F401  (fixtures)


def test_key_is_deterministic_ordered_and_never_carries_a_phone_or_email():
    a = ledger.message_key("s", "st", "sale@2027-06-19T10:00", "c00001", "sms")
    assert a == ledger.message_key("s", "st", "sale@2027-06-19T10:00", "c00001", "sms")      # same identity
    prefix = hashlib.sha256("s\x1fst\x1fsale@2027-06-19T10:00".encode()).hexdigest()[:20]
    assert a == prefix + "sms~c00001"
    # every part of the identity matters
    others = {ledger.message_key(*p) for p in [("s2", "st", "sale@2027-06-19T10:00", "c00001", "sms"),
                                                ("s", "st2", "sale@2027-06-19T10:00", "c00001", "sms"),
                                                ("s", "st", "sale@2027-06-19T12:00", "c00001", "sms"),
                                                ("s", "st", "sale@2027-06-19T10:00", "c00002", "sms"),
                                                ("s", "st", "sale@2027-06-19T10:00", "c00001", "inapp")]}
    assert len(others) == 5 and a not in others
    # within an occasion and channel, keys sort like the customer ids (the order they are reserved in)
    ids = [f"c{i:05d}" for i in range(0, 5000, 7)]
    keys = [ledger.message_key("s", "st", "w", c, "sms") for c in ids]
    assert keys == sorted(keys)
    # ids that are not plain, or hold a phone-like run of digits, are hashed: no phone or email in a key
    for cid in ("13812345678", "u1@qq.com", "x" * 37, "名字", "a b"):
        k = ledger.message_key("s", "st", "w", cid, "sms")
        assert cid not in k and len(k) <= 62 and "=" in k
        assert k == ledger.message_key("s", "st", "w", cid, "sms")
    assert ledger.message_key("s", "st", "w", "13812345678", "sms") != ledger.message_key("s", "st", "w",
                                                                                        "13812345679", "sms")
    # a plain id can never produce a hashed form's key, nor a legacy (64 hex) one
    assert not ledger.is_legacy_key(a) and ledger.is_legacy_key(ledger.legacy_key("s", "st", "w", "c1", "sms"))
    with pytest.raises(ValueError):
        ledger.message_key("s", "st", "w", "c1", "fax")


def test_pack_refuses_what_would_not_come_back():
    assert ledger.pack(["a", "b"]) == "a\x1fb" and ledger.pack([]) == ""
    for bad in (["a\x1fb"], ["a", ""]):
        with pytest.raises(ValueError):
            ledger.pack(bad)


def test_receipts_map_back_to_the_ordered_keys(engine, playbook):
    with Gateway(port=0) as gw:
        ids = add_customers(engine, 120)
        segment(engine, "peak_morning", ids, "2027-06-19 10:00")
        res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"),
                                gateway_url=gw.url, db_batch=50)
        assert res["sent"] == 240
        want = {ledger.message_key(SALE, "peak_morning", res["wave"], c, ch) for c in ids for ch in ("sms", "inapp")}
        assert set(gw.state.accepted) == want                                 # the gateway's ids are the keys
        with engine.connect() as conn:
            rows = {r.message_key: r.receipt for r in conn.execute(
                select(dispatch_ledger.c.message_key, dispatch_ledger.c.receipt))}
        assert set(rows) == want
        # every receipt in the ledger is the one the gateway holds under that id
        assert rows == {k: gw.state.accepted[k].receipt for k in want}
        assert res["delivered"] + res["undelivered"] == 240


def test_an_occasion_begun_under_legacy_keys_keeps_them(engine, playbook):
    """A ledger written before the ordered keys: the rest of that occasion goes under the old keys
    (held overnight, a retry after an upgrade), so nobody gets a message twice."""
    with Gateway(port=0) as gw:
        ids = add_customers(engine, 40)
        segment(engine, "peak_morning", ids, "2027-06-19 10:00")
        wave = "sale@2027-06-19T10:00"
        t = datetime(2027, 6, 19, 2, 0)
        const = {"sale_id": SALE, "strategy_id": "peak_morning", "wave": wave, "run_key": "r1",
                 "msg_class": "marketing", "planned_at": t, "updated_at": t}
        old = [(ledger.legacy_key(SALE, "peak_morning", wave, c, "sms"), c, "sms", "sent", None, None, None)
               for c in ids[:10]]
        with engine.begin() as conn:
            ledger.insert_batch(conn, const, old)
        res = dispatch_strategy(engine, playbook, "peak_morning", "r1", local("2027-06-19 10:00"), gateway_url=gw.url)
        legacy = {ledger.legacy_key(SALE, "peak_morning", wave, c, ch) for c in ids for ch in ("sms", "inapp")}
        assert set(gw.state.accepted) == legacy - {k for k, *_ in old}          # the 10 sent ones not again
        assert res["sent"] == 80 and res["this_call"]["handed_over"] == 70
        # a new occasion of the same strategy gets ordered keys
        segment(engine, "peak_morning", ids, "2027-06-20 10:00", run_key="r2")   # the next day: fresh daily caps
        res2 = dispatch_strategy(engine, playbook, "peak_morning", "r2", local("2027-06-20 10:00"), gateway_url=gw.url)
        assert res2["this_call"]["handed_over"] == 80
        new = set(gw.state.accepted) - legacy
        assert new == {ledger.message_key(SALE, "peak_morning", res2["wave"], c, ch) for c in ids
                       for ch in ("sms", "inapp")}


def test_insert_batch_names_only_its_own_keys_when_some_exist(engine):
    t = datetime(2027, 6, 19, 2, 0)
    const = {"sale_id": SALE, "strategy_id": "s", "wave": "w", "run_key": "r", "msg_class": "marketing",
             "planned_at": t, "updated_at": t}
    rows = [(ledger.message_key(SALE, "s", "w", f"c{i:03d}", "sms"), f"c{i:03d}", "sms", "reserved", None, None, None)
            for i in range(30)]
    with engine.begin() as conn:
        first = ledger.insert_batch(conn, const, rows[:10])
        # a concurrent attempt's keys already there: the plain insert fails, ON CONFLICT takes over
        second = ledger.insert_batch(conn, const, [(k, c, ch, "skipped", "x", h, e) for k, c, ch, _, _, h, e in rows])
    if engine.dialect.name == "postgresql":
        assert first == {r[0] for r in rows[:10]} and second == {r[0] for r in rows[10:]}
    with engine.connect() as conn:
        states = dict(conn.execute(select(dispatch_ledger.c.message_key, dispatch_ledger.c.state)).all())
    assert len(states) == 30
    assert all(states[r[0]] == "reserved" for r in rows[:10]) and all(states[r[0]] == "skipped" for r in rows[10:])


def test_claim_slots_fast_path_then_conflicts_and_release_by_scope(engine):
    items = [(ledger.message_key(SALE, "s", "w", f"c{i}", "sms"), f"c{i}", "sms") for i in range(20)]
    memo: dict = {}
    with engine.begin() as conn:
        got = ledger.claim_slots(conn, "mkt_day", "p", 1, items[:10], memo)
        assert got == {k for k, _, _ in items[:10]} and memo == {}
        # another strategy's messages to the same customers: the daily slot is taken for the first ten
        other = [(ledger.message_key(SALE, "s2", "w", c, ch), c, ch) for _, c, ch in items]
        got2 = ledger.claim_slots(conn, "mkt_day", "p", 1, other, memo)
        assert got2 == {k for k, _, _ in other[10:]}
        if engine.dialect.name == "postgresql":
            assert memo == {("mkt_day", "p"): False}          # later batches go straight to ON CONFLICT
        # a cap of 2: the first ten get slot 2
        got3 = ledger.claim_slots(conn, "mkt_sale", "p", 2, other[:10], memo)
        assert got3 == {k for k, _, _ in other[:10]}
        # give back what the first five of the second strategy hold in mkt_day (none) and mkt_sale
        ledger.release_slots(conn, [("mkt_day", "p"), ("mkt_sale", "p")], other[:5])
        ledger.release_slots(conn, [("mkt_day", "p")], items[10:12])            # held by nobody: no-op
    with engine.connect() as conn:
        held = {(r.scope, r.message_key) for r in conn.execute(select(dispatch_cap_slots))}
    assert held == ({("mkt_day", k) for k, _, _ in items[:10]} | {("mkt_day", k) for k, _, _ in other[10:]}
                    | {("mkt_sale", k) for k, _, _ in other[5:10]})


def test_mark_plan_stays_a_hash_join_when_statistics_say_all_rows_are_final(engine):
    """Once ANALYZE says nearly every ledger row is final, a mark batch was planned as a nested
    loop rescanning its arrays for every ledger row (quadratic: seconds a batch). mark_batch pins
    the join for its transaction; the marks stay right."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL planner")
    t = datetime(2027, 6, 19, 2, 0)
    const = {"sale_id": SALE, "strategy_id": "s", "wave": "w", "run_key": "r", "msg_class": "marketing",
             "planned_at": t, "updated_at": t}
    keys = [ledger.message_key(SALE, "s", "w", f"c{i:05d}", "sms") for i in range(6000)]
    with engine.begin() as conn:
        ledger.insert_batch(conn, const, [(k, k[-6:], "sms", "sent", None, None, None) for k in keys[:4000]])
        ledger.insert_batch(conn, const, [(k, k[-6:], "sms", "reserved", None, None, None) for k in keys[4000:]])
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE dispatch_ledger")
    rows = [(k, "sent", None, f"gw{i}", 1, 0.045, t.date()) for i, k in enumerate(keys[4000:])]
    with engine.begin() as conn:
        ledger.mark_batch(conn, t + timedelta(minutes=1), rows)
        binds = {"updated_at": t}
        for c, values in zip(ledger.MARK_ROW, zip(*rows)):
            binds[c] = ledger.pack(values) if c in ledger.PACKED else list(values)
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute("EXPLAIN " + ledger._pg_query("ledger_mark"), binds, binary=True, prepare=False)
            plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Nested Loop" not in plan and "Hash Join" in plan, plan
    with engine.connect() as conn:
        marked = conn.execute(select(dispatch_ledger.c.message_key).where(
            (dispatch_ledger.c.provider_id.isnot(None)) & (dispatch_ledger.c.attempts == 1))).all()
    assert {m for (m,) in marked} == set(keys[4000:])
