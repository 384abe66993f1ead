"""An on-disk cache of judge replies (SQLite), so re-scoring a dataset costs nothing.

The key is a hash of everything that determines a reply: backend model, rubric fingerprint
(name, version and content), judge mode, the full request messages and the sampling parameters
(temperature, max tokens, and the index of the sample for self-consistency). The *raw reply text*
is stored, not the parsed score, so a fix to the parser applies to cached replies too. Failed calls
are never cached.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

__all__ = ["JudgeCache", "cache_key"]


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


class JudgeCache:
    """Thread-safe get/put of reply texts by key; several processes may share the file (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, texts BLOB NOT NULL)")
            self._conn.commit()

    def get(self, key: str) -> list[str] | None:
        with self._lock:
            row = self._conn.execute("SELECT texts FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, texts: list[str]) -> None:
        blob = json.dumps(texts)  # ASCII-escaped: lone surrogates in a reply survive
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO replies (key, texts) VALUES (?, ?)", (key, blob))
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
