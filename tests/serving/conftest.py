"""Start real reward-server processes (uvicorn on 127.0.0.1) for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProc:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(tmp: Path, config: dict[str, Any], *args: str, env: dict[str, str] | None = None,
                 ready_timeout: float = 60.0) -> ServerProc:
    """``python -m rewardkit.serving.server --config <tmp>/pipeline.yaml --port <free> ...``."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp / "server.log"
    full_env = {k: v for k, v in os.environ.items() if k not in ("REWARDKIT_API_KEY", "REWARDKIT_CONFIG")}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    full_env.update(env or {})
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rewardkit.serving.server", "--config", str(cfg), "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", *args],
            cwd=REPO, env=full_env, stdout=f, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = ServerProc(proc, url, log)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.output()}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become ready:\n{server.output()}")


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started: list[ServerProc] = []

    def make(config: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> ServerProc:
        s = start_server(tmp_path_factory.mktemp("server"), config, *args, env=env)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


NUMERIC = {"rewards": [{"type": "numeric"}]}
SLEEPY = "tests.serving._sources:Sleepy"
SLEEPY_CPU = "tests.serving._sources:SleepyCPU"
