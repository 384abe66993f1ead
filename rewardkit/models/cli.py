"""CLI plumbing shared by ``rewardkit prm ...`` and ``rewardkit orm ...``: YAML configs validated
with pydantic (errors name the key), and ``score`` as a one-source pipeline over `rewardkit score`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["load_yaml_config", "add_score_arguments", "run_score", "ConfigFileError"]

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    pass


def load_yaml_config(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    import yaml

    from rewardkit.config import format_validation_error

    p = Path(path)
    if not p.exists():
        raise ConfigFileError(f"config file not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{p}: expected a mapping at the top level")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigFileError(f"{p}: invalid config:\n" + format_validation_error(
            e, known=list(model.model_fields))) from None


def add_score_arguments(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--model", required=True, help=f"a trained {kind.upper()} folder")
    p.add_argument("--input", "-i", required=True, help="rows to score: .jsonl / .parquet / .csv (required)")
    p.add_argument("--output", "-o", required=True, help="scored rows: .jsonl / .parquet (required)")
    p.add_argument("--batch-size", type=int, default=8, help="samples per forward pass")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: %(default)s = CUDA when present)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help=f"another parameter of the {kind} source (e.g. aggregation=last); repeatable")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run (default: off)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (default: off)")
    p.add_argument("--limit", type=int, help="score only the first N rows (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")


def run_score(args: argparse.Namespace, kind: str) -> int:
    import yaml

    from rewardkit.config import ConfigError
    from rewardkit.io.records import RecordError
    from rewardkit.scoring import score_dataset

    params: dict[str, Any] = {"model": args.model, "batch_size": args.batch_size, "device": args.device}
    for kv in args.param:
        key, sep, value = kv.partition("=")
        if not sep:
            print(f"rewardkit {kind} score: error: --param wants KEY=VALUE, got {kv!r}", file=sys.stderr)
            return 2
        params[key] = yaml.safe_load(value)
    config = {"rewards": [{"type": kind, "name": kind, **params}]}
    try:
        summary = score_dataset(config, args.input, args.output, resume=args.resume, overwrite=args.overwrite,
                                progress=False if args.no_progress else None, limit=args.limit,
                                batch_size=max(args.batch_size * 8, 64))
    except (ConfigError, RecordError, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"rewardkit {kind} score: error: {e}", file=sys.stderr)
        return 2
    print(summary.table())
    print(f"\nwrote {args.output}")
    return 0
