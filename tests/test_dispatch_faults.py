"""Dispatch fault tests (issue 5 item 13) on SQLite and PostgreSQL.

- kill -9 of a real ``dacu dispatch`` process at random points, 20 times, then a
  rerun: the gateway's own record (``/admin/accepted``) holds every intended key
  exactly once;
- clearing a successful Airflow dispatch task (the operator run twice with the
  same run key) sends nothing new; a backfill run sends nothing;
- property tests (hypothesis) over random send times and customers: no marketing
  SMS inside quiet hours, nothing to a blacklisted, unconsenting or opted-out
  customer, at most one marketing SMS per customer per day.
"""
from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time as _time
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from dacu.dispatch import dispatch_strategy, message_key
from dacu.dispatch.gateway import Faults, Gateway
from dacu.dispatch.ledger import occasion
from dacu.dispatch.rules import in_quiet_hours
from dacu.warehouse.schema import customers, dispatch_ledger
from test_dispatch import SALE, TZ, add_customers, local, playbook, segment  # noqa: F401  (fixture reused)

ROOT = Path(__file__).resolve().parent.parent
DACU = str(Path(sys.executable).with_name("dacu"))
QUIET = (time(20, 0), time(8, 0))          # the test playbook's channels.sms.quiet_hours


def _states(engine) -> dict[str, int]:
    q = select(dispatch_ledger.c.state, func.count()).group_by(dispatch_ledger.c.state)
    with engine.connect() as conn:
        return {s: n for s, n in conn.execute(q)}


def _accepted_ids(gw: Gateway) -> list[str]:
    """The provider's own record, over its HTTP admin endpoint (a list: repeats would show)."""
    return requests.get(gw.url + "/admin/accepted", timeout=10).json()["out_ids"]


# ---- kill -9 of the dispatch process ------------------------------------------------------------------

@pytest.mark.slow
def test_kill9_dispatch_process_20_times_then_rerun_exactly_once(engine, playbook):
    n_customers = 1000
    ids = add_customers(engine, n_customers)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00")
    wave = occasion("sale", local("2027-06-19 10:00"), daily=False)
    intended = {message_key(SALE, "peak_morning", wave, c, ch) for c in ids for ch in ("sms", "inapp")}
    # every provider call takes 30 ms: the process spends over two seconds sending, long enough to be
    # killed between reserve and mark, during a call, or while marking
    with Gateway(port=0, faults=Faults(slow_rate=1.0, slow_ms=30)) as gw:
        cmd = [DACU, "--warehouse", engine.url.render_as_string(hide_password=False), "dispatch",
               "--playbook", str(playbook.path), "--strategy", "peak_morning", "--run-key", "r1",
               "--at", "2027-06-19 10:00", "--gateway-url", gw.url,
               "--gateway-batch", "10", "--db-batch", "100", "--threads", "2"]
        rnd = random.Random(20270619)
        killed_mid_send = 0
        trials = []
        for trial in range(20):
            calls_before = gw.state.stats.send_calls
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            started = _time.monotonic()
            if trial % 2 == 0:
                # a random moment: start-up, reading the crowd, reserving, sending or marking
                _time.sleep(rnd.uniform(0.3, 2.0))
            else:
                # a random number of provider calls into the run, then a random part of a call
                calls = rnd.randint(0, 20)
                while gw.state.stats.send_calls < calls_before + calls and proc.poll() is None \
                        and _time.monotonic() - started < 30:
                    _time.sleep(0.002)
                _time.sleep(rnd.uniform(0.0, 0.03))
            finished = proc.poll() is not None
            if not finished:
                os.kill(proc.pid, signal.SIGKILL)           # kill -9: no handler, no cleanup, no rollback
            proc.wait(10)
            st_ = _states(engine)
            trials.append((finished, st_.get("reserved", 0), st_.get("sent", 0)))
            if not finished and st_.get("reserved", 0) > 0:
                killed_mid_send += 1
        # the kills landed where it hurts: keys reserved (provider called or not) and never marked
        print("trials (finished, reserved, sent):", trials)
        assert killed_mid_send >= 8, trials
        assert sum(1 for f, _, _ in trials if not f) >= 15, trials
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        accepted = _accepted_ids(gw)
        assert len(accepted) == len(set(accepted))                 # no key accepted twice
        assert set(accepted) == intended                           # every intended key, none extra
        assert _states(engine) == {"sent": len(intended)}
        summary = requests.get(gw.url + "/admin/stats", timeout=10).json()
        assert summary["max_per_recipient"] == 1 and summary["recipients"] == 2 * n_customers
        # a rerun of the finished run (a cleared task) sends nothing
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and '"handed_over": 0' in again.stdout
        assert len(_accepted_ids(gw)) == len(intended)
        # kills after the provider accepted a call: the rerun's resend was acknowledged, not sent again
        assert gw.state.stats.duplicates > 0


