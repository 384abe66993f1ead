"""Process-reward shaping: Clip, Delta and Clip-Delta (Gao et al., arXiv 2410.15115; §2).

A process reward model gives step scores ``r_1..r_K`` (probability-like). Summed as dense rewards
they pay the policy for extra steps; these transforms bound the process return:

- Clip:        ``r̃_k = min(r_k − η, 0)``                  (every process reward ≤ 0)
- Delta:       ``r̃_k = r_k − r_{k+1}`` for k < K; the last step is **ambiguous** in the paper:
               ``last="keep"`` (default): ``r̃_K = r_K`` -> reward-to-go from step k is exactly r_k;
               ``last="zero"``: ``r̃_K = 0``          -> reward-to-go from step k is ``r_k − r_K``.
- Clip-Delta:  Delta applied to the clipped scores ``c_k = min(r_k − η, 0)``.

Return bound (``keep``): Clip's process return is in ``[−K·η, 0]`` and falls with every extra
low-scoring step; Delta's is ``r_1`` whatever K is; Clip-Delta's is ``c_1 ∈ [−η, 0]``.
Token placement: ``α·r̃_k`` on the last token of step k, plus the outcome reward on the last
token (`process_token_rewards`).

Also here: Math-Shepherd automatic step labels (§5).
Shapes: step scores ``[K]`` (one response) -> ``[K]``; numpy in, numpy out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

__all__ = [
    "clip_rewards",
    "delta_rewards",
    "clip_delta_rewards",
    "shape_process_rewards",
    "reward_to_go",
    "process_token_rewards",
    "math_shepherd_labels",
]

Last = Literal["keep", "zero"]
Method = Literal["clip", "delta", "clip_delta"]


def _1d(r: Any) -> np.ndarray:
    x = np.asarray(r, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"step scores must be 1-D [K], got shape {x.shape}")
    return x


def clip_rewards(r: Any, eta: float) -> np.ndarray:
    """Clip: ``min(r_k − η, 0)``. ``[K]`` -> ``[K]``, every entry ≤ 0."""
    return np.minimum(_1d(r) - eta, 0.0)


def delta_rewards(r: Any, last: Last = "keep") -> np.ndarray:
    """Delta: ``r_k − r_{k+1}`` for k < K; last step ``r_K`` (``"keep"``) or 0 (``"zero"``)."""
    x = _1d(r)
    if last not in ("keep", "zero"):
        raise ValueError(f"last must be 'keep' or 'zero', got {last!r}")
    out = np.empty_like(x)
    if x.size:
        out[:-1] = x[:-1] - x[1:]
        out[-1] = x[-1] if last == "keep" else 0.0
    return out


def clip_delta_rewards(r: Any, eta: float, last: Last = "keep") -> np.ndarray:
    """Clip-Delta: Delta of the clipped scores ``c_k = min(r_k − η, 0)``."""
    return delta_rewards(clip_rewards(r, eta), last=last)


def shape_process_rewards(r: Any, method: Method, *, eta: float | None = None, last: Last = "keep",
                          alpha: float = 1.0) -> np.ndarray:
    """``α·r̃`` for ``method`` in ``clip | delta | clip_delta``.

    ``eta`` (the PRM score threshold) is required by Clip and Clip-Delta: it depends on the PRM and
    the paper does not give a value, and a silent 0 would make every score in [0, 1] shape to 0.
    """
    if method in ("clip", "clip_delta") and eta is None:
        raise TypeError(f"shape_process_rewards(method={method!r}) needs eta (the PRM score threshold)")
    if method == "clip":
        out = clip_rewards(r, eta)
    elif method == "delta":
        out = delta_rewards(r, last)
    elif method == "clip_delta":
        out = clip_delta_rewards(r, eta, last)
    else:
        raise ValueError(f"method must be 'clip', 'delta' or 'clip_delta', got {method!r}")
    return alpha * out


def reward_to_go(r: Any) -> np.ndarray:
    """``Σ_{j≥k} r_j`` (γ = 1). ``[K]`` -> ``[K]``."""
    x = _1d(r)
    return np.cumsum(x[::-1])[::-1].copy()


def process_token_rewards(step_rewards: Any, step_ends: Sequence[int], length: int, *,
                          outcome: float | None = None) -> np.ndarray:
    """Dense token rewards of one response: ``step_rewards[k]`` on token ``step_ends[k]`` and the
    outcome reward on the last token ``length − 1``. ``[K]`` -> ``[length]``."""
    x = _1d(step_rewards)
    ends = np.asarray(step_ends, dtype=np.int64)
    if ends.shape != x.shape:
        raise ValueError(f"got {ends.size} step ends for {x.size} step rewards")
    if ends.size and (ends.min() < 0 or ends.max() >= length):
        raise ValueError(f"step ends {ends.tolist()} out of range for {length} tokens")
    out = np.zeros(length, dtype=np.float64)
    np.add.at(out, ends, x)
    if outcome is not None and length:
        out[-1] += outcome
    return out


def math_shepherd_labels(outcomes: Any) -> tuple[float, float]:
    """Math-Shepherd step labels from N completions of a prefix (1 = reached the gold answer):
    hard estimation ``HE = 1[any correct]`` and soft estimation ``SE = mean``."""
    o = np.asarray(outcomes, dtype=np.float64).ravel()
    if o.size == 0:
        raise ValueError("need at least one completion outcome")
    return float(o.max() > 0), float(o.mean())
