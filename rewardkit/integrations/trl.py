"""TRL: rewardkit pipelines as ``GRPOTrainer`` reward functions.

```python
from rewardkit.integrations.trl import reward_funcs
trainer = GRPOTrainer(model=..., reward_funcs=reward_funcs("pipeline.yaml"), args=GRPOConfig(...),
                      train_dataset=ds)   # ds has a "prompt" column and a reference column
```

The functions have the signature GRPOTrainer calls (TRL 1.x):
``f(prompts, completions, completion_ids, **kwargs) -> list[float | None]`` where ``kwargs`` holds
the other dataset columns (one value per completion) plus ``trainer_state``, ``log_extra`` and
``log_metric``. Semantics:

- prompts and completions may be plain strings or chat messages (TRL's conversational format):
  the assistant turns of a completion are its text;
- the reference is read from the column ``reference_key``, or the first present of
  ``reference, answer, solution, ground_truth, label``; every other per-completion column goes to
  ``Sample.metadata``;
- a result whose status is not ok goes through the status policy (`rewardkit.status_policy`):
  by default the sample's own failures (no final answer, an expression over its budget) get the
  failing score 0.0 -- a completion with no answer must not escape the penalty a wrong one gets --
  and infrastructure failures (sandbox/judge down) and ``not_applicable`` return ``None``: TRL
  leaves that function out for that completion, and a completion that no function scores gets no
  advantage (TRL >= 1.0 masks it). Change it with ``status_policy=`` (or the pipeline's
  ``status_policy:``); ``fill={"timeout": -1.0}`` adds per-status scores;
- with ``log_metric`` available (always inside GRPOTrainer) each call logs
  ``reward/<component>/mean``, ``reward/status/<status>`` (fraction of completions, counted
  before any fill) and ``reward/masked`` (fraction returned as ``None``);
- the function is ``async`` when the source is I/O-bound (a `RemoteReward` anywhere in it):
  GRPOTrainer then runs it on its event loop concurrently with its other async reward functions.
  Force either form with ``asynchronous=``;
- ``split_components=True`` gives one function per weighted component (named after it) so TRL
  logs and weights them separately (pass ``reward_weights(pipeline)`` as ``GRPOConfig.reward_weights``;
  needed by multi-reward normalisations such as GDPO). Gates and shaping cannot be split.

The functions are picklable (a pipeline pickles as its config).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.integrations._common import as_source, policy_for
from rewardkit.status_policy import status_before_fill
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["reward_funcs", "reward_weights", "RewardFunction", "AsyncRewardFunction", "samples_from_trl",
           "DEFAULT_REFERENCE_KEYS"]

DEFAULT_REFERENCE_KEYS = ("reference", "answer", "solution", "ground_truth", "label")
_TRAINER_KWARGS = frozenset({"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"})


def _reference_key(kwargs: Mapping[str, Any], reference_key: str | None) -> str | None:
    if reference_key is not None:
        if reference_key not in kwargs:
            cols = sorted(k for k in kwargs if k not in _TRAINER_KWARGS)
            raise KeyError(f"reference column {reference_key!r} is not in the dataset columns {cols}")
        return reference_key
    return next((k for k in DEFAULT_REFERENCE_KEYS if k in kwargs), None)


def samples_from_trl(prompts: Sequence[Any], completions: Sequence[Any], kwargs: Mapping[str, Any],
                     reference_key: str | None = None) -> list[Sample]:
    """Samples for one GRPOTrainer reward call."""
    n = len(completions)
    ref_key = _reference_key(kwargs, reference_key)
    refs = kwargs[ref_key] if ref_key is not None else None
    columns = {k: v for k, v in kwargs.items()
               if k not in _TRAINER_KWARGS and k != ref_key and isinstance(v, (list, tuple)) and len(v) == n}
    return [
        Sample(prompt=prompts[i], completion=completions[i], reference=refs[i] if refs is not None else None,
               id=i, metadata={k: v[i] for k, v in columns.items()})
        for i in range(n)
    ]


class RewardFunction:
    """A synchronous GRPOTrainer reward function backed by a rewardkit reward source."""

    def __init__(self, source: Any, *, name: str | None = None, reference_key: str | None = None,
                 fill: Mapping[str | Status, float] | None = None, log_metrics: bool = True,
                 components: Sequence[str] | None = None, status_policy: Any = None) -> None:
        self.source = source
        self.__name__ = name or getattr(source, "name", "rewardkit")  # what TRL logs it as
        self.reference_key = reference_key
        self.policy = policy_for(source, status_policy, fill=fill)
        self.log_metrics = log_metrics
        self.components = list(components if components is not None
                               else getattr(source, "component_names", None) or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__name__!r}, source={self.source!r})"

    def _values(self, results: Sequence[RewardResult], kwargs: Mapping[str, Any]) -> list[float | None]:
        out = self.policy.resolve_or_none(results)
        log_metric = kwargs.get("log_metric")
        if self.log_metrics and callable(log_metric) and results:
            n = len(results)
            before = Counter(status_before_fill(r) for r in results)
            for st in Status:
                log_metric(f"reward/status/{st.value}", before[st.value] / n)
            log_metric("reward/masked", sum(v is None for v in out) / n)
            for c in self.components:
                vals = [r.components[c] for r in results if r.components.get(c) is not None]
                if vals:
                    log_metric(f"reward/{c}/mean", sum(vals) / len(vals))
        return out

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                 **kwargs: Any) -> list[float | None]:
        samples = samples_from_trl(prompts, completions, kwargs, self.reference_key)
        return self._values(self.source.score(samples), kwargs)


class AsyncRewardFunction(RewardFunction):
    """The same, as a coroutine function (GRPOTrainer awaits it on its own event loop)."""

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],  # type: ignore[override]
                       completion_ids: Any = None, **kwargs: Any) -> list[float | None]:
        samples = samples_from_trl(prompts, completions, kwargs, self.reference_key)
        return self._values(await self.source.ascore(samples), kwargs)


def _prefers_async(source: Any) -> bool:
    if getattr(source, "prefers_async", False):
        return True
    return any(getattr(s, "prefers_async", False) for s in getattr(source, "sources", ()))


def reward_funcs(pipeline: Any, *, reference_key: str | None = None,
                 fill: Mapping[str | Status, float] | None = None, asynchronous: bool | None = None,
                 split_components: bool = False, log_metrics: bool = True,
                 status_policy: Any = None) -> list[RewardFunction]:
    """GRPOTrainer reward functions for ``pipeline`` (a `Pipeline`, any reward source, or a config).

    Returns a list: one function for the pipeline's total, or one per weighted component with
    ``split_components=True``. ``status_policy`` (a `StatusPolicy` or a mapping; default: the
    pipeline's ``status_policy:``) decides what a result without a score returns; ``fill`` adds
    ``{status: score}`` rules on top.
    """
    source = as_source(pipeline)
    policy = policy_for(source, status_policy)
    if not split_components:
        is_async = _prefers_async(source) if asynchronous is None else asynchronous
        cls = AsyncRewardFunction if is_async else RewardFunction
        return [cls(source, name=getattr(source, "name", None), reference_key=reference_key, fill=fill,
                    log_metrics=log_metrics, status_policy=policy)]
    specs = getattr(source, "specs", None)
    if specs is None:
        raise ValueError("split_components=True needs a Pipeline")
    cfg = source.config
    if cfg.gate is not None or cfg.shaping or any(s.gated_by for s in specs):
        raise ValueError("split_components=True cannot express gates or shaping; use the pipeline's total")
    funcs: list[RewardFunction] = []
    for spec, comp in zip(specs, source.sources, strict=True):
        if spec.weight == 0.0:
            continue
        merged = {**{k.value: v for k, v in spec.fill.items()}, **{Status(k).value: v for k, v in (fill or {}).items()}}
        is_async = _prefers_async(comp) if asynchronous is None else asynchronous
        cls = AsyncRewardFunction if is_async else RewardFunction
        funcs.append(cls(comp, name=spec.component, reference_key=reference_key, fill=merged,
                         log_metrics=log_metrics, components=[], status_policy=policy))
    return funcs


def reward_weights(pipeline: Any) -> list[float]:
    """``GRPOConfig.reward_weights`` matching ``reward_funcs(pipeline, split_components=True)``."""
    source = as_source(pipeline)
    return [s.weight for s in source.specs if s.weight != 0.0]
