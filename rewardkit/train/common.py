"""Pieces both recipes use: models, reference log-probs, optimiser, checkpoints, metrics.

Nothing here knows about an algorithm; the recipes (`grpo`, `ppo`) compose these top to bottom.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rewardkit.train.config import ModelConfig, OptimConfig, TrainConfig
from rewardkit.train.rollout import Rollout, token_logprobs

__all__ = ["TrainResult", "load_tokenizer", "load_policy", "ReferencePolicy", "forward_logprobs", "build_optimizer", "position_ids",
           "minibatch_indices", "TrainState", "Checkpointer", "MetricsLogger", "mean_stats"]

Tensor = torch.Tensor


@dataclass
class TrainResult:
    """What a recipe returns: per-step metrics (as in ``metrics.jsonl``) and the trained model
    (unwrapped from accelerate; for PPO the `ActorCritic`)."""

    history: list[dict[str, float]]
    model: Any


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_tokenizer(cfg: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(cfg.tokenizer or cfg.path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_policy(cfg: ModelConfig) -> Any:
    """The trainable policy: a causal LM, with LoRA adapters if configured."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(cfg.path, dtype=_DTYPES[cfg.dtype])
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if cfg.lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                                                 lora_dropout=cfg.lora.dropout,
                                                 target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM"))
    return model


