"""Verifier audit: a verifier's verdicts against labelled pairs, as a confusion matrix.

Positive = "the verifier accepts the answer" (ok and score >= threshold). A false positive is a
wrong answer the verifier pays for -- what a policy learns to exploit -- so reports list false
positives first. A sample whose verdict is not ok (unparseable, timeout, error) is counted as a
rejection in the confusion matrix, because that is what it costs the policy under the default
status policy (the sample's own failure scores 0), and is also counted on its own: ``non_ok``
by status and ``unparseable_rate``. ``ok_only`` repeats the matrix without those samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["confusion", "audit_metrics"]


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


def confusion(expected: Sequence[bool], accepted: Sequence[bool]) -> dict[str, Any]:
    """tp/fp/tn/fn and the rates derived from them (``None`` where a denominator is 0)."""
    if len(expected) != len(accepted):
        raise ValueError(f"{len(expected)} labels for {len(accepted)} verdicts")
    tp = sum(1 for e, a in zip(expected, accepted, strict=True) if e and a)
    fp = sum(1 for e, a in zip(expected, accepted, strict=True) if not e and a)
    fn = sum(1 for e, a in zip(expected, accepted, strict=True) if e and not a)
    tn = len(expected) - tp - fp - fn
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    f1 = None if precision is None or recall is None else (
        0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return {"n": len(expected), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "accuracy": _div(tp + tn, len(expected)), "precision": precision, "recall": recall, "f1": f1,
            "false_positive_rate": _div(fp, fp + tn), "false_negative_rate": _div(fn, fn + tp)}


def audit_metrics(expected: Sequence[bool], scores: Sequence[float | None], statuses: Sequence[str],
                  threshold: float = 0.5) -> dict[str, Any]:
    """The audit's numbers: the confusion matrix (non-ok = rejected), the same over ok samples
    only, and status counts. ``scores[i]`` is ``None`` exactly when ``statuses[i] != "ok"``."""
    if not (len(expected) == len(scores) == len(statuses)):
        raise ValueError("expected, scores and statuses must have the same length")
    accepted = [s is not None and s >= threshold for s in scores]
    ok = [i for i, st in enumerate(statuses) if st == "ok"]
    counts = Counter(statuses)
    return {
        **confusion(expected, accepted),
        "threshold": threshold,
        "statuses": dict(sorted(counts.items())),
        "non_ok": len(statuses) - counts.get("ok", 0),
        "unparseable_rate": _div(counts.get("unparseable", 0), len(statuses)),
        "ok_only": confusion([expected[i] for i in ok], [accepted[i] for i in ok]),
    }
