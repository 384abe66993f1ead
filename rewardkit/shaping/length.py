"""Length-based rewards. Lengths are response lengths in tokens of the *policy* tokenizer (or in
characters when no tokenizer is at hand); `measure_lengths` gets them.

- LASER (Liu et al., "Learn to Reason Efficiently with Adaptive Length-based Reward Shaping",
  arXiv 2505.15612): ``R = C(y) + λ(y)·S(L)`` with ``C`` = +1 correct, −0.5 wrong, −1 format
  failure (no ``\\boxed{}`` answer / truncated), gate ``λ = 1[correct]`` and the step
  ``S = α·1[L ≤ L_T]`` (mode ``reward``; ``penalty``: ``−α·1[L > L_T]``; ``hybrid``: ``±α``),
  α = 0.5.
- LASER-D: the target ``L_T`` depends on the prompt's difficulty bucket, from the accuracy of its
  rollouts: easy ≥ 2/3, medium ≥ 1/3, hard otherwise. `laser_d_targets` re-picks the bucket
  targets from a monitor set: the smallest candidate ``L`` with ``floor(cov_b(L)·N_b) ≥ 1``.
- LASER-DE: as LASER-D, and a formatted *wrong* answer longer than ``L_T`` that is not degenerate
  repetition also gets ``+α`` (explore longer reasoning on failures).
- DAPO (Yu et al., arXiv 2503.14476) soft overlong punishment: 0 if ``L ≤ L_max − L_cache``;
  ``((L_max − L_cache) − L)/L_cache`` inside the cache window; −1 beyond ``L_max``.
- Cosine length scaling (Yeo et al., "Demystifying Long Chain-of-Thought Reasoning in LLMs",
  arXiv 2502.03373): ``r = η_min + ½(η_max − η_min)(1 + cos(π·L/L_max))`` where a correct
  answer goes from ``correct_short`` (L = 0) to ``correct_long`` (L = L_max) and a wrong one
  from ``wrong_short`` to ``wrong_long``; beyond ``L_max``: ``exceed`` (or the L_max value).

``[N]`` arrays in, ``[N]`` out (scalars give scalars).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np

__all__ = ["laser_reward", "laser_difficulty", "laser_d_targets", "dapo_overlong_penalty",
           "cosine_length_reward", "measure_lengths", "Bucket"]

Bucket = Literal["easy", "medium", "hard"]


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def laser_reward(correct: Any, length: Any, target: Any, *, formatted: Any = True, alpha: float = 0.5,
                 mode: Literal["reward", "penalty", "hybrid"] = "reward", correct_score: float = 1.0,
                 wrong_score: float = -0.5, format_fail_score: float = -1.0, explore: Any = False) -> Any:
    """LASER ``C(y) + 1[correct]·S(L)``; ``target`` may be one value or one per sample (LASER-D).

    ``explore`` (LASER-DE): where true (the caller's "not degenerate repetition" test), a formatted
    wrong answer longer than the target gets ``+α``.
    """
    c = np.asarray(correct, dtype=bool)
    f = np.asarray(formatted, dtype=bool)
    L = np.asarray(length, dtype=np.float64)
    short = L <= np.asarray(target, dtype=np.float64)
    base = np.where(~f, format_fail_score, np.where(c, correct_score, wrong_score))
    if mode == "reward":
        step = np.where(short, alpha, 0.0)
    elif mode == "penalty":
        step = np.where(short, 0.0, -alpha)
    else:
        step = np.where(short, alpha, -alpha)
    e = np.asarray(explore, dtype=bool)
    return _out(base + np.where(f & c, step, 0.0) + np.where(f & ~c & ~short & e, alpha, 0.0))


def laser_difficulty(n_correct: int, n: int) -> Bucket:
    """LASER-D bucket of a prompt from its rollouts' accuracy."""
    if n <= 0:
        raise ValueError("need at least one rollout")
    acc = n_correct / n
    if acc >= 2 / 3:
        return "easy"
    if acc >= 1 / 3:
        return "medium"
    return "hard"


def laser_d_targets(monitor_lengths: Mapping[str, Sequence[float]], n: int,
                    candidates: Sequence[int]) -> dict[str, int]:
    """LASER-D's adaptive targets: per bucket, the smallest candidate ``L`` whose coverage
    ``cov_b(L)`` (share of that bucket's monitor responses with length ≤ L) gives
    ``floor(cov_b(L)·N_b) ≥ 1`` expected responses, with ``N_easy = ⌊2n/3⌋``,
    ``N_medium = ⌊n/3⌋``, ``N_hard = 1``; ``max(candidates)`` when none does (or no data)."""
    if not candidates:
        raise ValueError("candidates is empty")
    cands = sorted(candidates)
    need = {"easy": (2 * n) // 3, "medium": n // 3, "hard": 1}
    out: dict[str, int] = {}
    for b in ("easy", "medium", "hard"):
        lens = np.asarray(monitor_lengths.get(b, ()), dtype=np.float64)
        out[b] = cands[-1]
        if lens.size == 0 or need[b] == 0:
            continue
        for L in cands:
            if math.floor(float(np.mean(lens <= L)) * need[b] + 1e-12) >= 1:
                out[b] = L
                break
    return out


def dapo_overlong_penalty(length: Any, max_len: int = 20480, cache_len: int = 4096) -> Any:
    """DAPO soft overlong punishment."""
    L = np.asarray(length, dtype=np.float64)
    start = max_len - cache_len
    return _out(np.where(L <= start, 0.0, np.where(L <= max_len, (start - L) / cache_len, -1.0)))


def cosine_length_reward(correct: Any, length: Any, max_len: int, *, correct_short: float = 1.0,
                         correct_long: float = 0.5, wrong_short: float = -1.0, wrong_long: float = -0.5,
                         exceed: float | None = None) -> Any:
    """Cosine length scaling (defaults: open-r1's ``get_cosine_scaled_reward``)."""
    if max_len <= 0:
        raise ValueError("max_len must be positive")
    c = np.asarray(correct, dtype=bool)
    L = np.asarray(length, dtype=np.float64)
    progress = np.minimum(L, max_len) / max_len
    start = np.where(c, correct_short, wrong_short)
    end = np.where(c, correct_long, wrong_long)
    r = end + 0.5 * (start - end) * (1.0 + np.cos(np.pi * progress))
    if exceed is not None:
        r = np.where(L > max_len, exceed, r)
    return _out(r)


@lru_cache(maxsize=8)
def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer  # lazy: only token lengths need it

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def measure_lengths(samples: Sequence[Any], unit: Literal["tokens", "chars"] = "tokens",
                    tokenizer: Any = None, length_key: str = "num_tokens") -> np.ndarray:
    """Response lengths ``[N]`` (NaN where unknown).

    ``chars``: characters of the completion. ``tokens`` with a tokenizer (an object or a local
    path): its token count of the completion, without special tokens. ``tokens`` without one:
    ``Sample.metadata[length_key]`` -- the policy's own count, which a trainer adapter fills in.
    """
    if unit == "chars":
        return np.array([len(s.completion) for s in samples], dtype=np.float64)
    if tokenizer is None:
        return np.array([float(s.metadata[length_key]) if s.metadata.get(length_key) is not None else np.nan
                         for s in samples], dtype=np.float64)
    tok = _tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    if not samples:
        return np.zeros(0)
    ids = tok([s.completion for s in samples], add_special_tokens=False)["input_ids"]
    return np.array([len(x) for x in ids], dtype=np.float64)
