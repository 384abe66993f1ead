"""Reward shaping: turn scores from any source into the rewards a trainer consumes.

One concept per module, each a set of small pure functions (numpy on the CPU reward path, torch
for token tensors) plus config-registered batch transforms in `rewardkit.shaping.transforms`:

- `process`    Clip / Delta / Clip-Delta for PRM step rewards; Math-Shepherd labels
- `par`        Preference As Reward and the RM-shaping baselines; reference-reward cache
- `normalize`  per-group (GRPO), per-batch, leave-one-out, running statistics
- `multi`      weighted sum, sum-then-normalise, GDPO
- `ensemble`   mean / worst-case / uncertainty-weighted RM ensembles
- `gates`      gates and gated bonuses
- `kl`         k1 / k2 / k3 KL estimators, KL-in-reward, RTO dense reward   (torch)
- `length`     LASER and DAPO overlong penalties
- `placement`  step rewards onto tokens (end / spread / fill)
- `filters`    PROF process-consistency rollout filter
- `implicit`   implicit-PRM token/step rewards from log-ratios            (torch)

Advantage estimators over ``[B, T]`` tensors live in `rewardkit.train.advantages`.
This package is light on import: submodules and names load on first use (torch only for `kl`).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # process
    "clip_rewards": "process", "delta_rewards": "process", "clip_delta_rewards": "process",
    "shape_process_rewards": "process", "process_token_rewards": "process", "reward_to_go": "process",
    "math_shepherd_labels": "process",
    # par
    "par_reward": "par", "centered_reward": "par", "lsc_reward": "par", "meanstd_reward": "par",
    "running_clip_reward": "par", "minmax_reward": "par", "ReferenceRewards": "par",
    # normalize
    "group_normalize": "normalize", "batch_normalize": "normalize", "leave_one_out": "normalize",
    "RunningStats": "normalize",
    # multi / ensemble / gates / length
    "weighted_sum": "multi", "sum_then_normalize": "multi", "gdpo": "multi",
    "ensemble": "ensemble", "ensemble_mean": "ensemble", "ensemble_min": "ensemble", "ensemble_uwo": "ensemble",
    "gate": "gates", "gated_bonus": "gates", "gated_accumulation": "gates",
    "laser_reward": "length", "laser_difficulty": "length", "dapo_overlong_penalty": "length",
    # placement
    "steps_to_tokens": "placement", "place_steps": "placement", "step_tensors": "placement",
    # filters / implicit PRM (torch)
    "prof_filter": "filters", "prof_consistency": "filters",
    "implicit_token_rewards": "implicit", "implicit_step_rewards": "implicit", "implicit_score": "implicit",
    # kl (torch)
    "approx_kl": "kl", "kl_penalized_rewards": "kl", "rto_token_rewards": "kl",
}

_SUBMODULES = {"process", "par", "normalize", "multi", "ensemble", "gates", "kl", "length", "placement",
               "transforms", "filters", "implicit"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
