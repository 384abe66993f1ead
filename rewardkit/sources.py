"""One protocol for every reward source: verifier, reward model, judge, remote server, pipeline.

A reward source scores a *batch* of samples and returns one `RewardResult` per sample, in order,
in a sync (`score`) and an async (`ascore`) form. Batches matter: reward models batch on a GPU,
remote sources send one request, process-pool verifiers fan out.

Conventions (checked by the conformance suite in ``tests/test_conformance.py``):
- constructors only store parameters (picklable); clients, models and pools are created in
  ``setup()``, which ``score`` calls lazily on first use;
- an exception while scoring one sample becomes that sample's ``error`` result, never a crash of
  the batch and never a 0;
- an empty batch returns an empty list.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from rewardkit.types import RewardResult, Sample, Status

__all__ = [
    "RewardSource",
    "BaseRewardSource",
    "SampleRewardSource",
    "SourceParams",
    "error_result",
]


@runtime_checkable
class RewardSource(Protocol):
    """Anything that turns a batch of samples into one result per sample."""

    name: str

    def score(self, samples: Sequence[Sample]) -> list[RewardResult]: ...

    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]: ...


class SourceParams(BaseModel):
    """Base of every source's parameter model: unknown keys are errors that name the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def error_result(exc: BaseException, *, where: str = "") -> RewardResult:
    """The `error` result for an exception, with its text (and where it happened) in ``info``."""
    msg = f"{type(exc).__name__}: {exc}"
    info: dict[str, Any] = {"error": msg}
    if where:
        info["where"] = where
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        last = tb[-1]
        info["at"] = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
    return RewardResult.fail(Status.ERROR, info=info)


class BaseRewardSource:
    """Convenience base class. Subclasses implement `score_batch` (or use `SampleRewardSource`).

    ``Params`` is the pydantic model of the constructor's keyword arguments; the registry uses it
    to validate configs and ``rewardkit list`` to print them.
    """

    Params: ClassVar[type[SourceParams]] = SourceParams
    #: Hint for the scoring engine: CPU-bound work that benefits from a process pool.
    cpu_heavy: ClassVar[bool] = False

    def __init__(self, name: str | None = None, **params: Any) -> None:
        self.params = self.Params(**params)
        self.name = name or getattr(type(self), "registry_name", type(self).__name__.lower())
        self._is_setup = False

    # lifecycle ------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create clients/models/pools. Called once, lazily, before the first batch."""

    def close(self) -> None:
        """Release what `setup` created."""

    def _ensure_setup(self) -> None:
        if not self._is_setup:
            self.setup()
            self._is_setup = True

    def __getstate__(self) -> dict[str, Any]:
        # Only parameters travel to worker processes; live resources are rebuilt by setup().
        return {"params": self.params, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(name=state["name"], **state["params"].model_dump())  # type: ignore[misc]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}(name={self.name!r}{', ' if args else ''}{args})"

    # scoring --------------------------------------------------------------------------------
    def score(self, samples: Sequence[Sample]) -> list[RewardResult]:
        if not samples:
            return []
        self._ensure_setup()
        results = self.score_batch(samples)
        if len(results) != len(samples):
            raise RuntimeError(
                f"reward source {self.name!r} returned {len(results)} results for {len(samples)} samples"
            )
        return results

    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]:
        """Default async form: run the sync path in a worker thread so the loop stays free."""
        return await asyncio.to_thread(self.score, samples)

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        raise NotImplementedError

    def __call__(self, samples: Sequence[Sample]) -> list[RewardResult]:
        return self.score(samples)


class SampleRewardSource(BaseRewardSource):
    """A source that scores samples one at a time (most verifiers).

    Implement `score_one`; exceptions become per-sample ``error`` results and the latency of each
    check is recorded in ``info['latency_s']`` when ``record_latency`` is set.
    """

    record_latency: ClassVar[bool] = False

    def score_one(self, sample: Sample) -> RewardResult:
        raise NotImplementedError

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        out: list[RewardResult] = []
        score_one = self.score_one
        for s in samples:
            t0 = time.perf_counter() if self.record_latency else 0.0
            try:
                r = score_one(s)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status
                r = error_result(exc, where=self.name)
            if self.record_latency:
                r.info["latency_s"] = time.perf_counter() - t0
            out.append(r)
        return out
