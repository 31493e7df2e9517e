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
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from dacu.paths import PLAYBOOK_DIR, REPO_ROOT


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def pick_days(playbook, phase_id: str, per_phase: int | None) -> list[date]:
    """The phase's sale days with something due; with ``per_phase``, the first,
    the last and the busiest days up to that many (fixed moments first)."""
    days = [d for d in playbook.phase(phase_id).days()
            if any(playbook.due(phase_id, d).values())]
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


def migrate_airflow() -> None:
    airflow_bin = Path(sys.executable).with_name("airflow")
    res = subprocess.run([str(airflow_bin), "db", "migrate"], env=_airflow_env(),
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
        raise SystemExit("airflow db migrate failed")


def summarize_run(dr) -> dict:
    """Per run: task states and the counts the segment tasks returned."""
    states: dict[str, int] = {}
    segments = []
    for ti in dr.get_task_instances():
        state = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        states[state] = states.get(state, 0) + 1
        if ".segment__" in ti.task_id and state == "success":
            out = ti.xcom_pull(task_ids=ti.task_id) or {}
            segments.append((ti.task_id.split(".segment__", 1)[1], out))
    return {"state": str(dr.state), "states": states, "segments": segments}


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
    for phase in pb.phases:
        dag = bag.get_dag(f"{pb.sale.id}__{phase.id}")
        days = pick_days(pb, phase.id, per_phase)
        _say(f"\n== {phase.id} ({phase.name}) · DAG {dag.dag_id} · {len(days)} dated runs")
        for day in days:
            tick = datetime.combine(day, datetime.min.time(), tzinfo=pb.tz)
            t0 = time.perf_counter()
            dr = dag.test(logical_date=tick, run_after=tick)
            s = summarize_run(dr)
            ok = s["state"].endswith("success")
            failures += 0 if ok else 1
            states = ", ".join(f"{k} {v}" for k, v in sorted(s["states"].items()))
            _say(f"  {day}  run {s['state'].split('.')[-1]:<8} tasks: {states}  ({time.perf_counter() - t0:.1f}s)")
            for sid, out in s["segments"]:
                _say(f"      segment {sid}: crowd {out.get('crowd', '?')}, treatment {out.get('treatment', '?')}, "
                     f"holdout {out.get('holdout', '?')}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dacu.demo")
    ap.add_argument("--playbook", default="tmall_double11_2026.yaml")
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--days-per-phase", type=int, default=3,
                    help="dated runs per phase (first, last, busiest days); 0 = every due day")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    from dacu.cli import main as dacu_main
    from dacu.warehouse.connect import describe, resolve_url

    playbook = str(PLAYBOOK_DIR / args.playbook)
    _say(f"dacu demo · playbook {args.playbook} · warehouse {describe(resolve_url())}")
    _say(f"-- generating a shop of {args.customers} customers (seed {args.seed})")
    rc = dacu_main(["data", "generate", "--customers", str(args.customers), "--seed", str(args.seed),
                    "--playbook", playbook])
    if rc:
        return rc
    _say("-- migrating Airflow's metadata database (SQLite)")
    migrate_airflow()
    rc = run_sale(args.playbook, args.days_per_phase or None)
    _say(f"\ndemo {'finished' if rc == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f}s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
