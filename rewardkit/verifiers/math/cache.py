"""Verdict cache: an in-memory LRU, optionally backed by a SQLite file shared across runs.

Keys are ``sha1(gold, pred, config fingerprint)``; the fingerprint includes the verifier version
(`rewardkit.verifiers.math.config.VERIFIER_VERSION`), so a new verifier never reads old
verdicts. Only definitive verdicts (status ok) are stored: a timeout may pass on a less loaded
machine, and errors are worth retrying.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

__all__ = ["VerdictCache", "cache_key"]


def cache_key(gold: str, pred: str, fingerprint: str) -> str:
    return hashlib.sha1(json.dumps([gold, pred, fingerprint]).encode()).hexdigest()


class VerdictCache:
    """Thread-safe LRU of verdict dicts; ``path`` adds a persistent SQLite layer."""

    def __init__(self, maxsize: int = 100_000, path: str | Path | None = None) -> None:
        self.maxsize = maxsize
        self._mem: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.path = Path(path) if path is not None else None
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            v = self._mem.get(key)
            if v is not None:
                self._mem.move_to_end(key)
                self.hits += 1
                return v
            if self._db is not None:
                row = self._db.execute("SELECT v FROM verdicts WHERE k = ?", (key,)).fetchone()
                if row is not None:
                    v = json.loads(row[0])
                    self._put_mem(key, v)
                    self.hits += 1
                    return v
            self.misses += 1
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._put_mem(key, value)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO verdicts (k, v) VALUES (?, ?)", (key, json.dumps(value)))
                self._db.commit()

    def _put_mem(self, key: str, value: dict[str, Any]) -> None:
        self._mem[key] = value
        self._mem.move_to_end(key)
        while len(self._mem) > self.maxsize:
            self._mem.popitem(last=False)

    def __len__(self) -> int:
        return len(self._mem)

    def clear(self) -> None:
        with self._lock:
            self._mem.clear()
            if self._db is not None:
                self._db.execute("DELETE FROM verdicts")
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
