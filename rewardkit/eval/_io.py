"""What every ``rewardkit eval`` command shares: reading rows, scoring samples with a pipeline,
writing ``metrics.json`` / ``samples.jsonl`` / ``report.html``, printing the headline table."""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from rewardkit.io.records import RecordError, iter_records
from rewardkit.types import RewardResult, Sample

__all__ = ["read_rows", "pick", "text_field", "bool_field", "score_samples", "status_counts", "status_before_fill",
           "fill_counts", "write_json", "write_jsonl", "print_headline", "step_scores_for"]


def read_rows(path: str | Path, limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """All records of an input file as ``(where, record)``; the first bad one raises `RecordError`."""
    rows = []
    for where, rec in iter_records(path, json_columns=("reference", "steps", "rejected", "chosen", "candidates")):
        if isinstance(rec, RecordError):
            raise rec
        rows.append((where, rec))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ValueError(f"{path}: no records")
    return rows


def pick(rec: dict[str, Any], where: str, names: Sequence[str], *, required: bool = True, default: Any = None) -> Any:
    """The first of ``names`` present in ``rec``; a missing required field names the record."""
    for n in names:
        if n in rec and rec[n] is not None:
            return rec[n]
    if required:
        avail = ", ".join(sorted(map(str, rec))) or "(none)"
        raise RecordError(where, f"missing field {' or '.join(map(repr, names))}; available: {avail}", field=names[0])
    return default


def text_field(rec: dict[str, Any], where: str, names: Sequence[str], *, required: bool = True) -> Any:
    """A completion-like field: a string, chat messages, or a number (written as text)."""
    v = pick(rec, where, names, required=required, default="")
    if isinstance(v, bool):
        raise RecordError(where, f"field {names[0]!r} must be text, got a boolean", field=names[0])
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(m, dict) and "content" in m for m in v)):
        return v
    raise RecordError(where, f"field {names[0]!r} must be text or chat messages, got {type(v).__name__}",
                      field=names[0])


def bool_field(rec: dict[str, Any], where: str, names: Sequence[str]) -> bool:
    v = pick(rec, where, names)
    if isinstance(v, bool):
        return v
    if v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise RecordError(where, f"field {names[0]!r} must be a boolean, got {v!r}", field=names[0])


def score_samples(pipeline: Any, samples: Sequence[Sample], batch_size: int = 256,
                  progress: bool | None = None, desc: str = "scoring") -> list[RewardResult]:
    """One result per sample, in order, scored in batches (the pipeline batches models/workers)."""
    from tqdm import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    out: list[RewardResult] = []
    with tqdm(total=len(samples), desc=desc, disable=not progress, file=sys.stderr) as bar:
        for i in range(0, len(samples), batch_size):
            batch = samples[i : i + batch_size]
            res = pipeline.score(batch)
            if len(res) != len(batch):
                raise RuntimeError(f"the pipeline returned {len(res)} results for {len(batch)} samples")
            out.extend(res)
            bar.update(len(batch))
    return out


def status_counts(results: Iterable[RewardResult]) -> dict[str, int]:
    return dict(sorted(Counter(r.status.value for r in results).items()))


def status_before_fill(r: RewardResult) -> str:
    """The status a result would have had without the config's ``fill`` values (the pipeline
    records it in ``info["status_before_fill"]``): a filled "unparseable" is still unparseable."""
    before = r.info.get("status_before_fill") if isinstance(r.info, dict) else None
    return str(before) if before else r.status.value


def fill_counts(results: Sequence[RewardResult]) -> dict[str, int] | None:
    """Statuses before fill, when a fill changed any (else None: nothing was hidden)."""
    before = [status_before_fill(r) for r in results]
    if all(b == r.status.value for b, r in zip(before, results, strict=True)):
        return None
    return dict(sorted(Counter(before).items()))


def step_scores_for(result: RewardResult, bounds: Sequence[tuple[int, int]]) -> list[float | None]:
    """The result's step scores mapped onto known step spans ``bounds`` (the input's steps).

    A scored span belongs to the input step that contains its last character; several scored
    spans in one input step give their minimum (any flagged part flags the step); an input step
    without a scored span is ``None``."""
    out: list[float | None] = [None] * len(bounds)
    for st in result.steps or ():
        if st.score is None:
            continue
        pos = max(st.end - 1, st.start)
        for k, (a, b) in enumerate(bounds):
            if a <= pos < b:
                out[k] = st.score if out[k] is None else min(out[k], st.score)  # type: ignore[type-var]
                break
    return out


def _default(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError


def write_json(path: Path, data: Any) -> None:
    from rewardkit.io.output import atomic_write_bytes

    atomic_write_bytes(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                                          default=_default) + b"\n")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    from rewardkit.io.output import atomic_write_bytes

    atomic_write_bytes(path, b"".join(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS, default=str) + b"\n"
                                      for r in rows))


def print_headline(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    """The headline numbers as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    from rewardkit.eval.report import fmt

    t = Table(title=title, title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, fmt(v))
    Console(soft_wrap=True).print(t)
