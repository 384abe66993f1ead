"""Supervised PRM training: a one-logit token classifier read at the last token of each step.

Loss: binary cross-entropy at the labelled positions only (Math-Shepherd, arXiv 2312.08935,
§3: ``−Σ_k [y_k log r_k + (1−y_k) log(1−r_k)]``, soft labels allowed); every other token is
masked (-100). Evaluation reports step accuracy and F1 (both for "correct step" and for "error
step", the class ProcessBench is about). The labels may be human (PRM800K-style), Monte-Carlo
(`rewardkit.prm.label`) or anything else in the stepwise format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rewardkit.models.training import TrainOptions

__all__ = ["PRMTrainConfig", "train_prm", "step_metrics", "masked_bce", "pad_collate"]


class PRMTrainConfig(BaseModel):
    """``rewardkit prm train`` config (YAML)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["supervised"] = "supervised"
    model: str
    output_dir: str
    train_file: str
    eval_file: str | None = None
    format: Literal["stepwise", "step_tag"] = "stepwise"
    step_tag: str = "ки"
    prompt_separator: str = "\n\n"
    step_separator: str = "\n\n"
    limit: int | None = None
    train: TrainOptions = TrainOptions()


def masked_bce(logits: Any, labels: Any) -> Any:
    """Mean BCE over positions whose label is not -100. ``[B, T]`` each."""
    import torch

    mask = labels != -100
    if not mask.any():
        return logits.sum() * 0.0  # a batch whose steps were all truncated: no gradient, no NaN
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[mask].float(), labels[mask].float())


def pad_collate(pad_id: int, keys: tuple[str, ...] = ("labels",)) -> Any:
    """Right-pad ``input_ids`` (with ``pad_id``) and per-token fields (with -100); build the mask."""
    import torch

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        out: dict[str, Any] = {}
        for b, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[b, :n] = torch.tensor(r["input_ids"])
            mask[b, :n] = 1
        out["input_ids"], out["attention_mask"] = ids, mask
        for k in keys:
            if isinstance(rows[0][k], list):
                t = torch.full((len(rows), width), -100.0)
                for b, r in enumerate(rows):
                    t[b, :len(r[k])] = torch.tensor(r[k], dtype=torch.float)
                out[k] = t
            else:
                out[k] = torch.tensor([r[k] for r in rows], dtype=torch.float)
        return out

    return collate


def step_metrics(eval_pred: Any, threshold: float = 0.5) -> dict[str, float]:
    """Step accuracy and F1 at the labelled positions (labels binarised at 0.5)."""
    import numpy as np
    from sklearn.metrics import f1_score

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    logits = np.asarray(logits).reshape(np.asarray(labels).shape)
    mask = labels != -100
    prob = 1 / (1 + np.exp(-logits[mask]))
    pred, gold = prob >= threshold, labels[mask] >= 0.5
    return {"step_accuracy": float((pred == gold).mean()) if mask.any() else float("nan"),
            "step_f1": float(f1_score(gold, pred, zero_division=0)),
            "error_step_f1": float(f1_score(~gold, ~pred, zero_division=0)),
            "steps": float(mask.sum())}


def _make_trainer_class() -> Any:
    from transformers import Trainer

    class PRMTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = masked_bce(outputs.logits[..., 0], labels)
            return (loss, outputs) if return_outputs else loss

    return PRMTrainer


def train_prm(cfg: PRMTrainConfig) -> Path:
    """Train, save a PRM folder (plain weights, LoRA merged, ``rewardkit_prm.json``), return it."""
    from datasets import Dataset
    from transformers import AutoModelForTokenClassification

    from rewardkit.models.loading import load_tokenizer, resolve_device, resolve_dtype
    from rewardkit.models.training import (
        callbacks,
        last_checkpoint,
        prepare_for_training,
        read_rows,
        save_final,
        training_arguments,
    )
    from rewardkit.prm.data import read_stepwise, token_labels
    from rewardkit.prm.model import PRMCard, write_card

    out, o = Path(cfg.output_dir), cfg.train
    tok = load_tokenizer(cfg.model, "right")

    def dataset(path: str, limit: int | None) -> Any:
        recs = read_stepwise(read_rows(path, limit), fmt=cfg.format, tag=cfg.step_tag, where=path)
        return Dataset.from_list([token_labels(tok, r, prompt_separator=cfg.prompt_separator,
                                               step_separator=cfg.step_separator, max_length=o.max_length)
                                  for r in recs])

    train_ds = dataset(cfg.train_file, cfg.limit)
    eval_ds = dataset(cfg.eval_file, None) if cfg.eval_file else None
    args = training_arguments(o, out, has_eval=eval_ds is not None)
    model = AutoModelForTokenClassification.from_pretrained(
        cfg.model, num_labels=1, dtype=resolve_dtype(o.dtype, resolve_device(o.device)))
    model.config.pad_token_id = tok.pad_token_id
    model = prepare_for_training(model, o, "TOKEN_CLS")
    trainer = _make_trainer_class()(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
        data_collator=pad_collate(tok.pad_token_id), compute_metrics=step_metrics, callbacks=callbacks(o),
    )
    trainer.train(resume_from_checkpoint=last_checkpoint(out))
    final = save_final(trainer.model, tok, out / "model")
    write_card(final, PRMCard(kind="classifier", prompt_separator=cfg.prompt_separator,
                              step_separator=cfg.step_separator,
                              trained_on={"method": "supervised", "train_file": cfg.train_file,
                                          "records": len(train_ds)}))
    if eval_ds is not None:
        (out / "eval_metrics.json").write_text(json.dumps(trainer.evaluate(), indent=2))
    return final
