"""Format rewards: does the completion have the required shape?"""

from __future__ import annotations

import re

from pydantic import field_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["RegexMatch"]


class RegexParams(SourceParams):
    pattern: str
    mode: str = "search"  # search | fullmatch
    flags: list[str] = ["S"]

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in ("search", "fullmatch"):
            raise ValueError("mode must be 'search' or 'fullmatch'")
        return v

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regular expression: {e}") from None
        return v


@register_source("regex")
class RegexMatch(SampleRewardSource):
    """1.0 when the completion matches ``pattern`` (e.g. ``<think>.*</think>\\s*<answer>.*</answer>``)."""

    Params = RegexParams

    def setup(self) -> None:
        p: RegexParams = self.params  # type: ignore[assignment]
        flags = 0
        for f in p.flags:
            flags |= getattr(re, f.upper())
        self._rx = re.compile(p.pattern, flags)
        self._fn = self._rx.fullmatch if p.mode == "fullmatch" else self._rx.search

    def score_one(self, sample: Sample) -> RewardResult:
        return RewardResult(1.0 if self._fn(sample.completion) else 0.0, Status.OK)
