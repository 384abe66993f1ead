"""Regression table: the labelled pairs of ``../shared/data/math_equiv.jsonl``.

Every current, non-dubious pair must get its label; the check does not depend on the order of
the pairs.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

from rewardkit.types import Status
from rewardkit.verifiers.math import check, verify


def _bench_module():
    """The benchmark's mapping of each harness's options onto MathConfig: one definition, shared."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_math.py"
    spec = importlib.util.spec_from_file_location("_bench_math", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


harness_config = _bench_module().rk_config


def run_row(row: dict):
    # labels, not latency: a generous limit keeps a loaded machine from turning checks into timeouts
    cfg = harness_config(row).replace(timeout_s=20.0)
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
