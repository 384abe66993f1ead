"""Cheap final-answer extraction shared by the light verifiers (no sympy, no torch).

Default order, first hit wins: ``<answer>`` tags, last ``\\boxed{}``/``\\fbox{}`` (nested braces),
GSM8K ``#### x`` (or a last line ``A: x``), "the answer is x", "Answer: x"; the last number only when asked for.
The full math verifier (`rewardkit.verifiers.math`) has its own, richer extractor.
"""

from __future__ import annotations

import re

__all__ = ["extract_answer", "find_boxed", "last_tag", "DEFAULT_ORDER"]

DEFAULT_ORDER = ("answer_tag", "boxed", "gsm8k", "answer_is", "answer_colon")

_GSM8K = re.compile(r"####\s*([^\n]+)")
_GSM8K_A = re.compile(r"(?:^|\n)[ \t]*A[ \t]*:[ \t]*([^\n]+?)\s*$")  # released solutions' last line
_ANSWER_IS = re.compile(r"answer\s+is(?:\s*:)?\s*([^\n]+)", re.I)  # not "\s*:?\s*" (quadratic on blank lines)
_ANSWER_COLON = re.compile(r"answer\**\s*:\**\s*([^\n]+)", re.I)  # no leading \** (quadratic on "***...")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def find_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}``, honouring nested braces."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        # "\boxed 5" form
        rest = text[start:].split(None, 1)
        return rest[1].split()[0].rstrip("$.") if len(rest) > 1 and rest[1] else None
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None  # unbalanced


def last_tag(text: str, name: str = "answer") -> tuple[int, int] | None:
    """Span of the content of the last ``<name>...</name>`` (case-insensitive), or None.

    The content runs from the last opening tag before the last closing tag to the first closing
    tag after it. Linear: a lazy ``<a>(.*?)</a>`` regex rescans to the end of the text for every
    unclosed ``<a>`` (quadratic on degenerate repetitions)."""
    rx_open, rx_close = _tag_patterns(name)
    last_close = None
    for last_close in rx_close.finditer(text):  # noqa: B007 - we want the last one
        pass
    if last_close is None:
        return None
    last_open = None
    for last_open in rx_open.finditer(text, 0, last_close.start()):  # noqa: B007
        pass
    if last_open is None:
        return None
    first_close = rx_close.search(text, last_open.end())
    assert first_close is not None  # last_close is after last_open
    return last_open.end(), first_close.start()


_TAG_CACHE: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _tag_patterns(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    pats = _TAG_CACHE.get(name)
    if pats is None:
        pats = (re.compile(f"<{re.escape(name)}>", re.I), re.compile(f"</{re.escape(name)}>", re.I))
        _TAG_CACHE[name] = pats
    return pats


def _last(rx: re.Pattern[str], text: str) -> str | None:
    found = rx.findall(text)  # one capture group: a list of strings
    return found[-1] if found else None


def extract_answer(text: str, order: tuple[str, ...] = DEFAULT_ORDER,
                   last_number: bool = False) -> tuple[str | None, str | None]:
    """(answer, where-it-came-from) or (None, None)."""
    for kind in order:
        if kind == "answer_tag":
            tag = last_tag(text, "answer") if "<" in text else None
            a = text[tag[0]:tag[1]] if tag is not None else None
        elif kind == "boxed":
            a = find_boxed(text) if "box" in text else None
        elif kind == "gsm8k":
            a = _last(_GSM8K, text) if "####" in text else None
            if a is None:
                m = _GSM8K_A.search(text)
                a = m.group(1) if m else None
        elif kind == "answer_is":
            a = _last(_ANSWER_IS, text)
        elif kind == "answer_colon":
            a = _last(_ANSWER_COLON, text)
        else:
            raise ValueError(f"unknown extraction kind {kind!r}; known: {', '.join(DEFAULT_ORDER)}")
        if a is not None and a.strip():
            return a.strip().rstrip("."), kind
    if last_number:
        nums = _NUMBER.findall(text)
        if nums:
            return nums[-1], "last_number"
    return None, None
