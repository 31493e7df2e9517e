"""The retro report (dacu.report): every section from a fixture, self-contained HTML, numbers from the tables.

Data: tests/test_metrics.py's hand-built shop (2027-06-01 and around), published as the
single-day snapshots of 2027-06-01 (last warm-up day here) and 2027-06-02 (peak), plus
peers, one segment run with a holdout and its dispatch ledger.

Hand-computed:
- warm-up 06-01: new = (visitors 3, favourites 1, carts 3, buyers 3, coupons 2); peers 6, 0.5, 2, 3
  (given as paying_buyers, the same definition), 4 -> axes 50, 200, 150, 100, 50 -> overall 110;
  old visitors 2 over peer 4 -> 50 (its only axis with a peer).
- uplift of peak_push (gate 06-01 10:00, window 2 days): treated c_old1 (¥100 at 12:00) and c_both (¥50 at
  14:00) -> 2/2, ¥75 per customer; holdout c_deposit_only, c_idle_member -> 0/2. Cost 2 SMS x ¥0.045.
  Incremental GMV 75 x 2 = 150; ROI 150 / 0.09.
- new customers (first payment 05-24 00:00 .. 06-03 23:59): c_new_boundary, c_presale, c_presale2,
  c_late_pay -> 4.
"""
from __future__ import annotations

import argparse
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from test_metrics import L, load_fixture

from dacu.metrics.publish import run_daily_snapshot
from dacu.warehouse.schema import (
    crowd_snapshots, dispatch_ledger, metric_snapshots, peer_benchmarks, segment_runs,
)

SALE = "t618_retro"
PLAYBOOK = """
sale:
  id: t618_retro
  name: 测试618复盘
  platform: tmall
  reference_day: 2027-05-24
  window: {start: 2027-05-28, end: 2027-06-05}
phases:
  - id: warmup
    name: 预热
    windows: [{id: w, name: 预热, start: "2027-05-28 00:00", end: "2027-06-01 23:59"}]
  - id: peak
    name: 爆发
    windows: [{id: sale, name: 售卖, start: "2027-06-02 00:00", end: "2027-06-03 23:59"}]
strategies:
  - id: peak_push
    name: 会员推送
    scene: member
    phase: warmup
    kind: crowd_task
    when: {at: ["2027-06-01 10:00"]}
    crowd: {base: members}
    material: {template: "【店】618来了 {link} 拒收请回复R"}
    channels: [sms]
    holdout_pct: 10
channels:
  sms: {signature: 【店】, unsubscribe_suffix: 拒收请回复R, unit_price: 0.045}
metrics: {attribution_days: 2}
"""
GENERATED = datetime(2027, 6, 10, 0, 0)


@pytest.fixture
def playbook(tmp_path):
    from dacu.playbook import load_playbook

    path = tmp_path / "t618_retro.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return load_playbook(path)


def load(engine) -> None:
    load_fixture(engine)
    for day in (date(2027, 6, 1), date(2027, 6, 2)):
        out = run_daily_snapshot(engine, sale_id=SALE, reference_day=date(2027, 5, 24), tz="Asia/Shanghai",
                                 day=day, active_rv_days=90, run_key=f"t:{day}", validated_at=GENERATED)
        assert out["published"], out
    d1 = date(2027, 6, 1)
    peers = [("new", "visitors", "6"), ("new", "favourite_customers", "0.5"), ("new", "cart_customers", "2"),
             ("new", "paying_buyers", "3"), ("new", "coupons_claimed", "4"), ("old", "visitors", "4"),
             ("whole_store", "conversion_rate", "0.4321")]
    gate = L("2027-06-01 10:00")
    with engine.begin() as conn:
        conn.execute(insert(peer_benchmarks), [{"sale_id": SALE, "metric_day": d1, "crowd": c, "metric": m,
                                                "value": Decimal(v)} for c, m, v in peers])
        conn.execute(insert(segment_runs), [{
            "sale_id": SALE, "strategy_id": "peak_push", "run_key": "rk1", "wave": "w", "as_of": gate,
            "crowd_expr": "{}", "channels": "sms", "holdout_pct": 10, "crowd_size": 4, "treatment": 2,
            "holdout": 2, "excluded": "{}"}])
        conn.execute(insert(crowd_snapshots), [
            {"sale_id": SALE, "strategy_id": "peak_push", "run_key": "rk1", "customer_id": c, "wave": "w",
             "is_holdout": h, "as_of": gate}
            for c, h in (("c_old1", False), ("c_both", False), ("c_deposit_only", True), ("c_idle_member", True))])
        conn.execute(insert(dispatch_ledger), [
            {"message_key": f"k{c}", "sale_id": SALE, "strategy_id": "peak_push", "wave": "w", "run_key": "rk1",
             "customer_id": c, "channel": "sms", "msg_class": "marketing", "state": "sent", "planned_at": gate,
             "cost": Decimal("0.045"), "updated_at": gate} for c in ("c_old1", "c_both")])


