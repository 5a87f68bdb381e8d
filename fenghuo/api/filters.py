"""List filters from query parameters, as store queries seen through the caller's eyes.

A tenant viewer names other tenants by the pseudonyms it was shown; a real name of another tenant
(in `tenant` or in the search text) selects nothing, exactly like a tenant that does not exist,
so a filter cannot be used to learn which tenants exist or appear in the viewer's data. In the
exclusions (`not_tenant`) such a name excludes nothing, again like a tenant that does not exist:
the answer is the one without it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import StringConstraints

from fenghuo.api.deps import Caller
from fenghuo.api.problems import Problem
from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade, IncidentStatus
from fenghuo.store.base import AlertQuery, IncidentQuery, at_least

MAX_PAGE = 500
MAX_EXCLUDED = 50  # values of one not_* parameter

Severities = Annotated[list[Severity] | None, Query(description="any of these severities")]
MinSeverity = Annotated[Severity | None, Query(description="this severity or above")]
Statuses = Annotated[list[IncidentStatus] | None, Query(description="any of these statuses")]
Grades = Annotated[
    list[Grade] | None,
    Query(description="any of these GB/T 20986 grades (I 特别重大 … IV 一般)"),
]
TenantParam = Annotated[
    str | None,
    Query(max_length=200, description="involving this tenant (as victim or actor)"),
]
HostParam = Annotated[str | None, Query(max_length=200, description="on this host")]
_Excluded = list[Annotated[str, StringConstraints(max_length=200)]] | None
NotTenants = Annotated[
    _Excluded,
    Query(
        max_length=MAX_EXCLUDED,
        description="repeatable: leave out what involves any of these tenants (as victim or "
        "actor, as `tenant` selects); a name that means no tenant to the caller excludes nothing",
    ),
]
NotHosts = Annotated[
    _Excluded,
    Query(
        max_length=MAX_EXCLUDED,
        description="repeatable: leave out what is on any of these hosts (as `host` selects); "
        "what has no host is kept",
    ),
]
NotSeverities = Annotated[
    list[Severity] | None,
    Query(description="repeatable: leave out these severities"),
]
NotStatuses = Annotated[
    list[IncidentStatus] | None,
    Query(description="repeatable: leave out these statuses"),
]
NotDetectors = Annotated[
    _Excluded,
    Query(
        max_length=MAX_EXCLUDED,
        description="repeatable: leave out alerts raised by any of these detectors",
    ),
]
Since = Annotated[dt.datetime | None, Query(description="evidence ends at or after this time")]
Until = Annotated[dt.datetime | None, Query(description="evidence starts before this time")]
Text = Annotated[
    str | None,
    Query(max_length=500, description="full-text search on title and summary; every word"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page")
]


@dataclass(frozen=True)
class Common:
    """The filters alerts and incidents share, resolved for the caller; `empty` when they can
    match nothing the caller may know about."""

    severities: frozenset[Severity]
    statuses: frozenset[IncidentStatus]
    tenant: str | None
    host_id: str | None
    since: dt.datetime | None
    until: dt.datetime | None
    text: str | None
    empty: bool
    exclude_tenants: frozenset[str] = frozenset()
    exclude_hosts: frozenset[str] = frozenset()


def common(
    caller: Caller,
    *,
    severity: list[Severity] | None,
    min_severity: Severity | None,
    status: list[IncidentStatus] | None,
    tenant: str | None,
    host: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    q: str | None,
    not_severity: list[Severity] | None = None,
    not_status: list[IncidentStatus] | None = None,
    not_tenant: list[str] | None = None,
    not_host: list[str] | None = None,
) -> Common:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(422, "Invalid request", f"{name} needs a time zone (e.g. Z)")
    severities = frozenset(severity or ())
    if min_severity is not None:
        floor = at_least(min_severity)
        severities = severities & floor if severities else floor
    empty = bool((severity or min_severity) and not severities)
    # Enumerable fields are left out by their complement: nothing left selects nothing.
    if not_severity:
        severities = (severities or frozenset(Severity)) - set(not_severity)
        empty = empty or not severities
    statuses = frozenset(status or ())
    if not_status:
        statuses = (statuses or frozenset(IncidentStatus)) - set(not_status)
        empty = empty or not statuses
    real_tenant = None
    if tenant:
        real_tenant = caller.redactor.real_tenant(tenant)
        empty = empty or real_tenant is None
    text = None
    if q and q.strip():
        text = caller.redactor.search_text(q)
        empty = empty or text is None
    # A name that resolves to no tenant is dropped, never an empty answer: omitting it and
    # sending it must read alike, or the answer would tell which pseudonyms mean something.
    resolved = (caller.redactor.real_tenant(name) for name in not_tenant or () if name)
    return Common(
        severities,
        statuses,
        real_tenant,
        host,
        since,
        until,
        text,
        empty,
        exclude_tenants=frozenset(t for t in resolved if t is not None),
        exclude_hosts=frozenset(h for h in not_host or () if h),
    )


def alert_query(
    c: Common, detectors: list[str] | None, not_detectors: list[str] | None = None
) -> AlertQuery:
    return AlertQuery(
        severities=c.severities,
        detectors=frozenset(detectors or ()),
        statuses=c.statuses,
        tenant=c.tenant,
        host_id=c.host_id,
        since=c.since,
        until=c.until,
        text=c.text,
        exclude_tenants=c.exclude_tenants,
        exclude_hosts=c.exclude_hosts,
        exclude_detectors=frozenset(d for d in not_detectors or () if d),
    )


def incident_query(c: Common, grades: list[Grade] | None = None) -> IncidentQuery:
    return IncidentQuery(
        severities=c.severities,
        grades=frozenset(grades or ()),
        statuses=c.statuses,
        tenant=c.tenant,
        host_id=c.host_id,
        since=c.since,
        until=c.until,
        text=c.text,
        exclude_tenants=c.exclude_tenants,
        exclude_hosts=c.exclude_hosts,
    )
