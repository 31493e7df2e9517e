"""Payment-reminder filters (催付, seed 004 催付设置; issue 5 item 7): amount range, seller flags, SKUs.

Each filter at its boundary on SQLite and PostgreSQL (amount exactly min/max,
flag in/out, SKU include/exclude with multi-item orders), the filters being
order-level (a buyer is reminded when one of their unpaid orders passes all of
them), the playbook's ``filters`` block folded into the crowd and refused with
file:line and field when wrong, and one micro-batch sending only to the buyers
whose orders pass.

Gate moment: 2027-06-19 20:00 Asia/Shanghai; the orders were placed at 19:30
(past the 25-minute delay) and are unpaid.
"""
from __future__ import annotations

import textwrap
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from dacu.crowds.bounds import CrowdContext, CrowdError, bind_params
from dacu.crowds.evaluate import SaleContext, evaluate_crowd
from dacu.playbook import PlaybookError, lint_file, load_playbook
from dacu.warehouse.schema import order_items, orders

TZ = ZoneInfo("Asia/Shanghai")
SALE = SaleContext("t618_2027", date(2027, 5, 24), TZ)
AS_OF = datetime(2027, 6, 19, 20, 0, tzinfo=TZ)


def U(local: str) -> datetime:
    """A Shanghai wall time as the naive UTC the warehouse stores."""
    return datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


# --- the fixture: one unpaid order per customer unless said; (customer, amount, flag, [SKU per line]) ----

ORDERS = [
    # amount: both bounds inclusive, to the fen
    ("a1", 99.99, None, ["SKU-X"]), ("a2", 100.00, None, ["SKU-X"]), ("a3", 150.00, None, ["SKU-X"]),
    ("a4", 200.00, None, ["SKU-X"]), ("a5", 200.01, None, ["SKU-X"]),
    # seller flags (卖家旗帜); f0 has none
    ("f0", 100, None, ["SKU-X"]), ("f1", 100, "red", ["SKU-X"]), ("f2", 100, "yellow", ["SKU-X"]),
    ("f3", 100, "purple", ["SKU-X"]),
    # SKUs: multi-item orders; s5 has two unpaid orders; s6's order has no lines
    ("s1", 100, None, ["SKU-A"]), ("s2", 100, None, ["SKU-B"]), ("s3", 100, None, ["SKU-A", "SKU-B"]),
    ("s4", 100, None, ["SKU-C"]), ("s5", 100, None, ["SKU-B"]), ("s5", 100, None, ["SKU-C"]),
    ("s6", 100, None, []),
    # order-level: m1's big order is unflagged (passes both filters), m2's big order is flagged red
    # and its unflagged order is small: each filter alone keeps m2, both together drop it
    ("m1", 300, None, ["SKU-X"]), ("m1", 50, "red", ["SKU-X"]),
    ("m2", 300, "red", ["SKU-X"]), ("m2", 50, None, ["SKU-X"]),
]


def load(engine) -> None:
    order_rows, item_rows = [], []
    for n, (cid, amount, flag, skus) in enumerate(ORDERS):
        oid = f"o{n:03d}"
        order_rows.append(dict(order_id=oid, customer_id=cid, platform="tmall", status="unpaid", source="normal",
                               seller_flag=flag, created_at=U("2027-06-19 19:30"), amount=amount))
        item_rows += [dict(order_id=oid, line_no=k + 1, sku_id=sku, category="c", price=amount, quantity=1)
                      for k, sku in enumerate(skus)]
    with engine.begin() as conn:
        conn.execute(insert(orders), order_rows)
        conn.execute(insert(order_items), item_rows)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh(request, tmp_path_factory):
    from conftest import module_warehouse

    with module_warehouse(request.param, tmp_path_factory.mktemp("filters")) as eng:
        load(eng)
        yield eng


def members(engine, params: dict, group: str) -> set[str]:
    crowd = evaluate_crowd(engine, {"base": "unpaid_orders", "params": params}, AS_OF, SALE)
    return {c for c in crowd if c[0] == group}


