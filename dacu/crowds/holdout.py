"""Holdout (control) groups: a stable, salted hash per (sale, customer).

bucket = int(sha256(f"{salt}:{sale_id}:{customer_id}")[:8 hex]) mod 10,000;
the customer is held out when bucket < pct × 100. The salt is fixed
(``HOLDOUT_SALT``) and the sale id is part of the key, so a customer is in the
control group for the *whole sale*: across strategies, waves, reruns and
backfills, and at every holdout % below its bucket (a 5% holdout is a subset
of the 10% one). A new sale reshuffles. Changing the salt reshuffles too: do
not change it during a sale.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

HOLDOUT_SALT = "dacu-holdout-v1"
BUCKETS = 10_000
# Readability rule: below these sizes a 1–2 point conversion uplift is lost in noise.
MIN_TREATMENT = 1_000
MIN_HOLDOUT = 100


def holdout_bucket(sale_id: str, customer_id: str, salt: str = HOLDOUT_SALT) -> int:
    digest = hashlib.sha256(f"{salt}:{sale_id}:{customer_id}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def is_holdout(sale_id: str, customer_id: str, pct: float, salt: str = HOLDOUT_SALT) -> bool:
    if not 0 <= pct <= 100:
        raise ValueError(f"holdout_pct {pct} is outside 0..100")
    return holdout_bucket(sale_id, customer_id, salt) < pct * 100


def split_holdout(sale_id: str, ids: Iterable[str], pct: float,
                  salt: str = HOLDOUT_SALT) -> tuple[list[str], list[str]]:
    """(treatment, holdout), each sorted."""
    treatment: list[str] = []
    holdout: list[str] = []
    if pct <= 0:
        return sorted(ids), []
    for cid in ids:
        (holdout if is_holdout(sale_id, cid, pct, salt) else treatment).append(cid)
    treatment.sort()
    holdout.sort()
    return treatment, holdout


def readability_warning(treatment: int, holdout: int, pct: float) -> str | None:
    """A warning when the crowd is too small to read an uplift at ``pct`` (None when fine or no holdout)."""
    if pct <= 0:
        return None
    if treatment < MIN_TREATMENT or holdout < MIN_HOLDOUT:
        return (f"crowd too small to read an uplift at holdout {pct:g}%: {treatment} treated, {holdout} held out "
                f"(need >= {MIN_TREATMENT} and >= {MIN_HOLDOUT})")
    return None
