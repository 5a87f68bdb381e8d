"""The alert (CONTRACTS.md): what a detector raises, shared by the stream job, replay, the
correlator, the store and the API.

An alert's id is deterministic from its detector, the entity it is about and its dedup window, so
the same activity always yields the same alert: a later event in the same window *updates* the
alert (wider time range, more evidence, perhaps higher severity) instead of raising another one.
`merge_alerts` is that update; it is commutative and associative, so any processing order
(Flink's, replay's, a restart's) folds to the same final alert.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import msgspec

ALERT_SCHEMA_VERSION = 1
MAX_EVIDENCE = 200  # evidence ids kept per alert; the count of all evidence is kept beside it

UtcDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Entity(msgspec.Struct, frozen=True, order=True):
    """An entity an alert involves: tenant, host, vm, container, process, account, ip, resource."""

    type: str
    id: str


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: int = ALERT_SCHEMA_VERSION
    id: str
    detector: str
    title: str
    summary: str
    severity: Severity
    confidence: float
    technique: str
    category: str
    tenant_id: str | None
    actor_tenant_id: str | None = None
    host_id: str | None = None
    vm_id: str | None = None
    entities: tuple[Entity, ...] = ()
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    detected_at: UtcDatetime
    evidence: tuple[str, ...] = ()
    # Beyond the contract: how many events support it (evidence may be capped), the key entity
    # and window it deduplicates on, and the features or facts that drove it.
    evidence_count: int = 0
    dedup_key: str = ""
    window_start: UtcDatetime | None = None
    details: dict[str, Any] = {}


def _pick_text(a: Alert, b: Alert) -> Alert:
    """The alert whose wording wins a merge: the most severe, then the latest, then a fixed
    tie-break, so the result does not depend on arrival order. Versions equal on all of those
    may still differ elsewhere (host, VM, details): their encodings break the tie, else the
    argument order would pick the lead and the merge would not be commutative."""
    ka = (a.severity.rank, a.last_seen, a.summary, a.title)
    kb = (b.severity.rank, b.last_seen, b.summary, b.title)
    if ka != kb:
        return a if ka > kb else b
    return a if _ENCODER.encode(a) >= _ENCODER.encode(b) else b


def merge_alerts(a: Alert, b: Alert) -> Alert:
    """Two versions of the same alert (same id) folded into one."""
    if a.id != b.id:
        msg = f"cannot merge different alerts {a.id} and {b.id}"
        raise ValueError(msg)
    lead = _pick_text(a, b)
    evidence = tuple(sorted(set(a.evidence) | set(b.evidence)))
    details = {**a.details, **b.details} if lead is b else {**b.details, **a.details}
    return msgspec.structs.replace(
        lead,
        confidence=max(a.confidence, b.confidence),
        entities=tuple(sorted(set(a.entities) | set(b.entities))),
        first_seen=min(a.first_seen, b.first_seen),
        last_seen=max(a.last_seen, b.last_seen),
        detected_at=min(a.detected_at, b.detected_at),
        evidence=evidence[:MAX_EVIDENCE],
        evidence_count=max(a.evidence_count, b.evidence_count, len(evidence)),
        details=details,
    )


_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Alert] = msgspec.json.Decoder(Alert)


def encode_alert(alert: Alert) -> bytes:
    return _ENCODER.encode(alert)


def decode_alert(data: bytes | str) -> Alert:
    return _DECODER.decode(data)