CASES = {
    # absent filters filter nothing
    "amount_none": ("a", {}, {"a1", "a2", "a3", "a4", "a5"}),
    "amount_min_exact": ("a", {"min_amount": 100}, {"a2", "a3", "a4", "a5"}),
    "amount_max_exact": ("a", {"max_amount": 200}, {"a1", "a2", "a3", "a4"}),
    "amount_range": ("a", {"min_amount": 100, "max_amount": 200}, {"a2", "a3", "a4"}),
    "amount_min_equals_max": ("a", {"min_amount": 100.0, "max_amount": 100}, {"a2"}),
    "amount_fen": ("a", {"min_amount": 99.99, "max_amount": 200.01}, {"a1", "a2", "a3", "a4", "a5"}),
    "amount_zero_min": ("a", {"min_amount": 0}, {"a1", "a2", "a3", "a4", "a5"}),
    "flags_none": ("f", {}, {"f0", "f1", "f2", "f3"}),
    "flags_red_out": ("f", {"exclude_seller_flags": ["red"]}, {"f0", "f2", "f3"}),
    "flags_two_out": ("f", {"exclude_seller_flags": ["red", "purple"]}, {"f0", "f2"}),
    "flags_unused_colour": ("f", {"exclude_seller_flags": ["green"]}, {"f0", "f1", "f2", "f3"}),
    "skus_none": ("s", {}, {"s1", "s2", "s3", "s4", "s5", "s6"}),
    "skus_include_a": ("s", {"include_skus": ["SKU-A"]}, {"s1", "s3"}),
    "skus_include_two": ("s", {"include_skus": ["SKU-A", "SKU-C"]}, {"s1", "s3", "s4", "s5"}),
    "skus_exclude_b": ("s", {"exclude_skus": ["SKU-B"]}, {"s1", "s4", "s5", "s6"}),
    "skus_include_and_exclude": ("s", {"include_skus": ["SKU-A", "SKU-C"], "exclude_skus": ["SKU-B"]},
                                 {"s1", "s4", "s5"}),
    "skus_unknown_include": ("s", {"include_skus": ["SKU-NOPE"]}, set()),
    "order_level_amount": ("m", {"min_amount": 100}, {"m1", "m2"}),
    "order_level_flag": ("m", {"exclude_seller_flags": ["red"]}, {"m1", "m2"}),
    "order_level_both": ("m", {"min_amount": 100, "exclude_seller_flags": ["red"]}, {"m1"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_filter_boundaries(wh, case):
    group, params, expected = CASES[case]
    assert members(wh, params, group) == expected


def test_absent_filters_bind_as_off():
    ctx = CrowdContext(SALE.sale_id, SALE.reference_day, TZ, AS_OF)
    b = bind_params("unpaid_orders", {}, ctx)
    assert {k: b[k] for k in b if k.startswith("use_")} == {
        "use_min_amount": 0, "use_max_amount": 0, "use_exclude_seller_flags": 0, "use_include_skus": 0,
        "use_exclude_skus": 0}
    b = bind_params("unpaid_orders", {"max_amount": 80, "include_skus": ["SKU-A"]}, ctx)
    assert (b["use_max_amount"], b["max_amount"], b["use_include_skus"], b["include_skus"]) == (1, 80.0, 1, ["SKU-A"])
    with pytest.raises(CrowdError, match="max_amount .80. is less than min_amount .100."):
        bind_params("unpaid_orders", {"min_amount": 100, "max_amount": 80}, ctx)
    with pytest.raises(CrowdError, match="min_amount=-1 must be a number >= 0"):
        bind_params("unpaid_orders", {"min_amount": -1}, ctx)


# --- the playbook's filters block ------------------------------------------------------------------

PLAYBOOK = textwrap.dedent("""\
    sale:
      id: t618_2027
      name: 天猫618 2027
      platform: tmall
      timezone: Asia/Shanghai
      reference_day: 2027-05-24
      window: {start: 2027-05-10, end: 2027-07-01}
    phases:
      - id: peak
        name: 爆发期
        windows:
          - {id: sale, name: 正式售卖, start: "2027-06-16 00:00", end: "2027-06-21 23:59"}
    strategies:
      - id: peak_pay_remind
        name: 催付
        scene: transaction
        phase: peak
        wave: sale
        kind: payment_reminder
        when: {from: "2027-06-19 19:00", to: "2027-06-19 21:00", after_order_minutes: 25, every_minutes: 15}
        crowd: {base: unpaid_orders}
        filters:
          min_amount: 100
          max_amount: 200
          exclude_seller_flags: [red]
          include_skus: [SKU-A, SKU-C]
          exclude_skus: [SKU-B]
        material: {template: "您拍下的宝贝还未付款,点此付款 {pay_link}"}
        channels: [sms]
        caps: {per_customer_per_day: 1, per_customer_per_sale: 2}
      - id: peak_balance
        name: 尾款提醒
        scene: transaction
        phase: peak
        wave: sale
        kind: payment_reminder
        when: {at: ["2027-06-19 21:00"]}
        crowd: {base: deposit_paid_balance_unpaid}
        material: {template: "尾款已开启,戳 {pay_link}"}
        channels: [sms]
      - id: peak_members
        name: 会员提醒
        scene: member
        phase: peak
        wave: sale
        kind: crowd_task
        when: {at: ["2027-06-19 10:00"]}
        crowd: {base: members}
        material: {template: "618主会场已开,戳 {link}"}
        channels: [sms]
    channels:
      sms: {signature: 【品牌旗舰店】, unsubscribe_suffix: 拒收请回复R, unit_price: 0.045, daily_cap: 1}
    """)


def write(tmp_path, old: str = "", new: str = "", name: str = "filters.yaml"):
    text = PLAYBOOK
    if old:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` line holding ``needle`` (the line the loader must name)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def test_playbook_flags_are_the_importers_flags():
    from dacu.ingest.contract import SELLER_FLAGS as IMPORTED
    from dacu.playbook.model import SELLER_FLAGS

    assert SELLER_FLAGS == IMPORTED      # a colour the importers never write could never match


def test_filters_fold_into_the_crowd(tmp_path):
    path, _ = write(tmp_path)
    s = load_playbook(path).strategy("peak_pay_remind")
    assert s.filters.min_amount == 100 and s.filters.exclude_seller_flags == ["red"]
    assert s.crowd.params == {"min_amount": 100.0, "max_amount": 200.0, "exclude_seller_flags": ["red"],
                              "include_skus": ["SKU-A", "SKU-C"], "exclude_skus": ["SKU-B"]}
    assert s.with_filters_applied() is s                  # folding twice changes nothing


def test_playbook_filters_select_the_orders(wh, tmp_path):
    path, _ = write(tmp_path, "exclude_seller_flags: [red]\n      include_skus: [SKU-A, SKU-C]\n"
                              "      exclude_skus: [SKU-B]\n", "exclude_seller_flags: [red]\n")
    crowd = load_playbook(path).strategy("peak_pay_remind").crowd
    got = evaluate_crowd(wh, crowd, AS_OF, SALE)
    # amount 100..200 inclusive and not red: a2..a4, f0/f2/f3, every s (100 each); m1 and m2 fail one each
    assert got == {"a2", "a3", "a4", "f0", "f2", "f3", "s1", "s2", "s3", "s4", "s5", "s6"}


@pytest.mark.parametrize("old, new, needle, message", [
    ("exclude_seller_flags: [red]", "exclude_seller_flags: [orange]", "exclude_seller_flags",
     "strategies[0].filters.exclude_seller_flags[0] 'orange' is not one of: "
     "'red', 'yellow', 'green', 'blue', 'purple'"),
    ("max_amount: 200", "max_amount: 99.5", "max_amount",
     "strategies[0].filters.max_amount 99.5 is less than min_amount 100"),
    ("min_amount: 100", "min_amount: -5", "min_amount",
     "strategies[0].filters.min_amount should be greater than or equal to 0 (got -5)"),
    ("min_amount: 100", "min_amout: 100", "min_amout",
     "strategies[0].filters.min_amout is an unknown key (did you mean 'min_amount'?)"),
    ("exclude_skus: [SKU-B]", "exclude_skus: [SKU-B, SKU-A]", "exclude_skus",
     "strategies[0].filters.exclude_skus SKU-A also in include_skus (an order cannot both need and not have a SKU)"),
    ("crowd: {base: unpaid_orders}", "crowd: {base: unpaid_orders, params: {max_amount: 300}}", "unpaid_orders",
     "strategies[0].crowd.params.max_amount is a payment-reminder filter: set it under the strategy's filters "
     "(min_amount, max_amount, exclude_seller_flags, include_skus, exclude_skus)"),
    ("crowd: {base: deposit_paid_balance_unpaid}\n",
     "crowd: {base: deposit_paid_balance_unpaid}\n    filters: {min_amount: 100}\n", "filters: {min_amount",
     "strategies[1].filters filter the orders of crowd unpaid_orders; crowd deposit_paid_balance_unpaid has no "
     "orders to filter"),
    ("crowd: {base: members}\n", "crowd: {base: members}\n    filters: {exclude_seller_flags: [red]}\n",
     "filters: {exclude_seller_flags",
     "strategies[2].filters only a payment_reminder has order filters (kind is crowd_task)"),
])
def test_filter_errors_name_file_line_and_field(tmp_path, old, new, needle, message):
    path, text = write(tmp_path, old, new)
    errs = [str(i) for i in lint_file(path) if i.severity == "error"]
    assert errs == [f"{path}:{line_of(text, needle)} {message}"]
    with pytest.raises(PlaybookError, match="filters|params"):
        load_playbook(path)


def test_an_empty_filters_block_is_a_warning(tmp_path):
    path, text = write(tmp_path, "    filters:\n      min_amount: 100\n      max_amount: 200\n"
                                 "      exclude_seller_flags: [red]\n      include_skus: [SKU-A, SKU-C]\n"
                                 "      exclude_skus: [SKU-B]\n", "    filters: {}\n")
    issues = [(i.severity, str(i)) for i in lint_file(path)]
    assert issues == [("warning", f"{path}:{line_of(text, 'filters: {}')} strategies[0].filters sets no filter "
                                  "(remove it, or set min_amount, max_amount, exclude_seller_flags, include_skus "
                                  "or exclude_skus)")]
    assert load_playbook(path).strategy("peak_pay_remind").crowd.params == {}


# --- one micro-batch end to end --------------------------------------------------------------------

def test_micro_batch_reminds_only_buyers_whose_orders_pass(engine, tmp_path):
    from sqlalchemy import select

    from dacu.dispatch import remind_unpaid
    from dacu.dispatch.gateway import Gateway
    from dacu.warehouse.schema import customers, segment_runs

    load(engine)
    ids = sorted({cid for cid, *_ in ORDERS})
    with engine.begin() as conn:
        conn.execute(insert(customers), [
            dict(customer_id=cid, mobile=f"138{n:08d}", first_seen_at=datetime(2026, 1, 1), member_level=0,
                 consent_sms=True, consent_email=True, consent_inapp=True, blacklisted=False)
            for n, cid in enumerate(ids)])
    path, _ = write(tmp_path)
    pb = load_playbook(path)
    window = (datetime(2027, 6, 19, 19, 0, tzinfo=TZ), datetime(2027, 6, 19, 21, 0, tzinfo=TZ))
    with Gateway(port=0) as gw:
        out = remind_unpaid(engine, pb, "peak_pay_remind", *window, AS_OF, gateway_url=gw.url)
        recipients = {m.recipient for m in gw.state.accepted.values()}
    # 100..200, not red, an A or C line and no B line: s1 (A) and s4 (C); s5's C order passes too
    expected = {f"138{ids.index(c):08d}" for c in ("s1", "s4", "s5")}
    assert recipients == expected and out["sent"] == 3 and out["crowd"]["matched"] == 3
    with engine.connect() as conn:
        expr = conn.execute(select(segment_runs.c.crowd_expr)
                            .where(segment_runs.c.strategy_id == "peak_pay_remind")).scalar_one()
    assert '"exclude_skus": ["SKU-B"]' in expr and '"min_amount": 100.0' in expr
