"""``rewardkit serve`` stopped the way process managers stop it leaves no process behind."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.serving.conftest import SLEEPY_CPU, marked_pids, start_server, wait_gone


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_serve_leaves_no_process_behind(tmp_path, sig):
    srv = start_server(tmp_path, {"rewards": [{"type": SLEEPY_CPU}]}, "--workers", "2", cli=True)
    try:
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
        # the server, its 2 pool workers and multiprocessing's resource tracker
        assert len(marked_pids(srv.mark)) >= 4, marked_pids(srv.mark)
        srv.proc.send_signal(sig)
        srv.proc.wait(30)
        t.join(30)
        if sig == signal.SIGTERM:  # graceful: the in-flight request is answered first
            assert out["status"] == 200
        assert wait_gone(srv.mark, timeout=10.0) == []
    finally:
        srv.stop(signal.SIGKILL)
