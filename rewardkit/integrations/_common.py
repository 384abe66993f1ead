"""What the trainer adapters share: which pipeline to use, built once per process."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["ENV_CONFIG", "default_config", "get_pipeline", "as_source", "policy_for"]

#: Environment variable naming the pipeline YAML/TOML the adapters load when not told otherwise.
ENV_CONFIG = "REWARDKIT_CONFIG"

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def default_config() -> dict[str, Any]:
    """The math verifier when it is installed, else the light numeric verifier."""
    if importlib.util.find_spec("rewardkit.verifiers.math") is not None:
        return {"rewards": [{"type": "math"}]}
    return {"rewards": [{"type": "numeric"}]}


def get_pipeline(config: str | Path | dict[str, Any] | None = None) -> Any:
    """The pipeline for ``config`` (a path or a dict), else ``$REWARDKIT_CONFIG``, else the default.

    Built once per process and per config, thread-safely (trainers call reward functions from
    several threads at once).
    """
    if config is None:
        config = os.environ.get(ENV_CONFIG) or None
    if config is None:
        key, spec = "<default>", default_config()
    elif isinstance(config, dict):
        key, spec = "dict:" + json.dumps(config, sort_keys=True, default=str), config
    else:
        key, spec = "path:" + str(Path(config).resolve()), config
    pipe = _CACHE.get(key)
    if pipe is None:
        with _LOCK:
            pipe = _CACHE.get(key)
            if pipe is None:
                from rewardkit.pipeline import Pipeline

                pipe = Pipeline(spec)
                _CACHE[key] = pipe
    return pipe


def as_source(pipeline_or_config: Any) -> Any:
    """A reward source as is; a config path/dict/`PipelineConfig` built into a `Pipeline`."""
    if hasattr(pipeline_or_config, "score") and hasattr(pipeline_or_config, "ascore"):
        return pipeline_or_config
    from rewardkit.pipeline import Pipeline

    return Pipeline(pipeline_or_config)


def policy_for(source: Any, status_policy: Any = None, *, fill: Any = None, masked_score: float | None = None) -> Any:
    """The status policy an adapter applies: ``status_policy`` (a `StatusPolicy` or a mapping) if
    given, else the pipeline's ``status_policy:``, else the defaults; then ``fill`` (``{status:
    score}``) and ``masked_score`` on top."""
    from rewardkit.status_policy import StatusPolicy

    if status_policy is None:
        cfg = getattr(source, "config", None)
        status_policy = getattr(cfg, "status_policy", None)
    policy = StatusPolicy.coerce(status_policy).with_fills(fill)
    if masked_score is not None:
        policy = policy.model_copy(update={"masked_score": float(masked_score)})
    return policy
