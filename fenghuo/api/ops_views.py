"""Response bodies of the operational routes (tenants, hosts, detectors, statistics, audit,
keys), and the situational figures they share, always computed within the caller's scope.

Figure rules, the same in every route:
- a tenant's alerts are those naming it as victim or actor (the store's visibility rule), so a
  tenant viewer's own figures equal what it can list under /alerts;
- an incident is open while new, acknowledged or under investigation; a tenant's open incidents
  name it among `tenants` or `actor_tenants`, a host's among `hosts`;
- risk is the highest `risk_score` (0-100) among the open incidents, grade the most serious
  GB/T 20986 level among them (I above IV).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

import msgspec

from fenghuo.model.alert import Severity, UtcDatetime
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.base import AlertQuery, AuditEntry, IncidentQuery, Scope, Store

# One definition of "open" and of the grade order, shared with the store's aggregation.
from fenghuo.store.figures import GRADE_RANK as GRADE_RANK
from fenghuo.store.figures import OPEN_STATUSES as OPEN_STATUSES

_INCIDENT_PAGE = 500


class AlertFigures(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    by_severity: dict[str, int]  # every severity, zero included
    top_severity: Severity | None  # the highest severity with at least one alert


class RiskFigures(msgspec.Struct, frozen=True, kw_only=True):
    open_incidents: int
    highest_severity: Severity | None
    highest_grade: Grade | None
    risk: float  # highest risk_score of the open incidents, 0 without any


class TenantSummary(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    name: str
    critical_infrastructure: bool
    vms: int  # the tenant's VMs in the inventory
    alerts: AlertFigures
    incidents: RiskFigures  # its open incidents


class TenantList(msgspec.Struct, frozen=True, kw_only=True):
    """Tenants of the inventory the caller may see (a tenant viewer: its own)."""

    items: list[TenantSummary]


class VmRef(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    tenant_id: str


class ContainerRef(msgspec.Struct, frozen=True, kw_only=True):
    # No name: container names are short labels ("web", "cache") shared between tenants.
    id: str
    tenant_id: str


class HostSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A hypervisor host; for a tenant viewer only its own VMs and containers on it."""

    host_id: str
    ip: str | None
    vms: list[VmRef]
    containers: list[ContainerRef]
    alerts: AlertFigures
    incidents: RiskFigures


class HostList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[HostSummary]


class DetectorSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    severity: Severity
    technique: str
    category: str
    status: str
    hits: int  # its alerts in scope (and window)
    last_hit: UtcDatetime | None  # evidence start (first_seen) of its newest alert


class DetectorList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DetectorSummary]


class RatePoint(msgspec.Struct, frozen=True, kw_only=True):
    start: UtcDatetime
    alerts: int  # alerts whose evidence starts in [start, start + bucket)


class TenantRisk(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    open_incidents: int
    highest_severity: Severity | None
    highest_grade: Grade | None
    risk: float


class HostCount(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    alerts: int


class IncidentFigures(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    open: int
    by_status: dict[str, int]  # every status, zero included
    by_grade: dict[str, int]  # every grade, zero included
    # Open incidents by grade, then severity (every pair, zero included): the overview's matrix.
    open_by_grade_severity: dict[str, dict[str, int]]


class Statistics(msgspec.Struct, frozen=True, kw_only=True):
    """Situational statistics over the caller's scope and the window (alerts and incidents
    whose evidence overlaps [since, until))."""

    since: UtcDatetime | None
    until: UtcDatetime | None
    bucket_seconds: int
    alerts: AlertFigures
    rate: list[RatePoint]  # consecutive buckets, empty ones included
    by_detector: dict[str, int]
    tenants_at_risk: list[TenantRisk]  # highest severity, then risk, then id
    top_hosts: list[HostCount]
    incidents: IncidentFigures
    # Regulator reports in scope past their deadline and not submitted (now, not the window).
    reports_overdue: int = 0


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    """Audit entries, newest first; pass `next_cursor` back for the next page (null: last)."""

    items: list[AuditEntry]
    next_cursor: str | None


class KeyView(msgspec.Struct, frozen=True, kw_only=True):
    """An API key without its secret."""

    id: str
    name: str
    role: str
    tenant_id: str | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None


class KeyList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[KeyView]


class KeyCreated(msgspec.Struct, frozen=True, kw_only=True):
    """The new key and its token: shown this once, stored only as a hash."""

    key: KeyView
    token: str


# --- figures ------------------------------------------------------------------------------


def alert_figures(store: Store, scope: Scope, query: AlertQuery) -> AlertFigures:
    by_severity = store.alerts.stats(scope, query, bucket=dt.timedelta(days=1), top=1).by_severity
    counts = {s.value: by_severity.get(s.value, 0) for s in Severity}
    return figures_of(counts)


def figures_of(counts: dict[str, int]) -> AlertFigures:
    full = {s.value: counts.get(s.value, 0) for s in Severity}
    present = [s for s in Severity if full[s.value]]
    return AlertFigures(
        total=sum(full.values()),
        by_severity=full,
        top_severity=max(present, key=lambda s: s.rank) if present else None,
    )


def incidents_in(store: Store, scope: Scope, query: IncidentQuery) -> list[Incident]:
    """Every incident a query selects in scope (all pages), with its derived status."""
    found: list[Incident] = []
    cursor: str | None = None
    while True:
        page = store.incidents.list(scope, query, limit=_INCIDENT_PAGE, cursor=cursor)
        found.extend(view.incident for view in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def open_incidents(
    store: Store, scope: Scope, query: IncidentQuery | None = None
) -> list[Incident]:
    """The open incidents (new, acknowledged, investigating) a query selects in scope."""
    narrowed = dataclasses.replace(query or IncidentQuery(), statuses=OPEN_STATUSES)
    return incidents_in(store, scope, narrowed)


def risk_of(incidents: Iterable[Incident]) -> RiskFigures:
    chosen = list(incidents)
    if not chosen:
        return RiskFigures(open_incidents=0, highest_severity=None, highest_grade=None, risk=0.0)
    return RiskFigures(
        open_incidents=len(chosen),
        highest_severity=max((i.severity for i in chosen), key=lambda s: s.rank),
        highest_grade=max((i.grade for i in chosen), key=GRADE_RANK.__getitem__),
        risk=max(i.risk_score for i in chosen),
    )


def involving(incidents: Iterable[Incident], tenant: str) -> list[Incident]:
    return [i for i in incidents if tenant in i.tenants or tenant in i.actor_tenants]


def on_host(incidents: Iterable[Incident], host_id: str) -> list[Incident]:
    return [i for i in incidents if host_id in i.hosts]
