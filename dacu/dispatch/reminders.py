"""Payment reminders (催付): one micro-batch of a ``kind: payment_reminder`` strategy with a form-3 ``when``.

During the strategy's window, every ``every_minutes`` the crowd (``unpaid_orders``:
orders unpaid ``after_order_minutes`` after they were placed, 15 minutes for
聚划算, buyers who paid another order left out) is segmented at the tick and
dispatched at once. The ledger key's occasion is the sale-local *day*, and the
reminder caps (1 per buyer per day, 2 per sale) are cap slots, so a buyer
matched by many ticks is reminded at most once a day whatever the micro-batch,
and a rerun of a tick sends nothing new. Texts carry "若已付款请忽略此短信" and
the payment link (``{pay_link}``, required in the template).

The strategy's ``filters`` (seed 004 催付设置: 实付金额 range, 屏蔽卖家标记,
指定商品/排除指定商品) are order-level conditions of ``unpaid_orders``: a buyer
is reminded when at least one of their unpaid orders passes them. The loader
folds them into the crowd's params (``Strategy.with_filters_applied``), so the
segment snapshot's crowd expression records them and a form-1 reminder segmented
by ``segment__<s>`` applies them the same way.

The Airflow side (``plugins/operators/dispatch.py`` ``PaymentReminderOperator``)
calls :func:`remind_unpaid` once per tick of the day's slice of the window and
defers to the next tick in between.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from dacu.dispatch.dispatcher import DispatchError, dispatch_strategy

REMINDER_CROWD = "unpaid_orders"


def ticks(window_start: datetime, window_end: datetime, every_minutes: int) -> list[datetime]:
    """The micro-batch moments of ``[window_start, window_end)``."""
    step = timedelta(minutes=every_minutes)
    out, t = [], window_start
    while t < window_end:
        out.append(t)
        t += step
    return out


def tick_at(window_start: datetime, every_minutes: int, moment: datetime) -> datetime:
    """The latest tick at or before ``moment`` (ticks start at ``window_start``)."""
    step = timedelta(minutes=every_minutes)
    return window_start + ((moment - window_start) // step) * step


def _crowd(strategy) -> Any:
    """The strategy's crowd with its filters; ``when.after_order_minutes`` is the crowd's delay unless it sets one."""
    crowd = strategy.with_filters_applied().crowd      # a no-op for a loaded playbook (the loader folded them)
    after = strategy.when.after_order_minutes
    if crowd.base == REMINDER_CROWD and after is not None and "delay_minutes" not in crowd.params:
        crowd = crowd.model_copy(update={"params": {**crowd.params, "delay_minutes": after}})
    return crowd


def remind_unpaid(engine: Engine, playbook, strategy_id: str, window_start: datetime, window_end: datetime,
                  now_moment: datetime, *, gateway_url: str | None, smtp: dict | None = None,
                  dry_run: bool = False, **dispatch_kw: Any) -> dict:
    """Run the micro-batch due at ``now_moment`` (aware, inside ``[window_start, window_end)``).

    The tick is the latest ``window_start + k * every_minutes`` at or before
    ``now_moment``: the crowd is segmented as of the tick (run key ``remind@<tick>``)
    and sent at it. Returns the dispatch counts plus ``tick`` and ``next_tick``
    (None after the last tick of the window). ``dispatch_kw`` go to
    :func:`dacu.dispatch.dispatch_strategy`.
    """
    from dacu.crowds.evaluate import GateEvaluator, crowd_expr
    from dacu.crowds.snapshot import write_segment_snapshot

    for name, t in (("window_start", window_start), ("window_end", window_end), ("now_moment", now_moment)):
        if t.tzinfo is None:
            raise DispatchError(f"{name} must be timezone-aware")
    try:
        strategy = playbook.strategy(strategy_id)
    except KeyError as exc:
        raise DispatchError(str(exc).strip("'\"")) from None
    if strategy.kind != "payment_reminder" or strategy.when.form != 3 or not strategy.when.every_minutes:
        raise DispatchError(f"strategy {strategy_id}: remind_unpaid needs kind payment_reminder with "
                            "when from/to/every_minutes")
    if strategy.crowd is None:
        raise DispatchError(f"strategy {strategy_id}: crowd is required")
    if not window_start <= now_moment < window_end:
        raise DispatchError(f"strategy {strategy_id}: {now_moment.isoformat()} is outside the window "
                            f"[{window_start.isoformat()}, {window_end.isoformat()})")
    every = strategy.when.every_minutes
    tick = tick_at(window_start, every, now_moment).astimezone(playbook.tz)
    run_key = f"remind@{tick.isoformat(timespec='minutes')}"
    ev = GateEvaluator(engine, playbook, tick, features="off")   # no feature table build every few minutes
    expr = crowd_expr(_crowd(strategy))
    comp, eligible, excluded = ev.eligible(expr, strategy.channels)
    seg = write_segment_snapshot(
        engine, playbook.sale.id, strategy.id, strategy.wave, run_key, tick, eligible,
        float(strategy.holdout_pct or 0), crowd_size=len(comp.crowd), excluded_by_reason=excluded,
        channels=strategy.channels, crowd_expr_json=expr.to_json())
    out = dispatch_strategy(engine, playbook, strategy_id, run_key, tick, gateway_url=gateway_url, smtp=smtp,
                            dry_run=dry_run, **dispatch_kw)
    nxt = tick + timedelta(minutes=every)
    out.update({"tick": tick.isoformat(), "next_tick": nxt.isoformat() if nxt < window_end else None,
                "crowd": {"matched": len(comp.crowd), "treatment": seg.treatment, "holdout": seg.holdout,
                          "excluded": excluded}})
    return out
