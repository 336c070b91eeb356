"""A persistent answer cache: one SQLite database in WAL mode, one committed row per finished request.

Why SQLite: each ``put`` is its own transaction, so a process killed at any instant leaves every finished
answer committed and never a half-written one (the write-ahead log is rolled back or forward on the next
open); several processes can share the file (readers never block, writers wait ``busy_timeout``); and a
200k-entry cache is one file rather than 200k small ones.

The key is a SHA-256 of the canonical JSON of (backend, model id, operation, rendered prompt, parameters),
so any change to the prompt text, the template, the options or a generation parameter is a new entry.

WAL needs shared memory between the processes using the file (a ``-shm`` file mapped by each): on a network
filesystem (NFS, SMB) that is not coherent across machines, so two machines sharing one cache may corrupt
it. Keep the cache on a local disk (``INTARSIA_LLM_CACHE_DIR``), one per machine. Any damage, however it
came, ends as one :class:`CacheError` naming the file, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import CacheError

SCHEMA_VERSION = 1
FILENAME = "llm-cache.sqlite3"


def default_cache_dir() -> Path:
    env = os.environ.get("INTARSIA_LLM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "intarsia" / "llm"


def request_key(backend: str, model: str, op: str, prompt: Any, params: dict) -> str:
    """Stable key of one request; ``prompt`` is the rendered text (or message list sent to a server)."""
    blob = json.dumps(
        {"v": SCHEMA_VERSION, "backend": backend, "model": model, "op": op, "prompt": prompt, "params": params},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe key → JSON value store on disk."""

    def __init__(self, directory: str | Path | None = None):
        directory = Path(directory) if directory else default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILENAME
        self._lock = threading.Lock()
        try:
            # isolation_level=None: autocommit, so every statement below is one atomic transaction.
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut may drop the
            # last commits (never corrupts). FULL would fsync every answer for no gain against kills.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, op TEXT NOT NULL,"
                " value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"cannot open the LLM cache {self.path}: {exc} (delete the file to start afresh)") from None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; a damaged database (a bad page found by any statement) becomes one line."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as exc:
                raise CacheError(f"the LLM cache {self.path} is damaged ({exc}): delete it (and its -wal/-shm "
                                 "files) to start afresh; `intarsia llm cache --clear` empties a readable one") from None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._guard():
            for start in range(0, len(keys), 500):  # SQLite limits the number of bound parameters
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, value: Any, *, backend: str, model: str, op: str) -> None:
        blob = json.dumps(value, ensure_ascii=False)
        with self._guard():
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, backend, model, op, value, created) VALUES (?,?,?,?,?,?)",
                (key, backend, model, op, blob, time.time()),
            )

    def __len__(self) -> int:
        with self._guard():
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def summary(self) -> list[tuple[str, str, str, int]]:
        """Rows of (backend, model, op, count)."""
        with self._guard():
            return list(self._db.execute(
                "SELECT backend, model, op, COUNT(*) FROM responses GROUP BY backend, model, op ORDER BY 1, 2, 3"))

    def clear(self, *, backend: str | None = None) -> int:
        with self._guard():
            if backend is None:
                cur = self._db.execute("DELETE FROM responses")
            else:
                cur = self._db.execute("DELETE FROM responses WHERE backend = ?", (backend,))
            return cur.rowcount

    def integrity_ok(self) -> bool:
        with self._guard():
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        with self._guard():
            self._db.close()
