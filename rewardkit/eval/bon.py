"""Best-of-N: does picking the highest-reward candidate pick a correct one?

For each question with K labelled candidates and each N <= K, the accuracy of a selection rule is
its expected correctness over size-N subsets of the candidates (all C(K, N) subsets when there are
at most ``max_subsets``, otherwise that many random subsets with a fixed seed -- the output says
which). Rules:

- ``reward`` (for each aggregation of the reward): the candidate with the highest reward; a tie at
  the top is split (the expected correctness of a random pick among the tied);
- ``majority``: the most frequent final answer (self-consistency, Wang et al. 2022); tied answers
  are split the same way; a candidate without an extractable answer does not vote;
- ``weighted_majority`` (for each aggregation whose rewards are all >= 0): the answer with the
  largest total reward (reward-weighted voting); a non-ok reward weighs 0;
- ``oracle``: 1 if any candidate of the subset is correct (the ceiling, "pass@N");
- ``random`` is the N = 1 value of any rule (mean correctness).

`select_by_reward` / `select_by_majority` / `select_by_weighted_majority` define the rules on one subset; `best_of_n_curve`
computes the same numbers over all subsets at once with numpy (tested equal to the plain loop).

A candidate whose reward is not ok (``None``) cannot be selected by ``reward`` while an ok one is
in the subset; a subset with no ok candidate counts as a miss and is counted in ``no_score``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["select_by_reward", "select_by_majority", "select_by_weighted_majority", "best_of_n_curve", "aggregate_steps", "STEP_AGGREGATIONS"]

STEP_AGGREGATIONS = ("min", "mean", "last", "prod")


def aggregate_steps(step_scores: Sequence[float | None] | None, how: str) -> float | None:
    """One number from a candidate's step scores (``None`` steps ignored; none left -> ``None``).

    ``min`` (the weakest step; Lightman et al. 2023 use the product, Wang et al. 2024's
    Math-Shepherd the minimum), ``mean``, ``last``, ``prod``."""
    if step_scores is None:
        return None
    vals = [s for s in step_scores if s is not None]
    if not vals:
        return None
    if how == "min":
        return min(vals)
    if how == "mean":
        return sum(vals) / len(vals)
    if how == "last":
        return vals[-1]
    if how == "prod":
        return math.prod(vals)
    raise ValueError(f"unknown step aggregation {how!r}; expected one of {STEP_AGGREGATIONS}")


def select_by_reward(scores: Sequence[float | None], correct: Sequence[bool]) -> float | None:
    """Expected correctness of the top-reward candidate (ties split); ``None`` if no score."""
    ok = [(s, c) for s, c in zip(scores, correct, strict=True) if s is not None]
    if not ok:
        return None
    top = max(s for s, _ in ok)
    tied = [c for s, c in ok if s == top]
    return sum(tied) / len(tied)


def select_by_majority(answers: Sequence[str | None], correct: Sequence[bool]) -> float:
    """Expected correctness of the most frequent answer (tied answers split; an answer's
    correctness is the mean label of its candidates). No answer at all -> 0.0."""
    groups: dict[str, list[bool]] = {}
    for a, c in zip(answers, correct, strict=True):
        if a is not None:
            groups.setdefault(a, []).append(c)
    if not groups:
        return 0.0
    top = max(len(v) for v in groups.values())
    tied = [sum(v) / len(v) for v in groups.values() if len(v) == top]
    return sum(tied) / len(tied)


def select_by_weighted_majority(answers: Sequence[str | None], weights: Sequence[float | None],
                                correct: Sequence[bool]) -> float:
    """Expected correctness of the answer with the largest total reward (reward-weighted voting,
    as PRM best-of-N evaluations report it); a non-ok reward weighs 0; tied answers are split."""
    totals: dict[str, float] = {}
    groups: dict[str, list[bool]] = {}
    for a, w, c in zip(answers, weights, correct, strict=True):
        if a is not None:
            totals[a] = totals.get(a, 0.0) + (0.0 if w is None else w)
            groups.setdefault(a, []).append(c)
    if not groups:
        return 0.0
    top = max(totals.values())
    tied = [sum(groups[a]) / len(groups[a]) for a in groups if totals[a] == top]
    return sum(tied) / len(tied)


def default_ns(k: int) -> list[int]:
    """1..K for up to 16 candidates, else the powers of two below K and K itself."""
    if k <= 16:
        return list(range(1, k + 1))
    return [2**i for i in range(k.bit_length()) if 2**i < k] + [k]


def _as_arrays(scores: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    ok = np.array([s is not None for s in scores], dtype=bool)
    return np.array([-np.inf if s is None else s for s in scores], dtype=np.float64), ok


def _onehot(answers: Sequence[str | None]) -> np.ndarray:
    """``[K, A]`` one-hot of each candidate's answer (a row of zeros: no answer, no vote)."""
    keys = sorted({a for a in answers if a is not None})
    code = {a: j for j, a in enumerate(keys)}
    out = np.zeros((len(answers), len(keys)))
    for i, a in enumerate(answers):
        if a is not None:
            out[i, code[a]] = 1.0
    return out


