"""``rewardkit eval {processbench,pairwise,bon,audit,calibration}``: argument parsing only; the
work is in `rewardkit.eval.runs`. Every subcommand takes ``--config PIPELINE.yaml --input FILE
--output-dir DIR``, prints the headline table and writes ``DIR/metrics.json``,
``DIR/samples.jsonl`` and a self-contained ``DIR/report.html``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_eval_parser", "run_eval"]

_HELP = {
    "processbench": "first-wrong-step accuracy and F1 of a process reward (ProcessBench rows: id, problem, steps, label)",
    "pairwise": "preference accuracy with RewardBench v1 and v2 scoring (rows: prompt, chosen, rejected)",
    "bon": "best-of-N accuracy by the reward vs majority vote and the oracle, over N",
    "audit": "a verifier's confusion matrix against labelled rows (completion|pred, reference|gold, expected)",
    "calibration": "ECE, Brier score, AUROC and reliability diagram of rewards vs outcome labels",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="pipeline YAML/TOML (any rewards: verifiers, PRMs, remote ...)")
    p.add_argument("--input", "-i", required=True, help="rows as .jsonl / .parquet / .csv / a saved HF dataset folder")
    p.add_argument("--output-dir", "-o", required=True, help="folder for metrics.json, samples.jsonl, report.html")
    p.add_argument("--limit", type=int, help="use only the first N rows")
    p.add_argument("--batch-size", type=int, default=None, help="samples per pipeline call")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")


def _non_ok(p: argparse.ArgumentParser) -> None:
    p.add_argument("--non-ok", choices=["miss", "exclude"], default="miss",
                   help="what a non-ok reward does to the metrics: count as a miss (default) or leave the row out "
                        "(either way it is counted in metrics.json 'statuses')")


def add_eval_parser(sub: Any) -> None:
    """Register ``eval`` and its subcommands on the top-level subparsers."""
    p = sub.add_parser("eval", help="evaluate a reward pipeline like the field's benchmarks; writes a report",
                       description="Measure any reward pipeline (verifiers, reward models, PRMs, judges, remote "
                       "servers) on local data. Every subcommand takes --config PIPELINE.yaml --input FILE "
                       "--output-dir DIR, prints the headline table and writes DIR/metrics.json, "
                       "DIR/samples.jsonl and a self-contained DIR/report.html. Definitions: docs/eval.md.")
    esub = p.add_subparsers(dest="eval_command", required=True)

    q = esub.add_parser("processbench", help=_HELP["processbench"], description=_HELP["processbench"])
    _common(q)
    q.add_argument("--threshold", type=float, default=0.5, help="a step scored below this is the predicted first error")
    q.add_argument("--sweep", type=float, nargs="+", help="thresholds of the sweep (default 0.05 ... 0.95)")
    _non_ok(q)

    q = esub.add_parser("pairwise", help=_HELP["pairwise"], description=_HELP["pairwise"])
    _common(q)
    q.add_argument("--prompt-col", default="prompt", help="prompt column (default: %(default)s)")
    q.add_argument("--chosen-col", default="chosen", help="preferred completion column (default: %(default)s)")
    q.add_argument("--rejected-col", default="rejected", help="a completion, or a list (RewardBench 2)")
    q.add_argument("--subset-col", default="subset", help="subset column for the breakdown (default: %(default)s)")
    _non_ok(q)

    q = esub.add_parser("bon", help=_HELP["bon"], description=_HELP["bon"])
    _common(q)
    q.add_argument("--n", type=int, nargs="+", help="N values of the curve (default 1..K for K <= 16 candidates, else powers of two and K)")
    q.add_argument("--max-subsets", type=int, default=256,
                   help="all C(K,N) subsets up to this many, else this many random ones")
    q.add_argument("--seed", type=int, default=0, help="seed of the random subsets (default: %(default)s)")

    q = esub.add_parser("audit", help=_HELP["audit"], description=_HELP["audit"])
    _common(q)
    q.add_argument("--threshold", type=float, default=0.5, help="accepted = ok and score >= threshold")
    q.add_argument("--group-col", help="breakdown column (default: suite or subset when present)")

    q = esub.add_parser("calibration", help=_HELP["calibration"], description=_HELP["calibration"])
    _common(q)
    q.add_argument("--label-col", help="boolean outcome column (default: label, expected, correct, is_correct)")
    q.add_argument("--bins", type=int, default=10, help="equal-width probability bins (default: %(default)s)")
    q.add_argument("--prob", choices=["identity", "sigmoid"], default="identity",
                   help="how a reward becomes a probability (sigmoid for logits)")


def run_eval(args: argparse.Namespace) -> int:
    from rewardkit.config import ConfigError
    from rewardkit.eval import runs
    from rewardkit.eval._io import print_headline
    from rewardkit.io.records import RecordError

    progress = False if args.no_progress else None
    common: dict[str, Any] = {"limit": args.limit, "progress": progress}
    if args.batch_size:
        common["batch_size"] = args.batch_size
    cmd = args.eval_command
    try:
        if cmd == "processbench":
            kw: dict[str, Any] = {"threshold": args.threshold, "non_ok": args.non_ok}
            if args.sweep:
                kw["thresholds"] = args.sweep
            run = runs.run_processbench(args.config, args.input, **kw, **common)
        elif cmd == "pairwise":
            run = runs.run_pairwise(args.config, args.input, prompt_col=args.prompt_col, chosen_col=args.chosen_col,
                                    rejected_col=args.rejected_col, subset_col=args.subset_col, non_ok=args.non_ok,
                                    **common)
        elif cmd == "bon":
            run = runs.run_bon(args.config, args.input, ns=args.n, max_subsets=args.max_subsets, seed=args.seed, **common)
        elif cmd == "audit":
            run = runs.run_audit(args.config, args.input, threshold=args.threshold, group_col=args.group_col, **common)
        else:
            run = runs.run_calibration(args.config, args.input, label_col=args.label_col, n_bins=args.bins,
                                       prob=args.prob, **common)
    except (ConfigError, RecordError, FileNotFoundError, ValueError) as e:
        print(f"rewardkit eval {cmd}: error: {e}", file=sys.stderr)
        return 2
    out = run.write(args.output_dir)
    print_headline(f"rewardkit eval {cmd}", run.headline)
    print(f"wrote {out / 'metrics.json'}, {out / 'samples.jsonl'} and {out / 'report.html'}")
    return 0
