"""Reading input records (JSONL, Parquet, CSV, a saved Hugging Face dataset) and turning them into
`Sample`s, with errors that name the file, the line/record and the field.

Readers yield ``(position, record_or_error)``: one bad line never hides the others, and the
scoring engine decides (``--on-error skip|fail``) what happens to it.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit.io import jsonio
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
                rec = jsonio.loads(line)
            except UnicodeDecodeError as e:
                yield where, RecordError(where, f"invalid UTF-8 at column {e.start + 1}")
                continue
            except ValueError as e:  # json/orjson JSONDecodeError are ValueErrors
                yield where, RecordError(where, _json_error(e))
                continue
            if not isinstance(rec, dict):
                yield where, RecordError(where, f"expected a JSON object, got {type(rec).__name__}")
                continue
            yield where, rec


def _json_error(e: ValueError) -> str:
    """The column within the file's line (the line is the whole document), not JSON's own line."""
    if isinstance(e, json.JSONDecodeError):
        return f"malformed JSON at column {e.pos + 1}: {e.msg}"
    return f"malformed JSON: {e}"


def _maybe_json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("{", "["):
        try:
            return jsonio.loads(v)
        except ValueError:
            return v
    return v


# A CSV cell may hold a whole reasoning trace (32k tokens > the csv module's 128 KiB default).
_CSV_FIELD_LIMIT = 2**31 - 1
# undecodable bytes, kept by errors="surrogateescape" so that the record (not the run) fails
_BAD_UTF8 = re.compile("[\udc80-\udcff]")


def _iter_csv(path: Path, json_columns: frozenset[str]) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    """CSV cells are text; the ``json_columns`` (reference, steps) are parsed when they hold a JSON
    object or list, and any other cell only when it holds a list of chat messages -- so a
    completion that happens to read "[1, 2]" stays text.

    Parsing is strict: a byte-order mark is dropped (Excel's "CSV UTF-8"), a duplicated header
    column is refused, and an unclosed quote or invalid UTF-8 is an error at the record's line."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        reader = csv.reader(f, delimiter=delim, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ValueError(f"{path.name}:1: cannot read the CSV header: {e}") from None
        for h in header:
            if _BAD_UTF8.search(h):
                raise ValueError(f"{path.name}:1: invalid UTF-8 in the header cell {h!r}")
        dups = sorted({h for h in header if header.count(h) > 1})
        if dups:
            raise ValueError(f"{path.name}:1: duplicate column name(s) {', '.join(map(repr, dups))}; "
                             "rename them so that no column is silently dropped")
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                where = f"{path.name}:{start}"
                if "end of data" in str(e):  # an unclosed quote swallowed the rest of the file
                    yield where, RecordError(where, f"unclosed quote: the quoted cell that starts here "
                                                    f"runs to the end of the file (line {reader.line_num})")
                    return
                yield where, RecordError(where, f"invalid CSV: {e}")
                continue
            if not cells:  # blank line
                continue
            where = f"{path.name}:{start}"
            if len(cells) != len(header):
                yield where, RecordError(where, f"row has {len(cells)} cells, header has {len(header)}")
                continue
            out: dict[str, Any] = {}
            bad = None
            for k, v in zip(header, cells, strict=True):
                if _BAD_UTF8.search(v):
                    bad = k
                    break
                parsed = _maybe_json(v)
                out[k] = parsed if (k in json_columns or _is_messages(parsed)) else v
            if bad is not None:
                yield where, RecordError(where, f"invalid UTF-8 in column {bad!r}", field=bad)
                continue
            yield where, out


# Field metadata rewardkit's Parquet writer puts on a column it stores as JSON text (a column
# mixing types, e.g. "2" and 2, has no Parquet type): the reader decodes it back.
PARQUET_JSON_KEY = b"rewardkit.json"


def _iter_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        try:
            pf = pq.ParquetFile(path, schema_depth_limit=4 * jsonio.MAX_DEPTH)
        except TypeError:  # older pyarrow: no depth option
            pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise ValueError(f"{path.name}: cannot read as Parquet ({e}); a schema nested more than "
                         "~100 levels deep is beyond Parquet readers: flatten that column") from None
    json_cols = [f.name for f in pf.schema_arrow if f.metadata and f.metadata.get(PARQUET_JSON_KEY) == b"1"]
    i = 0
    batches = pf.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as e:
            raise ValueError(f"{path.name}:record {i}: cannot read the Parquet data: {e}") from None
        try:
            rows: list[Any] = batch.to_pylist()
        except (UnicodeDecodeError, pa.ArrowException):
            rows = [_parquet_row(batch, j) for j in range(batch.num_rows)]
        for rec in rows:
            where = f"{path.name}:record {i}"
            i += 1
            if isinstance(rec, str):  # the column that could not be read
                yield where, RecordError(where, f"invalid UTF-8 (or unreadable value) in column {rec!r}", field=rec)
                continue
            for c in json_cols:
                if isinstance(rec.get(c), str):
                    rec[c] = jsonio.loads(rec[c])
            yield where, rec


def _parquet_row(batch: Any, j: int) -> dict[str, Any] | str:
    """Row ``j`` of a batch that failed to convert as a whole, or the name of its bad column."""
    row = batch.slice(j, 1)
    try:
        return row.to_pylist()[0]
    except Exception:  # noqa: BLE001 - find which column it was
        for name in row.schema.names:
            try:
                row.column(name).to_pylist()
            except Exception:  # noqa: BLE001
                return name
        raise


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


def _missing_column(where: str, rec: dict[str, Any], column: str, flag: str) -> RecordError:
    names = sorted(map(str, rec))
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(map(repr, close))}" if close else ""
    return RecordError(
        where,
        f"missing column {column!r}; available columns: {', '.join(names) or '(none)'}{hint} "
        f"(if your data names it differently, pass {flag} NAME)",
        field=column,
    )


def record_to_sample(rec: dict[str, Any], where: str, cols: ColumnMap, default_id: Any) -> Sample:
    """Build a `Sample`, raising `RecordError` naming the field on a missing or mistyped value.

    A missing or null id is the record's row number; values nested deeper than
    `jsonio.MAX_DEPTH` are refused (no writer could store them)."""
    for c, flag in ((cols.prompt, "--prompt-col"), (cols.completion, "--completion-col")):
        if c not in rec:
            raise _missing_column(where, rec, c, flag)
    for k, v in rec.items():
        if isinstance(v, (dict, list)) and jsonio.nesting_depth(v) >= jsonio.MAX_DEPTH:
            raise RecordError(where, f"field {k!r} is nested deeper than {jsonio.MAX_DEPTH} levels", field=str(k))
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
    rid = rec.get(cols.id)
    if rid is None:
        rid = default_id
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        raise RecordError(where, f"field {cols.id!r} must be a string or an integer, got {type(rid).__name__}",
                          field=cols.id)
    gid = rec.get(cols.group)
    if gid is not None and (not isinstance(gid, (str, int, float)) or isinstance(gid, bool)):
        raise RecordError(where, f"field {cols.group!r} must be a string or a number, got {type(gid).__name__}",
                          field=cols.group)
    return Sample(
        prompt=prompt,
        completion=completion,
        reference=rec.get(cols.reference),
        id=rid,
        group_id=gid,
        steps=steps,
    )
