"""Read a topic back from the beginning without a consumer group (tests and tools).

Partitions are assigned manually: no group join (needless here) and no commits. `read_to_end`
and `count_messages` read up to each partition's high watermark as it was when they were
called: everything acknowledged before the call, and nothing to wait for once it is read.

Only committed records are read (`isolation.level=read_committed`): the records of a gateway
request whose transaction was aborted are never returned. The offsets of a transactional
partition include commit and abort markers that no record carries, so the end of a partition is
known from librdkafka's end-of-partition event, not from the offset of its last record.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from fenghuo.errors import BrokerUnavailableError, IngestError

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class InMessage:
    """One record as read back."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None


def read_messages(bootstrap: str, topic: str, expected: int, timeout: float) -> list[InMessage]:
    """Return the first `expected` records of `topic` (all partitions; order kept per partition).

    Raises TimeoutError, saying how many were read, if fewer arrive within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    out: list[InMessage] = []
    if expected <= 0:
        return out
    consumer = _open(bootstrap, topic, deadline)
    try:
        while len(out) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"read {len(out)} of {expected} expected messages from {topic} in {timeout} s"
                raise TimeoutError(msg)
            batch = consumer.consume(min(expected - len(out), 10_000), min(remaining, 0.5))
            out.extend(_convert(m) for m in batch if _ok(m))
    finally:
        consumer.close()
    return out


def read_to_end(bootstrap: str, topic: str, timeout: float = 30.0) -> list[InMessage]:
    """Every record of `topic` up to the partitions' high watermarks at the time of the call
    (all partitions; order kept per partition). Raises TimeoutError if they are not all read
    within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    consumer = _open(bootstrap, topic, deadline)
    out: list[InMessage] = []
    try:
        ends = _high_watermarks(consumer, topic, deadline)
        # A partition is done once a record at or past its end is read (or it holds nothing).
        left = {p for p, (low, high) in ends.items() if high > low}
        while left:
            if time.monotonic() >= deadline:
                msg = f"read {len(out)} records of {topic} in {timeout} s; partitions {left} short"
                raise TimeoutError(msg)
            for m in consumer.consume(10_000, min(max(deadline - time.monotonic(), 0.01), 0.5)):
                if (ended := _ended_partition(m, ends)) is not None:
                    left.discard(ended)
                    continue
                if not _ok(m):
                    continue
                record = _convert(m)
                high = ends[record.partition][1]
                if record.offset < high:
                    out.append(record)
                if record.offset >= high - 1:
                    left.discard(record.partition)
    finally:
        consumer.close()
    return out


def count_messages(bootstrap: str, topic: str, timeout: float = 30.0) -> int:
    """How many records `topic` holds (read up to its high watermarks, see `read_to_end`)."""
    return len(read_to_end(bootstrap, topic, timeout))


def _high_watermarks(consumer: Consumer, topic: str, deadline: float) -> dict[int, tuple[int, int]]:
    """(low, high) watermark of every assigned partition, asked of the partition leaders."""
    out: dict[int, tuple[int, int]] = {}
    for tp in consumer.assignment():
        remaining = max(deadline - time.monotonic(), 0.1)
        low, high = consumer.get_watermark_offsets(tp, timeout=remaining, cached=False)
        out[tp.partition] = (low, high)
    return out


def _open(bootstrap: str, topic: str, deadline: float) -> Consumer:
    """A consumer assigned to every partition of `topic` at the beginning."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # librdkafka wants a group id, but with assign() and no commits none is joined.
            "group.id": f"fenghuo-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,  # see the module docstring
        }
    )
    try:
        partitions = _partitions(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    except BaseException:
        consumer.close()
        raise
    return consumer


def _partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    """Partition ids of `topic`, waiting (until the deadline) for it to appear in metadata."""
    error = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = f"topic {topic} has no partitions in the broker's metadata: {error}"
            raise BrokerUnavailableError(msg)
        try:
            md = consumer.list_topics(topic, timeout=min(remaining, 2.0))
        except KafkaException as exc:
            error = str(exc)
            continue
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return sorted(t.partitions)
        error = str(t.error) if t is not None else "unknown topic"
        time.sleep(0.05)  # polling interval while the topic is being created


def _ended_partition(msg: Message, ends: dict[int, tuple[int, int]]) -> int | None:
    """The partition of an end-of-partition event at or past its end as first asked, else None."""
    err = msg.error()
    if err is None or err.code() != KafkaError._PARTITION_EOF:
        return None
    partition, offset = msg.partition(), msg.offset()
    if partition is None or offset is None or offset < ends[partition][1]:
        return None
    return partition


def _ok(msg: Message) -> bool:
    err = msg.error()
    if err is None:
        return True
    if err.fatal():
        raise KafkaException(err)
    return False  # transient (e.g. a partition leader moving): the consumer retries by itself


def _convert(msg: Message) -> InMessage:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:  # never for a consumed record
        text = f"record without topic, partition or offset: {msg.error()}"
        raise IngestError(text)
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    ts_type, ts = msg.timestamp()
    return InMessage(
        topic=topic,
        partition=partition,
        offset=offset,
        key=msg.key(),
        value=msg.value(),
        headers=tuple((k, v.encode() if isinstance(v, str) else v) for k, v in pairs),
        timestamp_ms=ts if ts_type else None,
    )
