"""PPO recipe with a value model and GAE, on dense token rewards.

Per-token reward (REWARD_METHODS §1.1, OpenRLHF ``compute_reward``):
``r_t = −β·k_t + 1[t = last]·R + (step/token rewards placed at t)``, with ``k`` the KL estimate
between the rollout policy and the reference (KL in the reward, k1 by default for PPO; set
``loss.kl_placement: loss`` to move it into the loss instead). GAE with ``γ``, ``λ`` gives
advantages and returns; advantages are whitened over the batch (optional). The critic is either a
separate backbone with a linear head (``model.critic: separate``) or a head on the policy's last
hidden state (``head``); both sit in one `ActorCritic` module so that one optimiser, one
``accelerate.prepare`` and one checkpoint cover them.

Steps (top to bottom, as in `grpo`): rollouts -> rewards -> old log-probs, values, reference ->
token rewards -> GAE -> ``epochs × minibatches`` updates of policy + value loss -> metrics.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rewardkit.shaping.kl import approx_kl, kl_penalized_rewards
from rewardkit.train.advantages import gae_advantages, masked_whiten, place_on_last_token
from rewardkit.train.common import (
    Checkpointer,
    MetricsLogger,
    ReferencePolicy,
    TrainResult,
    TrainState,
    build_optimizer,
    load_policy,
    load_tokenizer,
    mean_stats,
    micro_slices,
    minibatch_indices,
    position_ids,
)
from rewardkit.train.config import ModelConfig, TrainConfig, load_train_config
from rewardkit.train.guards import check_finite, oom_hint
from rewardkit.train.losses import entropy_loss, kl_loss, policy_loss, value_loss
from rewardkit.train.rewards import RolloutScorer
from rewardkit.train.rollout import ENGINES, PromptStream, Rollout, token_logprobs

__all__ = ["ActorCritic", "train"]

Tensor = torch.Tensor


class ActorCritic(nn.Module):
    """Policy + value function. ``forward`` returns response-token logits ``[B, T, V]`` and values
    ``[B, T]`` (``V_t`` = value of the state in which token ``t`` is generated)."""

    def __init__(self, policy: nn.Module, cfg: ModelConfig) -> None:
        super().__init__()
        self.policy = policy
        self.critic = None
        base_cfg = policy.config
        if cfg.critic == "separate":
            from transformers import AutoModel

            self.critic = AutoModel.from_pretrained(cfg.critic_path or cfg.path, dtype=next(policy.parameters()).dtype)
            base_cfg = self.critic.config
        hidden = base_cfg.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=1 / (hidden + 1) ** 0.5)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, T: int) -> tuple[Tensor, Tensor]:
        pos = position_ids(attention_mask)
        own = self.critic is None
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=pos,
                          logits_to_keep=T + 1, output_hidden_states=own, use_cache=False)
        if own:
            h = out.hidden_states[-1]
        else:
            h = self.critic(input_ids=input_ids, attention_mask=attention_mask, position_ids=pos,
                            use_cache=False).last_hidden_state
        values = self.value_head(h[:, -T - 1:-1].to(self.value_head.weight.dtype)).squeeze(-1).float()
        return out.logits[:, :-1], values


def _evaluate(model: Any, roll: Rollout, temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    T = roll.response_mask.shape[1]
    logits, values = model(roll.input_ids, roll.attention_mask, T)
    logp, ent = token_logprobs(logits, roll.response_ids, temperature)
    return logp, ent, values


def train(config: TrainConfig | dict[str, Any] | str, *, pipeline: Any = None) -> TrainResult:
    """Run PPO; returns the per-step metrics (also in ``metrics.jsonl``) and the model."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    cfg = load_train_config(config)
    acc = Accelerator(mixed_precision=cfg.mixed_precision, log_with=cfg.log_with or None,
                      project_dir=cfg.output_dir)
    set_seed(cfg.seed, device_specific=True)
    lc, rc, oc, al = cfg.loss, cfg.rollout, cfg.optim, cfg.algorithm
    G, P = rc.group_size, rc.prompts_per_step

    # models, optimiser (policy and critic parameter groups)
    tok = load_tokenizer(cfg.model)
    policy = load_policy(cfg.model)
    ac = ActorCritic(policy, cfg.model)
    ref = ReferencePolicy(policy, cfg.model, acc.device) if lc.kl_coef > 0 else None
    actor_params = [p for p in ac.policy.parameters() if p.requires_grad]
    critic_params = list(ac.value_head.parameters()) + (list(ac.critic.parameters()) if ac.critic is not None else [])
    opt, sched = build_optimizer([{"params": actor_params},
                                  {"params": critic_params, "lr": oc.critic_lr or oc.lr}], oc, cfg.steps * cfg.ppo_updates)
    ac, opt = acc.prepare(ac, opt)
    acc.register_for_checkpointing(sched)
    engine = (ENGINES[rc.engine](rc, tok) if rc.engine == "transformers" else ENGINES[rc.engine](rc, tok, cfg.model.path))

    stream = PromptStream.from_config(cfg.data, tok, cfg.seed)
    scorer = RolloutScorer(cfg.rewards, pipeline)
    state = TrainState(stream, scorer)
    ckpt = Checkpointer(acc, cfg, state)
    ckpt.maybe_resume()
    log = MetricsLogger(acc, cfg, state.step)
    micro = oc.micro_batch_size or P * G
    agg = dict(aggregation=lc.aggregation, constant=float(rc.max_new_tokens))
    history: list[dict[str, float]] = []

    while state.step < cfg.steps:
        step = state.step + 1
        t0 = time.perf_counter()
        # 1. rollouts
        prompts = stream.take(P * acc.num_processes)[acc.process_index * P:(acc.process_index + 1) * P]
        with oom_hint("generation", step):
            roll = engine.generate(acc.unwrap_model(ac).policy, prompts)
        t1 = time.perf_counter()

        # 2. rewards -> status policy -> token placement
        scored = scorer(roll, step)
        mask, valid = roll.response_mask, scored.valid
        B = mask.shape[0]
        t2 = time.perf_counter()

        # 3. behaviour log-probs, values, reference log-probs
        with torch.no_grad(), oom_hint("update", step):
            parts = [_evaluate(ac, roll.select(i), rc.temperature) for i in micro_slices(torch.arange(B), micro)]
            old_logp = torch.cat([p[0] for p in parts])
            old_values = torch.cat([p[2] for p in parts])
            ref_logp = ref.logprobs(acc.unwrap_model(ac).policy, roll, rc.temperature, micro) if ref else None

        # 4. token rewards: outcome on the last token, steps/tokens where they were placed, −β·KL
        if ref_logp is not None and lc.kl_placement == "reward":
            rewards = kl_penalized_rewards(scored.scores, old_logp, ref_logp, mask, kl_coef=lc.kl_coef,
                                           estimator=lc.kl_estimator, clamp=lc.kl_clamp, valid=valid)
        else:
            rewards = place_on_last_token(scored.scores, mask, valid)
        rewards = rewards + scored.token_rewards
        check_finite("token rewards", rewards, mask, step=step, source="pipeline scores + placed step rewards + KL")

        # 5. GAE (+ whitening)
        A, returns = gae_advantages(rewards, old_values, mask, gamma=al.gamma, lam=al.lam, valid=valid)
        if al.whiten:
            A = masked_whiten(A, mask, valid)
        check_finite("advantages", A, mask, step=step, source="GAE over the value model")

        # 6. updates: epochs × minibatches, micro-batched
        stats: list[dict[str, Tensor]] = []
        with oom_hint("update", step):
            for _epoch in range(oc.epochs):
                for mb in minibatch_indices(B, oc.minibatches, None):
                    n_seq, n_tok = len(mb), float(mask[mb].sum())
                    slices = list(micro_slices(mb, micro))
                    for j, idx in enumerate(slices):
                        with acc.no_sync(ac) if j < len(slices) - 1 else nullcontext():
                            m = mask[idx]
                            logp, ent, values = _evaluate(ac, roll.select(idx), rc.temperature)
                            norm = dict(num_seqs=n_seq, num_tokens=n_tok, **agg)
                            pl, st = policy_loss(logp, old_logp[idx], A[idx], m, clip_low=lc.clip_low,
                                                 clip_high=lc.clip_high, dual_clip=lc.dual_clip, **norm)
                            vl, vst = value_loss(values, old_values[idx], returns[idx], m, clip=lc.value_clip, **norm)
                            el, est = entropy_loss(ent, m, coef=lc.entropy_coef, **norm)
                            loss = pl + lc.value_coef * vl + el
                            st = {**st, **vst, **est}
                            if ref_logp is not None and lc.kl_placement == "loss":
                                kl, kst = kl_loss(logp, ref_logp[idx], m, coef=lc.kl_coef, estimator=lc.kl_estimator,
                                                  clamp=lc.kl_clamp, **norm)
                                loss, st = loss + kl, {**st, **kst}
                            check_finite("loss", loss, None, step=step, source=f"PPO loss of micro-batch rows {idx.tolist()}")
                            acc.backward(loss)
                            stats.append({**st, "loss/total": loss.detach()})
                    if oc.max_grad_norm is not None:
                        stats[-1]["optim/grad_norm"] = torch.as_tensor(
                            acc.clip_grad_norm_(ac.parameters(), oc.max_grad_norm)).detach().float()
                    opt.step()
                    sched.step()
                    opt.zero_grad(set_to_none=True)
        engine.sync_weights(acc.unwrap_model(ac).policy)
        t3 = time.perf_counter()

        # 7. metrics, checkpoint
        state.step = step
        lengths = mask.sum(-1).float()
        sel = mask & valid[:, None]
        var_r = returns[sel].var() if sel.sum() > 1 else torch.tensor(float("nan"))
        metrics = {**scored.metrics, **mean_stats(stats),
                   "rollout/response_len": float(lengths.mean()),
                   "value/explained_var": float(1 - (returns - old_values)[sel].var() / var_r) if sel.sum() > 1 else 0.0,
                   "adv/abs_mean": float(A[mask].abs().mean()) if mask.any() else 0.0,
                   "optim/lr": sched.get_last_lr()[0],
                   "time/rollout_s": t1 - t0, "time/reward_s": t2 - t1, "time/update_s": t3 - t2}
        if ref_logp is not None:
            metrics[f"kl/{lc.kl_estimator}"] = float(approx_kl(old_logp, ref_logp, lc.kl_estimator, clamp=lc.kl_clamp,
                                                               mask=mask)[mask].mean()) if mask.any() else 0.0
        history.append(log.log(step, metrics))
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
            ckpt.save()
    log.close()
    scorer.close()
    acc.wait_for_everyone()
    if acc.is_main_process:
        out = Path(cfg.output_dir) / "final"
        unwrapped = acc.unwrap_model(ac)
        unwrapped.policy.save_pretrained(out)
        tok.save_pretrained(out)
        torch.save(unwrapped.value_head.state_dict(), out / "value_head.pt")
    return TrainResult(history, acc.unwrap_model(ac))
