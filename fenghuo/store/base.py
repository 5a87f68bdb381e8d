"""The store's one repository interface: alerts, incidents, analyst actions, audit trail, keys.

Two backends implement it: SQLite (`fenghuo.store.sqlite`, the embedded default) and the search
server, Elasticsearch or OpenSearch (`fenghuo.store.elastic`, production).
`tests/store/test_contract.py` runs the same suite against each.

Tenant scope is part of every read: each read method takes a `Scope` and the backend puts it
inside the query (SQL WHERE, ES bool filter); nothing is filtered after fetching. Visibility rule:
tenant T sees an alert when T is its `tenant_id` (the victim) or its `actor_tenant_id` (the
tenant the activity came from: usually a tenant whose own VM, container or credentials were
abused, so the activity is about its resources too), and an incident when T is in its `tenants`
or `actor_tenants`. Other tenants' ids inside a visible document are pseudonymised by the API, not
here.

Analyst state (status, assignee, suppression) is never part of an alert or incident document
written by the detectors or the correlator: it is derived from the append-only action log
(`derive_state`) and kept beside the document, so a rewrite by the correlator cannot lose it.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import msgspec

from fenghuo.errors import FenghuoError
from fenghuo.model.alert import Alert, Severity, UtcDatetime
from fenghuo.model.incident import Grade, Incident, IncidentStatus, encode_incident
from fenghuo.store.figures import IncidentAggregates
from fenghuo.store.keys import ApiKey, Role

if TYPE_CHECKING:  # fenghuo.intel imports the store's key model: no import cycle at run time
    from fenghuo.intel.collections import CollectionRepository
    from fenghuo.intel.objects import ObjectRepository, StatusRepository
    from fenghuo.intel.reports.repository import ReportRepository

T = TypeVar("T")
TargetKind = Literal["alert", "incident"]


class StoreError(FenghuoError):
    """A store operation failed (backend unavailable, bad cursor, unknown target)."""


class NotFoundError(StoreError):
    """The target does not exist or is outside the caller's scope (the two look the same)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose data a read may see: every tenant (`tenant=None`) or exactly one."""

    tenant: str | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, tenant: str) -> Scope:
        if not tenant:
            msg = "a tenant scope needs a tenant id"
            raise StoreError(msg)
        return cls(tenant)

    @classmethod
    def for_key(cls, key: ApiKey) -> Scope:
        """A key's scope: tenant viewers see their tenant, every other role sees all tenants."""
        if key.role is Role.TENANT_VIEWER:
            if key.tenant_id is None:
                msg = "a tenant_viewer key without a tenant has no scope"
                raise StoreError(msg)
            return cls.of(key.tenant_id)
        return cls.everything()


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters for alert lists, counts and statistics (all optional, combined with AND).

    `since`/`until` select alerts whose evidence range [first_seen, last_seen] overlaps
    [since, until). `text` is full-text search on title and summary: every word must match.
    The `exclude_*` sets are the negations of `tenant`, `host_id` and `detectors`: an alert
    involving an excluded tenant in either role, on an excluded host or raised by an excluded
    detector is left out; an alert without a host (or actor tenant) is never excluded by them."""

    severities: frozenset[Severity] = frozenset()
    detectors: frozenset[str] = frozenset()
    statuses: frozenset[IncidentStatus] = frozenset()
    tenant: str | None = None  # narrow further, within the scope, to one tenant (either role)
    host_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None
    exclude_tenants: frozenset[str] = frozenset()  # neither victim nor actor is one of these
    exclude_hosts: frozenset[str] = frozenset()  # no host, or a host not among these
    exclude_detectors: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters for incident lists, counts and figures; as `AlertQuery`, where a tenant is
    involved when it is among `tenants` or `actor_tenants` and a host when among `hosts`."""

    severities: frozenset[Severity] = frozenset()
    grades: frozenset[Grade] = frozenset()  # GB/T 20986 levels, any of these
    statuses: frozenset[IncidentStatus] = frozenset()
    tenant: str | None = None
    host_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None
    exclude_tenants: frozenset[str] = frozenset()  # none of these among tenants/actor_tenants
    exclude_hosts: frozenset[str] = frozenset()  # none of these among hosts


