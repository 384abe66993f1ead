"""benchmarks/bench_advantages.py runs end to end (tiny sizes; no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_advantages.py"


@pytest.mark.slow
def test_bench_advantages_runs_and_agrees():
    r = subprocess.run([sys.executable, str(BENCH), "--B", "16", "--T", "70", "--G", "4", "--repeat", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "implementation" not in line]
    assert len(rows) >= 10
    for row in rows:  # every implementation agrees with rewardkit on the same data
        assert float(row.rstrip(" |").rsplit("|", 1)[1]) < 1e-3, row
