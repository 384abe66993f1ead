"""The ``prm`` reward source: step scores of a trained PRM, all steps in one forward pass.

Steps come from the sample's own ``steps`` or from `rewardkit.steps` segmentation; each step's
score comes with its character span (so `rewardkit.alignment.dense_rewards` places it on any policy
tokenizer), and the outcome score aggregates the step scores (``min`` by default, as in
Math-Shepherd and the implicit-PRM Best-of-N evaluation; ``last``, ``mean``, ``product``).

Statuses:
- no step in the completion -> ``unparseable`` (the sample's fault: it costs the policy);
- a step past ``max_length`` gets ``score=None`` (never 0). The outcome is then
  ``not_applicable`` by default (``on_truncation: not_applicable``): aggregating only the seen
  steps would let a policy hide a bad step behind a long prefix. ``on_truncation: score_seen``
  aggregates the seen steps and reports how many were unseen in ``info['steps_unscored']``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from rewardkit.prm.encoding import encode_batch
from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams, error_result
from rewardkit.steps import Span, StepSegmenter
from rewardkit.steps import aggregate_step_scores as aggregate
from rewardkit.types import RewardResult, Sample, Status, StepScore

__all__ = ["PRMSource", "aggregate"]

Aggregation = Literal["min", "last", "mean", "product"]


@register_source("prm")
class PRMSource(BaseRewardSource):
    """Process reward model (classifier or implicit PRM folder): step scores + aggregated outcome."""

    class Params(SourceParams):
        model: str
        aggregation: Aggregation = "min"
        step_method: Literal["separator", "lines", "regex_split", "regex_match"] = "separator"
        #: None: the separator the PRM was trained with (from its card)
        separator: str | None = None
        pattern: str | None = None
        batch_size: int = 8
        max_length: int = 2048
        on_truncation: Literal["not_applicable", "score_seen"] = "not_applicable"
        #: implicit PRMs: per-step reward (default) or the cumulative value q at each step end
        implicit_score: Literal["step_reward", "q"] = "step_reward"
        #: classifier PRMs: P(step good) / MC value Q_k (default), or PAV progress Q_k − Q_{k−1}
        classifier_score: Literal["value", "progress"] = "value"
        device: str = "auto"
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
        padding_side: Literal["left", "right"] = "right"

    def setup(self) -> None:
        from rewardkit.prm.model import load_scorer

        p = self.params
        self.scorer = load_scorer(p.model, device=p.device, dtype=p.dtype, padding_side=p.padding_side,
                                  implicit_score=p.implicit_score)
        if p.classifier_score == "progress" and self.scorer.card.kind != "classifier":
            raise ValueError("classifier_score 'progress' needs a classifier PRM (use implicit_score for implicit)")
        if p.classifier_score == "progress" and p.aggregation == "product":
            raise ValueError("aggregation 'product' multiplies probabilities; progress scores are differences")
        if self.scorer.card.kind == "implicit" and p.aggregation == "product":
            raise ValueError("aggregation 'product' multiplies probabilities; an implicit PRM's step "
                             "rewards are log-ratios: use min, last or mean")
        self.segmenter = StepSegmenter(method=p.step_method, pattern=p.pattern,
                                       separator=p.separator or self.scorer.card.step_separator)

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        from rewardkit.models.loading import length_sorted_batches

        results: list[RewardResult | None] = [None] * len(samples)
        todo: list[tuple[int, list[Span]]] = []
        for i, s in enumerate(samples):
            try:
                spans = self.segmenter(s.completion, s.steps)
            except Exception as exc:  # noqa: BLE001 - a bad record is that record's error
                results[i] = error_result(exc, where=f"{self.name}: steps of sample {s.id!r}")
                continue
            if not spans:
                results[i] = RewardResult.fail(Status.UNPARSEABLE, "no steps in the completion")
            else:
                todo.append((i, spans))
        card = self.scorer.card
        encoded = encode_batch(self.scorer.tokenizer, [samples[i].prompt_text for i, _ in todo],
                               [samples[i].completion for i, _ in todo], [sp for _, sp in todo],
                               prompt_separator=card.prompt_separator, max_length=self.params.max_length)
        for batch in length_sorted_batches([len(e.input_ids) for e in encoded], self.params.batch_size):
            try:
                rows = [encoded[j] for j in batch]
                scores = (self.scorer.progress_scores(rows) if self.params.classifier_score == "progress"
                          else self.scorer.step_scores(rows))
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every sample of the batch
                for j in batch:
                    results[todo[j][0]] = error_result(exc, where=self.name)
                continue
            for j, sc in zip(batch, scores, strict=True):
                i, spans = todo[j]
                results[i] = self._result(spans, sc)
        return [r for r in results if r is not None]

    def _result(self, spans: list[Span], scores: list[float | None]) -> RewardResult:
        steps = [StepScore(sp.start, sp.end, s) for sp, s in zip(spans, scores, strict=True)]
        seen = [s for s in scores if s is not None]
        unseen = len(scores) - len(seen)
        info: dict[str, Any] = {"steps_unscored": unseen} if unseen else {}
        if not seen or (unseen and self.params.on_truncation == "not_applicable"):
            return RewardResult.fail(Status.NOT_APPLICABLE,
                                     f"{unseen} of {len(scores)} steps past max_length={self.params.max_length}",
                                     steps=steps, info=info)
        return RewardResult.ok(aggregate(seen, self.params.aggregation), steps=steps, info=info)
