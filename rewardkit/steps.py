"""Step segmentation: split a completion into reasoning steps as character spans.

Spans (``[start, end)`` into the completion text) rather than strings are the currency, because
they survive re-tokenisation: a step reward is placed on the policy token that covers the step's
last character, whatever tokenizer the process reward model used (see `rewardkit.alignment`).
Whitespace around a step is not part of its span.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Span", "segment", "aggregate_step_scores", "split_by_separator", "split_by_regex", "match_by_regex", "locate_steps",
           "StepSegmenter"]


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int

    def text(self, s: str) -> str:
        return s[self.start : self.end]


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def split_by_separator(text: str, sep: str = "\n\n") -> list[Span]:
    """Steps separated by a literal separator (PRM convention: ``"\\n\\n"``); empty pieces dropped."""
    if not sep:
        raise ValueError("separator must be a non-empty string")
    spans: list[Span] = []
    pos = 0
    n = len(text)
    while pos <= n:
        nxt = text.find(sep, pos)
        end = n if nxt < 0 else nxt
        sp = _trimmed(text, pos, end)
        if sp is not None:
            spans.append(sp)
        if nxt < 0:
            break
        pos = nxt + len(sep)
    return spans


def split_by_regex(text: str, pattern: str | re.Pattern[str]) -> list[Span]:
    """Steps separated by matches of ``pattern`` (e.g. ``r"\\n(?=Step \\d+:)"``)."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    spans: list[Span] = []
    pos = 0
    for m in rx.finditer(text):
        if m.end() == m.start():  # zero-width split point
            if m.start() == pos:
                continue
            sp = _trimmed(text, pos, m.start())
            pos = m.start()
        else:
            sp = _trimmed(text, pos, m.start())
            pos = m.end()
        if sp is not None:
            spans.append(sp)
    sp = _trimmed(text, pos, len(text))
    if sp is not None:
        spans.append(sp)
    return spans


def match_by_regex(text: str, pattern: str | re.Pattern[str]) -> list[Span]:
    """Each match of ``pattern`` is a step (text between matches is ignored)."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    out = []
    for m in rx.finditer(text):
        sp = _trimmed(text, m.start(), m.end())
        if sp is not None:
            out.append(sp)
    return out


def locate_steps(text: str, steps: Sequence[str]) -> list[Span]:
    """Spans of pre-split steps, found in order; raises if a step is not in the text."""
    spans: list[Span] = []
    pos = 0
    for i, step in enumerate(steps):
        s = step.strip()
        if not s:
            continue
        at = text.find(s, pos)
        if at < 0:
            raise ValueError(
                f"step {i} ({s[:40]!r}...) does not occur in the completion after character {pos}"
            )
        spans.append(Span(at, at + len(s)))
        pos = at + len(s)
    return spans


Method = Literal["separator", "regex_split", "regex_match", "lines"]


@dataclass(frozen=True)
class StepSegmenter:
    """A configured segmentation, usable as ``segmenter(text, steps=None)``.

    Pre-split ``steps`` (from `Sample.steps`) always win over the configured method.
    """

    method: Method = "separator"
    separator: str = "\n\n"
    pattern: str | None = None

    def __call__(self, text: str, steps: Sequence[str] | None = None) -> list[Span]:
        return segment(text, method=self.method, separator=self.separator, pattern=self.pattern,
                       steps=steps)


def segment(
    text: str,
    method: Method = "separator",
    *,
    separator: str = "\n\n",
    pattern: str | None = None,
    steps: Sequence[str] | None = None,
) -> list[Span]:
    """Segment ``text`` into step spans with the given method (or locate explicit ``steps``)."""
    if steps is not None:
        return locate_steps(text, steps)
    if method == "separator":
        return split_by_separator(text, separator)
    if method == "lines":
        return split_by_separator(text, "\n")
    if method in ("regex_split", "regex_match"):
        if not pattern:
            raise ValueError(f"step method {method!r} needs a 'pattern'")
        return split_by_regex(text, pattern) if method == "regex_split" else match_by_regex(text, pattern)
    raise ValueError(f"unknown step segmentation method {method!r}; expected one of "
                     "separator, lines, regex_split, regex_match")


def aggregate_step_scores(scores: Sequence[float], how: str) -> float:
    """Outcome score from step scores: ``min`` (the weakest step), ``last``, ``mean`` or ``product``."""
    if not scores:
        raise ValueError("no step scores to aggregate")
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    if how == "mean":
        return sum(scores) / len(scores)
    if how == "product":
        return math.prod(scores)
    raise ValueError(f"aggregation must be min, last, mean or product; got {how!r}")
