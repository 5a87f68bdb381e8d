"""The event archive: normalised telemetry events by id, for a bounded time.

Detection keeps only what its windows need, and alerts name their evidence by event id, so the
events an analyst opens from an alert must be kept somewhere else: here. Every event of the
telemetry topics is archived (not only evidence: the detectors decide later which events mattered,
and an analyst pivots to the events around an alert) and dropped after the retention period,
counted from when it was archived, so a replay of old telemetry is kept as long as live data.

Writes are idempotent by event id (the service reads at least once); the archive is a separate
SQLite file or Elasticsearch index, so telemetry volume never contends with the store's writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fenghuo.model.events import Event
from fenghuo.settings import Settings


class EventArchive(Protocol):
    """Events by id. Implementations are safe to share between threads."""

    def put(self, events: Sequence[Event], archived_at: dt.datetime) -> int:
        """Keep each event unless one with its id is kept already; return how many were new."""

    def get(self, ids: Sequence[str]) -> dict[str, Event]:
        """The kept events among `ids`, by id (an expired or never archived id is absent)."""

    def prune(self, before: dt.datetime) -> int:
        """Drop events archived before `before`; return how many were dropped."""

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_archive(settings: Settings) -> EventArchive:
    """The configured store's kind of archive: a SQLite file (`settings.events_db`) or the
    `<prefix>events` index on the store's search server (Elasticsearch or OpenSearch)."""
    if settings.store != "sqlite":
        from fenghuo.evidence.elastic_archive import ElasticEventArchive
        from fenghuo.store.search_client import open_search_client

        return ElasticEventArchive(open_search_client(settings), settings.es_index_prefix)
    from fenghuo.evidence.sqlite_archive import SqliteEventArchive

    return SqliteEventArchive(settings.events_db)
