"""ProcessBench metrics: can a process reward find the *first* wrong step of a solution?

Definitions (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in Mathematical
Reasoning", arXiv 2412.06559, section 4 and the released ``run_eval_prm.py``):

- every solution has a label: the 0-based index of its earliest wrong step, or -1 when every step
  is correct;
- a PRM's prediction is the index of the first step whose score is below a threshold (-1 when no
  step is); critic models predict the index directly;
- ``error_acc`` = accuracy (exact index match) on the erroneous solutions (label != -1);
- ``correct_acc`` = accuracy on the correct solutions (label == -1), i.e. how often nothing is
  flagged;
- ``f1`` = harmonic mean of the two: ``2 * error_acc * correct_acc / (error_acc + correct_acc)``.
  The paper reports each per subset (GSM8K, MATH, OlympiadBench, Omni-MATH) in percent and the
  average F1 over the subsets; rewardkit reports fractions in [0, 1].

Degenerate cases (the paper never meets them; here they are explicit, never a silent 0):
an empty class gives ``None`` for its accuracy, and ``f1`` is ``None`` when either accuracy is;
``f1`` is 0.0 when both accuracies are 0. A prediction of ``None`` (the reward could not score the
sample: a non-ok status) never matches a label -- ProcessBench counts an unparseable critique the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["first_wrong_step", "processbench_scores", "processbench_breakdown", "threshold_sweep",
           "DEFAULT_SWEEP"]

#: thresholds of the default sweep (PRM step scores are probabilities of "this step is correct")
DEFAULT_SWEEP: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


def first_wrong_step(step_scores: Sequence[float | None], threshold: float = 0.5) -> int:
    """Index of the first step scored strictly below ``threshold``, or -1.

    A step without a score (``None``: the reward had nothing to say about it, e.g. a step with no
    equation for ``step_arithmetic``) is not evidence of an error and is never flagged."""
    for i, s in enumerate(step_scores):
        if s is not None and s < threshold:
            return i
    return -1


def _ratio(hits: int, n: int) -> float | None:
    return hits / n if n else None


def processbench_scores(labels: Sequence[int], preds: Sequence[int | None]) -> dict[str, Any]:
    """``error_acc``, ``correct_acc``, ``f1`` (and the class sizes) of predictions vs labels."""
    if len(labels) != len(preds):
        raise ValueError(f"labels and preds differ in length: {len(labels)} vs {len(preds)}")
    n_err = sum(1 for y in labels if y != -1)
    n_cor = len(labels) - n_err
    hit_err = sum(1 for y, p in zip(labels, preds, strict=True) if y != -1 and p is not None and p == y)
    hit_cor = sum(1 for y, p in zip(labels, preds, strict=True) if y == -1 and p == -1)
    ea, ca = _ratio(hit_err, n_err), _ratio(hit_cor, n_cor)
    if ea is None or ca is None:
        f1 = None
    elif ea + ca == 0:
        f1 = 0.0
    else:
        f1 = 2 * ea * ca / (ea + ca)
    return {"error_acc": ea, "correct_acc": ca, "f1": f1, "n": len(labels), "n_error": n_err,
            "n_correct": n_cor}


def processbench_breakdown(labels: Sequence[int], preds: Sequence[int | None],
                           groups: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """`processbench_scores` per value of each grouping (``{"subset": [...], "generator": [...]}``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for gname, keys in groups.items():
        if len(keys) != len(labels):
            raise ValueError(f"group {gname!r} has {len(keys)} keys for {len(labels)} labels")
        idx: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            idx.setdefault(str(k), []).append(i)
        out[gname] = {k: processbench_scores([labels[i] for i in ii], [preds[i] for i in ii])
                      for k, ii in sorted(idx.items())}
    return out


def mean_f1(per_group: Mapping[str, Mapping[str, Any]]) -> float | None:
    """The paper's "Avg." column: the unweighted mean of the groups' F1 (None if any is None)."""
    f1s = [g["f1"] for g in per_group.values()]
    if not f1s or any(f is None for f in f1s):
        return None
    return sum(f1s) / len(f1s)


def threshold_sweep(labels: Sequence[int], step_scores: Sequence[Sequence[float | None] | None],
                    thresholds: Sequence[float] = DEFAULT_SWEEP) -> list[dict[str, Any]]:
    """`processbench_scores` at each threshold; ``None`` step lists (non-ok samples) stay misses."""
    rows = []
    for t in thresholds:
        preds = [None if s is None else first_wrong_step(s, t) for s in step_scores]
        rows.append({"threshold": t, **processbench_scores(labels, preds)})
    return rows


__all__ += ["mean_f1"]
