"""Policy-gradient losses as small pure functions returning ``(loss, stats)``.

Notation: B responses, T response tokens (padded); every tensor is ``[B, T]`` and ``mask`` marks
the valid response tokens. ``stats`` holds detached scalar tensors named as logged (see
``docs/training.md``).

- `policy_loss`: PPO's clipped surrogate with the ratio ``ρ_t = exp(log π_θ − log π_old)``:
  ``ℓ_t = −min(ρ_t·A_t, clip(ρ_t, 1−ε_low, 1+ε_high)·A_t)``. ``ε_high > ε_low`` is DAPO's
  clip-higher (Yu et al., arXiv 2503.14476; ε_low 0.2, ε_high 0.28). With ``dual_clip = c > 1``
  (Ye et al., arXiv 1912.09729) a negative-advantage token's loss is additionally capped:
  ``ℓ_t = min(ℓ_t, −c·A_t)`` for ``A_t < 0``, so a huge ratio cannot blow up the update.
- `kl_loss`: ``β·k(log π_θ, log π_ref)`` per token with the k1/k2/k3 estimators of
  `rewardkit.shaping.kl` (GRPO puts k3 in the loss; DeepSeekMath, arXiv 2402.03300).
- `entropy_loss`: ``−c·H_t`` (an entropy *bonus* lowers the loss).
- `value_loss`: PPO's clipped value loss ``½·max((V−R)², (V_old + clip(V−V_old, ±ε_v) − R)²)``.

Every per-token loss is reduced by one `aggregate` rule (REWARD_METHODS §10.2, length bias):

- ``token_mean``: ``Σ_{b,t} ℓ·m / Σ m`` over the whole batch (DAPO);
- ``seq_mean_token_mean``: ``(1/B) Σ_b (Σ_t ℓ·m / Σ_t m)`` (GRPO paper, ``1/|o_i|``);
- ``seq_mean_token_sum_norm``: ``(1/B) Σ_b Σ_t ℓ·m / L`` with a constant ``L`` (Dr. GRPO,
  arXiv 2503.20783: ``L`` = the generation budget, so long and short answers weigh alike per token).

With several micro-batches, pass ``num_seqs`` / ``num_tokens`` of the whole mini-batch so that the
sum of the micro-batch losses equals the loss of the mini-batch in one piece.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

from rewardkit.shaping.kl import approx_kl

__all__ = ["aggregate", "policy_loss", "kl_loss", "entropy_loss", "value_loss", "AGGREGATIONS", "Aggregation"]

Tensor = torch.Tensor
Aggregation = Literal["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"]


def _token_mean(x: Tensor, m: Tensor, *, num_seqs: float | None, num_tokens: float | None,
                constant: float | None) -> Tensor:
    den = m.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=x.dtype, device=x.device)
    return (x * m).sum() / den.clamp(min=1)


def _seq_mean_token_mean(x: Tensor, m: Tensor, *, num_seqs: float | None, num_tokens: float | None,
                         constant: float | None) -> Tensor:
    per_seq = (x * m).sum(-1) / m.sum(-1).clamp(min=1)
    return per_seq.sum() / max(num_seqs if num_seqs is not None else x.shape[0], 1)


def _seq_mean_token_sum_norm(x: Tensor, m: Tensor, *, num_seqs: float | None, num_tokens: float | None,
                             constant: float | None) -> Tensor:
    if constant is None or constant <= 0:
        raise ValueError("aggregation 'seq_mean_token_sum_norm' needs a positive constant "
                         "(Dr. GRPO: the generation budget, max_new_tokens)")
    return (x * m).sum() / constant / max(num_seqs if num_seqs is not None else x.shape[0], 1)


AGGREGATIONS: dict[str, Callable[..., Tensor]] = {
    "token_mean": _token_mean,
    "seq_mean_token_mean": _seq_mean_token_mean,
    "seq_mean_token_sum_norm": _seq_mean_token_sum_norm,
}


def aggregate(x: Tensor, mask: Tensor, mode: Aggregation = "token_mean", *, constant: float | None = None,
              num_seqs: float | None = None, num_tokens: float | None = None) -> Tensor:
    """Reduce a per-token quantity ``[B, T]`` to a scalar with one of the rules above."""
    if x.shape != mask.shape:
        raise ValueError(f"loss has shape {tuple(x.shape)} but mask has shape {tuple(mask.shape)}")
    try:
        fn = AGGREGATIONS[mode]
    except KeyError:
        raise ValueError(f"aggregation must be one of {sorted(AGGREGATIONS)}; got {mode!r}") from None
    m = mask.to(torch.bool)
    x = torch.where(m, x, torch.zeros((), dtype=x.dtype, device=x.device))  # NaN in padding stays out
    return fn(x, m.to(x.dtype), num_seqs=num_seqs, num_tokens=num_tokens, constant=constant)


def _masked_mean(x: Tensor, m: Tensor) -> Tensor:
    m = m.to(x.dtype)
    return ((x * m).sum() / m.sum().clamp(min=1)).detach()


def policy_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *, clip_low: float = 0.2,
                clip_high: float | None = None, dual_clip: float | None = None,
                aggregation: Aggregation = "token_mean", constant: float | None = None,
                num_seqs: float | None = None, num_tokens: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate (clip, clip-higher, dual-clip); see the module docstring.

    ``clip_high=None`` means symmetric (``= clip_low``). Returns ``(loss, stats)`` with
    ``loss/policy``, ``policy/clip_frac`` (tokens whose clipped term was the active one),
    ``policy/dual_clip_frac``, ``policy/ratio_mean`` and ``policy/approx_kl_old`` (k3 between
    π_old and π_θ, a step-size diagnostic).
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (Ye et al. use 3); got {dual_clip}")
    clip_high = clip_low if clip_high is None else clip_high
    m = mask.to(torch.bool)
    log_ratio = torch.where(m, logp - old_logp, torch.zeros_like(logp))
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.maximum(unclipped, clipped)
    clip_active = clipped > unclipped
    if dual_clip is not None:
        cap = -advantages * dual_clip  # positive where A < 0
        capped = (advantages < 0) & (per_token > cap)
        per_token = torch.where(capped, cap, per_token)
    else:
        capped = torch.zeros_like(m)
    loss = aggregate(per_token, m, aggregation, constant=constant, num_seqs=num_seqs, num_tokens=num_tokens)
    stats = {
        "loss/policy": loss.detach(),
        "policy/clip_frac": _masked_mean(clip_active.to(logp.dtype), m),
        "policy/dual_clip_frac": _masked_mean(capped.to(logp.dtype), m),
        "policy/ratio_mean": _masked_mean(ratio, m),
        "policy/approx_kl_old": _masked_mean(torch.expm1(log_ratio) - log_ratio, m),
    }
    return loss, stats


def kl_loss(logp: Tensor, ref_logp: Tensor, mask: Tensor, *, coef: float, estimator: Literal["k1", "k2", "k3"] = "k3",
            clamp: float | None = 10.0, aggregation: Aggregation = "token_mean", constant: float | None = None,
            num_seqs: float | None = None, num_tokens: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """``coef · aggregate(k(log π_θ, log π_ref))`` -- KL to the reference *in the loss*.

    ``logp`` must carry gradient. Stats: ``loss/kl`` (the weighted term) and ``kl/<estimator>``
    (the unweighted per-token mean).
    """
    k = approx_kl(logp, ref_logp, estimator, clamp=clamp, mask=mask)
    agg = aggregate(k, mask, aggregation, constant=constant, num_seqs=num_seqs, num_tokens=num_tokens)
    loss = coef * agg
    return loss, {"loss/kl": loss.detach(), f"kl/{estimator}": _masked_mean(k, mask)}


def entropy_loss(entropy: Tensor, mask: Tensor, *, coef: float, aggregation: Aggregation = "token_mean",
                 constant: float | None = None, num_seqs: float | None = None,
                 num_tokens: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """``−coef · aggregate(H)``: an entropy bonus. Stats: ``loss/entropy``, ``policy/entropy``."""
    agg = aggregate(entropy, mask, aggregation, constant=constant, num_seqs=num_seqs, num_tokens=num_tokens)
    loss = -coef * agg
    return loss, {"loss/entropy": loss.detach(), "policy/entropy": _masked_mean(entropy, mask)}


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, *, clip: float | None = 0.2,
               aggregation: Aggregation = "token_mean", constant: float | None = None,
               num_seqs: float | None = None, num_tokens: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO value loss ``½·max((V−R)², (V_clip−R)²)``, ``V_clip = V_old + clip(V−V_old, −ε, ε)``.

    ``clip=None`` gives the plain ``½(V−R)²``. Stats: ``loss/value``, ``value/clip_frac``,
    ``value/mean``, ``value/explained_var`` is left to the recipe (it needs the whole batch).
    """
    err = (values - returns) ** 2
    if clip is not None:
        v_clip = old_values + torch.clamp(values - old_values, -clip, clip)
        err_clip = (v_clip - returns) ** 2
        per_token = 0.5 * torch.maximum(err, err_clip)
        frac = _masked_mean((err_clip > err).to(values.dtype), mask)
    else:
        per_token = 0.5 * err
        frac = torch.zeros((), dtype=values.dtype)
    loss = aggregate(per_token, mask, aggregation, constant=constant, num_seqs=num_seqs, num_tokens=num_tokens)
    return loss, {"loss/value": loss.detach(), "value/clip_frac": frac, "value/mean": _masked_mean(values, mask)}
