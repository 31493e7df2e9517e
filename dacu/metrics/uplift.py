"""Uplift and ROI per strategy (issue 6 §5): treated vs holdout, inside the playbook's attribution window.

For every segment run (one strategy at one gate moment, ``segment_runs``) the
frozen crowd snapshot (``crowd_snapshots``) splits into treated customers and
the holdout (virtual sends, never contacted). A customer *converts* when they
pay an order in ``[as_of, as_of + metrics.attribution_days)``; their GMV is
what they paid in that window (presale at deposit + balance when the balance is
paid). Per arm we read customers, converters, GMV and the sum of squared
per-customer GMV (include/sql/metrics/uplift_run_outcomes.sql) and derive:

- conversion uplift = p_treated − p_holdout, 95 % interval by the two-proportion
  normal approximation (unpooled standard error);
- GMV-per-customer uplift = mean_treated − mean_holdout, 95 % interval by
  Welch's t (Welch–Satterthwaite degrees of freedom);
- incremental GMV = GMV uplift × treated customers; cost = billed sends
  (``dispatch_ledger`` state ``sent``) per channel; ROI = incremental GMV / cost.

A strategy's figure pools its runs (a customer in two runs counts twice: each
run is its own treatment). The sale's ROI is the incremental GMV of the
strategies that have a holdout over their cost. Notes flag what makes a figure
unreadable: no holdout, a sample too small for the approximation, no cost, or
an attribution window that has not closed yet at ``until``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, bindparam
from sqlalchemy.engine import Engine

from dacu.warehouse.sqlfiles import sql

Z95 = 1.959964
# two-sided 95 % t quantiles for small degrees of freedom (above 30 the normal value is within 4 %)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
         29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
# Below this many customers in an arm, or fewer than this many converters / non-converters, the normal
# approximation is not trusted: the figure is shown with the note "small_sample".
MIN_ARM = 30
MIN_EVENTS = 5

NOTES = {
    "no_holdout": "无对照组(holdout_pct 为 0),无法读取增量",
    "small_sample": "样本过小,区间仅供参考",
    "no_cost": "无发送成本记录,ROI 不可算",
    "window_open": "归因窗口尚未结束",
    "no_treated": "无实验组客户",
}


def t975(df: float) -> float:
    """Two-sided 95 % quantile of Student's t (table for small df, linear between entries, normal above 120)."""
    if df != df or df <= 0:
        return math.nan
    if df >= 120:
        return Z95 + (1.980 - Z95) * 120 / df
    keys = sorted(_T975)
    if df <= 1:
        return _T975[1]
    lo = max(k for k in keys if k <= df)
    hi = min(k for k in keys if k >= df)
    if lo == hi:
        return _T975[lo]
    return _T975[lo] + (_T975[hi] - _T975[lo]) * (df - lo) / (hi - lo)


@dataclass
class Arm:
    customers: int = 0
    converters: int = 0
    gmv: float = 0.0
    gmv_sq: float = 0.0

    def add(self, other: "Arm") -> None:
        self.customers += other.customers
        self.converters += other.converters
        self.gmv += other.gmv
        self.gmv_sq += other.gmv_sq

    @property
    def rate(self) -> float:
        return self.converters / self.customers if self.customers else math.nan

    @property
    def mean(self) -> float:
        return self.gmv / self.customers if self.customers else math.nan

    @property
    def var(self) -> float:
        """Sample variance of per-customer GMV (n − 1)."""
        n = self.customers
        if n < 2:
            return math.nan
        return max(0.0, (self.gmv_sq - self.gmv * self.gmv / n) / (n - 1))


def conversion_interval(t: Arm, c: Arm) -> tuple[float, float, float]:
    """(difference, low, high) of p_t − p_c; 95 % two-proportion normal approximation (unpooled)."""
    if not t.customers or not c.customers:
        return math.nan, math.nan, math.nan
    diff = t.rate - c.rate
    se = math.sqrt(t.rate * (1 - t.rate) / t.customers + c.rate * (1 - c.rate) / c.customers)
    return diff, diff - Z95 * se, diff + Z95 * se


def gmv_interval(t: Arm, c: Arm) -> tuple[float, float, float]:
    """(difference, low, high) of mean GMV per customer, Welch's 95 % interval."""
    if not t.customers or not c.customers:
        return math.nan, math.nan, math.nan
    diff = t.mean - c.mean
    if t.customers < 2 or c.customers < 2:
        return diff, math.nan, math.nan
    a, b = t.var / t.customers, c.var / c.customers
    se = math.sqrt(a + b)
    if se == 0:
        return diff, diff, diff
    df = (a + b) ** 2 / ((a * a / (t.customers - 1) if a else 0) + (b * b / (c.customers - 1) if b else 0))
    q = t975(df)
    return diff, diff - q * se, diff + q * se


