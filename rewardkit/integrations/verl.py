"""verl: a ``custom_reward_function`` module backed by a rewardkit pipeline.

```yaml
reward:                       # verl >= 0.6 (older releases: top-level custom_reward_function)
  custom_reward_function:
    path: /path/to/rewardkit/integrations/verl.py   # python -c "import rewardkit.integrations.verl as m; print(m.__file__)"
    name: compute_score        # or compute_score_batch with reward_manager.name=batch
    reward_kwargs:             # optional; passed to every call
      config: /path/to/pipeline.yaml              # default: $REWARDKIT_CONFIG, else math/numeric
      configs: {openai/gsm8k: gsm8k.yaml, "*": math.yaml}   # pipeline per data_source
      status_policy: {statuses: {timeout: mask}}  # optional; default: the pipeline's, else safe defaults
      fill: 0.0                                   # the number sent for a masked sample
```

verl calls ``compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)``
(keyword arguments, plus any ``reward_kwargs``; its reward loop may add more, which are ignored)
and reads ``result["score"]`` as the reward, keeping every other key as a per-sample
``reward_extra_info`` column. Mapping to a `Sample`: ``completion = solution_str``,
``reference = ground_truth``, ``prompt = extra_info["question"]`` (or ``"prompt"``) when present.

Returned dict, the same keys for every sample of a pipeline (verl stacks them into columns):
``score`` (float), ``valid`` (1.0/0.0), ``status`` (string, before any fill) and
``reward/<component>`` (float or None). A result without a score goes through the status policy
(`rewardkit.status_policy`): the sample's own failures (no answer, over its budget) get the failing
score 0.0 with ``valid = 1.0``; infrastructure failures and ``not_applicable`` are masked -- verl
needs a number, so they get ``fill`` (default 0.0) with ``valid = 0.0``. With ``configs`` choosing different pipelines
by data source, give their components the same names, or pass ``components: false``.

``acompute_score`` is the same as a coroutine (verl's async reward loop awaits coroutine
functions); ``compute_score_batch`` takes verl's ``BatchRewardManager`` lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.integrations._common import get_pipeline, policy_for
from rewardkit.status_policy import StatusPolicy, status_before_fill
from rewardkit.types import RewardResult, Sample

__all__ = ["compute_score", "acompute_score", "compute_score_batch", "pipeline_for"]


def pipeline_for(data_source: Any, config: Any = None, configs: Mapping[str, Any] | None = None) -> Any:
    """The pipeline for one data source: ``configs[data_source]``, ``configs["*"]``, ``config``,
    ``$REWARDKIT_CONFIG``, else the default (math verifier, or numeric)."""
    if configs:
        chosen = configs.get(str(data_source), configs.get("*"))
        if chosen is not None:
            return get_pipeline(chosen)
    return get_pipeline(config)


def _sample(solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None, data_source: Any) -> Sample:
    info = extra_info if isinstance(extra_info, Mapping) else {}
    prompt = info.get("question") or info.get("prompt") or ""
    return Sample(prompt=prompt if isinstance(prompt, (str, list)) else str(prompt),
                  completion=solution_str, reference=ground_truth, id=info.get("index"),
                  metadata={"data_source": data_source})


def _result_dict(r: RewardResult, pipeline: Any, policy: StatusPolicy, components: bool) -> dict[str, Any]:
    score, valid = policy.resolve(r)
    out: dict[str, Any] = {"score": score, "valid": 1.0 if valid else 0.0, "status": status_before_fill(r)}
    if components:
        for c in getattr(pipeline, "component_names", ()):
            out[f"reward/{c}"] = r.components.get(c)
    return out


def _policy(pipe: Any, kwargs: Mapping[str, Any]) -> StatusPolicy:
    fill = kwargs.get("fill")
    return policy_for(pipe, kwargs.get("status_policy"), masked_score=None if fill is None else float(fill))


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """verl's custom reward function: ``{"score": float, "valid", "status", "reward/<c>"...}``."""
    pipe = pipeline_for(data_source, kwargs.get("config"), kwargs.get("configs"))
    r = pipe.score([_sample(solution_str, ground_truth, extra_info, data_source)])[0]
    return _result_dict(r, pipe, _policy(pipe, kwargs), bool(kwargs.get("components", True)))


async def acompute_score(data_source: Any, solution_str: str, ground_truth: Any,
                         extra_info: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """`compute_score` as a coroutine function, for verl's async reward loop."""
    pipe = pipeline_for(data_source, kwargs.get("config"), kwargs.get("configs"))
    r = (await pipe.ascore([_sample(solution_str, ground_truth, extra_info, data_source)]))[0]
    return _result_dict(r, pipe, _policy(pipe, kwargs), bool(kwargs.get("components", True)))


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
                        **kwargs: Any) -> list[dict[str, Any]]:
    """verl's ``BatchRewardManager`` form: one pipeline call per data source, results in order."""
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    comps = bool(kwargs.get("components", True))
    groups: dict[int, tuple[Any, list[int]]] = {}
    for i in range(n):
        pipe = pipeline_for(data_sources[i], kwargs.get("config"), kwargs.get("configs"))
        groups.setdefault(id(pipe), (pipe, []))[1].append(i)
    out: list[dict[str, Any] | None] = [None] * n
    for pipe, idx in groups.values():
        results = pipe.score([_sample(solution_strs[i], ground_truths[i], infos[i], data_sources[i]) for i in idx])
        policy = _policy(pipe, kwargs)
        for i, r in zip(idx, results, strict=True):
            out[i] = _result_dict(r, pipe, policy, comps)
    return out  # type: ignore[return-value]
