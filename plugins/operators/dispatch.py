"""DispatchOperator: sends a strategy's frozen crowd through its channels, exactly once per message key."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from operators.context import due_gate_moment, gateway_url, load_playbook, warehouse


def _smtp_settings(conn_id: str) -> dict | None:
    """SMTP settings from an Airflow connection (host, port, login, password; extra: sender, starttls)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    settings = {"host": conn.host, "port": conn.port or 25, "username": conn.login, "password": conn.password,
                "starttls": bool(extra.get("starttls", False))}
    if extra.get("sender"):
        settings["sender"] = extra["sender"]
    return {k: v for k, v in settings.items() if v is not None}


def next_wake(out: dict) -> datetime | None:
    """When the task must call again: the end of a quiet-hours hold or the next smart hour bucket."""
    moments = []
    if out.get("held") and out.get("hold_until"):
        moments.append(datetime.fromisoformat(out["hold_until"]))
    smart = out.get("smart") or {}
    if smart.get("next_bucket_at"):
        moments.append(datetime.fromisoformat(smart["next_bucket_at"]))
    return min(moments) if moments else None


def pass_line(out: dict) -> dict:
    """What one wake-up did (XCom-safe counts)."""
    call = out.get("this_call") or {}
    smart = out.get("smart") or {}
    return {"send_time": out.get("send_time"), "handed_over": call.get("handed_over", 0),
            "held": out.get("held", 0), "due": smart.get("due"), "later": smart.get("later")}


def _send_settings(context: Any, gateway_conn_id: str, smtp_conn_id: str) -> tuple[bool, str | None, dict | None]:
    """(dry_run, gateway URL, SMTP settings) of this run: backfills and ``dry_run`` send nothing."""
    dry_run = bool((context.get("params") or {}).get("dry_run")) or context["dag_run"].run_type == "backfill"
    if dry_run:
        return True, None, None
    return False, gateway_url(gateway_conn_id), _smtp_settings(smtp_conn_id)


def _event_moment(event: Any) -> str | None:
    """The moment a DateTimeTrigger fired for, as ISO text.

    The wake-up moment also travels in the deferral's kwargs, but ``dag.test()``
    replaces those with the event alone, so the event is the source of truth.
    """
    if isinstance(event, datetime):
        return event.isoformat()
    if isinstance(event, str) and event:
        return datetime.fromisoformat(event).isoformat()
    return None


