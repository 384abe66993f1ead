"""Scale-out: the same CPU-heavy scoring job on the local backend and on Ray, on this machine.

    python benchmarks/bench_scale.py [--n 3000] [--iterations 20000] [--batch-size 64]

1. Throughput (rows/s) of one CPU-heavy job (the numeric verifier plus a fixed 20k-iteration
   PBKDF2 per sample, `_sources:CpuHeavyNumeric`) with: the local backend in one process, the
   local backend with ``--workers 2`` (the peer), and ``--backend ray`` with 2 scorer actors on a
   local 2-CPU Ray instance. Outputs are checked to be byte-identical.
2. Ray's overhead per batch: the round trip of one small batch of a cheap source through a Ray
   actor vs a local process-pool worker (sequential submits, median), and Ray's start-up time.

On one machine Ray cannot beat a process pool (same cores, more overhead); the numbers say how
much it costs, so users can see when a cluster pays off: when a batch's scoring time is large
against the per-batch overhead, throughput grows with the actors a cluster adds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
# Ray workers inherit the environment at ray.init: they must import `_sources` and this rewardkit
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")])
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from rewardkit.data.synthetic import generate_records  # noqa: E402
from rewardkit.scoring import score_dataset  # noqa: E402


def throughput(args: argparse.Namespace, work: Path) -> list[tuple[str, float, float]]:
    import orjson

    inp = work / "heavy.jsonl"
    with open(inp, "wb") as f:
        for rec in generate_records(n_problems=args.n // 4, group_size=4, seed=1):
            f.write(orjson.dumps(rec) + b"\n")
    cfg = {"rewards": [{"type": "_sources:CpuHeavyNumeric", "name": "correct", "iterations": args.iterations}]}
    rows = []
    for name, kw in (("local, 1 process", {"workers": 1}), ("local, workers=2 (peer)", {"workers": 2}),
                     ("ray, 2 actors", {"backend": "ray", "ray": {"actors": 2, "local_num_cpus": 2}})):
        out = work / (name.split(",")[0] + str(len(rows)) + ".jsonl")
        t0 = time.perf_counter()
        s = score_dataset(cfg, inp, out, overwrite=True, progress=False, batch_size=args.batch_size, **kw)
        dt = time.perf_counter() - t0
        rows.append((name, s.rows / dt, dt, out))
    first = rows[0][3].read_bytes()
    assert all(r[3].read_bytes() == first for r in rows), "backends wrote different outputs"
    return [(n, r, d) for n, r, d, _ in rows]


def overhead(batches: int = 60, size: int = 16) -> dict[str, float]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from rewardkit import scoring
    from rewardkit.distributed.ray_backend import RayExecutor, RayOptions
    from rewardkit.io.records import ColumnMap, record_to_sample

    cfg = {"rewards": [{"type": "numeric"}]}
    samples = [record_to_sample(r, "x", ColumnMap(), i)
               for i, r in enumerate(generate_records(n_problems=size // 4, group_size=4, seed=2))]
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=scoring._init_worker,
                               initargs=(cfg, os.getpid()))
    pool.submit(scoring._worker_score, samples).result()  # warm
    local = []
    for _ in range(batches):
        t0 = time.perf_counter()
        pool.submit(scoring._worker_score, samples).result()
        local.append(time.perf_counter() - t0)
    pool.shutdown()
    t0 = time.perf_counter()
    ex = RayExecutor(cfg, RayOptions(actors=1, local_num_cpus=2))
    ex.submit_batch(samples).result()  # includes the actor's start
    start = time.perf_counter() - t0
    remote = []
    for _ in range(batches):
        t0 = time.perf_counter()
        ex.submit_batch(samples).result()
        remote.append(time.perf_counter() - t0)
    ex.shutdown()
    return {"pool_ms": 1000 * statistics.median(local), "ray_ms": 1000 * statistics.median(remote),
            "ray_start_s": start, "batch": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="rows of the CPU-heavy job (default: %(default)s)")
    ap.add_argument("--iterations", type=int, default=20000, help="PBKDF2 iterations a row (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=64, help="rows a batch (default: %(default)s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        rows = throughput(args, Path(d))
    ov = overhead()
    print(f"1) CPU-heavy job, {args.n} rows, batch {args.batch_size}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'backend':<26}{'rows/s':>10}{'seconds':>10}{'vs workers=2':>14}")
    peer = rows[1][1]
    for name, r, dt in rows:
        print(f"{name:<26}{r:>10.0f}{dt:>10.2f}{r / peer:>13.2f}x")
    print(f"\n2) per-batch round trip ({ov['batch']} cheap rows, median of 60): process pool {ov['pool_ms']:.2f} ms, "
          f"Ray actor {ov['ray_ms']:.2f} ms (overhead {ov['ray_ms'] - ov['pool_ms']:+.2f} ms a batch); "
          f"Ray start + first actor {ov['ray_start_s']:.1f} s")


if __name__ == "__main__":
    main()
