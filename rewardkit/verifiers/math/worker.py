"""Hard time limits for the symbolic stage: a pool of worker *interpreters* that can be killed.

Why not `signal.alarm` (Math-Verify): it only works in the main thread. Why not
`multiprocessing`/`ProcessPoolExecutor`: their children are forbidden inside daemon processes
(the scoring engine's own process-pool workers), a stuck task cannot be killed without breaking
the executor, and ``fork`` from a threaded process is unsafe. So each worker is a plain
``python -m rewardkit.verifiers.math.worker`` started with `subprocess.Popen` (fork+exec): it
works from any thread, from an asyncio loop (call it through ``asyncio.to_thread``) and inside
daemon processes, and a stuck worker is killed with SIGKILL and replaced by a fresh one, which is
started at once so that the next check finds a warm spare.

Protocol: 4-byte big-endian length + UTF-8 JSON, one request and one response at a time per
worker. A worker sets an address-space limit (``RLIMIT_AS``, default 2 GiB) so that a runaway
sympy computation dies with MemoryError instead of exhausting the machine. The timeout starts
when the task reaches a ready worker (interpreter start-up and imports are not charged to a
check). A worker that dies (crash, memory limit) yields status ``error``; one that overruns
``timeout_s`` yields ``timeout``.

If no subprocess can be started at all (a sandbox without fork/exec), `WorkerPool` degrades to an
*inline* mode: the check runs in a daemon thread and is abandoned after ``timeout_s`` (the
caller gets ``timeout`` on time, but the thread cannot be killed; at most ``max_abandoned`` such
threads are tolerated before checks are refused with ``timeout`` immediately).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["WorkerPool", "get_pool", "run_symbolic", "TIMEOUT", "CRASH"]

TIMEOUT = "timeout"
CRASH = "crash"
_START_TIMEOUT = 60.0


def run_symbolic(task: dict[str, Any]) -> dict[str, Any]:
    """Body of one task (used by workers and by the inline fallback): the symbolic stage of a
    check, or (``kind == "check"``) a whole check of a long completion."""
    from rewardkit.verifiers.math.api import _check_stage, _symbolic_stage

    if task.get("kind") == "check":
        return _check_stage(task["gold"], task["completion"], task["config"], task.get("extract_gold", True),
                            task.get("problem"))
    return _symbolic_stage(task["gold"], task["pred"], task["config"])


# ---------------------------------------------------------------------------- wire format
def _write(fd: int, obj: Any) -> None:
    data = json.dumps(obj).encode()
    buf = struct.pack(">I", len(data)) + data
    view = memoryview(buf)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    chunks = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                raise TimeoutError
        b = os.read(fd, n)
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _read(fd: int, deadline: float | None) -> Any:
    head = _read_exact(fd, 4, deadline)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0], deadline)
    if body is None:
        return None
    return json.loads(body)


# ---------------------------------------------------------------------------- parent side
class _Worker:
    __slots__ = ("proc", "ready", "rfd", "wfd")

    def __init__(self, mem_mb: int) -> None:
        env = dict(os.environ)
        env["REWARDKIT_MATH_WORKER_MEM_MB"] = str(mem_mb)
        env.setdefault("PYTHONHASHSEED", "0")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rewardkit.verifiers.math.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True, start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        try:
            msg = _read(self.rfd, time.monotonic() + timeout)
        except TimeoutError:
            return False
        self.ready = bool(msg and msg.get("ready"))
        return self.ready

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class WorkerPool:
    """Thread-safe pool of killable worker interpreters (see the module docstring)."""

    def __init__(self, size: int = 2, mem_mb: int = 2048, max_abandoned: int = 4) -> None:
        self.size = max(1, size)
        self.mem_mb = mem_mb
        self.max_abandoned = max_abandoned
        self._idle: list[_Worker] = []
        self._n = 0  # workers alive (idle + busy)
        self._cv = threading.Condition()
        self._closed = False
        self._inline = False
        self._abandoned = 0
        self._pid = os.getpid()
        self.stats = {"tasks": 0, "timeouts": 0, "crashes": 0, "restarts": 0}

    # lifecycle
    def warm(self, n: int | None = None) -> None:
        """Start up to ``n`` (default: all) workers now, so the first checks find them ready."""
        with self._cv:
            want = min(self.size, n or self.size)
            while self._n < want and not self._inline:
                w = self._spawn_locked()
                if w is None:
                    break
                self._idle.append(w)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            idle, self._idle = self._idle, []
            self._n -= len(idle)
            self._cv.notify_all()
        for w in idle:
            w.kill()

    @property
    def mode(self) -> str:
        return "inline" if self._inline else "process"

    def _spawn_locked(self) -> _Worker | None:
        try:
            w = _Worker(self.mem_mb)
        except OSError:
            self._inline = True
            return None
        self._n += 1
        return w

    def _checkout(self) -> _Worker | None:
        with self._cv:
            while True:
                if self._closed:
                    raise RuntimeError("worker pool is closed")
                if self._inline:
                    return None
                ready = [w for w in self._idle if w.ready]
                if ready or self._idle:
                    w = (ready or self._idle)[0]
                    self._idle.remove(w)
                    return w
                if self._n < self.size:
                    w = self._spawn_locked()
                    if w is None:
                        return None
                    return w
                self._cv.wait()

    def _checkin(self, w: _Worker) -> None:
        with self._cv:
            if self._closed:
                self._n -= 1
                w.kill()
            else:
                self._idle.append(w)
            self._cv.notify()

    def _discard(self, w: _Worker) -> None:
        w.kill()
        with self._cv:
            self._n -= 1
            self.stats["restarts"] += 1
            if not self._closed and self._n < self.size:
                nw = self._spawn_locked()  # eager replacement: warms up while we return
                if nw is not None:
                    self._idle.append(nw)
            self._cv.notify()

    # running
    def run(self, task: dict[str, Any], timeout: float) -> dict[str, Any] | str:
        """The worker's answer, or TIMEOUT / CRASH. Safe to call from any thread."""
        if os.getpid() != self._pid:
            raise RuntimeError("WorkerPool used after fork; call get_pool() in the child")
        self.stats["tasks"] += 1
        w = self._checkout()
        if w is None:
            return self._run_inline(task, timeout)
        if not w.wait_ready(_START_TIMEOUT):
            self._discard(w)
            self.stats["crashes"] += 1
            return CRASH
        try:
            _write(w.wfd, task)
            out = _read(w.rfd, time.monotonic() + timeout)
        except TimeoutError:
            self.stats["timeouts"] += 1
            self._discard(w)
            return TIMEOUT
        except (OSError, ValueError):
            out = None
        if out is None:
            self.stats["crashes"] += 1
            self._discard(w)
            return CRASH
        self._checkin(w)
        return out

    def _run_inline(self, task: dict[str, Any], timeout: float) -> dict[str, Any] | str:
        if self._abandoned >= self.max_abandoned:
            return TIMEOUT
        _warm_inline()  # imports are not charged to the check (as with worker start-up)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = run_symbolic(task)
            except Exception as e:  # noqa: BLE001 - reported as a crash
                box["err"] = repr(e)

        t = threading.Thread(target=target, daemon=True, name="rewardkit-math-inline")
        t.start()
        t.join(timeout)
        if t.is_alive():
            with self._cv:
                self._abandoned += 1
            self.stats["timeouts"] += 1
            return TIMEOUT
        return box.get("out", CRASH)


