"""Smart send time (issue 5 item 6): hour buckets from visits, sent bucket by bucket, on both backends;
the Airflow operator loops send bucket h -> defer to h+1 (DateTimeTrigger) -> ...."""
from __future__ import annotations

import textwrap
from datetime import datetime, time, timezone

import pytest
from sqlalchemy import insert

from dacu.dispatch import dispatch_strategy
from dacu.dispatch.gateway import Gateway
from dacu.dispatch.smart import allowed_hours, assign
from dacu.playbook import load_playbook
from dacu.warehouse.schema import events
from test_dispatch import PLAYBOOK, add_customers, local, mobile, segment
from test_dispatch_faults import _context, _operator

SMART = textwrap.indent(textwrap.dedent("""\
    - id: peak_smart
      name: 6.17-6.19 智能时段提醒
      scene: automation
      phase: peak
      wave: sale
      kind: crowd_task
      when: {from: 2027-06-17, to: 2027-06-19, time: "10:00", smart: true}
      crowd: {base: members}
      material: {template: "{nick},618好价,戳 {link}"}
      channels: [sms, inapp]
    """), "  ")


@pytest.fixture(scope="module")
def smart_playbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("pb") / "t618_smart.yaml"
    path.write_text(PLAYBOOK.replace("coupons:\n", SMART + "coupons:\n", 1), encoding="utf-8")
    return load_playbook(path)


def test_allowed_hours_and_assignment():
    quiet = (time(20, 0), time(8, 0))
    assert allowed_hours(time(10, 0), [quiet, None]) == list(range(10, 20))
    assert allowed_hours(time(10, 30), [(time(22, 0), time(8, 0))]) == list(range(10, 22))
    assert allowed_hours(time(21, 0), [quiet]) == [21]           # all quiet: the rules hold it
    assert allowed_hours(time(9, 0), []) == list(range(9, 24))   # transactional: no quiet hours
    hours = list(range(10, 20))
    got = assign(["a", "b", "c", "d"], {"a": 14, "b": 22, "c": 3}, hours)
    assert got == {"a": 14, "b": 19, "c": 10, "d": 10}


def _visits(engine, cid: str, *moments: str) -> None:
    rows = [dict(customer_id=cid, event_type="visit",
                 occurred_at=local(m).astimezone(timezone.utc).replace(tzinfo=None)) for m in moments]
    with engine.begin() as conn:
        conn.execute(insert(events), rows)


def _shop(engine) -> list[str]:
    ids = add_customers(engine, 8)
    _visits(engine, ids[0], "2027-06-15 14:10", "2027-06-16 14:40", "2027-06-18 14:05", "2027-06-18 09:00")
    _visits(engine, ids[1], "2027-06-17 22:30", "2027-06-18 22:10")                 # quiet hours -> 19:00
    _visits(engine, ids[2], "2027-06-18 03:00")                                      # night owl -> 10:00
    _visits(engine, ids[4], "2027-04-01 15:00", "2027-04-02 15:00")                 # older than 30 days
    _visits(engine, ids[5], "2027-06-19 16:00", "2027-06-19 16:30")                 # after the gate moment
    _visits(engine, ids[6], "2027-06-10 11:00", "2027-06-11 13:00")                 # a tie: the earlier hour
    _visits(engine, ids[7], "2027-06-18 19:59", "2027-06-18 19:10", "2027-06-18 08:00")
    # a visit event of another type does not count
    with engine.begin() as conn:
        conn.execute(insert(events), [dict(customer_id=ids[3], event_type="cart",
                                           occurred_at=datetime(2027, 6, 18, 9, 0))])
    return ids


@pytest.mark.parametrize("page", [50_000, 3])
def test_smart_buckets_sent_hour_by_hour_exactly_once(engine, smart_playbook, monkeypatch, page):
    import dacu.dispatch.dispatcher as dispatcher

    monkeypatch.setattr(dispatcher, "CROWD_PAGE", page)   # 3: buckets summed over the crowd's pages
    ids = _shop(engine)
    segment(engine, "peak_smart", ids, "2027-06-19 10:00")
    expect = {ids[0]: 14, ids[1]: 19, ids[2]: 10, ids[3]: 10, ids[4]: 10, ids[5]: 10, ids[6]: 11, ids[7]: 19}
    with Gateway(port=0) as gw:
        sent_at: dict[str, datetime] = {}
        t = local("2027-06-19 10:00")
        calls = []
        while t is not None:
            before = set(gw.state.accepted)
            out = dispatch_strategy(engine, smart_playbook, "peak_smart", "r1", t, gateway_url=gw.url)
            calls.append((t.strftime("%H:%M"), out["this_call"]["handed_over"], out["smart"]["due"]))
            for k in set(gw.state.accepted) - before:
                sent_at[gw.state.accepted[k].recipient] = t
            nxt = out["smart"]["next_bucket_at"]
            t = datetime.fromisoformat(nxt) if nxt else None
        assert out["smart"]["buckets"] == {"10": 4, "11": 1, "14": 1, "19": 2}
        assert out["smart"]["with_visits"] == 5      # ids 0, 1, 2, 6, 7
        assert calls == [("10:00", 8, 4), ("11:00", 2, 5), ("14:00", 2, 6), ("19:00", 4, 8)]
        # each customer's SMS and in-app message went out at their hour, never in quiet hours
        for i, cid in enumerate(ids):
            assert sent_at[mobile(i)].hour == expect[cid] and sent_at[cid].hour == expect[cid]
        assert out["sent"] == 16 and gw.state.summary()["max_per_recipient"] == 1
        # a later call (a cleared task, a late worker) sends nothing again
        again = dispatch_strategy(engine, smart_playbook, "peak_smart", "r1", local("2027-06-19 19:30"),
                                  gateway_url=gw.url)
        assert again["this_call"]["handed_over"] == 0 and again["smart"]["next_bucket_at"] is None
        # a dry run looks at the whole crowd at once and sends nothing
        dry = dispatch_strategy(engine, smart_playbook, "peak_smart", "r1", local("2027-06-19 10:00"),
                                gateway_url=None, dry_run=True)
        assert dry["would"]["already_sent"] == 16 and len(gw.state.accepted) == 16


def test_operator_defers_between_hour_buckets(engine, smart_playbook, monkeypatch):
    from airflow.sdk.exceptions import TaskDeferred

    gate_at = "2027-06-19T10:00:00+08:00"
    ids = _shop(engine)
    segment(engine, "peak_smart", ids, "2027-06-19 10:00", run_key=gate_at)
    with Gateway(port=0) as gw:
        _, op = _operator(monkeypatch, engine, smart_playbook, gw.url, "peak_smart")
        ctx = _context(gate_at, "peak_smart")
        wakes = []
        call, kwargs = op.execute, {}
        while True:
            try:
                out = call(ctx, **kwargs)
                break
            except TaskDeferred as d:        # the task frees its worker slot until the trigger fires
                wakes.append(d.trigger.moment)
                assert d.method_name == "resume" and len(gw.state.accepted) < 16
                call, kwargs = getattr(op, d.method_name), {"event": None, **d.kwargs}
        assert wakes == [local("2027-06-19 11:00"), local("2027-06-19 14:00"), local("2027-06-19 19:00")]
        assert [p["handed_over"] for p in out["passes"]] == [8, 2, 2, 4]
        assert out["sent"] == 16 and len(gw.state.accepted) == 16
