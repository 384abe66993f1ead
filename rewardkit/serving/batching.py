"""Dynamic micro-batching with a bounded queue, per-item deadlines and a process pool.

Requests that arrive together are merged into one call of ``source.score`` (a GPU reward model
scores 64 items for little more than the price of one; a process-pool verifier pays one IPC round
trip per batch instead of per item):

- a request is split into *parts* of at most ``max_batch`` items and queued;
- when a scoring slot is free, the dispatcher takes the oldest part and keeps adding parts until
  the batch holds ``max_batch`` items or ``max_wait_ms`` has passed since that oldest part arrived
  (parts waiting for a busy slot are never held back further);
- slots: ``workers`` for a CPU-heavy source (``source.cpu_heavy``; one worker process per slot,
  the source travels to the workers pickled -- a `Pipeline` pickles as its config), otherwise
  ``concurrency`` concurrent ``source.ascore`` calls (threads for sync sources, native for async).

Admission is bounded: at most ``max_queue`` items are held (queued or being scored); beyond that
`submit` raises `QueueFull`, which the server answers with 429 and a ``Retry-After`` estimated from
the recent throughput. Nothing grows without bound.

Deadlines: when a micro-batch has not finished ``item_timeout`` seconds after it started, each of
its items is scored again on its own (concurrently), and an item that still takes longer gets
status ``timeout`` -- one hanging item does not time out its batch-mates, and the rest of the
request is unaffected. In the process pool the deadline
is hard: the pool holding the stuck worker is replaced and its processes are killed (after the
other batches on it had their own deadline to finish). In threads a stuck call cannot be killed:
its result is dropped when it eventually returns. Any exception or a dead worker becomes ``error``
results for that batch only, never a failed request.

No process outlives the server: `MicroBatcher.close` ends every worker (of the current pool and of
replaced ones), and each worker asks the kernel to kill it when the server dies (Linux
``PR_SET_PDEATHSIG``), so even a SIGKILLed server leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import pickle
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from rewardkit._procs import die_with_parent
from rewardkit.sources import error_result
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["MicroBatcher", "QueueFull", "TooLarge", "Closed"]


class QueueFull(Exception):
    """The bounded queue cannot take the request now; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooLarge(Exception):
    """The request alone holds more items than the queue ever admits."""


class Closed(Exception):
    """The batcher is shutting down and admits no new work."""


# -- worker process side ----------------------------------------------------------------------
_WORKER_SOURCE: Any = None


def _init_worker(payload: bytes, parent_pid: int) -> None:
    global _WORKER_SOURCE
    die_with_parent(parent_pid)
    _WORKER_SOURCE = pickle.loads(payload)


def _worker_setup() -> int:
    setup = getattr(_WORKER_SOURCE, "_ensure_setup", None)
    if setup is not None:
        setup()
    return os.getpid()


def _worker_score(samples: list[Sample]) -> list[RewardResult]:
    return _WORKER_SOURCE.score(samples)


def _sleep_in_worker(seconds: float) -> int:  # used by warm-up to make every worker start
    time.sleep(seconds)
    return _worker_setup()


# -- event-loop side --------------------------------------------------------------------------
@dataclass(eq=False)
class _Job:
    n: int
    future: asyncio.Future[list[RewardResult]]
    results: list[Any] = field(default_factory=list)
    parts_left: int = 0


@dataclass(eq=False)
class _Part:
    job: _Job
    offset: int
    samples: list[Sample]
    t_enqueued: float


def _fill(n: int, status: Status, reason: str) -> list[RewardResult]:
    return [RewardResult.fail(status, reason) for _ in range(n)]