def _reward_credit(sc: np.ndarray, ok: np.ndarray, correct: np.ndarray, idx: np.ndarray) -> tuple[float, int]:
    """Mean over the subsets (rows of ``idx``) of `select_by_reward`, vectorised; and the number
    of subsets without any ok candidate (they count 0)."""
    v, m = sc[idx], ok[idx]  # [S, n]
    top = np.where(m, v, -np.inf).max(axis=1, keepdims=True)
    tied = m & (v == top)
    n_tied = tied.sum(axis=1)
    hit = (tied * correct[idx]).sum(axis=1)
    has = n_tied > 0
    credit = np.where(has, hit / np.maximum(n_tied, 1), 0.0)
    return float(credit.mean()), int((~has).sum())


def _vote_credit(onehot: np.ndarray, weights: np.ndarray, correct: np.ndarray, idx: np.ndarray) -> float:
    """Mean over the subsets of `select_by_majority` (all weights 1) or
    `select_by_weighted_majority`, vectorised with one-hot answer counts."""
    if onehot.shape[1] == 0:
        return 0.0
    counts = onehot[idx].sum(axis=1)  # [S, A] votes per answer
    totals = (onehot * weights[:, None])[idx].sum(axis=1)  # [S, A] weight per answer
    hits = (onehot * correct[:, None])[idx].sum(axis=1)  # [S, A] correct votes per answer
    present = counts > 0
    top = np.where(present, totals, -np.inf).max(axis=1, keepdims=True)
    tied = present & (totals == top)
    frac = np.divide(hits, counts, out=np.zeros_like(hits), where=present)
    n_tied = tied.sum(axis=1)
    credit = np.where(n_tied > 0, (frac * tied).sum(axis=1) / np.maximum(n_tied, 1), 0.0)
    return float(credit.mean())


def _subsets(k: int, n: int, max_subsets: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """``[S, n]`` candidate indices: every subset when there are at most ``max_subsets``, else
    ``max_subsets`` uniformly random ones (without replacement inside a subset)."""
    if math.comb(k, n) <= max_subsets:
        return np.asarray(list(itertools.combinations(range(k), n)), dtype=np.int64).reshape(-1, n), True
    return np.argsort(rng.random((max_subsets, k)), axis=1)[:, :n], False


def best_of_n_curve(scores: dict[str, Sequence[Sequence[float | None]]], correct: Sequence[Sequence[bool]],
                    answers: Sequence[Sequence[str | None]] | None = None, ns: Sequence[int] | None = None,
                    max_subsets: int = 256, seed: int = 0) -> dict[str, Any]:
    """Accuracy of every rule at every N, averaged over questions.

    scores: aggregation name -> per question, per candidate reward (``None`` = not ok).
    correct: per question, per candidate label. answers: per candidate final answers (majority).
    ns: the N values (default `default_ns` of the smallest K); questions with fewer than N candidates are
    left out of that N (their count is reported in ``n_questions``)."""
    if not correct:
        raise ValueError("no questions")
    for name, sc in scores.items():
        if len(sc) != len(correct) or any(len(a) != len(b) for a, b in zip(sc, correct, strict=True)):
            raise ValueError(f"scores[{name!r}] does not have one value per candidate")
    kmin = min(len(c) for c in correct)
    ns = list(ns) if ns is not None else default_ns(kmin)
    rng = np.random.default_rng(seed)
    arrays = {name: [_as_arrays(q) for q in sc] for name, sc in scores.items()}
    labels = [np.asarray(lab, dtype=np.float64) for lab in correct]
    onehots = [_onehot(a) for a in answers] if answers is not None else None
    # reward-weighted voting needs non-negative weights (probabilities, 0/1 verdicts)
    weighted = [name for name in scores if onehots is not None
                and all(s is None or s >= 0 for q in scores[name] for s in q)]
    curve = []
    exact_all = True
    for n in ns:
        sums: dict[str, float] = {name: 0.0 for name in scores}
        no_score = {name: 0 for name in scores}
        wmaj = {name: 0.0 for name in weighted}
        maj = orc = 0.0
        q = 0
        for qi, lab in enumerate(correct):
            k = len(lab)
            if k < n:
                continue
            subs, exact = _subsets(k, n, max_subsets, rng)
            exact_all &= exact
            q += 1
            lab_a = labels[qi]
            for name in scores:
                credit, missing = _reward_credit(*arrays[name][qi], lab_a, subs)
                sums[name] += credit
                no_score[name] += missing
            orc += float(lab_a[subs].max(axis=1).mean())
            if onehots is not None:
                maj += _vote_credit(onehots[qi], np.ones(k), lab_a, subs)
                for name in weighted:
                    sc_a, ok_a = arrays[name][qi]
                    wmaj[name] += _vote_credit(onehots[qi], np.where(ok_a, sc_a, 0.0), lab_a, subs)
        row: dict[str, Any] = {"n": n, "n_questions": q}
        for name in scores:
            row[f"reward/{name}"] = sums[name] / q if q else None
            row[f"no_score/{name}"] = no_score[name]
        for name in scores:
            row[f"weighted_majority/{name}"] = wmaj[name] / q if name in weighted and q else None
        row["majority"] = (maj / q if q else None) if answers is not None else None
        row["oracle"] = orc / q if q else None
        curve.append(row)
    return {"curve": curve, "exact": exact_all, "max_subsets": max_subsets, "seed": seed,
            "weighted_majority_skipped": [n for n in scores if n not in weighted] if answers is not None else []}
