"""Reading a judge's reply: tolerant about form, strict about meaning.

Judges wrap JSON in code fences, add a sentence before it, or answer with the overall ``score`` only.
All of that is understood. What is never done is inventing a number: a reply with no usable
verdict raises `JudgeParseError`, which the judge source turns into a non-ok status.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from rewardkit.judges.rubric import Rubric

__all__ = ["JudgeParseError", "extract_json_object", "parse_pointwise", "parse_pairwise",
           "parse_reference", "parse_steps"]

_MAX_REPLY = 200_000  # characters; judge replies are bounded by max_tokens, this bounds the scan
_MAX_CANDIDATES = 32


class JudgeParseError(ValueError):
    """The judge's reply holds no usable verdict."""


def _balanced_end(text: str, start: int) -> int:
    """Index just past the ``}`` closing the object opened at ``start``, or -1."""
    depth = 0
    in_str = False
    esc = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (bare, in a code fence, or after prose)."""
    text = text[:_MAX_REPLY]
    start = text.find("{")
    tried = 0
    while start >= 0 and tried < _MAX_CANDIDATES:
        tried += 1
        end = _balanced_end(text, start)
        if end < 0:
            break  # no balanced object from here on: later '{' would be nested inside this one
        try:
            obj = json.loads(text[start:end])
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    raise JudgeParseError(f"no JSON object in the judge's reply: {text[:200]!r}")


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _truth(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "yes", "correct", "pass", "passed", "satisfied", "+", "1"):
            return True
        if s in ("false", "no", "incorrect", "wrong", "fail", "failed", "violated", "-", "0"):
            return False
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    return None


def _criterion_answer(v: Any) -> Any:
    """Accept ``"fully relevant"``, ``4`` or ``{"choice": ..., "reasoning": ...}``."""
    if isinstance(v, Mapping):
        for k in ("choice", "answer", "value", "score", "rating", "grade"):
            if k in v:
                return v[k]
        return None
    return v


def parse_pointwise(obj: Mapping[str, Any], rubric: Rubric) -> tuple[float, dict[str, Any]]:
    """(score in [0, 1], details) from a pointwise reply.

    Order: a violated hard constraint vetoes (score = its ``fail_score``); otherwise all criteria
    answered -> the rubric's aggregation; otherwise a numeric ``score`` on the rubric's scale.
    """
    details: dict[str, Any] = {}
    cons = obj.get("constraints")
    if isinstance(cons, Mapping):
        violated = [c for c in rubric.constraints if _truth(cons.get(c.name)) is False]
        if violated:
            details["violated"] = [c.name for c in violated]
            return min(c.fail_score for c in violated), details
    crit = obj.get("criteria")
    if rubric.criteria and isinstance(crit, Mapping):
        per: dict[str, float] = {}
        for c in rubric.criteria:
            if c.name in crit:
                v = c.normalise(_criterion_answer(crit[c.name]))
                if v is not None:
                    per[c.name] = v
        if len(per) == len(rubric.criteria):
            details["criteria"] = per
            return rubric.aggregate(per), details
        details["criteria_partial"] = per
    raw = _number(obj.get("score"))
    if raw is not None:
        v = rubric.score_scale.normalise(raw)
        if v is None:
            raise JudgeParseError(f"score {raw:g} is outside the rubric's scale "
                                  f"[{rubric.score_scale.min:g}, {rubric.score_scale.max:g}]")
        details["raw_score"] = raw
        return v, details
    raise JudgeParseError("the reply has neither an answer for every criterion nor a numeric 'score'")


def parse_pairwise(obj: Mapping[str, Any]) -> str:
    """``"A"``, ``"B"`` or ``"tie"``."""
    for key in ("winner", "preferred", "better", "choice", "verdict"):
        if key in obj and isinstance(obj[key], str):
            w = obj[key].strip().strip("[]()'\"").lower()
            if w in ("a", "response a", "response_a"):
                return "A"
            if w in ("b", "response b", "response_b"):
                return "B"
            if w in ("tie", "draw", "equal", "both", "neither", "none"):
                return "tie"
    raise JudgeParseError("the reply names no winner ('A', 'B' or 'tie')")


def parse_reference(obj: Mapping[str, Any], rubric: Rubric) -> float:
    """1.0 or 0.0 from ``correct``/``verdict``; else the numeric ``score`` on the rubric's scale."""
    for key in ("correct", "is_correct", "verdict", "equivalent"):
        if key in obj:
            t = _truth(obj[key])
            if t is not None:
                return 1.0 if t else 0.0
    raw = _number(obj.get("score"))
    if raw is not None:
        v = rubric.score_scale.normalise(raw)
        if v is not None:
            return v
    raise JudgeParseError("the reply has no 'correct' verdict")


def _step_value(v: Any) -> float | None:
    t = _truth(v)
    if t is not None:
        return 1.0 if t else 0.0
    n = _number(v)
    return n if n is not None and 0.0 <= n <= 1.0 else None


def parse_steps(obj: Mapping[str, Any], n_steps: int) -> list[float | None]:
    """One score in [0, 1] per step (``None`` for a step the judge did not label)."""
    items = obj.get("steps")
    if not isinstance(items, list):
        raise JudgeParseError("the reply has no 'steps' list")
    out: list[float | None] = [None] * n_steps
    for pos, item in enumerate(items):
        if isinstance(item, Mapping):
            idx = _number(item.get("step", item.get("index", pos + 1)))
            val = None
            for key in ("correct", "score", "label", "verdict"):
                if key in item:
                    val = _step_value(item[key])
                    break
            if idx is None or not float(idx).is_integer():
                continue
            i = int(idx) - 1
        else:
            i, val = pos, _step_value(item)
        if 0 <= i < n_steps and val is not None:
            out[i] = val
    if all(v is None for v in out):
        raise JudgeParseError("the reply labels none of the steps")
    return out
