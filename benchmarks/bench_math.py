"""Math answer verification: rewardkit vs Math-Verify on the same labelled pairs, in one run.

    python benchmarks/bench_math.py [--shared PATH] [--own PATH] [--external PATH] [--json OUT]
                                    [--skip-gsm8k] [--skip-pathological] [--gsm8k]

False positives come first: a policy optimises whatever the reward lets through, so the first
table gives, for every labelled set, how many expected-false pairs each verifier accepted.

Labelled sets (all read in one run):
- ``../shared/data/math_equiv.jsonl`` (sources = the test suites it was taken from; labels marked
  ``label_dubious`` are reported separately, not scored);
- ``benchmarks/data/math_pairs.jsonl`` (source ``rewardkit_pairs``, with a ``category`` field);
- ``benchmarks/data/math_equiv_external.jsonl``: grader test cases of MARIO_EVAL, Trinity-RFT,
  rllm, open-instruct, Qwen2.5-Math and AReaL (one ``suite`` each; rows where rewardkit's policy
  differs from the upstream label carry ``upstream_expected`` and ``relabel_reason``: a rounded
  approximation of an exact gold is not its answer);
- GSM8K's released model solutions (``../shared/data/gsm8k/example_model_solutions.jsonl``, 5,276
  real outputs with ``is_correct`` labels), both libraries with their defaults.

Then a pathological-input table: 100 KB of one repeated marker (``\\boxed{``, ``$``, ``\\(``,
``<answer>``, "answer is", ``####`` ...), the wall time of a rewardkit check, of its in-process
extraction alone, of the ``numeric`` source, and of Math-Verify's ``parse`` (in a subprocess with
a 60 s cap).

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
import os
import statistics
import subprocess
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
EXTERNAL = REPO / "benchmarks" / "data" / "math_equiv_external.jsonl"
_SHARED_DIR = Path(os.environ.get("REWARDKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
if not _SHARED_DIR.is_dir() and (REPO.parents[1] / "shared" / "data").is_dir():
    _SHARED_DIR = REPO.parents[1] / "shared" / "data"  # a git worktree one level deeper
SHARED = _SHARED_DIR / "math_equiv.jsonl"
PATHOLOGICAL = {"boxed": "\\boxed{", "dollar": "$", "dollar_x": "$x", "paren": "\\(", "bracket": "\\[",
                "answer_tag": "<answer>", "answer_is": "the answer is ", "hashes": "####", "braces": "{"}


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
    fp = sum(bool(res[i]["got"]) for i in neg)
    return {
        "n": n,
        "neg": len(neg),
        "fp_n": fp,
        "acc": sum(res[i]["got"] == rows[i]["expected"] for i in range(n)) / n if n else 0.0,
        "fp": fp / len(neg) if neg else 0.0,
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
             "| group | n | verifier | false positives | FP rate | FN rate | accuracy | unparseable | mean ms | p99 ms | pairs/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, idx in groups.items():
        sub = [rows[i] for i in idx]
        for v in ("rewardkit", "math-verify"):
            s = summarize(sub, [res[v][i] for i in idx])
            lines.append(f"| {name} | {s['n']} | {v} | {s['fp_n']}/{s['neg']} | {s['fp']:.3f} | {s['fn']:.3f} | "
                         f"{s['acc']:.3f} | {s['unp']:.3f} | {s['mean_ms']:.2f} | {s['p99_ms']:.1f} | {s['tput']:.0f} |")
    return "\n".join(lines)


def fp_table(sets: dict[str, tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]]) -> str:
    """False positives first: for every labelled set, the expected-false pairs each verifier accepted."""
    lines = ["### False positives on every labelled set (read first)", "",
             "| labelled set | pairs | expected false | rewardkit FP | math-verify FP | rewardkit FN | math-verify FN |",
             "|---|---|---|---|---|---|---|"]
    for name, (rows, res) in sets.items():
        rk, mv = summarize(rows, res["rewardkit"]), summarize(rows, res["math-verify"])
        npos = rk["n"] - rk["neg"]
        fn_rk = round(rk["fn"] * npos)
        fn_mv = round(mv["fn"] * npos)
        lines.append(f"| {name} | {rk['n']} | {rk['neg']} | **{rk['fp_n']}** | {mv['fp_n']} | {fn_rk} | {fn_mv} |")
    return "\n".join(lines)


def gsm8k_rows(path: Path) -> list[dict[str, Any]]:
    """5,276 real model solutions (free text ending in "A: <n>", dollar signs as currency) with
    the released is_correct labels; both verifiers run with their library defaults."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            gold = r["ground_truth"].rsplit("A:", 1)[1].strip()
            for model, v in sorted(r.items()):
                if isinstance(v, dict) and "solution" in v:
                    rows.append({"id": f"gsm8k:{i}:{model}", "suite": "gsm8k_model_solutions", "gold": gold,
                                 "pred": v["solution"], "expected": bool(v["is_correct"]),
                                 "harness_extracts": True, "options": {}, "defaults": True})
    return rows