def test_retro_report_sections_numbers_and_offline(engine, playbook, tmp_path):
    from dacu.report import write_retro_report
    from dacu.report.retro import collect_retro

    load(engine)
    data = collect_retro(engine, playbook, generated_at=GENERATED)
    assert data.days == [date(2027, 6, 1), date(2027, 6, 2)]
    assert data.warmup_days == [date(2027, 6, 1)]
    new, old = data.warmup["new"], data.warmup["old"]
    assert new.axes == {"visitors": 50.0, "favourite_customers": 200.0, "cart_customers": 150.0,
                        "coupons_claimed": 50.0, "buyers": 100.0}
    assert new.overall == pytest.approx(110.0) and old.overall == pytest.approx(50.0)
    s = data.uplift.strategies[0]
    assert (s.treated.converters, s.holdout.converters, s.gmv_diff) == (2, 0, 75.0)
    assert s.roi == pytest.approx(150 / 0.09) and "small_sample" in s.notes
    assert data.new_customers.count == 4 and data.new_customers.archived is None
    assert [c.strategy_id for c in data.saved_crowds] == ["peak_push"] and data.saved_crowds[0].crowd_size == 4

    out = write_retro_report(engine, playbook, generated_at=GENERATED, out_dir=tmp_path / "reports")
    html = Path(out["path"]).read_text(encoding="utf-8")
    assert out["path"].endswith("retro_t618_retro.html") and out["snapshot_days"] == 2
    sections = dict(re.findall(r'<section id="([\w-]+)">(.*?)</section>', html, flags=re.S))
    assert list(sections) == ["funnel", "peers", "warmup", "uplift", "roi", "new-customers", "saved-crowds"]
    for sid, body in sections.items():
        assert 'class="empty"' not in body, f"section {sid} is empty"
        assert "<svg" in body or sid in ("roi", "new-customers", "saved-crowds"), f"section {sid} has no chart"
    # self-contained: no URL of any kind, no script, no external stylesheet, image or font
    assert not re.search(r"https?://|//cdn|<script|<link|<img|@import|url\(", html, flags=re.I)
    # numbers come from the published table
    with engine.connect() as conn:
        paid = conn.execute(select(metric_snapshots.c.paid_amount).where(
            metric_snapshots.c.sale_id == SALE, metric_snapshots.c.day_from == date(2027, 6, 1),
            metric_snapshots.c.crowd == "whole_store")).scalar_one()
    assert float(paid) == 790.0
    assert f"<td>{float(paid):,.2f}</td>" in sections["funnel"]
    assert "43.21%" in sections["peers"]                      # the imported peer conversion rate
    assert "<td>110</td>" in sections["warmup"]               # new customers' overall warm-up index
    assert "会员推送 (peak_push)" in sections["uplift"] and "+100.00%" in sections["uplift"]
    assert "1,666.7" in sections["roi"]
    assert "<b>4</b>" in sections["new-customers"]
    assert "rk1" in sections["saved-crowds"]


def test_report_without_data_says_so(engine, playbook, tmp_path):
    from dacu.report import write_retro_report

    out = write_retro_report(engine, playbook, generated_at=GENERATED, out_dir=tmp_path)
    html = Path(out["path"]).read_text(encoding="utf-8")
    assert out["snapshot_days"] == 0 and html.count('class="empty"') >= 5
    assert "dacu data import-peers" in html


def test_cli_report_retro(warehouse_url, playbook, tmp_path, capsys):
    from dacu.cli import CliError, report_cmd
    from dacu.warehouse import init_schema, make_engine

    eng = make_engine(warehouse_url)
    init_schema(eng)
    load(eng)
    eng.dispose()
    parser = argparse.ArgumentParser(prog="dacu")
    parser.add_argument("--warehouse")
    report_cmd.register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(["report", "retro", "--playbook", str(playbook.path), "--out", str(tmp_path / "o"),
                              "--warehouse", warehouse_url, "--generated-at", "2027-06-10 00:00"])
    assert args.func(args) == 0
    assert f"{tmp_path / 'o' / 'retro_t618_retro.html'}" in capsys.readouterr().out
    args = parser.parse_args(["--warehouse", warehouse_url, "report", "retro", "--playbook", str(playbook.path),
                              "--generated-at", "10/6/2027"])
    with pytest.raises(CliError, match="generated-at"):
        args.func(args)
    args = parser.parse_args(["report", "retro", "--playbook", str(tmp_path / "missing.yaml")])
    with pytest.raises(CliError, match="missing.yaml"):
        args.func(args)


def test_snapshot_asset_and_operator_shape():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
    from operators.report import RetroReportOperator, snapshot_asset

    asset = snapshot_asset("tmall_double11_2026")
    assert asset.uri == "dacu://tmall_double11_2026/metric_snapshots"
    op = RetroReportOperator(task_id="retro_report", playbook="tmall_double11_2026.yaml")
    assert op.template_fields == ("playbook", "out_dir")
