"""OpenRLHF: the remote reward protocol, and a ``reward_func`` file for its Python-function mode.

OpenRLHF asks for rewards in one of two ways (``--reward.remote_url``):

1. **HTTP** (``--reward.remote_url http://host:port/get_reward``): it POSTs
   ``{"query": [...], "prompts": [...], "labels": [...]}`` (``query`` = prompt + response as
   decoded text; older releases sent only ``query``, or ``query`` and ``prompts``) and reads
   ``{"rewards": [...], "scores": [...], "extra_logs": {name: [...]}}`` -- one number per query in
   each list; it turns them into tensors, so every value must be a number. ``rewardkit serve``
   answers this at ``POST /get_reward``.
2. **Python function** (``--reward.remote_url /path/to/file.py``): it imports the file and calls
   ``reward_func(queries, prompts, labels)``, possibly from several threads at once. This module
   is such a file: pass its path (``python -c "import rewardkit.integrations.openrlhf as m;
   print(m.__file__)"``). It scores with the pipeline named by ``$REWARDKIT_CONFIG`` (default: the
   math verifier, or ``numeric`` when that is not installed).

Mapping to a `Sample`: ``completion = query[len(prompt):]`` when the query starts with the prompt
(else the text after the prompt's first occurrence, else the whole query) with trailing
end-of-turn tokens (``<|im_end|>``, ``</s>`` ...) removed, ``prompt = prompt``, ``reference = label``.

A result without a score goes through the status policy (`rewardkit.status_policy`; the
pipeline's ``status_policy:`` or the ``status_policy`` argument): the sample's own failures (no
answer, over its budget) get the failing score 0.0; infrastructure failures and ``not_applicable``
are masked -- the protocol has no "no score", so they are sent as ``fill`` (default 0.0; server
flag ``--fill``, env ``REWARDKIT_FILL`` here) with ``extra_logs["reward/valid"]`` 0.0, so they are
visible in the trainer's logs rather than silent. ``extra_logs["reward/<component>"]`` carries
each pipeline component's score (fill when it has none).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from rewardkit.integrations._common import get_pipeline, policy_for
from rewardkit.status_policy import StatusPolicy
from rewardkit.types import RewardResult, Sample

__all__ = ["reward_func", "samples_from_openrlhf", "openrlhf_response", "split_query"]


# End-of-turn markers left at the end of the response, since OpenRLHF decodes with
# skip_special_tokens=False: <|im_end|>, <|endoftext|>, <|eot_id|>, </s>, <｜end▁of▁sentence｜> ...
_TRAILING_SPECIAL = re.compile(r"(?:\s*(?:<\|[^|<>\s]{1,40}\|>|</s>|<｜[^｜<>]{1,40}｜>))+\s*$")


def split_query(query: str, prompt: str | None) -> str:
    """The response part of an OpenRLHF ``query`` (prompt + response), end-of-turn tokens removed."""
    if prompt:
        if query.startswith(prompt):
            query = query[len(prompt):]
        else:
            i = query.find(prompt)
            if i >= 0:
                query = query[i + len(prompt):]
    return _TRAILING_SPECIAL.sub("", query)


def samples_from_openrlhf(queries: Sequence[str], prompts: Sequence[str] | None = None,
                          labels: Sequence[Any] | None = None) -> list[Sample]:
    """Samples for OpenRLHF's parallel lists (``prompts``/``labels`` may be absent)."""
    out = []
    for i, q in enumerate(queries):
        p = prompts[i] if prompts is not None else None
        out.append(Sample(prompt=p or "", completion=split_query(q, p),
                          reference=labels[i] if labels is not None else None, id=i))
    return out


def openrlhf_response(results: Sequence[RewardResult], components: Sequence[str] = (),
                      fill: float | None = None, policy: StatusPolicy | None = None) -> dict[str, Any]:
    """``{"rewards", "scores", "extra_logs"}`` with plain numbers only: scores resolved by the status
    ``policy`` (default: `StatusPolicy()`); where it masks, ``fill`` (default: the policy's
    ``masked_score``) and ``reward/valid`` 0.0."""
    policy = policy or StatusPolicy()
    if fill is not None:
        policy = policy.model_copy(update={"masked_score": float(fill)})
    fill = policy.masked_score
    rewards, valid = policy.resolve_batch(results)
    extra_logs: dict[str, list[float]] = {"reward/valid": [1.0 if v else 0.0 for v in valid]}
    for c in components:
        vals = []
        for r in results:
            v = r.components.get(c)
            vals.append(float(v) if v is not None else fill)
        extra_logs[f"reward/{c}"] = vals
    return {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs}


def reward_func(queries: Sequence[str], prompts: Sequence[str] | None = None,
                labels: Sequence[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF's Python-function reward: ``{"rewards", "scores", "extra_logs"}`` as tensors.

    Keyword arguments (all optional): ``config`` (pipeline path; default ``$REWARDKIT_CONFIG``),
    ``fill`` (default ``$REWARDKIT_FILL``, else the policy's ``masked_score``, 0.0),
    ``status_policy`` (a mapping; default the pipeline's). Returns torch tensors like OpenRLHF's own examples when torch is importable (it
    always is inside OpenRLHF), else lists.
    """
    pipeline = get_pipeline(kwargs.get("config"))
    fill = kwargs.get("fill", os.environ.get("REWARDKIT_FILL"))
    samples = samples_from_openrlhf(list(queries), prompts, labels)
    results = pipeline.score(samples)
    payload = openrlhf_response(results, getattr(pipeline, "component_names", ()),
                                fill=None if fill is None else float(fill),
                                policy=policy_for(pipeline, kwargs.get("status_policy")))
    try:
        import torch
    except ImportError:  # pragma: no cover - OpenRLHF always has torch
        return payload
    rewards = torch.tensor(payload["rewards"], dtype=torch.float)
    return {
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": {k: torch.tensor(v, dtype=torch.float) for k, v in payload["extra_logs"].items()},
    }
