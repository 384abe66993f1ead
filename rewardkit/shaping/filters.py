"""Rollout filters that use process rewards to *select* responses, not to reward them.

PROF (Ye et al., arXiv 2509.03403; §9.4, amazon-science/PROF-GRPO ``filter_trajectories``): per
response with outcome ``o ∈ {0, 1}`` and PRM step scores ``s_k ∈ [0, 1]``, consistency
``c = mean_k (2s_k − 1)(2o − 1)``, minus ``len_coef`` when the response has fewer than
``min_steps`` or more than ``max_steps`` steps. In each prompt group remove ``m`` responses:
``Δ = #correct − #wrong``, ``m_pos = min(m, round((Δ + m)/2))`` lowest-``c`` correct ones and the
remaining ``m − m_pos`` lowest-``c`` wrong ones. Python's ``round`` (banker's rounding) is kept as
in the reference. GRPO statistics are then computed on the kept responses only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["prof_consistency", "prof_filter"]


def prof_consistency(outcome: float, step_scores: Sequence[float], *, len_coef: float = 10.0,
                     min_steps: int = 2, max_steps: int = 30) -> float:
    s = np.asarray(step_scores, dtype=np.float64)
    c = float(np.mean((2 * s - 1) * (2 * outcome - 1))) if s.size else 0.0
    if s.size < min_steps or s.size > max_steps:
        c -= len_coef
    return c


def prof_filter(outcomes: Sequence[int], step_scores: Sequence[Sequence[float]], m: int, *,
                len_coef: float = 10.0, min_steps: int = 2, max_steps: int = 30) -> tuple[list[int], list[float]]:
    """Indices to keep (sorted) within one prompt group, and the consistency scores."""
    o = [int(x) for x in outcomes]
    c = [prof_consistency(oi, si, len_coef=len_coef, min_steps=min_steps, max_steps=max_steps)
         for oi, si in zip(o, step_scores, strict=True)]
    pos = sorted((i for i in range(len(o)) if o[i] == 1), key=lambda i: c[i])
    neg = sorted((i for i in range(len(o)) if o[i] == 0), key=lambda i: c[i])
    delta = len(pos) - len(neg)
    m = min(m, len(o))
    m_pos = max(0, min(m, round((delta + m) / 2), len(pos)))
    m_neg = min(m - m_pos, len(neg))
    drop = set(pos[:m_pos]) | set(neg[:m_neg])
    return [i for i in range(len(o)) if i not in drop], c
