"""Math answer verification: rewardkit vs Math-Verify on the same labelled pairs, in one run.

    python benchmarks/bench_math.py [--shared PATH] [--own PATH] [--json OUT]

Pairs: every row of ``../shared/data/math_equiv.jsonl`` (sources = the test suites it was taken
from; labels marked ``label_dubious`` are reported separately, not scored) plus our own
``benchmarks/data/math_pairs.jsonl`` (source ``rewardkit_pairs``, with a ``category`` field).

Each verifier is run the way its harness describes the row:
- Math-Verify as its README shows: ``verify(parse(gold, cfg), parse(pred, cfg), ...)`` (bare
  answers wrapped in ``$...$``, as its README writes them) with the
  row's options (extraction targets from ``match_types`` -- ``LatexExtractionConfig(
  boxed_match_priority=0)`` as in Math-Verify's own test harness --, ``float_rounding`` from
  ``precision``, ``strict``, ``allow_set_relation_comp``); its own signal-based timeouts (5 s)
  are left on (the benchmark runs in the main thread, the only place where they work).
- rewardkit: ``check(gold, pred, cfg)`` (extraction on both sides) for rows whose harness extracts
  from free text, ``verify(gold, pred, cfg)`` for bare-answer harnesses, with the same options
  mapped onto `MathConfig` (``last_number=True`` for free-text harnesses, which also take a bare
  number; ``ordered_lists=True`` for hendrycks' string-comparison harness).

A verdict counts as "equivalent" only when the verifier says so; unparseable/timeout/error
count as "not equivalent" (and are also reported as rates). Metrics per source and per category:
accuracy, false-positive rate (among expected-false pairs), false-negative rate (among
expected-true pairs), unparseable rate, mean and p99 latency per pair, and throughput (pairs/s,
sequential calls from one process; rewardkit's symbolic stage runs in its worker processes, one at
a time here). Verdicts do not depend on the order of the pairs (the run order is sorted by id).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rewardkit.types import Status  # noqa: E402
from rewardkit.verifiers.math import MathConfig, check, get_pool, verify  # noqa: E402

OWN = REPO / "benchmarks" / "data" / "math_pairs.jsonl"
SHARED = REPO.parent / "shared" / "data" / "math_equiv.jsonl"


def load(path: Path, source: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    for r in rows:
        if source is not None:
            r["suite"] = source
            r["harness_extracts"] = bool(r.get("completion"))
        r.setdefault("category", r.get("gold_format", "-") if source is None else "-")
    return rows


# ---------------------------------------------------------------------------- rewardkit
def rk_config(row: dict[str, Any]) -> MathConfig:
    o = row.get("options") or {}
    kw: dict[str, Any] = {}
    if row["harness_extracts"] and row["suite"] != "rewardkit_pairs":
        kw["last_number"] = True
    if o.get("match_types") == ["NativeLetters"]:
        kw["choices"] = "force"
    if o.get("strict") is False:
        kw.update(strict_variables=False, strict_labels=False)
    if o.get("allow_set_relation_comp") is False:
        kw["set_relation"] = "gold_relation_only"
    if row["suite"] == "hendrycks_math_is_equiv":
        kw["ordered_lists"] = True
    if o.get("precision") is not None and o["precision"] < 6:
        # the harness compares numbers rounded to `precision` places, on both sides
        kw["rounding"] = "either"
    return MathConfig(**kw)


def run_rk(row: dict[str, Any]) -> tuple[bool, str]:
    cfg = rk_config(row)
    v = check(row["gold"], row["pred"], cfg) if row["harness_extracts"] else verify(row["gold"], row["pred"], cfg)
    return (v.status is Status.OK and bool(v.equal)), (v.status.value if v.status is not Status.OK else v.method)


# ---------------------------------------------------------------------------- Math-Verify
def mv_runner() -> Any:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse
    from math_verify import verify as mv_verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)

    def run(row: dict[str, Any]) -> tuple[bool, str]:
        o = row.get("options") or {}
        mt = o.get("match_types")
        if mt == ["NativeLetters"]:
            targets: list[Any] = [StringExtractionConfig()]
        elif isinstance(mt, list):
            targets = []
            if "latex" in mt:
                targets.append(LatexExtractionConfig(boxed_match_priority=0))
            if "expr" in mt:
                targets.append(ExprExtractionConfig())
        else:
            targets = [LatexExtractionConfig(), ExprExtractionConfig()]
        kw: dict[str, Any] = {}
        if "precision" in o:
            kw["float_rounding"] = o["precision"]
        if "strict" in o:
            kw["strict"] = o["strict"]
        if "allow_set_relation_comp" in o:
            kw["allow_set_relation_comp"] = o["allow_set_relation_comp"]
        g, p = row["gold"], row["pred"]
        g = g if isinstance(g, str) else json.dumps(g)
        p = p if isinstance(p, str) else json.dumps(p)
        if not row["harness_extracts"] or row["suite"] == "rewardkit_pairs":
            # bare answers: give them to Math-Verify the way its README does, inside $...$
            g = g if "$" in g or "\\boxed" in g else f"${g}$"
            if not row["harness_extracts"]:
                p = p if "$" in p or "\\boxed" in p else f"${p}$"
        try:
            gp = parse(g, targets)
            pp = parse(p, targets)
            if not pp:
                return False, "unparseable"
            return bool(mv_verify(gp, pp, **kw)), "ok"
        except Exception as e:  # noqa: BLE001 - a crash counts as "not equivalent"
            return False, f"error:{type(e).__name__}"

    return run


# ---------------------------------------------------------------------------- metrics
def measure(rows: list[dict[str, Any]], fn: Any) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        t0 = time.perf_counter()
        got, how = fn(r)
        dt = time.perf_counter() - t0
        out.append({"id": r["id"], "got": got, "how": how, "dt": dt})
    return out


def summarize(rows: list[dict[str, Any]], res: list[dict[str, Any]]) -> dict[str, float]:
    n = len(rows)
    pos = [i for i, r in enumerate(rows) if r["expected"]]
    neg = [i for i, r in enumerate(rows) if not r["expected"]]
    dts = sorted(x["dt"] for x in res)
    total = sum(dts)
    p99 = dts[min(len(dts) - 1, int(round(0.99 * (len(dts) - 1))))] if dts else 0.0
    return {
        "n": n,
        "acc": sum(res[i]["got"] == rows[i]["expected"] for i in range(n)) / n if n else 0.0,
        "fp": sum(res[i]["got"] for i in neg) / len(neg) if neg else 0.0,
        "fn": sum(not res[i]["got"] for i in pos) / len(pos) if pos else 0.0,
        "unp": sum(res[i]["how"] == "unparseable" for i in range(n)) / n if n else 0.0,
        "mean_ms": 1000 * total / n if n else 0.0,
        "p99_ms": 1000 * p99,
        "tput": n / total if total else 0.0,
        "timeouts": sum(res[i]["how"] == "timeout" for i in range(n)),
    }


def table(title: str, groups: dict[str, list[int]], rows: list[dict[str, Any]],
          res: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"### {title}", "",
             "| group | n | verifier | accuracy | FP rate | FN rate | unparseable | mean ms | p99 ms | pairs/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, idx in groups.items():
        sub = [rows[i] for i in idx]
        for v in ("rewardkit", "math-verify"):
            s = summarize(sub, [res[v][i] for i in idx])
            lines.append(f"| {name} | {s['n']} | {v} | {s['acc']:.3f} | {s['fp']:.3f} | {s['fn']:.3f} | "
                         f"{s['unp']:.3f} | {s['mean_ms']:.2f} | {s['p99_ms']:.1f} | {s['tput']:.0f} |")
    return "\n".join(lines)


def gsm8k_outputs(path: Path) -> None:
    """Both verifiers with their defaults on 5,276 real model solutions (free text ending in
    "A: <n>", dollar signs as currency), against the released is_correct labels."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            gold = r["ground_truth"].rsplit("A:", 1)[1].strip()
            for model, v in sorted(r.items()):
                if isinstance(v, dict) and "solution" in v:
                    rows.append({"id": f"gsm8k:{i}:{model}", "suite": "gsm8k_model_solutions", "gold": gold,
                                 "pred": v["solution"], "expected": bool(v["is_correct"]),
                                 "harness_extracts": True, "options": {}})
    run_mv = mv_runner()
    default = MathConfig()  # no per-row options: what a user gets out of the box

    def run_rk_default(row: dict[str, Any]) -> tuple[bool, str]:
        v = check(row["gold"], row["pred"], default)
        return (v.status is Status.OK and bool(v.equal)), (v.status.value if v.status is not Status.OK else v.method)

    get_pool().warm()
    for fn in (run_rk_default, run_mv):
        fn(rows[0])
    res = {"rewardkit": measure(rows, run_rk_default), "math-verify": measure(rows, run_mv)}
    print(table("GSM8K released model solutions (real outputs, library defaults)",
                {"gsm8k_model_solutions": list(range(len(rows)))}, rows, res))
    rk, mv = summarize(rows, res["rewardkit"]), summarize(rows, res["math-verify"])
    print(f"\nthroughput ratio rewardkit / math-verify: {rk['tput'] / mv['tput']:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--own", type=Path, default=OWN)
    ap.add_argument("--json", type=Path, default=None, help="write per-pair verdicts here")
    ap.add_argument("--gsm8k", action="store_true",
                    help="instead: real model outputs, GSM8K's released solutions with is_correct labels")
    args = ap.parse_args()
    if args.gsm8k:
        gsm8k_outputs(args.shared.parent / "gsm8k" / "example_model_solutions.jsonl")
        return
    rows: list[dict[str, Any]] = []
    if args.shared.exists():
        rows += load(args.shared)
    else:
        print(f"(shared pairs not found at {args.shared}; running on our own pairs only)")
    rows += load(args.own, source="rewardkit_pairs")
    rows.sort(key=lambda r: r["id"])  # a fixed order; verdicts do not depend on it
    dubious = [r for r in rows if r.get("label_dubious")]
    scored = [r for r in rows if not r.get("label_dubious")]

    run_mv = mv_runner()
    pool = get_pool()
    pool.warm()
    # warm both (imports, first parse) outside the timed region
    for fn in (run_rk, run_mv):
        fn({"id": "w", "suite": "w", "gold": "x^2", "pred": r"\boxed{x \cdot x}", "expected": True,
            "harness_extracts": True})
    res = {"rewardkit": measure(scored, run_rk), "math-verify": measure(scored, run_mv)}

    by_source: dict[str, list[int]] = defaultdict(list)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(scored):
        by_source[r["suite"]].append(i)
        if r["suite"] == "rewardkit_pairs":
            by_cat[r["category"]].append(i)
    overall = {"all pairs": list(range(len(scored)))}
    current = {"shared, current suites": [i for i, r in enumerate(scored)
                                           if r["suite"] != "rewardkit_pairs" and r.get("in_current_suite", True)]}
    print(table("Overall", {**overall, **current}, scored, res))
    print()
    print(table("Per source", dict(sorted(by_source.items())), scored, res))
    print()
    print(table("Per category (rewardkit_pairs)", dict(sorted(by_cat.items())), scored, res))
    print()
    rk, mv = summarize(scored, res["rewardkit"]), summarize(scored, res["math-verify"])
    print(f"throughput ratio rewardkit / math-verify: {rk['tput'] / mv['tput']:.1f}x "
          f"({rk['tput']:.0f} vs {mv['tput']:.0f} pairs/s); p99 latency rewardkit {rk['p99_ms']:.1f} ms, "
          f"math-verify {mv['p99_ms']:.1f} ms; max latency rewardkit "
          f"{1000 * max(x['dt'] for x in res['rewardkit']):.0f} ms, math-verify "
          f"{1000 * max(x['dt'] for x in res['math-verify']):.0f} ms; rewardkit timeouts: {rk['timeouts']}")
    how = defaultdict(int)
    for x in res["rewardkit"]:
        how[x["how"]] += 1
    print("rewardkit deciding stage:", ", ".join(f"{k} {v}" for k, v in sorted(how.items())),
          f"(worker-process checks: {how.get('symbolic', 0) + how.get('timeout', 0)} of {len(scored)})")
    if dubious:
        print("\nDubious labels (not scored):")
        for r in dubious:
            a, b = run_rk(r)[0], run_mv(r)[0]
            print(f"  {r['id']}: expected {r['expected']}, rewardkit {a}, math-verify {b} -- {r['label_dubious'][:90]}")
    disagreements = [(r, res["rewardkit"][i]["got"], res["math-verify"][i]["got"]) for i, r in enumerate(scored)
                     if res["rewardkit"][i]["got"] != r["expected"]]
    print(f"\nrewardkit misses ({len(disagreements)}):")
    for r, a, b in disagreements:
        print(f"  {r['id']} [{r['suite']}] expected {r['expected']} rewardkit {a} math-verify {b}: "
              f"{str(r['gold'])[:50]!r} vs {str(r['pred'])[-60:]!r}")
    if args.json:
        args.json.write_text(json.dumps({v: res[v] for v in res}, indent=1))
    print(f"\nmedian rewardkit latency {1000 * statistics.median(x['dt'] for x in res['rewardkit']):.3f} ms")


if __name__ == "__main__":
    main()
