"""MicroBatcher in process: merging, splitting, order, bounds, per-item deadlines, shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from rewardkit.serving.batching import Closed, MicroBatcher, QueueFull, TooLarge
from rewardkit.sources import BaseRewardSource
from rewardkit.types import RewardResult, Sample, Status


class Recording(BaseRewardSource):
    """Score = the sample's id; records every batch it is called with; "hang" sleeps 1 s."""

    def __init__(self) -> None:
        super().__init__(name="rec")
        self.batches: list[int] = []

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        self.batches.append(len(samples))
        if any(s.completion == "hang" for s in samples):
            time.sleep(1)
        if any(s.completion == "raise" for s in samples):
            raise RuntimeError("whole batch failed")
        return [RewardResult.ok(float(s.id)) for s in samples]


def _samples(start: int, n: int, text: str = "x") -> list[Sample]:
    return [Sample("p", text, id=start + i) for i in range(n)]


def run(coro):
    return asyncio.run(coro)


def test_merges_splits_and_keeps_order():
    src = Recording()

    async def go():
        b = MicroBatcher(src, max_batch=32, max_wait_ms=50, concurrency=1)
        await b.start()
        jobs = [_samples(0, 5), _samples(100, 70), _samples(1000, 3)]
        out = await asyncio.gather(*(b.submit(j) for j in jobs))
        await b.close()
        return jobs, out

    jobs, out = run(go())
    for job, res in zip(jobs, out, strict=True):
        assert [r.score for r in res] == [float(s.id) for s in job]
    assert sum(src.batches) == 78 and max(src.batches) <= 32
    assert len(src.batches) <= 4  # 78 items, batches of <= 32: merged, not one call per request


def test_bounded_admission_and_closing():
    src = Recording()

    async def go():
        b = MicroBatcher(src, max_batch=4, max_wait_ms=0, max_queue=6, concurrency=1)
        with pytest.raises(Closed):
            await b.submit(_samples(0, 1))  # not started
        await b.start()
        with pytest.raises(TooLarge):
            await b.submit(_samples(0, 7))
        first = asyncio.create_task(b.submit(_samples(0, 5, "hang")))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull) as e:
            await b.submit(_samples(10, 2))
        assert e.value.retry_after >= 1
        ok = await b.submit(_samples(20, 1))  # 5 + 1 <= 6 still fits
        await b.close()  # drains the hanging batch first
        with pytest.raises(Closed):
            await b.submit(_samples(0, 1))
        return ok, await first

    ok, first = run(go())
    assert ok[0].score == 20.0 and [r.score for r in first] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_per_item_deadline_in_threads_and_errors_stay_in_their_batch():
    src = Recording()

    async def go():
        b = MicroBatcher(src, max_batch=8, max_wait_ms=30, item_timeout=0.3, concurrency=2)
        await b.start()
        mixed = [Sample("p", "x", id=1), Sample("p", "hang", id=2), Sample("p", "x", id=3)]
        res, other = await asyncio.gather(b.submit(mixed), b.submit(_samples(7, 1)))
        bad = await b.submit([Sample("p", "raise", id=0)])
        await b.close(timeout=5)
        return res, other, bad

    res, other, bad = run(go())
    assert [r.status for r in res] == [Status.OK, Status.TIMEOUT, Status.OK]  # batch-mates rescored alone
    assert res[1].score is None and "item_timeout" in res[1].info["error"]
    assert other[0].score == 7.0
    assert bad[0].status is Status.ERROR and "whole batch failed" in bad[0].info["error"]
