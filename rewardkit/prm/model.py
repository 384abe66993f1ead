"""A trained PRM folder and the two kinds of step scorers it can hold.

A PRM folder is a normal Hugging Face model folder plus ``rewardkit_prm.json`` (`PRMCard`):

- ``kind: classifier`` -- a token-classification head (one logit) read at the last token of each
  step; step score = ``sigmoid(logit)`` = P(step is good). Trained by `rewardkit.prm.train`
  (supervised or on Monte-Carlo labels).
- ``kind: implicit`` -- a causal LM ``π_θ`` trained on outcome labels against a reference ``π_ref``
  (Yuan et al., arXiv 2412.01981): step reward = ``β·Σ_{t∈step} log π_θ(y_t)/π_ref(y_t)``
  (or the cumulative ``q`` at the step end). The arithmetic is `rewardkit.shaping.implicit`.

Both scorers take a padded batch of `Encoded` solutions and return every step's score from ONE
forward pass per model; `per_prefix_step_scores` is the naive one-pass-per-prefix reference used
by the tests and the benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rewardkit.models.loading import load_tokenizer, position_ids_from_mask, resolve_device, resolve_dtype
from rewardkit.prm.encoding import Encoded, encode
from rewardkit.steps import Span

__all__ = ["PRMCard", "CARD_FILE", "read_card", "write_card", "StepScorer", "ClassifierScorer",
           "ImplicitScorer", "load_scorer", "pad_batch", "per_prefix_step_scores", "token_logprobs"]

CARD_FILE = "rewardkit_prm.json"


class PRMCard(BaseModel):
    """What a scorer must know to read a PRM folder the way it was trained."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["classifier", "implicit"]
    prompt_separator: str = "\n\n"
    step_separator: str = "\n\n"
    #: implicit only: the β of ``r = β·log π_θ/π_ref`` and the reference folder (relative to this one)
    beta: float = 0.05
    reference: str | None = None
    #: free-form provenance (training data, label kind, steps) -- shown, never interpreted
    trained_on: dict[str, Any] = {}


def write_card(folder: str | Path, card: PRMCard) -> None:
    Path(folder, CARD_FILE).write_text(card.model_dump_json(indent=2))


def read_card(folder: str | Path) -> PRMCard:
    path = Path(folder, CARD_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{folder} is not a rewardkit PRM folder (no {CARD_FILE}); train one with "
            "`rewardkit prm train` or write the card for a Hugging Face token-classification model")
    return PRMCard.model_validate(json.loads(path.read_text()))


def pad_batch(batch: Sequence[Encoded], pad_id: int, side: Literal["left", "right"], device: Any
              ) -> tuple[Any, Any, list[int]]:
    """``input_ids`` and ``attention_mask`` ``[B, T]`` and each row's shift (left padding moves
    token i of row b to column ``i + shift[b]``)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    shifts = []
    for b, e in enumerate(batch):
        n = len(e.input_ids)
        shift = width - n if side == "left" else 0
        ids[b, shift:shift + n] = torch.tensor(e.input_ids, dtype=torch.long)
        mask[b, shift:shift + n] = 1
        shifts.append(shift)
    return ids.to(device), mask.to(device), shifts


class StepScorer:
    """Loads a PRM folder; ``step_scores(batch)`` returns per solution one score per step (None = unseen)."""

    card: PRMCard
    tokenizer: Any
    device: Any

    def __init__(self, folder: str | Path, card: PRMCard, *, device: str | None = None, dtype: str = "auto",
                 padding_side: Literal["left", "right"] = "right") -> None:
        self.folder, self.card = Path(folder), card
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)  # type: ignore[arg-type]
        self.tokenizer = load_tokenizer(str(folder), padding_side)
        self.padding_side = padding_side

    def _forward(self, model: Any, ids: Any, mask: Any) -> Any:
        return model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask)).logits

    def step_scores(self, batch: Sequence[Encoded]) -> list[list[float | None]]:
        raise NotImplementedError


class ClassifierScorer(StepScorer):
    def __init__(self, folder: str | Path, card: PRMCard, **kw: Any) -> None:
        super().__init__(folder, card, **kw)
        from transformers import AutoModelForTokenClassification

        self.model = AutoModelForTokenClassification.from_pretrained(str(folder), dtype=self.dtype)
        self.model.to(self.device).eval()
        if self.model.config.num_labels != 1:
            raise ValueError(f"{folder}: a classifier PRM has one output (num_labels=1), "
                             f"this model has {self.model.config.num_labels}")

    def step_scores(self, batch: Sequence[Encoded]) -> list[list[float | None]]:
        return self.values(batch)[0]

    def values(self, batch: Sequence[Encoded]) -> tuple[list[list[float | None]], list[float | None]]:
        """Per step P(good) at its last token, and the same read at the prompt's last token (the
        value of the empty prefix; None without a prompt token)."""
        import torch

        ids, mask, shifts = pad_batch(batch, self.tokenizer.pad_token_id, self.padding_side, self.device)
        with torch.inference_mode():
            probs = torch.sigmoid(self._forward(self.model, ids, mask)[..., 0].float()).cpu()
        steps = [[None if t is None else float(probs[b, t + shifts[b]]) for t in e.step_ends]
                 for b, e in enumerate(batch)]
        prompt = [float(probs[b, e.completion_start - 1 + shifts[b]]) if e.completion_start > 0 else None
                  for b, e in enumerate(batch)]
        return steps, prompt

    def progress_scores(self, batch: Sequence[Encoded]) -> list[list[float | None]]:
        """PAV progress ``Q_k − Q_{k−1}`` from a PRM trained on Monte-Carlo values (soft labels),
        ``Q_0`` read at the prompt's last token (Setlur et al., arXiv 2410.08146)."""
        import torch

        from rewardkit.train.advantages import progress_from_q

        steps, prompt = self.values(batch)
        out = []
        for row, q0 in zip(steps, prompt, strict=True):
            if q0 is None:
                raise ValueError("progress scores need a prompt (its last token carries the value of the empty prefix)")
            seen = [v for v in row if v is not None]
            prog = progress_from_q(torch.tensor([q0, *seen], dtype=torch.float64)).tolist()
            out.append(prog + [None] * (len(row) - len(seen)))
        return out


