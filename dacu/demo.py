"""``make demo``: a small shop and one sale's season replayed as dated Airflow runs.

Steps: generate a deterministic shop shaped around the playbook into the demo
warehouse, migrate Airflow's metadata DB (SQLite), then for every DAG of the
sale run ``dag.test()`` dated on the sale days that have something due (as a
backfill would: ``logical_date = run_after =`` that day's tick), and print per
phase what ran. Everything stays on the laptop: SQLite for Airflow and the
warehouse, no network.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from dacu.paths import PLAYBOOK_DIR, REPO_ROOT


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def pick_days(playbook, phase_id: str, per_phase: int | None, before: date) -> list[date]:
    """The phase's past sale days with something due; with ``per_phase``, the
    first, the last and the busiest days up to that many.

    Only days before ``before`` (today) are replayed: like ``airflow backfill
    create``, the demo never runs a day whose gates are still in the future.
    """
    if phase_id == "readiness":
        # The readiness gates run every day: show the start and the last days before the sale.
        days = [d for d in playbook.phase(phase_id).days() if d < before]
        return sorted({*days[:1], *days[-3:]}) if per_phase else days
    days = [d for d in playbook.phase(phase_id).days()
            if d < before and any(playbook.due(phase_id, d).values())]
    if per_phase is None or len(days) <= per_phase:
        return days
    load = {d: sum(len(v) for v in playbook.due(phase_id, d).values()) for d in days}
    chosen = {days[0], days[-1]}
    for d in sorted(days, key=lambda d: (-load[d], d)):
        if len(chosen) >= per_phase:
            break
        chosen.add(d)
    return sorted(chosen)


def _airflow_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO_ROOT / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return env


def quiet_airflow() -> None:
    """Airflow's INFO lines would bury the summary; its warnings and errors still show."""
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")


def migrate_airflow() -> None:
    airflow_bin = Path(sys.executable).with_name("airflow")
    res = subprocess.run([str(airflow_bin), "db", "migrate"], env=_airflow_env(),
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
        raise SystemExit("airflow db migrate failed")


# Scene tasks wait for a person (Airflow HITL). dag.test would block on them, so the demo
# marks them done (Airflow's own test switch) and says so; in the UI a person answers them.
SCENE_TASKS = r".*\.scene__.*"


def summarize_run(dr) -> dict:
    """Per run: task states, the counts the segment tasks returned, readiness and scene tasks due."""
    states: dict[str, int] = {}
    segments, readiness, scene_due = [], {}, []
    for ti in dr.get_task_instances():
        if ti.task_id == "plan_day":
            plan = ti.xcom_pull(task_ids="plan_day") or {}
            scene_due = sorted({sid for g in plan.get("gates", {}).values() for sid in g["strategies"]})
        if ti.task_id == "readiness.report":
            readiness = ti.xcom_pull(task_ids=ti.task_id) or {}
        if ti.task_id == "preflight" and str(ti.state).endswith("success"):
            readiness = {**(ti.xcom_pull(task_ids=ti.task_id) or {}), "preflight": True}
        if ".scene__" in ti.task_id:
            continue
        state = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        states[state] = states.get(state, 0) + 1
        if ".remind__" in ti.task_id and state == "success":
            gate, sid = ti.task_id.split(".remind__", 1)
            segments.append((f"{gate[1:3]}:{gate[3:]} {sid}", {"reminder": ti.xcom_pull(task_ids=ti.task_id) or {}}))
        if ".segment__" in ti.task_id and state == "success":
            out = ti.xcom_pull(task_ids=ti.task_id) or {}
            gate, sid = ti.task_id.split(".segment__", 1)
            sent = {}
            for other in dr.get_task_instances():
                if other.task_id == f"{gate}.dispatch__{sid}":
                    sent = (other.xcom_pull(task_ids=other.task_id) or {}) if str(other.state).endswith("success") \
                        else {"state": str(getattr(other.state, "value", other.state))}
            segments.append((f"{gate[1:3]}:{gate[3:]} {sid}", {**out, "dispatch": sent}))
    scene_ids = {ti.task_id.split(".scene__", 1)[1] for ti in dr.get_task_instances() if ".scene__" in ti.task_id}
    # Crowd strategies due today whose segment was skipped: a failed readiness gate blocked them.
    blocked = sorted({ti.task_id.split(".segment__", 1)[1] for ti in dr.get_task_instances()
                      if ".segment__" in ti.task_id and str(ti.state).endswith("skipped")
                      and ti.task_id.split(".segment__", 1)[1] in scene_due})
    return {"state": str(dr.state), "states": states, "segments": segments, "readiness": readiness,
            "scene_due": [sid for sid in scene_due if sid in scene_ids], "blocked": blocked}


def blocked_reason(pb, strategy_id: str, day: date) -> str:
    """Why a due strategy did not run: the readiness gate that blocks it (same rule as the task)."""
    from dacu.readiness import blocked_strategies
    from dacu.warehouse.connect import get_engine

    moments = pb.strategy(strategy_id).moments_on(day)
    at = moments[0] if moments else datetime.combine(day, datetime.min.time(), tzinfo=pb.tz)
    return blocked_strategies(get_engine(), pb, at).get(strategy_id, "skipped (see the task log)")


def dispatch_line(d: dict) -> str:
    """One line of dispatch counts (first pass and, when held by quiet hours, the later pass)."""
    if "ticks" in d:        # a payment-reminder micro-batch: every few minutes through the day's window
        skipped = ", ".join(f"{k} {v}" for k, v in sorted((d.get("skipped") or {}).items()) if v)
        return f"micro-batches through the day's window, sent {d.get('sent', 0)}" + (
            f", skipped: {skipped}" if skipped else "")
    if "state" in d and len(d) == 1:
        return f"dispatch {d['state']}"
    skipped = d.get("skipped") or {}
    skipped_txt = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()) if v) if isinstance(skipped, dict) else skipped
    parts = [f"sent {d.get('sent', 0)}"]
    if len(d.get("passes") or []) > 1:
        parts.append(f"in {len(d['passes'])} passes (quiet hours / smart hour buckets)")
    if d.get("held"):
        parts.append(f"held {d['held']} until {str(d.get('hold_until', ''))[11:16]}")
    if d.get("holdout"):
        parts.append(f"holdout {d['holdout']}")
    if skipped_txt:
        parts.append(f"skipped: {skipped_txt}")
    if d.get("cost_estimate") is not None:
        parts.append(f"cost ¥{d['cost_estimate']}")
    return ", ".join(parts)


