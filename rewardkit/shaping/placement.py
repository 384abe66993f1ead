"""Placing step rewards on tokens: at the end of the step, or spread over the step's tokens.

Step rewards arrive as `StepScore` character spans (`RewardResult.steps`); `rewardkit.alignment`
maps characters to the policy's tokens. Modes:

- ``"end"``    (default, §0): ``r_k`` on the last token of step k, 0 on its other tokens;
- ``"spread"``: ``r_k / n_k`` on each of the step's ``n_k`` tokens (same sum, denser signal);
- ``"fill"``:   ``r_k`` on *every* token of step k (not a reward placement -- sums change -- but what
               PAV's progress term needs, see `rewardkit.train.advantages.pav_advantages`).

`step_tensors` produces the ``(step_rewards, step_mask)`` pair that
`rewardkit.train.advantages.grpo_process_advantages` consumes.
Shapes: B = batch, T = max response tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from rewardkit.alignment import DenseRewards, char_to_token, dense_rewards
from rewardkit.types import RewardResult

__all__ = ["steps_to_tokens", "place_steps", "step_tensors"]

Mode = Literal["end", "spread", "fill"]


def steps_to_tokens(values: Any, ends: Sequence[int], length: int, *, starts: Sequence[int] | None = None,
                    mode: Mode = "end") -> np.ndarray:
    """One response: step values ``[K]`` with last-token indices ``ends`` -> token rewards ``[length]``.

    Steps are contiguous: step k spans ``starts[k]..ends[k]`` (default ``starts[k] = ends[k−1] + 1``).
    """
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray(ends, dtype=np.int64)
    if v.shape != e.shape or v.ndim != 1:
        raise ValueError(f"values and ends must be matching [K] arrays, got {v.shape} and {e.shape}")
    s = np.concatenate([[0], e[:-1] + 1]) if starts is None else np.asarray(starts, dtype=np.int64)
    if e.size and (e.max() >= length or s.min() < 0 or np.any(s > e)):
        raise ValueError(f"step spans {list(zip(s.tolist(), e.tolist(), strict=True))} invalid for {length} tokens")
    out = np.zeros(length, dtype=np.float64)
    if mode == "end":
        np.add.at(out, e, v)
    elif mode in ("spread", "fill"):
        for a, b, x in zip(s, e, v, strict=True):
            out[a : b + 1] += x / (b - a + 1) if mode == "spread" else x
    else:
        raise ValueError(f"mode must be 'end', 'spread' or 'fill', got {mode!r}")
    return out


def place_steps(results: Sequence[RewardResult], offsets: Sequence[Sequence[tuple[int, int]]], *,
                lengths: Sequence[int] | None = None, max_len: int | None = None,
                mode: Literal["end", "spread"] = "end", sequence: bool = True,
                backend: Literal["torch", "numpy"] = "torch") -> DenseRewards:
    """Dense ``[B, T]`` rewards of a batch: step rewards placed by ``mode`` plus (``sequence``) each
    sequence score on the last valid token. Non-ok rows are all-zero with ``valid[b] = False``."""
    return dense_rewards(results, offsets, lengths=lengths, max_len=max_len, sequence=sequence, steps=True,
                         tokens=False, step_placement=mode, backend=backend)


def step_tensors(results: Sequence[RewardResult], offsets: Sequence[Sequence[tuple[int, int]]], *,
                 lengths: Sequence[int] | None = None, max_len: int | None = None,
                 backend: Literal["torch", "numpy"] = "torch") -> tuple[Any, Any, Any, Any]:
    """``(step_rewards [B, T], step_mask [B, T], mask [B, T], valid [B])`` for process-reward
    estimators: each scored step's reward on its last token, ``step_mask`` marking those tokens.

    Steps whose score is None are left out (not marked). Two steps ending on the same policy token
    are summed into one entry. Rows of non-ok results have no steps and ``valid = False``.
    """
    B = len(results)
    if len(offsets) != B:
        raise ValueError(f"got {len(offsets)} offset lists for {B} results")
    lens = [len(o) for o in offsets] if lengths is None else [int(n) for n in lengths]
    T = max_len if max_len is not None else max(lens, default=0)
    rew = np.zeros((B, T), dtype=np.float32)
    smask = np.zeros((B, T), dtype=bool)
    mask = np.zeros((B, T), dtype=bool)
    valid = np.zeros(B, dtype=bool)
    for b, res in enumerate(results):
        n = min(lens[b], T)
        mask[b, :n] = True
        if not res.is_ok or n == 0:
            continue
        valid[b] = True
        offs = list(offsets[b][:n])
        for st in res.steps or ():
            if st.score is None:
                continue
            t = char_to_token(offs, st.end)
            rew[b, t] += st.score
            smask[b, t] = True
    if backend == "numpy":
        return rew, smask, mask, valid
    import torch

    return tuple(torch.from_numpy(a) for a in (rew, smask, mask, valid))  # type: ignore[return-value]
