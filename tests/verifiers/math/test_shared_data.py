"""Regression table: the labelled pairs of ``../shared/data/math_equiv.jsonl``.

Every current, non-dubious pair must get its label; the check does not depend on the order of
the pairs.
"""

from __future__ import annotations

import json
import random

from rewardkit.types import Status
from rewardkit.verifiers.math import MathConfig, check, verify


def harness_config(row: dict) -> MathConfig:
    """The harness options of a row, mapped onto MathConfig (see benchmarks/bench_math.py)."""
    o = row.get("options") or {}
    kw: dict = {}
    if row["harness_extracts"]:
        kw["last_number"] = True  # these harnesses also take a bare number from free text
    if o.get("match_types") == ["NativeLetters"]:
        kw["choices"] = "force"
    if o.get("strict") is False:
        kw.update(strict_variables=False, strict_labels=False)
    if o.get("allow_set_relation_comp") is False:
        kw["set_relation"] = "gold_relation_only"
    if row["suite"] == "hendrycks_math_is_equiv":
        kw["ordered_lists"] = True  # string comparison harness: order matters
    return MathConfig(**kw)


def run_row(row: dict):
    cfg = harness_config(row)
    if row["harness_extracts"]:
        return check(row["gold"], row["pred"], cfg)
    return verify(row["gold"], row["pred"], cfg)


def test_current_pairs(shared_data) -> None:
    rows = [json.loads(x) for x in (shared_data / "math_equiv.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("in_current_suite", True) and not r.get("label_dubious")]
    random.Random(0).shuffle(rows)  # order must not matter
    wrong = []
    for r in rows:
        v = run_row(r)
        got = v.status is Status.OK and bool(v.equal)
        if got != r["expected"]:
            wrong.append((r["id"], r["gold"][:60], str(r["pred"])[-60:], v.status.value, v.equal))
    assert not wrong, wrong
