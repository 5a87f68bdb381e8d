"""Watermark flush: an "end of input" marker for tests, benchmarks and bounded backfills.

The stream job's watermark is the minimum, over every partition of every telemetry topic, of
the newest event time seen minus the out-of-orderness bound. After the last real event of a
scenario, the watermark therefore stops short of it, and timers after it (window ends, "no
follow-up within N minutes") never fire. Replay, by contrast, lets the watermark run to infinity
at the end. A flush event on every partition, at `END_OF_INPUT`, tells the job the same thing
replay assumes: nothing earlier will come. Every pending timer fires; the job's final alerts
equal replay's.

A flush event is an ordinary, valid `HostAudit` event (so any consumer can decode it) with the
record type `FENGHUO_WATERMARK_FLUSH`. Both the job and replay route it to no detector; it only
moves event time. It is a tool for bounded inputs: after a flush at END_OF_INPUT every later event
is late (still processed, but counted as late). Idleness, the production answer to quiet
partitions, is a different mechanism (see `flink_env`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fenghuo.errors import BrokerUnavailableError
from fenghuo.model import Event, HostAudit, RawRef, encode_event
from fenghuo.model.ids import stable_id

if TYPE_CHECKING:
    from fenghuo.ingest.kafka.topics import Topics

FLUSH_RECORD_TYPE = "FENGHUO_WATERMARK_FLUSH"
FLUSH_SOURCE = "fenghuo-flush"
# Far enough that every timer a detector can ask for lies before it; the watermark stays within
# Flink's millisecond range and datetime arithmetic (minus the bound) stays valid.
END_OF_INPUT = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def flush_event(topic: str, partition: int, at: dt.datetime = END_OF_INPUT) -> HostAudit:
    """The flush event for one partition (its id is deterministic, so re-sending is harmless)."""
    return HostAudit(
        id=stable_id("flush", topic, str(partition), at.isoformat()),
        event_time=at,
        ingest_time=at,
        source_format=FLUSH_SOURCE,
        raw=RawRef(source=f"{FLUSH_SOURCE}:{topic}/{partition}"),
        attribution="provider",
        record_type=FLUSH_RECORD_TYPE,
    )


def is_watermark_flush(event: Event) -> bool:
    return isinstance(event, HostAudit) and event.record_type == FLUSH_RECORD_TYPE


def partitions_of(bootstrap: str, topics: Iterable[str], timeout: float = 10.0) -> dict[str, int]:
    """topic -> number of partitions, from the broker's metadata."""
    from confluent_kafka.admin import AdminClient  # Kafka stays out of replay's imports

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=timeout)
    out: dict[str, int] = {}
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            msg = f"topic {name} is not in {bootstrap}'s metadata"
            raise BrokerUnavailableError(msg)
        out[name] = len(topic.partitions)
    return out


def publish_flush(
    bootstrap: str, topics: Topics, at: dt.datetime = END_OF_INPUT, timeout: float = 15.0
) -> int:
    """Send a flush event to every partition of the three telemetry topics; return how many.

    Partitions are addressed explicitly (a key would reach only some of them).
    """
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    failures: list[str] = []

    def _report(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    sent = 0
    for topic, count in partitions_of(bootstrap, topics.telemetry(), timeout).items():
        for partition in range(count):
            value = encode_event(flush_event(topic, partition, at))
            producer.produce(topic, value, b"_flush", partition=partition, on_delivery=_report)
            sent += 1
    left = producer.flush(timeout)
    if left or failures:
        msg = f"watermark flush: {left} undelivered, failures: {failures[:3]}"
        raise BrokerUnavailableError(msg)
    return sent
