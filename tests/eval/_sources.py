"""A reward source scripted by its input text, so evaluation runs have hand-computable numbers.

- ``status=<name>`` anywhere: that non-ok status;
- with ``Sample.steps``: each step's score is its ``s=<x>`` (no ``s=``: unscored), and the sequence
  score the minimum of the scored steps (1.0 when none);
- otherwise the score is the text's ``score=<x>``.
"""

from __future__ import annotations

import re

from rewardkit.sources import SampleRewardSource
from rewardkit.steps import locate_steps
from rewardkit.types import RewardResult, Sample, Status, StepScore

_STATUS = re.compile(r"status=(\w+)")
_STEP = re.compile(r"s=(-?[\d.]+)")
_SCORE = re.compile(r"score=(-?[\d.]+)")


class Scripted(SampleRewardSource):
    def score_one(self, sample: Sample) -> RewardResult:
        text = sample.completion
        m = _STATUS.search(text)
        if m:
            return RewardResult.fail(Status(m.group(1)), f"scripted {m.group(1)}")
        if sample.steps:
            steps = []
            for sp in locate_steps(text, sample.steps):
                g = _STEP.search(text[sp.start : sp.end])
                steps.append(StepScore(sp.start, sp.end, float(g.group(1)) if g else None))
            scored = [s.score for s in steps if s.score is not None]
            return RewardResult.ok(min(scored) if scored else 1.0, steps=steps)
        m = _SCORE.search(text)
        if m is None:
            return RewardResult.fail(Status.UNPARSEABLE, "no score= in the text")
        return RewardResult.ok(float(m.group(1)), info={"extracted": m.group(1)})