class MicroBatcher:
    """Queue + dispatcher in front of one reward source. Create, ``await start()``, ``submit``."""

    def __init__(self, source: Any, *, max_batch: int = 64, max_wait_ms: float = 5.0, max_queue: int = 4096,
                 item_timeout: float = 60.0, workers: int = 2, concurrency: int = 4, metrics: Any = None) -> None:
        if max_batch < 1 or max_queue < 1 or concurrency < 1:
            raise ValueError("max_batch, max_queue and concurrency must be >= 1")
        self.source = source
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.item_timeout = item_timeout
        self.use_pool = bool(getattr(source, "cpu_heavy", False)) and workers > 0
        self.workers = workers
        self.slots_n = workers if self.use_pool else concurrency
        self.metrics = metrics
        self._pending: deque[_Part] = deque()
        self._admitted = 0  # items queued or being scored
        self._closing = False
        self._pool: ProcessPoolExecutor | None = None
        self._old_pools: list[ProcessPoolExecutor] = []  # replaced, killed a deadline later
        self._pool_gen = 0
        self._payload: bytes | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rate = 0.0  # items/s, exponentially averaged; for Retry-After
        self._pool_ready: asyncio.Future[None] | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Set the source up (and start and warm the worker processes) before admitting work."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._slots = asyncio.Semaphore(self.slots_n)
        if self.use_pool:
            self._payload = pickle.dumps(self.source)
            self._pool = self._new_pool()
            self._pool_ready = asyncio.ensure_future(self._warm(self._pool))
            await self._pool_ready
        else:
            setup = getattr(self.source, "_ensure_setup", None)
            if setup is not None:
                await asyncio.to_thread(setup)
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="rewardkit-dispatcher")
        self._started = True

    async def close(self, timeout: float = 30.0) -> None:
        """Stop admitting, let admitted items finish (up to ``timeout`` s), then stop the workers."""
        self._closing = True
        if not self._started:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        self._dispatcher.cancel()
        try:
            await self._dispatcher
        except asyncio.CancelledError:
            pass
        pools = [p for p in (self._pool, *self._old_pools) if p is not None]
        self._pool, self._old_pools = None, []
        if pools:
            await asyncio.to_thread(_stop_pools, pools, 5.0)

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def closing(self) -> bool:
        return self._closing

    def retry_after(self) -> int:
        """Seconds until the current backlog is likely drained (1..60)."""
        if self._rate <= 0:
            return 1
        return int(min(60, max(1, math.ceil(self._admitted / self._rate))))

    # -- admission -------------------------------------------------------------------------------
    async def submit(self, samples: Sequence[Sample]) -> list[RewardResult]:
        """Score ``samples`` as part of whatever micro-batches form; one result per sample, in order."""
        n = len(samples)
        if n == 0:
            return []
        if self._closing or not self._started:
            raise Closed("the server is shutting down")
        if n > self.max_queue:
            raise TooLarge(f"the request has {n} items; this server admits at most {self.max_queue} "
                           f"items at a time (max_queue); split the request")
        if self._admitted + n > self.max_queue:
            raise QueueFull(f"queue full ({self._admitted} of {self.max_queue} items held); retry later",
                            self.retry_after())
        job = _Job(n=n, future=self._loop.create_future(), results=[None] * n)
        now = self._loop.time()
        samples = list(samples)
        parts = [_Part(job, i, samples[i:i + self.max_batch], now) for i in range(0, n, self.max_batch)]
        job.parts_left = len(parts)
        self._admitted += n
        self._idle.clear()
        if self.metrics is not None:
            self.metrics.queue_items.set(self._admitted)
        self._pending.extend(parts)
        self._wakeup.set()
        return await job.future  # if the client goes away the future is cancelled; results are dropped

    # -- dispatch --------------------------------------------------------------------------------
    async def _next_part(self) -> _Part:
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._pending.popleft()

    async def _dispatch_loop(self) -> None:
        loop = self._loop
        while True:
            await self._slots.acquire()
            first = await self._next_part()
            batch = [first]
            n = len(first.samples)
            deadline = first.t_enqueued + self.max_wait
            while n < self.max_batch:
                if self._pending:
                    if n + len(self._pending[0].samples) > self.max_batch:
                        break
                    part = self._pending.popleft()
                    batch.append(part)
                    n += len(part.samples)
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            task = loop.create_task(self._run_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, batch: list[_Part]) -> None:
        samples = [s for p in batch for s in p.samples]
        m = self.metrics
        t0 = time.perf_counter()
        if m is not None:
            m.batch_size.observe(len(samples))
            m.inflight_batches.inc()
        try:
            results = await self._score(samples)
        except Exception as exc:  # noqa: BLE001 - defensive: _score converts failures already
            err = error_result(exc, where="server")
            results = [RewardResult.fail(Status.ERROR, info=dict(err.info)) for _ in samples]
        finally:
            self._slots.release()
            if m is not None:
                m.inflight_batches.dec()
        dt = time.perf_counter() - t0
        if dt > 0:
            inst = len(samples) / dt * self.slots_n
            self._rate = inst if self._rate == 0 else 0.8 * self._rate + 0.2 * inst
        if m is not None:
            m.batch_latency.observe(dt)
        i = 0
        for part in batch:
            k = len(part.samples)
            job = part.job
            job.results[part.offset:part.offset + k] = results[i:i + k]
            i += k
            job.parts_left -= 1
            self._admitted -= k
            if job.parts_left == 0 and not job.future.done():
                job.future.set_result(job.results)
        if m is not None:
            m.queue_items.set(self._admitted)
        if self._admitted == 0:
            self._idle.set()

    async def _score(self, samples: list[Sample]) -> list[RewardResult]:
        results, timed_out = await self._score_once(samples)
        if timed_out and len(samples) > 1:
            # Deadlines are per item: one hanging item must not time out its batch-mates. Score
            # each item of a timed-out batch alone (concurrently); only the culprits time out again.
            singles = await asyncio.gather(*(self._score_once([s]) for s in samples))
            results = [res[0] for res, _ in singles]
        if len(results) != len(samples):
            return _fill(len(samples), Status.ERROR,
                         f"reward source returned {len(results)} results for {len(samples)} samples")
        return results

    async def _score_once(self, samples: list[Sample]) -> tuple[list[RewardResult], bool]:
        """(results, timed out?) for one call of the source on ``samples``."""
        if self.use_pool:
            return await self._score_in_pool(samples)
        try:
            return await asyncio.wait_for(self.source.ascore(samples), self.item_timeout), False
        except asyncio.TimeoutError:
            return _fill(len(samples), Status.TIMEOUT,
                         f"no result within item_timeout={self.item_timeout:g}s (server)"), True
        except Exception as exc:  # noqa: BLE001 - a crashing source fails this batch only
            err = error_result(exc, where="server")
            return [RewardResult.fail(Status.ERROR, info=dict(err.info)) for _ in samples], False

    # -- process pool ----------------------------------------------------------------------------
    def _new_pool(self) -> ProcessPoolExecutor:
        assert self._payload is not None
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self._payload, os.getpid()))

    async def _warm(self, pool: ProcessPoolExecutor) -> None:
        """Start every worker process and set the source up in it (one short task per worker)."""
        try:
            await asyncio.gather(*(self._loop.run_in_executor(pool, _sleep_in_worker, 0.05)
                                   for _ in range(self.workers)))
        except Exception:  # noqa: BLE001 - a broken pool shows up again, as statuses, when used
            pass

    def _replace_pool(self, gen: int) -> None:
        """Swap in a fresh pool (once per generation); kill the old one's processes a deadline later."""
        if gen != self._pool_gen or self._closing:
            return
        old = self._pool
        self._pool = self._new_pool()
        self._pool_gen += 1
        self._pool_ready = asyncio.ensure_future(self._warm(self._pool))
        if self.metrics is not None:
            self.metrics.worker_restarts.inc()
        if old is not None:
            # Other batches on the old pool get their own deadline to finish before the kill.
            self._old_pools.append(old)
            self._loop.call_later(self.item_timeout + 1.0, self._kill_old_pool, old)

    def _kill_old_pool(self, pool: ProcessPoolExecutor) -> None:
        if pool in self._old_pools:
            self._old_pools.remove(pool)
            _kill_pool(pool)

    async def _score_in_pool(self, samples: list[Sample]) -> tuple[list[RewardResult], bool]:
        for attempt in range(2):
            ready = self._pool_ready
            if ready is not None and not ready.done():
                await asyncio.shield(ready)  # deadlines count scoring time, not worker start-up
            pool, gen = self._pool, self._pool_gen
            if pool is None:
                return _fill(len(samples), Status.ERROR, "server is shutting down"), False
            try:
                fut = self._loop.run_in_executor(pool, _worker_score, samples)
                return await asyncio.wait_for(fut, self.item_timeout), False
            except asyncio.TimeoutError:
                self._replace_pool(gen)
                return _fill(len(samples), Status.TIMEOUT,
                             f"no result within item_timeout={self.item_timeout:g}s (worker process killed)"), True
            except (BrokenProcessPool, RuntimeError) as exc:
                # RuntimeError: submit() on a pool that is shutting down (replaced concurrently).
                if attempt == 0 and gen != self._pool_gen:
                    continue  # the pool was replaced under us: retry once on the new one
                self._replace_pool(gen)
                return _fill(len(samples), Status.ERROR,
                             f"worker process failed: {type(exc).__name__}: {exc}"), False
            except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
                err = error_result(exc, where="worker")
                return [RewardResult.fail(Status.ERROR, info=dict(err.info)) for _ in samples], False
        return _fill(len(samples), Status.ERROR, "worker process failed twice"), False


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to stop a running task; kill its processes.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.kill()


def _stop_pools(pools: list[ProcessPoolExecutor], grace_s: float) -> None:
    """End every worker of ``pools``: idle ones exit on the shutdown message, the rest are killed
    after ``grace_s`` (``shutdown(wait=False)`` alone leaves busy or unreached workers running)."""
    procs = [p for pool in pools for p in (getattr(pool, "_processes", None) or {}).values()]
    for pool in pools:
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(5.0)
    for pool in pools:
        pool.shutdown(wait=True)  # joins the pool's manager thread: its processes are gone now
