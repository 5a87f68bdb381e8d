"""Which topic and key each event (or dead letter) is published under (CONTRACTS.md)."""

from __future__ import annotations

import datetime as dt

import msgspec

from fenghuo.ingest.kafka.producer import OutMessage
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.parsers import RecordError
from fenghuo.model import Event, Family, encode_event

# Keys for events nothing in the inventory could place; still published, never dropped.
UNATTRIBUTED_KEY = "_unattributed"
UNKNOWN_HOST_KEY = "_unknown-host"


def topic_for(event: Event, topics: Topics) -> str:
    if event.family is Family.HYPERVISOR:
        return topics.hypervisor
    if event.family is Family.TENANT:
        return topics.tenant
    return topics.network


def key_for(event: Event) -> str:
    """Hypervisor telemetry is keyed by host, tenant and network telemetry by tenant: the key
    Flink partitions by, so one host's (or tenant's) events stay in order on one partition."""
    if event.family is Family.HYPERVISOR:
        return event.host_id or UNKNOWN_HOST_KEY
    return event.tenant_id or UNATTRIBUTED_KEY


def event_message(event: Event, topics: Topics) -> OutMessage:
    return OutMessage(
        topic=topic_for(event, topics),
        key=key_for(event).encode(),
        value=encode_event(event),
        headers=(("fenghuo-kind", type(event).__struct_config__.tag.encode()),),  # type: ignore[union-attr]
    )


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """What `fenghuo.dlq` carries: the raw record, why it was rejected, and where it came from."""

    format: str
    reason: str
    raw: str
    source: str
    line: int | None
    received_via: str  # "cli", "http:<key name>"
    received_at: dt.datetime


_DLQ_ENCODER = msgspec.json.Encoder()


def dead_letter_message(
    error: RecordError, topics: Topics, received_via: str, received_at: dt.datetime
) -> OutMessage:
    letter = DeadLetter(
        format=error.format,
        reason=error.reason,
        raw=error.raw,
        source=error.source,
        line=error.line,
        received_via=received_via,
        received_at=received_at,
    )
    return OutMessage(
        topic=topics.dlq, key=error.format.encode(), value=_DLQ_ENCODER.encode(letter), headers=()
    )
