"""The correlator as a long-running service (`fenghuo correlate`, and a thread of `fenghuo up`):
`fenghuo.alerts` in; incidents out to `fenghuo.incidents` (key = incident id, a null value when
an incident is retired) and to the store.

Why its own process and not a Flink operator: the correlator is one graph across every key
(an incident joins alerts of different tenants, hosts and partitions). As a keyed Flink operator it
would have to run on a single constant key at parallelism 1 with the whole graph pickled into
keyed state at every checkpoint, which buys Flink's restart machinery at the price of
serialising the graph, and nothing else. Here it is plain Python with a Kafka consumer.

One poll batch at a time: decode the alerts (a record that is not an alert goes to the
dead-letter topic with the reason, the service goes on), feed them to `Correlator.add_many`
with the current inventory, publish the changed incidents and a tombstone per retired id, and
wait for the broker's acknowledgement; upsert the changed incidents into the store and delete
the retired ids; only then commit the batch's offsets. A failed publish or store write (broker
or store down) is retried with backoff before anything else is read: at least once.

`updated_at` on what the service writes is its own processing time, strictly increasing: the
store keeps per id the version with the latest `updated_at` (`IncidentRepository.upsert`), and
the correlator's own `updated_at` (the latest `detected_at` of the incident's alerts) can go
back (a version of an alert with an earlier `detected_at`, an alert leaving in a split) or stay
equal while the incident changes, which would leave an older version in the store. Every other
field is `correlate()`'s.

Restart: the graph is rebuilt by reading `fenghuo.alerts` again from the earliest offset (the
default, `from_beginning`). The incidents depend only on the set of alert versions (see
`correlator`), the graph forgets by event time anyway, and rewriting an incident is idempotent,
so this needs no state of its own; the topic's retention must exceed the correlator's. The
group's committed offsets mark how far the last run got: up to them (the rebuild) an incident
the store already holds unchanged is neither written nor published again (nor a retired id it
no longer holds, nor a dead letter). A run that stopped
between a write and its commit (a crash) may have written incidents that the rebuilt graph,
batching differently, never names again; the store's incidents near the end of its time range
that the rebuilt graph does not hold are therefore suspects, deleted once one of their alerts
turns up in another incident (and forgotten once they are older than the retention; see
`reconcile`).

Rebuilding reads partitions side by side; an alert read more than the correlator's lateness bound
(`retention - max windows`, 2 h 45 min by default) after newer ones on another partition may
miss partners that decayed. Fetches are kept small so that partitions interleave finely.

One instance per group: partitions are assigned by the service itself (every partition of the
topic, no group rebalancing), because the graph is global. The group id only keeps the
committed offsets. A second instance would do the same work again (harmlessly).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message

from fenghuo.errors import BrokerUnavailableError, FenghuoError
from fenghuo.graph.carry import carry_over
from fenghuo.graph.correlator import Correlator, CorrelatorConfig
from fenghuo.graph.grading import GradingPolicy, load_policy
from fenghuo.graph.reconcile import Suspects
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.service_consumer import (
    commit_offsets,
    open_assigned_consumer,
    poll_batches,
    resume_committed,
    retry_until_done,
)
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.parsers import RecordError
from fenghuo.ingest.routing import dead_letter_message
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, decode_alert
from fenghuo.model.incident import Incident, encode_incident
from fenghuo.store.base import Scope, Store

log = logging.getLogger(__name__)

ALL = Scope.everything()
DLQ_FORMAT = "alert"  # the dead letter's key and `format`: what the record should have been
TOMBSTONE = None  # a null value: the retired incident's key is deleted on a compacted topic


class CorrelatorServiceError(FenghuoError):
    """The correlator service cannot go on (a fatal consumer error, a bug)."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ServiceConfig:
    bootstrap: str
    topics: Topics = field(default_factory=Topics)
    group_id: str = "fenghuo.correlate"
    from_beginning: bool = True  # rebuild the graph from the earliest offset (see the module)
    batch_size: int = 1000  # records per poll and per `add_many`
    poll_timeout_s: float = 0.5
    publish_timeout_s: float = 15.0
    retry_max_s: float = 10.0  # the longest wait between retries of a failed write
    # A partition silent this long (wall clock) stops holding the graph's decay back.
    idle_partition_s: float = 30.0
    correlator: CorrelatorConfig = field(default_factory=CorrelatorConfig)


@dataclass
class ServiceStats:
    batches: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    published: int = 0  # incident versions and tombstones acknowledged
    written: int = 0  # incidents upserted into the store
    deleted: int = 0  # incident ids deleted from the store (retired, or stale suspects)


@dataclass
class _Batch:
    alerts: list[Alert]
    dead: list[OutMessage]
    offsets: dict[int, int]  # partition -> next offset to read
    frontier: dict[int, dt.datetime]  # partition -> the latest last_seen it delivered
    rebuild: bool  # every record was below the committed offsets of the last run


