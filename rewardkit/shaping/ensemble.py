"""Reward-model ensembles (Coste et al., arXiv 2310.02743; §7): mean, worst-case, uncertainty-weighted.

``scores`` is ``[N, k]``: k reward models' scores for N responses (same data, different seeds).

- mean: ``R̄ = (1/k) Σ_i R_i``;
- WCO:  ``min_i R_i``;
- UWO:  ``R̄ − λ·Var_i(R_i)`` with the *population* intra-ensemble variance (``ddof=0``; the
        sample variance is a different number -- do not mix).

Members on different scales should be standardised first (``standardize=True`` z-scores each
member over the batch; a rewardkit recommendation, not from the paper). A NaN member score makes
the response's ensemble score NaN (a missing member is not silently dropped).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["ensemble_mean", "ensemble_min", "ensemble_uwo", "ensemble"]


def _s(scores: Any) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"scores must be [N, k] with k >= 1, got shape {s.shape}")
    return s


def ensemble_mean(scores: Any) -> np.ndarray:
    """``[N, k]`` -> ``[N]``."""
    return _s(scores).mean(1)


def ensemble_min(scores: Any) -> np.ndarray:
    """Worst-case optimisation. ``[N, k]`` -> ``[N]``."""
    return _s(scores).min(1)


def ensemble_uwo(scores: Any, lam: float = 0.5, *, ddof: int = 0) -> np.ndarray:
    """Uncertainty-weighted optimisation ``mean − λ·var``. ``[N, k]`` -> ``[N]``."""
    s = _s(scores)
    var = s.var(1, ddof=ddof) if s.shape[1] > ddof else np.zeros(s.shape[0])
    return s.mean(1) - lam * var


def ensemble(scores: Any, method: Literal["mean", "min", "uwo"] = "mean", *, lam: float = 0.5, ddof: int = 0,
             standardize: bool = False, eps: float = 1e-8) -> np.ndarray:
    """Combine member scores with ``method``; ``standardize`` z-scores each member over the batch first."""
    s = _s(scores)
    if standardize:
        c = s - s[:1]  # shifted: a member whose scores are all equal standardises to exactly 0
        c = c - c.mean(0)
        sd = c.std(0) + eps
        s = np.divide(c, sd, out=np.zeros_like(c), where=sd != 0)
    if method == "mean":
        return ensemble_mean(s)
    if method == "min":
        return ensemble_min(s)
    if method == "uwo":
        return ensemble_uwo(s, lam, ddof=ddof)
    raise ValueError(f"method must be 'mean', 'min' or 'uwo', got {method!r}")
