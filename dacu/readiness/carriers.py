"""Gate 5: a test SMS reaches a China Mobile, a China Unicom and a China Telecom number
(seed 004: 发送前请做好测试,尽量分移动/联通/电信号码同时测试).

The numbers are ``channels.sms.test_numbers``; the text is the longest rendering of
the next SMS strategy (so the carriers' sensitive-word filters see real content).
Each carrier's message must get a ``delivered`` receipt within
``readiness.carrier_receipt_timeout_s``; one that does not fails the gate and blocks
the remaining SMS strategies (their recipients on that network would not get them).
Numbers appear masked only.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dacu.dispatch.render import TemplateError
from dacu.pii import mask_mobile
from dacu.playbook.model import CARRIERS
from dacu.readiness.gateway import ChannelProbe, ProbeError
from dacu.readiness.result import CARRIERS as GATE, GateResult, to_utc_naive
from dacu.readiness.sms import longest_text, sms_strategies

POLL_S = 1.0
# Client message ids of carrier test sends start with this, so a provider's record (and a test)
# can tell them from customer messages, whose ids are the ledger's keys.
TEST_ID_PREFIX = "rt"


def test_message_id(sale_id: str, carrier: str, at: datetime, attempt: int = 1) -> str:
    """Deterministic per (sale, carrier, check moment, attempt): a rerun is not sent twice."""
    key = f"{sale_id}|carrier_test|{carrier}|{to_utc_naive(at).isoformat()}|{attempt}"
    return TEST_ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:40]


def _test_text(playbook: Any, at: datetime) -> tuple[str, str | None]:
    remaining = sorted(((min(m for m in s.moments() if m >= at), s) for _, s in sms_strategies(playbook)
                        if any(m >= at for m in s.moments())), key=lambda x: x[0])
    for _, s in remaining:
        try:
            return longest_text(playbook, s), s.id
        except (TemplateError, KeyError):
            continue
    sms = playbook.channels.sms
    return f"{sms.signature}{playbook.sale.name} 短信通道测试 {sms.unsubscribe_suffix}", None


def _wait(probe: ChannelProbe, sent: dict[str, str], timeout_s: float, clock: Callable[[], float],
          sleep: Callable[[float], None]) -> dict[str, str]:
    """carrier -> delivered | failed | timeout, polling until every receipt is in or the time is up."""
    out: dict[str, str] = {}
    pending = dict(sent)
    deadline = clock() + timeout_s
    while pending:
        for carrier, mid in list(pending.items()):
            try:
                receipt = probe.receipt(mid)
            except ProbeError:
                receipt = None      # a transient error: ask again until the deadline
            if receipt is not None:
                out[carrier] = receipt
                del pending[carrier]
        if not pending or clock() >= deadline:
            break
        sleep(min(POLL_S, max(deadline - clock(), 0)))
    out.update({carrier: "timeout" for carrier in pending})
    return out


def check_carriers(playbook: Any, at: datetime, probe: ChannelProbe | None, *,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> GateResult:
    res = GateResult(GATE)
    remaining = [s for _, s in sms_strategies(playbook) if any(m >= at for m in s.moments())]
    if not remaining:
        res.reasons.append("no SMS send left in the sale")
        return res
    sms = playbook.channels.sms
    if sms is None:
        res.fail("channels.sms is not set: no channel to test")
        return res
    numbers = dict(sms.test_numbers)
    missing = [c for c in CARRIERS if c not in numbers]
    if missing:
        res.warn(f"channels.sms.test_numbers has no {', '.join(missing)} number: that network is not tested")
    if not numbers:
        return res
    if probe is None:
        res.warn("carrier test not sent: no channel gateway configured (--gateway-url / DACU_GATEWAY_URL)")
        return res
    text, source = _test_text(playbook, at)
    res.details.update(text_from=source, text_length=len(text))
    outcome: dict[str, dict[str, Any]] = {c: {"number": mask_mobile(numbers[c]), "attempts": []}
                                          for c in CARRIERS if c in numbers}
    todo = list(outcome)
    for attempt in range(1, playbook.readiness.carrier_test_attempts + 1):
        if not todo:
            break
        sent: dict[str, str] = {}
        for carrier in todo:
            try:
                sent[carrier] = probe.send_test(
                    numbers[carrier], text, out_id=test_message_id(playbook.sale.id, carrier, at, attempt),
                    send_time=at)
            except ProbeError as exc:
                outcome[carrier]["attempts"].append("refused")
                outcome[carrier]["error"] = str(exc)
        receipts = _wait(probe, sent, playbook.readiness.carrier_receipt_timeout_s, clock, sleep)
        for carrier, receipt in receipts.items():
            outcome[carrier]["attempts"].append(receipt)
        todo = [c for c in todo if outcome[c]["attempts"][-1] != "delivered"]
    for o in outcome.values():
        o["receipt"] = o["attempts"][-1]
    res.details["carriers"] = outcome
    bad = []
    for carrier, o in outcome.items():
        if o.get("receipt") == "delivered":
            continue
        tries = ", ".join(o["attempts"])
        if o["receipt"] == "refused":
            res.fail(f"{carrier} test number {o['number']}: {o.get('error', 'refused')} (attempts: {tries})")
        elif o["receipt"] == "timeout":
            res.fail(f"{carrier} test number {o['number']}: no delivery receipt within readiness."
                     f"carrier_receipt_timeout_s={playbook.readiness.carrier_receipt_timeout_s} (attempts: {tries})")
        else:
            res.fail(f"{carrier} test number {o['number']}: not delivered (attempts: {tries})")
        bad.append(carrier)
    if bad:
        for s in remaining:
            res.block(s.id, f"carrier test failed on {', '.join(bad)}")
    else:
        res.reasons.append(f"test SMS delivered on {', '.join(outcome)}")
    return res
