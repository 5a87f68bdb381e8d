"""The pusher's local state: its delivery log and its saved positions, in their own SQLite file
(`<data_dir>/feed-push.db` by default), apart from the platform's store.

It is kept apart because it is the pusher's memory of a conversation with someone else's server,
not platform data: it can be deleted to start a target afresh (every version is then offered
again; the remote keeps one copy per (id, version) and the pusher checks its manifest first, see
`fenghuo.intel.push.pusher`), and a read-only copy of the platform's store never needs it.

Tables:
- `positions`: per (local collection, remote collection URL), the `date_added` of the last
  local object version the remote confirmed (`added_after` for the next read; exclusive).
- `batches`: what a batch is (its local range, when it was opened) and its final outcome
  (`open`, `delivered`, `superseded` when the local range changed under an open batch).
- `batch_objects`: the (id, version) pairs of a batch and how each was confirmed (`accepted` in
  a status resource's successes, or `present` in the remote's manifest).
- `attempts`: every POST of a batch: when, what it sent, the remote status id and counts, its
  outcome (`complete`, `partial`, `pending`, `error`, `stopped`, `interrupted`) and the error.
- `failures`: the objects a remote status reported as failed, per attempt, with its message.

Every change that matters is committed before the network call that depends on it, so a crash
leaves an open attempt behind, which the next run marks `interrupted` and treats as uncertain.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fenghuo.intel.push.history import HistoryReads, Ref, moment_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    local_collection TEXT NOT NULL,
    remote_url TEXT NOT NULL,
    added_after TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (local_collection, remote_url)
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    local_collection TEXT NOT NULL,
    remote_url TEXT NOT NULL,
    start_after TEXT,
    end_added TEXT NOT NULL,
    size INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'open',
    closed_at TEXT
);
CREATE INDEX IF NOT EXISTS batches_target ON batches (local_collection, remote_url, outcome);
CREATE TABLE IF NOT EXISTS batch_objects (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    seq INTEGER NOT NULL,
    object_id TEXT NOT NULL,
    version TEXT NOT NULL,
    confirmed_by TEXT,
    confirmed_at TEXT,
    PRIMARY KEY (batch_id, seq)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    sent TEXT NOT NULL,
    sent_count INTEGER NOT NULL,
    sent_bytes INTEGER NOT NULL,
    status_id TEXT,
    status TEXT,
    total_count INTEGER,
    success_count INTEGER,
    failure_count INTEGER,
    pending_count INTEGER,
    outcome TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_batch ON attempts (batch_id);
CREATE TABLE IF NOT EXISTS failures (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id),
    object_id TEXT NOT NULL,
    version TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class OpenBatch:
    id: int
    start_after: dt.datetime | None  # the position the batch was read after
    end_added: dt.datetime  # date added of its last object: the position once delivered
    refs: list[Ref]  # every (id, version) of the batch, in local order
    remaining: list[Ref]  # those not yet confirmed by the remote
    attempts: int  # POSTs made so far (an earlier one makes the next a re-send)


def _first(rows: list[Any]) -> Any:
    return rows[0] if rows else None


class DeliveryLog(HistoryReads):
    """The delivery log and positions of every push target, in one SQLite file (WAL, so that
    `fenghuo feed log` can read while a pusher writes). One writer per target at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def _write(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[int | None]:
        """Run statements in one transaction; returns each statement's lastrowid."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [self._db.execute(sql, params).lastrowid for sql, params in statements]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return ids

    # -- positions -----------------------------------------------------------------------------

    def position(self, local: str, remote: str) -> dt.datetime | None:
        """The date added of the last confirmed local version (None: from the beginning)."""
        row = _first(
            self._rows(
                "SELECT added_after FROM positions WHERE local_collection=? AND remote_url=?",
                (local, remote),
            )
        )
        return moment_of(row[0]) if row else None

    def delivered_count(self, local: str, remote: str) -> int:
        row = _first(
            self._rows(
                "SELECT delivered FROM positions WHERE local_collection=? AND remote_url=?",
                (local, remote),
            )
        )
        return int(row[0]) if row else 0

    # -- batches -------------------------------------------------------------------------------

    def open_batch(self, local: str, remote: str) -> OpenBatch | None:
        """The target's batch that is not finished yet, if any (at most one at a time)."""
        row = _first(
            self._rows(
                "SELECT id, start_after, end_added FROM batches WHERE local_collection=? AND"
                " remote_url=? AND outcome='open' ORDER BY id LIMIT 1",
                (local, remote),
            )
        )
        if row is None:
            return None
        batch_id = int(row[0])
        objects = self._rows(
            "SELECT object_id, version, confirmed_by FROM batch_objects WHERE batch_id=?"
            " ORDER BY seq",
            (batch_id,),
        )
        (attempts,) = _first(
            self._rows("SELECT count(*) FROM attempts WHERE batch_id=?", (batch_id,))
        )
        end = moment_of(row[2])
        assert end is not None
        return OpenBatch(
            id=batch_id,
            start_after=moment_of(row[1]),
            end_added=end,
            refs=[(o[0], o[1]) for o in objects],
            remaining=[(o[0], o[1]) for o in objects if o[2] is None],
            attempts=int(attempts),
        )

    def begin_batch(
        self,
        local: str,
        remote: str,
        start_after: dt.datetime | None,
        end_added: dt.datetime,
        refs: Sequence[Ref],
    ) -> OpenBatch:
        now = _text(_utc_now())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO batches (local_collection, remote_url, start_after, end_added,"
                    " size, opened_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        local,
                        remote,
                        _text(start_after) if start_after else None,
                        _text(end_added),
                        len(refs),
                        now,
                    ),
                )
                batch_id = int(cursor.lastrowid or 0)
                self._db.executemany(
                    "INSERT INTO batch_objects (batch_id, seq, object_id, version)"
                    " VALUES (?, ?, ?, ?)",
                    [(batch_id, seq, ref[0], ref[1]) for seq, ref in enumerate(refs)],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return OpenBatch(batch_id, start_after, end_added, list(refs), list(refs), 0)

    def confirm(self, batch_id: int, refs: Iterable[Ref], how: str) -> None:
        now = _text(_utc_now())
        self._write(
            [
                (
                    "UPDATE batch_objects SET confirmed_by=?, confirmed_at=? WHERE batch_id=?"
                    " AND object_id=? AND version=? AND confirmed_by IS NULL",
                    (how, now, batch_id, ref[0], ref[1]),
                )
                for ref in refs
            ]
        )

    def finish_batch(self, batch: OpenBatch, local: str, remote: str) -> None:
        """The batch is delivered: close it and advance the position, in one transaction."""
        now = _text(_utc_now())
        self._write(
            [
                ("UPDATE batches SET outcome='delivered', closed_at=? WHERE id=?", (now, batch.id)),
                (
                    "INSERT INTO positions (local_collection, remote_url, added_after, delivered,"
                    " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (local_collection,"
                    " remote_url) DO UPDATE SET added_after=excluded.added_after,"
                    " delivered=positions.delivered+excluded.delivered,"
                    " updated_at=excluded.updated_at",
                    (local, remote, _text(batch.end_added), len(batch.refs), now),
                ),
            ]
        )

    def supersede_batch(self, batch_id: int) -> None:
        """The local range of an open batch changed (versions deleted): it is read again."""
        now = _text(_utc_now())
        self._write(
            [("UPDATE batches SET outcome='superseded', closed_at=? WHERE id=?", (now, batch_id))]
        )

    # -- attempts ------------------------------------------------------------------------------

    def interrupt_dangling(self, batch_id: int) -> int:
        """Mark attempts a crash left without an outcome; returns how many."""
        now = _text(_utc_now())
        with self._lock:
            cursor = self._db.execute(
                "UPDATE attempts SET outcome='interrupted', finished_at=? WHERE batch_id=? AND"
                " outcome IS NULL",
                (now, batch_id),
            )
            return cursor.rowcount

    def begin_attempt(self, batch_id: int, sent: Sequence[Ref], sent_bytes: int) -> int:
        (attempt_id,) = self._write(
            [
                (
                    "INSERT INTO attempts (batch_id, started_at, sent, sent_count, sent_bytes)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        batch_id,
                        _text(_utc_now()),
                        json.dumps([list(r) for r in sent]),
                        len(sent),
                        sent_bytes,
                    ),
                )
            ]
        )
        assert attempt_id is not None
        return attempt_id

    def set_sent(self, attempt_id: int, sent: Sequence[Ref], sent_bytes: int) -> None:
        """What the attempt POSTs after its manifest check (committed before the POST)."""
        self._write(
            [
                (
                    "UPDATE attempts SET sent=?, sent_count=?, sent_bytes=? WHERE id=?",
                    (json.dumps([list(r) for r in sent]), len(sent), sent_bytes, attempt_id),
                )
            ]
        )

    def finish_attempt(
        self,
        attempt_id: int,
        outcome: str,
        *,
        status_id: str | None = None,
        status: str | None = None,
        counts: tuple[int, int, int, int] | None = None,
        failures: Sequence[tuple[Ref, str]] = (),
        error: str | None = None,
    ) -> None:
        total, success, failure, pending = counts or (None, None, None, None)
        statements: list[tuple[str, Sequence[object]]] = [
            (
                "UPDATE attempts SET finished_at=?, status_id=?, status=?, total_count=?,"
                " success_count=?, failure_count=?, pending_count=?, outcome=?, error=?"
                " WHERE id=?",
                (
                    _text(_utc_now()),
                    status_id,
                    status,
                    total,
                    success,
                    failure,
                    pending,
                    outcome,
                    error,
                    attempt_id,
                ),
            )
        ]
        statements += [
            (
                "INSERT INTO failures (attempt_id, object_id, version, message)"
                " VALUES (?, ?, ?, ?)",
                (attempt_id, ref[0], ref[1], message),
            )
            for ref, message in failures
        ]
        self._write(statements)
