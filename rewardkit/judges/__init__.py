"""LLM-judge rubrics: a judge is a reward source like any other (``type: judge`` in a config).

- `rubric`: rubrics as validated data (criteria, scales, hard constraints, aggregation) and the
  built-in ones (``builtin_rubrics()``);
- `prompts`: judge prompts that fence the response under judgment as data (prompt injection);
- `parse`: tolerant reading of judge replies that never invents a number;
- `backends`: OpenAI-compatible HTTP endpoints (concurrency, RPM/TPM limits, retries) and local
  transformers models;
- `cache`: an SQLite cache of raw replies;
- `source`: `JudgeReward` -- pointwise, pairwise (both orders), reference-guided and step-level
  judging, self-consistency;
- `testing`: a scripted OpenAI-compatible judge server for tests and benchmarks.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "JudgeReward": "rewardkit.judges.source",
    "JudgeParams": "rewardkit.judges.source",
    "Rubric": "rewardkit.judges.rubric",
    "load_rubric": "rewardkit.judges.rubric",
    "builtin_rubrics": "rewardkit.judges.rubric",
    "RubricError": "rewardkit.judges.rubric",
    "OpenAIBackend": "rewardkit.judges.backends",
    "TransformersBackend": "rewardkit.judges.backends",
    "JudgeCache": "rewardkit.judges.cache",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'rewardkit.judges' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)
