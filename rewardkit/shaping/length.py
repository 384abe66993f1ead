"""Length-based rewards: LASER / LASER-D (Liu et al., arXiv 2505.15612; §8) and DAPO's overlong
penalty (§9.9). Lengths are counted in response tokens of the *policy* tokenizer.

- LASER:  ``R = C(y) + 1[correct]·α·1[L ≤ L_T]`` with ``C`` = +1 correct, −0.5 wrong, −1 format
          failure (no ``\\boxed{}`` / truncated); α = 0.5.
- LASER-D difficulty bucket from the group accuracy: easy ≥ 2/3, medium ≥ 1/3, hard otherwise.
- DAPO overlong: 0 if ``L ≤ L_max − L_cache``; ``((L_max − L_cache) − L)/L_cache`` inside the
  cache window; −1 beyond ``L_max``.

``[N]`` arrays in, ``[N]`` out (scalars give scalars).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["laser_reward", "laser_difficulty", "dapo_overlong_penalty"]


def laser_reward(correct: Any, length: Any, target: float, *, formatted: Any = True, alpha: float = 0.5,
                 correct_score: float = 1.0, wrong_score: float = -0.5, format_fail_score: float = -1.0) -> Any:
    """LASER step-length reward (``mode="reward"`` of the reference code)."""
    c = np.asarray(correct, dtype=bool)
    f = np.asarray(formatted, dtype=bool)
    L = np.asarray(length, dtype=np.float64)
    base = np.where(~f, format_fail_score, np.where(c, correct_score, wrong_score))
    out = base + np.where(f & c & (L <= target), alpha, 0.0)
    return float(out) if out.ndim == 0 else out


def laser_difficulty(n_correct: int, n: int) -> Literal["easy", "medium", "hard"]:
    """LASER-D bucket of a prompt from its rollouts' accuracy."""
    if n <= 0:
        raise ValueError("need at least one rollout")
    acc = n_correct / n
    if acc >= 2 / 3:
        return "easy"
    if acc >= 1 / 3:
        return "medium"
    return "hard"


def dapo_overlong_penalty(length: Any, max_len: int = 20480, cache_len: int = 4096) -> Any:
    """DAPO soft overlong punishment."""
    L = np.asarray(length, dtype=np.float64)
    start = max_len - cache_len
    out = np.where(L <= start, 0.0, np.where(L <= max_len, (start - L) / cache_len, -1.0))
    return float(out) if out.ndim == 0 else out
