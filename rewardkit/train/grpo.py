"""GRPO-family recipe (no critic): prompts -> G responses each -> rewards -> group advantages -> PPO-clip.

Reads top to bottom; every piece is a function from elsewhere:

1. rollouts: `rollout.ENGINES[rollout.engine]` samples ``G`` responses per prompt;
2. rewards: `rewards.RolloutScorer` (pipeline -> status policy -> token placement);
3. log-probs: behaviour policy (only when it differs from the current one: several PPO updates,
   or KL in the reward) and reference (``loss.kl_coef > 0``; LoRA: adapters disabled);
4. advantages: `estimators.ESTIMATORS[algorithm.estimator]`, optional dynamic sampling;
5. update: ``optim.epochs`` x ``optim.minibatches`` optimiser steps of `losses.policy_loss`
   (+ `kl_loss` + `entropy_loss`), micro-batched with gradient accumulation;
6. bookkeeping: metrics (docs/training.md), checkpoints, exact resume.

Launch on several devices with ``accelerate launch -m rewardkit train --config train.yaml``.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import torch

from rewardkit.shaping.kl import approx_kl
from rewardkit.train.common import (
    Checkpointer,
    MetricsLogger,
    ReferencePolicy,
    TrainResult,
    TrainState,
    build_optimizer,
    forward_logprobs,
    load_policy,
    load_tokenizer,
    mean_stats,
    micro_slices,
    minibatch_indices,
)
from rewardkit.train.config import TrainConfig, load_train_config
from rewardkit.train.estimators import ESTIMATORS
from rewardkit.train.guards import check_finite, oom_hint
from rewardkit.train.implicit_prm import OnlineImplicitPRM
from rewardkit.train.losses import entropy_loss, kl_loss, policy_loss
from rewardkit.train.rewards import RolloutScorer
from rewardkit.train.rollout import ENGINES, PromptStream, Rollout

__all__ = ["train", "policy_update", "behaviour_logprobs", "groups_with_variance"]

Tensor = torch.Tensor


@torch.no_grad()
def behaviour_logprobs(model: Any, roll: Rollout, temperature: float, micro: int) -> Tensor:
    """Log-probs of the sampled tokens under the policy that sampled them (before any update)."""
    B = roll.input_ids.shape[0]
    return torch.cat([forward_logprobs(model, roll.select(i), temperature)[0]
                      for i in micro_slices(torch.arange(B), micro)])


def groups_with_variance(scores: Tensor, valid: Tensor, G: int) -> Tensor:
    """Rows of groups whose valid rewards are not all equal (DAPO dynamic sampling): a group that is
    all right or all wrong has zero advantage and only dilutes the batch."""
    s = torch.where(valid, scores, torch.nan).view(-1, G)
    lo, hi = s.nan_to_num(torch.inf).amin(1), s.nan_to_num(-torch.inf).amax(1)
    keep = (hi > lo) & ((valid.view(-1, G).sum(1)) >= 2)
    return keep.repeat_interleave(G).nonzero().flatten()


def policy_update(acc: Any, policy: Any, opt: Any, sched: Any, roll: Rollout, advantages: Tensor,
                  old_logp: Tensor | None, ref_logp: Tensor | None, cfg: TrainConfig,
                  generator: torch.Generator | None = None, step: int = 0) -> list[dict[str, Tensor]]:
    """``epochs × minibatches`` optimiser steps on one rollout batch; returns per-micro-batch stats.

    ``old_logp=None`` means on-policy (one update per batch): the ratio's denominator is the current
    log-prob detached, which equals the behaviour log-prob exactly and saves a forward pass.
    """
    lc, oc = cfg.loss, cfg.optim
    mask = roll.response_mask
    B = mask.shape[0]
    micro = oc.micro_batch_size or B
    agg = dict(aggregation=lc.aggregation, constant=float(cfg.rollout.max_new_tokens))
    kl_in_loss = ref_logp is not None and lc.kl_placement == "loss"
    stats: list[dict[str, Tensor]] = []
    for _epoch in range(oc.epochs):
        for mb in minibatch_indices(B, oc.minibatches, generator):
            n_seq, n_tok = len(mb), float(mask[mb].sum())
            slices = list(micro_slices(mb, micro))
            for j, idx in enumerate(slices):
                sync = acc.no_sync(policy) if j < len(slices) - 1 else nullcontext()
                with sync:
                    sl, m, A = roll.select(idx), mask[idx], advantages[idx]
                    logp, ent, _ = forward_logprobs(policy, sl, cfg.rollout.temperature)
                    old = logp.detach() if old_logp is None else old_logp[idx]
                    loss, st = policy_loss(logp, old, A, m, clip_low=lc.clip_low, clip_high=lc.clip_high,
                                           dual_clip=lc.dual_clip, num_seqs=n_seq, num_tokens=n_tok, **agg)
                    if kl_in_loss:
                        kl, kst = kl_loss(logp, ref_logp[idx], m, coef=lc.kl_coef, estimator=lc.kl_estimator,
                                          clamp=lc.kl_clamp, num_seqs=n_seq, num_tokens=n_tok, **agg)
                        loss, st = loss + kl, {**st, **kst}
                    el, est = entropy_loss(ent, m, coef=lc.entropy_coef, num_seqs=n_seq, num_tokens=n_tok, **agg)
                    loss, st = loss + el, {**st, **est}
                    check_finite("loss", loss, None, step=step, source=f"policy loss of micro-batch rows {idx.tolist()}")
                    acc.backward(loss)
                    stats.append({**st, "loss/total": loss.detach()})
            if oc.max_grad_norm is not None:
                gn = acc.clip_grad_norm_(policy.parameters(), oc.max_grad_norm)
                stats[-1]["optim/grad_norm"] = torch.as_tensor(gn).detach().float()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
    return stats


def train(config: TrainConfig | dict[str, Any] | str, *, pipeline: Any = None) -> TrainResult:
    """Run the GRPO-family recipe; returns the per-step metrics (also in ``metrics.jsonl``) and the model."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    cfg = load_train_config(config)
    acc = Accelerator(mixed_precision=cfg.mixed_precision, log_with=cfg.log_with or None,
                      project_dir=cfg.output_dir)
    set_seed(cfg.seed, device_specific=True)  # each process samples different responses
    lc, rc = cfg.loss, cfg.rollout
    G, P = rc.group_size, rc.prompts_per_step

    # models, optimiser
    tok = load_tokenizer(cfg.model)
    policy = load_policy(cfg.model)
    ref = ReferencePolicy(policy, cfg.model, acc.device) if lc.kl_coef > 0 else None
    opt, sched = build_optimizer([{"params": [p for p in policy.parameters() if p.requires_grad]}], cfg.optim,
                                 cfg.steps * cfg.ppo_updates)
    policy, opt = acc.prepare(policy, opt)
    acc.register_for_checkpointing(sched)
    prm = None
    if cfg.algorithm.implicit_prm is not None:  # PRIME: trained online next to the policy
        ip = cfg.algorithm.implicit_prm
        prm = OnlineImplicitPRM(ip.path or cfg.model.path, beta=ip.beta, lr=ip.lr, device=acc.device)
        prm.model, prm.optimizer = acc.prepare(prm.model, prm.optimizer)
    engine = (ENGINES[rc.engine](rc, tok) if rc.engine == "transformers" else ENGINES[rc.engine](rc, tok, cfg.model.path))

    # data, rewards, estimator, state
    stream = PromptStream.from_config(cfg.data, tok, cfg.seed)
    scorer = RolloutScorer(cfg.rewards, pipeline)
    estimate = ESTIMATORS[cfg.algorithm.estimator]
    state = TrainState(stream, scorer)
    ckpt = Checkpointer(acc, cfg, state)
    ckpt.maybe_resume()
    log = MetricsLogger(acc, cfg, state.step)
    micro = cfg.optim.micro_batch_size or P * G
    kl_in_reward = ref is not None and lc.kl_placement == "reward"
    history: list[dict[str, float]] = []

    while state.step < cfg.steps:
        step = state.step + 1
        t0 = time.perf_counter()
        # 1. rollouts: this process' slice of the global prompt batch
        prompts = stream.take(P * acc.num_processes)[acc.process_index * P:(acc.process_index + 1) * P]
        with oom_hint("generation", step):
            roll = engine.generate(acc.unwrap_model(policy), prompts)
        t1 = time.perf_counter()

        # 2. rewards -> status policy -> token placement
        scored = scorer(roll, step)
        mask = roll.response_mask
        prm_stats = {}
        if prm is not None:  # PRIME: update the implicit PRM on these outcomes, then take its token rewards
            prm_stats = prm.update(acc, roll, scored.scores, scored.valid, micro)
            scored.token_rewards = prm.token_rewards(roll, micro)
        t2 = time.perf_counter()

        # 3. behaviour and reference log-probs
        with oom_hint("update", step):
            old_logp = (behaviour_logprobs(policy, roll, rc.temperature, micro)
                        if cfg.ppo_updates > 1 or kl_in_reward else None)
            ref_logp = ref.logprobs(acc.unwrap_model(policy), roll, rc.temperature, micro) if ref else None
        kl_r = (lc.kl_coef * approx_kl(old_logp, ref_logp, lc.kl_estimator, clamp=lc.kl_clamp, mask=mask)
                if kl_in_reward else None)

        # 4. advantages (+ dynamic sampling)
        A = estimate(scored, mask, G, kl_r, cfg.algorithm)
        check_finite("advantages", A, mask, step=step, source=f"estimator {cfg.algorithm.estimator!r}")
        rows = groups_with_variance(scored.scores, scored.valid, G) if rc.dynamic_sampling else None

        # 5. policy update (on the kept groups only)
        stats: list[dict[str, Tensor]] = []
        if rows is None or len(rows):
            upd_roll, upd_A, upd_old, upd_ref = roll, A, old_logp, ref_logp
            if rows is not None:
                upd_roll, upd_A = roll.select(rows), A[rows]
                upd_old = None if old_logp is None else old_logp[rows]
                upd_ref = None if ref_logp is None else ref_logp[rows]
            with oom_hint("update", step):
                stats = policy_update(acc, policy, opt, sched, upd_roll, upd_A, upd_old, upd_ref, cfg, step=step)
            engine.sync_weights(acc.unwrap_model(policy))
        t3 = time.perf_counter()

        # 6. metrics, checkpoint
        state.step = step
        lengths = mask.sum(-1).float()
        metrics = {**scored.metrics, **prm_stats, **mean_stats(stats),
                   "rollout/response_len": float(lengths.mean()),
                   "rollout/truncated_frac": float((lengths >= mask.shape[1]).float().mean())
                   if mask.shape[1] >= rc.max_new_tokens else 0.0,
                   "adv/mean": float(A[mask].mean()) if mask.any() else 0.0,
                   "adv/abs_mean": float(A[mask].abs().mean()) if mask.any() else 0.0,
                   "rollout/kept_frac": 1.0 if rows is None else len(rows) / mask.shape[0],
                   "optim/lr": sched.get_last_lr()[0],
                   "time/rollout_s": t1 - t0, "time/reward_s": t2 - t1, "time/update_s": t3 - t2}
        if kl_r is not None:
            metrics[f"kl/{lc.kl_estimator}"] = float(kl_r[mask].mean() / lc.kl_coef) if mask.any() else 0.0
        history.append(log.log(step, metrics))
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
            ckpt.save()
    log.close()
    scorer.close()
    _save_final(acc, policy, tok, cfg)
    return TrainResult(history, acc.unwrap_model(policy))


def _save_final(acc: Any, policy: Any, tok: Any, cfg: TrainConfig) -> None:
    from pathlib import Path

    acc.wait_for_everyone()
    if acc.is_main_process:
        out = Path(cfg.output_dir) / "final"
        acc.unwrap_model(policy).save_pretrained(out)
        tok.save_pretrained(out)
