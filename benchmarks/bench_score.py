"""Offline scoring throughput (issue 2).

1. End to end, one core: 100k synthetic samples, JSONL in -> numeric verifier -> JSONL out
   (target >= 20,000 samples/s). Peer in the same run: a plain hand-written loop doing the same
   work (json.loads, regex extraction, Fraction compare, json.dumps), i.e. what a user would write
   without rewardkit.
2. Scaling of a CPU-heavy reward with workers=2 vs workers=1 (target >= 1.7x).
3. Peak memory (issue 16 §3): peak RSS of a clean JSONL run, a resumed run (90% of the rows
   already in the partial file) and a Parquet-output run, each in a fresh process, at 100k and 1M
   rows. Target: peak RSS independent of the row count (1M / 100k ratio ~1).

Run: python benchmarks/bench_score.py [--n 100000] [--heavy-n 3000] [--memory-sizes 100000,1000000]
     python benchmarks/bench_score.py --only memory   # section 3 alone
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rewardkit.data.synthetic import generate_records  # noqa: E402
from rewardkit.scoring import score_dataset  # noqa: E402


def naive_loop(inp: Path, out: Path) -> int:
    rx = re.compile(r"answer\s+is\s*:?\s*([^\n]+)", re.I)
    n = 0
    with open(inp) as f, open(out, "w") as g:
        for line in f:
            rec = json.loads(line)
            found = rx.findall(rec["completion"])
            gold = Fraction(rec["reference"]["answer"])
            if not found:
                rec.update(score=None, status="unparseable")
            else:
                try:
                    rec.update(score=float(Fraction(found[-1].strip().rstrip(".")) == gold), status="ok")
                except ValueError:
                    rec.update(score=None, status="unparseable")
            g.write(json.dumps(rec) + "\n")
            n += 1
    return n


def _child(scenario: str, inp: Path, out: Path) -> None:
    """One measured run in a fresh process; prints its seconds and peak RSS as JSON."""
    cfg = {"rewards": [{"type": "numeric", "name": "correct"}]}
    t = time.perf_counter()
    s = score_dataset(cfg, inp, out, resume=scenario == "resumed", overwrite=scenario != "resumed",
                      progress=False, batch_size=1024)
    sec = time.perf_counter() - t
    print(json.dumps({"rows": s.rows, "scored": s.scored_this_run, "seconds": sec,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run_child(scenario: str, inp: Path, out: Path) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", scenario, str(inp), str(out)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def memory_section(sizes: list[int], work: Path) -> None:
    print("\n3) peak RSS (fresh process each), numeric reward, batch 1024")
    print(f"{'rows':>10}  {'run':<34}{'seconds':>9}{'peak RSS MB':>13}")
    peaks: dict[tuple[int, str], float] = {}
    for n in sizes:
        inp = work / f"mem_{n}.jsonl"
        with open(inp, "w") as f:
            for rec in generate_records(n_problems=n // 4, group_size=4, seed=0):
                f.write(json.dumps(rec) + "\n")
        clean = work / f"mem_{n}.jsonl.out.jsonl"
        res = {"clean JSONL -> JSONL": _run_child("clean", inp, clean)}
        resumed = work / f"mem_{n}.resumed.jsonl"  # a killed run with 90% of the rows done
        for side in resumed.parent.glob(resumed.name + "*"):
            side.unlink()
        with open(clean, "rb") as src, open(resumed.with_name(resumed.name + ".partial"), "wb") as dst:
            for i, line in enumerate(src):
                if i >= int(0.9 * n):
                    break
                dst.write(line)
        res["resumed (90% done) -> JSONL"] = _run_child("resumed", inp, resumed)
        res["clean JSONL -> Parquet"] = _run_child("clean", inp, work / f"mem_{n}.parquet")
        for name, r in res.items():
            peaks[(n, name)] = r["peak_mb"]
            print(f"{n:>10,}  {name:<34}{r['seconds']:>9.1f}{r['peak_mb']:>13.0f}")
        for p in (inp, clean, resumed, work / f"mem_{n}.parquet"):
            p.unlink(missing_ok=True)
            p.with_name(p.name + ".summary.json").unlink(missing_ok=True)
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(f"peak RSS ratio {hi:,} / {lo:,} rows: " + ", ".join(
            f"{name.split(' ')[0]} {'(resumed)' if 'resumed' in name else '(Parquet)' if 'Parquet' in name else ''}"
            f" {peaks[(hi, name)] / peaks[(lo, name)]:.2f}x" for name in res))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--heavy-n", type=int, default=3000)
    ap.add_argument("--memory-sizes", default="100000,1000000")
    ap.add_argument("--only", choices=["throughput", "memory"])
    ap.add_argument("--child", nargs=3, metavar=("SCENARIO", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    if args.only == "memory":
        memory_section([int(x) for x in args.memory_sizes.split(",")], work)
        return
    inp = work / "synthetic.jsonl"
    with open(inp, "w") as f:
        for rec in generate_records(n_problems=args.n // 4, group_size=4, seed=0):
            f.write(json.dumps(rec) + "\n")

    cfg = {"rewards": [{"type": "numeric", "name": "correct"}]}
    t = time.perf_counter()
    s = score_dataset(cfg, inp, work / "scored.jsonl", overwrite=True, progress=False, batch_size=1024)
    rk = time.perf_counter() - t
    t = time.perf_counter()
    naive_loop(inp, work / "naive.jsonl")
    nv = time.perf_counter() - t

    rows = [("rewardkit score (numeric, 1 core)", s.rows, rk), ("naive json+regex loop", args.n, nv)]
    print(f"\n1) end-to-end JSONL -> JSONL, {args.n:,} synthetic samples")
    print(f"{'pipeline':<38}{'rows':>9}{'seconds':>10}{'rows/s':>12}")
    for name, n, sec in rows:
        print(f"{name:<38}{n:>9,}{sec:>10.2f}{n / sec:>12,.0f}")
    print(f"rewardkit vs naive loop: {nv / rk:.2f}x   target >= 20,000 rows/s: "
          f"{'MET' if s.rows / rk >= 20000 else 'NOT MET'} ({s.rows / rk:,.0f})")

    heavy_inp = work / "heavy.jsonl"
    with open(heavy_inp, "w") as f:
        for rec in generate_records(n_problems=args.heavy_n // 4, group_size=4, seed=1):
            f.write(json.dumps(rec) + "\n")
    hcfg = {"rewards": [{"type": "_sources:CpuHeavyNumeric", "name": "correct", "iterations": 20000}]}
    res = {}
    for w in (1, 2):
        t = time.perf_counter()
        s = score_dataset(hcfg, heavy_inp, work / f"heavy_w{w}.jsonl", overwrite=True, progress=False,
                          workers=w, batch_size=64)
        res[w] = (s.rows, time.perf_counter() - t)
    assert (work / "heavy_w1.jsonl").read_bytes() == (work / "heavy_w2.jsonl").read_bytes()
    print(f"\n2) CPU-heavy reward (PBKDF2 20k iters/sample + numeric), {res[1][0]:,} samples")
    print(f"{'workers':<10}{'seconds':>10}{'rows/s':>12}")
    for w, (n, sec) in res.items():
        print(f"{w:<10}{sec:>10.2f}{n / sec:>12,.0f}")
    sp = res[1][1] / res[2][1]
    print(f"speed-up workers=2 vs 1: {sp:.2f}x   target >= 1.7x: {'MET' if sp >= 1.7 else 'NOT MET'}"
          "   (outputs identical)")
    if args.only != "throughput":
        memory_section([int(x) for x in args.memory_sizes.split(",")], work)


if __name__ == "__main__":
    main()
