"""Language consistency: the fraction of the answer written in the prompt's language.

The target language is the config's ``language``, else ``reference["language"]``, else the
language detected in the prompt. Code (fenced or inline), markup tags, LaTeX commands and web
addresses are removed; the rest is cut into segments (lines and sentences), and segments with
fewer than ``min_letters`` letters (maths, numbers, fragments) are skipped. Consecutive segments
in one script form a run, cut into chunks of about ``chunk_letters`` letters (a change of script
always starts a new chunk: fewer, longer langdetect calls, and short snippets are unreliable to
classify). Each chunk's language is detected with ``langdetect`` (profiles ship in its wheel;
seeded, so deterministic); a chunk whose top language has probability below ``confidence`` is
likely mixed and is judged segment by segment. The score is the letter-weighted share in the
target language: the language-consistency reward of DeepSeek-R1 (arXiv 2501.12948), which counts
the share of the chain of thought in the target language.

Nothing to judge (no detectable prompt language, no letters in the answer) -> ``not_applicable``.
Language codes are compared on their primary subtag (``zh-cn`` ≈ ``zh``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["LanguageConsistency", "language_fractions"]

_SEGMENT = re.compile(r"[^\n.!?。！？]+[.!?。！？]*")
# not language: fenced and inline code, markup tags, LaTeX commands, web addresses
_NOT_LANGUAGE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|</?[A-Za-z_][\w:-]*>|\\[A-Za-z]+|https?://\S+", re.S)

Segment = tuple[str, int]  # (text, number of letters)


def _primary(code: str) -> str:
    return code.split("-", 1)[0].lower()


def _letters(s: str) -> int:
    return sum(1 for c in s if c.isalpha())


def _script(seg: str) -> str:
    """Dominant Unicode script of a segment's letters ("LATIN", "CJK", "CYRILLIC", ...)."""
    counts: dict[str, int] = {}
    for c in seg:
        if c.isalpha():
            name = unicodedata.name(c, "UNKNOWN").split(" ", 1)[0]
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else ""


def _chunks(text: str, min_letters: int, chunk_letters: int) -> list[list[Segment]]:
    """Segments grouped into runs of one script, each run cut into ``round(letters /
    chunk_letters)`` (at least 1) chunks of similar size."""
    runs: list[list[Segment]] = []
    last = None
    for seg in _SEGMENT.findall(_NOT_LANGUAGE.sub(" ", text)):
        n = _letters(seg)
        if n < min_letters:
            continue
        script = _script(seg)
        if script != last:
            runs.append([])
            last = script
        runs[-1].append((seg, n))
    chunks: list[list[Segment]] = []
    for run in runs:
        total = sum(n for _, n in run)
        k = max(1, round(total / chunk_letters))
        cur: list[Segment] = []
        acc, done = 0, 0
        for seg, n in run:
            cur.append((seg, n))
            acc += n
            if done < k - 1 and acc >= total * (done + 1) / k:
                chunks.append(cur)
                cur, done = [], done + 1
        if cur:
            chunks.append(cur)
    return chunks


def _top(text: str) -> tuple[str | None, float]:
    """Most likely language (primary subtag) and its probability; (None, 0) if undetectable."""
    from rewardkit.verifiers.ifeval.text import language_probabilities

    probs: dict[str, float] = {}
    for lang, p in language_probabilities(text).items():
        probs[_primary(lang)] = probs.get(_primary(lang), 0.0) + p
    if not probs:
        return None, 0.0
    lang = max(probs, key=probs.__getitem__)
    return lang, probs[lang]


def language_fractions(text: str, min_letters: int = 8, chunk_letters: int = 200,
                       confidence: float = 0.9) -> dict[str, float]:
    """Letter-weighted share of each detected language in ``text`` (see the module doc)."""
    weights: dict[str, float] = {}
    for chunk in _chunks(text, min_letters, chunk_letters):
        lang, p = _top("".join(seg for seg, _ in chunk))
        if p >= confidence or len(chunk) == 1:
            parts = [(lang, sum(n for _, n in chunk))]
        else:
            parts = [(_top(seg)[0], n) for seg, n in chunk]
        for lg, n in parts:
            if lg is not None:
                weights[lg] = weights.get(lg, 0.0) + n
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()} if total else {}


class LanguageParams(SourceParams):
    language: str | None = None  # ISO 639-1 code; None = reference["language"] or the prompt's
    min_letters: int = 8         # shorter segments are not judged (too short to classify)
    chunk_letters: int = 200     # a run of one script is judged in chunks of about this many letters
    confidence: float = 0.9      # below it, a chunk is judged segment by segment


@register_source("language_consistency")
class LanguageConsistency(SampleRewardSource):
    """Share of the completion (by letters) in the target language, in [0, 1]."""

    Params = LanguageParams
    cpu_heavy = True  # langdetect: milliseconds per completion

    def _target(self, sample: Sample) -> str | None:
        p: LanguageParams = self.params  # type: ignore[assignment]
        if p.language:
            return _primary(p.language)
        ref: Any = sample.reference
        if isinstance(ref, dict) and isinstance(ref.get("language"), str):
            return _primary(ref["language"])
        lang, _ = _top(sample.prompt_text)
        return lang

    def score_one(self, sample: Sample) -> RewardResult:
        target = self._target(sample)
        if target is None:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no language detectable in the prompt")
        p: LanguageParams = self.params  # type: ignore[assignment]
        fr = language_fractions(sample.completion, p.min_letters, p.chunk_letters, p.confidence)
        if not fr:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no text to judge in the completion")
        return RewardResult(fr.get(target, 0.0), Status.OK,
                            info={"target": target, "fractions": {k: round(v, 4) for k, v in fr.items()}})