def position_ids(attention_mask: Tensor) -> Tensor:
    # the positions generate() used for left-padded prompts; without them a padded row would be
    # scored at shifted positions and its log-probs would not match the sampling distribution
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def forward_logprobs(model: Any, roll: Rollout, temperature: float, *, hidden: bool = False
                     ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Token log-probs ``[B, T]`` and entropies of the response tokens (and the last hidden states
    of the response positions ``[B, T, H]`` when ``hidden``)."""
    T = roll.response_mask.shape[1]
    out = model(input_ids=roll.input_ids, attention_mask=roll.attention_mask,
                position_ids=position_ids(roll.attention_mask), logits_to_keep=T + 1,
                output_hidden_states=hidden, use_cache=False)
    logits = out.logits[:, :-1]
    logp, ent = token_logprobs(logits, roll.response_ids, temperature)
    h = out.hidden_states[-1][:, -T - 1:-1] if hidden else None
    return logp, ent, h


class ReferencePolicy:
    """Log-probs of the frozen reference: the policy with its LoRA adapters disabled (no second
    copy of the weights), or a frozen copy of the initial policy. Absent when ``kl_coef == 0``."""

    def __init__(self, policy: Any, cfg: ModelConfig, device: torch.device) -> None:
        self.shared = cfg.lora is not None
        self.model = None
        if not self.shared:
            from transformers import AutoModelForCausalLM

            self.model = AutoModelForCausalLM.from_pretrained(cfg.path, dtype=_DTYPES[cfg.dtype]).to(device).eval()
            self.model.requires_grad_(False)

    @torch.no_grad()
    def logprobs(self, policy: Any, roll: Rollout, temperature: float, micro: int) -> Tensor:
        parts = []
        for i in range(0, roll.input_ids.shape[0], micro):
            sl = roll.select(torch.arange(i, min(i + micro, roll.input_ids.shape[0])))
            if self.shared:
                with policy.disable_adapter():
                    parts.append(forward_logprobs(policy, sl, temperature)[0])
            else:
                parts.append(forward_logprobs(self.model, sl, temperature)[0])
        return torch.cat(parts)


def build_optimizer(params: list[dict[str, Any]], cfg: OptimConfig, total_steps: int) -> tuple[Any, Any]:
    from transformers import get_scheduler

    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    sched = get_scheduler(cfg.scheduler, opt, num_warmup_steps=cfg.warmup_steps,
                          num_training_steps=max(total_steps, 1))
    return opt, sched


def minibatch_indices(B: int, n: int, generator: torch.Generator | None) -> list[Tensor]:
    """``n`` shuffled, near-equal index sets covering ``range(B)`` (one shuffle per epoch)."""
    perm = torch.randperm(B, generator=generator) if n > 1 else torch.arange(B)
    return [c for c in torch.tensor_split(perm, n) if len(c)]


def mean_stats(stats: list[dict[str, Tensor]]) -> dict[str, float]:
    keys = {k for s in stats for k in s}
    return {k: float(torch.stack([s[k].float().cpu() for s in stats if k in s]).mean()) for k in sorted(keys)}


class TrainState:
    """What besides model/optimiser/scheduler/RNG a resumed run needs to continue exactly."""

    def __init__(self, stream: Any, scorer: Any) -> None:
        self.step = 0
        self.stream, self.scorer = stream, scorer

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "data": self.stream.state_dict(), "rewards": self.scorer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.stream.load_state_dict(state["data"])
        self.scorer.load_state_dict(state["rewards"])


class Checkpointer:
    """``accelerate`` checkpoints (weights, optimiser, scheduler, every process' RNG states) plus the
    `TrainState`, in ``output_dir/checkpoints/step_N``; only complete ones are ever loaded."""

    def __init__(self, accelerator: Any, cfg: TrainConfig, state: TrainState) -> None:
        self.acc, self.cfg, self.state = accelerator, cfg, state
        self.root = Path(cfg.output_dir) / "checkpoints"

    def latest(self) -> Path | None:
        done = sorted((p for p in self.root.glob("step_*") if (p / "trainer_state.json").exists()),
                      key=lambda p: int(p.name.split("_")[1]))
        return done[-1] if done else None

    def save(self) -> Path:
        path = self.root / f"step_{self.state.step}"
        self.acc.save_state(str(path))
        if self.acc.is_main_process:
            (path / "trainer_state.json").write_text(json.dumps(self.state.state_dict()))  # written last: "complete"
            done = sorted((p for p in self.root.glob("step_*") if p != path), key=lambda p: int(p.name.split("_")[1]))
            for old in done[: max(len(done) - self.cfg.keep_checkpoints + 1, 0)]:
                shutil.rmtree(old, ignore_errors=True)
        self.acc.wait_for_everyone()
        return path

    def maybe_resume(self) -> Path | None:
        r = self.cfg.resume
        if r is False:
            return None
        path = self.latest() if r is True else Path(r)
        if path is None:
            return None
        if not (path / "trainer_state.json").exists():
            raise FileNotFoundError(f"resume: {path} is not a complete checkpoint (no trainer_state.json)")
        self.acc.load_state(str(path))
        self.state.load_state_dict(json.loads((path / "trainer_state.json").read_text()))
        return path


class MetricsLogger:
    """One JSON line per step in ``output_dir/metrics.jsonl`` (main process), optional TensorBoard /
    W&B through accelerate trackers, and a progress bar with the headline numbers."""

    BAR = {"reward/score": "reward", "kl/k3": "kl", "kl/k1": "kl", "policy/entropy": "ent",
           "policy/clip_frac": "clip", "rollout/response_len": "len", "status/ok": "ok"}

    def __init__(self, accelerator: Any, cfg: TrainConfig, start: int) -> None:
        self.acc = accelerator
        self.path = Path(cfg.output_dir) / "metrics.jsonl"
        self.main = accelerator.is_main_process
        self.bar = None
        if self.main:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if start == 0 and self.path.exists():
                self.path.unlink()
            elif self.path.exists():  # resumed: drop lines of steps that will be redone
                keep = [ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln)["step"] <= start]
                self.path.write_text("".join(k + "\n" for k in keep))
            if cfg.progress:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=cfg.steps, initial=start, desc="train", dynamic_ncols=True)
        if cfg.log_with:
            accelerator.init_trackers("rewardkit", config=cfg.model_dump(mode="json"))
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def log(self, step: int, metrics: dict[str, float]) -> dict[str, float]:
        """Write one step's metrics; returns them with ``step`` and ``time/elapsed_s`` added."""
        metrics = {"step": step, "time/elapsed_s": time.perf_counter() - self.t0,
                   "time/process_cpu_s": time.process_time() - self.c0, **metrics}
        if not self.main:
            return metrics
        with open(self.path, "a") as f:
            f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in metrics.items()}) + "\n")
        if self.acc.trackers:
            self.acc.log({k: v for k, v in metrics.items() if k != "step"}, step=step)
        if self.bar is not None:
            self.bar.set_postfix({short: f"{metrics[k]:.3g}" for k, short in self.BAR.items() if k in metrics},
                                 refresh=False)
            self.bar.update(1)
        return metrics

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.acc.trackers:
            self.acc.end_training()


def micro_slices(idx: Tensor, micro: int) -> Iterator[Tensor]:
    for i in range(0, len(idx), micro):
        yield idx[i:i + micro]
