"""DispatchOperator: sends a strategy's frozen crowd through its channels, exactly once per message key."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from operators.context import day_plan, gateway_url, load_playbook, warehouse


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


class DispatchOperator(BaseOperator):
    """Sends one strategy's segment of this gate through its channels.

    Every message has a deterministic key reserved in the ledger before the
    provider call, so a retry, a cleared run or a second worker never sends a
    key twice (docs/dispatch.md). The send time is the gate's moment, never the
    wall clock. Marketing messages that fall in quiet hours are held: the task
    defers (no worker slot) until the window opens and sends them then.
    Backfill runs and ``dry_run`` count what would be sent and send nothing: a
    sale day replayed later must not message customers late. Unknown outcomes
    (timeouts) fail the task so Airflow retries them under the same keys.
    """

    template_fields: Sequence[str] = ("playbook", "strategy_id", "gate", "gateway_conn_id", "smtp_conn_id")
    ui_color = "#fecdd3"

    def __init__(self, *, playbook: str, strategy_id: str, gate: str,
                 gateway_conn_id: str = "dacu_sms_gateway", smtp_conn_id: str = "dacu_smtp", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.strategy_id = strategy_id
        self.gate = gate
        self.gateway_conn_id = gateway_conn_id
        self.smtp_conn_id = smtp_conn_id

    def execute(self, context: Any, send_time: str | None = None) -> dict:
        from dacu.dispatch import dispatch_strategy

        gate = day_plan(context)["gates"].get(self.gate) or {}
        if self.strategy_id not in gate.get("strategies", []):
            raise AirflowSkipException(f"{self.strategy_id} is not due at gate {self.gate} on this sale day")
        run_key = gate["at"]                                  # the segment snapshot of this gate
        moment = datetime.fromisoformat(send_time or gate["at"])
        dag_run = context["dag_run"]
        params = context.get("params") or {}
        dry_run = bool(params.get("dry_run")) or dag_run.run_type == "backfill"
        pb = load_playbook(self.playbook)
        out = dispatch_strategy(
            warehouse(), pb, self.strategy_id, run_key, moment,
            gateway_url=None if dry_run else gateway_url(self.gateway_conn_id),
            smtp=None if dry_run else _smtp_settings(self.smtp_conn_id), dry_run=dry_run,
        )
        self.log.info("Dispatch of %s at %s%s: %s", self.strategy_id, moment.isoformat(),
                      " (dry run)" if dry_run else "", out)
        if out.get("unknown") or out.get("pending"):
            raise AirflowException(f"{out.get('unknown', 0)} unknown and {out.get('pending', 0)} reserved messages: "
                                   "retrying resends them under the same keys")
        if out.get("held") and out.get("hold_until") and not dry_run:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            until = datetime.fromisoformat(out["hold_until"])
            self.log.info("%d messages held by quiet hours until %s", out["held"], until.isoformat())
            self.defer(trigger=DateTimeTrigger(moment=until), method_name="resume",
                       kwargs={"send_time": until.isoformat(), "first": out})
        return out

    def resume(self, context: Any, event: Any = None, send_time: str | None = None, first: dict | None = None) -> dict:
        """After quiet hours: send what was held, then report both passes."""
        later = self.execute(context, send_time=send_time)
        return {"first_pass": first or {}, "after_quiet_hours": later}