def run_sale(playbook_name: str, per_phase: int | None) -> int:
    # Import Airflow only now: the environment above must be in place first.
    from airflow.dag_processing.dagbag import DagBag

    from dacu.playbook import load_playbook

    pb = load_playbook(PLAYBOOK_DIR / playbook_name)
    dag_file = REPO_ROOT / "dags" / f"sale_{pb.sale.id}.py"
    bag = DagBag(dag_folder=str(dag_file))
    if bag.import_errors:
        for path, err in bag.import_errors.items():
            _say(f"DAG import error in {path}:\n{err}")
        return 1
    failures = 0
    today = datetime.now(pb.tz).date()   # the demo driver's only wall-clock read: which days are past
    for phase in pb.phases:
        dag = bag.dags[f"{pb.sale.id}__{phase.id}"]
        days = pick_days(pb, phase.id, per_phase, before=today)
        _say(f"\n== {phase.id} ({phase.name}) · DAG {dag.dag_id} · {len(days)} dated runs")
        for day in days:
            tick = datetime.combine(day, datetime.min.time(), tzinfo=pb.tz)
            t0 = time.perf_counter()
            dr = dag.test(logical_date=tick, run_after=tick, mark_success_pattern=SCENE_TASKS)
            s = summarize_run(dr)
            ok = s["state"].endswith("success")
            failures += 0 if ok else 1
            states = ", ".join(f"{k} {v}" for k, v in sorted(s["states"].items()))
            _say(f"  {day}  run {s['state'].split('.')[-1]:<8} tasks: {states}  ({time.perf_counter() - t0:.1f}s)")
            if s["readiness"]:
                gates = ", ".join(f"{g} {st}" for g, st in sorted(s["readiness"].get("gates", {}).items()))
                label = "preflight before the phase's first send" if s["readiness"].get("preflight") else "readiness"
                _say(f"      {label}: {gates}")
                for gate, reasons in sorted(s["readiness"].get("reasons", {}).items()):
                    for reason in reasons:
                        _say(f"        {gate}: {reason}")
                blocked = s["readiness"].get("blocked", {})
                for sid, reason in sorted(blocked.items() if isinstance(blocked, dict) else []):
                    _say(f"      skipped {sid}: {reason}")
            if s["scene_due"]:
                _say(f"      scene tasks for a person (auto-confirmed in the demo): {', '.join(s['scene_due'])}")
            for sid in s["blocked"]:
                _say(f"      skipped {sid}: {blocked_reason(pb, sid, day)}")
            for sid, out in s["segments"]:
                if "reminder" in out:
                    _say(f"      {sid}: 催付 {dispatch_line(out['reminder'])}")
                    continue
                _say(f"      {sid}: crowd {out.get('crowd', '?')}, treatment {out.get('treatment', '?')}, "
                     f"holdout {out.get('holdout', '?')} -> {dispatch_line(out.get('dispatch') or {})}")
    from dacu.cli import main as dacu_main

    peers = REPO_ROOT / "include" / "demo" / f"peers_{pb.sale.id}.csv"
    if peers.exists():
        _say(f"\n-- importing the platform's peer averages (同行同层) from {peers.relative_to(REPO_ROOT)}")
        rc = dacu_main(["data", "import-peers", str(peers), "--sale-id", pb.sale.id])
        if rc not in (0, 1):
            return rc
    failures += run_metrics(pb, bag, before=today)
    # The war room reads per-occasion send totals; recount them once for the whole sale.
    from dacu.warehouse.connect import get_engine
    from dacu.warroom import rebuild_dispatch_totals

    rebuild_dispatch_totals(get_engine(), pb.sale.id, datetime.now(pb.tz))
    _say("\n-- the retro report (复盘报告)")
    rc = dacu_main(["report", "retro", "--playbook", str(PLAYBOOK_DIR / playbook_name)])
    failures += 1 if rc else 0
    return 1 if failures else 0


