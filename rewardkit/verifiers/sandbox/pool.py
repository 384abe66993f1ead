"""Local sandbox: a pool of warm worker processes (parent side).

Each worker (``_worker.py``) is a fresh interpreter started with a scrubbed environment; it sets up
the worker-level isolation once (network and mount namespaces, private /tmp, hidden home, pids
cgroup) and then forks one limited child per run, so a run costs a ``fork`` instead of an
interpreter start. Workers are replaced when they crash, stop answering, or after
``max_runs_per_worker`` runs.

Thread-safe: `LocalSandbox.run` may be called from many threads (``run_many`` does exactly that);
each call borrows one idle worker.
"""

from __future__ import annotations

import json
import os
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rewardkit.verifiers.sandbox.spec import Job, Limits, RunResult

__all__ = ["LocalSandbox"]

_WORKER = str(Path(__file__).with_name("_worker.py"))
ALL_LAYERS = ("netns", "mountns", "hide_home", "proc_hidepid", "setuid", "pids_cgroup")


class _WorkerDied(RuntimeError):
    pass


class _Worker:
    def __init__(self, opts: dict, start_timeout: float = 30.0) -> None:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}  # no secrets reach the worker
        self.proc = subprocess.Popen(
            [sys.executable, "-I", _WORKER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            start_new_session=True, cwd="/",
        )
        self.runs = 0
        self._send(opts)
        hello = self._recv(time.monotonic() + start_timeout)
        if not hello.get("ready"):
            self.kill()
            raise RuntimeError(f"sandbox worker failed to start: {hello.get('error')}")
        self.pid: int = hello["pid"]
        self.uid: int | None = hello.get("uid")
        self.layers: list[str] = hello["layers"]
        self.missing: dict[str, str] = hello["missing"]

    def _send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(body)) + body)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as e:
            raise _WorkerDied(f"worker pipe closed: {e}") from e

    def _recv(self, deadline: float) -> dict:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]

        def read(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("sandbox worker did not answer in time")
                r, _, _ = select.select([fd], [], [], left)
                if not r:
                    continue
                chunk = os.read(fd, n - len(buf))
                if not chunk:
                    raise _WorkerDied(f"sandbox worker exited (code {self.proc.poll()})")
                buf += chunk
            return bytes(buf)

        (n,) = struct.unpack(">I", read(4))
        return json.loads(read(n))

    def request(self, job: dict, timeout: float) -> dict:
        self.runs += 1
        self._send(job)
        return self._recv(time.monotonic() + timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]  # EOF: the worker cleans up and exits
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class LocalSandbox:
    """Run programs in isolated, resource-limited processes on this machine.

    workers: pool size (default: number of CPUs). warm=True forks runs from warm interpreters;
    warm=False ``exec``s a fresh interpreter for every run (same isolation, slower).
    layers: isolation layers to attempt (default: all); the ones that are active are reported in
    `info()` and in every `RunResult.layers`. require: layers that must be active, else `setup`
    raises (e.g. ``("setuid", "netns")`` for a fail-closed deployment).
    """

    name = "local"

    def __init__(self, workers: int | None = None, *, warm: bool = True, limits: Limits | None = None,
                 layers: Sequence[str] = ALL_LAYERS, require: Sequence[str] = (),
                 preload: Sequence[str] = (), max_runs_per_worker: int = 2000,
                 uid_base: int = 2_000_000_000) -> None:
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.warm = warm
        self.limits = limits or Limits()
        self.want = {k: (k in layers) for k in ALL_LAYERS}
        self.require = tuple(require)
        self.preload = tuple(preload)
        self.max_runs_per_worker = max_runs_per_worker
        self.uid_base = uid_base
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._info: dict[str, Any] | None = None
        self._closed = False
        self._next_id = 0

    # lifecycle --------------------------------------------------------------------------------
    def _opts(self) -> dict:
        return {"want": self.want, "preload": list(self.preload), "uid_base": self.uid_base}

    def _spawn(self) -> _Worker:
        w = _Worker(self._opts())
        missing_required = [r for r in self.require if r not in w.layers]
        if missing_required:
            w.close()
            raise RuntimeError(f"required isolation layers unavailable: {missing_required} "
                               f"(reasons: { {k: w.missing.get(k, 'not enabled') for k in missing_required} })")
        with self._lock:
            self._all.add(w)
            if self._info is None:
                self._info = {"backend": "local", "warm": self.warm, "workers": self.n_workers,
                              "layers": list(w.layers), "unavailable": dict(w.missing)}
        return w

    def setup(self) -> None:
        if self._executor is not None:
            return
        with ThreadPoolExecutor(self.n_workers) as ex:  # start workers in parallel
            workers = list(ex.map(lambda _: self._spawn(), range(self.n_workers)))
        for w in workers:
            self._idle.put(w)
        self._executor = ThreadPoolExecutor(self.n_workers, thread_name_prefix="rk-sandbox")

    def close(self) -> None:
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            workers, self._all = list(self._all), set()
        for w in workers:
            w.close()

    def __enter__(self) -> LocalSandbox:
        self.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, Any]:
        """Backend description with the isolation layers that are active on this machine."""
        self.setup()
        return dict(self._info or {})

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._all)

    # running ----------------------------------------------------------------------------------
    def _retire(self, w: _Worker, hard: bool) -> None:
        with self._lock:
            self._all.discard(w)
        if hard:
            w.kill()
        else:
            w.close()

    def run(self, job: Job) -> RunResult:
        """Run one job; never raises for problems of the run itself (they are in the result)."""
        self.setup()
        lim = job.limits or self.limits
        with self._lock:
            self._next_id += 1
            jid = self._next_id
        msg = {"id": jid, "kind": job.kind, "code": job.code, "stdin": job.stdin, "payload": job.payload,
               "files": job.files, "limits": lim.to_dict(), "cold": not self.warm}
        w = self._idle.get()
        replace = False
        try:
            if w is None or not w.alive():
                if w is not None:
                    self._retire(w, hard=True)
                w = self._spawn()
            try:
                raw = w.request(msg, timeout=lim.wall_s + 10.0)
            except (_WorkerDied, TimeoutError, OSError) as e:
                replace = True
                return RunResult(status="error", error=f"sandbox worker failure: {e}",
                                 layers=list(w.layers))
            if w.runs >= self.max_runs_per_worker:
                replace = True
            return RunResult.from_worker(raw)
        except Exception as e:  # noqa: BLE001 - spawning failed
            replace = True
            return RunResult(status="error", error=f"sandbox unavailable: {type(e).__name__}: {e}")
        finally:
            if replace and w is not None:
                self._retire(w, hard=True)
                w = None
            if w is None and not self._closed:
                try:
                    w = self._spawn()
                except Exception:  # noqa: BLE001 - the next run retries
                    w = None
            self._idle.put(w)

    def run_many(self, jobs: Sequence[Job]) -> list[RunResult]:
        """Run jobs concurrently on the pool; results in input order."""
        if not jobs:
            return []
        self.setup()
        assert self._executor is not None
        return list(self._executor.map(self.run, jobs))
