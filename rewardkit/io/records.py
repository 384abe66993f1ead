"""Reading input records (JSONL, Parquet, CSV, a saved Hugging Face dataset) and turning them into
`Sample`s, with errors that name the file, the line/record and the field.

Readers yield ``(position, record_or_error)``: one bad line never hides the others, and the
scoring engine decides (``--on-error skip|fail``) what happens to it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rewardkit.types import Sample

__all__ = ["ColumnMap", "RecordError", "detect_format", "iter_records", "record_to_sample", "INPUT_FORMATS"]

INPUT_FORMATS = ("jsonl", "parquet", "csv", "hf")


class RecordError(ValueError):
    """A bad input record. ``where`` is ``file:line`` (or ``file:record N``)."""

    def __init__(self, where: str, message: str, field: str | None = None) -> None:
        self.where = where
        self.field = field
        self.message = message
        super().__init__(f"{where}: {message}")

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "field": self.field, "reason": self.message}


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns hold the sample's fields (``--id-col`` etc.)."""

    id: str = "id"
    prompt: str = "prompt"
    completion: str = "completion"
    reference: str = "reference"
    group: str = "group_id"
    steps: str = "steps"

    @property
    def required(self) -> tuple[str, ...]:
        return (self.prompt, self.completion)


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            return "hf"
        raise ValueError(f"{path} is a folder but not a saved Hugging Face dataset (no dataset_info.json)")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if suffixes and suffixes[-1] in (".csv", ".tsv"):
        return "csv"
    raise ValueError(f"cannot tell the format of {path}: use .jsonl, .parquet, .csv or a dataset folder")


def _iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                yield where, RecordError(where, f"malformed JSON ({e})")
                continue
            if not isinstance(rec, dict):
                yield where, RecordError(where, f"expected a JSON object, got {type(rec).__name__}")
                continue
            yield where, rec


def _maybe_json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("{", "["):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def _iter_csv(path: Path, json_columns: frozenset[str]) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    """CSV cells are text; the ``json_columns`` (reference, steps) are parsed when they hold a JSON
    object or list, and any other cell only when it holds a list of chat messages -- so a
    completion that happens to read "[1, 2]" stays text."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delim)
        for rec in reader:
            where = f"{path.name}:{reader.line_num}"
            if None in rec:  # more cells than header fields
                yield where, RecordError(where, f"row has {len(rec) - 1 + len(rec[None])} cells, header has {len(rec) - 1}")
                continue
            out: dict[str, Any] = {}
            for k, v in rec.items():
                parsed = _maybe_json(v)
                out[k] = parsed if (k in json_columns or _is_messages(parsed)) else v
            yield where, out


def _iter_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    i = 0
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            yield f"{path.name}:record {i}", rec
            i += 1


def _iter_hf(path: Path) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    from datasets import DatasetDict, load_from_disk

    ds = load_from_disk(str(path))
    if isinstance(ds, DatasetDict):
        if len(ds) != 1:
            raise ValueError(f"{path} holds splits {list(ds)}; point --input at one split's folder")
        ds = next(iter(ds.values()))
    for i, rec in enumerate(ds):
        yield f"{path.name}:record {i}", rec


def iter_records(path: str | Path, fmt: str | None = None,
                 json_columns: tuple[str, ...] = ("reference", "steps")) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    """Yield ``(where, record)`` or ``(where, RecordError)`` for every record of the input.

    ``json_columns``: CSV columns whose JSON text is parsed (other formats carry types already)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"input not found: {p}")
    fmt = fmt or detect_format(p)
    if fmt == "jsonl":
        return _iter_jsonl(p)
    if fmt == "csv":
        return _iter_csv(p, frozenset(json_columns))
    if fmt == "parquet":
        return _iter_parquet(p)
    if fmt == "hf":
        return _iter_hf(p)
    raise ValueError(f"unknown input format {fmt!r}; expected one of {', '.join(INPUT_FORMATS)}")


def _is_messages(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(m, dict) and "content" in m for m in v)


def record_to_sample(rec: dict[str, Any], where: str, cols: ColumnMap, default_id: Any) -> Sample:
    """Build a `Sample`, raising `RecordError` naming the field on a missing or mistyped value."""
    for c in cols.required:
        if c not in rec:
            avail = ", ".join(sorted(map(str, rec))) or "(none)"
            raise RecordError(where, f"missing column {c!r}; available columns: {avail}", field=c)
    prompt = rec[cols.prompt]
    if not (isinstance(prompt, str) or _is_messages(prompt)):
        raise RecordError(where, f"field {cols.prompt!r} must be a string or a list of chat messages, "
                                 f"got {type(prompt).__name__}", field=cols.prompt)
    completion = rec[cols.completion]
    if not (isinstance(completion, str) or _is_messages(completion)):
        raise RecordError(where, f"field {cols.completion!r} must be a string or a list of chat messages, "
                                 f"got {type(completion).__name__}", field=cols.completion)
    steps = rec.get(cols.steps)
    if steps is not None and not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
        raise RecordError(where, f"field {cols.steps!r} must be a list of strings", field=cols.steps)
    rid = rec.get(cols.id, default_id)
    if rid is None:
        rid = default_id
    if not isinstance(rid, (str, int)):
        raise RecordError(where, f"field {cols.id!r} must be a string or an integer, got {type(rid).__name__}",
                          field=cols.id)
    return Sample(
        prompt=prompt,
        completion=completion,
        reference=rec.get(cols.reference),
        id=rid,
        group_id=rec.get(cols.group),
        steps=steps,
    )