def metric_days(playbook) -> list[date]:
    """The last warm-up days, the peak and the day after: what the ops team reads first."""
    from datetime import timedelta

    peak = playbook.phase("peak").days() if any(p.id == "peak" for p in playbook.phases) else []
    if not peak:
        return [playbook.sale.window.end]
    days = [peak[0] - timedelta(days=n) for n in (3, 2, 1)] + [*peak, peak[-1] + timedelta(days=1)]
    return [d for d in days if playbook.sale.window.start <= d <= playbook.sale.window.end]


def run_metrics(pb, bag, before: date) -> int:
    from datetime import timedelta

    dag = bag.dags[f"{pb.sale.id}__metrics"]
    days = [d for d in metric_days(pb) if d < before]
    _say(f"\n== metrics · DAG {dag.dag_id} · {len(days)} dated runs (each snapshots the day before its 01:00 tick)")
    failures = 0
    for day in days:
        tick = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=pb.tz).replace(hour=1)
        t0 = time.perf_counter()
        dr = dag.test(logical_date=tick, run_after=tick)
        state = str(dr.state).split(".")[-1]
        failures += 0 if state == "success" else 1
        out = {}
        for ti in dr.get_task_instances():
            if ti.task_id == "snapshot" and str(ti.state).endswith("success"):
                out = ti.xcom_pull(task_ids="snapshot") or {}
        failed = ", ".join(f.get("name", "?") if isinstance(f, dict) else str(f)
                           for f in out.get("failed_expectations", [])) or "none"
        _say(f"  {day}  run {state:<8} published {out.get('published')}: {out.get('rows_published', 0)} crowd rows, "
             f"{out.get('expectations_evaluated', 0)} expectations, failed: {failed}  "
             f"({time.perf_counter() - t0:.1f}s)")
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dacu.demo")
    ap.add_argument("--playbook", default="tmall_double11_2026.yaml")
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--days-per-phase", type=int, default=2,
                    help="dated runs per phase (first, last, busiest days); 0 = every due day")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    quiet_airflow()
    from dacu.cli import main as dacu_main
    from dacu.warehouse.connect import describe, resolve_url

    playbook = str(PLAYBOOK_DIR / args.playbook)
    _say(f"dacu demo · playbook {args.playbook} · warehouse {describe(resolve_url())}")
    _say(f"-- generating a shop of {args.customers} customers (seed {args.seed})")
    rc = dacu_main(["data", "generate", "--customers", str(args.customers), "--seed", str(args.seed),
                    "--playbook", playbook,
                    # The playbook's coupons exist in the shop, but one is left unissued on purpose
                    # so the readiness report shows its warning (and, past the deadline, its block).
                    "--issue-playbook-coupons", "--unissued-coupon", "c11_sprint_late_15"])
    if rc:
        return rc
    _say("-- migrating Airflow's metadata database (SQLite)")
    migrate_airflow()
    from dacu.devservices import SmtpSink, airflow_env
    from dacu.dispatch.gateway.server import Gateway

    gateway = Gateway(port=0).start()
    smtp = SmtpSink().start()
    os.environ.update(airflow_env(gateway.url, smtp))
    _say(f"-- reference SMS gateway on {gateway.url}, SMTP sink on {smtp.host}:{smtp.port}")
    try:
        rc = run_sale(args.playbook, args.days_per_phase or None)
        stats = gateway.state.summary()
        _say(f"\nchannel providers: gateway {json.dumps(stats, ensure_ascii=False)[:400]}; "
             f"email accepted {smtp.total} ({', '.join(f'{d} {n}' for d, n in smtp.by_domain.most_common(4))})")
    finally:
        smtp.stop()
        gateway.stop()
    _say(f"\ndemo {'finished' if rc == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f}s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
