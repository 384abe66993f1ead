"""Implicit process rewards from log-ratios (Yuan et al., arXiv 2412.01981; PRIME; §4).

With ``lr_t = log π_θ(y_t) − log π_ref(y_t)`` of an implicit PRM ``π_θ`` (trained on outcome labels)
and its reference ``π_ref``:

- token reward ``r_t = β·lr_t``; cumulative value ``q_t = Σ_{i≤t} β·lr_i``;
- step reward = ``β·Σ_{t in step k} lr_t`` = ``q_{end(k)} − q_{end(k−1)}``;
- sequence (outcome) reward ``r_θ(y) = Σ_t β·lr_t``;
- Best-of-N scores ``min_step_reward`` (``"single"`` + min), ``min_q`` (``"accumulative"`` + min),
  ``sum``; the training loss `implicit_prm_ce_loss` is ``−[l·log σ(r_θ) + (1−l)·log(1 − σ(r_θ))]``.

Shapes: one response, log-probs ``[T]``; step ends (inclusive last-token indices) ``[K]``. torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = ["implicit_token_rewards", "implicit_q_values", "implicit_step_rewards", "implicit_score",
           "implicit_prm_ce_loss"]

Tensor = torch.Tensor


def implicit_token_rewards(logp: Tensor, logp_ref: Tensor, beta: float = 0.05) -> Tensor:
    """``β·(log π_θ − log π_ref)`` per token. ``[..., T]`` -> ``[..., T]`` (same shapes; no broadcast)."""
    a, b = torch.as_tensor(logp), torch.as_tensor(logp_ref)
    if a.shape != b.shape:
        raise ValueError(f"logp and logp_ref must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return beta * (a - b)


def implicit_q_values(token_rewards: Tensor) -> Tensor:
    """``q_t = Σ_{i≤t} r_i``. ``[..., T]`` -> ``[..., T]``."""
    return torch.cumsum(torch.as_tensor(token_rewards), dim=-1)


def implicit_step_rewards(token_rewards: Tensor, step_ends: Sequence[int]) -> Tensor:
    """Step rewards: differences of ``q`` at consecutive step ends. ``[T]`` -> ``[K]``."""
    q = implicit_q_values(token_rewards)
    at = q[torch.as_tensor(list(step_ends), dtype=torch.long)]
    return torch.diff(at, prepend=torch.zeros(1, dtype=at.dtype))


def implicit_score(token_rewards: Tensor, step_ends: Sequence[int],
                   how: Literal["min_step_reward", "min_q", "sum"] = "min_step_reward") -> Tensor:
    """Best-of-N score of one response (``min_step_reward``, ``min_q`` at step ends, or ``sum``)."""
    r = torch.as_tensor(token_rewards)
    if how == "sum":
        return r.sum(-1)
    if how == "min_step_reward":
        return implicit_step_rewards(r, step_ends).min()
    if how == "min_q":
        return implicit_q_values(r)[torch.as_tensor(list(step_ends), dtype=torch.long)].min()
    raise ValueError(f"how must be 'min_step_reward', 'min_q' or 'sum'; got {how!r}")


def implicit_prm_ce_loss(sequence_reward: Tensor, label: Tensor) -> Tensor:
    """Cross-entropy on the implicit outcome reward: ``BCE(σ(r_θ(y)), l)`` (mean over the batch)."""
    r = torch.as_tensor(sequence_reward)
    return F.binary_cross_entropy_with_logits(r, torch.as_tensor(label, dtype=r.dtype))
