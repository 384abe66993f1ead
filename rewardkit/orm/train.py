"""ORM training: pairwise Bradley-Terry (TRL ``RewardTrainer``) or pointwise BCE on outcome labels.

Pairwise (Ouyang et al. 2022; TRL): ``L = −log σ(r(x, y_c) − r(x, y_r) − m)`` with an optional
per-pair margin ``m`` and reward centering ``+ c·E[(r_c + r_r)²]`` (Eisenstein et al. 2023) via
``center_rewards_coefficient``. Pointwise: ``L = BCE(σ(r(x, y)), l)`` for outcome labels
``l ∈ {0, 1}`` (or soft labels) -- what a verifier gives for free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rewardkit.models.training import TrainOptions

__all__ = ["ORMTrainConfig", "train_orm"]


class ORMTrainConfig(BaseModel):
    """``rewardkit orm train`` config (YAML)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["pairwise", "pointwise"] = "pairwise"
    model: str
    output_dir: str
    train_file: str
    eval_file: str | None = None
    prompt_key: str = "prompt"
    chosen_key: str = "chosen"
    rejected_key: str = "rejected"
    #: pairwise: optional per-pair margin column
    margin_key: str | None = None
    center_rewards_coefficient: float | None = None
    #: pointwise
    completion_key: str = "completion"
    label_key: str = "label"
    prompt_separator: str = "\n\n"
    limit: int | None = None
    train: TrainOptions = TrainOptions()


def _field(row: dict[str, Any], key: str, i: int, path: str) -> Any:
    if key not in row:
        raise ValueError(f"{path}: record {i} has no field {key!r}")
    return row[key]


def _pairs(rows: list[dict[str, Any]], cfg: ORMTrainConfig, path: str, eos: str) -> list[dict[str, Any]]:
    from rewardkit.orm.card import ORMCard, orm_text

    card = ORMCard(method="pairwise", prompt_separator=cfg.prompt_separator)
    out = []
    for i, r in enumerate(rows):
        p = str(r.get(cfg.prompt_key, ""))
        d = {"chosen": orm_text(p, str(_field(r, cfg.chosen_key, i, path)), card, eos),
             "rejected": orm_text(p, str(_field(r, cfg.rejected_key, i, path)), card, eos)}
        if cfg.margin_key:
            d["margin"] = float(_field(r, cfg.margin_key, i, path))
        out.append(d)
    return out


def _pointwise(tok: Any, rows: list[dict[str, Any]], cfg: ORMTrainConfig, path: str) -> list[dict[str, Any]]:
    from rewardkit.orm.card import ORMCard, orm_text

    card = ORMCard(method="pointwise", prompt_separator=cfg.prompt_separator)
    out = []
    for i, r in enumerate(rows):
        label = _field(r, cfg.label_key, i, path)
        if isinstance(label, bool):
            label = float(label)
        if not isinstance(label, (int, float)) or not 0 <= label <= 1:
            raise ValueError(f"{path}: record {i}: {cfg.label_key!r} must be in [0, 1] or a bool, got {label!r}")
        text = orm_text(str(r.get(cfg.prompt_key, "")), str(_field(r, cfg.completion_key, i, path)), card,
                        tok.eos_token)
        ids = tok(text, add_special_tokens=True)["input_ids"][:cfg.train.max_length]
        out.append({"input_ids": ids, "label": float(label)})
    return out


def _pointwise_trainer() -> Any:
    from transformers import Trainer

    from rewardkit.shaping.implicit import implicit_prm_ce_loss

    class PointwiseORMTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            label = inputs.pop("label")
            outputs = model(**inputs)
            loss = implicit_prm_ce_loss(outputs.logits[:, 0].float(), label)  # BCE on the logit
            return (loss, outputs) if return_outputs else loss

    return PointwiseORMTrainer


def train_orm(cfg: ORMTrainConfig) -> Path:
    """Train and save an ORM folder (plain weights, LoRA merged, ``rewardkit_orm.json``)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification

    from rewardkit.models.loading import load_tokenizer, resolve_device, resolve_dtype
    from rewardkit.models.training import (
        callbacks,
        last_checkpoint,
        prepare_for_training,
        read_rows,
        save_final,
        training_arguments,
    )
    from rewardkit.orm.card import ORMCard, write_orm_card

    out, o = Path(cfg.output_dir), cfg.train
    tok = load_tokenizer(cfg.model, "right")
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg.model, num_labels=1, dtype=resolve_dtype(o.dtype, resolve_device(o.device)))
    model.config.pad_token_id = tok.pad_token_id
    model = prepare_for_training(model, o, "SEQ_CLS")
    train_rows = read_rows(cfg.train_file, cfg.limit)
    eval_rows = read_rows(cfg.eval_file) if cfg.eval_file else None
    if cfg.method == "pairwise":
        from trl import RewardConfig, RewardTrainer

        args = training_arguments(o, out, has_eval=eval_rows is not None, cls=RewardConfig,
                                  max_length=o.max_length, center_rewards_coefficient=cfg.center_rewards_coefficient,
                                  gradient_checkpointing=False)  # set on the model already, if asked
        trainer = RewardTrainer(
            model=model, args=args, processing_class=tok,
            train_dataset=Dataset.from_list(_pairs(train_rows, cfg, cfg.train_file, tok.eos_token)),
            eval_dataset=Dataset.from_list(_pairs(eval_rows, cfg, str(cfg.eval_file), tok.eos_token))
            if eval_rows else None, callbacks=callbacks(o))
    else:
        from rewardkit.prm.train import pad_collate

        trainer = _pointwise_trainer()(
            model=model, args=training_arguments(o, out, has_eval=eval_rows is not None),
            train_dataset=Dataset.from_list(_pointwise(tok, train_rows, cfg, cfg.train_file)),
            eval_dataset=Dataset.from_list(_pointwise(tok, eval_rows, cfg, str(cfg.eval_file)))
            if eval_rows else None,
            data_collator=pad_collate(tok.pad_token_id, keys=("label",)), callbacks=callbacks(o))
    trainer.train(resume_from_checkpoint=last_checkpoint(out))
    final = save_final(trainer.model, tok, out / "model")
    write_orm_card(final, ORMCard(method=cfg.method, prompt_separator=cfg.prompt_separator,
                                  trained_on={"train_file": cfg.train_file, "records": len(train_rows)}))
    return final
