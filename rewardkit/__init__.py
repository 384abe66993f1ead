"""rewardkit: trustworthy, fast, dense rewards for RL on language models.

Data flows one way: samples -> reward sources (``rewardkit.verifiers``, reward models, judges,
remote servers) -> a `Pipeline` (weights, gates) -> shaping (``rewardkit.shaping``) -> token/step
rewards (``rewardkit.alignment``) -> trainers, the server, reports.

``import rewardkit`` is light: heavy modules (torch, transformers, sympy) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from rewardkit.registry import list_sources, list_transforms, register_source, register_transform
from rewardkit.sources import BaseRewardSource, RewardSource, SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status, StepScore

# name -> module that defines it; imported on first attribute access (PEP 562)
_LAZY = {
    "Pipeline": "rewardkit.pipeline",
    "build_pipeline": "rewardkit.pipeline",
    "load_config": "rewardkit.config",
    "PipelineConfig": "rewardkit.config",
    "ConfigError": "rewardkit.config",
    "score_dataset": "rewardkit.scoring",
    "ScoreSummary": "rewardkit.scoring",
    "segment": "rewardkit.steps",
    "dense_rewards": "rewardkit.alignment",
    "token_offsets": "rewardkit.alignment",
    "RemoteReward": "rewardkit.serving.client",
}

__all__ = [
    "Sample",
    "RewardResult",
    "Status",
    "StepScore",
    "RewardSource",
    "BaseRewardSource",
    "SampleRewardSource",
    "SourceParams",
    "register_source",
    "register_transform",
    "list_sources",
    "list_transforms",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'rewardkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
