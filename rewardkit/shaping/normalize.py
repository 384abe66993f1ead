"""Reward normalisation on the CPU reward path (numpy): per group, per batch, leave-one-out, running.

These work on sequence rewards ``[N]`` before they reach a trainer; the torch estimators in
`rewardkit.train.advantages` do the same on ``[B, T]`` tensors. Missing rewards (a reward source
returned a non-ok status) are NaN, or masked out with ``valid``; they are left out of every
statistic and come back as NaN -- never as the value a fake 0 would get.

Notation: N = number of responses; groups are given by ``group_ids`` (any hashable ids, e.g.
``Sample.group_id``) or ``group_size`` (consecutive blocks of G), never both; ``std`` uses ``ddof``
(1 = unbiased, 0 = population); ``eps`` is added to the std: ``(x − mean)/(std + eps)``. A group
with fewer than two valid members yields 0; a group whose values are all equal yields exactly 0.
Invalid rows (``valid`` False or a non-finite score) get ``invalid_value`` (default NaN). The torch
twins in `rewardkit.train.advantages` follow the same conventions (glossary: ``docs/shaping.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

__all__ = [
    "group_index",
    "group_normalize",
    "batch_normalize",
    "leave_one_out",
    "RunningStats",
]


def _prep(scores: Any, valid: Any | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"scores must be 1-D [N], got shape {x.shape}")
    if valid is None:
        return x, np.isfinite(x)
    v = np.asarray(valid, dtype=bool)
    if v.shape != x.shape:
        raise ValueError(f"valid must have the shape of scores {x.shape}, got {v.shape}")
    return x, v & np.isfinite(x)


def group_index(group_ids: Sequence[Any] | None, n: int, group_size: int | None = None) -> tuple[np.ndarray, int]:
    """Dense group index ``[N]`` in ``[0, n_groups)`` (first-seen order) and the group count."""
    if group_ids is not None and group_size is not None:
        raise ValueError("give groups either by group_size or by group_ids, not both")
    if group_size is not None:
        if group_size < 1 or n % group_size:
            raise ValueError(f"{n} scores are not a multiple of group_size {group_size}")
        return np.arange(n, dtype=np.int64) // group_size, n // group_size
    if group_ids is None:
        return np.zeros(n, dtype=np.int64), 1
    if len(group_ids) != n:
        raise ValueError(f"got {len(group_ids)} group ids for {n} scores")
    table: dict[Any, int] = {}
    idx = np.fromiter((table.setdefault(g, len(table)) for g in group_ids), dtype=np.int64, count=n)
    return idx, len(table)


def _stats(x: np.ndarray, ok: np.ndarray, gi: np.ndarray, ng: int, ddof: int):
    """Per-group count, centred values ``x − mean_g`` ``[N]`` and std ``[ng]`` of the valid entries.

    The statistics are taken on values shifted by the group's smallest valid value (shift-invariant
    maths, better rounding): a group whose values are all equal then has centred values and std that
    are exactly 0, so its advantages are exactly 0 with any ``eps`` -- not leftover/(leftover + eps).
    """
    shift = np.full(ng, np.inf)
    np.minimum.at(shift, gi[ok], x[ok])
    shift[~np.isfinite(shift)] = 0.0
    xs = np.where(ok, x - shift[gi], 0.0)
    cnt = np.bincount(gi, weights=ok.astype(np.float64), minlength=ng)
    mean = np.bincount(gi, weights=xs, minlength=ng) / np.maximum(cnt, 1)
    centred = np.where(ok, xs - mean[gi], 0.0)
    var = np.bincount(gi, weights=centred**2, minlength=ng) / np.maximum(cnt - ddof, 1)
    return cnt, centred, np.sqrt(var)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (a constant group with ``eps=0``: 0, not NaN)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def group_normalize(
    scores: Any,
    group_ids: Sequence[Any] | None = None,
    *,
    group_size: int | None = None,
    valid: Any | None = None,
    scale: Literal["group", "batch", "none"] = "group",
    ddof: int = 1,
    eps: float = 1e-6,
    invalid_value: float = np.nan,
) -> np.ndarray:
    """``(r_i − mean_g)/(std_g + eps)`` (GRPO); ``scale="batch"`` divides by the std of all valid
    scores, ``"none"`` only centres (Dr. GRPO). Shapes: ``[N]`` -> ``[N]`` (``invalid_value``,
    default NaN, where invalid)."""
    x, ok = _prep(scores, valid)
    gi, ng = group_index(group_ids, len(x), group_size)
    cnt, out, std = _stats(x, ok, gi, ng, ddof)
    if scale == "group":
        out = _safe_div(out, std[gi] + eps)
    elif scale == "batch":
        _, _, bstd = _stats(x, ok, np.zeros_like(gi), 1, ddof)
        out = _safe_div(out, np.full_like(out, bstd[0] + eps))
    elif scale != "none":
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    out = np.where(cnt[gi] > 1, out, 0.0)
    return np.where(ok, out, invalid_value)


def batch_normalize(scores: Any, *, valid: Any | None = None, ddof: int = 0, eps: float = 1e-8,
                    invalid_value: float = np.nan) -> np.ndarray:
    """``(r − mean)/(std + eps)`` over all valid scores of the batch. ``[N]`` -> ``[N]``."""
    return group_normalize(scores, None, valid=valid, scale="group", ddof=ddof, eps=eps, invalid_value=invalid_value)


def leave_one_out(scores: Any, group_ids: Sequence[Any] | None = None, *, group_size: int | None = None,
                  valid: Any | None = None, invalid_value: float = np.nan) -> np.ndarray:
    """RLOO: ``r_i − mean_{j≠i, j valid, same group} r_j`` (0 for a group with one valid member)."""
    x, ok = _prep(scores, valid)
    gi, ng = group_index(group_ids, len(x), group_size)
    cnt, centred, _ = _stats(x, ok, gi, ng, 0)
    G = cnt[gi]
    out = np.where(G > 1, G / np.maximum(G - 1, 1) * centred, 0.0)
    return np.where(ok, out, invalid_value)


class RunningStats:
    """Running count, mean, population variance, min and max over every reward seen.

    Merging is exact (Chan et al. parallel update), so statistics do not depend on how the stream
    is cut into batches. ``state_dict()`` / ``load_state_dict()`` save it with a checkpoint.
    Used by the running normaliser and PAR's ``meanstd`` / ``clip`` / ``minmax`` baselines.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = float("inf")
        self.max = float("-inf")

    def update(self, values: Any) -> RunningStats:
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        n = int(x.size)
        if n == 0:
            return self
        x0 = float(x[0])  # shifted sums: equal values give exactly their value and m2 = 0
        xs = x - x0
        bmean_s = float(xs.mean())
        bmean = x0 + bmean_s
        bm2 = float(((xs - bmean_s) ** 2).sum())
        tot = self.count + n
        d = bmean - self.mean
        if self.count == 0:
            self.mean, self.m2 = bmean, bm2
        elif d != 0.0:
            self.mean += d * n / tot
            self.m2 += bm2 + d * d * self.count * n / tot
        else:
            self.m2 += bm2
        self.count = tot
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        return self

    @property
    def var(self) -> float:
        """Population variance (ddof = 0), as in PAR's and OpenRLHF's running statistics."""
        return self.m2 / self.count if self.count else 0.0

    @property
    def std(self) -> float:
        return float(np.sqrt(self.var))

    def normalize(self, values: Any, eps: float = 1e-8) -> np.ndarray:
        """``(x − μ)/(σ + eps)`` with the current statistics (NaN stays NaN; 0 where σ + eps is 0)."""
        x = np.asarray(values, dtype=np.float64)
        c = x - self.mean
        return _safe_div(c, np.full_like(c, self.std + eps))

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2, "min": self.min, "max": self.max}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.count = int(state["count"])
        self.mean = float(state["mean"])
        self.m2 = float(state["m2"])
        self.min = float(state["min"])
        self.max = float(state["max"])

    def __repr__(self) -> str:
        return f"RunningStats(count={self.count}, mean={self.mean:.6g}, std={self.std:.6g})"
