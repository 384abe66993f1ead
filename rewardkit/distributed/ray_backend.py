"""Ray as the execution backend of offline scoring: a pool of scorer actors on a cluster.

rewardkit does not grow its own distributed system. Offline scoring (`rewardkit.scoring`) keeps
everything that makes its output trustworthy in the driver -- reading records, bad-record
handling, collecting whole groups whatever the row order, shaping, the resumable partial file,
the summary -- and hands batches of samples to an *executor*. Locally that is the process
itself or a process pool; with ``--backend ray`` it is this pool of Ray actors, each holding one
`Pipeline` (a reward model loads once per actor, on its GPU when ``num_gpus`` is set).
Because only the executor changes, the output is the same, row for row, as the local backend's.

What runs where on a cluster:

- the driver (``rewardkit score --backend ray --ray-address auto`` on the head node or a client):
  reads the input, keeps at most ``2 x actors`` batches in flight, shapes groups, writes the
  output and its resumable partial file;
- ``actors`` scorer actors, each asking for ``num_cpus`` CPUs and ``num_gpus`` GPUs: verifiers want
  ``num_cpus: 1, num_gpus: 0`` and as many actors as cores; a reward model wants ``num_gpus: 1`` and
  one actor per GPU.

Failures: actors are created with ``max_restarts=-1`` and their calls with ``max_task_retries``,
so an actor that dies (a node lost, an OOM kill) is restarted by Ray and the batches it held are
retried; the driver commits a batch only once, so every row appears exactly once. A batch that
still fails after the retries stops the run like any other error, with the partial file
committed: ``--resume`` continues from it.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["RayExecutor", "RayOptions", "connect", "default_actors"]

from pydantic import BaseModel, ConfigDict, Field


class RayOptions(BaseModel):
    """How to reach Ray and what each scorer actor asks for."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None       # "auto", "ray://head:10001", or None: start a local instance
    actors: int | None = Field(default=None, ge=1)   # default: cluster CPUs // num_cpus (GPUs if num_gpus)
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    max_task_retries: int = Field(default=3, ge=0)
    local_num_cpus: int | None = None  # a local instance's size (tests: 2)
    runtime_env: dict[str, Any] | None = None  # e.g. {"pip": ["rewardkit"]} or py_modules on a cluster


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray backend needs Ray: pip install 'rewardkit[ray]'") from None
    return ray


def connect(options: RayOptions) -> bool:
    """Join the cluster at ``options.address`` or start a local instance; True if this call started Ray."""
    ray = _ray()
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
    if options.address is not None:
        kw["address"] = options.address
    elif options.local_num_cpus is not None:
        kw["num_cpus"] = options.local_num_cpus
    if options.runtime_env is not None:
        kw["runtime_env"] = options.runtime_env
    ray.init(**kw)
    return True


def default_actors(options: RayOptions, reserve_cpus: float = 0.0) -> int:
    """Actors the cluster can hold: GPUs / num_gpus, else (CPUs - reserve) / num_cpus; at least 1."""
    res = _ray().cluster_resources()
    if options.num_gpus > 0:
        return max(1, int(res.get("GPU", 0) // options.num_gpus))
    return max(1, int((res.get("CPU", 1) - reserve_cpus) // max(options.num_cpus, 1e-9)))


def _scorer_class(ray: Any) -> Any:
    @ray.remote
    class Scorer:
        """One pipeline per actor; batches in, result dicts out (the local workers' wire format)."""

        def __init__(self, config: dict[str, Any]) -> None:
            from rewardkit.pipeline import Pipeline

            self.pipeline = Pipeline(config)

        def score(self, samples: list[Any]) -> list[dict[str, Any]]:
            return [r.to_dict() for r in self.pipeline.score(samples)]

        def pid(self) -> int:
            import os

            return os.getpid()

    return Scorer


class RayExecutor:
    """A `concurrent.futures`-style executor over Ray scorer actors (``submit_batch`` -> Future).

    Batches go to the actor with the fewest batches in flight, so a slow actor is not handed
    more work; the returned futures resolve to the same result dicts a local worker returns.
    """

    def __init__(self, config: dict[str, Any], options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()
        ray = self._ray = _ray()
        self._started_ray = connect(self.options)
        o = self.options
        n = o.actors or default_actors(o)
        cls = _scorer_class(ray).options(num_cpus=o.num_cpus, num_gpus=o.num_gpus, max_restarts=-1,
                                         max_task_retries=o.max_task_retries)
        self.actors = [cls.remote(config) for _ in range(n)]
        self._inflight = [0] * n
        self._lock = threading.Lock()
        self._futures: list[concurrent.futures.Future[Any]] = []
        self._rr = itertools.count()

    @property
    def size(self) -> int:
        return len(self.actors)

    def submit_batch(self, samples: Sequence[Any]) -> concurrent.futures.Future[list[dict[str, Any]]]:
        with self._lock:
            start = next(self._rr) % len(self.actors)
            order = [(self._inflight[(start + i) % len(self.actors)], (start + i) % len(self.actors))
                     for i in range(len(self.actors))]
            k = min(order)[1]
            self._inflight[k] += 1
        fut = self.actors[k].score.remote(list(samples)).future()

        def done(_: Any, k: int = k) -> None:
            with self._lock:
                self._inflight[k] -= 1

        fut.add_done_callback(done)
        self._futures.append(fut)
        return fut

    def submit(self, fn: Any, samples: Sequence[Any]) -> concurrent.futures.Future[list[dict[str, Any]]]:
        """`ProcessPoolExecutor.submit` shape (``fn`` is the local worker function, unused here)."""
        return self.submit_batch(samples)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for f in self._futures:
                f.cancel()
        if wait:
            concurrent.futures.wait([f for f in self._futures if not f.cancelled()])
        for a in self.actors:
            try:
                self._ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False
