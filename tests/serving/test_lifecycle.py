"""``rewardkit serve`` stopped the way process managers stop it leaves no process behind: not its
pool workers, not multiprocessing's resource tracker, not the code sandbox's workers."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests.serving.conftest import SLEEPY_CPU, marked_pids, start_server, wait_gone

_CODE = {"completion": "```python\ndef f(x):\n    return x + 1\n```", "reference": {"tests": ["assert f(1) == 2"]}}


def _descendants(root: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = set(), [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.add(k)
            todo.append(k)
    return out


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    alive.append(p)
        except OSError:
            pass
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_serve_leaves_no_process_behind(tmp_path, sig):
    # a CPU-heavy pipeline runs in pool workers; its code component starts sandbox workers there
    config = {"rewards": [{"type": SLEEPY_CPU}, {"type": "code", "weight": 0.0}]}
    srv = start_server(tmp_path, config, "--workers", "2", cli=True)
    try:
        r = httpx.post(srv.url + "/score", json={"samples": [_CODE]}, timeout=60).json()["results"][0]
        assert r["components"]["code"] == 1.0, r
        out: dict[str, int] = {}

        def call() -> None:  # a request in flight while the signal arrives
            try:
                out["status"] = httpx.post(srv.url + "/score", json={"samples": [
                    {"completion": "sleep:1", "reference": "x"}]}, timeout=30).status_code
            except httpx.HTTPError:
                out["status"] = -1

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.4)
        started = _descendants(srv.proc.pid) | set(marked_pids(srv.mark))
        # 2 pool workers, the resource tracker, a sandbox worker under a pool worker
        assert len(started) >= 4, started
        srv.proc.send_signal(sig)
        srv.proc.wait(30)
        t.join(30)
        if sig == signal.SIGTERM:  # graceful: the in-flight request is answered first
            assert out["status"] == 200
        deadline = time.monotonic() + 10
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(started) == []
        assert wait_gone(srv.mark, timeout=1.0) == []
    finally:
        srv.stop(signal.SIGKILL)
