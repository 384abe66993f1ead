"""Per-token KL estimators and KL-in-reward (§1.1), plus RTO's dense DPO reward (§9.7).

With ``d_t = log π(y_t) − log π_ref(y_t)`` (Schulman, "Approximating KL divergence"):

- k1 = ``d_t``                        unbiased for KL(π‖π_ref), can be negative;
- k2 = ``d_t² / 2``                   non-negative, biased;
- k3 = ``exp(−d_t) − 1 + d_t``        non-negative, unbiased (GRPO's KL-in-loss estimator).

OpenRLHF clamps the estimate to ``[−10, 10]`` (``clamp=10.0``; ``None`` disables it). For KL in the
*reward* (PPO / RLOO / REINFORCE++), π is the rollout policy and the log-probs are constants:
``r_t = −β·k_t + 1[t = last]·R``. For KL in the *loss* (GRPO) call `approx_kl` with the current
log-probs so that it carries gradient; never apply both unless deliberately configured.

Shapes: log-probs ``[B, T]``; mask ``[B, T]`` bool; scores ``[B]``. torch in, torch out.
"""

from __future__ import annotations

from typing import Literal

import torch

from rewardkit.train.advantages import place_on_last_token

__all__ = ["kl_k1", "kl_k2", "kl_k3", "approx_kl", "kl_penalized_rewards", "rto_token_rewards"]

Estimator = Literal["k1", "k2", "k3"]
Tensor = torch.Tensor


def kl_k1(logp: Tensor, logp_ref: Tensor) -> Tensor:
    return logp - logp_ref


def kl_k2(logp: Tensor, logp_ref: Tensor) -> Tensor:
    return (logp - logp_ref) ** 2 / 2


def kl_k3(logp: Tensor, logp_ref: Tensor) -> Tensor:
    d = logp - logp_ref
    return torch.expm1(-d) + d


_EST = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


def _check_shapes(a: Tensor, b: Tensor, mask: Tensor | None, names: tuple[str, str]) -> None:
    """Log-prob tensors (and the mask) of one shape: never broadcast silently."""
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if mask is not None and tuple(mask.shape) != tuple(a.shape):
        raise ValueError(f"mask must have the shape of {names[0]} {tuple(a.shape)}, got {tuple(mask.shape)}")


def approx_kl(logp: Tensor, logp_ref: Tensor, estimator: Estimator = "k1", *, clamp: float | None = 10.0,
              mask: Tensor | None = None) -> Tensor:
    """Per-token KL estimate ``[B, T]`` (0 outside ``mask`` if given)."""
    try:
        fn = _EST[estimator]
    except KeyError:
        raise ValueError(f"estimator must be one of k1, k2, k3; got {estimator!r}") from None
    _check_shapes(logp, logp_ref, mask, ("logp", "logp_ref"))
    if estimator == "k3" and clamp is not None:
        # beyond d < -clamp k3 exceeds the cap anyway; bound before exp to avoid overflow
        logp = torch.maximum(logp, logp_ref - clamp)
    k = fn(logp, logp_ref)
    if clamp is not None:
        k = k.clamp(-clamp, clamp)
    if mask is not None:
        k = torch.where(mask.to(torch.bool), k, torch.zeros((), dtype=k.dtype, device=k.device))
    return k


def kl_penalized_rewards(scores: Tensor, logp: Tensor, logp_ref: Tensor, mask: Tensor, *, kl_coef: float,
                         estimator: Estimator = "k1", clamp: float | None = 10.0,
                         valid: Tensor | None = None) -> Tensor:
    """Token rewards ``r_t = −β·k_t + 1[t = last valid token]·R`` (``[B, T]``, 0 outside the mask).

    Invalid rows (``valid[b]`` False: the reward failed) get the KL term only, no sequence reward.
    """
    m = mask.to(torch.bool)
    k = approx_kl(logp, logp_ref, estimator, clamp=clamp, mask=m)
    return place_on_last_token(scores, m, valid).to(k.dtype) - kl_coef * k


def rto_token_rewards(logp_dpo: Tensor, logp_ref: Tensor, *, beta: float = 0.05, clip: float = 0.05,
                      mask: Tensor | None = None) -> Tensor:
    """RTO dense reward ``clip(β₁·(log π_dpo − log π_ref), −c, c)`` (defaults β₁ = c = 0.05).

    Add it to `kl_penalized_rewards` for the full RTO token reward.
    """
    _check_shapes(logp_dpo, logp_ref, mask, ("logp_dpo", "logp_ref"))
    r = (beta * (logp_dpo - logp_ref)).clamp(-clip, clip)
    if mask is not None:
        r = torch.where(mask.to(torch.bool), r, torch.zeros((), dtype=r.dtype, device=r.device))
    return r
