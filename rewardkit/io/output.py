"""Resumable, atomic output for offline scoring.

Rows are appended to ``<output>.partial`` (JSONL, flushed after every batch) and the final file
appears only at the end, by an atomic ``os.replace`` (for Parquet: converted from the partial
file, written to a temporary name, then renamed). A killed run leaves the partial file; rerunning
with ``resume=True`` keeps every complete row, drops a torn last line, and skips the ids already
written. A small ``.meta.json`` beside the partial file records the config and input so that a
resume with a different pipeline is refused instead of mixing scores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ResumableWriter", "OUTPUT_FORMATS", "output_format", "atomic_write_bytes"]

OUTPUT_FORMATS = ("jsonl", "parquet")


def output_format(path: Path) -> str:
    suf = path.suffix.lower()
    if suf in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suf in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"cannot write {path}: the output must end in .jsonl or .parquet")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file so that readers see either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ResumableWriter:
    def __init__(self, path: str | Path, *, resume: bool = False, overwrite: bool = False,
                 meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.fmt = output_format(self.path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.meta_path = self.path.with_name(self.path.name + ".partial.meta.json")
        self.skipped_path = self.path.with_name(self.path.name + ".partial.skipped")
        self.resume = resume
        self.overwrite = overwrite
        self.meta = meta or {}
        self._f: Any = None
        self._skipped_f: Any = None

    # -- opening ------------------------------------------------------------------------------
    def open(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Prepare for writing. Returns (rows already written, skipped records already listed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        done: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        if self.partial.exists() and self.resume:
            self._check_meta()
            done = list(self._recover(self.partial))
            if self.skipped_path.exists():
                skipped = list(self._recover(self.skipped_path))
        else:
            if self.resume and self.path.exists() and not self.overwrite:
                raise FileExistsError(f"{self.path} is already complete; nothing to resume "
                                      "(pass --overwrite to score it again)")
            if self.partial.exists() and not self.overwrite:
                raise FileExistsError(
                    f"an interrupted run left {self.partial}; pass --resume to continue it "
                    f"or --overwrite to start over"
                )
            if self.path.exists() and not self.overwrite:
                raise FileExistsError(f"output {self.path} exists; pass --overwrite to replace it")
            for p in (self.partial, self.skipped_path):
                if p.exists():
                    p.unlink()
            atomic_write_bytes(self.meta_path, orjson.dumps(self.meta, option=orjson.OPT_INDENT_2))
        self._f = open(self.partial, "ab")
        self._skipped_f = open(self.skipped_path, "ab")
        return done, skipped

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

    @staticmethod
    def _recover(path: Path) -> Iterator[dict[str, Any]]:
        """Complete rows of a partial file; a torn last line (killed mid-write) is truncated."""
        good = 0
        rows = []
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break  # no newline: torn write
            try:
                rows.append(orjson.loads(data[pos:nl]))
            except orjson.JSONDecodeError:
                break
            pos = nl + 1
            good = pos
        if good < len(data):
            with open(path, "r+b") as f:
                f.truncate(good)
        return iter(rows)

    # -- writing ------------------------------------------------------------------------------
    def write_lines(self, lines: list[bytes]) -> None:
        if lines:
            self._f.write(b"".join(lines))
            self._f.flush()  # in the OS after every batch: a killed process loses nothing written

    def write_skipped(self, items: list[dict[str, Any]]) -> None:
        if items:
            self._skipped_f.write(b"".join(orjson.dumps(x) + b"\n" for x in items))
            self._skipped_f.flush()

    def close(self) -> None:
        for f in (self._f, self._skipped_f):
            if f is not None and not f.closed:
                f.flush()
                os.fsync(f.fileno())
                f.close()

    def finalize(self) -> Path:
        """Publish the output atomically and remove the run's side files."""
        self.close()
        if self.fmt == "jsonl":
            os.replace(self.partial, self.path)
        else:
            self._to_parquet()
            self.partial.unlink()
        for p in (self.meta_path, self.skipped_path):
            if p.exists():
                p.unlink()
        return self.path

    def _to_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(self._recover(self.partial))
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # heterogeneous nested values (e.g. `reference` objects of different shapes): keep
            # every nested column as JSON text rather than dropping anything
            nested = {k for r in rows for k, v in r.items() if isinstance(v, (dict, list))}
            rows = [{k: (orjson.dumps(v).decode() if k in nested and v is not None else v)
                     for k, v in r.items()} for r in rows]
            table = pa.Table.from_pylist(rows)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
