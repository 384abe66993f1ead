"""Reward server under loopback load, against the common minimal per-item server.

    python benchmarks/bench_server.py                       # 20,000 requests, concurrency 64
    python benchmarks/bench_server.py --requests 2000 --items-per-request 16

Both servers speak OpenRLHF's ``POST /get_reward`` and get the same requests (synthetic
arithmetic problems, one query per request by default as OpenRLHF's current agent executor sends
them). The peer is the pattern of OpenRLHF's examples: a FastAPI endpoint that loops over the
queries calling Math-Verify's ``parse``/``verify`` directly, on uvicorn. rewardkit serves a pipeline
with the ``math`` source when it is importable (else ``numeric``, which is then *not* a like-for-like
comparison; the table says which ran), with micro-batching and a process pool.

The load generator is a small raw-socket HTTP/1.1 keep-alive client (one connection per
concurrent request slot, closed loop) so that its own CPU cost stays low and equal for both
servers. Reports throughput, latency p50/p99, errors (non-200 or unparseable bodies) and the
agreement of the two servers' rewards.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

class MathVerifyDirect:
    """The peer's exact check (Math-Verify ``parse``/``verify``) as a rewardkit source, to separate
    what the server adds from what the ``math`` verifier adds (``--source math_verify``)."""

    cpu_heavy = True  # process pool: Math-Verify's signal-based timeouts need a main thread

    def __init__(self, name: str = "math_verify") -> None:
        self.name = name

    def score(self, samples):
        from math_verify import parse, verify

        from rewardkit.types import RewardResult

        ref = [parse("$" + str(s.reference) + "$") for s in samples]
        return [RewardResult.ok(1.0 if verify(g, parse(s.completion)) else 0.0) for g, s in zip(ref, samples, strict=True)]

    async def ascore(self, samples):
        return self.score(samples)


BASELINE = '''
import sys
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from math_verify import parse, verify

app = FastAPI()


@app.post("/get_reward")
async def get_reward(request: Request):
    data = await request.json()
    rewards = []
    for query, prompt, label in zip(data["query"], data["prompts"], data["labels"]):
        response = query[len(prompt):] if query.startswith(prompt) else query
        gold = parse("$" + str(label) + "$")
        pred = parse(response)
        rewards.append(1.0 if verify(gold, pred) else 0.0)
    return JSONResponse({"rewards": rewards, "scores": rewards, "extra_logs": {}})


@app.get("/health")
async def health():
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    import httpx

    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready")


def make_bodies(n_requests: int, per_request: int, seed: int) -> tuple[list[bytes], list[list[float]]]:
    from rewardkit.data.synthetic import generate

    n_items = n_requests * per_request
    recs = list(generate(n_problems=n_items // 4 + 1, group_size=4, seed=seed))[:n_items]
    bodies, labels = [], []
    for i in range(0, n_items, per_request):
        chunk = recs[i:i + per_request]
        prompts = [r["prompt"] + "\n" for r in chunk]
        body = {"query": [p + r["completion"] for p, r in zip(prompts, chunk, strict=True)],
                "prompts": prompts, "labels": [str(r["reference"]["answer"]) for r in chunk]}
        bodies.append(json.dumps(body).encode())
        labels.append([float(r["label"]) for r in chunk])
    return bodies, labels


async def _load(port: int, bodies: list[bytes], concurrency: int) -> tuple[list[float], int, list]:
    """Closed-loop load: ``concurrency`` keep-alive connections, each sending requests in turn."""
    latencies: list[float] = []
    rewards: list = [None] * len(bodies)
    errors = 0
    nxt = 0

    async def worker() -> None:
        nonlocal nxt, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while nxt < len(bodies):
                i = nxt
                nxt += 1
                body = bodies[i]
                head = (f"POST /get_reward HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    if k.lower() == "content-length":
                        length = int(v)
                payload = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                try:
                    ok = status_line.split()[1] == b"200"
                    rewards[i] = json.loads(payload)["rewards"] if ok else None
                    if not ok:
                        errors += 1
                except (IndexError, ValueError, KeyError):
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, rewards


def run_load(port: int, bodies: list[bytes], concurrency: int) -> dict:
    t0 = time.perf_counter()
    lat, errors, rewards = asyncio.run(_load(port, bodies, concurrency))
    wall = time.perf_counter() - t0
    lat.sort()
    return {"wall_s": wall, "rps": len(bodies) / wall, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))], "errors": errors, "rewards": rewards}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its live descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                stats[int(d)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, (0, 0.0))[1]
        todo.extend(c for c, (ppid, _) in stats.items() if ppid == p)
    return total


def start(cmd: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    pythonpath = os.pathsep.join([str(REPO / "benchmarks"), str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_ready(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench(name: str, cmd: list[str], port: int, warm: list[bytes], bodies: list[bytes], concurrency: int) -> dict:
    proc = start(cmd, port)
    try:
        run_load(port, warm, concurrency)
        cpu0 = cpu_seconds(proc.pid)
        res = run_load(port, bodies, concurrency)
        res["cpu_ms_per_request"] = 1000 * (cpu_seconds(proc.pid) - cpu0) / len(bodies)
    finally:
        stop(proc)
    res["name"] = name
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--items-per-request", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--source", choices=["auto", "math", "numeric", "math_verify"], default="auto",
                    help="math_verify: the peer's own check run by rewardkit's server (isolates the server)")
    ap.add_argument("--workers", type=int, default=None, help="rewardkit process-pool size (default: CPU count)")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-wait-ms", type=float, default=2.0)
    args = ap.parse_args()

    source = args.source
    if source == "auto":
        source = "math" if importlib.util.find_spec("rewardkit.verifiers.math") else "numeric"
    # math: cache off so that no verdict is reused across requests (the peer has no cache either)
    spec = {"math": {"type": "math", "cache_size": 0}, "numeric": {"type": "numeric"},
            "math_verify": {"type": "bench_server:MathVerifyDirect", "name": "math_verify"}}[source]
    cfg = Path(tempfile.mkdtemp(prefix="rk_bench_")) / "pipeline.json"
    cfg.write_text(json.dumps({"rewards": [spec]}))
    cfg_yaml = cfg.with_suffix(".yaml")
    cfg_yaml.write_text(json.dumps({"rewards": [spec]}))  # JSON is YAML

    warm, _ = make_bodies(args.warmup, args.items_per_request, seed=1)
    bodies, labels = make_bodies(args.requests, args.items_per_request, seed=0)
    print(f"load: {args.requests} requests x {args.items_per_request} item(s), concurrency {args.concurrency}, "
          f"loopback, {os.cpu_count()} CPUs; rewardkit source: {source}")

    p1 = free_port()
    rk_cmd = [sys.executable, "-m", "rewardkit.serving.server", "--config", str(cfg_yaml), "--port", str(p1),
              "--log-level", "warning", "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms),
              "--max-queue", str(max(4096, 2 * args.concurrency * args.items_per_request))]
    if args.workers is not None:
        rk_cmd += ["--workers", str(args.workers)]
    rk = bench(f"rewardkit serve ({source})", rk_cmd, p1, warm, bodies, args.concurrency)

    base_file = cfg.parent / "baseline_server.py"
    base_file.write_text(BASELINE)
    p2 = free_port()
    peer = bench("per-item FastAPI + Math-Verify", [sys.executable, str(base_file), str(p2)], p2, warm, bodies,
                 args.concurrency)

    items = args.requests * args.items_per_request
    print()
    print("| server | requests/s | items/s | p50 ms | p99 ms | errors | server CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in (rk, peer):
        print(f"| {r['name']} | {r['rps']:.0f} | {items / r['wall_s']:.0f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['errors']} | {r['cpu_ms_per_request']:.3f} |")
    print()
    print(f"throughput ratio rewardkit / peer: {rk['rps'] / peer['rps']:.2f}x; "
          f"p99 ratio: {rk['p99_ms'] / peer['p99_ms']:.2f}x; "
          f"CPU per request ratio: {rk['cpu_ms_per_request'] / peer['cpu_ms_per_request']:.2f}x")
    print(f"(load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; other processes "
          "on the machine lower both servers' throughput, the CPU-per-request column much less)")
    agree = total = 0
    label_agree = 0
    for a, b, lab in zip(rk["rewards"], peer["rewards"], labels, strict=True):
        if a is None or b is None:
            continue
        for x, y, z in zip(a, b, lab, strict=True):
            total += 1
            agree += x == y
            label_agree += x == z
    if total:
        print(f"reward agreement with the peer: {agree}/{total} ({100 * agree / total:.2f}%); "
              f"rewardkit vs synthetic labels: {100 * label_agree / total:.2f}%")


if __name__ == "__main__":
    main()
