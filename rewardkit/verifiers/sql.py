"""SQL execution reward (``type: sql``): run predicted and gold SQL on SQLite, compare results.

Reference: ``{"sql": <gold query>, "db": <path to a .sqlite file>}`` or, for self-contained data,
``{"sql": ..., "schema": <SQL script that creates and fills an in-memory database>}``
(``gold``/``query`` and ``db_path`` are accepted as aliases). Without a gold query and a database
the sample is ``not_applicable``.

Predicted SQL: the last ```` ```sql ```` block of the completion, else the last fenced block, else
the whole text (one statement; a trailing ``;`` is fine, several statements are not).

Safety: the predicted query runs on a read-only connection (``mode=ro`` for files, a private
in-memory copy otherwise, plus ``PRAGMA query_only``), with an authorizer that denies writes,
``ATTACH``, and pragmas; a time budget enforced by SQLite's progress handler (works from any
thread, no signals), a row limit, and a cap on string/blob sizes.

Components (each 0 or 1): ``syntax`` (the statement parses), ``executes`` (it ran to completion
within the budget), ``match`` (same result as the gold query). Result sets are compared as
multisets of rows, or as sequences when the gold query has a top-level ``ORDER BY``; floats are
compared after rounding to ``float_digits``. ``score = sum(weights[c] * c) / sum(weights)``; the
default weights give plain execution accuracy (``match``); partial credit as in text-to-SQL RL work
is e.g. ``weights: {syntax: 0.1, executes: 0.2, match: 0.7}``.

Status: no SQL in the completion -> ``unparseable``; the predicted query hit the time budget ->
``timeout`` (or ``executes = 0`` with ``timeout_status: false``); the gold query fails or the
database cannot be opened -> ``error``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from typing import Any

from pydantic import field_validator

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["SQLReward", "extract_sql", "gold_is_ordered", "results_match"]

_FENCE = re.compile(r"```[ \t]*([\w-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]")
_ORDER_BY = re.compile(r"\border\s+by\b", re.I)
_SYNTAX_MARKERS = ("syntax error", "incomplete input", "unrecognized token", "one statement at a time")
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


class _Timeout(Exception):
    pass


def extract_sql(text: str) -> str | None:
    """The predicted query: last ```sql block, else last fenced block, else the whole text."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    sql_blocks = [b for lang, b in blocks if lang == "sql"]
    q = sql_blocks[-1] if sql_blocks else (blocks[-1][1] if blocks else text)
    q = q.strip().rstrip(";").strip()
    return q or None


def gold_is_ordered(sql: str) -> bool:
    """True when the query has an ``ORDER BY`` outside strings and parenthesised subqueries."""
    s = _STRINGS.sub("''", sql)
    prev = None
    while prev != s:  # drop innermost parentheses until none are left
        prev, s = s, re.sub(r"\([^()]*\)", "()", s)
    return bool(_ORDER_BY.search(s))


def _norm_row(row: tuple, digits: int, ignore_column_order: bool) -> tuple:
    vals = tuple(round(v, digits) if isinstance(v, float) else v for v in row)
    if ignore_column_order:
        vals = tuple(sorted(vals, key=lambda v: (type(v).__name__, repr(v))))
    return vals


def results_match(pred: list[tuple], gold: list[tuple], ordered: bool, digits: int = 6,
                  ignore_column_order: bool = False) -> bool:
    p = [_norm_row(r, digits, ignore_column_order) for r in pred]
    g = [_norm_row(r, digits, ignore_column_order) for r in gold]
    return p == g if ordered else Counter(p) == Counter(g)


class SQLParams(SourceParams):
    timeout_s: float = 2.0  # per query (gold and predicted each)
    max_rows: int = 10_000
    max_value_bytes: int = 1_000_000
    float_digits: int = 6
    ignore_column_order: bool = False
    weights: dict[str, float] = {"syntax": 0.0, "executes": 0.0, "match": 1.0}
    timeout_status: bool = True
    db_root: str | None = None  # relative ``db`` paths are resolved against this directory

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - {"syntax", "executes", "match"}
        if unknown:
            raise ValueError(f"unknown weight keys {sorted(unknown)} (use syntax, executes, match)")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return v


@register_source("sql")
class SQLReward(SampleRewardSource):
    """Execution accuracy of predicted SQL against gold SQL on SQLite, with partial-credit components."""

    Params = SQLParams

    def setup(self) -> None:
        self._lock = threading.Lock()
        self._schema_dbs: OrderedDict[str, sqlite3.Connection] = OrderedDict()
        self._gold_cache: OrderedDict[tuple[str, str], list[tuple]] = OrderedDict()

    def close(self) -> None:
        if self._is_setup:
            with self._lock:
                for c in self._schema_dbs.values():
                    c.close()
                self._schema_dbs.clear()
                self._gold_cache.clear()
            self._is_setup = False

    # -- connections ---------------------------------------------------------------------------
    def _connect(self, ref: dict[str, Any]) -> sqlite3.Connection:
        p: SQLParams = self.params  # type: ignore[assignment]
        db = ref.get("db") or ref.get("db_path")
        if db:
            path = str(db)
            if p.db_root and not path.startswith("/"):
                path = f"{p.db_root.rstrip('/')}/{path}"
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            schema = str(ref["schema"])
            with self._lock:
                src = self._schema_dbs.get(schema)
                if src is None:
                    src = sqlite3.connect(":memory:", check_same_thread=False)
                    src.executescript(schema)  # reference data: trusted
                    self._schema_dbs[schema] = src
                    if len(self._schema_dbs) > 64:
                        self._schema_dbs.popitem(last=False)[1].close()
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                src.backup(conn)
        conn.execute("PRAGMA query_only = ON")
        if hasattr(conn, "setlimit"):  # Python 3.11+
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, p.max_value_bytes)
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY)
        return conn

    def _query(self, conn: sqlite3.Connection, sql: str) -> tuple[list[tuple] | None, str | None]:
        """(rows, None) or (None, error). Raises _Timeout when the budget is exhausted."""
        p: SQLParams = self.params  # type: ignore[assignment]
        deadline = time.monotonic() + p.timeout_s
        timed_out = [False]

        def progress() -> int:
            if time.monotonic() > deadline:
                timed_out[0] = True
                return 1
            return 0

        conn.set_progress_handler(progress, 1000)
        try:
            cur = conn.execute(sql)
            rows = cur.fetchmany(p.max_rows + 1)
        except sqlite3.Error as e:
            if timed_out[0]:
                raise _Timeout() from None
            return None, f"{type(e).__name__}: {e}"
        except (ValueError, OverflowError, MemoryError) as e:  # e.g. embedded NUL, huge ints
            return None, f"{type(e).__name__}: {e}"
        finally:
            conn.set_progress_handler(None, 0)
        if len(rows) > p.max_rows:
            return None, f"more than {p.max_rows} rows"
        return rows, None

    def _gold_rows(self, ref: dict[str, Any], gold: str) -> list[tuple]:
        key = (str(ref.get("db") or ref.get("db_path") or ref.get("schema")), gold)
        with self._lock:
            hit = self._gold_cache.get(key)
        if hit is not None:
            return hit
        conn = self._connect(ref)
        try:
            rows, err = self._query(conn, gold)
        except _Timeout:
            raise RuntimeError("gold query exceeded the time budget") from None
        finally:
            conn.close()
        if err is not None:
            raise RuntimeError(f"gold query failed: {err}")
        with self._lock:
            self._gold_cache[key] = rows  # type: ignore[assignment]
            if len(self._gold_cache) > 4096:
                self._gold_cache.popitem(last=False)
        return rows  # type: ignore[return-value]

    # -- scoring -------------------------------------------------------------------------------
    def score_one(self, sample: Sample) -> RewardResult:
        p: SQLParams = self.params  # type: ignore[assignment]
        ref = sample.reference
        if not isinstance(ref, dict):
            return RewardResult.fail(Status.NOT_APPLICABLE, "reference is not an object with sql and db/schema")
        gold = ref.get("sql") or ref.get("gold") or ref.get("query")
        if not gold or not (ref.get("db") or ref.get("db_path") or ref.get("schema")):
            return RewardResult.fail(Status.NOT_APPLICABLE, "reference needs 'sql' and 'db' or 'schema'")
        pred = extract_sql(sample.completion)
        if pred is None:
            return RewardResult.fail(Status.UNPARSEABLE, "no SQL in the completion")
        try:
            gold_rows = self._gold_rows(ref, str(gold))
        except (RuntimeError, sqlite3.Error) as e:
            return RewardResult.fail(Status.ERROR, str(e))
        info: dict[str, Any] = {"sql": pred[:500]}
        try:
            conn = self._connect(ref)
        except sqlite3.Error as e:
            return RewardResult.fail(Status.ERROR, f"cannot open database: {e}")
        try:
            rows, err = self._query(conn, pred)
        except _Timeout:
            if p.timeout_status:
                return RewardResult.fail(Status.TIMEOUT, f"query exceeded {p.timeout_s}s", info=info)
            rows, err = None, "timeout"
        finally:
            conn.close()
        syntax = 1.0
        if err is not None:
            info["error"] = err[:300]
            if any(m in err.lower() for m in _SYNTAX_MARKERS):
                syntax = 0.0
        executes = 1.0 if rows is not None else 0.0
        match = 0.0
        if rows is not None:
            ordered = gold_is_ordered(str(gold))
            info["ordered"] = ordered
            match = float(results_match(rows, gold_rows, ordered, p.float_digits, p.ignore_column_order))
        comps = {"syntax": syntax, "executes": executes, "match": match}
        w = p.weights
        score = round(sum(w.get(k, 0.0) * v for k, v in comps.items()) / sum(w.values()), 12)
        return RewardResult(score, Status.OK, components=comps, info=info)
