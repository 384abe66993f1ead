"""``rewardkit orm train | score``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_orm_cli", "run_orm_cli"]


def add_orm_cli(sub: Any) -> None:
    from rewardkit.models.cli import add_score_arguments

    p = sub.add_parser("orm", help="outcome reward models: train (pairwise / pointwise), score")
    osub = p.add_subparsers(dest="orm_command", required=True)
    tr = osub.add_parser("train", help="train an ORM; resumes from checkpoints")
    tr.add_argument("--config", "-c", required=True, help="YAML: method, model, output_dir, train_file, train: {...}")
    sc = osub.add_parser("score", help="score a dataset with a trained ORM")
    add_score_arguments(sc, "orm")


def run_orm_cli(args: argparse.Namespace) -> int:
    from rewardkit.models.cli import ConfigFileError, load_yaml_config, run_score

    if args.orm_command == "train":
        from rewardkit.orm.train import ORMTrainConfig, train_orm

        try:
            out = train_orm(load_yaml_config(args.config, ORMTrainConfig))
        except (ConfigFileError, FileNotFoundError, ValueError) as e:
            print(f"rewardkit orm train: error: {e}", file=sys.stderr)
            return 2
        print(f"saved ORM to {out}  (use it as: rewards: [{{type: orm, model: {out}}}])")
        return 0
    return run_score(args, "orm")