_DEFAULT = MathConfig()  # no per-row options: what a user gets out of the box


def run_rk_any(row: dict[str, Any]) -> tuple[bool, str]:
    if not row.get("defaults"):
        return run_rk(row)
    v = check(row["gold"], row["pred"], _DEFAULT)
    return (v.status is Status.OK and bool(v.equal)), (v.status.value if v.status is not Status.OK else v.method)


# ---------------------------------------------------------------------------- pathological inputs
_MV_PARSE = """
import sys, time, logging
from math_verify import parse
logging.getLogger("math_verify").setLevel(logging.CRITICAL)
text = sys.stdin.read()
parse("$1$")
t0 = time.perf_counter()
try:
    parse(text)
except Exception:
    pass
print(time.perf_counter() - t0)
"""


def _mv_parse_seconds(text: str, cap: float) -> str:
    try:
        out = subprocess.run([sys.executable, "-c", _MV_PARSE], input=text, capture_output=True, text=True,
                             timeout=cap)
        return f"{1000 * float(out.stdout.strip().splitlines()[-1]):.0f}"
    except subprocess.TimeoutExpired:
        return f"> {cap * 1000:.0f} (killed)"
    except (ValueError, IndexError):
        return "error"


def pathological(size: int = 100_000, cap: float = 60.0) -> str:
    """Wall time of each stage on 100 KB of one repeated marker (degenerate RL rollouts)."""
    from rewardkit.registry import get_source_class
    from rewardkit.types import Sample
    from rewardkit.verifiers.math import extract

    numeric = get_source_class("numeric")()
    for _ in range(2):  # both worker processes ready before anything is timed
        check("42", "x " * MathConfig().inline_chars + r"\boxed{42}")
    lines = ["### Pathological inputs: 100 KB of one repeated marker", "",
             "| marker | rewardkit check ms (status) | rewardkit extraction ms | numeric source ms | math-verify parse ms |",
             "|---|---|---|---|---|"]
    for marker in PATHOLOGICAL.values():
        text = (marker * (size // len(marker) + 1))[:size]
        t0 = time.perf_counter()
        v = check("42", text)
        t1 = time.perf_counter()
        extract(text, MathConfig(last_number=True))
        t2 = time.perf_counter()
        numeric.score([Sample(prompt="q", completion=text, reference="42")])
        t3 = time.perf_counter()
        mv = _mv_parse_seconds(text, cap)
        lines.append(f"| `{marker.strip()}` x {size // len(marker)} | {1000 * (t1 - t0):.0f} ({v.status.value}) | "
                     f"{1000 * (t2 - t1):.0f} | {1000 * (t3 - t2):.0f} | {mv} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--own", type=Path, default=OWN)
    ap.add_argument("--external", type=Path, default=EXTERNAL)
    ap.add_argument("--json", type=Path, default=None, help="write per-pair verdicts here")
    ap.add_argument("--skip-gsm8k", action="store_true", help="leave out GSM8K's 5,276 model solutions")
    ap.add_argument("--skip-pathological", action="store_true", help="leave out the 100 KB pathological inputs")
    ap.add_argument("--gsm8k", action="store_true", help="only the GSM8K model solutions")
    args = ap.parse_args()
    gsm8k_path = args.shared.parent / "gsm8k" / "example_model_solutions.jsonl"
    rows: list[dict[str, Any]] = []
    if not args.gsm8k:
        if args.shared.exists():
            rows += load(args.shared)
        else:
            print(f"(shared pairs not found at {args.shared}; set REWARDKIT_SHARED_DATA)")
        rows += load(args.own, source="rewardkit_pairs")
        if args.external.exists():
            rows += load(args.external)
    gsm = gsm8k_rows(gsm8k_path) if not args.skip_gsm8k and gsm8k_path.exists() else []
    rows.sort(key=lambda r: r["id"])  # a fixed order; verdicts do not depend on it
    dubious = [r for r in rows if r.get("label_dubious")]
    scored = [r for r in rows if not r.get("label_dubious")] + gsm

    run_mv = mv_runner()
    get_pool().warm()
    # warm both (imports, first parse) outside the timed region
    for fn in (run_rk_any, run_mv):
        fn({"id": "w", "suite": "w", "gold": "x^2", "pred": r"\boxed{x \cdot x}", "expected": True,
            "harness_extracts": True})
    res = {"rewardkit": measure(scored, run_rk_any), "math-verify": measure(scored, run_mv)}

    def sub(pred: Any) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        idx = [i for i, r in enumerate(scored) if pred(r)]
        return [scored[i] for i in idx], {v: [res[v][i] for i in idx] for v in res}

    ext_suites = sorted({r["suite"] for r in scored if r["id"].split(":")[0] in _EXTERNAL_PREFIXES})
    sets = {
        "shared math_equiv.jsonl (all scored)": sub(lambda r: r["suite"] not in ext_suites and r["suite"] not in
                                                    ("rewardkit_pairs", "gsm8k_model_solutions")),
        "shared, current suites": sub(lambda r: r["suite"] not in ext_suites and r["suite"] not in
                                      ("rewardkit_pairs", "gsm8k_model_solutions") and r.get("in_current_suite", True)),
        "external grader tests (all)": sub(lambda r: r["suite"] in ext_suites),
        **{f"external: {s}": sub(lambda r, s=s: r["suite"] == s) for s in ext_suites},
        "rewardkit_pairs": sub(lambda r: r["suite"] == "rewardkit_pairs"),
    }
    if gsm:
        sets["GSM8K model solutions (defaults)"] = sub(lambda r: r["suite"] == "gsm8k_model_solutions")
    sets = {k: v for k, v in sets.items() if v[0]}
    print(fp_table(sets))
    print()

    by_source: dict[str, list[int]] = defaultdict(list)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(scored):
        by_source[r["suite"]].append(i)
        if r["suite"] == "rewardkit_pairs":
            by_cat[r["category"]].append(i)
    pairs = [i for i, r in enumerate(scored) if r["suite"] != "gsm8k_model_solutions"]
    print(table("Overall (labelled pairs, without GSM8K)", {"all pairs": pairs}, scored, res))
    print()
    print(table("Per source", dict(sorted(by_source.items())), scored, res))
    print()
    if by_cat:
        print(table("Per category (rewardkit_pairs)", dict(sorted(by_cat.items())), scored, res))
        print()
    if pairs:
        rk = summarize([scored[i] for i in pairs], [res["rewardkit"][i] for i in pairs])
        mv = summarize([scored[i] for i in pairs], [res["math-verify"][i] for i in pairs])
        print(f"labelled pairs: throughput ratio rewardkit / math-verify {rk['tput'] / mv['tput']:.1f}x "
              f"({rk['tput']:.0f} vs {mv['tput']:.0f} pairs/s); p99 latency rewardkit {rk['p99_ms']:.1f} ms, "
              f"math-verify {mv['p99_ms']:.1f} ms; max latency rewardkit "
              f"{1000 * max(res['rewardkit'][i]['dt'] for i in pairs):.0f} ms, math-verify "
              f"{1000 * max(res['math-verify'][i]['dt'] for i in pairs):.0f} ms; rewardkit timeouts: {rk['timeouts']}")
    if gsm:
        gi = by_source["gsm8k_model_solutions"]
        rk = summarize([scored[i] for i in gi], [res["rewardkit"][i] for i in gi])
        mv = summarize([scored[i] for i in gi], [res["math-verify"][i] for i in gi])
        print(f"GSM8K model solutions: throughput ratio rewardkit / math-verify {rk['tput'] / mv['tput']:.1f}x")
    how: dict[str, int] = defaultdict(int)
    for x in res["rewardkit"]:
        how[x["how"]] += 1
    print("rewardkit deciding stage:", ", ".join(f"{k} {v}" for k, v in sorted(how.items())))
    relabelled = [r for r in scored if "upstream_expected" in r]
    if relabelled:
        print(f"\nExternal rows scored by rewardkit's policy, not the upstream label ({len(relabelled)}): "
              + "; ".join(f"{r['id']} {str(r['gold'])[:30]!r} vs {str(r['pred'])[:30]!r}" for r in relabelled))
    if dubious:
        print("\nDubious labels (not scored):")
        for r in dubious:
            a, b = run_rk(r)[0], run_mv(r)[0]
            print(f"  {r['id']}: expected {r['expected']}, rewardkit {a}, math-verify {b} -- {r['label_dubious'][:90]}")
    misses = [(r, res["rewardkit"][i]["got"], res["math-verify"][i]["got"]) for i, r in enumerate(scored)
              if res["rewardkit"][i]["got"] != r["expected"]]
    print(f"\nrewardkit misses ({len(misses)}; false positives marked FP):")
    for r, a, b in sorted(misses, key=lambda m: not m[1]):
        print(f"  {'FP' if a else 'FN'} {r['id']} [{r['suite']}] expected {r['expected']} rewardkit {a} math-verify {b}: "
              f"{str(r['gold'])[:50]!r} vs {str(r['pred'])[-60:]!r}")
    if args.json:
        args.json.write_text(json.dumps({v: res[v] for v in res}, indent=1))
    print(f"\nmedian rewardkit latency {1000 * statistics.median(x['dt'] for x in res['rewardkit']):.3f} ms")
    if not args.skip_pathological and not args.gsm8k:
        print()
        print(pathological())


_EXTERNAL_PREFIXES = {"mario", "trinity_score", "trinity_verify", "trinity_equiv", "rllm", "rllm_utils",
                      "open_instruct", "qwen", "areal"}


if __name__ == "__main__":
    main()
