"""Calibration of a reward read as a probability of success: ECE, Brier score, AUROC, and the
reliability diagram's bins.

Rewards must be probabilities in [0, 1] (a PRM/ORM's sigmoid output, a verifier's 0/1); callers
with logits apply a sigmoid first and say so (``rewardkit eval calibration --prob sigmoid``).

- Reliability bins: ``n_bins`` equal-width bins on [0, 1]; a probability on an inner edge goes to
  the lower bin (scikit-learn's ``calibration_curve`` convention), 1.0 goes to the last bin.
- ECE (Naeini et al. 2015; Guo et al. 2017): ``sum_b (n_b / N) * |mean_label_b - mean_prob_b|``
  over non-empty bins.
- Brier score: mean squared difference between probability and label (scikit-learn).
- AUROC (scikit-learn): ``None`` when the labels have a single class (it is undefined there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["reliability_bins", "expected_calibration_error", "calibration_metrics"]


def _arrays(probs: Sequence[float], labels: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"probs and labels must be 1-D of one length, got {p.shape} and {y.shape}")
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1 or np.isnan(p).any()):
        raise ValueError("probabilities must lie in [0, 1] (apply a sigmoid to logits first)")
    return p, y


def reliability_bins(probs: Sequence[float], labels: Sequence[bool], n_bins: int = 10) -> list[dict[str, Any]]:
    """Per bin: edges, count, mean probability and fraction of positives (``None`` when empty)."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    p, y = _arrays(probs, labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], p, side="left")
    out = []
    for b in range(n_bins):
        m = idx == b
        n = int(m.sum())
        out.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": n,
                    "mean_prob": float(p[m].mean()) if n else None,
                    "frac_pos": float(y[m].mean()) if n else None})
    return out


def expected_calibration_error(probs: Sequence[float], labels: Sequence[bool], n_bins: int = 10) -> float | None:
    """ECE over equal-width bins; ``None`` for no samples."""
    bins = reliability_bins(probs, labels, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return None
    return sum(b["count"] / total * abs(b["frac_pos"] - b["mean_prob"]) for b in bins if b["count"])


def calibration_metrics(probs: Sequence[float], labels: Sequence[bool], n_bins: int = 10) -> dict[str, Any]:
    """ECE, Brier, AUROC, base rate, bins."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    p, y = _arrays(probs, labels)
    n = int(p.size)
    single = n == 0 or len(np.unique(y)) < 2
    return {
        "n": n,
        "ece": expected_calibration_error(p, y, n_bins),
        "brier": float(brier_score_loss(y, p)) if n else None,
        "auroc": None if single else float(roc_auc_score(y, p)),
        "auroc_undefined": "a single class in the labels" if single and n else None,
        "base_rate": float(y.mean()) if n else None,
        "mean_prob": float(p.mean()) if n else None,
        "bins": reliability_bins(p, y, n_bins),
    }