class _SendingOperator(BaseOperator):
    """What the two sending operators share: the playbook, strategy and gate, and the
    Airflow connections of the channel gateway and the SMTP server (never credentials in code)."""

    template_fields: Sequence[str] = ("playbook", "strategy_id", "gate", "gateway_conn_id", "smtp_conn_id")

    def __init__(self, *, playbook: str, strategy_id: str, gate: str,
                 gateway_conn_id: str = "dacu_sms_gateway", smtp_conn_id: str = "dacu_smtp", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.strategy_id = strategy_id
        self.gate = gate
        self.gateway_conn_id = gateway_conn_id
        self.smtp_conn_id = smtp_conn_id


class DispatchOperator(_SendingOperator):
    """Sends one strategy's segment of this gate through its channels.

    Every message has a deterministic key reserved in the ledger before the
    provider call, so a retry, a cleared run or a second worker never sends a
    key twice (docs/dispatch.md). The send time is the gate's moment, never the
    wall clock. The task defers (a ``DateTimeTrigger``: no worker slot held)
    whenever there is more to send later: marketing held by quiet hours (sent
    when the window opens) and, for ``when.smart`` strategies, the next hour
    bucket (send bucket h, defer to h+1, ...). Backfill runs and the ``dry_run``
    param send nothing; they record what would have been sent (ledger state
    ``dry_run``, under keys of their own). Unknown outcomes (timeouts) and keys
    left reserved fail the task so Airflow retries them under the same keys.
    """

    ui_color = "#fecdd3"

    def execute(self, context: Any, send_time: str | None = None, passes: list | None = None) -> dict:
        from dacu.dispatch import dispatch_strategy

        run_key = due_gate_moment(context, self.gate, self.strategy_id)   # the segment snapshot of this gate
        moment = datetime.fromisoformat(send_time or run_key)
        dry_run, url, smtp = _send_settings(context, self.gateway_conn_id, self.smtp_conn_id)
        pb = load_playbook(self.playbook)
        out = dispatch_strategy(warehouse(), pb, self.strategy_id, run_key, moment,
                                gateway_url=url, smtp=smtp, dry_run=dry_run)
        self.log.info("Dispatch of %s at %s%s: %s", self.strategy_id, moment.isoformat(),
                      " (dry run)" if dry_run else "", out)
        if out.get("wave") is not None:
            # The war room reads per-occasion totals, never the ledger itself.
            from dacu.warroom import refresh_dispatch_totals

            refresh_dispatch_totals(warehouse(), pb.sale.id, self.strategy_id, out["wave"], moment)
        if out.get("unknown") or out.get("pending"):
            raise AirflowException(f"{out.get('unknown', 0)} unknown and {out.get('pending', 0)} reserved messages: "
                                   "retrying resends them under the same keys")
        passes = [*(passes or []), pass_line(out)]
        wake = None if dry_run else next_wake(out)
        if wake is not None and wake <= moment:
            self.log.warning("nothing more can be sent before %s; not waiting", wake.isoformat())
            wake = None
        if wake is not None:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            if out.get("held"):
                self.log.info("%d messages held by quiet hours until %s", out["held"], out["hold_until"])
            if (out.get("smart") or {}).get("later"):
                self.log.info("smart timing: %d customers in later hour buckets; next at %s",
                              out["smart"]["later"], out["smart"]["next_bucket_at"])
            self.defer(trigger=DateTimeTrigger(moment=wake), method_name="resume",
                       kwargs={"send_time": wake.isoformat(), "passes": passes})
        return {**out, "passes": passes}

    def resume(self, context: Any, event: Any = None, send_time: str | None = None,
               passes: list | None = None) -> dict:
        """Woken by the trigger: send what is due now (held messages, the next hour bucket)."""
        return self.execute(context, send_time=send_time or _event_moment(event), passes=passes)


class PaymentReminderOperator(_SendingOperator):
    """Payment reminders (催付) of one ``kind: payment_reminder`` strategy with a form-3 ``when``.

    Started at the strategy's daily gate, it works through the day's slice of the
    window (``strategy.window_on(day)``): at each tick (every ``every_minutes``) it
    segments ``unpaid_orders`` as of the tick and sends (``dacu.dispatch.remind_unpaid``),
    then defers to the next tick (``DateTimeTrigger``: no worker slot held in
    between). The ledger's daily keys and reminder caps make a re-run tick send
    nothing new. Backfills and ``dry_run`` walk the ticks without sending.
    """

    ui_color = "#fde68a"

    def execute(self, context: Any, tick: str | None = None, totals: dict | None = None) -> dict:
        from dacu.dispatch.reminders import remind_unpaid

        at = due_gate_moment(context, self.gate, self.strategy_id)
        pb = load_playbook(self.playbook)
        strategy = pb.strategy(self.strategy_id)
        day = datetime.fromisoformat(at).astimezone(pb.tz).date()
        window = strategy.window_on(day)
        if window is None:
            raise AirflowSkipException(f"{self.strategy_id} has no reminder window on {day}")
        start, end = window
        dry_run, url, smtp = _send_settings(context, self.gateway_conn_id, self.smtp_conn_id)
        engine = warehouse()
        totals = dict(totals or {"ticks": 0, "handed_over": 0, "sent": 0, "skipped": {}})
        now = datetime.fromisoformat(tick) if tick else start
        while True:
            out = remind_unpaid(engine, pb, self.strategy_id, start, end, now, gateway_url=url, smtp=smtp,
                                dry_run=dry_run)
            totals["ticks"] += 1
            totals["handed_over"] += (out.get("this_call") or {}).get("handed_over", 0)
            totals.update(sent=out.get("sent", 0), skipped=out.get("skipped", {}), last_tick=out["tick"],
                          wave=out["wave"], dry_run=dry_run)
            self.log.info("reminder tick %s: crowd %s, %s", out["tick"], out["crowd"], pass_line(out))
            if out.get("unknown") or out.get("pending"):
                raise AirflowException(f"{out.get('unknown', 0)} unknown and {out.get('pending', 0)} reserved "
                                       "reminders: retrying resends them under the same keys")
            if out["next_tick"] is None:
                return totals
            if dry_run:
                now = datetime.fromisoformat(out["next_tick"])     # a backfill walks the ticks at once
                continue
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            self.defer(trigger=DateTimeTrigger(moment=datetime.fromisoformat(out["next_tick"])),
                       method_name="resume", kwargs={"tick": out["next_tick"], "totals": totals})

    def resume(self, context: Any, event: Any = None, tick: str | None = None, totals: dict | None = None) -> dict:
        """Woken at the next tick."""
        return self.execute(context, tick=tick or _event_moment(event), totals=totals)
