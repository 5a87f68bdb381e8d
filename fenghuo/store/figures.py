"""Incident figures aggregated by the store: counts by status, grade and severity, and per
tenant the open incidents' worst severity, grade and risk.

The situational overview needs these over tens of thousands of incidents in well under a second,
so the backends compute them in the query (SQLite: GROUP BY over the incidents joined with their
analyst state; see `fenghuo.store.sqlite_figures`) instead of the API paging every incident into
memory. `aggregate_incidents` is the same rule over documents already in memory: the reference
the SQL is tested against, and the search backend's implementation for now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade, Incident, IncidentStatus

OPEN_STATUSES = frozenset(
    {IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING}
)
GRADE_RANK = {Grade.IV: 1, Grade.III: 2, Grade.II: 3, Grade.I: 4}


class TenantRiskRow(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant named (affected or actor) by open incidents in scope."""

    tenant_id: str
    open_incidents: int
    highest_severity: Severity
    highest_grade: Grade
    risk: float  # highest risk_score among them


class IncidentAggregates(msgspec.Struct, frozen=True, kw_only=True):
    """Counts over the incidents a query selects in scope; every key present, zeros included."""

    total: int
    open: int
    by_status: dict[str, int]
    by_grade: dict[str, int]
    by_severity: dict[str, int]
    open_by_grade: dict[str, int]
    open_by_severity: dict[str, int]
    open_matrix: dict[str, dict[str, int]]  # open incidents: grade -> severity -> count
    tenants: list[TenantRiskRow]  # unordered; the API orders them for the caller


def aggregates_from_counts(
    counts: Iterable[tuple[str, str, str, int]], tenants: Iterable[TenantRiskRow]
) -> IncidentAggregates:
    """Figures from (status, grade, severity, count) groups."""
    status: Counter[str] = Counter()
    grade: Counter[str] = Counter()
    severity: Counter[str] = Counter()
    open_grade: Counter[str] = Counter()
    open_severity: Counter[str] = Counter()
    open_pairs: Counter[tuple[str, str]] = Counter()
    open_values = {s.value for s in OPEN_STATUSES}
    for st, gr, sev, n in counts:
        status[st] += n
        grade[gr] += n
        severity[sev] += n
        if st in open_values:
            open_grade[gr] += n
            open_severity[sev] += n
            open_pairs[gr, sev] += n
    grades = [g.value for g in sorted(Grade, key=GRADE_RANK.__getitem__)]
    return IncidentAggregates(
        total=sum(status.values()),
        open=sum(status[s] for s in open_values),
        by_status={s.value: status[s.value] for s in IncidentStatus},
        by_grade={g: grade[g] for g in grades},
        by_severity={s.value: severity[s.value] for s in Severity},
        open_by_grade={g: open_grade[g] for g in grades},
        open_by_severity={s.value: open_severity[s.value] for s in Severity},
        open_matrix={g: {s.value: open_pairs[g, s.value] for s in Severity} for g in grades},
        tenants=list(tenants),
    )


def aggregate_incidents(incidents: Iterable[Incident]) -> IncidentAggregates:
    """The figures of incidents in memory (`status` already the derived one)."""
    chosen = list(incidents)
    counts = Counter((i.status.value, i.grade.value, i.severity.value) for i in chosen)
    rows: dict[str, list[Incident]] = {}
    for incident in chosen:
        if incident.status in OPEN_STATUSES:
            for tenant in {*incident.tenants, *incident.actor_tenants}:
                rows.setdefault(tenant, []).append(incident)
    tenants = [
        TenantRiskRow(
            tenant_id=tenant,
            open_incidents=len(found),
            highest_severity=max((i.severity for i in found), key=lambda s: s.rank),
            highest_grade=max((i.grade for i in found), key=GRADE_RANK.__getitem__),
            risk=max(i.risk_score for i in found),
        )
        for tenant, found in rows.items()
    ]
    return aggregates_from_counts(
        ((st, gr, sev, n) for (st, gr, sev), n in counts.items()), tenants
    )
