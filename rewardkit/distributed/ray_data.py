"""Input through Ray Data: offline scoring of anything Ray Data reads (``s3://``, ``gs://``,
``hdfs://``, ``abfs://``, ``file://`` ... -- any URI with a scheme).

JSONL is read as *text lines* and each line parsed by rewardkit's own JSON reader, so big integers
stay exact and lone surrogates survive (Ray Data's Arrow JSON reader turns big integers into
floats). Parquet is read by Ray Data's Parquet reader in record batches. Rows come back in file
order (``preserve_order``), so a resumed or repeated run sees the same rows as a local read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rewardkit.io import jsonio
from rewardkit.io.records import RecordError

__all__ = ["is_uri", "iter_uri_records"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(path: Any) -> bool:
    """True for ``scheme://...`` inputs (which go through Ray Data); local paths stay local."""
    return isinstance(path, str) and _SCHEME.match(path) is not None


def iter_uri_records(uri: str, fmt: str | None = None) -> Iterator[tuple[str, dict[str, Any] | RecordError]]:
    """``(where, record)`` or ``(where, RecordError)`` for every record at ``uri``, in order."""
    try:
        import ray.data
    except ImportError:
        raise ImportError(f"reading {uri} needs Ray Data: pip install 'rewardkit[ray]'") from None
    fmt = fmt or ("parquet" if uri.rstrip("/").endswith(".parquet") else "jsonl")
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    if fmt == "jsonl":
        for i, row in enumerate(ray.data.read_text(uri).iter_rows()):
            where = f"{uri}:record {i}"
            try:
                rec = jsonio.loads(row["text"].encode("utf-8", "surrogatepass"))
            except ValueError as e:
                yield where, RecordError(where, f"malformed JSON: {e}")
                continue
            if not isinstance(rec, dict):
                yield where, RecordError(where, f"expected a JSON object, got {type(rec).__name__}")
                continue
            yield where, rec
    elif fmt == "parquet":
        i = 0
        for batch in ray.data.read_parquet(uri).iter_batches(batch_format="pyarrow", batch_size=4096):
            for rec in batch.to_pylist():
                yield f"{uri}:record {i}", rec
                i += 1
    else:
        raise ValueError(f"input format {fmt!r} is not read through Ray Data; use jsonl or parquet for URIs")
