"""SQLite side of `fenghuo.store.figures`: two GROUP BY queries over the incidents a WHERE
selects, joined with their analyst state (the derived status lives there, not in the document).

`grade` and `risk` are columns since migration 8, written by the upsert, so no JSON is parsed
per row; severity and grade are ranked in SQL so the per-tenant maxima need no documents.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade
from fenghuo.store.figures import (
    GRADE_RANK,
    OPEN_STATUSES,
    IncidentAggregates,
    TenantRiskRow,
    aggregates_from_counts,
)

_FROM = (
    "FROM incidents i LEFT JOIN analyst_state s"
    " ON s.target_kind = 'incident' AND s.target_id = i.id"
)
_SEVERITY_RANK = " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in Severity)
_GRADE_RANK = " ".join(f"WHEN '{g.value}' THEN {r}" for g, r in GRADE_RANK.items())
_BY_RANK_SEVERITY = {s.rank: s for s in Severity}
_BY_RANK_GRADE = {r: g for g, r in GRADE_RANK.items()}
_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))


def incident_aggregates(
    db: sqlite3.Connection, where_sql: str, params: list[Any]
) -> IncidentAggregates:
    """Figures over `incidents i` rows matching `where_sql` (built by the SQLite store from the
    scope and query; values are bound parameters)."""
    counts = db.execute(
        f"SELECT COALESCE(s.status, 'new'), i.grade, i.severity, count(*) {_FROM}"
        f" WHERE {where_sql} GROUP BY 1, 2, 3",
        params,
    ).fetchall()
    rows = db.execute(
        f"SELECT t.tenant_id, count(*), max(CASE i.severity {_SEVERITY_RANK} ELSE -1 END),"
        f" max(CASE i.grade {_GRADE_RANK} ELSE 0 END), max(i.risk)"
        # CROSS JOIN keeps the incidents (the window's covering index) as the outer loop: the
        # planner would otherwise scan every tenant row to get its groups in order.
        f" {_FROM} CROSS JOIN incident_tenants t ON t.incident_id = i.id"
        f" WHERE ({where_sql}) AND COALESCE(s.status, 'new') IN ({_OPEN})"
        " GROUP BY t.tenant_id",
        params,
    ).fetchall()
    tenants = [
        TenantRiskRow(
            tenant_id=str(tenant),
            open_incidents=int(n),
            highest_severity=_BY_RANK_SEVERITY[int(sev)],
            highest_grade=_BY_RANK_GRADE.get(int(grade), Grade.IV),
            risk=float(risk or 0.0),
        )
        for tenant, n, sev, grade, risk in rows
    ]
    return aggregates_from_counts(
        ((str(st), str(gr), str(sev), int(n)) for st, gr, sev, n in counts), tenants
    )