# ---- the Airflow operator: cleared task, backfill, quiet hours --------------------------------------------

class _TI:
    def __init__(self, plan: dict) -> None:
        self.plan = plan

    def xcom_pull(self, task_ids: str):
        return self.plan


def _operator(monkeypatch, engine, playbook, gw_url: str | None, strategy_id: str):
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    import operators.dispatch as opmod

    monkeypatch.setattr(opmod, "warehouse", lambda: engine)
    monkeypatch.setattr(opmod, "load_playbook", lambda name: playbook)
    monkeypatch.setattr(opmod, "gateway_url", lambda conn_id: gw_url)
    monkeypatch.setattr(opmod, "_smtp_settings", lambda conn_id: None)
    return opmod, opmod.DispatchOperator(task_id=f"dispatch__{strategy_id}", playbook="t618.yaml",
                                         strategy_id=strategy_id, gate="g1000")


def _context(gate_at: str, strategy_id: str, run_type: str = "scheduled", params: dict | None = None) -> dict:
    plan = {"gates": {"g1000": {"at": gate_at, "strategies": [strategy_id]}}}
    return {"ti": _TI(plan), "dag_run": SimpleNamespace(run_type=run_type), "params": params or {}}


def test_cleared_task_sends_nothing_new_and_backfill_never_sends(engine, playbook, monkeypatch):
    gate_at = "2027-06-19T10:00:00+08:00"
    ids = add_customers(engine, 80)
    segment(engine, "peak_morning", ids, "2027-06-19 10:00", run_key=gate_at)
    with Gateway(port=0) as gw:
        _, op = _operator(monkeypatch, engine, playbook, gw.url, "peak_morning")
        backfill = op.execute(_context(gate_at, "peak_morning", run_type="backfill"))
        assert backfill["dry_run"] and backfill["would"]["would_send"] == 160 and not _accepted_ids(gw)
        manual_dry = op.execute(_context(gate_at, "peak_morning", run_type="manual", params={"dry_run": True}))
        assert manual_dry["dry_run"] and not _accepted_ids(gw)
        first = op.execute(_context(gate_at, "peak_morning"))
        assert first["sent"] == 160 and len(_accepted_ids(gw)) == 160
        calls = gw.state.stats.send_calls
        cleared = op.execute(_context(gate_at, "peak_morning"))      # the task cleared and run again
        assert cleared["this_call"]["handed_over"] == 0 and cleared["sent"] == 160
        assert gw.state.stats.send_calls == calls and len(_accepted_ids(gw)) == 160
        # the same through the dispatcher itself, with the gateway's idempotency out of the picture
        gw.state.config.idempotency = False
        again = dispatch_strategy(engine, playbook, "peak_morning", gate_at, local("2027-06-19 10:00"),
                                  gateway_url=gw.url)
        assert again["this_call"]["handed_over"] == 0 and gw.state.stats.accepted == 160


