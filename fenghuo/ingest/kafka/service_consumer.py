"""The consuming side shared by the long-running services (the correlator, the feed).

Both read one topic whole, in poll batches, and commit a batch's offsets only once what it caused
is written (at least once). What they share is here, so that they keep the same guarantees:

- `open_assigned_consumer`: no group membership. The service assigns itself every partition of
  the topic (its state is global, so partitions must not be split between instances or moved by
  a rebalance); the group id only keeps the committed offsets. Where each partition starts is the
  caller's choice (`resume_committed` by default).
- `committed_offsets`: the group's committed offsets, asked again while the coordinator is
  moving or loading (as right after a broker restart).
- `poll_batches` (with `record_ok`): a fatal consumer error stops the service; a transient one
  (a partition leader moving) is skipped, as librdkafka retries by itself.
- `commit_offsets`: a failed commit is logged, not raised: the next batch's commit covers it.
- `retry_until_done`: a write that fails for a transient reason (a store busy or unreachable, a
  broker that does not acknowledge) is retried with capped exponential backoff before anything
  else is read, since skipping it would lose it; the stop event interrupts the wait.

`consume.read_messages` is not built on this: it reads a topic back once, with no group, no
commits and a deadline instead of a stop event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from fenghuo.ingest.kafka.topics import wait_for_partitions
from fenghuo.store.retry import is_transient

_log = logging.getLogger(__name__)
FIRST_RETRY_S = 0.1  # the first wait after a failed write; it doubles up to the caller's maximum

StartOffsets = Callable[[Sequence[int], dict[int, int]], dict[int, int]]
"""Given the topic's partitions and the group's committed offsets (partition -> offset, only the
partitions that have one), where each partition starts (an offset or `OFFSET_BEGINNING`)."""


def resume_committed(partitions: Sequence[int], committed: dict[int, int]) -> dict[int, int]:
    """Each partition from the group's committed offset, or the beginning if it has none."""
    return {p: committed.get(p, OFFSET_BEGINNING) for p in partitions}


def open_assigned_consumer(
    bootstrap: str,
    group_id: str,
    topic: str,
    stop: threading.Event,
    *,
    client_id: str,
    who: str,
    start: StartOffsets = resume_committed,
    extra_config: Mapping[str, Any] | None = None,
) -> tuple[Consumer, dict[int, int]] | None:
    """A consumer assigned every partition of `topic`, and where each partition starts.

    Waits for the topic to exist; None if `stop` is set first. Offsets are committed only by
    `commit_offsets` (no auto-commit, no auto offset store), so a batch counts as read only once
    the service has written what it caused. `start` runs while the consumer is open (a failure
    there closes it) and may keep what it learns from the committed offsets. `extra_config`
    adds or overrides librdkafka properties.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            # The gateway publishes in transactions: an aborted request's records are never read.
            "isolation.level": "read_committed",
            **(extra_config or {}),
        }
    )
    try:
        partitions = wait_for_partitions(consumer, topic, stop, who)
        if partitions is None:
            consumer.close()
            return None
        committed = committed_offsets(consumer, topic, partitions, stop, who)
        if committed is None:
            consumer.close()
            return None
        starts = start(partitions, committed)
        consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    except BaseException:
        consumer.close()
        raise
    return consumer, starts


def committed_offsets(
    consumer: Consumer, topic: str, partitions: Sequence[int], stop: threading.Event, who: str
) -> dict[int, int] | None:
    """The group's committed offsets (partition -> offset, only those that have one), asking
    again while the answer is a retriable error: right after a broker restart the group
    coordinator may be moving or loading (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) or the
    request may time out. None if `stop` is set first; a non-retriable error is raised."""
    delay = FIRST_RETRY_S
    while True:
        try:
            answer = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        except KafkaException as exc:
            if not exc.args[0].retriable():
                raise
            _log.warning("%s: reading committed offsets failed (%s), retrying", who, exc)
        else:
            return {tp.partition: tp.offset for tp in answer if tp.offset >= 0}
        if stop.wait(delay):
            return None
        delay = min(delay * 2, 2.0)


def poll_batches(
    consumer: Consumer,
    stop: threading.Event,
    *,
    batch_size: int,
    timeout_s: float,
    fatal: Callable[[str], BaseException],
) -> Iterator[list[Message]]:
    """The records of each poll (at most `batch_size`, waiting up to `timeout_s`) until `stop` is
    set, without those that carry a transient error (`record_ok`); a poll that brought nothing is
    not yielded, so `stop` is checked at least every `timeout_s` while the topic is quiet."""
    while not stop.is_set():
        records = [m for m in consumer.consume(batch_size, timeout_s) if record_ok(m, fatal)]
        if records:
            yield records


def record_ok(record: Message, fatal: Callable[[str], BaseException]) -> bool:
    """Whether a consumed record carries data: False for a transient consumer error (librdkafka
    retries by itself, e.g. while a partition leader moves); raises `fatal(reason)` for a fatal
    one, after which the consumer cannot go on."""
    err = record.error()
    if err is None:
        return True
    if err.fatal():
        raise fatal(str(err))
    return False


def commit_offsets(
    consumer: Consumer,
    topic: str,
    offsets: Mapping[int, int],
    *,
    who: str,
    log: logging.Logger,
) -> None:
    """Commit `offsets` (partition -> next offset to read) synchronously.

    A failure is logged, not raised: the next batch's commit covers this one, and at worst a
    restart reads the batch again, which the caller's at-least-once processing allows.
    """
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False,
        )
    except KafkaException as exc:
        log.warning("%s: offset commit failed (%s)", who, exc)


def retry_until_done(
    action: Callable[[], object],
    stop: threading.Event,
    *,
    what: str,
    who: str,
    log: logging.Logger,
    max_delay_s: float,
    also_transient: Iterable[type[Exception]] = (),
) -> bool:
    """Run `action` until it succeeds; False if `stop` is set while waiting to retry.

    Transient failures (`fenghuo.store.retry.is_transient`, and the `also_transient` types, such
    as a broker that does not acknowledge a publish) are retried after a wait that doubles from
    `FIRST_RETRY_S` up to `max_delay_s`; anything else is a bug or a misconfiguration and is
    raised at once. Unlike `fenghuo.store.retry.with_backoff` the wait is on `stop`, so that a
    service shuts down during an outage instead of retrying forever.
    """
    retryable = tuple(also_transient)
    delay = FIRST_RETRY_S
    while True:
        try:
            action()
        except Exception as exc:
            if not (isinstance(exc, retryable) or is_transient(exc)):
                raise
            log.warning("%s: %s failed (%s), retrying in %.1f s", who, what, exc, delay)
        else:
            return True
        if stop.wait(delay):
            return False
        delay = min(delay * 2, max_delay_s)
