"""Sandbox throughput and latency: warm worker pool vs a naive ``subprocess.run`` per run (issue 4).

The same 500 small problems (HumanEval ``check`` and MBPP assert problems from
``../shared/data/code_cases.jsonl``, canonical and known-wrong solutions, cycled to 500), in one run:

- ``naive``: ``subprocess.run([python, "-c", program], timeout=...)`` per problem, the program being
  the usual ``solution + tests`` assembly; no isolation at all (this is what many trainers do);
- ``warm pool``: `LocalSandbox` (every isolation layer the machine allows), one harness run per
  problem (per-test reporting, nonce channel, value sanitising) -- what `CodeReward` does;
- ``cold pool``: the same isolation, but every run ``exec``s a fresh interpreter (``warm=False``);
- ``CodeReward.score``: the whole reward source end to end on the warm pool (batch of 500).

All variants use the same concurrency (``--workers``, default = CPU count). Reported: runs/s,
p50/p99 latency of one run, agreement of pass/fail with the dataset labels, ratio to naive.

    python benchmarks/bench_sandbox.py [--n 500] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rewardkit.types import Sample
from rewardkit.verifiers.code import CodeReward, parse_report
from rewardkit.verifiers.sandbox import Job, Limits, LocalSandbox

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "code_cases.jsonl"
LIMITS = Limits(wall_s=5.0, cpu_s=5.0)


def load_problems(n: int) -> list[dict]:
    rows = [json.loads(x) for x in DATA.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["format"] in ("humaneval_check", "function_assert")
            and r["case_kind"] != "sandbox_edge_case"]
    out = []
    for i in range(n):
        r = rows[i % len(rows)]
        if r["format"] == "humaneval_check":
            sol = r["prompt"] + r["completion"]
            program = sol + "\n\n" + r["test"] + "\n\n" + f"check({r['entry_point']})\n"
            payload = {"mode": "check", "solution": sol, "test": r["test"], "entry_point": r["entry_point"]}
            sample = Sample(prompt=r["prompt"], completion=r["completion"],
                            reference={"test": r["test"], "entry_point": r["entry_point"], "prompt": r["prompt"]})
        else:
            setup = r.get("test_setup_code") or ""
            program = setup + "\n" + r["solution"] + "\n" + "\n".join(r["tests"]) + "\n"
            payload = {"mode": "asserts", "solution": r["solution"], "setup": setup, "tests": r["tests"]}
            sample = Sample(prompt=r["prompt"], completion=f"```python\n{r['solution']}\n```",
                            reference={"tests": r["tests"], "test_setup_code": setup})
        out.append({"program": program, "payload": payload, "sample": sample, "expected": r["expected_pass"]})
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def bench_naive(problems: list[dict], workers: int) -> dict:
    def one(p: dict) -> tuple[float, bool]:
        t = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, "-c", p["program"]], capture_output=True, timeout=LIMITS.wall_s,
                               stdin=subprocess.DEVNULL)
            passed = r.returncode == 0
        except subprocess.TimeoutExpired:
            passed = False
        return time.perf_counter() - t, passed

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        res = list(ex.map(one, problems))
    total = time.perf_counter() - t0
    return {"total": total, "lat": [r[0] for r in res], "passed": [r[1] for r in res], "layers": "none"}


def bench_pool(problems: list[dict], workers: int, warm: bool) -> dict:
    sb = LocalSandbox(workers=workers, warm=warm, limits=LIMITS)
    sb.setup()
    sb.run_many([Job(code="pass")] * workers)  # workers are up; steady state from here

    def one(p: dict) -> tuple[float, bool]:
        nonce = secrets.token_hex(16)
        t = time.perf_counter()
        r = sb.run(Job(kind="harness", payload={"nonce": nonce, **p["payload"]}))
        lat = time.perf_counter() - t
        ev = parse_report(r.report, nonce)
        fails = [o for a in ev["asserts"].values() for o in a if o != "pass"]
        bad_units = [u for u in ev["units"].values() if u != "done"]
        passed = r.status == "ok" and ev["end"] and not fails and not bad_units and ev["load_error"] is None
        return lat, passed

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        res = list(ex.map(one, problems))
    total = time.perf_counter() - t0
    layers = ",".join(sb.info()["layers"])
    sb.close()
    return {"total": total, "lat": [r[0] for r in res], "passed": [r[1] for r in res], "layers": layers}


def bench_reward(problems: list[dict], workers: int) -> dict:
    src = CodeReward(workers=workers, timeout_s=LIMITS.wall_s)
    src.score([problems[0]["sample"]])  # setup
    t0 = time.perf_counter()
    res = src.score([p["sample"] for p in problems])
    total = time.perf_counter() - t0
    src.close()
    return {"total": total, "lat": [], "passed": [r.is_ok and r.score == 1.0 for r in res], "layers": "same as warm"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found")
    problems = load_problems(args.n)
    expected = [p["expected"] for p in problems]
    print(f"{args.n} problems, {sum(expected)} expected to pass, workers={args.workers}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    rows = [
        ("naive subprocess.run", bench_naive(problems, args.workers)),
        ("warm pool (all layers)", bench_pool(problems, args.workers, warm=True)),
        ("cold pool (all layers)", bench_pool(problems, args.workers, warm=False)),
        ("CodeReward.score (warm)", bench_reward(problems, args.workers)),
    ]
    base = args.n / rows[0][1]["total"]
    print("\n| variant | runs/s | p50 ms | p99 ms | agrees with labels | x naive |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        tput = args.n / r["total"]
        agree = sum(a == b for a, b in zip(r["passed"], expected, strict=True))
        p50 = f"{1000 * statistics.median(r['lat']):.1f}" if r["lat"] else "-"
        p99 = f"{1000 * pct(r['lat'], 0.99):.1f}" if r["lat"] else "-"
        print(f"| {name} | {tput:.1f} | {p50} | {p99} | {agree}/{args.n} | {tput / base:.2f} |")
    print(f"\nisolation layers active (pool): {rows[1][1]['layers']}")


if __name__ == "__main__":
    main()
