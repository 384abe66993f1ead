"""Run ``rewardkit eval`` on the shared data and keep the reports (linked from BENCHMARKS.md).

    python benchmarks/eval_reports.py [--shared PATH] [--out benchmarks/results/eval]

Each run is the exact command printed (a subprocess, as a user would type it) and its wall time
is reported; ``metrics.json`` and ``report.html`` are kept under ``--out/<name>/`` (the
per-sample ``samples.jsonl`` is written too but not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def runs(shared: str) -> list[tuple[str, list[str], str]]:
    """(name, command arguments after ``rewardkit eval``, headline metric key); paths relative to
    the repository root, where the commands run."""
    CFG = "benchmarks/eval_configs"  # noqa: N806
    return [
        ("processbench_step_arithmetic", ["processbench", "--config", f"{CFG}/step_arithmetic.yaml",
                                          "--input", f"{shared}/processbench.jsonl"], "f1"),
        ("audit_math_equiv", ["audit", "--config", f"{CFG}/math.yaml", "--input", f"{shared}/math_equiv.jsonl"],
         "accuracy"),
        ("bon_gsm8k_step_arithmetic", ["bon", "--config", f"{CFG}/step_arithmetic_lines.yaml",
                                       "--input", f"{shared}/gsm8k/example_model_solutions.jsonl"], "at_max_n"),
        ("pairwise_hh_refusal_regex", ["pairwise", "--config", f"{CFG}/refusal_regex.yaml",
                                       "--input", f"{shared}/preference_pairs_hh_harmless.jsonl",
                                       "--chosen-col", "chosen_response", "--rejected-col", "rejected_response"],
         "accuracy_v2"),
        ("calibration_math_equiv", ["calibration", "--config", f"{CFG}/math.yaml",
                                    "--input", f"{shared}/math_equiv.jsonl", "--label-col", "expected"], "ece"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("REWARDKIT_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default="benchmarks/results/eval", help="relative to the repository root")
    ap.add_argument("--only", nargs="*", help="names of the runs to do")
    args = ap.parse_args()
    rows = []
    for name, argv, key in runs(os.path.relpath(args.shared.resolve(), REPO)):
        if args.only and name not in args.only:
            continue
        out = Path(args.out) / name
        cmd = [sys.executable, "-m", "rewardkit.cli", "eval", *argv, "--output-dir", str(out), "--no-progress"]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return r.returncode
        m = json.loads((REPO / out / "metrics.json").read_text())
        shown = " ".join(shlex.quote(a) for a in ["rewardkit", "eval", *argv, "--output-dir", str(out)])
        rows.append((name, dt, key, m[key], shown))
    print(f"{'run':<32}{'wall s':>8}  headline")
    for name, dt, key, val, _ in rows:
        print(f"{name:<32}{dt:>8.1f}  {key}={json.dumps(val)[:160]}")
    print()
    for name, _, _, _, shown in rows:
        print(f"{name}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
