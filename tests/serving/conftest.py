"""Start real reward-server processes (uvicorn on 127.0.0.1) for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
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


MARK_VAR = "REWARDKIT_TEST_PROCESS_MARK"


def marked_pids(mark: str) -> list[int]:
    """Live processes whose environment carries ``MARK_VAR=mark``: a server and every process it
    started (pool workers, the resource tracker, sandbox and math workers), even once re-parented."""
    want = f"{MARK_VAR}={mark}".encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    found.append(int(d))
        except OSError:  # gone, or a zombie
            continue
    return found


def wait_gone(mark: str, timeout: float = 10.0) -> list[int]:
    """Wait until no process carries ``mark``; returns the ones still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := marked_pids(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


class ServerProc:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path, mark: str) -> None:
        self.proc, self.url, self.log, self.mark = proc, url, log, mark

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Stop the server; anything it left behind is killed (tests clean up what they start)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in wait_gone(self.mark):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(tmp: Path, config: dict[str, Any], *args: str, env: dict[str, str] | None = None,
                 ready_timeout: float = 60.0, cli: bool = False) -> ServerProc:
    """``python -m rewardkit.serving.server --config <tmp>/pipeline.yaml --port <free> ...``
    (``rewardkit serve ...`` with ``cli=True``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp / "server.log"
    full_env = {k: v for k, v in os.environ.items() if k not in ("REWARDKIT_API_KEY", "REWARDKIT_CONFIG")}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    full_env.update(env or {})
    mark = full_env[MARK_VAR] = uuid.uuid4().hex
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", *(("rewardkit.cli", "serve") if cli else ("rewardkit.serving.server",)),
             "--config", str(cfg), "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", *args],
            cwd=REPO, env=full_env, stdout=f, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = ServerProc(proc, url, log, mark)
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
