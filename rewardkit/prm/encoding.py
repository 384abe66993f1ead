"""Text layout and tokenisation shared by PRM training and scoring (one definition, both sides).

A solution is laid out as ``prompt + prompt_separator + completion``; its steps are character spans
of the completion (`rewardkit.steps`). The PRM's score of step k is read at the token that completes
the step's last character (the same rule `rewardkit.alignment` uses to place it on a policy). For a
causal backbone, that token's hidden state has seen exactly the prefix up to the end of step k,
which is why one forward pass gives every step's score -- the same numbers as one pass per prefix.

A step whose end token falls past ``max_length`` is *unseen*: its index is ``None`` and it gets no
score, never a 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.alignment import char_to_token
from rewardkit.steps import Span

__all__ = ["Encoded", "layout", "encode", "encode_batch"]


@dataclass
class Encoded:
    """One tokenised solution.

    input_ids: tokens of the whole text, truncated to ``max_length``;
    completion_start: index of the first token of the completion (``len(input_ids)`` if unseen);
    step_ends: per step, the index of its last token, or ``None`` when truncation cut it off.
    """

    input_ids: list[int]
    completion_start: int
    step_ends: list[int | None]


def layout(prompt: str, completion: str, prompt_separator: str) -> tuple[str, int]:
    """The text the PRM reads and the character offset at which the completion starts."""
    head = prompt + prompt_separator if prompt else ""
    return head + completion, len(head)


def encode(tokenizer: Any, prompt: str, completion: str, spans: Sequence[Span], *,
           prompt_separator: str = "\n\n", max_length: int | None = None) -> Encoded:
    return encode_batch(tokenizer, [prompt], [completion], [spans], prompt_separator=prompt_separator,
                        max_length=max_length)[0]


def encode_batch(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str],
                 spans: Sequence[Sequence[Span]], *, prompt_separator: str = "\n\n",
                 max_length: int | None = None) -> list[Encoded]:
    if not prompts:
        return []
    texts, offsets0 = zip(*(layout(p, c, prompt_separator) for p, c in zip(prompts, completions, strict=True)),
                          strict=True)
    enc = tokenizer(list(texts), add_special_tokens=True, return_offsets_mapping=True)
    out = []
    for ids, offs, c0, sp in zip(enc["input_ids"], enc["offset_mapping"], offsets0, spans, strict=True):
        # special tokens have (0, 0) offsets: give them the position of their neighbour so that the
        # offsets stay monotone and a step never maps onto a BOS/EOS token
        offs = [(int(a), int(b)) for a, b in offs]
        real = [i for i, (a, b) in enumerate(offs) if b > a]
        n = len(ids) if max_length is None else min(len(ids), max_length)
        first = next((i for i in real if offs[i][1] > c0), len(ids))
        ends: list[int | None] = []
        for s in sp:
            t = _last_token(offs, real, c0 + s.end)
            ends.append(t if t < n else None)
        out.append(Encoded(list(ids[:n]), min(first, n), ends))
    return out


def _last_token(offs: list[tuple[int, int]], real: list[int], char_end: int) -> int:
    """Index (in the full token list) of the real token completing character ``char_end - 1``."""
    j = char_to_token([offs[i] for i in real], char_end)
    return real[j] if j >= 0 else 0
