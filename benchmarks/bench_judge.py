"""Judge throughput against a local OpenAI-compatible server with artificial latency.

    python benchmarks/bench_judge.py                      # 200 ms a call, 128 items, concurrency 32
    python benchmarks/bench_judge.py --latency 0.2 --items 256 --concurrency 64

The server is rewardkit's scripted judge (`rewardkit.judges.testing`) in its own process on
loopback, every reply delayed by ``--latency`` seconds, like a remote model's time to answer. The
peer is the same judge client called one item at a time (``max_concurrency=1``), i.e. the
sequential loop most reward functions run. Both score the same items (pointwise rubric). Reports
items/s, the ratio, and the server's request counts: every item must be asked exactly once (no
lost or duplicated results).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _server(latency: float) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rewardkit.judges.testing", "--port", str(port),
                             "--latency", str(latency)], start_new_session=True, env={**os.environ,
                             "PYTHONPATH": str(REPO)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("judge server did not start")


def run(url: str, items: int, concurrency: int, tag: str) -> dict:
    import httpx

    from rewardkit.judges.source import JudgeReward
    from rewardkit.types import Sample, Status

    httpx.post(url + "/reset")
    samples = [Sample(f"question {tag} {i}", "a helpful answer" if i % 2 else f"answer {i}") for i in range(items)]
    src = JudgeReward(base_url=url + "/v1", model="scripted", max_concurrency=concurrency)
    t0 = time.perf_counter()
    res = src.score(samples)
    dt = time.perf_counter() - t0
    stats = httpx.get(url + "/stats").json()
    ok = sum(r.status is Status.OK for r in res)
    right = sum(r.score == (1.0 if i % 2 else 0.0) for i, r in enumerate(res))
    return {"concurrency": concurrency, "items": items, "seconds": dt, "items_per_s": items / dt, "ok": ok,
            "correct": right, "requests": stats["requests"], "distinct": stats["distinct"],
            "max_per_request": stats["max_per_request"], "max_inflight": stats["max_inflight"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per judge call (default: %(default)s)")
    ap.add_argument("--items", type=int, default=128, help="items scored concurrently (default: %(default)s)")
    ap.add_argument("--sequential-items", type=int, default=32,
                    help="items scored by the sequential peer (default: %(default)s)")
    ap.add_argument("--concurrency", type=int, default=32, help="max_concurrency (default: %(default)s)")
    a = ap.parse_args()
    proc, url = _server(a.latency)
    try:
        seq = run(url, a.sequential_items, 1, "seq")
        con = run(url, a.items, a.concurrency, "con")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    print(f"judge throughput, {a.latency * 1000:.0f} ms per call, load average {os.getloadavg()[0]:.2f}")
    print(f"{'mode':<22}{'items':>7}{'seconds':>9}{'items/s':>9}{'ok':>6}{'correct':>8}{'requests':>9}"
          f"{'distinct':>9}{'max/req':>8}{'inflight':>9}")
    for name, r in (("sequential (peer)", seq), (f"concurrency {a.concurrency}", con)):
        print(f"{name:<22}{r['items']:>7}{r['seconds']:>9.2f}{r['items_per_s']:>9.1f}{r['ok']:>6}{r['correct']:>8}"
              f"{r['requests']:>9}{r['distinct']:>9}{r['max_per_request']:>8}{r['max_inflight']:>9}")
    ratio = con["items_per_s"] / seq["items_per_s"]
    lost = (con["items"] - con["ok"]) + (seq["items"] - seq["ok"])
    dup = max(con["max_per_request"], seq["max_per_request"]) - 1
    print(f"speed-up: {ratio:.1f}x (target >= 20x); lost results: {lost}; duplicated requests: {dup}")


if __name__ == "__main__":
    main()
