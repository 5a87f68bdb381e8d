"""Publishing returns only after acknowledgement; what is read back is exactly what was sent."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.consume import count_messages, read_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher, PublishError
from fenghuo.ingest.kafka.topics import Topics


@pytest.fixture(scope="module")
def publisher(broker: KafkaBroker) -> Iterator[Publisher]:
    """Shared, as an application shares one (the first publish waits ~0.5 s for a producer id)."""
    with Publisher(broker.bootstrap, client_id="fenghuo-test") as p:
        yield p


def event(topic: str, i: int, key: str) -> OutMessage:
    value = json.dumps({"seq": i, "key": key, "pad": "x" * (i % 300)}).encode()
    return OutMessage(topic, key.encode(), value)


def test_publish_and_read_back_exactly_per_topic(
    broker: KafkaBroker, topics: Topics, publisher: Publisher
) -> None:
    per_topic = {topics.hypervisor: 1500, topics.tenant: 700, topics.network: 300}
    sent = [event(topic, i, f"k{i % 17}") for topic, n in per_topic.items() for i in range(n)]
    assert publisher.publish(sent, timeout=30) == len(sent)

    for topic, n in per_topic.items():
        got = read_messages(broker.bootstrap, topic, n, timeout=30)
        want = Counter((m.key, m.value) for m in sent if m.topic == topic)
        assert Counter((m.key, m.value) for m in got) == want
        # per key, order is preserved (a key always lands on the same partition)
        by_key: dict[bytes | None, list[int]] = defaultdict(list)
        for m in sorted(got, key=lambda m: (m.partition, m.offset)):
            assert m.value is not None
            by_key[m.key].append(json.loads(m.value)["seq"])
        assert all(seqs == sorted(seqs) for seqs in by_key.values())
        assert count_messages(broker.bootstrap, topic) == n  # nothing extra
    assert count_messages(broker.bootstrap, topics.alerts) == 0


def test_headers_survive(broker: KafkaBroker, topics: Topics, publisher: Publisher) -> None:
    headers = (("source", b"auditd"), ("trace", b"\x00\xff"), ("source", b"second"))
    publisher.publish([OutMessage(topics.dlq, None, b"raw", headers)], timeout=10)
    [got] = read_messages(broker.bootstrap, topics.dlq, 1, timeout=10)
    assert got.key is None
    assert got.value == b"raw"
    assert got.headers == headers


def test_shared_publisher_from_many_threads(
    broker: KafkaBroker, topics: Topics, publisher: Publisher
) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            msgs = [event(topics.tenant, i, f"w{w}") for i in range(400)]
            results.append(publisher.publish(msgs, timeout=30))
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [400] * 6
    assert len(read_messages(broker.bootstrap, topics.tenant, 2400, timeout=30)) == 2400


def test_empty_publish_returns_zero(publisher: Publisher) -> None:
    assert publisher.publish([], timeout=1) == 0


def test_unreachable_broker_raises_within_the_timeout() -> None:
    start = time.monotonic()
    with (
        Publisher(f"127.0.0.1:{free_port()}", delivery_timeout=2.0) as p,
        pytest.raises(BrokerUnavailableError) as info,
    ):
        p.publish([OutMessage("fenghuo.alerts", b"k", b"v")] * 5, timeout=8)
    assert time.monotonic() - start < 8
    err = info.value
    assert isinstance(err, PublishError)
    assert (err.sent, err.acked, err.failed + err.pending) == (5, 0, 5)
    assert "5 of 5" in str(err)


def test_call_timeout_shorter_than_delivery_timeout_reports_pending() -> None:
    start = time.monotonic()
    with Publisher(f"127.0.0.1:{free_port()}", delivery_timeout=2.0) as p:
        with pytest.raises(PublishError) as info:
            p.publish([OutMessage("fenghuo.alerts", None, b"v")] * 2, timeout=0.5)
        assert time.monotonic() - start < 2.5
    assert info.value.pending == 2


def test_closed_publisher_refuses(broker: KafkaBroker) -> None:
    p = Publisher(broker.bootstrap)
    p.close()
    p.close()  # idempotent
    with pytest.raises(BrokerUnavailableError, match="closed"):
        p.publish([OutMessage("x", None, b"v")], timeout=1)


def test_read_messages_times_out_with_the_count(
    broker: KafkaBroker, topics: Topics, publisher: Publisher
) -> None:
    publisher.publish([OutMessage(topics.incidents, b"i", b"1")], timeout=10)
    with pytest.raises(TimeoutError, match="read 1 of 3"):
        read_messages(broker.bootstrap, topics.incidents, 3, timeout=1.0)
