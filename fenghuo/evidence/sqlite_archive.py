"""The event archive in its own SQLite file (`settings.events_db`), next to the store's.

A separate file because telemetry arrives orders of magnitude faster than alerts: its writes must
never hold the store's write lock. Documents are the events' JSON, zlib-compressed (level 1:
about a quarter of the size, microseconds per event). One short-lived connection per call keeps
it safe from any thread (the API's pool, the archive service).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fenghuo.model.events import Event, decode_event, encode_event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    archived_ms INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_archived ON events (archived_ms);
"""
_MAX_VARS = 500  # ids per IN (...) query, well under SQLite's variable limit


class SqliteEventArchive:
    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    def put(self, events: Sequence[Event], archived_at: dt.datetime) -> int:
        if not events:
            return 0
        ms = int(archived_at.timestamp() * 1000)
        rows = [(e.id, ms, zlib.compress(encode_event(e), 1)) for e in events]
        with self._connect() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO events (id, archived_ms, doc) VALUES (?, ?, ?)", rows
            )
            return db.total_changes - before

    def get(self, ids: Sequence[str]) -> dict[str, Event]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Event] = {}
        with self._connect() as db:
            for start in range(0, len(wanted), _MAX_VARS):
                chunk = wanted[start : start + _MAX_VARS]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT id, doc FROM events WHERE id IN ({marks})"  # noqa: S608 - marks only
                for ident, doc in db.execute(query, chunk):
                    found[ident] = decode_event(zlib.decompress(doc))
        return found

    def prune(self, before: dt.datetime) -> int:
        ms = int(before.timestamp() * 1000)
        with self._connect() as db:
            return db.execute("DELETE FROM events WHERE archived_ms < ?", (ms,)).rowcount

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def close(self) -> None:
        """Nothing is held open between calls."""
