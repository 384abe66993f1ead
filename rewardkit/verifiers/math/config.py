"""`MathConfig`: every behaviour of the math verifier that a user can change, in one frozen place."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["MathConfig", "DEFAULT_ORDER", "EXTRACTORS", "VERIFIER_VERSION"]

#: Bumped whenever a change can alter a verdict; part of every cache key.
VERIFIER_VERSION = "rewardkit-math-2"

#: Default extraction order, first hit wins (see `rewardkit.verifiers.math.extract`).
DEFAULT_ORDER: tuple[str, ...] = (
    "answer_tag",    # <answer> ... </answer> (its content is extracted again)
    "boxed",         # last \boxed{} / \fbox{} (adjacent boxes joined: "\boxed{1} and \boxed{2}")
    "final_answer",  # "final answer is ...", "the answer is ...", "answer: ...", "**Answer:** ..."
    "gsm8k",         # "#### 42"
    "last_math",     # the last $...$, $$...$$, \(...\), \[...\] of the text
    "whole",         # the text itself, when it is a bare answer (short, no prose)
)
EXTRACTORS = frozenset(DEFAULT_ORDER) | {"last_number"}


@dataclass(frozen=True)
class MathConfig:
    """Options of extraction, normalisation and comparison.

    Roles: ``gold`` is the reference answer, ``pred`` the model's answer. Every rule is symmetric
    unless an option below says otherwise (only ``set_relation="gold_relation_only"`` is not).

    Extraction
        order: extractors tried in order, first hit wins (`DEFAULT_ORDER`).
        last_number: fall back to the last number of the text (opt-in; GSM8K-style harnesses).
        choices: ``"auto"`` (multiple-choice extraction when the gold is a letter like ``C`` or
            ``(C)``), ``"force"`` or ``"off"``; ``choice_letters`` are the accepted letters.
    Normalisation
        units: drop units after a number (``10\\text{ cm}``, ``125 miles``).
        percent: ``"either"`` (``28%`` equals 28 and 0.28), ``"fraction"`` (only 0.28) or
            ``"strip"`` (only 28).
        mixed_numbers: ``2\\frac{1}{2}`` is 2.5 (not 2 times 1/2).
    Comparison
        rel_tol / abs_tol: tolerance used when one side is a decimal or irrational. Two exact
            values (integers, fractions, exact surds) are compared exactly.
        rounding: the rounding rule -- a decimal written with k >= ``rounding_min_decimals``
            places equals a value that rounds to it. ``"gold"`` (default): only a *gold* written
            as a decimal is read as rounded (datasets store rounded golds: gold ``0.33`` accepts
            ``1/3``), to the gold's own digits; an exact gold (``2/3``, ``\\pi``, ``\\sqrt 2``)
            needs a prediction within ``rel_tol``, so ``0.67``, ``3.14`` and ``1.414`` are wrong
            (a policy rewarded for them learns to approximate). ``"either"``: the rule applies
            to both sides (the behaviour before 2026-12; Qwen2.5-Math/MARIO-style graders).
            ``"off"``: tolerances only. ``True``/``False`` mean ``"gold"``/``"off"``.
        ordered_lists: bare comma lists compare in order (default: as multisets, like solution
            sets). Tuples ``(a,b)`` are always ordered.
        tuple_vs_set: a tuple may equal a set with the same elements.
        strict_labels: ``x=2`` differs from ``y=2`` (labels compare case-insensitively, function
            arguments ignored: ``W(n)=1`` ~ ``W(x)=1``).
        strict_variables: symbolic expressions must use the same variable names
            (``f(x)`` vs ``f(y)``); when False, variables are matched by sorted name.
        set_relation: ``"symmetric"`` (``x \\in [-2,7]`` ~ ``-2 \\le x \\le 7`` both ways) or
            ``"gold_relation_only"`` (a gold set does not accept a predicted relation, Math-Verify's
            ``allow_set_relation_comp=False``).
    Limits
        timeout_s: hard time limit of the part of one check that runs in a worker process (the
            symbolic stage; for long completions the whole check, extraction included).
        max_chars: longer completions are cut to their last ``max_chars`` characters.
        inline_chars: completions up to this length are extracted in the calling process
            (extraction is linear: a few milliseconds at most); longer ones are extracted and
            checked in a worker process under ``timeout_s``, so no model text can hold the
            caller longer than the time limit.
    """

    order: tuple[str, ...] = DEFAULT_ORDER
    last_number: bool = False
    choices: str = "auto"
    choice_letters: str = "ABCDEFGHIJ"
    units: bool = True
    percent: str = "either"
    mixed_numbers: bool = True
    rel_tol: float = 1e-6
    abs_tol: float = 0.0
    rounding: str | bool = "gold"
    rounding_min_decimals: int = 2
    ordered_lists: bool = False
    tuple_vs_set: bool = False
    strict_labels: bool = True
    strict_variables: bool = True
    set_relation: str = "symmetric"
    timeout_s: float = 1.0
    max_chars: int = 100_000
    inline_chars: int = 4_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", tuple(self.order))
        bad = [o for o in self.order if o not in EXTRACTORS]
        if bad:
            raise ValueError(f"unknown extractor(s) {bad}; known: {sorted(EXTRACTORS)}")
        if self.choices not in ("auto", "force", "off"):
            raise ValueError("choices must be 'auto', 'force' or 'off'")
        if isinstance(self.rounding, bool):
            object.__setattr__(self, "rounding", "gold" if self.rounding else "off")
        if self.rounding not in ("gold", "either", "off"):
            raise ValueError("rounding must be 'gold', 'either' or 'off'")
        if self.percent not in ("either", "fraction", "strip"):
            raise ValueError("percent must be 'either', 'fraction' or 'strip'")
        if self.set_relation not in ("symmetric", "gold_relation_only"):
            raise ValueError("set_relation must be 'symmetric' or 'gold_relation_only'")
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if self.inline_chars < 0:
            raise ValueError("inline_chars must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MathConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MathConfig option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **kw: Any) -> MathConfig:
        return replace(self, **kw)

    def fingerprint(self) -> str:
        """Stable hash of the options that can change a verdict (cache keys)."""
        d = self.to_dict()
        d.pop("timeout_s")
        d.pop("inline_chars")
        d["version"] = VERIFIER_VERSION
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
