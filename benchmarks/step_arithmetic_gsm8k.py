"""Every equation in GSM8K's reference solutions is correct: count what `step_arithmetic` reads.

    python benchmarks/step_arithmetic_gsm8k.py [--input ../shared/data/gsm8k/train.jsonl] [--show 30]

Prints how many equations were found, checked (passed / failed) and skipped as uncertain, over
every solution, with the failed ones listed (each one is a misread or a real slip in the data),
and the same counts for the labelled-correct steps of ProcessBench when --processbench is given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rewardkit.verifiers.arithmetic import find_equations


def count(texts: list[tuple[str, str]], show: int) -> dict[str, int]:
    n = {"texts": 0, "equations": 0, "passed": 0, "failed": 0, "skipped": 0}
    shown = 0
    for key, text in texts:
        n["texts"] += 1
        for e in find_equations(text):
            n["equations"] += 1
            k = "skipped" if e.holds is None else "passed" if e.holds else "failed"
            n[k] += 1
            if k == "failed" and shown < show:
                shown += 1
                print(f"  FAILED {key}: {e.text!r} in {text[:200]!r}")
    return n


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=here.parent / "shared/data/gsm8k/train.jsonl")
    ap.add_argument("--processbench", type=Path, default=None)
    ap.add_argument("--show", type=int, default=30)
    a = ap.parse_args()
    rows = [json.loads(line) for line in a.input.open()]
    t0 = time.perf_counter()
    n = count([(f"row {i + 1}", line) for i, r in enumerate(rows) for line in r["answer"].split("\n")], a.show)
    print(f"GSM8K {a.input.name}: {n} in {time.perf_counter() - t0:.1f} s")
    if a.processbench:
        pb = [json.loads(line) for line in a.processbench.open()]
        steps = [(f"{r['id']} step {j}", s) for r in pb for j, s in enumerate(r["steps"])
                 if r["label"] == -1 or j < r["label"]]
        n = count(steps, a.show)
        print(f"ProcessBench steps before the first error: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
