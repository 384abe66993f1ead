"""``rewardkit prm label | train | score``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_prm_cli", "run_prm_cli"]


def add_prm_cli(sub: Any) -> None:
    from rewardkit.models.cli import add_score_arguments

    p = sub.add_parser("prm", help="process reward models: label steps, train, score")
    psub = p.add_subparsers(dest="prm_command", required=True)
    lab = psub.add_parser("label", help="Monte-Carlo step labels from outcome checks (resumable)",
                          description="For every step prefix, sample N completions and check them with a "
                          "verifier; writes OUTPUT_DIR/prefixes.jsonl (one line per prefix; rerun to resume) and "
                          "OUTPUT_DIR/stepwise.jsonl (PRM training data with hard/soft labels, q and progress).")
    lab.add_argument("--config", "-c", required=True, help="YAML: input, output_dir, rollout, verifier, n, ...")
    lab.add_argument("--limit", type=int, help="label only the first N solutions")
    tr = psub.add_parser("train", help="train a PRM (method: supervised | implicit); resumes from checkpoints")
    tr.add_argument("--config", "-c", required=True, help="training YAML (required)")
    sc = psub.add_parser("score", help="score a dataset's steps with a trained PRM (one forward pass each)")
    add_score_arguments(sc, "prm")


def run_prm_cli(args: argparse.Namespace) -> int:
    from rewardkit.models.cli import ConfigFileError, load_yaml_config, run_score

    try:
        if args.prm_command == "label":
            from rewardkit.prm.label import LabelConfig, run_labelling

            out = run_labelling(load_yaml_config(args.config, LabelConfig, {"limit": args.limit}))
            print(f"wrote {out}")
            return 0
        if args.prm_command == "train":
            import yaml

            method = (yaml.safe_load(open(args.config)) or {}).get("method", "supervised")
            if method == "implicit":
                from rewardkit.prm.implicit_train import ImplicitTrainConfig, train_implicit_prm

                out = train_implicit_prm(load_yaml_config(args.config, ImplicitTrainConfig))
            elif method == "supervised":
                from rewardkit.prm.train import PRMTrainConfig, train_prm

                out = train_prm(load_yaml_config(args.config, PRMTrainConfig))
            else:
                raise ConfigFileError(f"{args.config}: method must be 'supervised' or 'implicit', got {method!r}")
            print(f"saved PRM to {out}  (use it as: rewards: [{{type: prm, model: {out}}}])")
            return 0
    except (ConfigFileError, FileNotFoundError, ValueError) as e:
        print(f"rewardkit prm {args.prm_command}: error: {e}", file=sys.stderr)
        return 2
    return run_score(args, "prm")
