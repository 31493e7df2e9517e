"""Loading real data: ``data load DIR`` (table CSVs) and ``data import-orders`` (platform exports).

Every warehouse test runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dacu.ingest import IngestFileError, import_orders, load_dir
from dacu.ingest import readers
from dacu.ingest.contract import CONTRACTS, REASONS
from dacu.warehouse.schema import (
    coupon_grants,
    customers,
    events,
    import_batches,
    import_rejects,
    order_items,
    orders,
    skus,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
GOOD = FIXTURES / "good"
TMALL = FIXTURES / "tmall_orders_v1.csv"
JD = FIXTURES / "jd_orders_v1.csv"
NOW = datetime(2024, 7, 1, 2, 0, 0)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "data-contract.md"


# ---- helpers -------------------------------------------------------------------------------------

def count(engine, table) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def dump(engine, table) -> list[tuple]:
    with engine.connect() as c:
        return sorted(tuple(str(v) for v in row) for row in c.execute(select(table)))


def rejects(engine) -> dict[tuple[str, int], str]:
    with engine.connect() as c:
        return {(r.table_name, r.line_no): r.reason for r in c.execute(select(import_rejects))}


def batches(engine) -> list:
    with engine.connect() as c:
        return list(c.execute(select(import_batches).order_by(import_batches.c.batch_id)))


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def copy_good(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for name in names or [p.name for p in GOOD.glob("*.csv")]:
        shutil.copy(GOOD / name, folder / name)
    return folder


def run_cli(argv: list[str]) -> int:
    """``dacu.cli.main`` when every verb module is importable, else a local parser with this module."""
    from dacu import cli

    try:
        cli.build_parser()
    except ImportError:
        from dacu.cli import data_import

        parser = argparse.ArgumentParser(prog="dacu")
        parser.add_argument("--warehouse")
        parser.add_argument("-v", "--verbose", action="store_true")
        sub = parser.add_subparsers(dest="group", required=True)
        data_import.register(sub.add_parser("data").add_subparsers(dest="verb", required=True))
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    return cli.main(argv)


ORDER_HEADER = list(CONTRACTS["orders"].column_names)


def order_row(order_id="O1", customer_id="c001", status="paid", created="2024-06-18 00:05:00",
              paid="2024-06-18 00:06:00", amount="100.00", **over) -> list[str]:
    row = dict.fromkeys(ORDER_HEADER, "")
    row.update(order_id=order_id, customer_id=customer_id, status=status, created_at=created, paid_at=paid,
               amount=amount)
    row.update(over)
    return [row[h] for h in ORDER_HEADER]


# ---- data load: good rows ------------------------------------------------------------------------

def test_good_dir_loads_every_table_in_utc(engine, tmp_path):
    reports, plan = load_dir(engine, GOOD, now=NOW, rejects_dir=tmp_path)
    assert [r.table for r in reports] == ["customers", "skus", "coupons", "orders", "order_items", "events",
                                          "coupon_grants"]
    assert all(r.rows_rejected == 0 and r.rejects_file is None and r.status == "done" for r in reports)
    assert (count(engine, customers), count(engine, orders), count(engine, order_items), count(engine, events),
            count(engine, coupon_grants)) == (3, 5, 6, 5, 2)
    with engine.connect() as c:
        o = c.execute(select(orders).where(orders.c.order_id == "O1003")).one()
        cu = c.execute(select(customers).where(customers.c.customer_id == "c003")).one()
    # 2024-05-28 20:01 Beijing = 12:01 UTC, stored naive
    assert o.created_at == datetime(2024, 5, 28, 12, 1) and o.created_at.tzinfo is None
    assert o.status == "deposit_paid" and o.is_presale is True and o.deposit_amount == Decimal("50.00")
    assert o.import_batch_id == reports[3].batch_id and o.updated_at == NOW
    # booleans 是/否, mobile normalised from "+86 139 0000 1111"
    assert (cu.consent_sms, cu.consent_email, cu.blacklisted, cu.mobile) == (True, False, False, "13900001111")
    rows = batches(engine)
    assert [(b.kind, b.status, b.rows_read, b.rows_loaded, b.rows_rejected) for b in rows][3] == \
        ("csv_load", "done", 5, 5, 0)
    assert rows[3].source.endswith("orders.csv")


def test_timezone_option_changes_utc_conversion(engine, tmp_path):
    load_dir(engine, copy_good(tmp_path, "customers.csv"), now=NOW, timezone="UTC", rejects_dir=tmp_path)
    with engine.connect() as c:
        first = c.execute(select(customers.c.first_seen_at).where(customers.c.customer_id == "c001")).scalar_one()
    assert first == datetime(2024, 3, 1, 10, 0)


# ---- data load: every reject reason -----------------------------------------------------------

def test_each_reject_reason_is_quarantined_and_good_rows_load(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv", "skus.csv", "coupons.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER, [
        order_row("G1"),                                                      # 2 good
        order_row("B1", created="2024-13-01 00:00:00"),                       # 3 bad_date
        order_row("B2", amount="-5.00"),                                      # 4 negative_amount
        order_row("B3", status="shipped"),                                    # 5 unknown_status
        order_row("B4", customer_id="nobody"),                                # 6 unknown_customer
        order_row("B5", customer_id=""),                                      # 7 missing_field
        order_row("B6", amount="12.3x"),                                      # 8 bad_number
        order_row("B7", is_presale="maybe"),                                  # 9 bad_bool
        order_row("B8", source="tiktok"),                                     # 10 unknown_source
        order_row("B9", status="paid", paid=""),                              # 11 missing_field (paid_at)
        order_row("B10", paid="2024-06-17 00:00:00"),                         # 12 bad_date (paid before created)
        order_row("X" * 65),                                                  # 13 too_long
        order_row("G2", amount="200.00"),                                     # 14 good
        order_row("G2", amount="201.00"),                                     # 15 conflicting_duplicate
        ["B11", "c001", "tmall"],                                             # 16 bad_row
        order_row("G3", platform="pdd"),                                      # 17 unknown_value
    ])
    write_csv(folder / "order_items.csv", list(CONTRACTS["order_items"].column_names), [
        ["G1", "1", "SKU-FACE-01", "面膜", "100.00", "1"],                     # 2 good
        ["B1", "1", "SKU-FACE-01", "面膜", "100.00", "1"],                     # 3 unknown_order (order rejected)
        ["G2", "1", "SKU-FACE-01", "面膜", "100.00", "0"],                     # 4 bad_number (quantity 0)
    ])
    write_csv(folder / "events.csv", list(CONTRACTS["events"].column_names), [
        ["1", "c001", "visit", "2024-06-01 10:00:00", "", "", ""],            # good
        ["2", "c001", "share", "2024-06-01 10:00:00", "", "", ""],            # unknown_value
    ])
    write_csv(folder / "coupon_grants.csv", list(CONTRACTS["coupon_grants"].column_names), [
        ["G1", "CP-NOPE", "c001", "2024-06-01 10:00:00", "", "", ""],         # unknown_coupon
        ["G2", "CP-618-50", "c001", "2024-06-01 10:00:00", "", "", ""],       # good
    ])
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path / "rej")
    got = rejects(engine)
    assert {k: v for k, v in got.items() if k[0] == "orders"} == {
        ("orders", 3): "bad_date", ("orders", 4): "negative_amount", ("orders", 5): "unknown_status",
        ("orders", 6): "unknown_customer", ("orders", 7): "missing_field", ("orders", 8): "bad_number",
        ("orders", 9): "bad_bool", ("orders", 10): "unknown_source", ("orders", 11): "missing_field",
        ("orders", 12): "bad_date", ("orders", 13): "too_long", ("orders", 15): "conflicting_duplicate",
        ("orders", 16): "bad_row", ("orders", 17): "unknown_value",
    }
    assert got[("order_items", 3)] == "unknown_order" and got[("order_items", 4)] == "bad_number"
    assert got[("events", 3)] == "unknown_value" and got[("coupon_grants", 2)] == "unknown_coupon"
    assert set(got.values()) <= set(REASONS)
    with engine.connect() as c:
        loaded = set(c.execute(select(orders.c.order_id)).scalars())
        g2 = c.execute(select(orders.c.amount).where(orders.c.order_id == "G2")).scalar_one()
    assert loaded == {"G1", "G2"} and g2 == Decimal("200.00")       # the first of the conflicting pair
    by_table = {r.table: r for r in reports}
    assert (by_table["orders"].rows_read, by_table["orders"].rows_loaded, by_table["orders"].rows_rejected) == \
        (16, 2, 14)
    assert count(engine, order_items) == 1 and count(engine, events) == 1 and count(engine, coupon_grants) == 1


def test_customer_rejects_mask_pii_in_table_but_rejects_file_keeps_original(engine, tmp_path):
    header = list(CONTRACTS["customers"].column_names)
    blank = dict.fromkeys(header, "")
    rows = [
        {**blank, "customer_id": "c1", "first_seen_at": "2024-01-01 00:00:00", "mobile": "1381234567"},
        {**blank, "customer_id": "c2", "first_seen_at": "2024-01-01 00:00:00", "email": "alice.wong@qq"},
        {**blank, "customer_id": "c3", "first_seen_at": "2024-01-01 00:00:00", "member_level": "7"},
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "customers.csv", header, [[r[h] for h in header] for r in rows])
    write_csv(folder / "orders.csv", ORDER_HEADER, [order_row("O1", customer_id="13812345678"),
                                                    order_row("O2", customer_id="bob@example.com")])
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path / "rej")
    with engine.connect() as c:
        stored = list(c.execute(select(import_rejects).order_by(import_rejects.c.batch_id,
                                                                import_rejects.c.line_no)))
    assert [r.reason for r in stored] == ["bad_mobile", "bad_email", "bad_number", "unknown_customer",
                                          "unknown_customer"]
    text = " ".join(f"{r.record_key} {r.detail}" for r in stored)
    for secret in ("1381234567", "13812345678", "alice.wong@qq", "bob@example.com"):
        assert secret not in text
    assert "138****5678" in text and "b***@example.com" in text
    # The rejects CSV is the data team's working copy: original row + line + reason.
    with open(reports[1].rejects_file, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["order_id"], r["customer_id"], r["_reject_line"], r["_reject_reason"]) for r in lines] == [
        ("O1", "13812345678", "2", "unknown_customer"), ("O2", "bob@example.com", "3", "unknown_customer")]
    assert Path(reports[1].rejects_file).stat().st_mode & 0o077 == 0


def test_rejects_file_has_original_columns_line_and_reason(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER + ["note"], [
        order_row("O1") + ["x"], order_row("O2", amount="-1") + ["y, quoted"], order_row("O3") + ["z"]])
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path / "rej")
    rep = reports[-1]
    assert rep.ignored_columns == ["note"]
    path = Path(rep.rejects_file)
    assert path.parent == tmp_path / "rej" and path.name == f"orders.batch{rep.batch_id}.rejects.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ORDER_HEADER + ["note", "_reject_line", "_reject_reason", "_reject_detail"]
    assert rows[1][:len(ORDER_HEADER) + 1] == order_row("O2", amount="-1") + ["y, quoted"]
    assert rows[1][-3:-1] == ["3", "negative_amount"] and "amount" in rows[1][-1]
    assert batches(engine)[-1].rejects_file == str(path)


# ---- idempotency, duplicates, period -----------------------------------------------------------

def test_reimport_changes_nothing_and_records_a_second_batch(engine, tmp_path):
    tables = (customers, skus, orders, order_items, events, coupon_grants)
    first, _ = load_dir(engine, GOOD, now=NOW, rejects_dir=tmp_path)
    before = {t.name: dump(engine, t) for t in tables}
    second, _ = load_dir(engine, GOOD, now=datetime(2024, 7, 2), rejects_dir=tmp_path)
    assert {t.name: dump(engine, t) for t in tables} == before          # lineage + updated_at untouched
    assert [(r.rows_read, r.rows_loaded) for r in second] == [(r.rows_read, r.rows_loaded) for r in first]
    rows = batches(engine)
    assert len(rows) == 14 and [b.source for b in rows[:7]] == [b.source for b in rows[7:]]


def test_changed_row_is_updated_and_restamped(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER, [order_row("O1", amount="10.00"), order_row("O2")])
    load_dir(engine, folder, now=NOW, rejects_dir=tmp_path)
    write_csv(folder / "orders.csv", ORDER_HEADER, [order_row("O1", amount="12.00"), order_row("O2")])
    later = datetime(2024, 7, 3)
    reports, _ = load_dir(engine, folder, now=later, rejects_dir=tmp_path)
    with engine.connect() as c:
        got = {r.order_id: (r.amount, r.import_batch_id, r.updated_at) for r in c.execute(select(orders))}
    assert got["O1"] == (Decimal("12.00"), reports[-1].batch_id, later)
    assert got["O2"][1:] == (2, NOW)                                   # unchanged row keeps its lineage


def test_identical_duplicates_are_fine_across_chunks(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER,
              [order_row("O1"), order_row("O2"), order_row("O3"), order_row("O1"), order_row("O2", amount="9")])
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path, chunk_size=2)
    rep = reports[-1]
    assert (rep.rows_read, rep.rows_loaded, rep.rows_duplicate, rep.rows_rejected) == (5, 4, 1, 1)
    assert rejects(engine) == {("orders", 6): "conflicting_duplicate"}
    with engine.connect() as c:
        detail = c.execute(select(import_rejects.c.detail)).scalar_one()
    assert "line 3" in detail
    assert count(engine, orders) == 3


def test_order_lines_of_an_order_replace_stored_lines(engine, tmp_path):
    load_dir(engine, GOOD, now=NOW, rejects_dir=tmp_path)
    folder = tmp_path / "again"
    folder.mkdir()
    header = list(CONTRACTS["order_items"].column_names)
    # O1001 had 2 lines; now 1 line, split from the next order by a chunk boundary.
    write_csv(folder / "order_items.csv", header, [
        ["O1002", "1", "SKU-FACE-01", "面膜", "129.00", "1"],
        ["O1001", "1", "SKU-FACE-01", "面膜", "129.00", "3"],
        ["O1002", "2", "SKU-CREAM-03", "面霜", "259.00", "1"],
    ])
    load_dir(engine, folder, now=NOW, rejects_dir=tmp_path, chunk_size=1)
    with engine.connect() as c:
        lines = sorted(tuple(r) for r in c.execute(select(order_items.c.order_id, order_items.c.line_no, order_items.c.quantity)
                                 .where(order_items.c.order_id.in_(["O1001", "O1002"]))))
    assert lines == [("O1001", 1, 3), ("O1002", 1, 1), ("O1002", 2, 1)]
    assert count(engine, order_items) == 6              # 6 - 1 (O1001) + 1 (O1002); other orders untouched


def test_period_covers_loaded_rows_only(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER, [
        order_row("O1", created="2024-06-01 08:00:00", paid="2024-06-01 08:01:00"),
        order_row("O2", created="2024-06-03 10:00:00", paid="2024-06-20 23:30:00"),
        order_row("O3", created="2020-01-01 00:00:00", paid="2020-01-01 00:01:00", amount="-1"),   # rejected
    ])
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path)
    row = batches(engine)[-1]
    assert (row.period_start, row.period_end) == (datetime(2024, 6, 1, 0, 0), datetime(2024, 6, 20, 15, 30))
    assert (reports[-1].period_start, reports[-1].period_end) == (row.period_start, row.period_end)


# ---- unreadable input writes nothing -----------------------------------------------------------

def test_missing_required_column_writes_nothing_for_the_whole_dir(engine, tmp_path):
    folder = copy_good(tmp_path, "customers.csv", "skus.csv")
    write_csv(folder / "orders.csv", [h for h in ORDER_HEADER if h != "status"], [order_row("O1")[:-1]])
    with pytest.raises(IngestFileError) as err:
        load_dir(engine, folder, now=NOW, rejects_dir=tmp_path / "rej")
    assert "orders.csv" in str(err.value) and "status" in str(err.value) and err.value.column == "status"
    assert batches(engine) == [] and count(engine, customers) == 0 and count(engine, skus) == 0
    assert not (tmp_path / "rej").exists()


@pytest.mark.parametrize("content, message", [
    (b"customer_id,first_seen_at\nc1,2024-01-01\n\xff\xfe\xfa\xfb,2024-01-01\n", "cannot be decoded"),
    (b"PK\x03\x04\x14\x00\x06\x00binary", "Excel workbook"),
    (b"", "empty"),
    (b"customer_id\tfirst_seen_at\nc1\t2024-01-01\n", "tab-separated"),
    (b"customer_id,customer_id,first_seen_at\n", "twice"),
])
def test_unreadable_file_fails_with_its_name(engine, tmp_path, content, message):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "customers.csv").write_bytes(content)
    with pytest.raises(IngestFileError) as err:
        load_dir(engine, folder, now=NOW, rejects_dir=tmp_path)
    assert "customers.csv" in str(err.value) and message in str(err.value)
    assert batches(engine) == [] and count(engine, customers) == 0


def test_undecodable_line_mid_file_rolls_the_file_back(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 64)         # the bad byte lies past the encoding sample
    folder = copy_good(tmp_path, "customers.csv")
    good = [order_row(f"O{i}", amount="-1" if i == 3 else "1.00") for i in range(40)]
    path = write_csv(folder / "orders.csv", ORDER_HEADER, good)
    with path.open("ab") as fh:
        fh.write(b"O99,c001,tmall,paid,\xff\xff,,2024-06-18 00:05:00,,,,1.00,0,,,,\n")
    with pytest.raises(IngestFileError) as err:
        load_dir(engine, folder, now=NOW, rejects_dir=tmp_path / "rej", chunk_size=10)
    assert "orders.csv" in str(err.value) and err.value.line == 42
    assert [r.table for r in err.value.completed] == ["customers"]         # earlier file stays loaded
    assert count(engine, orders) == 0 and count(engine, import_rejects) == 0
    assert [b.source.rsplit("/", 1)[-1] for b in batches(engine)] == ["customers.csv"]
    assert not list((tmp_path / "rej").glob("*"))                             # no rejects file left behind


def test_gbk_file_is_detected(engine, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "skus.csv").write_bytes((GOOD / "skus.csv").read_text(encoding="utf-8").encode("gbk"))
    reports, _ = load_dir(engine, folder, now=NOW, rejects_dir=tmp_path)
    assert reports[0].encoding == "gb18030" and reports[0].rows_loaded == 3
    with engine.connect() as c:
        assert c.execute(select(skus.c.name).where(skus.c.sku_id == "SKU-FACE-01")).scalar_one() == "玻尿酸面膜 10片"


def test_folder_without_table_files_is_unreadable(engine, tmp_path):
    (tmp_path / "order.csv").write_text("order_id\n", encoding="utf-8")
    with pytest.raises(IngestFileError, match="has none of the table files"):
        load_dir(engine, tmp_path, now=NOW)


# ---- platform order exports --------------------------------------------------------------------

def test_tmall_export_imports_orders_and_lines(engine, tmp_path):
    load_dir(engine, copy_good(tmp_path, "skus.csv"), now=NOW, rejects_dir=tmp_path)
    rep = import_orders(engine, TMALL, format_name="tmall_orders_v1", now=NOW, create_customers=True,
                        rejects_dir=tmp_path)
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected, rep.customers_created) == (6, 6, 0, 4)
    assert rep.kind == "orders_export" and "联系手机" in rep.ignored_columns
    with engine.connect() as c:
        got = {r.order_id: r for r in c.execute(select(orders))}
        lines = list(c.execute(select(order_items).order_by(order_items.c.order_id, order_items.c.line_no)))
        new = c.execute(select(customers).where(customers.c.customer_id == "tb_xiaowang")).one()
    assert set(got) == {f"392100000000000{i}" for i in range(1, 6)}          # ="..." Excel wrapper removed
    status = {k[-1]: (v.status, v.source, v.amount) for k, v in got.items()}
    assert status == {
        "1": ("paid", "normal", Decimal("388.00")),
        "2": ("unpaid", "juhuasuan", Decimal("129.00")),         # 0.00 paid falls through to 总金额
        "3": ("deposit_paid", "presale", Decimal("399.00")),      # deposit + balance
        "4": ("refunded", "normal", Decimal("259.50")),           # 交易关闭 + 订单关闭原因 退款
        "5": ("closed", "normal", Decimal("109.00")),
    }
    presale = got["3921000000000003"]
    assert presale.paid_at is None and presale.deposit_paid_at == datetime(2024, 5, 28, 12, 1, 30)
    assert got["3921000000000002"].seller_flag == "red" and got["3921000000000001"].platform == "tmall"
    assert [(l.line_no, l.sku_id, l.category) for l in lines if l.order_id.endswith("1")] == \
        [(1, "SKU-FACE-01", "面膜"), (2, "SKU-CREAM-03", "面霜")]
    assert [l.category for l in lines if l.sku_id == "SKU-TRIAL-09"] == ["未分类"]
    # minimal customer: id/nick and first order time only, nothing from the receiver columns
    assert (new.nick, new.mobile, new.email, new.province) == ("tb_xiaowang", None, None, None)
    assert new.first_seen_at == datetime(2024, 6, 17, 16, 5)
    assert (rep.period_start, rep.period_end) == (datetime(2024, 5, 28, 12, 1), datetime(2024, 6, 19, 2, 1))


def test_export_reimport_is_idempotent_and_gbk_copy_is_identical(engine, tmp_path):
    rep1 = import_orders(engine, TMALL, format_name="tmall_orders_v1", now=NOW, create_customers=True,
                         rejects_dir=tmp_path)
    before = {t.name: dump(engine, t) for t in (orders, order_items, customers)}
    gbk = tmp_path / "export_gbk.csv"
    gbk.write_bytes(TMALL.read_text(encoding="utf-8").encode("gbk"))
    rep2 = import_orders(engine, gbk, format_name="tmall_orders_v1", now=datetime(2024, 8, 1),
                         create_customers=True, rejects_dir=tmp_path)
    assert rep2.encoding == "gb18030" and rep2.customers_created == 0
    assert (rep2.rows_read, rep2.rows_loaded) == (rep1.rows_read, rep1.rows_loaded)
    assert {t.name: dump(engine, t) for t in (orders, order_items, customers)} == before
    assert [b.kind for b in batches(engine)] == ["orders_export", "orders_export"]


def test_export_unknown_customers_rejected_without_flag(engine, tmp_path):
    load_dir(engine, copy_good(tmp_path, "customers.csv"), now=NOW, rejects_dir=tmp_path)
    rep = import_orders(engine, TMALL, format_name="tmall_orders_v1", now=NOW, rejects_dir=tmp_path)
    assert (rep.rows_loaded, rep.rows_rejected, rep.reasons) == (0, 6, {"unknown_customer": 6})
    assert count(engine, orders) == 0 and count(engine, customers) == 3


def _tmall_rows() -> tuple[list[str], list[list[str]]]:
    with TMALL.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_export_rejects_whole_orders_and_conflicting_repeats(engine, tmp_path):
    header, rows = _tmall_rows()
    col = {h: i for i, h in enumerate(header)}
    bad_status = list(rows[2]); bad_status[col["订单状态"]] = "神秘状态"              # order 2
    bad_line = list(rows[1]); bad_line[col["价格"]] = "abc"                          # 2nd line of order 1
    repeat_changed = list(rows[4]); repeat_changed[col["买家实际支付金额"]] = "1.00"   # order 4 again, changed
    split = list(rows[3]); split[col["订单状态"]] = "交易成功"                        # order 3 line disagrees
    body = [rows[0], bad_line, bad_status, rows[3], split, rows[4], rows[5], repeat_changed, rows[5]]
    path = write_csv(tmp_path / "export.csv", header, body)
    rep = import_orders(engine, path, format_name="tmall_orders_v1", now=NOW, create_customers=True,
                        rejects_dir=tmp_path, chunk_size=3)
    assert rejects(engine) == {
        ("orders", 2): "order_rejected", ("orders", 3): "bad_number",       # order 1 as a whole
        ("orders", 4): "unknown_status",
        ("orders", 5): "order_rejected", ("orders", 6): "conflicting_duplicate",   # order 3 lines disagree
        ("orders", 9): "conflicting_duplicate",                              # order 4 again with other data
    }
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected, rep.rows_duplicate) == (9, 3, 6, 1)
    with engine.connect() as c:
        assert set(c.execute(select(orders.c.order_id)).scalars()) == {"3921000000000004", "3921000000000005"}


def test_jd_export(engine, tmp_path):
    rep = import_orders(engine, JD, format_name="jd_orders_v1", now=NOW, create_customers=True,
                        rejects_dir=tmp_path)
    assert (rep.rows_loaded, rep.rows_rejected) == (2, 0)
    with engine.connect() as c:
        got = {r.order_id: r for r in c.execute(select(orders))}
        skus_used = set(c.execute(select(order_items.c.sku_id)).scalars())
    assert got["280000000001"].status == "paid" and got["280000000001"].platform == "jd"
    assert got["280000000002"].status == "unpaid" and got["280000000002"].seller_flag == "red"
    assert skus_used == {"SKU-FACE-01", "100012345679"}          # 货号, else JD's 商品ID


def test_export_unreadable_inputs_write_nothing(engine, tmp_path):
    with pytest.raises(IngestFileError, match="unknown format 'tmall_orders_v9'"):
        import_orders(engine, TMALL, format_name="tmall_orders_v9", now=NOW)
    header, rows = _tmall_rows()
    drop = header.index("订单状态")
    path = write_csv(tmp_path / "no_status.csv", header[:drop] + header[drop + 1:],
                     [r[:drop] + r[drop + 1:] for r in rows])
    with pytest.raises(IngestFileError) as err:
        import_orders(engine, path, format_name="tmall_orders_v1", now=NOW, create_customers=True)
    assert "no_status.csv" in str(err.value) and "订单状态" in str(err.value)
    with pytest.raises(IngestFileError, match="file not found"):
        import_orders(engine, tmp_path / "missing.csv", format_name="tmall_orders_v1", now=NOW)
    assert batches(engine) == [] and count(engine, orders) == 0 and count(engine, customers) == 0


# ---- CLI -----------------------------------------------------------------------------------------

def test_cli_exit_codes_and_json(warehouse_url, tmp_path, capsys):
    base = ["--warehouse", warehouse_url, "data"]
    assert run_cli(base + ["load", str(GOOD), "--rejects-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["table"] for r in out["reports"]][:2] == ["customers", "skus"] and out["error"] is None

    folder = copy_good(tmp_path, "customers.csv")
    write_csv(folder / "orders.csv", ORDER_HEADER, [order_row("Z1"), order_row("Z2", amount="-3")])
    assert run_cli(base + ["load", str(folder), "--rejects-dir", str(tmp_path)]) == 1
    assert "negative_amount 1" in capsys.readouterr().out

    assert run_cli(base + ["import-orders", str(TMALL), "--format", "tmall_orders_v1",
                           "--rejects-dir", str(tmp_path)]) == 1
    capsys.readouterr()
    assert run_cli(base + ["import-orders", str(TMALL), "--format", "tmall_orders_v1", "--create-customers",
                           "--rejects-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reports"][0]["customers_created"] == 4

    assert run_cli(base + ["import-orders", str(TMALL), "--format", "nope_v1"]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'nope_v1'" in err and "tmall_orders_v1" in err
    assert run_cli(base + ["load", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "folder not found" in err


# ---- the contract is documented ------------------------------------------------------------------

def test_docs_list_every_column_and_reason():
    text = DOCS.read_text(encoding="utf-8")
    for contract in CONTRACTS.values():
        assert f"### {contract.file_name}" in text
        for col in contract.column_names:
            assert f"`{col}`" in text, col
    for reason in REASONS:
        assert f"`{reason}`" in text, reason
    for fmt in ("tmall_orders_v1", "jd_orders_v1"):
        assert fmt in text
