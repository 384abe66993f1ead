"""Reward sources with controllable misbehaviour, importable by server subprocesses in tests.

The completion text selects the behaviour: ``"sleep:<s>"`` sleeps that long, ``"hang"`` sleeps 60 s,
``"crash"`` raises, ``"die"`` kills the (worker) process. Otherwise the score is 1.0 if the
completion equals the reference, else 0.0. ``info["pid"]`` tells which process scored.
"""

from __future__ import annotations

import os
import time

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample


class _Params(SourceParams):
    delay: float = 0.0


class Sleepy(SampleRewardSource):
    Params = _Params

    def score_one(self, sample: Sample) -> RewardResult:
        text = sample.completion
        time.sleep(self.params.delay)
        if text.startswith("sleep:"):
            time.sleep(float(text.split(":", 1)[1]))
        elif text == "hang":
            time.sleep(60)
        elif text == "crash":
            raise RuntimeError("boom")
        elif text == "die":
            os._exit(3)
        return RewardResult.ok(float(text == str(sample.reference)), info={"pid": os.getpid()})


class SleepyCPU(Sleepy):
    cpu_heavy = True


register_source("test_sleepy")(Sleepy)
register_source("test_sleepy_cpu")(SleepyCPU)
