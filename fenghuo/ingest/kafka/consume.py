"""Read a topic back from the beginning without a consumer group (tests and tools).

Partitions are assigned manually: no group join (slow on Tansu, needless here) and no commits.
Neither function trusts end offsets (Tansu reports them wrong); they count what they read.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

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


def count_messages(bootstrap: str, topic: str, idle_timeout: float = 2.0) -> int:
    """Count the records of `topic`, stopping once none has arrived for `idle_timeout` seconds."""
    consumer = _open(bootstrap, topic, time.monotonic() + max(idle_timeout, 10.0))
    count = 0
    try:
        last = time.monotonic()
        while (idle := time.monotonic() - last) < idle_timeout:
            batch = consumer.consume(10_000, min(idle_timeout - idle, 0.5))
            n = sum(1 for m in batch if _ok(m))
            if n:
                count += n
                last = time.monotonic()
    finally:
        consumer.close()
    return count


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