def small_sample(t: Arm, c: Arm) -> bool:
    for arm in (t, c):
        if arm.customers < MIN_ARM:
            return True
        if min(arm.converters, arm.customers - arm.converters) < MIN_EVENTS:
            return True
    return False


@dataclass
class Uplift:
    """One segment run (``run_key`` set) or one strategy's runs pooled (``run_key`` None)."""
    strategy_id: str
    run_key: str | None
    wave: str | None
    as_of: datetime | None                 # naive UTC gate moment (first run's, for a strategy)
    runs: int
    treated: Arm
    holdout: Arm
    cost_by_channel: dict[str, float] = field(default_factory=dict)
    sent_by_channel: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    conv_diff: float = math.nan
    conv_low: float = math.nan
    conv_high: float = math.nan
    gmv_diff: float = math.nan
    gmv_low: float = math.nan
    gmv_high: float = math.nan

    @property
    def cost(self) -> float:
        return round(sum(self.cost_by_channel.values()), 4)

    @property
    def incremental_gmv(self) -> float:
        return self.gmv_diff * self.treated.customers if self.gmv_diff == self.gmv_diff else math.nan

    @property
    def roi(self) -> float:
        inc = self.incremental_gmv
        return inc / self.cost if self.cost > 0 and inc == inc else math.nan

    @property
    def gross_roi(self) -> float:
        """Seed 003's ROI = GMV / cost, of the treated customers (not incremental)."""
        return self.treated.gmv / self.cost if self.cost > 0 else math.nan

    def finish(self, window_open: bool = False) -> "Uplift":
        self.conv_diff, self.conv_low, self.conv_high = conversion_interval(self.treated, self.holdout)
        self.gmv_diff, self.gmv_low, self.gmv_high = gmv_interval(self.treated, self.holdout)
        notes = []
        if not self.treated.customers:
            notes.append("no_treated")
        if not self.holdout.customers:
            notes.append("no_holdout")
        elif self.treated.customers and small_sample(self.treated, self.holdout):
            notes.append("small_sample")
        if self.cost <= 0:
            notes.append("no_cost")
        if window_open:
            notes.append("window_open")
        self.notes = notes
        return self

    def to_dict(self) -> dict:
        out = asdict(self)
        for k, v in list(out.items()):
            if isinstance(v, float) and v != v:
                out[k] = None
        out["as_of"] = self.as_of.isoformat(sep=" ") if self.as_of else None
        for arm in ("treated", "holdout"):
            a = getattr(self, arm)
            out[arm].update({"rate": _num(a.rate), "gmv_per_customer": _num(a.mean)})
            out[arm].pop("gmv_sq")
        out.update({"cost": self.cost, "incremental_gmv": _num(self.incremental_gmv), "roi": _num(self.roi),
                    "gross_roi": _num(self.gross_roi), "note_text": [NOTES[n] for n in self.notes]})
        return out


def _num(v: float) -> float | None:
    return None if v != v else round(v, 6)


@dataclass
class UpliftReport:
    sale_id: str
    attribution_days: int
    runs: list[Uplift]
    strategies: list[Uplift]
    cost_by_channel: dict[str, float]
    measured_cost: float            # cost of strategies with a holdout (the ROI's denominator)
    incremental_gmv: float          # summed over strategies with a holdout
    total_cost: float               # every billed send of the sale

    @property
    def roi(self) -> float:
        return self.incremental_gmv / self.measured_cost if self.measured_cost > 0 else math.nan

    def to_dict(self) -> dict:
        return {"sale_id": self.sale_id, "attribution_days": self.attribution_days,
                "cost_by_channel": self.cost_by_channel, "measured_cost": round(self.measured_cost, 4),
                "incremental_gmv": _num(self.incremental_gmv), "total_cost": round(self.total_cost, 4),
                "roi": _num(self.roi), "strategies": [s.to_dict() for s in self.strategies],
                "runs": [r.to_dict() for r in self.runs]}


