"""Reading the delivery log (`fenghuo feed log`, tests): batches with their attempts, what was
sent, what failed. A mixin of `fenghuo.intel.push.log.DeliveryLog`, over its connection; kept
apart so that the log's write path reads on its own."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Ref = tuple[str, str]  # (STIX id, version)


def moment_of(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    batch_id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    sent_count: int
    sent_bytes: int
    status_id: str | None
    status: str | None
    counts: tuple[int, int, int, int] | None  # total, success, failure, pending
    outcome: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: int
    local_collection: str
    remote_url: str
    size: int
    opened_at: dt.datetime
    outcome: str
    closed_at: dt.datetime | None
    confirmed: dict[str, int]  # confirmed_by -> count ("accepted", "present")
    attempts: list[AttemptRecord]


class HistoryReads:
    """Reads under the log's lock: one connection is shared by the pusher's thread and
    whoever reads the log in the same process."""

    _db: sqlite3.Connection
    _lock: threading.Lock

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- reading -------------------------------------------------------------------------------

    def batches(
        self, local: str | None = None, remote: str | None = None, limit: int = 50
    ) -> list[BatchRecord]:
        """The newest `limit` batches (optionally of one target), oldest first."""
        rows = self._rows(
            "SELECT id, local_collection, remote_url, size, opened_at, outcome, closed_at"
            " FROM batches WHERE (?1 IS NULL OR local_collection=?1) AND"
            " (?2 IS NULL OR remote_url=?2) ORDER BY id DESC LIMIT ?3",
            (local, remote, limit),
        )
        return [self._batch_record(row) for row in reversed(rows)]

    def _batch_record(self, row: tuple[object, ...]) -> BatchRecord:
        batch_id = int(str(row[0]))
        confirmed = dict(
            self._rows(
                "SELECT confirmed_by, count(*) FROM batch_objects WHERE batch_id=? AND"
                " confirmed_by IS NOT NULL GROUP BY confirmed_by",
                (batch_id,),
            )
        )
        attempts = [
            AttemptRecord(
                id=a[0],
                batch_id=batch_id,
                started_at=dt.datetime.fromisoformat(a[1]),
                finished_at=moment_of(a[2]),
                sent_count=a[3],
                sent_bytes=a[4],
                status_id=a[5],
                status=a[6],
                counts=(a[7], a[8], a[9], a[10]) if a[7] is not None else None,
                outcome=a[11],
                error=a[12],
            )
            for a in self._rows(
                "SELECT id, started_at, finished_at, sent_count, sent_bytes, status_id, status,"
                " total_count, success_count, failure_count, pending_count, outcome, error"
                " FROM attempts WHERE batch_id=? ORDER BY id",
                (batch_id,),
            )
        ]
        opened = moment_of(str(row[4]))
        assert opened is not None
        return BatchRecord(
            id=batch_id,
            local_collection=str(row[1]),
            remote_url=str(row[2]),
            size=int(str(row[3])),
            opened_at=opened,
            outcome=str(row[5]),
            closed_at=moment_of(str(row[6])) if row[6] is not None else None,
            confirmed={str(k): int(v) for k, v in confirmed.items()},
            attempts=attempts,
        )

    def sent_refs(self, local: str, remote: str) -> list[Ref]:
        """Every (id, version) any attempt of the target POSTed, in order (repeats included)."""
        rows = self._rows(
            "SELECT a.sent FROM attempts a JOIN batches b ON a.batch_id=b.id WHERE"
            " b.local_collection=? AND b.remote_url=? ORDER BY a.id",
            (local, remote),
        )
        return [(r[0], r[1]) for row in rows for r in json.loads(row[0])]

    def failures_of(self, attempt_id: int) -> list[tuple[Ref, str]]:
        rows = self._rows(
            "SELECT object_id, version, message FROM failures WHERE attempt_id=? ORDER BY rowid",
            (attempt_id,),
        )
        return [((r[0], r[1]), r[2]) for r in rows]
