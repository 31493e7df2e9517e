"""The docker-compose topology as real processes on loopback: CeleryExecutor on PostgreSQL and Redis.

No Docker engine runs on the dev and CI machines, so this test starts what docker-compose.yaml
starts, as processes: api-server, scheduler, dag-processor, triggerer, two Celery workers
(different hostnames, concurrency 2 each) and the reference channel providers
(``python -m dacu.devservices``). It uses a fresh metadata DB and a fresh warehouse DB (the
warehouse created by deploy/postgres/sql/warehouse.sql, as the postgres container does), a
dedicated Redis DB number with a unique key prefix and queue, and then:

1. generates a small shop, unpauses the recovery DAG and triggers it over REST for one past
   sale day (a manual run with a logical date: it really sends; a backfill run would only
   count), so its deferrable gates go through the triggerer at once and its segment, approve
   and dispatch tasks spread over both workers;
2. runs ``airflow backfill create`` over 3 days of the metrics DAG;
3. checks the outcome in the databases and at the gateway: every task ran, on both worker
   hostnames; every message the ledger marks sent was accepted by the gateway exactly once and
   the gateway accepted nothing else but the preflight's carrier test sends; metric snapshots exist
   for the 3 days.

Everything it started is stopped by process group (and any stray descendant by pid) in a
``finally``; the databases, the role and the Redis keys are removed. On failure the tail of
every process log is printed.

Run alone: ``.venv/bin/python -m pytest -m integration -p no:cacheprovider -q``.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, time as dtime, timedelta, timezone
from urllib.parse import quote

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
PLAYBOOK = ROOT / "include" / "playbooks" / "tmall_double11_2026.yaml"
WAREHOUSE_SQL = ROOT / "deploy" / "postgres" / "sql" / "warehouse.sql"
SALE = "tmall_double11_2026"
PHASE = "recovery"
PHASE_DAG = f"{SALE}__{PHASE}"
METRICS_DAG = f"{SALE}__metrics"
# Three crowd strategies at gates 10:00 and 11:00 (shipping notices by sms and in-app, payment reminders,
# closed orders), no scene task due, no smart send-time buckets (each bucket is one more deferral).
PHASE_DAY = date(2026, 11, 12)
METRIC_DAYS = [date(2026, 11, 11), date(2026, 11, 12), date(2026, 11, 13)]
WORKERS = ("dacu-it-worker-1", "dacu-it-worker-2")

PG_SERVER = os.environ.get("DACU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("DACU_TEST_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("DACU_TEST_REDIS_DB", "13"))   # dedicated to this test; keys are prefixed too

START_TIMEOUT = 150      # s: processes up, DAGs parsed, workers ready (2 busy cores)
RUN_TIMEOUT = 240        # s: the sale day and the 3 backfill runs finished

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


# --- processes ------------------------------------------------------------------------------------

class Processes:
    """Processes started by this test, each in its own process group, logs in files."""

    def __init__(self, logdir: pathlib.Path) -> None:
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self._files: list = []

    def log(self, name: str) -> pathlib.Path:
        return self.logdir / f"{name}.log"

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.log(name), "ab")
        self._files.append(out)
        # start_new_session: its own process group, so stop() reaches the children too.
        proc = subprocess.Popen(args, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def run(self, name: str, args: list[str], env: dict[str, str], timeout: float) -> str:
        """Run a command to its end (in its own group, killed on timeout); return its output."""
        proc = self.start(name, args, env)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(name, proc)
            raise AssertionError(f"{name} did not finish in {timeout:.0f} s") from None
        text = self.tail(name, 200)
        assert rc == 0, f"{name} exited with {rc}:\n{text}"
        return text

    def assert_alive(self, *names: str) -> None:
        for name in names:
            rc = self.procs[name].poll()
            if rc is not None:
                raise AssertionError(f"{name} exited early with {rc}")

    def tail(self, name: str, lines: int = 40) -> str:
        try:
            text = self.log(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def tails(self, lines: int = 40) -> str:
        return "\n".join(f"----- {name} (last {lines} lines) -----\n{self.tail(name, lines)}" for name in self.procs)

    @staticmethod
    def _family(proc: subprocess.Popen) -> list:
        """Its descendants now (some may leave the process group, e.g. by setsid)."""
        import psutil

        try:
            return psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    @staticmethod
    def _signal_group(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def _kill(self, name: str, proc: subprocess.Popen, grace: float = 10.0, family: list | None = None) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` s, then every descendant that left it."""
        import psutil

        family = self._family(proc) if family is None else family
        self._signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=max(grace, 0.1))
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(proc, signal.SIGKILL)      # whatever of the group is left, leader or not
        for child in family:
            try:
                child.kill()
            except psutil.Error:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"{name} (pid {proc.pid}) survived SIGKILL")

    def stop_all(self, grace: float = 10.0) -> None:
        """Stop every process: all get SIGTERM at once and share one grace period."""
        families = {name: self._family(proc) for name, proc in self.procs.items()}
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
        for name, proc in self.procs.items():
            self._kill(name, proc, grace=deadline - time.monotonic(), family=families[name])
        for f in self._files:
            f.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, procs: Processes, alive: tuple[str, ...], every: float = 1.0):
    """Poll ``check()`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        procs.assert_alive(*alive)
        try:
            value = check()
        except Exception as exc:      # not up yet: connection refused, 404, ...
            last, value = exc, None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last!r})")


# --- databases and Redis --------------------------------------------------------------------------

def _pg_parts() -> dict[str, str]:
    from sqlalchemy.engine import make_url

    u = make_url(PG_SERVER)
    return {"host": u.host or "127.0.0.1", "port": str(u.port or 5432), "user": u.username or "postgres"}


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_SERVER.replace("postgresql+psycopg", "postgresql"), autocommit=True)


def _pg_url(db: str, user: str | None = None, driver: str = "postgresql+psycopg") -> str:
    p = _pg_parts()
    return f"{driver}://{user or p['user']}@{p['host']}:{p['port']}/{db}"


def _create_warehouse(db: str, role: str, password: str) -> None:
    """The warehouse exactly as the postgres container creates it (deploy/postgres/sql/warehouse.sql)."""
    p = _pg_parts()
    res = subprocess.run(
        ["psql", "-X", "-q", "-h", p["host"], "-p", p["port"], "-U", p["user"], "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-v", f"wh_db={db}", "-v", f"wh_user={role}", "-v", f"wh_password={password}",
         "-f", str(WAREHOUSE_SQL)],
        capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"{WAREHOUSE_SQL.name} failed: {res.stderr[-2000:]}"


def _cleanup_databases(dbs: list[str], roles: list[str]) -> None:
    with _pg_admin() as cx:
        for db in dbs:
            cx.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for role in roles:
            cx.execute(f'DROP ROLE IF EXISTS "{role}"')


def _redis():
    import redis

    return redis.Redis.from_url(f"{REDIS_SERVER}/{REDIS_DB}", socket_timeout=5)


def _cleanup_redis(prefix: str, queue: str) -> None:
    r = _redis()
    for pattern in (f"{prefix}*", f"*{queue}*"):
        keys = list(r.scan_iter(match=pattern, count=500))
        if keys:
            r.delete(*keys)


# --- Airflow environment --------------------------------------------------------------------------

HOSTNAME_MODULE = '''"""Test-only [core] hostname_callable: the worker's name, so task instances show which worker ran them."""
import os
import socket


