"""The war room in a real browser: headless Chromium (Debian's package) against a real api-server.

A 300-customer shop is generated, the Double 11 peak day's strategies are segmented and sent
through the domain functions, the peak day's metrics run as a dated Airflow run (``dag.test``), then ``airflow api-server`` serves the project's
plugins on a free loopback port. The test logs in through the UI's login form, opens the war
room, checks that the charts render with data and that a strategy row shows its counts, saves
screenshots, and checks that an anonymous browser is sent to the login page.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "include" / "playbooks" / "tmall_double11_2026.yaml"
SALE = "tmall_double11_2026"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
TODAY = "2026-11-12"           # the page's display day (?today=): the day after the peak
USER, PASSWORD = "ops", "warroom-browser-test"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (make test installs them)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"api-server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"api-server not up after {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen | None) -> None:
    """Stop a process group we started (SIGINT first: the api-server stops its workers then)."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _season(warehouse_url: str, gateway_url: str, smtp: dict) -> None:
    """The shop; the peak day's crowd strategies segmented and sent through the real domain functions
    (the reference gateway and SMTP sink on loopback); the metric snapshots of the warm-up's last day
    (domain function) and of the peak day (a dated run of the metrics DAG: real task, real validation);
    peer averages for the charts."""
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy import insert

    from dacu.cli import main
    from dacu.crowds import segment_gate
    from dacu.dispatch import dispatch_strategy
    from dacu.metrics.definitions import WARMUP_METRICS
    from dacu.metrics.publish import run_daily_snapshot
    from dacu.playbook import load_playbook
    from dacu.warehouse import make_engine
    from dacu.warehouse.schema import peer_benchmarks
    from dacu.warroom import refresh_dispatch_totals

    t0 = time.monotonic()
    assert main(["--warehouse", warehouse_url, "data", "generate", "--customers", "300", "--seed", "3",
                 "--playbook", str(PLAYBOOK), "--issue-playbook-coupons"]) == 0
    print(f"generate {time.monotonic() - t0:.1f}s")
    pb = load_playbook(PLAYBOOK)
    peak_day = pb.phase("peak").days()[0]
    engine = make_engine(warehouse_url)
    try:
        for t, ids in sorted(pb.due("peak", peak_day).items()):
            gate = datetime.combine(peak_day, t, tzinfo=pb.tz)
            crowd_ids = [sid for sid in ids if pb.strategy(sid).kind != "scene_task"]
            segment_gate(engine, pb, crowd_ids, gate, run_key=gate.isoformat())
            for sid in crowd_ids:
                out = dispatch_strategy(engine, pb, sid, gate.isoformat(), gate, gateway_url=gateway_url, smtp=smtp)
                # what the dispatch step does after each send: refresh the occasion's war-room totals
                refresh_dispatch_totals(engine, pb.sale.id, sid, out["wave"], gate)
        print(f"peak day {time.monotonic() - t0:.1f}s")
        # The warm-up's last day through the domain function, the peak day as a dated DAG run.
        eve = peak_day - timedelta(days=1)
        out = run_daily_snapshot(engine, sale_id=SALE, reference_day=pb.sale.reference_day, tz=pb.sale.timezone,
                                 day=eve, active_rv_days=pb.metrics.active_rv_days, run_key=f"browser-test/{eve}",
                                 validated_at=datetime.combine(peak_day, dtime(1), tzinfo=pb.tz))
        assert out["published"], out
        bag = DagBag(dag_folder=str(ROOT / "dags" / f"sale_{SALE}.py"))
        assert bag.import_errors == {}
        tick = datetime.combine(peak_day + timedelta(days=1), dtime(1), tzinfo=pb.tz)
        dr = bag.dags[f"{SALE}__metrics"].test(logical_date=tick, run_after=tick)
        assert str(dr.state).endswith("success")
        print(f"metrics runs {time.monotonic() - t0:.1f}s")
        peers = [{"sale_id": SALE, "metric_day": peak_day - timedelta(days=1), "crowd": c, "metric": m.name,
                  "value": 3 + i} for c in ("new", "old") for i, m in enumerate(WARMUP_METRICS)]
        peers += [{"sale_id": SALE, "metric_day": peak_day, "crowd": c, "metric": "amount_share", "value": v}
                  for c, v in (("new", 0.35), ("old", 0.65), ("members", 0.4), ("fans", 0.3))]
        with engine.begin() as conn:
            conn.execute(insert(peer_benchmarks), peers)
    finally:
        engine.dispose()


