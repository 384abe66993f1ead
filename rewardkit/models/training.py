"""Training options shared by every rewardkit model trainer (PRM, implicit PRM, ORM).

Training runs on transformers' ``Trainer`` (accelerate underneath: device placement, bf16,
multi-GPU with ``accelerate launch``), so checkpoints resume, progress bars and logging work the
same way for every model. A 7B backbone on one 24 GB GPU::

    dtype: bfloat16            # weights and activations in bf16 (auto picks it on a capable GPU)
    gradient_checkpointing: true
    lora: {r: 16, alpha: 32}   # adapters on all linear layers; the score head trains in full
    batch_size: 1
    grad_accum: 16
    max_length: 1024

(bf16 7B weights ~14 GB; LoRA keeps optimizer state to the adapters; checkpointing keeps
activations to about one layer's worth.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rewardkit.models.loading import LoraOptions, apply_lora, enable_gradient_checkpointing, resolve_device

__all__ = ["TrainOptions", "callbacks", "training_arguments", "prepare_for_training", "save_final", "last_checkpoint",
           "read_rows"]


class TrainOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 1e-5
    batch_size: int = 4
    eval_batch_size: int = 8
    grad_accum: int = 1
    warmup_steps: float = 0  # an int = steps; a float < 1 = a fraction of all steps
    weight_decay: float = 0.0
    max_length: int = 1024
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    gradient_checkpointing: bool = False
    lora: LoraOptions | None = None
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 200
    eval_steps: int | None = None
    save_total_limit: int = 2
    device: str = "auto"
    progress: bool = True
    #: stop (and save) after this many seconds of training -- a budget on shared machines
    time_limit_s: float | None = None


def training_arguments(opts: TrainOptions, output_dir: Path, *, has_eval: bool, cls: Any = None,
                       **extra: Any) -> Any:
    """``TrainingArguments`` (or a subclass such as TRL's ``RewardConfig`` via ``cls``)."""
    from transformers import TrainingArguments

    cls = cls or TrainingArguments
    device = resolve_device(opts.device)
    on_gpu = device.type == "cuda"
    bf16 = opts.dtype == "bfloat16" or (opts.dtype == "auto" and on_gpu and _bf16_ok())
    return cls(
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=opts.epochs, max_steps=opts.max_steps, learning_rate=opts.learning_rate,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=opts.eval_batch_size,
        gradient_accumulation_steps=opts.grad_accum, warmup_steps=opts.warmup_steps,
        weight_decay=opts.weight_decay, bf16=bf16, fp16=opts.dtype == "float16",
        use_cpu=not on_gpu, seed=opts.seed, logging_steps=opts.logging_steps,
        save_strategy="steps", save_steps=opts.save_steps, save_total_limit=opts.save_total_limit,
        # without eval_steps, evaluation runs once at the end (the trainers call evaluate())
        eval_strategy="steps" if opts.eval_steps and has_eval else "no",
        eval_steps=opts.eval_steps, report_to=[], remove_unused_columns=False,
        disable_tqdm=not opts.progress, dataloader_num_workers=0, **extra,
    )


def _bf16_ok() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def prepare_for_training(model: Any, opts: TrainOptions, task_type: str) -> Any:
    """Gradient checkpointing and LoRA, in the order peft needs (checkpointing first)."""
    if opts.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    if opts.lora is not None:
        lora = opts.lora
        if lora.modules_to_save is None and task_type != "CAUSAL_LM":
            head = [n for n in ("score", "classifier") if hasattr(model, n)]
            lora = lora.model_copy(update={"modules_to_save": head or None})
        model = apply_lora(model, lora, task_type)
    return model


def save_final(model: Any, tokenizer: Any, out: Path) -> Path:
    """A plain model folder (LoRA merged into the weights) that any loader reads."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    ck = output_dir / "checkpoints"
    return get_last_checkpoint(str(ck)) if ck.is_dir() else None


def read_rows(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Records of a jsonl/csv/parquet/HF-dataset file; a malformed record raises naming it."""
    from rewardkit.io.records import RecordError, iter_records

    rows: list[dict[str, Any]] = []
    for _where, rec in iter_records(path):
        if isinstance(rec, RecordError):
            raise rec
        rows.append(rec)
        if limit and len(rows) >= limit:
            break
    return rows


def callbacks(opts: TrainOptions) -> list[Any]:
    """Trainer callbacks for the options (the wall-clock budget)."""
    if opts.time_limit_s is None:
        return []
    import time

    from transformers import TrainerCallback

    limit = opts.time_limit_s

    class TimeLimit(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.monotonic()

        def on_step_end(self, args, state, control, **kw):
            if time.monotonic() - self.t0 > limit:
                control.should_training_stop = True
                control.should_save = True

    return [TimeLimit()]
