"""The archive service (`fenghuo archive`, and a thread of `fenghuo up`): the telemetry
topics in, the event archive out, so that every alert's evidence can be opened by id.

Like the feed, it is a consumer of its own (group `<prefix>archive`) rather than a step of
detection: a slow archive must never hold back alerts. It assigns itself every partition of the
three telemetry topics (no group rebalancing; the group id only keeps committed offsets), and per
poll batch decodes, writes (idempotent by event id) and only then commits: at least once, and a
repeat changes nothing. A failed write is retried with backoff before anything else is read. A
record that is not an event is logged and skipped: the ingest pipeline wrote it, and it already
sent bad input to the dead-letter topic. Every `prune_every_s` it drops events older than the
retention period (checked at each batch: an archive with no new events has nothing to add).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from confluent_kafka import Consumer, Message, TopicPartition

from fenghuo.errors import FenghuoError
from fenghuo.evidence.archive import EventArchive, open_archive
from fenghuo.graph.runner import ServiceThread
from fenghuo.ingest.kafka.service_consumer import (
    commit_offsets,
    poll_batches,
    resume_committed,
    retry_until_done,
)
from fenghuo.ingest.kafka.topics import Topics, wait_for_partitions
from fenghuo.model.events import Event, decode_event
from fenghuo.settings import Settings
from fenghuo.streaming.flush import is_watermark_flush

log = logging.getLogger(__name__)


class ArchiveServiceError(FenghuoError):
    """The archive service cannot go on (a fatal consumer error)."""


@dataclass(frozen=True)
class ArchiveConfig:
    bootstrap: str
    topics: Topics = field(default_factory=Topics)
    group_id: str = "fenghuo.archive"
    retention: dt.timedelta = dt.timedelta(days=7)
    batch_size: int = 2000
    poll_timeout_s: float = 0.5
    retry_max_s: float = 10.0
    prune_every_s: float = 600.0


@dataclass
class ArchiveStats:
    batches: int = 0
    events: int = 0  # events read
    archived: int = 0  # of which new to the archive
    skipped: int = 0  # records that were not events
    pruned: int = 0


class ArchiveService:
    """Consume, archive, commit; `run(stop)` blocks until `stop` is set."""

    def __init__(
        self,
        config: ArchiveConfig,
        archive: EventArchive,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.config = config
        self.archive = archive
        self.clock = clock
        self.stats = ArchiveStats()
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        consumer = self._open(stop)
        if consumer is None:
            return
        pruned_at = -float("inf")
        try:
            self.ready.set()
            polls = poll_batches(
                consumer,
                stop,
                batch_size=self.config.batch_size,
                timeout_s=self.config.poll_timeout_s,
                fatal=ArchiveServiceError,
            )
            for records in polls:
                if time.monotonic() - pruned_at >= self.config.prune_every_s:
                    self._prune(stop)
                    pruned_at = time.monotonic()
                events, offsets = self._decode(records)
                write = functools.partial(self._write, events)
                if not self._retry(write, stop, "archive write"):
                    return
                for topic, done in offsets.items():
                    commit_offsets(consumer, topic, done, who="archive", log=log)
                self.stats.batches += 1
        finally:
            consumer.close()

    def _open(self, stop: threading.Event) -> Consumer | None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.config.bootstrap,
                "group.id": self.config.group_id,
                "client.id": "fenghuo-archive",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                # Gateway requests are transactions: an aborted one's records are never read.
                "isolation.level": "read_committed",
            }
        )
        try:
            assignment: list[TopicPartition] = []
            for topic in self.config.topics.telemetry():
                partitions = wait_for_partitions(consumer, topic, stop, "archive")
                if partitions is None:
                    consumer.close()
                    return None
                wanted = [TopicPartition(topic, p) for p in partitions]
                committed = consumer.committed(wanted, timeout=10)
                done = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
                starts = resume_committed(partitions, done)
                assignment += [TopicPartition(topic, p, o) for p, o in starts.items()]
            consumer.assign(assignment)
        except BaseException:
            consumer.close()
            raise
        return consumer

    def _retry(self, action: Callable[[], object], stop: threading.Event, what: str) -> bool:
        return retry_until_done(
            action, stop, what=what, who="archive", log=log, max_delay_s=self.config.retry_max_s
        )

    def _write(self, events: Sequence[Event]) -> None:
        self.stats.archived += self.archive.put(events, self.clock())
        self.stats.events += len(events)

    def _prune(self, stop: threading.Event) -> None:
        def prune() -> None:
            self.stats.pruned += self.archive.prune(self.clock() - self.config.retention)

        self._retry(prune, stop, "archive prune")

    def _decode(self, records: Sequence[Message]) -> tuple[list[Event], dict[str, dict[int, int]]]:
        """The batch's events, and per topic the next offset of each partition it read."""
        events: list[Event] = []
        offsets: dict[str, dict[int, int]] = {}
        for record in records:
            topic, partition, offset = record.topic(), record.partition(), record.offset()
            if topic is None or partition is None or offset is None:
                continue
            done = offsets.setdefault(topic, {})
            done[partition] = max(done.get(partition, 0), offset + 1)
            try:
                event = decode_event(record.value() or b"")
            except msgspec.DecodeError as exc:
                log.error(
                    "archive: %s[%s]@%s is not an event (%s): skipped",
                    topic,
                    partition,
                    offset,
                    exc,
                )
                self.stats.skipped += 1
                continue
            if not is_watermark_flush(event):  # a marker of event time, not telemetry
                events.append(event)
        return events, offsets


def describe(settings: Settings) -> str:
    """One line for the operator: what the service reads and writes."""
    where = settings.search_url or settings.events_db
    return (
        f"{', '.join(Topics(settings.topic_prefix).telemetry())} -> the event archive ({where}),"
        f" kept {settings.event_retention_days:g} days; group {settings.topic_prefix}archive"
    )


def start_archive(settings: Settings, bootstrap: str) -> ServiceThread[ArchiveService]:
    """Open the configured archive and run the archive service on `bootstrap` in a thread."""
    archive = open_archive(settings)
    config = ArchiveConfig(
        bootstrap=bootstrap,
        topics=Topics(settings.topic_prefix),
        group_id=f"{settings.topic_prefix}archive",
        retention=dt.timedelta(days=settings.event_retention_days),
    )
    running = ServiceThread(ArchiveService(config, archive), archive, name="archive")
    running.start()
    return running
