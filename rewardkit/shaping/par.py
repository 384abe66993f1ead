"""Preference As Reward (PAR) and the RM-shaping baselines of Fu et al. (arXiv 2502.18770; §3).

All sequence-level; the shaped reward is placed on the EOS token like any sequence reward.

- PAR:      ``r_PAR = (1/M) Σ_m σ(k·(r − r_ref^m))`` over the prompt's M reference rewards
            (responses of the *reference* policy scored once by the same RM); in (0, 1).
- Centered: ``(1/M) Σ_m (r − r_ref^m)`` (unbounded; ablation).
- LSC:      ``log σ(r − r̂_ref)``, ``r̂_ref`` = 85th percentile of a normal fitted to the references
            (sample mean, sample std (ddof=1) + 1e-5).
- Meanstd / Clip / Minmax: running statistics over every reward seen (population std), updated
            with the batch *before* normalising: ``(r − μ)/σ``, ``clip(r, μ − σ, μ + σ)``,
            ``(r − min)/(max − min)``.

Shapes: ``r`` ``[N]``; refs ``[M]`` (shared) or ``[N, M]`` (per response; NaN = missing ref).
Every reference is used unless ``max_refs`` is given (then the first ``max_refs`` columns).
`ReferenceRewards` computes and caches the reference rewards per prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from rewardkit.shaping.normalize import RunningStats
from rewardkit.types import Sample

__all__ = [
    "par_reward",
    "centered_reward",
    "lsc_reward",
    "meanstd_reward",
    "running_clip_reward",
    "minmax_reward",
    "ReferenceRewards",
    "RunningStats",
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # numerically stable logistic
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _refs(r: np.ndarray, refs: Any, max_refs: int | None) -> np.ndarray:
    ref = np.asarray(refs, dtype=np.float64)
    if ref.ndim == 1:
        ref = np.broadcast_to(ref, (r.shape[0], ref.shape[0]))
    if ref.ndim != 2 or ref.shape[0] != r.shape[0]:
        raise ValueError(f"refs must be [M] or [N, M] with N={r.shape[0]}, got {ref.shape}")
    if max_refs is not None:
        ref = ref[:, :max_refs]
    return ref


def _r(r: Any) -> tuple[np.ndarray, bool]:
    x = np.asarray(r, dtype=np.float64)
    return np.atleast_1d(x), x.ndim == 0


def _out(x: np.ndarray, scalar: bool) -> Any:
    return float(x[0]) if scalar else x


def par_reward(r: Any, refs: Any, *, k: float = 1.0, max_refs: int | None = None) -> Any:
    """PAR: mean over the references of ``σ(k·(r − r_ref))``. NaN refs are skipped; a response
    with no reference gets NaN. Scalar or ``[N]`` in, same out."""
    x, scalar = _r(r)
    ref = _refs(x, refs, max_refs)
    have = np.isfinite(ref)
    s = _sigmoid(k * (x[:, None] - np.where(have, ref, 0.0)))
    n = have.sum(1)
    out = np.where(n > 0, np.where(have, s, 0.0).sum(1) / np.maximum(n, 1), np.nan)
    return _out(out, scalar)


def centered_reward(r: Any, refs: Any, *, max_refs: int | None = None) -> Any:
    """Centered: ``(1/M) Σ_m (r − r_ref^m)`` = ``r − mean(refs)``."""
    x, scalar = _r(r)
    ref = _refs(x, refs, max_refs)
    have = np.isfinite(ref)
    n = have.sum(1)
    mean = np.where(n > 0, np.where(have, ref, 0.0).sum(1) / np.maximum(n, 1), np.nan)
    return _out(x - mean, scalar)


_Z85 = NormalDist().inv_cdf(0.85)


def lsc_reward(r: Any, refs: Any, *, quantile: float = 0.85, std_eps: float = 1e-5,
               max_refs: int | None = None) -> Any:
    """LSC: ``log σ(r − r̂_ref)``, ``r̂_ref = mean + z_q·(std_ddof1 + std_eps)`` of the references."""
    x, scalar = _r(r)
    ref = _refs(x, refs, max_refs)
    have = np.isfinite(ref)
    n = have.sum(1)
    mean = np.where(have, ref, 0.0).sum(1) / np.maximum(n, 1)
    dev = np.where(have, ref - mean[:, None], 0.0) ** 2
    std = np.sqrt(dev.sum(1) / np.maximum(n - 1, 1))
    mean = np.where(n > 0, mean, np.nan)
    z = _Z85 if quantile == 0.85 else NormalDist().inv_cdf(quantile)
    pct = mean + z * (std + std_eps)
    return _out(_log_sigmoid(x - pct), scalar)


def meanstd_reward(r: Any, stats: RunningStats, *, update: bool = True, eps: float = 1e-8) -> np.ndarray:
    """Meanstd: ``(r − μ)/(σ + eps)`` with running stats, updated with ``r`` first (if ``update``)."""
    x = np.asarray(r, dtype=np.float64)
    if update:
        stats.update(x)
    return (x - stats.mean) / (stats.std + eps)


def running_clip_reward(r: Any, stats: RunningStats, *, update: bool = True) -> np.ndarray:
    """Clip baseline: ``clip(r, μ − σ, μ + σ)`` with running stats (updated first)."""
    x = np.asarray(r, dtype=np.float64)
    if update:
        stats.update(x)
    return np.clip(x, stats.mean - stats.std, stats.mean + stats.std)


def minmax_reward(r: Any, stats: RunningStats, *, update: bool = True, range_eps: float = 1e-8) -> np.ndarray:
    """Minmax: ``(r − min)/(max − min + range_eps)`` with running min/max (updated first)."""
    x = np.asarray(r, dtype=np.float64)
    if update:
        stats.update(x)
    return (x - stats.min) / (stats.max - stats.min + range_eps)


class ReferenceRewards:
    """Reference rewards per prompt, computed once with the same reward model and cached.

    ``source`` is any reward source (``.score(samples) -> results``); ``references`` maps a prompt
    (text) to the completions sampled from the *reference* policy for it. ``get(prompt)`` scores
    them on first use and returns the list of rewards (failed reference scores are dropped and
    counted in ``failures``). ``save`` / ``load`` keep the cache as JSON so that the RM runs once.
    """

    def __init__(self, source: Any = None, references: dict[str, Sequence[str]] | None = None,
                 cache: dict[str, list[float]] | None = None) -> None:
        self.source = source
        self.references = dict(references or {})
        self.cache: dict[str, list[float]] = dict(cache or {})
        self.failures: dict[str, int] = {}

    @staticmethod
    def key(prompt: Any) -> str:
        if isinstance(prompt, Sample):
            return prompt.prompt_text
        return prompt if isinstance(prompt, str) else Sample(prompt, "").prompt_text

    def prefetch(self, prompts: Iterable[Any]) -> None:
        """Score the references of all uncached ``prompts`` in one batch call."""
        todo = [self.key(p) for p in prompts]
        todo = list(dict.fromkeys(p for p in todo if p not in self.cache))
        if not todo:
            return
        if self.source is None:
            raise KeyError(f"no cached reference rewards for {len(todo)} prompt(s) and no source to compute them")
        batch, owner = [], []
        for p in todo:
            if p not in self.references:
                raise KeyError(f"no reference completions for prompt {p[:60]!r}")
            for c in self.references[p]:
                batch.append(Sample(prompt=p, completion=c))
                owner.append(p)
        results = self.source.score(batch)
        for p in todo:
            self.cache[p] = []
            self.failures[p] = 0
        for p, res in zip(owner, results, strict=True):
            if res.is_ok:
                self.cache[p].append(float(res.score))
            else:
                self.failures[p] += 1

    def get(self, prompt: Any) -> list[float]:
        k = self.key(prompt)
        if k not in self.cache:
            self.prefetch([k])
        return self.cache[k]

    def __contains__(self, prompt: Any) -> bool:
        return self.key(prompt) in self.cache

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.cache), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, source: Any = None,
             references: dict[str, Sequence[str]] | None = None) -> ReferenceRewards:
        return cls(source, references, cache=json.loads(Path(path).read_text(encoding="utf-8")))
