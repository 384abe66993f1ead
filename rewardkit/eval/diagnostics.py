"""Reward-hacking diagnostics: does the reward follow surface features, and did it drift?

A reward that correlates with length or formatting more than with quality is what a policy learns
to exploit (length hacking: Singhal et al. 2023, "A Long Way to Go"; Gao et al. 2023,
over-optimisation). `feature_correlations` reports Spearman's rank correlation of the reward with
each surface feature of the completion; a feature that is constant over the samples has no
correlation (``None``). `reward_drift` compares two reward samples (two checkpoints' rollouts):
the two-sample Kolmogorov-Smirnov statistic and p-value, the 1-Wasserstein distance, and the
shift of mean and standard deviation.

Samples whose reward is not ok are not rewards: callers pass ok scores only and report how many
were left out (`rewardkit.eval.runs` does).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["FORMAT_FEATURES", "surface_features", "feature_correlations", "reward_drift"]

_RX: dict[str, re.Pattern[str]] = {
    "markdown_headers": re.compile(r"^#{1,6}\s", re.M),
    "bullets": re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.M),
    "bold": re.compile(r"\*\*[^*\n]+\*\*"),
    "code_blocks": re.compile(r"```"),
    "boxed": re.compile(r"\\boxed\{"),
    "answer_phrases": re.compile(r"\b(?:the (?:final )?answer is|answer:)", re.I),
    "exclamations": re.compile(r"!"),
}

def _count(rx: re.Pattern[str], text: str) -> float:
    return float(len(rx.findall(text)))


#: feature name -> function of the completion text
FORMAT_FEATURES: dict[str, Callable[[str], float]] = {
    "chars": lambda t: float(len(t)),
    "words": lambda t: float(len(t.split())),
    "lines": lambda t: float(t.count("\n") + 1 if t else 0),
    **{name: functools.partial(_count, rx) for name, rx in _RX.items()},
}


def surface_features(text: str) -> dict[str, float]:
    """Every `FORMAT_FEATURES` value of one completion."""
    return {name: f(text) for name, f in FORMAT_FEATURES.items()}


def feature_correlations(rewards: Sequence[float], texts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Spearman rho and p-value of the reward with each surface feature."""
    from scipy.stats import spearmanr

    if len(rewards) != len(texts):
        raise ValueError(f"{len(rewards)} rewards for {len(texts)} texts")
    r = np.asarray(rewards, dtype=np.float64)
    out: dict[str, dict[str, Any]] = {}
    for name, f in FORMAT_FEATURES.items():
        x = np.array([f(t) for t in texts], dtype=np.float64)
        if len(r) < 3 or np.ptp(x) == 0 or np.ptp(r) == 0:
            out[name] = {"spearman": None, "p_value": None, "mean": float(x.mean()) if len(x) else None}
            continue
        res = spearmanr(r, x)
        out[name] = {"spearman": float(res.statistic), "p_value": float(res.pvalue), "mean": float(x.mean())}
    return out


def reward_drift(before: Sequence[float], after: Sequence[float]) -> dict[str, Any]:
    """How the reward distribution moved from ``before`` to ``after``."""
    from scipy.stats import ks_2samp, wasserstein_distance

    a = np.asarray(before, dtype=np.float64)
    b = np.asarray(after, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"reward_drift needs two non-empty samples, got {a.size} and {b.size}")
    ks = ks_2samp(a, b)
    return {"n_before": int(a.size), "n_after": int(b.size), "mean_before": float(a.mean()),
            "mean_after": float(b.mean()), "mean_shift": float(b.mean() - a.mean()),
            "std_before": float(a.std()), "std_after": float(b.std()),
            "ks_statistic": float(ks.statistic), "ks_p_value": float(ks.pvalue),
            "wasserstein": float(wasserstein_distance(a, b))}
