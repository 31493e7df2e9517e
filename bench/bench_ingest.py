"""Throughput and memory of ``dacu data load`` on a generated orders file.

    .venv/bin/python bench/bench_ingest.py --rows 1000000 [--warehouse URL] [--export]

Writes customers.csv (rows/5 customers) and orders.csv (``--rows`` orders) into a
temporary folder with a throwaway generator, then loads them in a child process
(so its peak RSS is the loader's alone) and prints rows/s and peak RSS.
``--export`` benchmarks ``import-orders --format tmall_orders_v1`` instead
(one line per order). Not a test: run it by hand.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ORDER_COLS = ["order_id", "customer_id", "platform", "status", "source", "seller_flag", "created_at", "paid_at",
              "closed_at", "refunded_at", "amount", "is_presale", "deposit_amount", "deposit_paid_at",
              "balance_amount", "balance_paid_at"]
TMALL_COLS = ["订单编号", "买家会员名", "总金额", "买家实际支付金额", "订单状态", "收货地址", "订单创建时间",
              "订单付款时间", "订单类型", "宝贝标题", "商家编码", "价格", "购买数量"]


def generate(folder: Path, rows: int, export: bool, seed: int = 7) -> None:
    rnd = random.Random(seed)
    n_customers = max(rows // 5, 1)
    start = datetime(2024, 1, 1)
    with (folder / "customers.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "nick", "province", "first_seen_at", "member_level"])
        for i in range(n_customers):
            w.writerow([f"c{i:08d}", f"nick{i}", "浙江", "2023-06-01 00:00:00", i % 5])
    name = "tmall_export.csv" if export else "orders.csv"
    with (folder / name).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TMALL_COLS if export else ORDER_COLS)
        for i in range(rows):
            created = start + timedelta(seconds=rnd.randrange(0, 180 * 86400))
            paid = created + timedelta(seconds=rnd.randrange(5, 3600))
            amount = f"{rnd.randrange(1000, 100000) / 100:.2f}"
            cust = f"c{rnd.randrange(n_customers):08d}"
            if export:
                w.writerow([f'="{3900000000000000 + i}"', cust, amount, amount, "交易成功", "浙江省 杭州市",
                            f"{created:%Y-%m-%d %H:%M:%S}", f"{paid:%Y-%m-%d %H:%M:%S}", "一口价", "面膜",
                            f"SKU-{i % 500}", amount, "1"])
            else:
                w.writerow([f"O{i:010d}", cust, "tmall", "paid", "normal", "", f"{created:%Y-%m-%d %H:%M:%S}",
                            f"{paid:%Y-%m-%d %H:%M:%S}", "", "", amount, "0", "", "", "", ""])


def child(folder: Path, url: str, export: bool) -> None:
    from dacu.ingest import import_orders, load_dir
    from dacu.warehouse import init_schema, make_engine

    engine = make_engine(url)
    init_schema(engine)
    now = datetime(2024, 7, 1)
    if export:
        load_dir(engine, folder, now=now, rejects_dir=folder / "rejects")     # customers.csv only
        t0 = time.perf_counter()
        rep = import_orders(engine, folder / "tmall_export.csv", format_name="tmall_orders_v1", now=now,
                            rejects_dir=folder / "rejects")
        seconds, rows = time.perf_counter() - t0, rep.rows_loaded
    else:
        t0 = time.perf_counter()
        reports, _ = load_dir(engine, folder, now=now, rejects_dir=folder / "rejects")
        seconds = time.perf_counter() - t0
        rep = reports[-1]
        seconds, rows = rep.seconds, rep.rows_loaded
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "rejected": rep.rows_rejected, "seconds": round(seconds, 1),
                      "rows_per_s": round(rows / seconds), "peak_rss_mb": round(peak_mb)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--warehouse", help="SQLAlchemy URL (default: a SQLite file in the temp folder)")
    ap.add_argument("--export", action="store_true", help="bench import-orders (tmall_orders_v1)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child), args.warehouse, args.export)
        return
    with tempfile.TemporaryDirectory(prefix="dacu-bench-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        t0 = time.perf_counter()
        generate(folder, args.rows, args.export)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"generated {args.rows} orders ({size:.0f} MB) in {time.perf_counter() - t0:.1f}s", flush=True)
        url = args.warehouse or f"sqlite:///{tmp}/warehouse.db"
        cmd = [sys.executable, __file__, "--child", str(folder), "--warehouse", url] + (["--export"] if args.export else [])
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})


if __name__ == "__main__":
    main()
