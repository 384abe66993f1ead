"""PRMBench-style step classification: F1 of "this step is correct" and of "this step is wrong".

PRMBench (Song et al. 2025, "PRMBench: A Fine-grained and Challenging Benchmark for Process-Level
Reward Models", arXiv 2501.03124) labels every step and scores a PRM by the F1 of the positive
class (correct steps), the F1 of the negative class (erroneous steps) and their weighted mean, "PRMScore" = ``w * F1_neg + (1 - w) * F1_pos``
with ``w = 0.5`` (recalled from the paper, not re-verified here: ``neg_weight`` exposes it).
A step is predicted correct when its score is >= threshold.

A step the reward left unscored (``None``) has no prediction: it is left out of both F1s and
counted in ``n_unscored``. An F1 whose class is absent from both labels and predictions is
``None`` (undefined), not 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["step_f1"]


def _f1(tp: int, fp: int, fn: int) -> float | None:
    if tp + fp + fn == 0:
        return None
    return 2 * tp / (2 * tp + fp + fn)


def step_f1(labels: Sequence[Sequence[bool]], scores: Sequence[Sequence[float | None]],
            threshold: float = 0.5, neg_weight: float = 0.5) -> dict[str, Any]:
    """labels[i][k]: step k of solution i is correct; scores[i][k]: its reward (or ``None``)."""
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} label lists for {len(scores)} score lists")
    tp = fp = fn = tn = unscored = 0
    for i, (ls, ss) in enumerate(zip(labels, scores, strict=True)):
        if len(ls) != len(ss):
            raise ValueError(f"solution {i}: {len(ls)} step labels but {len(ss)} step scores")
        for y, s in zip(ls, ss, strict=True):
            if s is None:
                unscored += 1
                continue
            pred = s >= threshold
            if pred and y:
                tp += 1
            elif pred:
                fp += 1
            elif y:
                fn += 1
            else:
                tn += 1
    f1_pos, f1_neg = _f1(tp, fp, fn), _f1(tn, fn, fp)
    if not 0.0 <= neg_weight <= 1.0:
        raise ValueError(f"neg_weight must be in [0, 1], got {neg_weight}")
    prm_score = None if f1_pos is None or f1_neg is None else neg_weight * f1_neg + (1 - neg_weight) * f1_pos
    return {"f1_pos": f1_pos, "f1_neg": f1_neg, "prm_score": prm_score, "tp": tp, "fp": fp, "fn": fn,
            "tn": tn, "n_scored": tp + fp + fn + tn, "n_unscored": unscored, "threshold": threshold}