def at_least(severity: Severity) -> frozenset[Severity]:
    """The severities at or above one, for `AlertQuery.severities`."""
    return frozenset(s for s in Severity if s.at_least(severity))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list in the stable order (first_seen desc, id asc); `next_cursor` is
    opaque and None on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(first_seen_ms: int, doc_id: str) -> str:
    raw = json.dumps([first_seen_ms, doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        first_seen_ms, doc_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        msg = f"invalid cursor {cursor!r}"
        raise StoreError(msg) from exc
    if not isinstance(first_seen_ms, int) or not isinstance(doc_id, str):
        msg = f"invalid cursor {cursor!r}"
        raise StoreError(msg)
    return first_seen_ms, doc_id


def epoch_ms(time: dt.datetime) -> int:
    """Milliseconds since the epoch (the sort key both backends share)."""
    delta = time - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


class ActionKind(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    COMMENT = "comment"
    INVESTIGATE = "investigate"
    RESOLVE = "resolve"
    FALSE_POSITIVE = "false_positive"
    SUPPRESS_SIMILAR = "suppress_similar"
    REOPEN = "reopen"


class AnalystAction(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a target's action log (append-only)."""

    id: str
    target_kind: TargetKind
    target_id: str
    kind: ActionKind
    actor: str  # key id or user name
    role: str
    at: UtcDatetime
    assignee: str | None = None  # for ASSIGN (None unassigns)
    comment: str = ""
    details: dict[str, Any] = {}  # e.g. the suppression's fields for SUPPRESS_SIMILAR


class AnalystState(msgspec.Struct, frozen=True, kw_only=True):
    """The current state of an alert or incident, derived from its action log."""

    status: IncidentStatus = IncidentStatus.NEW
    assignee: str | None = None
    suppressed: bool = False
    comments: int = 0
    updated_at: UtcDatetime | None = None


_STATUS_OF = {
    ActionKind.ACKNOWLEDGE: IncidentStatus.ACKNOWLEDGED,
    ActionKind.INVESTIGATE: IncidentStatus.INVESTIGATING,
    ActionKind.RESOLVE: IncidentStatus.RESOLVED,
    ActionKind.FALSE_POSITIVE: IncidentStatus.FALSE_POSITIVE,
    ActionKind.REOPEN: IncidentStatus.NEW,
}


def apply_action(state: AnalystState, action: AnalystAction) -> AnalystState:
    """The state after one more action. Assigning a new target puts it under investigation;
    suppressing similar alerts marks the target suppressed and leaves its status alone."""
    status, assignee, suppressed = state.status, state.assignee, state.suppressed
    if action.kind in _STATUS_OF:
        status = _STATUS_OF[action.kind]
    elif action.kind is ActionKind.ASSIGN:
        assignee = action.assignee
        if status in (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED) and assignee:
            status = IncidentStatus.INVESTIGATING
    elif action.kind is ActionKind.SUPPRESS_SIMILAR:
        suppressed = True
    comments = state.comments + (1 if action.comment else 0)
    return AnalystState(
        status=status,
        assignee=assignee,
        suppressed=suppressed,
        comments=comments,
        updated_at=action.at,
    )


def derive_state(actions: Iterable[AnalystAction]) -> AnalystState:
    """Fold a log (in its order of appending) into the current state."""
    state = AnalystState()
    for action in actions:
        state = apply_action(state, action)
    return state


class AlertView(msgspec.Struct, frozen=True, kw_only=True):
    alert: Alert
    state: AnalystState


class IncidentView(msgspec.Struct, frozen=True, kw_only=True):
    """An incident with its analyst state; `incident.status` is the derived status."""

    incident: Incident
    state: AnalystState


class AlertStats(msgspec.Struct, frozen=True, kw_only=True):
    """Situational statistics over the alerts a query selects (in scope)."""

    total: int
    buckets: list[tuple[dt.datetime, int]]  # alert count per time bucket of first_seen
    by_severity: dict[str, int]
    by_tenant: dict[str, int]  # by victim tenant_id ("" when unattributed)
    by_detector: dict[str, int]
    top_hosts: list[tuple[str, int]]  # most alerted hosts, count desc then host id


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Who did what, when, to what, through which request. Append-only."""

    id: str
    at: UtcDatetime
    actor: str
    role: str
    action: str  # e.g. "alert.acknowledge", "key.create"
    target: str  # e.g. "alert:<id>", "key:<id>"
    tenant_id: str | None = None  # the tenant the target belongs to, for scoped reads
    request_id: str | None = None
    details: dict[str, Any] = {}


class AlertRepository(Protocol):
    def upsert(self, alerts: Iterable[Alert]) -> int:
        """Fold each alert into its stored version with `merge_alerts`; idempotent, any order."""

    def get(self, scope: Scope, alert_id: str) -> AlertView | None: ...

    def list(
        self, scope: Scope, query: AlertQuery = ..., *, limit: int = 50, cursor: str | None = None
    ) -> Page[AlertView]: ...

    def count(self, scope: Scope, query: AlertQuery = ...) -> int: ...

    def stats(
        self,
        scope: Scope,
        query: AlertQuery = ...,
        *,
        bucket: dt.timedelta = ...,
        top: int = 10,
    ) -> AlertStats: ...


class IncidentRepository(Protocol):
    def upsert(self, incidents: Iterable[Incident]) -> int:
        """Keep, per id, the version with the latest `updated_at` (ties: the larger encoding,
        so any order gives the same document); analyst state is untouched."""

    def delete(self, ids: Iterable[str]) -> int:
        """Remove these incidents (the correlator retired them: merged into another, or
        renamed) with their analyst state; the append-only action log keeps what was done to
        them. Unknown ids are skipped; returns how many were removed."""

    def get(self, scope: Scope, incident_id: str) -> IncidentView | None: ...

    def list(
        self,
        scope: Scope,
        query: IncidentQuery = ...,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[IncidentView]: ...

    def count(self, scope: Scope, query: IncidentQuery = ...) -> int: ...

    def aggregate(self, scope: Scope, query: IncidentQuery = ...) -> IncidentAggregates:
        """Counts by status, grade and severity and per-tenant open figures, computed by the
        backend (fenghuo.store.figures)."""


class ActionRepository(Protocol):
    def record(self, scope: Scope, action: AnalystAction) -> AnalystState:
        """Append an action to a target visible in `scope` (NotFoundError otherwise) and return
        the target's new state. Recording the same action id twice appends it once."""

    def history(self, scope: Scope, kind: TargetKind, target_id: str) -> list[AnalystAction]: ...

    def state(self, scope: Scope, kind: TargetKind, target_id: str) -> AnalystState | None: ...


class AuditRepository(Protocol):
    """Append-only: there is no update or delete, and the backends refuse them."""

    def append(self, entry: AuditEntry) -> None: ...

    def list(
        self, scope: Scope, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AuditEntry]:
        """Newest first; a tenant scope sees only entries about that tenant."""


class SuppressionRule(msgspec.Struct, frozen=True, kw_only=True):
    """Future alerts like these are not raised (the detection engine counts them instead).

    Created by an analyst's "suppress similar" on an alert (Elastic's rule exceptions, Falco's
    exceptions, GuardDuty's suppression rules): it matches the alert's detector, tenant (as
    victim or actor) and host, from `created_at` until `until` (None: until revoked)."""

    id: str
    detector: str
    tenant_id: str | None = None
    host_id: str | None = None
    reason: str = ""
    created_by: str
    created_at: UtcDatetime
    until: UtcDatetime | None = None
    source_alert: str | None = None
    revoked_at: UtcDatetime | None = None

    def active(self, at: dt.datetime) -> bool:
        return self.revoked_at is None and (self.until is None or at < self.until)

    def matches(self, alert: Alert) -> bool:
        """Exactly the analyst's "similar": same detector, victim tenant and host (a rule
        made from an alert without a host matches alerts without one)."""
        return (
            self.active(alert.first_seen)
            and alert.detector == self.detector
            and alert.tenant_id == self.tenant_id
            and alert.host_id == self.host_id
        )


class SuppressionRepository(Protocol):
    def add(self, rule: SuppressionRule) -> SuppressionRule:
        """Store a rule; adding the same id again keeps the first (idempotent retries)."""

    def list(self, scope: Scope, *, include_revoked: bool = False) -> list[SuppressionRule]:
        """Oldest first (created_at, then id); a tenant scope sees the rules about its tenant."""

    def revoke(self, scope: Scope, rule_id: str) -> bool:
        """False when the rule is unknown, outside the scope or already revoked."""


class KeyRepository(Protocol):
    def create(
        self, role: Role, tenant_id: str | None = None, name: str = ""
    ) -> tuple[ApiKey, str]: ...

    def verify(self, token: str) -> ApiKey | None: ...

    def revoke(self, key_id: str) -> bool: ...

    def list(self) -> Sequence[ApiKey]: ...


class Store(Protocol):
    """One backend: the repositories share its connection(s)."""

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def incidents(self) -> IncidentRepository: ...

    @property
    def actions(self) -> ActionRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def keys(self) -> KeyRepository: ...

    @property
    def suppressions(self) -> SuppressionRepository: ...

    @property
    def collections(self) -> CollectionRepository:
        """TAXII collections and their grants (fenghuo.intel.collections)."""

    @property
    def objects(self) -> ObjectRepository:
        """The collections' precomputed STIX objects (fenghuo.intel.objects)."""

    @property
    def taxii_status(self) -> StatusRepository:
        """Status resources of TAXII POSTs."""

    @property
    def reports(self) -> ReportRepository:
        """Regulator reports (fenghuo.intel.reports)."""

    def close(self) -> None: ...


def newer_incident(a: Incident, b: Incident) -> Incident:
    """The version an upsert keeps: latest `updated_at`, then a fixed tie-break on content."""
    return max(a, b, key=lambda i: (i.updated_at, encode_incident(i)))