def _execute(conn, name: str, *, result_types: dict | None = None, **params) -> list[dict]:
    types = {datetime: DateTime(), str: String()}
    stmt = sql(name).bindparams(*[bindparam(k, type_=types[type(v)]) for k, v in params.items()
                                  if type(v) in types])
    if result_types:   # text SQL returns SQLite datetimes as strings unless typed
        stmt = stmt.columns(**result_types)
    return [dict(r._mapping) for r in conn.execute(stmt, params)]


def compute_uplift(engine: Engine, *, sale_id: str, attribution_days: int,
                   until: datetime | None = None) -> UpliftReport:
    """Uplift and ROI of every segment run of ``sale_id``, per run and per strategy.

    ``until`` (naive UTC, the caller's time) marks runs whose attribution window has not
    closed yet (note ``window_open``; their window is cut at ``until``). Aggregates only:
    no customer id leaves the database.
    """
    if not isinstance(attribution_days, int) or attribution_days < 1:
        raise ValueError(f"attribution_days: expected a positive integer, got {attribution_days!r}")
    window = timedelta(days=attribution_days)
    runs: list[Uplift] = []
    with engine.connect() as conn:
        costs: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
        for r in _execute(conn, "metrics/dispatch_cost", sale_id=sale_id):
            costs.setdefault((r["strategy_id"], r["run_key"]), {})[r["channel"]] = (int(r["sent"]),
                                                                                     float(r["cost"] or 0))
        for seg in _execute(conn, "metrics/uplift_runs", sale_id=sale_id,
                            result_types={"as_of": DateTime()}):
            as_of = seg["as_of"]
            end = as_of + window
            open_ = until is not None and end > until
            if open_:
                end = max(as_of, until)
            arms = {0: Arm(), 1: Arm()}
            for row in _execute(conn, "metrics/uplift_run_outcomes", sale_id=sale_id,
                                strategy_id=seg["strategy_id"], run_key=seg["run_key"], start_at=as_of,
                                end_at=end):
                arms[int(row["holdout"])] = Arm(int(row["customers"]), int(row["converters"] or 0),
                                                float(row["gmv"] or 0), float(row["gmv_sq"] or 0))
            channel = costs.pop((seg["strategy_id"], seg["run_key"]), {})
            runs.append(Uplift(seg["strategy_id"], seg["run_key"], seg["wave"], as_of, 1, arms[0], arms[1],
                               {ch: c for ch, (_, c) in channel.items()},
                               {ch: n for ch, (n, _) in channel.items()}).finish(open_))
    # sends of a run without a segment row (should not happen; kept so no cost is lost)
    for (strategy_id, run_key), channel in sorted(costs.items()):
        runs.append(Uplift(strategy_id, run_key, None, None, 1, Arm(), Arm(),
                           {ch: c for ch, (_, c) in channel.items()},
                           {ch: n for ch, (n, _) in channel.items()}).finish())

    by_strategy: dict[str, Uplift] = {}
    for r in runs:
        s = by_strategy.get(r.strategy_id)
        if s is None:
            s = by_strategy[r.strategy_id] = Uplift(r.strategy_id, None, r.wave, r.as_of, 0, Arm(), Arm())
        s.runs += 1
        s.treated.add(r.treated)
        s.holdout.add(r.holdout)
        for ch, c in r.cost_by_channel.items():
            s.cost_by_channel[ch] = s.cost_by_channel.get(ch, 0.0) + c
            s.sent_by_channel[ch] = s.sent_by_channel.get(ch, 0) + r.sent_by_channel.get(ch, 0)
        if r.as_of and (s.as_of is None or r.as_of < s.as_of):
            s.as_of = r.as_of
    strategies = []
    for s in by_strategy.values():
        s.cost_by_channel = {ch: round(c, 4) for ch, c in sorted(s.cost_by_channel.items())}
        strategies.append(s.finish(any("window_open" in r.notes for r in runs if r.strategy_id == s.strategy_id)))
    strategies.sort(key=lambda s: (s.as_of or datetime.max, s.strategy_id))

    cost_by_channel: dict[str, float] = {}
    for s in strategies:
        for ch, c in s.cost_by_channel.items():
            cost_by_channel[ch] = round(cost_by_channel.get(ch, 0.0) + c, 4)
    measured = [s for s in strategies if s.holdout.customers and s.treated.customers]
    return UpliftReport(
        sale_id=sale_id, attribution_days=attribution_days, runs=runs, strategies=strategies,
        cost_by_channel=cost_by_channel, measured_cost=sum(s.cost for s in measured),
        incremental_gmv=sum(s.incremental_gmv for s in measured if s.incremental_gmv == s.incremental_gmv),
        total_cost=sum(s.cost for s in strategies))
