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

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from fenghuo.errors import FenghuoError
from fenghuo.graph.runner import ServiceThread
from fenghuo.ingest.kafka.topics import Topics, wait_for_partitions
from fenghuo.intel.feed import FeedWriter, writer_for
from fenghuo.inventory import InventoryStore
from fenghuo.model.incident import Incident, decode_incident
from fenghuo.settings import Settings
from fenghuo.store.factory import open_store
from fenghuo.store.retry import is_transient

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
        consumer = self._open_consumer(stop)
        if consumer is None:
            return
        try:
            self.ready.set()
            while not stop.is_set():
                records = consumer.consume(self.config.batch_size, self.config.poll_timeout_s)
                batch = self._decode([m for m in records if _ok(m)])
                if batch is None:
                    continue
                if not self._retry(stop, lambda b=batch: self._write(b)):  # type: ignore[misc]
                    return
                self._commit(consumer, batch.offsets)
                self.stats.batches += 1
        finally:
            consumer.close()

    def _write(self, batch: _Batch) -> None:
        changed = [i for i in batch.incidents.values() if i is not None]
        retired = [ident for ident, i in batch.incidents.items() if i is None]
        self.writer.write(changed, retired)
        self.stats.incidents += len(changed)
        self.stats.retired += len(retired)

    def _decode(self, records: Sequence[Message]) -> _Batch | None:
        if not records:
            return None
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

    def _retry(self, stop: threading.Event, action: Callable[[], object]) -> bool:
        delay = 0.1
        while True:
            try:
                action()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("feed: store write failed (%s), retrying in %.1f s", exc, delay)
            else:
                return True
            if stop.wait(delay):
                return False
            delay = min(delay * 2, self.config.retry_max_s)

    def _open_consumer(self, stop: threading.Event) -> Consumer | None:
        topic = self.config.topics.incidents
        consumer = Consumer(
            {
                "bootstrap.servers": self.config.bootstrap,
                "group.id": self.config.group_id,
                "client.id": "fenghuo-feed",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            }
        )
        try:
            partitions = wait_for_partitions(consumer, topic, stop, "feed")
            if partitions is None:
                consumer.close()
                return None
            committed = consumer.committed(
                [TopicPartition(topic, p) for p in partitions], timeout=10
            )
            marks = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
            consumer.assign(
                [TopicPartition(topic, p, marks.get(p, OFFSET_BEGINNING)) for p in partitions]
            )
        except BaseException:
            consumer.close()
            raise
        return consumer

    def _commit(self, consumer: Consumer, offsets: dict[int, int]) -> None:
        topic = self.config.topics.incidents
        try:
            consumer.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in sorted(offsets.items())],
                asynchronous=False,
            )
        except KafkaException as exc:
            # The next batch's commit covers this one; a restart repeats idempotent writes.
            log.warning("feed: offset commit failed (%s)", exc)


def _ok(record: Message) -> bool:
    err = record.error()
    if err is None:
        return True
    if err.fatal():
        raise FeedServiceError(str(err))
    return False


def describe(settings: Settings) -> str:
    """One line for the operator: what the service reads and writes."""
    where = settings.es_url if settings.store == "elasticsearch" else settings.db_path
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
