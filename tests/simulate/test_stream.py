"""Live mode: the simulation goes through the Ingestor (parse, attribute, publish) at a paced
rate, to the embedded broker or any message sink."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterable

import pytest

from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages, read_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.inventory import InventoryStore, parse_inventory
from fenghuo.model import decode_event
from fenghuo.simulate import SimulationConfig, create_world, stream_to_kafka
from fenghuo.simulate.world import World

CONFIG = SimulationConfig(seed=3, duration=dt.timedelta(minutes=10), rate=20.0)


class FakeSink:
    """Counts what would have gone to Kafka."""

    def __init__(self) -> None:
        self.per_topic: Counter[str] = Counter()

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        batch = list(messages)
        self.per_topic.update(m.topic for m in batch)
        return len(batch)


def _ingestor(world: World, sink: FakeSink | Publisher, topics: Topics) -> Ingestor:
    inventory = InventoryStore.fixed(parse_inventory(world.inventory_yaml()))
    return Ingestor(Normaliser(inventory), sink, topics)


def test_publishes_exactly_the_requested_events_at_the_rate() -> None:
    world, sink, topics = create_world(CONFIG), FakeSink(), Topics()
    rate, count = 2000.0, 400
    started = time.monotonic()
    report = stream_to_kafka(
        world, _ingestor(world, sink, topics), rate, threading.Event(), max_events=count
    )
    elapsed = time.monotonic() - started
    assert report.events == report.published == count
    assert report.dead_lettered == 0
    assert sum(sink.per_topic[t] for t in topics.telemetry()) == count
    assert sink.per_topic[topics.dlq] == 0
    assert elapsed >= count / rate - 0.02
    assert report.labels  # the segment's attacks are known while it streams


def test_whole_segment_then_stops() -> None:
    """Without a limit the stream ends when the simulated duration is used up."""
    config = SimulationConfig(seed=4, duration=dt.timedelta(minutes=5), rate=1.0, vms=12)
    world, sink, topics = create_world(config), FakeSink(), Topics()
    report = stream_to_kafka(world, _ingestor(world, sink, topics), 1e5, threading.Event())
    assert report.segments == 1
    assert report.events == report.published > 0
    assert sum(sink.per_topic[t] for t in topics.telemetry()) == report.events


class StoppingSink(FakeSink):
    """Sets the stop event once `after` events have gone out."""

    def __init__(self, stop: threading.Event, after: int) -> None:
        super().__init__()
        self.stop, self.after = stop, after

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        published = super().publish(messages, timeout)
        if sum(self.per_topic.values()) >= self.after:
            self.stop.set()
        return published


def test_stop_event_ends_the_stream_promptly() -> None:
    world, stop = create_world(CONFIG), threading.Event()
    sink = StoppingSink(stop, after=10)
    started = time.monotonic()
    report = stream_to_kafka(world, _ingestor(world, sink, Topics()), 50.0, stop, loop=True)
    assert time.monotonic() - started < 2.0  # 10 events at 50/s, then out at once
    assert 10 <= report.events <= 12
    assert not stop.wait(0) or report.segments == 1


def test_rejects_a_non_positive_rate() -> None:
    world = create_world(CONFIG)
    with pytest.raises(ValueError, match="rate"):
        stream_to_kafka(world, _ingestor(world, FakeSink(), Topics()), 0, threading.Event())


def test_streams_to_the_embedded_broker(broker: KafkaBroker, topics: Topics) -> None:
    world = create_world(CONFIG)
    rate, count = 400.0, 300
    with Publisher(broker.bootstrap, client_id="test-simulate") as publisher:
        started = time.monotonic()
        report = stream_to_kafka(
            world, _ingestor(world, publisher, topics), rate, threading.Event(), max_events=count
        )
        elapsed = time.monotonic() - started
    assert report.published == count
    assert report.dead_lettered == 0
    assert elapsed >= count / rate - 0.05
    counts = {t: count_messages(broker.bootstrap, t) for t in topics.telemetry()}
    assert sum(counts.values()) == count
    assert counts == {t: report.per_topic[t] for t in topics.telemetry()}
    assert count_messages(broker.bootstrap, topics.dlq) == 0
    tenant = read_messages(broker.bootstrap, topics.tenant, counts[topics.tenant], timeout=30)
    events = [decode_event(m.value or b"") for m in tenant]
    assert all(e.attribution == "attributed" and e.tenant_id for e in events)
    assert all((m.key or b"").decode() == e.tenant_id for m, e in zip(tenant, events, strict=True))
