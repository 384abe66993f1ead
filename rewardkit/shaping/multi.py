"""Several rewards per response: weighted sum, sum-then-normalise, GDPO (§9.1).

``components`` is ``[N, R]`` (N responses, R reward functions), NaN where a reward function had
nothing to say (non-ok status). ``weights`` is ``[R]``.

- weighted sum:         ``r_i = Σ_k w_k r_i^{(k)}`` (NaN components skipped, as TRL's ``nansum``;
                        a response with *every* component missing stays NaN);
- sum-then-normalise:   GRPO group normalisation of the weighted sum;
- GDPO (decoupled):     ``A_i^{(k)} = (r_i^{(k)} − mean_g)/(std_g + eps)`` per reward (ddof=1),
                        ``A_i = Σ_k w_k A_i^{(k)}``, then ``(A − mean_batch)/(std_batch + eps)``
                        (TRL ``normalize_then_sum``; eps 1e-4). Avoids the "collapse" where
                        different reward combinations get the same advantage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.shaping.normalize import group_normalize

__all__ = ["weighted_sum", "sum_then_normalize", "gdpo"]


def _comp(components: Any, weights: Any | None) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(components, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"components must be [N, R], got shape {c.shape}")
    w = np.ones(c.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (c.shape[1],):
        raise ValueError(f"weights must be [R={c.shape[1]}], got shape {w.shape}")
    return c, w


def weighted_sum(components: Any, weights: Any | None = None) -> np.ndarray:
    """``Σ_k w_k r^{(k)}`` skipping missing components. ``[N, R]`` -> ``[N]``."""
    c, w = _comp(components, weights)
    have = np.isfinite(c)
    out = np.where(have, c, 0.0) @ w
    return np.where(have.any(1), out, np.nan)


def sum_then_normalize(components: Any, weights: Any | None = None, group_ids: Sequence[Any] | None = None,
                       *, ddof: int = 1, eps: float = 1e-6, scale: str = "group") -> np.ndarray:
    """GRPO normalisation of the weighted sum. ``[N, R]`` -> ``[N]``."""
    return group_normalize(weighted_sum(components, weights), group_ids, ddof=ddof, eps=eps, scale=scale)  # type: ignore[arg-type]


def gdpo(components: Any, weights: Any | None = None, group_ids: Sequence[Any] | None = None, *,
         ddof: int = 1, eps: float = 1e-4, batch_norm: bool = True, batch_ddof: int = 1) -> np.ndarray:
    """GDPO decoupled normalisation. ``[N, R]`` -> ``[N]`` advantages (NaN if every component is missing)."""
    c, w = _comp(components, weights)
    per = np.stack([group_normalize(c[:, k], group_ids, ddof=ddof, eps=eps) for k in range(c.shape[1])], 1)
    a = weighted_sum(per, w) if c.shape[1] else np.full(c.shape[0], np.nan)
    if batch_norm:
        a = group_normalize(a, None, ddof=batch_ddof, eps=eps)
    return a
