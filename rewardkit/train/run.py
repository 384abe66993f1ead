"""Entry point: ``rewardkit train --config train.yaml`` -> the recipe named in ``algorithm.recipe``.

Multi-device: ``accelerate launch [--config_file accel.yaml] -m rewardkit.train.run --config train.yaml``
(DDP, FSDP or DeepSpeed ZeRO come from the accelerate config; the training YAML does not change).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["train", "add_parser", "run_cli", "RECIPES"]


def _grpo(cfg: Any, **kw: Any) -> Any:
    from rewardkit.train.grpo import train as run

    return run(cfg, **kw)


def _ppo(cfg: Any, **kw: Any) -> Any:
    from rewardkit.train.ppo import train as run

    return run(cfg, **kw)


RECIPES: dict[str, Callable[..., Any]] = {"grpo": _grpo, "ppo": _ppo}


def train(config: Any, **kw: Any) -> Any:
    """Load the config (YAML path, mapping or `TrainConfig`) and run its recipe."""
    from rewardkit.train.config import load_train_config

    cfg = load_train_config(config)
    return RECIPES[cfg.algorithm.recipe](cfg, **kw)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a policy with PPO/GRPO on rewardkit rewards (needs rewardkit[train])",
                       description="Run the bundled PPO/GRPO trainer from a YAML config (see docs/training.md). "
                       "For several devices: accelerate launch -m rewardkit.train.run --config train.yaml")
    _args(p)


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="training YAML (required)")
    p.add_argument("--steps", type=int, help="override steps (default: the config's)")
    p.add_argument("--output-dir", help="override output_dir (default: the config's)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in output_dir (default: off)")


def run_cli(args: argparse.Namespace) -> int:
    import yaml

    from rewardkit.train.config import load_train_config

    try:
        with open(args.config) as f:
            data = yaml.safe_load(f) or {}
        if args.steps is not None:
            data["steps"] = args.steps
        if args.output_dir is not None:
            data["output_dir"] = args.output_dir
        if args.resume:
            data["resume"] = True
        cfg = load_train_config(data)
    except (OSError, ValueError) as e:
        print(f"rewardkit train: error: {e}", file=sys.stderr)
        return 2
    hist = train(cfg).history
    if hist:
        last = hist[-1]
        print(f"done: {cfg.steps} steps; last reward/score {last.get('reward/score', float('nan')):.4f}; "
              f"metrics in {cfg.output_dir}/metrics.jsonl, model in {cfg.output_dir}/final")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rewardkit-train")
    _args(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
