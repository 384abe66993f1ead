"""Multiple-choice answers: extract the chosen letter, compare with the gold letter.

Only *choice-like* forms count, so a letter inside an expression or a word is never taken as the
answer ("answer is A+B", "a dog"). Forms, first hit wins (last occurrence within a form):

1. explicit: ``\\boxed{B}`` / ``\\boxed{\\text{(B)}}``, ``<answer>B</answer>``, "answer is (B)",
   "Answer: B", "answer: B) ..." -- letter standing alone after the marker;
2. (unless ``strict``) a line that starts with the choice: ``(B)``, ``B)``, ``B.``, ``B:``, or a
   line that is just the letter, or the last parenthesised ``(B)`` in the text.

A final answer that names several different choices ("Answer: A or C") scores 0.0 (hedging);
no choice at all is ``unparseable``; a gold that is not one of ``choices`` is an ``error``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers.numeric import reference_answer

__all__ = ["MultipleChoice", "extract_choice"]


def _patterns(letters: str) -> dict[str, re.Pattern[str]]:
    L = f"[{re.escape(letters)}]"
    alone = r"(?![\w+\-*/^=<>])"  # not followed by more of a word or an expression
    return {
        "boxed": re.compile(rf"\\boxed\{{\s*(?:\\text(?:bf)?\{{)?\s*\(?({L})\)?\s*\}}?\s*\}}"),
        "answer_tag": re.compile(rf"(?i:<answer>)\s*\(?({L})\)?\s*[.:]?\s*(?:(?i:</answer>)|\s)"),
        "answer_marker": re.compile(
            rf"(?i:answer)(?:\s+is)?\s*(?:[:：]|\bis\b)?\s*(?:(?i:option|choice)\s+)?[(\[]?({L})[)\]]?{alone}"),
        "line": re.compile(rf"^[ \t>*#-]*[(\[]?({L})(?:[)\].:]|[ \t]*$){alone}", re.M),
        "paren": re.compile(rf"\(({L})\){alone}"),
    }


def _letters_in(line: str, letters: str) -> set[str]:
    return set(re.findall(rf"(?<![\w\\])\(?([{re.escape(letters)}])\)?(?![\w+\-*/^=<>])", line))


def extract_choice(text: str, letters: str = "ABCD", *, strict: bool = False,
                   _rx: dict[str, re.Pattern[str]] | None = None) -> tuple[str | None, str | None, set[str]]:
    """``(letter, form, all letters named by that final answer)``; ``(None, None, set())`` if none."""
    rx = _rx or _patterns(letters)
    text = text.replace("**", "")  # markdown bold around the answer
    forms = ("boxed", "answer_tag", "answer_marker") if strict else ("boxed", "answer_tag", "answer_marker", "line", "paren")
    for form in forms:
        found = list(rx[form].finditer(text))
        if not found:
            continue
        m = found[-1]
        named = {m.group(1)}
        if form == "answer_marker":  # the rest of the line: does it name other choices too?
            end = text.find("\n", m.end())
            named |= _letters_in(text[m.start(1):end if end >= 0 else len(text)], letters)
        return m.group(1), form, named
    return None, None, set()


class ChoiceParams(SourceParams):
    choices: str = "ABCDEFGHIJ"  # the letters that are choices (upper case)
    strict: bool = False         # only explicit answer markers count

    @field_validator("choices")
    @classmethod
    def _letters(cls, v: str) -> str:
        if not v or not v.isalpha() or not v.isupper() or len(set(v)) != len(v):
            raise ValueError(f"choices must be distinct upper-case letters such as 'ABCD', got {v!r}")
        return v


@register_source("multiple_choice")
class MultipleChoice(SampleRewardSource):
    """1.0 when the chosen letter equals the gold letter (``reference`` or ``reference["answer"]``)."""

    Params = ChoiceParams

    def setup(self) -> None:
        self._rx = _patterns(self.params.choices)  # type: ignore[attr-defined]

    def _gold(self, ref: Any) -> str:
        g = reference_answer(ref)
        g = str(g).strip().strip("()").rstrip(".").strip().upper() if g is not None else ""
        if len(g) != 1 or g not in self.params.choices:  # type: ignore[attr-defined]
            raise ValueError(f"gold {g!r} is not one of the choices {self.params.choices!r}")  # type: ignore[attr-defined]
        return g

    def score_one(self, sample: Sample) -> RewardResult:
        p: ChoiceParams = self.params  # type: ignore[assignment]
        try:
            gold = self._gold(sample.reference)
        except (KeyError, ValueError) as e:
            return RewardResult.fail(Status.ERROR, f"reference: {e.args[0]}")
        letter, form, named = extract_choice(sample.completion, p.choices, strict=p.strict, _rx=self._rx)
        if letter is None:
            return RewardResult.fail(Status.UNPARSEABLE, "no choice letter found")
        info = {"extracted": letter, "source": form}
        if len(named) > 1:
            info["reason"] = f"the final answer names several choices: {sorted(named)}"
            return RewardResult(0.0, Status.OK, info=info)
        return RewardResult(float(letter == gold), Status.OK, info=info)
