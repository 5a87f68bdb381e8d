"""The feed service (`fenghuo feed follow`, and a thread of `fenghuo up`): `fenghuo.incidents` in;
each collection's STIX objects and the regulator reports out, to the store.

It follows the correlator's compacted topic (key = incident id, value = the incident, or null
when the correlator retired it) instead of being a step of the correlator: the feed is a
different consumer with its own pace and failures (a slow store index must not hold back
correlation), and any producer of incidents (a second correlator, a replay) feeds it the same
way. Per poll batch: decode (a record that is not an incident is logged and skipped: the
correlator wrote it, so a bad one is a bug to see, not telemetry to keep), fold to the newest
version per id, write through `FeedWriter` (idempotent: an unchanged object is not written
again), then commit. A failed store write is retried with backoff before anything else is read:
at least once, and a repeat changes nothing.

Partitions are assigned by the service itself (every partition; no group rebalancing, like the
correlator); the group id only keeps the committed offsets. A first run starts at the earliest
offset, so collections created before the platform ran are filled from the whole topic.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from confluent_kafka import Message

from fenghuo.errors import FenghuoError
from fenghuo.graph.runner import ServiceThread
from fenghuo.ingest.kafka.service_consumer import (
    commit_offsets,
    open_assigned_consumer,
    poll_batches,
    retry_until_done,
)
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.intel.feed import FeedWriter, writer_for
from fenghuo.inventory import InventoryStore
from fenghuo.model.incident import Incident, decode_incident
from fenghuo.settings import Settings
from fenghuo.store.factory import open_store

log = logging.getLogger(__name__)


class FeedServiceError(FenghuoError):
    """The feed service cannot go on (a fatal consumer error)."""


@dataclass(frozen=True)
class FeedServiceConfig:
    bootstrap: str
    topics: Topics = field(default_factory=Topics)
    group_id: str = "fenghuo.feed"
    batch_size: int = 500
    poll_timeout_s: float = 0.5
    retry_max_s: float = 10.0


@dataclass
class FeedServiceStats:
    batches: int = 0
    incidents: int = 0
    retired: int = 0
    skipped: int = 0  # records that were not incidents


@dataclass
class _Batch:
    incidents: dict[str, Incident | None]  # id -> newest version, None when retired
    offsets: dict[int, int]


class FeedService:
    """Consume, write the feed, commit; `run(stop)` blocks until `stop` is set."""

    def __init__(self, config: FeedServiceConfig, writer: FeedWriter) -> None:
        self.config = config
        self.writer = writer
        self.stats = FeedServiceStats()
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        topic = self.config.topics.incidents
        opened = open_assigned_consumer(
            self.config.bootstrap,
            self.config.group_id,
            topic,
            stop,
            client_id="fenghuo-feed",
            who="feed",
        )
        if opened is None:
            return
        consumer, _ = opened
        polls = poll_batches(
            consumer,
            stop,
            batch_size=self.config.batch_size,
            timeout_s=self.config.poll_timeout_s,
            fatal=FeedServiceError,
        )
        try:
            self.ready.set()
            for records in polls:
                batch = self._decode(records)
                written = retry_until_done(
                    functools.partial(self._write, batch),
                    stop,
                    what="store write",
                    who="feed",
                    log=log,
                    max_delay_s=self.config.retry_max_s,
                )
                if not written:
                    return
                # A failed commit is covered by the next; a restart repeats idempotent writes.
                commit_offsets(consumer, topic, batch.offsets, who="feed", log=log)
                self.stats.batches += 1
        finally:
            consumer.close()

    def _write(self, batch: _Batch) -> None:
        changed = [i for i in batch.incidents.values() if i is not None]
        retired = [ident for ident, i in batch.incidents.items() if i is None]
        self.writer.write(changed, retired)
        self.stats.incidents += len(changed)
        self.stats.retired += len(retired)

    def _decode(self, records: Sequence[Message]) -> _Batch:
        incidents: dict[str, Incident | None] = {}
        offsets: dict[int, int] = {}
        for record in records:
            partition, offset = record.partition(), record.offset()
            if partition is None or offset is None:
                continue
            offsets[partition] = max(offsets.get(partition, 0), offset + 1)
            key, value = record.key(), record.value()
            if value is None:
                if key:
                    incidents[key.decode("utf-8", errors="replace")] = None
                continue
            try:
                incident = decode_incident(value)
            except msgspec.DecodeError as exc:
                where = f"{record.topic()}[{partition}]@{offset}"
                log.error("feed: %s is not an incident (%s): skipped", where, exc)
                self.stats.skipped += 1
                continue
            current = incidents.get(incident.id)
            if current is None or incident.updated_at >= current.updated_at:
                incidents[incident.id] = incident
        return _Batch(incidents, offsets)


def describe(settings: Settings) -> str:
    """One line for the operator: what the service reads and writes."""
    where = settings.search_url or settings.db_path
    return (
        f"{Topics(settings.topic_prefix).incidents} -> the TAXII collections' objects and the"
        f" reports in the {settings.store} store ({where}); group {settings.topic_prefix}feed"
    )


def start_feed(
    settings: Settings, inventory: InventoryStore, bootstrap: str
) -> ServiceThread[FeedService]:
    """Open the configured store and run the feed service on `bootstrap` in a thread."""
    store = open_store(settings)
    writer = writer_for(settings, store, inventory.current)
    config = FeedServiceConfig(
        bootstrap=bootstrap,
        topics=Topics(settings.topic_prefix),
        group_id=f"{settings.topic_prefix}feed",
    )
    running = ServiceThread(FeedService(config, writer), store, name="feed")
    running.start()
    return running
