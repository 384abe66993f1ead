"""Critic-free advantage estimators of the GRPO recipe, by name -> one function each.

Each adapter only wires a `ScoredRollout` into the pure estimators of
`rewardkit.train.advantages` (which hold the math, formulas and tests); the recipe looks the name
up once. ``kl`` is ``β·k_t`` per token when the KL goes into the reward (else ``None``): sequence
estimators subtract its sum from the score (RLOO's original form), REINFORCE++ adds it per token.

- ``grpo``: ``(r_i − mean_g)/(std_g + eps)`` on every token (DeepSeekMath, outcome supervision).
- ``grpo_process``: ``c_o·A_outcome + c_p·A_process`` where ``A_process`` is GRPO process
  supervision over the step rewards (one pool per prompt, reward-to-go); ``c_o = 0`` is the
  paper's pure process supervision.
- ``dr_grpo``: ``r_i − mean_g`` (pair it with ``loss.aggregation: seq_mean_token_sum_norm``).
- ``rloo``: leave-one-out baseline ``G/(G−1)·(r_i − mean_g)``.
- ``reinforce_pp`` / ``reinforce_pp_baseline``: token rewards (KL per token, score on the last
  token), reward-to-go, global whitening; the baseline variant centres scores per group first.
- ``prime``: RLOO on the dense token rewards plus RLOO on the outcome (PRIME's advantage), with
  the pipeline's step/token rewards as the process rewards.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rewardkit.train import advantages as adv
from rewardkit.train.config import AlgorithmConfig
from rewardkit.train.rewards import ScoredRollout

__all__ = ["ESTIMATORS", "Estimator"]

Tensor = torch.Tensor
Estimator = Callable[[ScoredRollout, Tensor, int, Tensor | None, AlgorithmConfig], Tensor]


def _scores(s: ScoredRollout, kl: Tensor | None) -> Tensor:
    return s.scores if kl is None else s.scores - kl.sum(-1)


def grpo(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
    return adv.grpo_outcome_advantages(_scores(s, kl), mask, group_size=G, valid=s.valid, scale=a.scale,
                                       ddof=a.ddof, eps=a.eps)


def grpo_process(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
    outcome = grpo(s, mask, G, kl, a)
    process = adv.grpo_process_advantages_from_steps(s.step_rewards, s.step_ends, mask, group_size=G,
                                                     valid=s.valid, ddof=a.ddof, eps=a.eps)
    return a.outcome_coef * outcome + a.process_coef * process


def dr_grpo(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
    return adv.dr_grpo_advantages(_scores(s, kl), mask, group_size=G, valid=s.valid)


def rloo(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
    return adv.rloo_advantages(_scores(s, kl), mask, group_size=G, valid=s.valid)


def _reinforce(baseline: str) -> Estimator:
    def reinforce(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
        A, _ = adv.reinforce_pp_advantages(s.scores, mask, kl=kl, kl_coef=1.0 if kl is not None else 0.0,
                                           gamma=a.gamma, baseline=baseline, group_size=G, valid=s.valid)  # type: ignore[arg-type]
        return A
    reinforce.__name__ = f"reinforce_pp_{baseline}"
    return reinforce


def prime(s: ScoredRollout, mask: Tensor, G: int, kl: Tensor | None, a: AlgorithmConfig) -> Tensor:
    A = adv.prime_advantages(s.token_rewards, _scores(s, kl), mask, group_size=G, valid=s.valid,
                             process_coef=a.process_coef, outcome_coef=a.outcome_coef)
    return adv.masked_whiten(A, mask, s.valid)


ESTIMATORS: dict[str, Estimator] = {
    "grpo": grpo,
    "grpo_process": grpo_process,
    "dr_grpo": dr_grpo,
    "rloo": rloo,
    "reinforce_pp": _reinforce("none"),
    "reinforce_pp_baseline": _reinforce("group_mean"),
    "prime": prime,
}
