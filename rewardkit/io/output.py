"""Resumable, atomic output for offline scoring.

Rows are appended to ``<output>.partial`` (JSON lines) in the order they are finished, with each
row's input position in ``<output>.partial.index`` (8 bytes a row). After every batch a small
``.partial.commit.json`` records how many rows are complete -- and the state of stateful shaping
transforms at that point -- so a killed run resumes from a consistent point: rows past the last
commit (a torn write, half a group) are dropped and scored again. ``.partial.meta.json`` records
the config and input, so that a resume with a different pipeline is refused instead of mixing
scores; ``.partial.skipped`` lists the bad records.

Publishing, in an order that survives a kill at any point: the summary is written first (atomic),
then the output appears by an atomic ``os.replace`` (rows put back in input order if they were
finished out of order; Parquet converted in row groups through a temporary file), then the side
files are removed. A rerun removes a temporary file a killed conversion left.

Nothing grows with the dataset in memory except 8 bytes a row when rows must be reordered.
"""

from __future__ import annotations

import errno
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rewardkit.io import jsonio

__all__ = ["ResumableWriter", "Resumed", "OUTPUT_FORMATS", "output_format", "atomic_write_bytes",
           "OutputError", "read_head", "PARQUET_ROW_GROUP_BYTES"]

OUTPUT_FORMATS = ("jsonl", "parquet")
PARQUET_ROW_GROUP_BYTES = 8 << 20  # JSON bytes per Parquet row group (bounds conversion memory)
_PARQUET_MAX_ROWS = 10_000
_PARQUET_MAX_TYPE_DEPTH = 40  # deeper column types are stored as JSON text (readers cap nesting)


class OutputError(OSError):
    """Writing the output failed (e.g. the disk is full); the message says how to recover."""


def output_format(path: Path) -> str:
    suf = path.suffix.lower()
    if suf in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suf in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"cannot write {path}: the output must end in .jsonl or .parquet")


