"""Kafka layer: embedded broker, topic names, acknowledged publishing, reading back."""

from __future__ import annotations

from fenghuo.ingest.kafka.broker import KafkaBroker, run_broker_forever
from fenghuo.ingest.kafka.consume import InMessage, count_messages, read_messages, read_to_end
from fenghuo.ingest.kafka.producer import OutMessage, Publisher, PublishError
from fenghuo.ingest.kafka.topics import Topics, ensure_topics

__all__ = [
    "InMessage",
    "KafkaBroker",
    "OutMessage",
    "PublishError",
    "Publisher",
    "Topics",
    "count_messages",
    "ensure_topics",
    "read_messages",
    "read_to_end",
    "run_broker_forever",
]
