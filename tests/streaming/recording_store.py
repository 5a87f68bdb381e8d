"""A store for the job's writer that records the size of every batch it is given (test only).

The job's Python functions run inside the JVM PyFlink launches, not in pytest's process, so the
record is a file: one line per `upsert`, holding the batch's size. The alerts go on into a real
SQLite store at the job's store path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fenghuo.model.alert import Alert
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.store_sink import AlertBatchTarget, StoreAlerts


class RecordingAlerts(StoreAlerts):
    def __init__(self, store: SqliteStore, log: Path) -> None:
        super().__init__(store)
        self.log = log

    def upsert(self, alerts: list[Alert]) -> int:
        written = super().upsert(alerts)
        with self.log.open("a", encoding="utf-8") as out:  # appended after the commit
            out.write(f"{len(alerts)}\n")
        return written


@dataclass(frozen=True)
class RecordingOpener:
    """The job's store opener: SQLite at the job's path, batch sizes appended to `log`."""

    log: Path

    def __call__(self, path: Path) -> AlertBatchTarget:
        return RecordingAlerts(SqliteStore(path), self.log)


def recorded_batches(log: Path) -> list[int]:
    """The batch sizes written so far, in order."""
    if not log.exists():
        return []
    return [int(line) for line in log.read_text(encoding="utf-8").split()]
