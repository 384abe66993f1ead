"""Language consistency: the fraction of the answer written in the prompt's language.

The target language is the config's ``language``, else ``reference["language"]``, else the
language detected in the prompt. The completion is cut into segments (lines and sentences);
segments without letters (code, maths, numbers) are skipped; each remaining segment's language is
detected with ``langdetect`` (profiles ship in its wheel; seeded, so deterministic), and the
score is the letter-weighted share of segments in the target language -- the language-consistency
reward of DeepSeek-R1 (arXiv 2501.12948), which counts the target-language share of the CoT.

Nothing to judge (no detectable prompt language, no letters in the answer) -> ``not_applicable``.
Language codes are compared on their primary subtag (``zh-cn`` ≈ ``zh``).
"""

from __future__ import annotations

import re
from typing import Any

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["LanguageConsistency", "language_fractions"]

_SEGMENT = re.compile(r"[^\n.!?。！？]+[.!?。！？]*")


def _primary(code: str) -> str:
    return code.split("-", 1)[0].lower()


def _letters(s: str) -> int:
    return sum(1 for c in s if c.isalpha())


def language_fractions(text: str, min_letters: int = 3) -> dict[str, float]:
    """Letter-weighted share of each detected language over the segments of ``text``."""
    from rewardkit.verifiers.ifeval.text import LanguageUndetectable, detect_language

    weights: dict[str, float] = {}
    for seg in _SEGMENT.findall(text):
        n = _letters(seg)
        if n < min_letters:
            continue
        try:
            lang = _primary(detect_language(seg))
        except LanguageUndetectable:
            continue
        weights[lang] = weights.get(lang, 0.0) + n
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()} if total else {}


class LanguageParams(SourceParams):
    language: str | None = None  # ISO 639-1 code; None = reference["language"] or the prompt's
    min_letters: int = 3         # shorter segments are not judged


@register_source("language_consistency")
class LanguageConsistency(SampleRewardSource):
    """Share of the completion (by letters) in the target language, in [0, 1]."""

    Params = LanguageParams
    cpu_heavy = True  # langdetect per segment: milliseconds per completion

    def _target(self, sample: Sample) -> str | None:
        p: LanguageParams = self.params  # type: ignore[assignment]
        if p.language:
            return _primary(p.language)
        ref: Any = sample.reference
        if isinstance(ref, dict) and isinstance(ref.get("language"), str):
            return _primary(ref["language"])
        from rewardkit.verifiers.ifeval.text import LanguageUndetectable, detect_language

        try:
            return _primary(detect_language(sample.prompt_text))
        except LanguageUndetectable:
            return None

    def score_one(self, sample: Sample) -> RewardResult:
        target = self._target(sample)
        if target is None:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no language detectable in the prompt")
        fr = language_fractions(sample.completion, self.params.min_letters)  # type: ignore[attr-defined]
        if not fr:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no text to judge in the completion")
        return RewardResult(fr.get(target, 0.0), Status.OK,
                            info={"target": target, "fractions": {k: round(v, 4) for k, v in fr.items()}})