class ImplicitScorer(StepScorer):
    def __init__(self, folder: str | Path, card: PRMCard, *, score: Literal["step_reward", "q"] = "step_reward",
                 **kw: Any) -> None:
        super().__init__(folder, card, **kw)
        from transformers import AutoModelForCausalLM

        if not card.reference:
            raise ValueError(f"{folder}: an implicit PRM needs its reference model ('reference' in {CARD_FILE})")
        ref = Path(card.reference)
        ref = ref if ref.is_absolute() else (Path(folder) / ref)
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=self.dtype).to(self.device).eval()
        self.ref = AutoModelForCausalLM.from_pretrained(str(ref), dtype=self.dtype).to(self.device).eval()
        self.score_kind = score

    def token_log_ratios(self, batch: Sequence[Encoded]) -> tuple[Any, Any, list[int]]:
        """``log π_θ(y_t) − log π_ref(y_t)`` for every token t ≥ 1 at column t: ``[B, T]`` (column 0 is 0)."""
        import torch

        ids, mask, shifts = pad_batch(batch, self.tokenizer.pad_token_id, self.padding_side, self.device)
        with torch.inference_mode():
            lp = token_logprobs(self._forward(self.model, ids, mask), ids)
            lp_ref = token_logprobs(self._forward(self.ref, ids, mask), ids)
        return (lp - lp_ref).cpu(), mask.cpu(), shifts

    def step_scores(self, batch: Sequence[Encoded]) -> list[list[float | None]]:
        from rewardkit.shaping.implicit import (
            implicit_q_values,
            implicit_step_rewards,
            implicit_token_rewards,
        )

        lr, _, shifts = self.token_log_ratios(batch)
        out = []
        for b, e in enumerate(batch):
            seen = [t for t in e.step_ends if t is not None]
            start = max(e.completion_start, 1)  # token 0 has no log-prob (nothing before it)
            if not seen or seen[-1] < start:
                out.append([None] * len(e.step_ends))
                continue
            row = lr[b, start + shifts[b]: seen[-1] + 1 + shifts[b]].double()
            rewards = implicit_token_rewards(row, 0.0 * row, beta=self.card.beta)
            rel = [max(t - start, 0) for t in seen]
            vals = (implicit_step_rewards(rewards, rel) if self.score_kind == "step_reward"
                    else implicit_q_values(rewards)[rel])
            scores: list[float | None] = [float(v) for v in vals]
            out.append(scores + [None] * (len(e.step_ends) - len(seen)))
        return out


def token_logprobs(logits: Any, ids: Any) -> Any:
    """log-prob of token t given tokens < t, at column t (column 0 gets 0). ``[B, T]``."""
    import torch

    lp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    return torch.nn.functional.pad(lp, (1, 0))


def load_scorer(folder: str | Path, *, device: str | None = None, dtype: str = "auto",
                padding_side: Literal["left", "right"] = "right",
                implicit_score: Literal["step_reward", "q"] = "step_reward") -> StepScorer:
    card = read_card(folder)
    if card.kind == "implicit":
        return ImplicitScorer(folder, card, device=device, dtype=dtype, padding_side=padding_side,
                              score=implicit_score)
    return ClassifierScorer(folder, card, device=device, dtype=dtype, padding_side=padding_side)


def per_prefix_step_scores(scorer: StepScorer, prompt: str, completion: str, spans: Sequence[Span],
                           *, max_length: int | None = None) -> list[float | None]:
    """Naive reference: one forward pass per step prefix ``completion[:end(k)]``, score of its last step.

    K passes over O(K·T) tokens where the single pass needs one over T; used to check the single
    pass and to measure it (benchmarks/bench_prm.py).
    """
    out: list[float | None] = []
    for k, sp in enumerate(spans):
        e = encode(scorer.tokenizer, prompt, completion[:sp.end], spans[:k + 1],
                   prompt_separator=scorer.card.prompt_separator, max_length=max_length)
        out.append(scorer.step_scores([e])[0][k])
    return out
