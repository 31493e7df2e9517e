"""``dacu segment preview|sql``: look at a strategy's crowd before a gate runs.

``preview`` evaluates the crowd as of ``--at`` (sale-local) and prints crowd
size, holdout size, exclusions by reason and 5 masked mobiles; it writes
nothing. ``sql`` prints the queries a segment task runs for the crowd (the feature-rows
query where the gate's feature layers answer it, else the reference SQL; each says which)
with their bind parameters; ``sql --reference`` prints the reference SQL (the definitions).
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime

from dacu.cli import EXIT_OK, CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("segment", help="preview a strategy's crowd or print its SQL")
    verbs = group.add_subparsers(dest="verb", required=True)

    preview = verbs.add_parser("preview", help="crowd, holdout and exclusion counts as of a moment (writes nothing)")
    preview.add_argument("--playbook", required=True, metavar="FILE")
    preview.add_argument("--strategy", required=True, metavar="ID")
    preview.add_argument("--at", required=True, metavar='"YYYY-MM-DD HH:MM"', help="gate moment, sale-local")
    preview.add_argument("--json", action="store_true")
    preview.set_defaults(func=cmd_preview)

    sql = verbs.add_parser("sql", help="print the crowd's SQL files and bound parameters")
    sql.add_argument("--playbook", required=True, metavar="FILE")
    sql.add_argument("--strategy", required=True, metavar="ID")
    sql.add_argument("--at", metavar='"YYYY-MM-DD HH:MM"', help="gate moment, sale-local (default: the strategy's first)")
    sql.add_argument("--reference", action="store_true",
                     help="print each crowd's reference SQL (its definition) instead of the query the segment task runs")
    sql.set_defaults(func=cmd_sql)


def _load(args: argparse.Namespace):
    from dacu.playbook import PlaybookError, load_playbook

    try:
        playbook = load_playbook(args.playbook)
    except PlaybookError as exc:
        raise CliError(str(exc)) from None
    try:
        strategy = playbook.strategy(args.strategy)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if strategy.crowd is None:
        raise CliError(f"{args.playbook}: strategy {strategy.id} ({strategy.kind}) has no crowd")
    return playbook, strategy


def _moment(args: argparse.Namespace, playbook, strategy) -> datetime:
    from dacu.playbook.timeparse import parse_local_datetime

    if args.at:
        try:
            return parse_local_datetime(args.at, playbook.tz)
        except ValueError as exc:
            raise CliError(f"--at {exc}") from None
    moments = strategy.moments()
    if not moments:
        raise CliError(f"strategy {strategy.id} has no moment; pass --at")
    return moments[0]


def cmd_preview(args: argparse.Namespace) -> int:
    from sqlalchemy import bindparam, text

    from dacu.crowds.bounds import CrowdError
    from dacu.crowds.segment import preview_strategy
    from dacu.pii import mask_mobile
    from dacu.warehouse import get_engine
    from dacu.warehouse.sqlfiles import sql_text

    playbook, strategy = _load(args)
    at = _moment(args, playbook, strategy)
    engine = get_engine(args.warehouse)
    try:
        pv = preview_strategy(engine, playbook, strategy.id, at)
    except CrowdError as exc:
        raise CliError(f"{args.playbook}: strategy {strategy.id}: {exc}") from None
    mobiles: dict[str, str | None] = {}
    if pv.sample:
        stmt = text(sql_text("crowds/support/sample_contacts")).bindparams(bindparam("ids", expanding=True))
        with engine.connect() as conn:
            mobiles = {str(cid): mob for cid, mob in conn.execute(stmt, {"ids": pv.sample})}
    sample = [mask_mobile(mobiles.get(cid)) or "(no mobile)" for cid in pv.sample]
    if args.json:
        print(json.dumps({"sale": playbook.sale.id, "strategy": strategy.id, "at": at.isoformat(),
                          **pv.as_dict(), "sample_mobiles": sample}, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{playbook.sale.id} / {strategy.id} as of {at.strftime('%Y-%m-%d %H:%M')} ({playbook.sale.timezone})")
    print(f"  crowd      {pv.crowd}")
    print(f"  treatment  {pv.treatment}")
    print(f"  holdout    {pv.holdout} ({strategy.holdout_pct}%)")
    for reason, n in sorted(pv.excluded_by_reason.items()):
        print(f"  excluded   {reason}: {n}")
    print(f"  sample     {', '.join(sample) if sample else '(empty)'}")
    if pv.warning:
        print(f"  warning    {pv.warning}")
    return EXIT_OK


def _print_sql(role: str, label: str, name: str, binds: dict, note: str) -> None:
    from dacu.crowds.evaluate import sql_bind_names
    from dacu.paths import SQL_DIR
    from dacu.warehouse.sqlfiles import sql_text

    print(f"\n-- [{role}] {label}  ({SQL_DIR / name}.sql)")
    print(f"-- path: {note}")
    for k in sorted(sql_bind_names(name)):
        print(f"--   :{k} = {binds[k]!r}")
    print(sql_text(name).rstrip())


def cmd_sql(args: argparse.Namespace) -> int:
    """Print the queries a segment task runs for the strategy at the moment: the feature-rows query
    where the gate's feature layers answer a crowd (what the product runs), else the crowd's
    reference SQL; ``--reference`` prints the reference SQL (the definitions) for every crowd."""
    from dacu.crowds.bounds import CrowdContext, CrowdError, bind_params
    from dacu.crowds.evaluate import crowd_expr, crowd_part, crowd_sql_name, feature_plan, sql_bind_names
    from dacu.crowds.features import base_binds, base_layer, gate_binds, gate_layer
    from dacu.paths import SQL_DIR
    from dacu.warehouse.sqlfiles import sql_text

    playbook, strategy = _load(args)
    at = _moment(args, playbook, strategy)
    ctx = CrowdContext(playbook.sale.id, playbook.sale.reference_day, playbook.tz, at)
    featured = False
    day_parts = {}
    try:
        expr = crowd_expr(strategy.crowd)
        parts = [("base", expr.base)] + [("intersect", r) for r in expr.intersect] + \
                [("exclude", r) for r in expr.exclude]
        print(f"-- {playbook.sale.id} / {strategy.id} as of {at.isoformat()} (binds are naive UTC)")
        for role, ref in parts:
            plan = None if args.reference else feature_plan(ref, ctx)
            if plan is not None:
                featured = True
                part = crowd_part(ref, ctx)
                if part is not None:
                    day_parts[part.layer] = part
                reads = f"layers {base_layer(ctx)} + {gate_layer(ctx)}" if "gate_layer" in sql_bind_names(plan[0]) else ""
                if part is not None:
                    reads = (reads + " + " if reads else "") + f"history part {part.layer}"
                _print_sql(role, ref.label(), plan[0], plan[1],
                           f"feature rows of the gate ({reads}); definition: {crowd_sql_name(ref.base)}.sql")
            elif ref.base == "repurchase_due" and not args.reference:
                # what run_repurchase_due_bounded runs; the bound needs the warehouse (longest cycle)
                binds = {"as_of": ctx.as_of_utc,
                         "since": "as_of minus the longest SKU cycle, known (support/max_sku_cycle.sql) or "
                                  "estimated (support/repurchase_history.sql), computed when it runs"}
                _print_sql(role, ref.label(), "crowds/support/repurchase_candidates", binds,
                           f"reference SQL bounded by the longest cycle (definition: {crowd_sql_name(ref.base)}.sql); "
                           "Python keeps the customers whose cycle comes due (dacu/crowds/evaluate.py)")
            else:
                note = "reference SQL (the definition)" if args.reference else \
                    "reference SQL (the feature rows do not hold this crowd's windows)"
                _print_sql(role, ref.label(), crowd_sql_name(ref.base), bind_params(ref.base, ref.params_dict, ctx),
                           note)
    except CrowdError as exc:
        raise CliError(f"{args.playbook}: strategy {strategy.id}: {exc}") from None
    if featured:
        # the layers the feature queries read: built by the gate's first segment task, then reused
        _print_sql("feature layer, once per sale-local day", base_layer(ctx), "crowds/features/base",
                   base_binds(ctx), "built by the phase DAG's crowd_features task (else the day's first segment "
                   "task), reused while the data mark holds")
        _print_sql("feature layer, once per gate moment", gate_layer(ctx), "crowds/features/gate",
                   gate_binds(ctx), "built by the gate's first segment task, reused by the others")
        for part in day_parts.values():
            _print_sql("history part, once per sale-local day", part.layer, part.sql, part.binds,
                       f"{part.crowd} before the day's 00:00: built by the phase DAG's crowd_features task")
    chans = ", ".join(strategy.channels)
    print(f"\n-- [global exclusions] channels {chans}  ({SQL_DIR}/crowds/support/contactability.sql)")
    print(sql_text("crowds/support/contactability").rstrip())
    return EXIT_OK