def hostname() -> str:
    return os.environ.get("DACU_IT_HOSTNAME") or socket.getfqdn()
'''


def _airflow_env(tmp: pathlib.Path, *, meta_db: str, wh_url: str, api_port: int, gw_port: int, smtp_port: int,
                 queue: str, prefix: str, admin_password: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    pylib = tmp / "pylib"
    pylib.mkdir(exist_ok=True)
    (pylib / "dacu_it_hostname.py").write_text(HOSTNAME_MODULE)
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({"admin": admin_password}))
    meta = _pg_url(meta_db)
    # The pytest process's Airflow settings (tests/conftest.py) must not leak into the deployment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "DACU_"))}
    env.update({
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "PYTHONPATH": str(pylib),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{meta}",
        "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_SERVER}/{REDIS_DB}",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "dacu_it_hostname.hostname",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # The test creates every run itself (REST, backfill); without this the scheduler would add
        # today's scheduled run of each DAG it unpauses, competing for the 4 worker slots.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "DACU_HOME": str(tmp / "dacu-home"),
        "AIRFLOW_CONN_DACU_WAREHOUSE": wh_url,
        "AIRFLOW_CONN_DACU_SMS_GATEWAY": f"http://127.0.0.1:{gw_port}",
        "AIRFLOW_CONN_DACU_SMTP": f"smtp://127.0.0.1:{smtp_port}?sender=crm%40example.com",
    })
    return env


class Api:
    """The REST API of the api-server (a SimpleAuthManager token)."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.session = requests.Session()

    def login(self, user: str, password: str) -> bool:
        r = self.session.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=10)
        r.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return True

    def get(self, path: str, **params):
        r = self.session.get(f"{self.base}/api/v2{path}", params=params, timeout=15)
        r.raise_for_status()
        return r.json()

    def send(self, method: str, path: str, body: dict):
        r = self.session.request(method, f"{self.base}/api/v2{path}", json=body, timeout=15)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json()


def _celery_ready(procs: Processes, name: str) -> bool:
    return " ready." in procs.log(name).read_text(errors="replace")


# --- the test -------------------------------------------------------------------------------------

def test_celery_topology_runs_a_sale_day_across_two_workers_and_backfills_metrics(tmp_path, pg_available):
    if not pg_available:
        if os.environ.get("DACU_REQUIRE_PG", "1") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable (set DACU_REQUIRE_PG=0 to skip)")
        pytest.skip("PostgreSQL not reachable")
    try:
        _redis().ping()
    except Exception as exc:
        if os.environ.get("DACU_REQUIRE_PG", "1") == "1":
            pytest.fail(f"Redis at {REDIS_SERVER} is not reachable: {exc}")
        pytest.skip("Redis not reachable")

    from dacu.playbook import load_playbook

    pb = load_playbook(PLAYBOOK)
    due = pb.due(PHASE, PHASE_DAY)
    crowd_due = sorted({s for ids in due.values() for s in ids if pb.strategy(s).kind != "scene_task"})
    scene_due = {s for ids in due.values() for s in ids if pb.strategy(s).kind == "scene_task"}
    assert len(crowd_due) >= 2 and not scene_due, "the chosen day must have crowd strategies and no scene task"

    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:10]
    meta_db, wh_db, wh_role = f"dacu_it_meta_{tag}", f"dacu_it_wh_{tag}", f"dacu_it_wh_{tag}"
    prefix, queue = f"dacu-it-{tag}:", f"dacu_it_{tag}"
    api_port, gw_port, smtp_port = _free_port(), _free_port(), _free_port()
    admin_password = secrets.token_urlsafe(16)
    procs = Processes(tmp_path / "logs")
    timings: dict[str, float] = {}
    dbs: list[str] = []
    roles: list[str] = []
    try:
        # -- databases: Airflow's metadata DB and the warehouse (by the compose init SQL)
        with _pg_admin() as cx:
            cx.execute(f'CREATE DATABASE "{meta_db}"')
        dbs.append(meta_db)
        roles.append(wh_role)
        dbs.insert(0, wh_db)
        _create_warehouse(wh_db, wh_role, secrets.token_hex(12))
        wh_url = f"postgres://{wh_role}@{_pg_parts()['host']}:{_pg_parts()['port']}/{wh_db}"
        env = _airflow_env(tmp_path, meta_db=meta_db, wh_url=wh_url, api_port=api_port, gw_port=gw_port,
                           smtp_port=smtp_port, queue=queue, prefix=prefix, admin_password=admin_password)

        # -- channel providers and the metadata migration start, the shop is generated meanwhile
        procs.start("devservices", [sys.executable, "-m", "dacu.devservices", "--gateway-port", str(gw_port),
                                    "--smtp-port", str(smtp_port)], env)
        migrate = procs.start("db-migrate", [AIRFLOW, "db", "migrate"], env)
        from dacu.cli import main as dacu_main

        rc = dacu_main(["--warehouse", _pg_url(wh_db, wh_role), "data", "generate", "--customers", "400",
                        "--seed", "5", "--playbook", str(PLAYBOOK), "--issue-playbook-coupons"])
        assert rc == 0, "dacu data generate failed"
        assert migrate.wait(timeout=180) == 0, "airflow db migrate failed:\n" + procs.tail("db-migrate")
        timings["databases+shop"] = time.monotonic() - t0

        # -- the deployment's processes (docker-compose.yaml's services, on loopback)
        procs.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(api_port),
                                   "--workers", "1"], env)
        procs.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env)
        procs.start("dag-processor", [AIRFLOW, "dag-processor"], env)
        procs.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"], env)
        for i, host in enumerate(WORKERS, 1):
            procs.start(f"worker-{i}", [AIRFLOW, "celery", "worker", "--celery-hostname", f"{host}@%h",
                                        "--concurrency", "2", "--queues", queue, "--skip-serve-logs",
                                        "--without-mingle", "--without-gossip"],
                        {**env, "DACU_IT_HOSTNAME": host})
        services = ("devservices", "api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2")

        api = Api(f"http://127.0.0.1:{api_port}")
        _wait("the api-server", lambda: api.login("admin", admin_password), START_TIMEOUT, procs, services)
        _wait("both DAGs parsed", lambda: api.get(f"/dags/{PHASE_DAG}") and api.get(f"/dags/{METRICS_DAG}"),
              START_TIMEOUT, procs, services)
        _wait("both Celery workers ready", lambda: all(_celery_ready(procs, f"worker-{i}") for i in (1, 2)),
              START_TIMEOUT, procs, services)
        timings["started"] = time.monotonic() - t0

        # -- one sale day of the recovery phase: a REST run with a logical date (it sends)
        tick = datetime.combine(PHASE_DAY, dtime(0), tzinfo=pb.tz).astimezone(timezone.utc)
        run_id = f"it__{PHASE_DAY.isoformat()}"
        run_path = f"/dags/{PHASE_DAG}/dagRuns/{quote(run_id, safe='')}"
        api.send("PATCH", f"/dags/{PHASE_DAG}", {"is_paused": False})
        api.send("POST", f"/dags/{PHASE_DAG}/dagRuns",
                 {"dag_run_id": run_id, "logical_date": tick.isoformat(), "run_after": tick.isoformat(), "conf": {}})

        def phase_finished():
            tis = api.get(f"{run_path}/taskInstances", limit=500)["task_instances"]
            waiting = [t["task_id"] for t in tis if t["state"] == "awaiting_input"]
            assert not waiting, f"tasks wait for a person (HITL) on a run that should need none: {waiting}"
            state = api.get(run_path)["state"]
            return state in ("success", "failed") and state

        phase_state = _wait("the sale day's run to finish", phase_finished, RUN_TIMEOUT, procs, services, every=2.0)
        timings["sale day finished"] = time.monotonic() - t0

        # -- 3 days of metrics by backfill (each run at 01:00 sale-local snapshots the day before)
        api.send("PATCH", f"/dags/{METRICS_DAG}", {"is_paused": False})
        first = datetime.combine(METRIC_DAYS[0] + timedelta(days=1), dtime(0), tzinfo=pb.tz)
        last = datetime.combine(METRIC_DAYS[-1] + timedelta(days=1), dtime(2), tzinfo=pb.tz)
        procs.run("backfill", [AIRFLOW, "backfill", "create", "--dag-id", METRICS_DAG,
                               "--from-date", first.isoformat(), "--to-date", last.isoformat()], env, timeout=120)

        def backfill_finished():
            runs = api.get(f"/dags/{METRICS_DAG}/dagRuns", run_type="backfill")["dag_runs"]
            return len(runs) == len(METRIC_DAYS) and all(r["state"] in ("success", "failed") for r in runs) and runs

        backfill_runs = _wait("the metrics backfill to finish", backfill_finished, RUN_TIMEOUT, procs, services,
                              every=2.0)
        timings["backfill finished"] = time.monotonic() - t0

        # -- what ran where (metadata DB)
        import psycopg

        with psycopg.connect(_pg_url(meta_db, driver="postgresql")) as cx:
            tis = cx.execute("SELECT task_id, state, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
                             (PHASE_DAG, run_id)).fetchall()
            metric_runs = cx.execute(
                "SELECT logical_date, state FROM dag_run WHERE dag_id = %s AND run_type = 'backfill' "
                "ORDER BY logical_date", (METRICS_DAG,)).fetchall()
            metric_hosts = cx.execute(
                "SELECT DISTINCT hostname FROM task_instance WHERE dag_id = %s AND state = 'success'",
                (METRICS_DAG,)).fetchall()
        states = {t: s for t, s, _ in tis}
        assert phase_state == "success", f"phase run {phase_state}: {states}"
        for sid in crowd_due:
            for step in ("segment", "approve", "dispatch"):
                matching = [s for t, s in states.items() if t.endswith(f".{step}__{sid}")]
                assert matching == ["success"], f"{step}__{sid}: {matching} in {states}"
        due_gates = {f"g{t.hour:02d}{t.minute:02d}.gate" for t in due}
        assert {t for t, s in states.items() if t.endswith(".gate") and s == "success"} == due_gates, states
        ran_on = {h for _, s, h in tis if s == "success" and h}
        assert ran_on == set(WORKERS), f"task instances ran on {ran_on}, expected both workers {WORKERS}"
        assert {h for (h,) in metric_hosts} <= set(WORKERS)

        # The gates deferred and the triggerer fired their DateTimeTriggers (its per-task trigger logs).
        run_logs = tmp_path / "airflow" / "logs" / f"dag_id={PHASE_DAG}" / f"run_id={run_id}"
        for gate in due_gates:
            fired = [p for p in run_logs.glob(f"task_id={gate}/attempt=*.log.trigger.*.log")
                     if "Trigger fired event" in p.read_text(errors="replace")]
            assert fired, f"{gate} never fired in the triggerer:\n{procs.tail('triggerer', 60)}"

        # -- the ledger against the gateway's own record: every message exactly once
        from sqlalchemy import create_engine, func, select

        from dacu.warehouse.schema import dispatch_ledger as dl, metric_snapshots as ms

        wh = create_engine(_pg_url(wh_db, wh_role))
        try:
            with wh.connect() as cx:
                ledger = cx.execute(select(dl.c.message_key, dl.c.strategy_id, dl.c.channel, dl.c.state)
                                    .where(dl.c.sale_id == SALE)).fetchall()
                snapshot_days = cx.execute(select(ms.c.day_from, ms.c.day_to, func.count())
                                           .where(ms.c.sale_id == SALE).group_by(ms.c.day_from, ms.c.day_to)).fetchall()
        finally:
            wh.dispose()
        import requests

        from dacu.readiness.carriers import TEST_ID_PREFIX

        # Carrier test sends of the phase's preflight go through the same gateway; they are not customer
        # messages and have no ledger row.
        accepted = [i for i in requests.get(f"http://127.0.0.1:{gw_port}/admin/accepted", timeout=10).json()["out_ids"]
                    if not i.startswith(TEST_ID_PREFIX)]
        stats = requests.get(f"http://127.0.0.1:{gw_port}/admin/stats", timeout=10).json()
        sent = [k for k, _, ch, st in ledger if st == "sent" and ch in ("sms", "inapp")]
        assert sent, f"nothing was sent: ledger states {sorted({r[3] for r in ledger})}"
        assert len(accepted) == len(set(accepted)), "the gateway accepted a message id twice"
        assert set(accepted) == set(sent), (f"gateway accepted {len(set(accepted))} ids, ledger has {len(sent)} "
                                            f"sent; only at gateway: {len(set(accepted) - set(sent))}, "
                                            f"only in ledger: {len(set(sent) - set(accepted))}")
        assert stats["duplicates"] == 0, stats
        assert not [r for r in ledger if r[3] in ("reserved", "unknown")], "messages left in doubt"
        assert {r[1] for r in ledger} <= set(crowd_due)

        # -- the metrics backfill: 3 runs, 3 days of snapshots
        assert [str(s) for _, s in metric_runs] == ["success"] * len(METRIC_DAYS), metric_runs
        assert all(r["state"] == "success" for r in backfill_runs)
        days = {(d0, d1): n for d0, d1, n in snapshot_days}
        for d in METRIC_DAYS:      # one row per crowd: whole store, new, old, members, fans
            assert days.get((d, d), 0) == 5, f"no metric snapshot for {d}: {days}"
        timings["checked"] = time.monotonic() - t0
        print(f"sent {len(sent)} messages for {sorted({r[1] for r in ledger})}; task instances per worker:",
              {w: sum(1 for _, s, h in tis if s == "success" and h == w) for w in WORKERS})
        print("timings (s from start):", {k: round(v, 1) for k, v in timings.items()})
    except BaseException:
        print(procs.tails(60))
        print("timings (s from start):", {k: round(v, 1) for k, v in timings.items()})
        raise
    finally:
        stop_t = time.monotonic()
        procs.stop_all()
        print(f"stopped {len(procs.procs)} processes in {time.monotonic() - stop_t:.1f} s")
        try:
            _cleanup_redis(prefix, queue)
        finally:
            _cleanup_databases(dbs, roles)
