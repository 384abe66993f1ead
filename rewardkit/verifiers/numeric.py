"""Cheap answer verifiers: numeric equality and normalised exact match.

They read the gold answer from ``reference`` (a string or number, or an object with an
``answer`` field) and the final answer extracted from the completion. Nothing extractable ->
``unparseable``; a reference without a usable answer -> ``error`` naming the field. These are the
fast default for the synthetic data and GSM8K-style sets; `rewardkit.verifiers.math` handles
LaTeX and symbolic answers.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers._extract import DEFAULT_ORDER, extract_answer

__all__ = ["NumericAnswer", "ExactMatch", "parse_number", "reference_answer", "written_inexact"]

_FRAC_TEX = re.compile(r"^\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$")
_STRIP = str.maketrans("", "", "$ \u00a0")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DIGIT_SPACE = re.compile(r"\d[ \u00a0]+\d")
_THOUSANDS_SPACED = re.compile(r"^[+-]?\d{1,3}([ \u00a0]\d{3})+(\.\d+)?$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MAX_DIGITS = 4000  # guard: Fraction of a huge literal is fine, but keep inputs bounded
_DECIMAL_MARK = re.compile(r"\.\d|\d[eE][+-]?\d")


def written_inexact(s: Any) -> bool:
    """Is the value written as a decimal (``0.5``, ``1e-3``, a float)? Only such values are
    compared with a tolerance: ``1000001`` is not ``1000000``, and ``1/3`` is not ``1/3000000``."""
    if isinstance(s, float):
        return True
    return isinstance(s, str) and bool(_DECIMAL_MARK.search(s))


def parse_number(s: Any) -> Fraction | int | None:
    """Exact value of a plain numeric answer (int, decimal, a/b, \\frac{a}{b}, 1e-3, 12%, 1,234)."""
    if isinstance(s, bool):
        return None
    if isinstance(s, int):
        return s
    if isinstance(s, float):
        return Fraction(s) if s == s and abs(s) != float("inf") else None
    if not isinstance(s, str):
        return None
    if s.isdigit() and len(s) <= 18:  # fast path: a plain integer compares as an int
        return int(s)
    t = s.strip().rstrip(".").replace("\\!", "").replace("\\,", "").replace("\\$", "")
    if _DIGIT_SPACE.search(t) and not _THOUSANDS_SPACED.match(t.lstrip("$")):
        return None  # "1 5" is two numbers, not 15; "15 000" (groups of three) is one
    t = t.translate(_STRIP)
    if "," in t:
        if not _THOUSANDS.match(t):
            return None  # "1, 2" is a list, not one thousand-separated number
        t = t.replace(",", "")
    if len(t) > _MAX_DIGITS or not t:
        return None
    if t.startswith("\\text{") and t.endswith("}"):
        t = t[6:-1]
    percent = t.endswith("%") or t.endswith("\\%")
    if percent:
        t = t.rstrip("%").rstrip("\\")
    m = _FRAC_TEX.match(t)
    try:
        if m:
            den = int(m.group(2))
            v = Fraction(int(m.group(1)), den) if den else None
        elif "/" in t:
            a, _, b = t.partition("/")
            if not (_NUM.match(a) and _NUM.match(b)):
                return None
            v = Fraction(a) / Fraction(b) if Fraction(b) != 0 else None
        elif _NUM.match(t):
            v = Fraction(t)
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    if v is not None and percent:
        v = v / 100
    return v


def reference_answer(reference: Any) -> Any:
    """The gold answer inside ``reference``: the value itself or its ``answer`` field."""
    if isinstance(reference, dict):
        if "answer" not in reference:
            raise KeyError(f"reference has no 'answer' field (keys: {sorted(reference)})")
        return reference["answer"]
    return reference


class _AnswerParams(SourceParams):
    order: tuple[str, ...] = DEFAULT_ORDER
    last_number: bool = False


class _AnswerSource(SampleRewardSource):
    """Reads the gold answer and extracts the final answer; subclasses only `compare` them."""

    Params = _AnswerParams

    def compare(self, gold: Any, answer: str) -> RewardResult:
        raise NotImplementedError

    def score_one(self, sample: Sample) -> RewardResult:
        p: _AnswerParams = self.params  # type: ignore[assignment]
        try:
            gold = reference_answer(sample.reference)
        except KeyError as e:
            return RewardResult.fail(Status.ERROR, f"reference: {e.args[0]}")
        if gold is None:
            return RewardResult.fail(Status.ERROR, "reference answer is missing (null)")
        ans, where = extract_answer(sample.completion, p.order, p.last_number)
        if ans is None:
            return RewardResult.fail(Status.UNPARSEABLE, "no final answer found")
        res = self.compare(gold, ans)
        res.info.setdefault("extracted", ans[:200])
        res.info.setdefault("source", where)
        return res


class NumericParams(_AnswerParams):
    """``rel_tol``/``abs_tol`` apply when either side is written as a decimal; exact values
    (integers, fractions) compare exactly."""

    rel_tol: float = 1e-6
    abs_tol: float = 0.0


@register_source("numeric")
class NumericAnswer(_AnswerSource):
    """1.0 if the extracted answer equals the gold number, else 0.0: exactly when both are written
    exactly (integers, fractions), within ``rel_tol``/``abs_tol`` when either is a decimal."""

    Params = NumericParams

    def compare(self, gold_raw: Any, ans: str) -> RewardResult:
        p: NumericParams = self.params  # type: ignore[assignment]
        gold = parse_number(gold_raw)
        if gold is None:
            return RewardResult.fail(Status.ERROR, f"reference answer {str(gold_raw)[:80]!r} is not a number")
        pred = parse_number(ans)
        if pred is None:
            return RewardResult.fail(Status.UNPARSEABLE, f"answer {ans[:80]!r} is not a number")
        if pred == gold:
            ok = True
        elif not (written_inexact(gold_raw) or written_inexact(ans)):
            ok = False  # exact values (integers, fractions) compare exactly
        else:
            diff = abs(pred - gold)
            ok = diff <= p.abs_tol or diff <= p.rel_tol * max(abs(gold), abs(pred))
        return RewardResult(1.0 if ok else 0.0, Status.OK)


class ExactParams(_AnswerParams):
    case_sensitive: bool = False


@register_source("exact_match")
class ExactMatch(_AnswerSource):
    """1.0 if the extracted answer equals the gold string after whitespace/case normalisation."""

    Params = ExactParams

    def compare(self, gold: Any, ans: str) -> RewardResult:
        case = self.params.case_sensitive  # type: ignore[attr-defined]

        def norm(x: Any) -> str:
            x = " ".join(str(x).split()).rstrip(".")
            return x if case else x.casefold()

        return RewardResult(float(norm(ans) == norm(gold)), Status.OK)
