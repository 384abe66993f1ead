"""The ``rewardkit`` command: ``score`` (the main job), ``list``, ``generate``, ``serve``, ``train``, ``eval``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _add_score(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score a dataset offline with a reward pipeline",
        description="Score every record of --input with the pipeline in --config and write --output. "
        "With no --input, scores the embedded synthetic arithmetic data with the default pipeline.",
    )
    p.add_argument("--config", "-c", help="pipeline YAML/TOML (default: the built-in default pipeline)")
    p.add_argument("--input", "-i", help="data.{jsonl,parquet,csv} or a saved Hugging Face dataset folder "
                   "(default: embedded synthetic data)")
    p.add_argument("--input-format", choices=["jsonl", "parquet", "csv", "hf"],
                   help="input format (default: detected from the file extension, or a folder = hf)")
    p.add_argument("--output", "-o", help="scored.{jsonl,parquet} (default: rewardkit_out/scored.jsonl)")
    p.add_argument("--id-col", default="id",
                   help="input column holding the record id; row number when absent (default: %(default)s)")
    p.add_argument("--prompt-col", default="prompt", help="input column holding the prompt (default: %(default)s)")
    p.add_argument("--completion-col", default="completion",
                   help="input column holding the completion to score (default: %(default)s)")
    p.add_argument("--reference-col", default="reference",
                   help="input column holding the reference answer/tests (default: %(default)s)")
    p.add_argument("--group-col", default="group_id",
                   help="input column grouping completions of one prompt (default: %(default)s)")
    p.add_argument("--steps-col", default="steps",
                   help="input column holding pre-split reasoning steps (default: %(default)s)")
    p.add_argument("--workers", "-w", type=int, default=1,
                   help="processes (use >1 for CPU-heavy rewards) (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="records scored (and flushed to the .partial file) per batch (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run (default: off)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (default: off)")
    p.add_argument("--on-error", choices=["skip", "fail"], default="fail",
                   help="what a bad record does: skip it (listed in the summary) or stop the run "
                        "(default: %(default)s)")
    p.add_argument("--limit", type=int, help="score only the first N records (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")
    p.add_argument("--preview", type=int, default=8,
                   help="rows of the scored output to print, 0 for none (default: %(default)s)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where batches are scored: this machine, or Ray scorer actors (needs the ray extra) "
                        "(default: %(default)s)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join ('auto', 'ray://head:10001'; default: start a local instance)")
    p.add_argument("--ray-actors", type=int, default=None,
                   help="scorer actors (default: cluster CPUs / --ray-num-cpus, or GPUs / --ray-num-gpus)")
    p.add_argument("--ray-num-cpus", type=float, default=1.0, help="CPUs per scorer actor (default: 1)")
    p.add_argument("--ray-num-gpus", type=float, default=0.0,
                   help="GPUs per scorer actor (default: 0; 1 for a reward model on a GPU)")


def _cmd_score(args: argparse.Namespace) -> int:
    from rewardkit.config import ConfigError
    from rewardkit.io.records import ColumnMap, RecordError
    from rewardkit.scoring import score_dataset, summary_path

    default_run = args.input is None and args.output is None
    output = Path(args.output or "rewardkit_out/scored.jsonl")
    cols = ColumnMap(id=args.id_col, prompt=args.prompt_col, completion=args.completion_col,
                     reference=args.reference_col, group=args.group_col, steps=args.steps_col)
    try:
        summary = score_dataset(
            args.config, args.input, output, columns=cols, input_format=args.input_format,
            workers=args.workers, batch_size=args.batch_size, resume=args.resume,
            overwrite=args.overwrite or (default_run and not args.resume), on_error=args.on_error,
            progress=False if args.no_progress else None, limit=args.limit, backend=args.backend,
            ray={"address": args.ray_address, "actors": args.ray_actors, "num_cpus": args.ray_num_cpus,
                 "num_gpus": args.ray_num_gpus} if args.backend == "ray" else None,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished rows are kept in {output}.partial; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 130
    except (ConfigError, RecordError, OSError, ValueError, ImportError) as e:  # OSError: e.g. a full disk
        print(f"rewardkit score: error: {e}", file=sys.stderr)
        return 2
    if args.preview:
        _print_preview(output, args.preview, cols.id)
    print(summary.table())
    print(f"\nwrote {output} and {summary_path(output)}")
    return 0


def _print_preview(output: Path, n: int, id_col: str) -> None:
    from rewardkit.io.output import read_head

    rows = read_head(output, n)  # JSONL or Parquet
    if not rows:
        return
    print(f"{'id':<14}{'status':<15}{'score':>7}  components / step scores")
    for r in rows:
        comps = " ".join(f"{k}={'-' if v is None else f'{v:g}'}" for k, v in (r.get("components") or {}).items())
        steps = r.get("steps")
        st = ""
        if steps:
            st = "  steps=[" + ",".join("-" if s["score"] is None else f"{s['score']:g}" for s in steps) + "]"
        score = "-" if r["score"] is None else f"{r['score']:.3g}"
        print(f"{str(r.get(id_col))[:13]:<14}{r['status']:<15}{score:>7}  {comps}{st}")
    print()


def _add_list(sub: Any) -> None:
    sub.add_parser("list", help="list the config keys, and every reward source and transform with its parameters")


def _params_of(cls: Any) -> str:
    model = getattr(cls, "Params", None)
    if model is None or not hasattr(model, "model_fields"):
        return ""
    parts = []
    for name, f in model.model_fields.items():
        default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
        parts.append(f"{name}={default}")
    return ", ".join(parts)


def _print_entries(title: str, names: list[str], get_class: Any) -> None:
    print(title)
    if not names:
        print("  (none registered)")
    for name in names:
        try:
            cls = get_class(name)
        except Exception as e:  # noqa: BLE001 - an optional extra may be missing
            print(f"  {name:<18} (unavailable: {type(e).__name__}: {e})")
            continue
        summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"  {name:<18} {summary}")
        params = _params_of(cls)
        if params:
            print(f"  {'':<18}   params: {params}")


def _print_keys(title: str, keys: dict[str, str]) -> None:
    print(title)
    for k, meaning in keys.items():
        print(f"  {k:<18} {meaning}")


def _cmd_list(_: argparse.Namespace) -> int:
    from rewardkit.config import reward_entry_keys, top_level_keys
    from rewardkit.registry import get_source_class, get_transform_class, list_sources, list_transforms

    _print_keys("pipeline config, top-level keys:", top_level_keys())
    print()
    _print_keys("keys of every reward entry (rewards: - ...), besides its source's params:", reward_entry_keys())
    print()
    _print_entries("reward sources (rewards: - type: NAME):", list_sources(), get_source_class)
    print()
    _print_entries("transforms (shaping: - type: NAME):", list_transforms(), get_transform_class)
    return 0


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="write the synthetic arithmetic dataset (with step labels) to JSONL")
    p.add_argument("--output", "-o", required=True, help="JSONL file to write (required)")
    p.add_argument("--problems", type=int, default=100, help="arithmetic problems (default: %(default)s)")
    p.add_argument("--group-size", type=int, default=4,
                   help="solutions per problem, sharing a group_id (default: %(default)s)")
    p.add_argument("--p-wrong", type=float, default=0.4,
                   help="probability that a solution has a wrong step (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


def _cmd_generate(args: argparse.Namespace) -> int:
    import orjson

    from rewardkit.data.synthetic import generate_records
    from rewardkit.io.output import atomic_write_bytes

    data = b"".join(orjson.dumps(r) + b"\n" for r in generate_records(
        n_problems=args.problems, group_size=args.group_size, p_wrong=args.p_wrong, seed=args.seed))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)
    print(f"wrote {args.problems * args.group_size} records to {out}")
    return 0


def _add_serve(sub: Any, full: bool) -> None:
    p = sub.add_parser("serve", help="serve a reward pipeline over HTTP (needs rewardkit[serve])")
    if full:  # importing the server (FastAPI) only when it is the command keeps `score` fast
        from rewardkit.serving.server import add_serve_arguments

        add_serve_arguments(p)


def _serve_missing() -> str | None:
    """Why ``rewardkit serve`` cannot run here (a missing ``serve`` extra), or None."""
    try:
        import uvicorn  # noqa: F401

        import rewardkit.serving.server  # noqa: F401 - FastAPI, prometheus_client
    except ImportError as e:
        return str(e)
    return None


def _cmd_serve(args: argparse.Namespace) -> int:
    from rewardkit.serving.server import run_from_args

    return int(run_from_args(args) or 0)


def _add_models(sub: Any) -> None:
    from rewardkit.models.offline import add_models_cli

    add_models_cli(sub)


def _cmd_models(args: argparse.Namespace) -> int:
    from rewardkit.models.offline import run_models_cli

    return run_models_cli(args)


def _add_prm(sub: Any) -> None:
    from rewardkit.prm.cli import add_prm_cli

    add_prm_cli(sub)


def _cmd_prm(args: argparse.Namespace) -> int:
    from rewardkit.prm.cli import run_prm_cli

    return run_prm_cli(args)


def _add_orm(sub: Any) -> None:
    from rewardkit.orm.cli import add_orm_cli

    add_orm_cli(sub)


def _cmd_orm(args: argparse.Namespace) -> int:
    from rewardkit.orm.cli import run_orm_cli

    return run_orm_cli(args)


def _add_eval(sub: Any) -> None:
    from rewardkit.eval.cli import add_eval_parser

    add_eval_parser(sub)


def _cmd_eval(args: argparse.Namespace) -> int:
    from rewardkit.eval.cli import run_eval

    return run_eval(args)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rewardkit", description="Trustworthy, dense rewards for RL on LLMs.")
    parser.add_argument("--version", action="version", version=f"rewardkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_score(sub)
    _add_list(sub)
    _add_generate(sub)
    _add_serve(sub, full=command == "serve")
    _add_models(sub)
    _add_prm(sub)
    _add_orm(sub)
    _add_train(sub)
    _add_eval(sub)
    _show_defaults(parser)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option's help states its default (as argparse.ArgumentDefaultsHelpFormatter would, in
    words for flags and unset options); help that already says it is left alone."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _show_defaults(child)
            continue
        if not action.option_strings or not action.help or action.help == argparse.SUPPRESS:
            continue
        if "default" in action.help or "required" in action.help:
            continue
        if action.required:
            action.help += " (required)"
        elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            action.help += f" (default: {'off' if action.default is False else 'on'})"
        elif action.default is None or action.default == []:
            action.help += " (default: not set)"
        elif action.default is not argparse.SUPPRESS:
            action.help += " (default: %(default)s)"


def _version() -> str:
    from rewardkit import __version__

    return __version__


def _add_train(sub: Any) -> None:
    from rewardkit.train.run import add_parser  # torch-free module; the recipe imports torch lazily

    add_parser(sub)


def _cmd_train(args: argparse.Namespace) -> int:
    from rewardkit.train.run import run_cli

    return run_cli(args)


_COMMANDS = {"score": _cmd_score, "list": _cmd_list, "generate": _cmd_generate, "serve": _cmd_serve,
             "models": _cmd_models, "prm": _cmd_prm, "orm": _cmd_orm, "train": _cmd_train, "eval": _cmd_eval}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    if command == "serve" and (missing := _serve_missing()):  # before parsing: its flags need the extra
        print(f"rewardkit serve needs the serving extra: pip install 'rewardkit[serve]' ({missing})",
              file=sys.stderr)
        return 2
    args = build_parser(command).parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `rewardkit list | head`: the reader is gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
