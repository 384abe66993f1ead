"""Repetition: the share of repeated n-grams in a completion.

``rate = 1 − #distinct n-grams / #n-grams`` (the "rep-n" statistic of Welleck et al., "Neural
Text Generation with Unlikelihood Training", arXiv 1908.04319), over words (whitespace tokens,
lower-cased) or characters. Text shorter than ``n`` units has rate 0.

Score: ``1 − rate`` (1.0 = nothing repeated), or with ``output: penalty`` the penalty
``−max_penalty · rate`` that Yeo et al. ("Demystifying Long Chain-of-Thought Reasoning in LLMs",
arXiv 2502.03373) add to the reward. Meant as an optional component: a degenerate loop
("the the the ...") scores near 0 / near ``−max_penalty``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["Repetition", "repetition_rate"]


def repetition_rate(text: str, n: int = 3, unit: Literal["words", "chars"] = "words") -> float:
    """``1 − distinct/total`` over the n-grams of ``text`` (0.0 when there are none)."""
    units: list[str] | str = text.lower().split() if unit == "words" else text
    total = len(units) - n + 1
    if total <= 0:
        return 0.0
    distinct = len({tuple(units[i:i + n]) for i in range(total)})
    return 1.0 - distinct / total


class RepetitionParams(SourceParams):
    n: int = 3
    unit: Literal["words", "chars"] = "words"
    output: Literal["score", "penalty"] = "score"
    max_penalty: float = 1.0

    @field_validator("n")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("n must be >= 1")
        return v


@register_source("repetition")
class Repetition(SampleRewardSource):
    """``1 − repeated-n-gram rate`` (or ``−max_penalty · rate``); the rate is component ``repetition_rate``."""

    Params = RepetitionParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: RepetitionParams = self.params  # type: ignore[assignment]
        rate = repetition_rate(sample.completion, p.n, p.unit)
        score = 1.0 - rate if p.output == "score" else -p.max_penalty * rate
        return RewardResult(score, Status.OK, {"repetition_rate": rate})
