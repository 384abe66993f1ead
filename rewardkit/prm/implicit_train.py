"""Implicit PRM training from outcome labels only (Yuan et al., "Free Process Rewards without
Process Labels", arXiv 2412.01981).

The outcome reward is parameterised as ``r_θ(y) = β·log π_θ(y)/π_ref(y) = Σ_t β·lr_t`` and
trained with cross-entropy on response-level labels ``l ∈ {0, 1}``:
``L_CE = −[l·log σ(r_θ(y)) + (1−l)·log(1 − σ(r_θ(y)))]`` (`rewardkit.shaping.implicit`). The
paper's proposition makes the partial sums ``q_t = Σ_{i≤t} β·lr_i`` soft Q-values of the prefix, so
the trained model gives step rewards ``β·Σ_{t∈step k} lr_t`` with no step labels at all.
Defaults follow the paper's code: β = 0.05, one epoch; its lr (5e-7) is for an 8B model --
small models need larger ones.

The reference model is frozen, so its log-probabilities are computed once before training (no
second model in memory while training).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rewardkit.models.training import TrainOptions

__all__ = ["ImplicitTrainConfig", "train_implicit_prm", "sequence_log_probs"]


class ImplicitTrainConfig(BaseModel):
    """``rewardkit prm train`` config with ``method: implicit`` (YAML)."""

    model_config = ConfigDict(extra="forbid")

    method: str = "implicit"
    model: str
    #: the frozen π_ref (default: the starting model itself)
    reference: str | None = None
    output_dir: str
    train_file: str
    prompt_key: str = "prompt"
    completion_key: str = "completion"
    label_key: str = "label"
    beta: float = 0.05
    prompt_separator: str = "\n\n"
    step_separator: str = "\n\n"
    limit: int | None = None
    train: TrainOptions = TrainOptions(learning_rate=5e-7)


def sequence_log_probs(model: Any, input_ids: Any, attention_mask: Any, response_mask: Any) -> Any:
    """``Σ_t log π(y_t | y_<t)`` over the response tokens of each row. ``[B, T]`` -> ``[B]``."""
    from rewardkit.models.loading import position_ids_from_mask
    from rewardkit.prm.model import token_logprobs

    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   position_ids=position_ids_from_mask(attention_mask)).logits
    return (token_logprobs(logits, input_ids) * response_mask).sum(-1)


def _encode_rows(tok: Any, rows: Sequence[dict[str, Any]], cfg: ImplicitTrainConfig) -> list[dict[str, Any]]:
    from rewardkit.prm.encoding import encode

    out = []
    for i, r in enumerate(rows):
        try:
            prompt, completion, label = str(r[cfg.prompt_key]), str(r[cfg.completion_key]), r[cfg.label_key]
        except KeyError as e:
            raise ValueError(f"{cfg.train_file}: record {i} has no field {e}") from None
        if isinstance(label, bool) or label in (0, 1):
            label = float(label)
        else:
            raise ValueError(f"{cfg.train_file}: record {i}: {cfg.label_key!r} must be 0/1 or a bool, got {label!r}")
        e = encode(tok, prompt, completion, [], prompt_separator=cfg.prompt_separator,
                   max_length=cfg.train.max_length)
        start = max(e.completion_start, 1)
        mask = [1.0 if t >= start else 0.0 for t in range(len(e.input_ids))]
        out.append({"input_ids": e.input_ids, "response_mask": mask, "label": label})
    return out


def _reference_log_probs(ref: Any, rows: list[dict[str, Any]], pad_id: int, batch_size: int, device: Any) -> None:
    import torch
    from tqdm.auto import tqdm

    from rewardkit.models.loading import length_sorted_batches
    from rewardkit.prm.train import pad_collate

    collate = pad_collate(pad_id, keys=("response_mask",))
    batches = length_sorted_batches([len(r["input_ids"]) for r in rows], batch_size)
    with torch.inference_mode():
        for batch in tqdm(batches, desc="reference log-probs", unit="batch"):
            b = collate([rows[i] for i in batch])
            m = b["response_mask"].clamp(min=0).to(device)
            lp = sequence_log_probs(ref, b["input_ids"].to(device), b["attention_mask"].to(device), m)
            for i, v in zip(batch, lp.float().cpu().tolist(), strict=True):
                rows[i]["ref_logp"] = v


def _make_trainer_class(beta: float) -> Any:
    from transformers import Trainer

    from rewardkit.shaping.implicit import implicit_prm_ce_loss

    class ImplicitPRMTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            mask = inputs["response_mask"].clamp(min=0)
            lp = sequence_log_probs(model, inputs["input_ids"], inputs["attention_mask"], mask)
            reward = beta * (lp.float() - inputs["ref_logp"])
            loss = implicit_prm_ce_loss(reward, inputs["label"])
            return (loss, {"reward": reward}) if return_outputs else loss

    return ImplicitPRMTrainer


def train_implicit_prm(cfg: ImplicitTrainConfig) -> Path:
    """Train π_θ from outcome labels; save a PRM folder (``kind: implicit``) pointing at π_ref."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from rewardkit.models.loading import load_tokenizer, resolve_device, resolve_dtype
    from rewardkit.models.training import (
        callbacks,
        last_checkpoint,
        prepare_for_training,
        read_rows,
        save_final,
        training_arguments,
    )
    from rewardkit.prm.model import PRMCard, write_card
    from rewardkit.prm.train import pad_collate

    out, o = Path(cfg.output_dir), cfg.train
    ref_path = cfg.reference or cfg.model
    tok = load_tokenizer(cfg.model, "right")
    rows = _encode_rows(tok, read_rows(cfg.train_file, cfg.limit), cfg)
    device = resolve_device(o.device)
    dtype = resolve_dtype(o.dtype, device)
    ref = AutoModelForCausalLM.from_pretrained(ref_path, dtype=dtype).to(device).eval()
    _reference_log_probs(ref, rows, tok.pad_token_id, o.eval_batch_size, device)
    del ref

    model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype)
    model = prepare_for_training(model, o, "CAUSAL_LM")
    trainer = _make_trainer_class(cfg.beta)(
        model=model, args=training_arguments(o, out, has_eval=False), train_dataset=Dataset.from_list(rows),
        data_collator=pad_collate(tok.pad_token_id, keys=("response_mask", "ref_logp", "label")),
        callbacks=callbacks(o),
    )
    trainer.train(resume_from_checkpoint=last_checkpoint(out))
    final = save_final(trainer.model, tok, out / "model")
    write_card(final, PRMCard(kind="implicit", beta=cfg.beta, reference=os.path.relpath(Path(ref_path).resolve(),
                                                                                       final.resolve()),
                              prompt_separator=cfg.prompt_separator, step_separator=cfg.step_separator,
                              trained_on={"method": "implicit", "train_file": cfg.train_file,
                                          "records": len(rows), "loss": "cross-entropy on outcome labels"}))
    return final
