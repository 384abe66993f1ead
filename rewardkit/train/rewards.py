"""Rollouts -> rewards: score with a rewardkit pipeline, apply the status policy, place on tokens.

Order (one way): the pipeline scores every response (any source: verifiers, ORM/PRM, judges, a
remote rewardkit server through the ``remote`` source); `rewardkit.status_policy.StatusPolicy`
turns each status into ``(score, valid)`` -- the sample's own failures (no answer, a timeout it
caused) get the failing score and *count*, infrastructure failures are masked (``valid=False``);
then step and token rewards of valid rows are placed on the policy's tokens by
`rewardkit.alignment` (`dense_rewards`, `char_to_token`). The outcome score is kept apart from the
dense part so each estimator decides where it goes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rewardkit.alignment import char_to_token, dense_rewards
from rewardkit.status_policy import StatusPolicy
from rewardkit.train.config import RewardsConfig
from rewardkit.train.guards import NonFiniteError
from rewardkit.train.rollout import Rollout
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["ScoredRollout", "RolloutScorer"]

Tensor = torch.Tensor
_DEFAULT_PIPELINE = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@dataclass
class ScoredRollout:
    """scores ``[B]`` (after the status policy), valid ``[B]``, token_rewards ``[B, T]`` (step and
    token rewards only, 0 on masked rows), step_rewards / step_ends ``[B, K]`` (end = token index of
    the step's last character, -1 = padding)."""

    scores: Tensor
    valid: Tensor
    token_rewards: Tensor
    step_rewards: Tensor
    step_ends: Tensor
    results: list[RewardResult]
    metrics: dict[str, float] = field(default_factory=dict)


class RolloutScorer:
    def __init__(self, cfg: RewardsConfig, pipeline: Any = None) -> None:
        from rewardkit.pipeline import build_pipeline

        src = _DEFAULT_PIPELINE if cfg.pipeline == "default" else cfg.pipeline
        self.pipeline = pipeline if pipeline is not None else build_pipeline(src)
        self.policy = StatusPolicy.coerce(cfg.status_policy)
        self.step_placement = cfg.step_placement

    def close(self) -> None:
        """Stop the pipeline's worker processes (math verifier, sandbox)."""
        if hasattr(self.pipeline, "close"):
            self.pipeline.close()

    # running statistics of stateful transforms (running_normalize, rm_shaping) go into checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {str(i): t.state_dict() for i, t in enumerate(getattr(self.pipeline, "transforms", []))
                if hasattr(t, "state_dict")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for i, t in enumerate(getattr(self.pipeline, "transforms", [])):
            if str(i) in state:
                t.load_state_dict(state[str(i)])

    def __call__(self, roll: Rollout, step: int) -> ScoredRollout:
        samples = [Sample(prompt=p.raw, completion=text, reference=p.reference, id=p.id, group_id=p.id)
                   for p, text in zip(roll.prompts, roll.texts, strict=True)]
        results = self.pipeline.score(samples)
        scores, valid = self.policy.resolve_batch(results)
        _check_results(results, scores, step)
        # valid rows become ok results carrying their resolved score and their dense parts
        placed = [RewardResult(s, Status.OK, steps=r.steps, token_scores=r.token_scores, token_spans=r.token_spans)
                  if v else r for r, s, v in zip(results, scores, valid, strict=True)]
        lengths = roll.response_mask.sum(-1).tolist()
        T = roll.response_mask.shape[1]
        dense = dense_rewards(placed, roll.offsets, lengths=lengths, max_len=T, sequence=False,
                              step_placement=self.step_placement)
        step_rewards, step_ends = _steps(placed, valid, roll.offsets)
        device = roll.input_ids.device
        return ScoredRollout(
            scores=torch.tensor(scores, dtype=torch.float32, device=device),
            valid=torch.tensor(valid, dtype=torch.bool, device=device),
            token_rewards=dense.rewards.to(device),
            step_rewards=step_rewards.to(device),
            step_ends=step_ends.to(device),
            results=results,
            metrics=_metrics(results, scores, valid),
        )


def _check_results(results: list[RewardResult], scores: list[float], step: int) -> None:
    """Stop on inf/NaN rewards, naming the batch, the rows and the component that produced them."""
    for b, (r, s) in enumerate(zip(results, scores, strict=True)):
        bad = [] if math.isfinite(s) else ["score"]
        bad += [f"component {k!r}" for k, v in r.components.items() if v is not None and not math.isfinite(v)]
        bad += [f"step {i} [{st.start}:{st.end}]" for i, st in enumerate(r.steps or [])
                if st.score is not None and not math.isfinite(st.score)]
        if r.token_scores is not None and not all(math.isfinite(v) for v in r.token_scores):
            bad.append("token_scores")
        if bad:
            raise NonFiniteError(f"step {step}: non-finite reward for response {b} of the batch "
                                 f"(source: {', '.join(bad)}; components {r.components}); fix the reward "
                                 "source or give it a status instead of a number")


def _steps(placed: list[RewardResult], valid: list[bool], offsets: list[list[tuple[int, int]]]) -> tuple[Tensor, Tensor]:
    rows = []
    for r, v, offs in zip(placed, valid, offsets, strict=True):
        row = []
        if v and r.steps and offs:
            row = [(float(st.score), char_to_token(offs, st.end)) for st in r.steps if st.score is not None]
        rows.append(row)
    K = max((len(r) for r in rows), default=0) or 1
    rewards = torch.zeros(len(rows), K)
    ends = torch.full((len(rows), K), -1, dtype=torch.long)
    for b, row in enumerate(rows):
        for k, (s, e) in enumerate(row):
            rewards[b, k], ends[b, k] = s, e
    return rewards, ends


def _metrics(results: list[RewardResult], scores: list[float], valid: list[bool]) -> dict[str, float]:
    n = max(len(results), 1)
    out: dict[str, float] = {}
    ok_scores = [s for s, v in zip(scores, valid, strict=True) if v]
    out["reward/score"] = sum(ok_scores) / len(ok_scores) if ok_scores else float("nan")
    out["reward/masked_frac"] = 1 - len(ok_scores) / n
    counts = Counter(r.status.value for r in results)
    for st in Status:
        out[f"status/{st.value}"] = float(counts.get(st.value, 0))
    comps: dict[str, list[float]] = {}
    for r in results:
        for k, v in r.components.items():
            if v is not None:
                comps.setdefault(k, []).append(v)
    for k, vs in comps.items():
        out[f"reward/{k}"] = sum(vs) / len(vs)
    steps = [st.score for r in results for st in (r.steps or []) if st.score is not None]
    if steps:
        out["reward/step_mean"] = sum(steps) / len(steps)
    return out