def _driver(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1500,2200", "--lang=zh-CN"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(30)
    return drv


def test_warroom_in_browser(airflow_db, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from dacu.devservices import SmtpSink
    from dacu.dispatch.gateway.server import Gateway
    from dacu.warehouse.connect import airflow_conn_value

    t0 = time.monotonic()
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_DACU_WAREHOUSE", airflow_conn_value(warehouse_url))
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ,
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "1",
           "AIRFLOW__API__BASE_URL": base, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "AIRFLOW__API_AUTH__JWT_SECRET": "warroom-browser-" + "s" * 64,
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    log = tmp_path / "api-server.log"
    server = driver = gateway = smtp = None
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        # The api-server first (it only reads the DBs per request), the season meanwhile.
        with log.open("w") as out:
            server = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "api-server", "--port", str(port),
                                       "--host", "127.0.0.1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True, cwd=tmp_path)
        gateway, smtp = Gateway(port=0).start(), SmtpSink().start()
        _season(warehouse_url, gateway.url, {"host": smtp.host, "port": smtp.port, "sender": "crm@example.com"})
        t_data = time.monotonic() - t0
        _wait_http(f"{base}/api/v2/version", server, 60, log)

        # Anonymous: the API refuses, the page goes to the login.
        req = urllib.request.Request(f"{base}/warroom/api/sale/{SALE}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 401

        driver = _driver(tmp_path / "chromium-profile")
        wait = WebDriverWait(driver, 45)
        driver.get(f"{base}/warroom/?sale={SALE}&today={TODAY}")
        wait.until(EC.url_contains("/auth/login"))
        assert "/warroom/" in urllib.parse.unquote(driver.current_url)        # next= brings us back

        # Log in through the auth manager's own form.
        user_box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[name=username]")))
        user_box.send_keys(USER)
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button[type=submit]"))).click()
        wait.until(lambda d: "/warroom/" in d.current_url and "/auth/login" not in d.current_url)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "1")

        # The charts: an ECharts instance with series data, drawn on a canvas.
        for chart_id in ("chart-trend", "chart-share", "chart-radar"):
            points = driver.execute_script(
                "var c = echarts.getInstanceByDom(document.getElementById(arguments[0]));"
                "if (!c) return -1; var s = c.getOption().series;"
                "return s.reduce(function (n, x) { return n + (x.data || []).filter(function (v) {"
                "  return v !== null && v !== undefined && (typeof v !== 'object' || (v.value || []).length); }).length; }, 0);",
                chart_id)
            assert points > 0, chart_id
            assert driver.find_elements(By.CSS_SELECTOR, f"#{chart_id} canvas"), chart_id
        data = driver.execute_script("return window.__warroom.data;")
        assert data["trend"]["days"] == ["2026-11-10", "2026-11-11"]
        assert data["radar"]["series"]["new"][0] is not None

        # A strategy row with its counts (the peak day's dispatch, from the summary table).
        rows = [s for p in data["strategies"] for s in p["strategies"]
                if s["segment"] and s["dispatch"]["latest"] and s["dispatch"]["latest"]["sent"] > 0]
        assert rows, "no strategy with a send"
        row = rows[0]
        phase = next(p["id"] for p in data["strategies"] if row in p["strategies"])
        details = driver.find_element(By.CSS_SELECTOR, f"details[data-phase='{phase}']")
        if details.get_attribute("open") is None:            # past phases start folded: open it as a person would
            details.find_element(By.TAG_NAME, "summary").click()
        tr = driver.find_element(By.CSS_SELECTOR, f"tr[data-strategy='{row['id']}']")
        crowd = tr.find_element(By.CSS_SELECTOR, "td[data-field=crowd]").text
        sent = tr.find_element(By.CSS_SELECTOR, "td[data-field=sent]").text.splitlines()[0]
        assert crowd == f"{row['segment']['crowd_size']:,}" and sent == f"{row['dispatch']['latest']['sent']:,}"
        # The metrics DAG's latest run, read from Airflow's metadata; phase DAGs without a run say so.
        assert "成功" in driver.find_element(By.CSS_SELECTOR, f"tr[data-dag='{SALE}__metrics']").text
        # (other tests in this worker may have run some phase DAGs in the same Airflow database: the
        # page's own data says which have no run)
        unrun = [p["dag_id"] for p in data["calendar"]["phases"] if not p["latest_run"]]
        assert unrun, "every phase DAG has a run: the test needs one without"
        assert "尚未运行" in driver.find_element(By.CSS_SELECTOR, f"tr[data-dag='{unrun[0]}']").text
        for p in data["calendar"]["phases"]:
            if p["latest_run"]:
                assert "尚未运行" not in driver.find_element(By.CSS_SELECTOR, f"tr[data-dag='{p['dag_id']}']").text
        driver.save_screenshot(str(shots / "warroom.png"))
        driver.execute_script("document.getElementById('strategies-panel').scrollIntoView()")
        driver.save_screenshot(str(shots / "warroom-strategies.png"))

        # Inside the Airflow UI: the nav entry's iframe route.
        driver.get(f"{base}/plugin/dacu-warroom")
        wait.until(EC.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.save_screenshot(str(shots / "airflow-ui-warroom.png"))

        # Logged out (cookie gone): back to the login page.
        driver.delete_all_cookies()
        driver.get(f"{base}/warroom/?sale={SALE}")
        wait.until(EC.url_contains("/auth/login"))

        if os.environ.get("DACU_UPDATE_DOCS_SCREENSHOT") == "1":
            (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
            for name in ("warroom.png", "warroom-strategies.png", "airflow-ui-warroom.png"):
                shutil.copy(shots / name, ROOT / "docs" / "img" / name)
        print(f"data {t_data:.1f}s, total {time.monotonic() - t0:.1f}s, screenshots in {shots}")
    finally:
        if driver is not None:
            driver.quit()
        _stop(server)
        if smtp is not None:
            smtp.stop()
        if gateway is not None:
            gateway.stop()
