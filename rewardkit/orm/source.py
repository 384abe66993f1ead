"""The ``orm`` reward source: one scalar per sample from a sequence-classification reward model.

Batches are sorted by length and padded per batch (dynamic padding), on the model's device. A
sample longer than ``max_length`` is ``not_applicable`` rather than scored on a cut text (the
model would judge an answer it never saw).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams, error_result
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["ORMSource"]


@register_source("orm")
class ORMSource(BaseRewardSource):
    """Outcome reward model folder (one logit); score = logit or sigmoid(logit)."""

    class Params(SourceParams):
        model: str
        #: logit: the Bradley-Terry reward as trained; sigmoid: a probability (pointwise models)
        output: Literal["logit", "sigmoid"] = "logit"
        batch_size: int = 8
        max_length: int = 2048
        device: str = "auto"
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
        padding_side: Literal["left", "right"] = "right"

    def setup(self) -> None:
        from transformers import AutoModelForSequenceClassification

        from rewardkit.models.loading import load_tokenizer, resolve_device, resolve_dtype
        from rewardkit.orm.card import read_orm_card

        p = self.params
        self.card = read_orm_card(p.model)
        self.device = resolve_device(p.device)
        self.tokenizer = load_tokenizer(p.model, p.padding_side)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            p.model, dtype=resolve_dtype(p.dtype, self.device)).to(self.device).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        import torch

        from rewardkit.models.loading import length_sorted_batches
        from rewardkit.orm.card import orm_text

        texts = [orm_text(s.prompt_text, s.completion, self.card, self.tokenizer.eos_token) for s in samples]
        ids = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        results: list[RewardResult | None] = [None] * len(samples)
        fits = []
        for i, x in enumerate(ids):
            if len(x) > self.params.max_length:
                results[i] = RewardResult.fail(Status.NOT_APPLICABLE,
                                               f"{len(x)} tokens > max_length={self.params.max_length}")
            else:
                fits.append(i)
        for batch in length_sorted_batches([len(ids[i]) for i in fits], self.params.batch_size):
            rows = [fits[j] for j in batch]
            try:
                enc = self.tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt").to(self.device)
                with torch.inference_mode():
                    logits = self.model(**enc).logits[:, 0].float().cpu()
                vals = torch.sigmoid(logits) if self.params.output == "sigmoid" else logits
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every sample of the batch
                for i in rows:
                    results[i] = error_result(exc, where=self.name)
                continue
            for i, v in zip(rows, vals.tolist(), strict=True):
                results[i] = RewardResult.ok(v)
        return [r for r in results if r is not None]
