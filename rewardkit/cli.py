"""The ``rewardkit`` command: ``score`` (the main job), ``list``, ``generate``, ``serve``, ``train``, ``eval``."""

from __future__ import annotations

import argparse
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
    p.add_argument("--input-format", choices=["jsonl", "parquet", "csv", "hf"], help="override detection")
    p.add_argument("--output", "-o", help="scored.{jsonl,parquet} (default: rewardkit_out/scored.jsonl)")
    p.add_argument("--id-col", default="id")
    p.add_argument("--prompt-col", default="prompt")
    p.add_argument("--completion-col", default="completion")
    p.add_argument("--reference-col", default="reference")
    p.add_argument("--group-col", default="group_id")
    p.add_argument("--steps-col", default="steps")
    p.add_argument("--workers", "-w", type=int, default=1, help="processes (use >1 for CPU-heavy rewards)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--on-error", choices=["skip", "fail"], default="fail",
                   help="what a bad record does: skip it (listed in the summary) or stop the run")
    p.add_argument("--limit", type=int, help="score only the first N records")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--preview", type=int, default=8, help="rows of the scored output to print (0: none)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where batches are scored: this machine, or Ray scorer actors (needs the ray extra)")
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
    sub.add_parser("list", help="list registered reward sources and transforms with their parameters")


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


def _cmd_list(_: argparse.Namespace) -> int:
    from rewardkit.registry import get_source_class, get_transform_class, list_sources, list_transforms

    _print_entries("reward sources (rewards: - type: NAME):", list_sources(), get_source_class)
    print()
    _print_entries("transforms (shaping: - type: NAME):", list_transforms(), get_transform_class)
    return 0


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="write the synthetic arithmetic dataset (with step labels) to JSONL")
    p.add_argument("--output", "-o", required=True)
    p.add_argument("--problems", type=int, default=100)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--p-wrong", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=0)


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
    if not full:  # importing the server (FastAPI) only when it is the command keeps `score` fast
        return
    try:
        from rewardkit.serving.server import add_serve_arguments
    except ImportError as e:
        p.set_defaults(_serve_missing=str(e))
        return
    add_serve_arguments(p)


def _cmd_serve(args: argparse.Namespace) -> int:
    if getattr(args, "_serve_missing", None):
        print(f"rewardkit serve needs the serving extra: pip install 'rewardkit[serve]' ({args._serve_missing})",
              file=sys.stderr)
        return 2
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
    return parser


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
    args = build_parser(command).parse_args(argv)
    return _COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