def test_operator_defers_through_quiet_hours_then_sends(engine, playbook, monkeypatch):
    from airflow.sdk.exceptions import TaskDeferred

    gate_at = "2027-06-19T21:00:00+08:00"
    ids = add_customers(engine, 30)
    segment(engine, "peak_night", ids, "2027-06-19 21:00", run_key=gate_at, channels=("sms",))
    with Gateway(port=0) as gw:
        _, op = _operator(monkeypatch, engine, playbook, gw.url, "peak_night")
        ctx = _context(gate_at, "peak_night")
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(ctx)
        trigger = deferred.value.trigger
        assert trigger.moment == local("2027-06-20 08:00") and not _accepted_ids(gw)
        out = getattr(op, deferred.value.method_name)(ctx, event=None, **deferred.value.kwargs)
        assert out["sent"] == 30 and out["held"] == 0 and len(_accepted_ids(gw)) == 30
        assert [p["held"] for p in out["passes"]] == [30, 0]
        assert [p["handed_over"] for p in out["passes"]] == [0, 30]


# ---- property tests: quiet hours, opt-outs, blacklist, consent, caps ----------------------------------

_serial = itertools.count()
_customer = st.fixed_dictionaries({
    "opted_out_min": st.one_of(st.none(), st.integers(-3 * 24 * 60, 4 * 24 * 60)),   # from the gate
    "blacklisted": st.booleans(),
    "consent_sms": st.booleans(),
    "consent_inapp": st.booleans(),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(people=st.lists(_customer, min_size=1, max_size=12),
       calls=st.lists(st.integers(0, 3 * 24 * 60 - 1), min_size=1, max_size=4))
def test_property_quiet_hours_and_optouts_never_violated(engine, playbook, people, calls):
    n = next(_serial)
    gate = local("2027-06-19 06:00")
    rows, truth = [], {}
    for i, p in enumerate(people):
        cid, mob = f"h{n:03d}_{i:02d}", f"139{n:04d}{i:04d}"
        opted = gate + timedelta(minutes=p["opted_out_min"]) if p["opted_out_min"] is not None else None
        rows.append(dict(customer_id=cid, nick="n", mobile=mob, email=None, first_seen_at=datetime(2026, 1, 1),
                         member_level=1, consent_sms=p["consent_sms"], consent_email=False,
                         consent_inapp=p["consent_inapp"], blacklisted=p["blacklisted"],
                         opted_out_at=opted.astimezone(timezone.utc).replace(tzinfo=None) if opted else None))
        truth[cid] = (p, opted)
        truth[mob] = (p, opted)
    with engine.begin() as conn:
        conn.execute(insert(customers), rows)
    run_key = f"prop{n}"
    segment(engine, "peak_morning", [r["customer_id"] for r in rows], "2027-06-19 06:00", run_key=run_key)
    with Gateway(port=0) as gw:
        per_day: dict[tuple[str, str, object], int] = {}
        for minute in sorted(calls):
            t = gate + timedelta(minutes=minute)
            before = set(gw.state.accepted)
            dispatch_strategy(engine, playbook, "peak_morning", run_key, t, gateway_url=gw.url)
            for key in set(gw.state.accepted) - before:
                a = gw.state.accepted[key]
                p, opted = truth[a.recipient]
                where = f"{a.channel} to {a.recipient[:3]}… at {t.isoformat()}"
                assert not p["blacklisted"], f"blacklisted customer messaged: {where}"
                assert p["consent_" + a.channel], f"no consent: {where}"
                assert opted is None or opted > t, f"opted out at {opted}: {where}"
                if a.channel == "sms":
                    assert not in_quiet_hours(t.astimezone(TZ).time(), QUIET), f"inside quiet hours: {where}"
                d = (a.recipient, a.channel, t.astimezone(TZ).date())
                per_day[d] = per_day.get(d, 0) + 1
        assert all(v == 1 for v in per_day.values())            # one marketing message per key, caps hold
