"""Token alignment: turn `RewardResult`s into a dense ``[B, T]`` reward tensor plus mask.

Placement rules (see ``REWARD_METHODS.md`` §0):
- sequence reward -> the last valid (non-pad) response token;
- step reward     -> the token covering the last character of the step (or spread evenly over
                     the step's tokens with ``step_placement="spread"``);
- token rewards   -> that token. When the scoring model tokenised differently from the policy
                     (``RewardResult.token_spans`` given), each scoring token's reward goes to the
                     policy token covering its last character; several land-on-one are summed.

Everything is located through *character offsets* of a fast tokenizer, which is what makes a
reward-model tokenizer that differs from the policy tokenizer work. Rows whose result is not ok
get all-zero rewards and ``valid[b] = False`` so a trainer can drop them instead of learning from
a fake 0.

Notation: B = batch size, T = max number of response tokens.
The core builds numpy arrays; torch is imported only when ``backend="torch"``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rewardkit.types import RewardResult

__all__ = ["DenseRewards", "token_offsets", "char_to_token", "char_span_to_tokens", "dense_rewards"]

Offsets = Sequence[tuple[int, int]]


@dataclass
class DenseRewards:
    """rewards: ``[B, T]`` float; mask: ``[B, T]`` bool (valid response tokens);
    valid: ``[B]`` bool (result status ok)."""

    rewards: Any
    mask: Any
    valid: Any


def token_offsets(tokenizer: Any, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Character spans of each token of each text, from a *fast* tokenizer (no special tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            "token alignment needs a fast tokenizer (return_offsets_mapping); "
            f"got {type(tokenizer).__name__}. Load it with use_fast=True."
        )
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    return [[(int(a), int(b)) for a, b in offs] for offs in enc["offset_mapping"]]


class _Index:
    """Monotone views of one sequence's token offsets, so tokens are found by bisection."""

    __slots__ = ("starts", "ends", "n")

    def __init__(self, offsets: Offsets) -> None:
        starts, ends, ms, me = [], [], 0, 0
        for a, b in offsets:
            ms, me = max(ms, a), max(me, b)
            starts.append(ms)
            ends.append(me)
        self.starts, self.ends, self.n = starts, ends, len(starts)

    def last_token_before(self, char_end: int) -> int:
        """Last token starting before ``char_end``: the token that completes the span's last
        character (for a multi-byte character split over several byte tokens, the last of them)."""
        return min(max(bisect_left(self.starts, char_end) - 1, 0), self.n - 1)

    def first_token_after(self, char_start: int) -> int:
        """First token ending after ``char_start``."""
        return min(bisect_right(self.ends, char_start), self.n - 1)


def char_to_token(offsets: Offsets, char_end: int) -> int:
    """Index of the token completing character ``char_end - 1`` (the last char of a span).

    Characters beyond the last token (text the policy truncated) map to the last token; a span
    ending before the first token maps to token 0. Returns -1 for an empty token list.
    """
    if not offsets:
        return -1
    return _Index(offsets).last_token_before(char_end)


def char_span_to_tokens(offsets: Offsets, start: int, end: int) -> range:
    """Token indices overlapping the character span ``[start, end)``."""
    ix = _Index(offsets)
    first, last = ix.first_token_after(start), ix.last_token_before(end)
    return range(min(first, last), last + 1)


def dense_rewards(
    results: Sequence[RewardResult],
    offsets: Sequence[Offsets] | None = None,
    *,
    lengths: Sequence[int] | None = None,
    max_len: int | None = None,
    sequence: bool = True,
    steps: bool = True,
    tokens: bool = True,
    step_placement: Literal["end", "spread"] = "end",
    backend: Literal["torch", "numpy"] = "torch",
    dtype: str = "float32",
) -> DenseRewards:
    """Build the dense reward tensor for a batch.

    results: one per sequence.
    offsets: per sequence, the policy tokenizer's character spans of the response tokens (from
        `token_offsets`); needed to place step rewards and re-aligned token rewards.
    lengths: number of valid response tokens per sequence (default: ``len(offsets[b])``); use it
        when the response has tokens without text, e.g. a trailing EOS.
    sequence / steps / tokens: which parts of each result to place (they add up).
    """
    B = len(results)
    if offsets is not None and len(offsets) != B:
        raise ValueError(f"got {len(offsets)} offset lists for {B} results")
    if lengths is None:
        if offsets is None:
            raise ValueError("give either offsets or lengths")
        lengths = [len(o) for o in offsets]
    if len(lengths) != B:
        raise ValueError(f"got {len(lengths)} lengths for {B} results")
    T = max_len if max_len is not None else max([int(n) for n in lengths], default=0)
    rewards = np.zeros((B, T), dtype=dtype)
    mask = np.zeros((B, T), dtype=bool)
    valid = np.zeros(B, dtype=bool)
    for b, res in enumerate(results):
        n = min(int(lengths[b]), T)
        mask[b, :n] = True
        if not res.is_ok or n == 0:
            continue
        valid[b] = True
        row = rewards[b]
        if sequence:
            row[n - 1] += res.score
        need_offsets = (steps and res.steps) or (tokens and res.token_scores is not None and res.token_spans)
        offs = offsets[b] if offsets is not None else None
        if need_offsets and offs is None:
            raise ValueError(f"result {b} has step/token spans; pass the policy tokenizer offsets")
        ix = _Index(offs[:n]) if need_offsets else None
        if steps and res.steps:
            for st in res.steps:
                if st.score is None:
                    continue
                if step_placement == "end":
                    row[ix.last_token_before(st.end)] += st.score
                elif step_placement == "spread":
                    first, last = ix.first_token_after(st.start), ix.last_token_before(st.end)
                    first = min(first, last)
                    row[first : last + 1] += st.score / (last + 1 - first)
                else:
                    raise ValueError(f"unknown step_placement {step_placement!r}; use 'end' or 'spread'")
        if tokens and res.token_scores is not None:
            if res.token_spans is None:
                k = min(len(res.token_scores), n)
                row[:k] += np.asarray(res.token_scores[:k], dtype=dtype)
            else:
                for (_, e), v in zip(res.token_spans, res.token_scores, strict=True):
                    row[ix.last_token_before(e)] += v
    if backend == "numpy":
        return DenseRewards(rewards, mask, valid)
    import torch

    return DenseRewards(torch.from_numpy(rewards), torch.from_numpy(mask), torch.from_numpy(valid))
