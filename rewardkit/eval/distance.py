"""How different are two reward functions on the same samples?

- Rank agreement: Spearman's rho and Kendall's tau-b (scipy) -- what matters for best-of-N and
  for group-relative advantages, which only see the order within a prompt.
- A STARC-style distance (Skalse et al. 2023, "STARC: A General Framework For Quantifying
  Differences Between Reward Functions", arXiv 2309.15257): canonicalise each reward so that
  transformations that never change the optimal policy vanish, normalise, and take the distance.
  For prompt -> completion rewards (a contextual bandit) potential shaping reduces to adding a
  per-prompt constant, so the canonicalisation subtracts each prompt's mean reward (the overall
  mean without ``group_ids``); the normalisation divides by the L2 norm; the distance is
  ``0.5 * ||c1/||c1|| - c2/||c2|| ||_2`` in [0, 1]: 0 for rewards equal up to a positive scale
  and per-prompt shifts, 1 for a reward and its negation. A canonical reward that is 0 everywhere
  (constant within every prompt: no preference at all) normalises to 0, so its distance to any
  non-trivial reward is 0.5.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["canonicalize", "starc_distance", "reward_distance"]


def canonicalize(rewards: Sequence[float], group_ids: Sequence[Hashable] | None = None) -> np.ndarray:
    """Rewards minus their prompt's (group's) mean."""
    r = np.asarray(rewards, dtype=np.float64)
    if group_ids is None:
        return r - r.mean() if r.size else r
    if len(group_ids) != r.size:
        raise ValueError(f"{len(group_ids)} group_ids for {r.size} rewards")
    out = r.copy()
    idx: dict[Hashable, list[int]] = {}
    for i, g in enumerate(group_ids):
        idx.setdefault(g, []).append(i)
    for ii in idx.values():
        out[ii] -= r[ii].mean()
    return out


def _unit(c: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(c))
    if n <= 1e-12 * max(1.0, float(np.abs(c).max(initial=0.0))):  # a constant reward: no direction
        return np.zeros_like(c)
    return c / n


def starc_distance(a: Sequence[float], b: Sequence[float], group_ids: Sequence[Hashable] | None = None) -> float:
    """STARC-style distance in [0, 1] (see the module docstring)."""
    if len(a) != len(b):
        raise ValueError(f"two rewards of different lengths: {len(a)} and {len(b)}")
    ua, ub = _unit(canonicalize(a, group_ids)), _unit(canonicalize(b, group_ids))
    return 0.5 * float(np.linalg.norm(ua - ub))


def reward_distance(a: Sequence[float], b: Sequence[float],
                    group_ids: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Spearman, Kendall and Pearson correlations and the STARC-style distance."""
    from scipy.stats import kendalltau, pearsonr, spearmanr

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"two rewards of different lengths: {x.size} and {y.size}")
    const = x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0
    return {
        "n": int(x.size),
        "spearman": None if const else float(spearmanr(x, y).statistic),
        "kendall": None if const else float(kendalltau(x, y).statistic),
        "pearson": None if const else float(pearsonr(x, y).statistic),
        "starc": starc_distance(x, y, group_ids),
    }