class CorrelatorService:
    """Consume, correlate, publish, store, commit; `run(stop)` blocks until `stop` is set."""

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        inventory: Callable[[], InventoryIndex | None],
        *,
        policy: GradingPolicy | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.inventory = inventory
        self.clock = clock
        self.correlator = Correlator(
            None, config.correlator, policy if policy is not None else load_policy()
        )
        self.stats = ServiceStats()
        self.ready = threading.Event()  # partitions assigned
        self.caught_up = threading.Event()  # past the last run's committed offsets
        self._marks: dict[int, int] = {}  # partition -> the last run's committed offset
        self._position: dict[int, int] = {}  # partition -> the next offset to read
        self._suspects = Suspects()
        self._newest: dt.datetime | None = None
        self._oldest: dt.datetime | None = None
        self._frontier: dict[int, dt.datetime] = {}  # partition -> latest last_seen read
        self._heard: dict[int, float] = {}  # partition -> when it last delivered (monotonic)
        self._last_stamp = dt.datetime.min.replace(tzinfo=dt.UTC)

    # --- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        consumer = self._open_consumer(stop)
        if consumer is None:
            return  # stopped while waiting for the topic
        publisher = Publisher(
            self.config.bootstrap,
            client_id="fenghuo-correlate",
            delivery_timeout=self.config.publish_timeout_s,
        )
        polls = poll_batches(
            consumer,
            stop,
            batch_size=self.config.batch_size,
            timeout_s=self.config.poll_timeout_s,
            fatal=CorrelatorServiceError,
        )
        try:
            self.ready.set()
            for records in polls:
                batch = self._decode(records)
                if not self._process(batch, publisher, stop):
                    return  # stopped before the batch was written: it is not committed
                self._commit(consumer, batch.offsets)
                self._advance(batch.offsets)
        finally:
            publisher.close()
            consumer.close()

    def _process(self, batch: _Batch, publisher: Publisher, stop: threading.Event) -> bool:
        """Correlate one batch, then publish and store what changed; False if stopped first."""
        self.correlator.inventory = self.inventory()
        self._note_progress(batch)
        changed = self.correlator.add_many(batch.alerts, event_time=self._watermark())
        retired = list(self.correlator.retired)
        for alert in batch.alerts:
            if self._newest is None or alert.last_seen > self._newest:
                self._newest = alert.last_seen
        if batch.rebuild:  # the last run wrote and published these already, unless changed
            changed = [i for i in changed if not self._stored_unchanged(i)]
            retired = [r for r in retired if self.store.incidents.get(ALL, r) is not None]
        stale: list[str] = []
        if self._suspects and self._newest is not None:
            horizon = self._newest - self.config.correlator.retention
            stale = self._suspects.stale(self.correlator.incidents(), horizon)
        gone = sorted({*retired, *stale})
        versions = [self._stamped(i) for i in changed]
        messages = [
            *batch.dead,
            *(self._incident_message(i.id, encode_incident(i)) for i in versions),
            *(self._incident_message(ident, TOMBSTONE) for ident in gone),
        ]
        if messages and not self._retry(
            "publish", stop, lambda: publisher.publish(messages, self.config.publish_timeout_s)
        ):
            return False
        if versions and not self._retry(
            "store write", stop, lambda: self.store.incidents.upsert(versions)
        ):
            return False
        # Before the delete: an analyst's work on a retired incident moves to its successor.
        successors = self.correlator.incidents()
        if gone and not self._retry(
            "carry-over", stop, lambda: carry_over(self.store, gone, successors)
        ):
            return False
        if gone and not self._retry("store delete", stop, lambda: self._delete(gone)):
            return False
        self.stats.batches += 1
        self.stats.alerts += len(batch.alerts)
        self.stats.dead_lettered += len(batch.dead)
        self.stats.published += len(messages) - len(batch.dead)
        self.stats.written += len(versions)
        return True

    def _note_progress(self, batch: _Batch) -> None:
        now = time.monotonic()
        for partition, latest in batch.frontier.items():
            self._heard[partition] = now
            if partition not in self._frontier or latest > self._frontier[partition]:
                self._frontier[partition] = latest
        for alert in batch.alerts:
            if self._oldest is None or alert.first_seen < self._oldest:
                self._oldest = alert.first_seen

    def _watermark(self) -> dt.datetime | None:
        """The event time the graph may decay against: the slowest partition's progress.

        Partitions are read at different speeds (a quiet one covers hours of event time in one
        fetch, especially while the graph is rebuilt from the earliest offset); decaying against
        the newest alert of any partition would age out the partners of alerts another
        partition has yet to deliver. A partition silent for `idle_partition_s` stops counting;
        one that has not delivered yet holds decay back entirely (its alerts could be the
        oldest)."""
        now = time.monotonic()
        active = [
            p for p, heard in self._heard.items() if now - heard < self.config.idle_partition_s
        ]
        if any(p not in self._frontier for p in active):
            return self._oldest
        times = [self._frontier[p] for p in active]
        return min(times) if times else None

    def _advance(self, offsets: dict[int, int]) -> None:
        """Note how far each partition has been read; past the last run's offsets the graph
        is rebuilt (`caught_up`)."""
        self._position.update(offsets)
        if self.caught_up.is_set():
            return
        if all(self._position.get(p, 0) >= mark for p, mark in self._marks.items()):
            self.caught_up.set()
            log.info(
                "correlator: graph rebuilt from %d alerts; %d incidents in memory",
                self.stats.alerts,
                len(self.correlator.incidents()),
            )

    def _incident_message(self, ident: str, value: bytes | None) -> OutMessage:
        return OutMessage(topic=self.config.topics.incidents, key=ident.encode(), value=value)

    def _delete(self, ids: Sequence[str]) -> None:
        self.stats.deleted += self.store.incidents.delete(ids)

    def _stamped(self, incident: Incident) -> Incident:
        stamp = max(self.clock(), self._last_stamp + dt.timedelta(microseconds=1))
        self._last_stamp = stamp
        return msgspec.structs.replace(incident, updated_at=stamp)

    def _stored_unchanged(self, incident: Incident) -> bool:
        view = self.store.incidents.get(ALL, incident.id)
        if view is None:
            return False
        stored = msgspec.structs.replace(
            view.incident, updated_at=incident.updated_at, status=incident.status
        )
        return stored == incident

    def _retry(self, what: str, stop: threading.Event, action: Callable[[], object]) -> bool:
        """Run `action` until it succeeds, backing off after each transient failure (a broker
        that does not acknowledge, a busy or unreachable store); False if stopped meanwhile."""
        return retry_until_done(
            action,
            stop,
            what=what,
            who="correlator",
            log=log,
            max_delay_s=self.config.retry_max_s,
            also_transient=(BrokerUnavailableError,),
        )

    # --- records -------------------------------------------------------------------------

    def _decode(self, records: Sequence[Message]) -> _Batch:
        alerts: list[Alert] = []
        dead: list[OutMessage] = []
        offsets: dict[int, int] = {}
        frontier: dict[int, dt.datetime] = {}
        rebuild = True
        for record in records:
            partition, offset = record.partition(), record.offset()
            if partition is None or offset is None:  # never for a consumed record
                continue
            offsets[partition] = max(offsets.get(partition, 0), offset + 1)
            seen_before = offset < self._marks.get(partition, 0)  # by the last run
            rebuild = rebuild and seen_before
            value = record.value()
            try:
                if value is None:
                    msg = "a record without a value (expected an alert)"
                    raise CorrelatorServiceError(msg)
                alert = decode_alert(value)
                alerts.append(alert)
                if partition not in frontier or alert.last_seen > frontier[partition]:
                    frontier[partition] = alert.last_seen
            except (msgspec.DecodeError, CorrelatorServiceError) as exc:
                if seen_before:
                    continue  # the last run dead-lettered it already
                where = f"{record.topic()}[{partition}]@{offset}"
                log.warning("correlator: %s is not an alert (%s): dead-lettered", where, exc)
                dead.append(self._dead_letter(where, value, str(exc)))
        return _Batch(alerts, dead, offsets, frontier, rebuild)

    def _dead_letter(self, where: str, value: bytes | None, reason: str) -> OutMessage:
        error = RecordError(
            format=DLQ_FORMAT,
            source=where,
            line=None,
            reason=reason,
            raw=(value or b"").decode("utf-8", errors="backslashreplace"),
        )
        return dead_letter_message(error, self.config.topics, "correlate", self.clock())

    # --- Kafka ---------------------------------------------------------------------------

    def _open_consumer(self, stop: threading.Event) -> Consumer | None:
        topic = self.config.topics.alerts
        opened = open_assigned_consumer(
            self.config.bootstrap,
            self.config.group_id,
            topic,
            stop,
            client_id="fenghuo-correlate",
            who="correlator",
            start=self._start_offsets,
            # Small fetches interleave the partitions finely while the graph is rebuilt.
            extra_config={"max.partition.fetch.bytes": 256 * 1024},
        )
        if opened is None:
            return None  # stopped while waiting for the topic
        consumer, starts = opened
        assigned_at = time.monotonic()  # each partition holds decay back until it speaks
        for partition in starts:
            self._heard.setdefault(partition, assigned_at)
        if not self._marks:
            self.caught_up.set()
        log.info(
            "correlator: reading %s (%d partitions) from %s; last run's offsets %s",
            topic,
            len(starts),
            "the beginning" if self.config.from_beginning else "the committed offsets",
            self._marks or "none",
        )
        return consumer

    def _start_offsets(
        self, partitions: Sequence[int], committed: dict[int, int]
    ) -> dict[int, int]:
        """Every partition from the beginning to rebuild the graph (`from_beginning`), the last
        run's committed offsets kept as the marks of the rebuild; otherwise from those offsets,
        with no rebuild."""
        self._marks = committed
        if not self.config.from_beginning:
            self._marks = {}
            return resume_committed(partitions, committed)
        if self._marks:
            self._suspects = Suspects.load(self.store.incidents, self.config.correlator.retention)
        return dict.fromkeys(partitions, OFFSET_BEGINNING)

    def _commit(self, consumer: Consumer, offsets: dict[int, int]) -> None:
        # The next batch's commit covers a failed one; a restart re-reads from the beginning.
        commit_offsets(consumer, self.config.topics.alerts, offsets, who="correlator", log=log)
