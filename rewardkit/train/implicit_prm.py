"""PRIME's online implicit PRM (Cui et al., arXiv 2502.01456; Yuan et al., arXiv 2412.01981).

A copy ``π_φ`` of the initial policy is trained online with cross-entropy on the *outcome* labels
of each fresh rollout batch, ``L = BCE(σ(Σ_t β·(log π_φ − log π_ref)), l)``; its token rewards
``r_t = β·(log π_φ(y_t) − log π_ref(y_t))`` are dense process rewards that need no step labels.
As in PRIME, the PRM is updated on the batch first, then scores it; the `prime` estimator turns
these token rewards plus the outcome into advantages. The math is `rewardkit.shaping.implicit`.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardkit.shaping.implicit import implicit_prm_ce_loss, implicit_token_rewards
from rewardkit.train.common import forward_logprobs, micro_slices
from rewardkit.train.rollout import Rollout

__all__ = ["OnlineImplicitPRM"]

Tensor = torch.Tensor


class OnlineImplicitPRM:
    """``model`` (trainable, pass it through ``accelerator.prepare`` with ``optimizer``) and a frozen
    reference ``ref``, both loaded from ``path``."""

    def __init__(self, path: str, *, beta: float, lr: float, device: torch.device) -> None:
        from transformers import AutoModelForCausalLM

        self.beta = beta
        self.model = AutoModelForCausalLM.from_pretrained(path)
        self.ref = AutoModelForCausalLM.from_pretrained(path).to(device).eval()
        self.ref.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)

    @torch.no_grad()
    def _logprobs(self, model: Any, roll: Rollout, micro: int) -> Tensor:
        B = roll.input_ids.shape[0]
        return torch.cat([forward_logprobs(model, roll.select(i), 1.0)[0] for i in micro_slices(torch.arange(B), micro)])

    def update(self, acc: Any, roll: Rollout, labels: Tensor, valid: Tensor, micro: int) -> dict[str, float]:
        """One optimiser step of CE on the valid rows (labels in [0, 1]: the outcome score)."""
        mask = roll.response_mask
        ref_logp = self._logprobs(self.ref, roll, micro)
        rows = valid.nonzero().flatten()
        if len(rows) == 0:
            return {}
        y = labels.clamp(0, 1)
        losses, correct = [], 0.0
        for idx in micro_slices(rows, micro):
            logp = forward_logprobs(self.model, roll.select(idx), 1.0)[0]
            r = (implicit_token_rewards(logp, ref_logp[idx], self.beta) * mask[idx]).sum(-1)
            loss = implicit_prm_ce_loss(r, y[idx]) * (len(idx) / len(rows))
            acc.backward(loss)
            losses.append(float(loss))
            correct += float(((r > 0).float() == (y[idx] > 0.5).float()).sum())
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"prm/loss": sum(losses), "prm/accuracy": correct / len(rows)}

    def token_rewards(self, roll: Rollout, micro: int) -> Tensor:
        """``β·(log π_φ − log π_ref)`` on the response tokens, 0 elsewhere. ``[B, T]``."""
        r = implicit_token_rewards(self._logprobs(self.model, roll, micro), self._logprobs(self.ref, roll, micro),
                                   self.beta)
        return r * roll.response_mask