_INLINE_WARM = threading.Lock()
_inline_ready = False


def _warm_inline() -> None:
    global _inline_ready
    if _inline_ready:
        return
    with _INLINE_WARM:
        if not _inline_ready:
            try:
                run_symbolic({"gold": "x^2+1", "pred": "1+x^2", "config": {}})
            finally:
                _inline_ready = True


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(size: int | None = None) -> WorkerPool:
    """The process-wide pool (recreated after a fork). ``size`` applies when it is created."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._pid != os.getpid() or _POOL._closed:
            n = size or int(os.environ.get("REWARDKIT_MATH_WORKERS", "0")) or min(2, os.cpu_count() or 1)
            _POOL = WorkerPool(size=max(2, n))
        elif size and size > _POOL.size:
            _POOL.size = size
        return _POOL


@atexit.register
def _close_pool() -> None:
    if _POOL is not None and _POOL._pid == os.getpid():
        _POOL.close()


# ---------------------------------------------------------------------------- worker side
def _worker_main() -> None:
    mem = int(os.environ.get("REWARDKIT_MATH_WORKER_MEM_MB", "2048"))
    try:
        import resource

        lim = mem * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    except (ImportError, ValueError, OSError):
        pass
    sys.setrecursionlimit(5000)
    rfd, wfd = sys.stdin.fileno(), sys.stdout.fileno()
    # import and warm the heavy parts before announcing readiness
    try:
        run_symbolic({"gold": "x^2+1", "pred": "1+x^2", "config": {}})
    except Exception:  # noqa: BLE001 - warm-up failures show up on real tasks
        pass
    _write(wfd, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            task = _read(rfd, None)
        except (OSError, ValueError):
            return
        if task is None:
            return
        try:
            out = run_symbolic(task)
        except MemoryError:
            out = {"error": "MemoryError"}
        except RecursionError:
            out = {"error": "RecursionError"}
        except Exception as e:  # noqa: BLE001 - reported to the parent as an error verdict
            out = {"error": f"{type(e).__name__}: {e}"[:300]}
        _write(wfd, out)


if __name__ == "__main__":
    _worker_main()
