"""Lossless JSON lines: orjson's speed where it is exact, the standard library where it is not.

orjson reads integers beyond 64 bits as floats (1180591620717411303425 -> 1.1805916207174113e+21)
and refuses lone UTF-16 surrogate escapes (``"\\ud800"``, which ``json.dumps`` writes and real
datasets contain); on writing it refuses both, and values nested deeper than 255. Those rare lines
go through `json` instead, so every value reads back exactly as it was written:

- integers of any size stay integers; lone surrogates are written back as ``\\ud800`` escapes;
- values JSON has no type for: ``bytes`` -> base64 text, ``Decimal`` -> its exact decimal text,
  numpy scalars/arrays -> numbers/lists, dates -> ISO 8601 text;
- NaN and infinities are written as ``null`` (JSON has no literal for them), as orjson does.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
from typing import Any

import orjson

__all__ = ["loads", "dumps", "dumps_line", "UnwritableValue", "MAX_DEPTH", "nesting_depth"]

# A run of 19+ digits may be an integer orjson cannot hold exactly (int64/uint64 end at 19-20
# digits). Found by mapping digits to 1 and searching for nineteen 1s: ~20x faster than a regex.
_DIGIT_MAP = bytes(1 if 0x30 <= i <= 0x39 else 0 for i in range(256))
_DIGIT_RUN = b"\x01" * 19
_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

# Deepest nesting a record may have: below orjson's write limit (255) and Parquet readers' schema
# limits, so that every accepted record can be written and read back. Deeper records are bad input.
MAX_DEPTH = 200


class UnwritableValue(ValueError):
    """A row that no JSON writer can represent; ``field`` names the top-level key when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(line: bytes | str) -> Any:
    """Parse one JSON document exactly (big integers, lone surrogates); raises ValueError."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    if line.translate(_DIGIT_MAP).find(_DIGIT_RUN) < 0:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            if b"\\u" not in line:  # nothing the standard library would read differently
                raise
    try:
        return json.loads(line, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Depth of nested lists/dicts (a scalar is 0); stops counting past ``limit``."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return 0
    if limit <= 0:
        return 1
    deepest = 0
    for c in children:
        if isinstance(c, (dict, list, tuple)):
            d = nesting_depth(c, limit - 1)
            if d > deepest:
                deepest = d
                if deepest >= limit:
                    break
    return deepest + 1


def _default(v: Any) -> Any:
    """Values JSON has no type for (called by orjson and json for unknown types)."""
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, _dt.timedelta):
        return v.total_seconds()
    item = getattr(v, "tolist", None)  # numpy scalars and arrays (orjson handles most already)
    if item is not None:
        return item()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _plain(v: Any) -> Any:
    """For the standard-library path: NaN/inf -> None (as orjson), unknown types converted."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return _plain(_default(v))


def _dumps_std(v: Any) -> bytes:
    return json.dumps(_plain(v), ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def dumps(value: Any) -> bytes:
    """Compact JSON for any value (no newline); raises TypeError/ValueError if impossible."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTS)
    except TypeError:
        pass
    try:
        return _dumps_std(value)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def dumps_pretty(value: Any) -> bytes:
    """Indented JSON for small documents (summaries): exact for big integers and lone surrogates."""
    return json.dumps(_plain(value), indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8", "backslashreplace")


def dumps_line(row: dict[str, Any]) -> bytes:
    """One JSON line (with the newline) for ``row``; raises `UnwritableValue` naming the field."""
    try:
        return orjson.dumps(row, default=_default, option=_OPTS) + b"\n"
    except TypeError:
        pass
    try:
        return _dumps_std(row) + b"\n"
    except (TypeError, ValueError, RecursionError) as e:
        for k, v in row.items():
            try:
                _dumps_std(v)
            except (TypeError, ValueError, RecursionError) as e2:
                raise UnwritableValue(f"field {k!r} cannot be written as JSON: {_why(e2)}", field=str(k)) from None
        raise UnwritableValue(f"the row cannot be written as JSON: {_why(e)}") from None


def _why(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return f"nested deeper than {MAX_DEPTH} levels"
    return str(e)
