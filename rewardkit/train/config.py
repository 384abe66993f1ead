"""The trainer's configuration: one pydantic model, loaded from YAML (``rewardkit train --config``).

Every knob lives here with its default; the recipes read it and never branch on free strings
(names are resolved once to functions through small registries). The same file runs on CPU here
and on GPUs elsewhere: devices, mixed precision and DDP/FSDP/DeepSpeed come from ``accelerate``
(``accelerate launch --config_file ... -m rewardkit train --config train.yaml``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["TrainConfig", "load_train_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraConfig(_Strict):
    """peft LoRA on the policy; the reference model is the same weights with adapters disabled."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"


class ModelConfig(_Strict):
    path: str  # a transformers folder (prepare SmolLM2 with `rewardkit models prepare smollm2`)
    tokenizer: str | None = None  # default: path
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # weights dtype (mixed precision: accelerate)
    gradient_checkpointing: bool = False
    lora: LoraConfig | None = None
    critic: Literal["separate", "head"] = "separate"  # PPO only: own backbone, or a head on the policy
    critic_path: str | None = None  # PPO separate critic backbone (default: path)


class DataConfig(_Strict):
    """Prompts with references: a file (JSONL/CSV/Parquet/HF, via rewardkit.io) or the embedded
    synthetic arithmetic task (one prompt per problem)."""

    path: str | None = None  # None: rewardkit.data.synthetic
    prompt_col: str = "prompt"
    reference_col: str = "reference"
    synthetic_problems: int = 512
    synthetic_min_steps: int = 2
    synthetic_max_steps: int = 3
    template: str = "{prompt}"  # wraps each prompt; "{prompt}" is replaced
    chat_template: bool = False  # apply the tokenizer's chat template (instruct models)
    shuffle: bool = True


class RolloutConfig(_Strict):
    engine: Literal["transformers", "vllm"] = "transformers"  # vllm: needs vllm and a GPU
    prompts_per_step: int = Field(4, ge=1)  # per process
    group_size: int = Field(4, ge=1)  # responses per prompt (G)
    max_new_tokens: int = Field(64, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = 1.0
    top_k: int = 0
    stop: list[str] = Field(default_factory=list)  # stop strings (kept in the response)
    generation_batch_size: int | None = None  # sequences per generate() call (default: all)
    dynamic_sampling: bool = False  # drop groups whose rewards have no variance (DAPO)
    vllm_gpu_memory_utilization: float = 0.3


class RewardsConfig(_Strict):
    pipeline: str | dict[str, Any] = "default"  # a pipeline YAML path, an inline mapping, or "default"
    status_policy: dict[str, Any] = Field(default_factory=dict)  # rewardkit.status_policy.StatusPolicy
    step_placement: Literal["end", "spread"] = "end"  # dense token rewards (PPO / REINFORCE++ / PRIME)


class ImplicitPRMConfig(_Strict):
    """PRIME's online implicit PRM (estimator ``prime``): its token rewards replace the pipeline's."""

    path: str | None = None  # default: the policy's model.path
    beta: float = 0.05
    lr: float = 1e-6


class AlgorithmConfig(_Strict):
    """Which recipe and which advantage estimator (see docs/training.md for the formulas)."""

    recipe: Literal["grpo", "ppo"] = "grpo"
    estimator: Literal["grpo", "grpo_process", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline",
                       "prime", "gae"] = "grpo"
    scale: Literal["group", "batch", "none"] = "group"  # GRPO std: per group / whole batch / none
    ddof: int = 1
    eps: float = 1e-6
    outcome_coef: float = 1.0  # grpo_process / prime: weight of the outcome advantage
    process_coef: float = 1.0  # grpo_process / prime: weight of the step/token advantage
    gamma: float = 1.0  # PPO / REINFORCE++
    lam: float = 0.95  # PPO GAE
    whiten: bool = True  # PPO: whiten advantages over the batch
    implicit_prm: ImplicitPRMConfig | None = None  # prime: an online implicit PRM gives the token rewards


class LossConfig(_Strict):
    clip_low: float = 0.2
    clip_high: float | None = None  # > clip_low: DAPO clip-higher (0.28)
    dual_clip: float | None = None  # e.g. 3.0 (dual-clip PPO)
    aggregation: Literal["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"] = "token_mean"
    kl_coef: float = 0.0  # β; 0 = no reference model at all
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    kl_placement: Literal["loss", "reward"] = "loss"  # GRPO: loss (k3); PPO/RLOO/REINFORCE++: reward (k1)
    kl_clamp: float | None = 10.0
    entropy_coef: float = 0.0
    value_coef: float = 0.5  # PPO
    value_clip: float | None = 0.2  # PPO


class OptimConfig(_Strict):
    lr: float = 1e-6
    critic_lr: float | None = None  # PPO: default lr
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    scheduler: Literal["constant", "linear", "cosine"] = "constant"
    max_grad_norm: float | None = 1.0
    epochs: int = Field(1, ge=1)  # PPO epochs per rollout batch
    minibatches: int = Field(1, ge=1)  # optimiser steps per epoch
    micro_batch_size: int | None = None  # sequences per forward/backward (gradient accumulation)


class TrainConfig(_Strict):
    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    rewards: RewardsConfig = Field(default_factory=RewardsConfig)
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    steps: int = Field(10, ge=1)
    seed: int = 0
    output_dir: str = "rewardkit_train"
    save_every: int = 0  # steps between checkpoints (0: only at the end)
    keep_checkpoints: int = 2
    resume: bool | str = False  # True: latest checkpoint in output_dir; a path: that checkpoint
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    log_with: list[Literal["tensorboard", "wandb"]] = Field(default_factory=list)  # JSONL always
    progress: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        a = self.algorithm
        if (a.recipe == "ppo") != (a.estimator == "gae"):
            raise ValueError("algorithm: recipe 'ppo' uses estimator 'gae' (a critic); the critic-free "
                             f"estimators need recipe 'grpo' (got recipe={a.recipe!r}, estimator={a.estimator!r})")
        if a.recipe == "grpo" and self.rollout.group_size < 2 and a.estimator != "reinforce_pp":
            raise ValueError(f"rollout.group_size: estimator {a.estimator!r} compares responses within a "
                             "group; it needs group_size >= 2")
        if a.implicit_prm is not None and a.estimator != "prime":
            raise ValueError("algorithm.implicit_prm: the online implicit PRM feeds estimator 'prime'")
        if self.loss.clip_high is not None and self.loss.clip_high < self.loss.clip_low:
            raise ValueError("loss.clip_high must be >= loss.clip_low (clip-higher widens the upper bound)")
        return self

    @property
    def ppo_updates(self) -> int:
        return self.optim.epochs * self.optim.minibatches


def load_train_config(src: str | Path | dict[str, Any] | TrainConfig) -> TrainConfig:
    """From a YAML path, a mapping or a config; errors name the key (``loss.clip_low``)."""
    if isinstance(src, TrainConfig):
        return src
    if isinstance(src, (str, Path)):
        p = Path(src)
        if not p.exists():
            raise FileNotFoundError(f"training config not found: {p}")
        data = yaml.safe_load(p.read_text()) or {}
    else:
        data = dict(src)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        lines = [f"  {'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors()]
        raise ValueError("invalid training config:\n" + "\n".join(lines)) from None
