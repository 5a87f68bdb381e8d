"""One transaction per publish(): committed records are read once, an aborted call's records are
in the log but never read by a read_committed consumer, and a failed producer is replaced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Consumer, TopicPartition

from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.kafka.producer import OutMessage
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.kafka.transactional import TransactionalPublisher, TransactionError
from tests.streaming.support import poll


class SenderGaveUpError(Exception):
    """Raised by a message source mid-transaction, as a request that fails half-way."""


def messages(topic: str, tag: str, n: int) -> list[OutMessage]:
    return [
        OutMessage(topic, f"k{i % 5}".encode(), json.dumps({"tag": tag, "seq": i}).encode())
        for i in range(n)
    ]


def tags(bootstrap: str, topic: str) -> list[str]:
    """The tags read back by `read_to_end` (read_committed), in no particular order."""
    return sorted(json.loads(m.value or b"")["tag"] for m in read_to_end(bootstrap, topic, 30))


def log_end(bootstrap: str, topic: str) -> int:
    """The sum of the topic's high watermarks: records written to the log, committed or not."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4().hex}",
            "isolation.level": "read_uncommitted",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in meta
        )
    finally:
        consumer.close()


@pytest.fixture
def publisher(broker: KafkaBroker) -> Iterator[TransactionalPublisher]:
    with TransactionalPublisher(
        broker.bootstrap, f"test-{uuid.uuid4().hex}", delivery_timeout=5.0, producers=1
    ) as p:
        yield p


def test_an_aborted_call_is_in_the_log_but_never_read(
    broker: KafkaBroker, topics: Topics, publisher: TransactionalPublisher
) -> None:
    topic = topics.network
    assert publisher.publish(messages(topic, "first", 20), timeout=30) == 20
    written_before = log_end(broker.bootstrap, topic)

    def half_then_fail() -> Iterator[OutMessage]:
        yield from messages(topic, "aborted", 30)
        # Only once the broker has written them to the log does the request fail: a reader
        # that saw uncommitted data would see them.
        poll(
            "the aborted call's records in the log",
            lambda: log_end(broker.bootstrap, topic),
            lambda end: end >= written_before + 30,
            30,
        )
        raise SenderGaveUpError

    with pytest.raises(SenderGaveUpError):
        publisher.publish(half_then_fail(), timeout=30)
    # The next call runs on a fresh producer (same transactional.id) and commits.
    assert publisher.publish(messages(topic, "after", 10), timeout=30) == 10

    assert tags(broker.bootstrap, topic) == ["after"] * 10 + ["first"] * 20
    # The 30 aborted records (and the transaction markers) are in the log all the same.
    assert log_end(broker.bootstrap, topic) > written_before + 30 + 10


def test_a_fenced_producer_fails_the_call_and_the_next_call_recovers(
    broker: KafkaBroker, topics: Topics
) -> None:
    topic = topics.tenant
    shared_id = f"test-{uuid.uuid4().hex}"
    with (
        TransactionalPublisher(broker.bootstrap, shared_id, producers=1) as first,
        TransactionalPublisher(broker.bootstrap, shared_id, producers=1) as usurper,
    ):
        assert first.publish(messages(topic, "first", 5), timeout=30) == 5
        assert usurper.publish(messages(topic, "usurper", 5), timeout=30) == 5  # fences first
        with pytest.raises(TransactionError, match=r"fatal"):
            first.publish(messages(topic, "fenced", 5), timeout=30)
        # A fatal error does not leave the publisher refusing until a restart.
        assert first.publish(messages(topic, "recovered", 5), timeout=30) == 5
    assert tags(broker.bootstrap, topic) == sorted(
        ["first"] * 5 + ["recovered"] * 5 + ["usurper"] * 5
    )


def test_calls_on_a_pool_of_producers_all_commit(broker: KafkaBroker, topics: Topics) -> None:
    topic = topics.hypervisor
    with (
        TransactionalPublisher(broker.bootstrap, f"test-{uuid.uuid4().hex}", producers=2) as pool,
        ThreadPoolExecutor(6) as threads,
    ):
        counts = list(
            threads.map(
                lambda i: pool.publish(messages(topic, f"call{i}", 50), timeout=30), range(12)
            )
        )
    assert counts == [50] * 12
    # The coordinator writes the commit markers into the partitions after commit_transaction
    # returns, so a committed-only reader sees the last transactions a moment later.
    want = sorted(f"call{i}" for i in range(12) for _ in range(50))
    assert poll("every call's records", lambda: tags(broker.bootstrap, topic), want.__eq__, 30)