def require_pyarrow(what: str) -> None:
    """Fail before any work when Parquet support is missing (not after scoring every row)."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs pyarrow, which is not installed: "
                          "pip install 'rewardkit[data]' (or pip install pyarrow)") from None


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write a whole file so that readers see either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _out_of_space(path: Path, e: OSError) -> OutputError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(e.errno, f"no space left on the device writing {path}: free space, then run the "
                                    "same command with --resume (every finished row is kept)")
    return OutputError(e.errno, f"cannot write {path}: {e.strerror or e}; fix it, then run the same "
                                "command with --resume")


class Resumed:
    """What a resumed run starts from: rows already written, their stateful-transform state, and the
    bad records already listed."""

    def __init__(self, rows: int = 0, state: Any = None, skipped: list[dict[str, Any]] | None = None) -> None:
        self.rows = rows
        self.state = state
        self.skipped = skipped or []


class ResumableWriter:
    def __init__(self, path: str | Path, *, resume: bool = False, overwrite: bool = False,
                 meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.fmt = output_format(self.path)
        if self.fmt == "parquet":
            require_pyarrow(f"writing {self.path.name} (Parquet output)")
        side = self.path.name + ".partial"
        self.partial = self.path.with_name(side)
        self.meta_path = self.path.with_name(side + ".meta.json")
        self.skipped_path = self.path.with_name(side + ".skipped")
        self.index_path = self.path.with_name(side + ".index")
        self.commit_path = self.path.with_name(side + ".commit.json")
        self.resume = resume
        self.overwrite = overwrite
        self.meta = meta or {}
        self._f: Any = None
        self._index_f: Any = None
        self._skipped_f: Any = None
        self._rows = 0
        self._bytes = 0
        self._last_index = -1
        self._ordered = True

    @property
    def side_files(self) -> tuple[Path, ...]:
        return (self.partial, self.index_path, self.commit_path, self.meta_path, self.skipped_path)

    # -- opening ------------------------------------------------------------------------------
    def open(self) -> Resumed:
        """Prepare for writing; on resume, cut the partial file back to its last commit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temps()
        resumed = Resumed()
        if self.partial.exists() and self.resume:
            self._check_meta()
            resumed = self._recover()
        else:
            if self.resume and self.path.exists() and not self.overwrite:
                for p in self.side_files:  # a kill after publishing, before the clean-up
                    p.unlink(missing_ok=True)
                raise FileExistsError(f"{self.path} is already complete; nothing to resume "
                                      "(pass --overwrite to score it again)")
            if self.partial.exists() and not self.overwrite:
                raise FileExistsError(
                    f"an interrupted run left {self.partial}: pass --resume to continue it (you may "
                    f"change --on-error, --workers or --batch-size) or --overwrite to start over"
                )
            if self.path.exists() and not self.overwrite:
                raise FileExistsError(f"output {self.path} exists; pass --overwrite to replace it")
            for p in self.side_files:
                p.unlink(missing_ok=True)
            atomic_write_bytes(self.meta_path, orjson.dumps(self.meta, option=orjson.OPT_INDENT_2))
        self._f = open(self.partial, "ab")
        self._index_f = open(self.index_path, "ab")
        self._skipped_f = open(self.skipped_path, "ab")
        return resumed

    def _remove_stale_temps(self) -> None:
        for p in self.path.parent.glob(f".{self.path.name}.tmp-*"):
            p.unlink(missing_ok=True)

    def _check_meta(self) -> None:
        if not self.meta_path.exists():
            return
        old = orjson.loads(self.meta_path.read_bytes())
        for key in ("config", "input", "columns"):
            if key in old and key in self.meta and old[key] != self.meta[key]:
                raise ValueError(
                    f"cannot resume {self.partial}: the {key} differs from the interrupted run "
                    f"(was {old[key]!r}); use --overwrite to start over"
                )

    def _recover(self) -> Resumed:
        """Cut the partial and index files back to the last commit (or, without one, to the last
        complete line) and return where the run stands."""
        commit = orjson.loads(self.commit_path.read_bytes()) if self.commit_path.exists() else None
        size = self.partial.stat().st_size
        if commit is not None:
            rows, nbytes = int(commit["rows"]), int(commit["bytes"])
            if size < nbytes:
                raise ValueError(f"cannot resume {self.partial}: it is shorter than its last commit "
                                 "(the file was changed); use --overwrite to start over")
        else:  # a partial file without commits: keep the complete lines
            rows, nbytes = 0, 0
            with open(self.partial, "rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break
                    rows += 1
                    nbytes += len(line)
        if size > nbytes:
            with open(self.partial, "r+b") as f:
                f.truncate(nbytes)
        if not self.index_path.exists() or self.index_path.stat().st_size < 8 * rows:
            # older partial files had no index: their rows were written in input order
            idx = self._read_index(limit=None) if self.index_path.exists() else np.zeros(0, np.int64)
            base = int(idx[-1]) + 1 if len(idx) else 0
            with open(self.index_path, "ab") as f:
                f.write(np.arange(base, base + rows - len(idx), dtype=np.int64).tobytes())
        with open(self.index_path, "r+b") as f:
            f.truncate(8 * rows)
        idx = self._read_index(limit=rows)
        self._rows, self._bytes = rows, nbytes
        if len(idx):
            self._ordered = bool(np.all(np.diff(idx) > 0))
            self._last_index = int(idx[-1])
        skipped = list(_iter_json_lines(self.skipped_path, truncate=True)) if self.skipped_path.exists() else []
        return Resumed(rows, None if commit is None else commit.get("state"), skipped)

    def _read_index(self, limit: int | None) -> np.ndarray:
        data = np.fromfile(self.index_path, dtype=np.int64)
        return data if limit is None else data[:limit]

    def iter_done(self) -> Iterator[dict[str, Any]]:
        """Stream the rows already written (a resumed run reads ids and statistics, nothing more)."""
        yield from _iter_json_lines(self.partial)

    # -- writing ------------------------------------------------------------------------------
    def write(self, lines: list[bytes], indices: list[int], state: Any = None) -> None:
        """Append finished rows (JSON lines with their input positions) and commit them."""
        if not lines:
            return
        data = b"".join(lines)
        try:
            self._f.write(data)
            self._f.flush()  # in the OS after every batch: a killed process loses nothing committed
            self._index_f.write(array("q", indices).tobytes())
            self._index_f.flush()
            self._rows += len(lines)
            self._bytes += len(data)
            atomic_write_bytes(self.commit_path, orjson.dumps({"rows": self._rows, "bytes": self._bytes,
                                                               "state": state}), fsync=False)
        except OSError as e:
            raise _out_of_space(self.partial, e) from e
        if self._ordered and (indices[0] <= self._last_index or any(
                b <= a for a, b in zip(indices, indices[1:], strict=False))):
            self._ordered = False
        self._last_index = max(self._last_index, indices[-1])

    def write_skipped(self, items: list[dict[str, Any]]) -> None:
        if items:
            try:
                self._skipped_f.write(b"".join(jsonio.dumps_line(x) for x in items))
                self._skipped_f.flush()
            except OSError as e:
                raise _out_of_space(self.skipped_path, e) from e

    def close(self) -> None:
        for f in (self._f, self._index_f, self._skipped_f):
            if f is not None and not f.closed:
                try:
                    f.flush()
                    os.fsync(f.fileno())
                finally:
                    f.close()

    def finalize(self, summary: tuple[Path, bytes] | None = None) -> Path:
        """Publish: the summary first, then the output (atomically), then remove the side files."""
        try:
            self.close()
            if summary is not None:
                atomic_write_bytes(*summary)
            if self.fmt == "jsonl":
                if self._ordered:
                    os.replace(self.partial, self.path)
                else:
                    self._publish(self._write_jsonl_in_order)
            else:
                self._publish(self._write_parquet)
        except OSError as e:
            raise _out_of_space(self.path, e) from e
        self._cleanup()
        return self.path

    @property
    def rows(self) -> int:
        """Rows committed so far (resumed ones included)."""
        return self._rows

    def discard(self) -> None:
        """Remove the run's side files (a run that failed before committing anything)."""
        self.close()
        self._cleanup()

    def _cleanup(self) -> None:
        for p in self.side_files:
            p.unlink(missing_ok=True)

    def _publish(self, write: Any) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # -- reading the partial file back in input order -------------------------------------------
    def _lines_in_order(self) -> Iterator[bytes]:
        if self._ordered:
            with open(self.partial, "rb") as f:
                yield from f
            return
        order = np.argsort(self._read_index(self._rows), kind="stable")
        offsets = np.zeros(self._rows + 1, dtype=np.int64)
        with open(self.partial, "rb") as f:
            pos = 0
            for i, line in enumerate(f):
                pos += len(line)
                offsets[i + 1] = pos
            for k in order:
                f.seek(int(offsets[k]))
                yield f.read(int(offsets[k + 1] - offsets[k]))

    def _write_jsonl_in_order(self, tmp: Path) -> None:
        with open(tmp, "wb") as g:
            for line in self._lines_in_order():
                g.write(line)

    def _chunks(self) -> Iterator[list[dict[str, Any]]]:
        buf: list[dict[str, Any]] = []
        size = 0
        for line in self._lines_in_order():
            buf.append(jsonio.loads(line))
            size += len(line)
            if size >= PARQUET_ROW_GROUP_BYTES or len(buf) >= _PARQUET_MAX_ROWS:
                yield buf
                buf, size = [], 0
        if buf:
            yield buf

    def _write_parquet(self, tmp: Path) -> None:
        """Stream the rows into Parquet row groups. A column whose values have no single Parquet
        type that reads back to the same values (``"2"`` and ``2``; objects of different shapes;
        integers beyond 64 bits) is stored as JSON text, marked in the field metadata so that
        rewardkit's reader decodes it back."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from rewardkit.io.records import PARQUET_JSON_KEY

        names: dict[str, None] = {}
        types: dict[str, Any] = {}
        as_json: set[str] = set()
        for chunk in self._chunks():  # pass 1: one type per column, or JSON text
            for r in chunk:
                names.update(dict.fromkeys(r))
            for k in names:
                if k in as_json:
                    continue
                t = _native_type([r.get(k) for r in chunk])
                prev = types.get(k)
                if t is None or (prev is not None and not pa.types.is_null(prev)
                                 and not pa.types.is_null(t) and t != prev):
                    as_json.add(k)
                elif prev is None or pa.types.is_null(prev):
                    types[k] = t
        fields = [pa.field(k, pa.string(), metadata={PARQUET_JSON_KEY: b"1"}) if k in as_json
                  else pa.field(k, types.get(k, pa.null())) for k in names]
        schema = pa.schema(fields)
        with pq.ParquetWriter(tmp, schema) as w:
            for chunk in self._chunks():  # pass 2: one row group per chunk
                arrays = []
                for f in fields:
                    vals = [r.get(f.name) for r in chunk]
                    if f.name in as_json:
                        vals = [None if v is None else jsonio.dumps(v).decode("utf-8") for v in vals]
                    arrays.append(pa.array(vals, type=f.type))
                w.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _type_depth(t: Any) -> int:
    n = getattr(t, "num_fields", 0)
    return 1 + max((_type_depth(t.field(i).type) for i in range(n)), default=0)


def _native_type(vals: list[Any]) -> Any:
    """The Arrow type of a column if its values read back unchanged from it, else None."""
    import pyarrow as pa

    try:
        arr = pa.array(vals)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if _type_depth(arr.type) > _PARQUET_MAX_TYPE_DEPTH:
        return None
    if not pa.types.is_nested(arr.type):  # strings, numbers, bools: inference is exact
        return arr.type
    try:  # structs fill missing keys with nulls: keep them only if the values come back unchanged
        same = arr.to_pylist() == vals
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    return arr.type if same else None


def _iter_json_lines(path: Path, truncate: bool = False) -> Iterator[dict[str, Any]]:
    """Complete JSON lines of a file; a torn last line (killed mid-write) is cut off if ``truncate``."""
    good = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                row = jsonio.loads(line)
            except ValueError:
                break
            good += len(line)
            yield row
    if truncate and good < path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good)


def read_head(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of a published output (JSONL or Parquet), for a preview."""
    if not path.exists() or n <= 0:
        return []
    if output_format(path) == "parquet":
        from rewardkit.io.records import iter_records

        rows = []
        for _, rec in iter_records(path, "parquet"):
            if isinstance(rec, dict):
                rows.append(rec)
            if len(rows) >= n:
                break
        return rows
    rows = []
    for row in _iter_json_lines(path):
        rows.append(row)
        if len(rows) >= n:
            break
    return rows
