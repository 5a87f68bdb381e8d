"""The incident (CONTRACTS.md): alerts connected through shared entities within a window, with
the story they tell, the tenants and VMs exposed, a GB/T 20986 grade and the reporting clock.

Built by the correlator (`fenghuo.graph`), shared by the stream path, replay, the store, the API
and the STIX export. Its id is deterministic from its alerts (see the correlator), so replays and
restarts write the same document again. Analyst state (status, assignee, comments) lives in the
store's analyst actions, not here: the correlator may rewrite an incident at any time.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from fenghuo.model.alert import Entity, Severity, UtcDatetime

INCIDENT_SCHEMA_VERSION = 1


class IncidentStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


class Grade(enum.StrEnum):
    """GB/T 20986-2023 incident level."""

    I = "I"  # noqa: E741 - the standard's own name: 特别重大 (extraordinarily serious)
    II = "II"  # 重大 (major)
    III = "III"  # 较大 (serious)
    IV = "IV"  # 一般 (general)


class BlastRadius(msgspec.Struct, frozen=True, kw_only=True):
    """What the incident exposes: co-resident tenants and VMs of a compromised host; resources
    reachable with leaked credentials or through a share."""

    tenants: tuple[str, ...] = ()
    vms: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()


class Reporting(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the incident must be reported to the regulator, by when, and what was sent."""

    required: bool = False
    deadline: UtcDatetime | None = None
    basis: str = ""  # the rule that decided it (regulation and article)
    sent: tuple[str, ...] = ()  # ids of reports already sent


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    time: UtcDatetime
    alert_id: str
    detector: str
    severity: Severity
    summary: str


class GraphNode(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "<type>:<id>", e.g. "host:hv-01"
    type: str
    label: str


class GraphEdge(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str
    alert_id: str
    detector: str
    time: UtcDatetime


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: int = INCIDENT_SCHEMA_VERSION
    id: str
    title: str
    summary: str = ""
    severity: Severity
    status: IncidentStatus = IncidentStatus.NEW
    alert_ids: tuple[str, ...]
    tenants: tuple[str, ...] = ()  # affected
    actor_tenants: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    updated_at: UtcDatetime
    category: str  # GB/T 20986-2023 category code
    grade: Grade
    grade_basis: str = ""  # which grading rule applied, with its source
    risk_score: float = 0.0  # 0-100
    sequences: tuple[str, ...] = ()  # attack-sequence rules that matched (their ids)
    blast_radius: BlastRadius = BlastRadius()
    reporting: Reporting = Reporting()
    entities: tuple[Entity, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    nodes: tuple[GraphNode, ...] = ()
    edges: tuple[GraphEdge, ...] = ()
    details: dict[str, Any] = {}


_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Incident] = msgspec.json.Decoder(Incident)


def encode_incident(incident: Incident) -> bytes:
    return _ENCODER.encode(incident)


def decode_incident(data: bytes | str) -> Incident:
    return _DECODER.decode(data)
