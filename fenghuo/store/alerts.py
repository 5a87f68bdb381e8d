"""A small SQLite alert store: one row per alert id, holding the fold of every version seen.

The stream job writes each alert version as it is emitted; after a restart it replays from its
last checkpoint and emits some versions again. Upserting through `merge_alerts` (commutative,
associative, idempotent) makes that harmless: the row ends as the same document whatever the
order or the number of repeats. The read-merge-write of one call runs in an IMMEDIATE
transaction, so concurrent writers (processes or threads) never lose each other's updates.
Each thread keeps one connection open (a connection per call costs more than the upsert).

This is the write side of the SQLite alerts repository (`fenghuo.store.sqlite`), kept as its own
class because the stream job's sink needs only it; its `get`/`all`/`count` are unscoped and meant
for the job and tests, never for the API. The schema comes from `fenghuo.store.migrations`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path

from fenghuo.model.alert import Alert, decode_alert, encode_alert, merge_alerts
from fenghuo.store.base import epoch_ms
from fenghuo.store.migrations import migrate

_UPSERT = """
INSERT INTO alerts (id, detector, tenant_id, actor_tenant_id, host_id, severity, first_seen,
                    last_seen, doc, first_seen_ms, last_seen_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    detector = excluded.detector, tenant_id = excluded.tenant_id,
    actor_tenant_id = excluded.actor_tenant_id, host_id = excluded.host_id,
    severity = excluded.severity, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen, doc = excluded.doc,
    first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms
"""


class AlertStore:
    """Alerts in SQLite (WAL mode, busy timeout), upserted idempotently by id."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._open()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        # WAL with synchronous=NORMAL: a commit survives a process crash (not a power cut).
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
            self._local.db = db
            with self._lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection (a later call opens a new one)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; shared by the SQLite repositories)."""
        return self._db()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        return self._write()

    def upsert(self, alerts: Iterable[Alert]) -> int:
        """Fold each alert into its stored version (one transaction); return how many rows
        were written."""
        batch = list(alerts)
        if not batch:
            return 0
        with self._write() as db:
            folded: dict[str, Alert] = {}
            for alert in batch:
                current = folded.get(alert.id)
                if current is None:
                    row = db.execute("SELECT doc FROM alerts WHERE id = ?", (alert.id,)).fetchone()
                    current = decode_alert(row[0]) if row is not None else None
                folded[alert.id] = alert if current is None else merge_alerts(current, alert)
            db.executemany(_UPSERT, [_row(a) for a in folded.values()])
        return len(folded)

    def get(self, alert_id: str) -> Alert | None:
        row = self._db().execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return decode_alert(row[0]) if row is not None else None

    def all(self) -> list[Alert]:
        """Every alert, ordered by (first_seen, id) like `fold_alerts`."""
        rows = self._db().execute("SELECT doc FROM alerts").fetchall()
        return sorted((decode_alert(r[0]) for r in rows), key=lambda a: (a.first_seen, a.id))

    def count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM alerts").fetchone()[0])


def _row(alert: Alert) -> tuple[str | int | None, ...]:
    return (
        alert.id,
        alert.detector,
        alert.tenant_id,
        alert.actor_tenant_id,
        alert.host_id,
        alert.severity.value,
        alert.first_seen.isoformat(),
        alert.last_seen.isoformat(),
        encode_alert(alert).decode(),
        epoch_ms(alert.first_seen),
        epoch_ms(alert.last_seen),
    )
