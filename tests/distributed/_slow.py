"""A reward source slow enough to be killed mid-batch (used by the Ray failure test)."""

from __future__ import annotations

import time

from rewardkit.sources import SampleRewardSource
from rewardkit.types import RewardResult


class SlowLength(SampleRewardSource):
    """len(completion) after a nap: deterministic, and slow enough to kill mid-batch."""

    def score_one(self, sample):
        time.sleep(0.02)
        return RewardResult.ok(float(len(sample.completion)))
