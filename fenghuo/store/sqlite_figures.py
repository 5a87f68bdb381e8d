"""SQLite side of `fenghuo.store.figures`: two GROUP BY queries over the incidents a WHERE
selects, joined with their analyst state (the derived status lives there, not in the document),
and the alert statistics of a time window from the hourly rollup.

`grade` and `risk` are columns since migration 8, written by the upsert, so no JSON is parsed
per row; severity and grade are ranked in SQL so the per-tenant maxima need no documents.

`alert_hours` (migration 9, kept by triggers) counts alerts per hour of first and of last
evidence, victim and actor tenant, and severity, detector or host. `rolled_up_stats` answers what
`SqliteAlerts.stats` answers for a window alone: a month of 1M alerts is ~200k rollup rows
instead of every alert, each scanned several times.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections import Counter
from typing import Any

from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade
from fenghuo.store.base import AlertQuery, AlertStats, Scope, epoch_ms
from fenghuo.store.figures import (
    GRADE_RANK,
    OPEN_STATUSES,
    IncidentAggregates,
    TenantRiskRow,
    aggregates_from_counts,
)
from fenghuo.store.migrations import ROLLUP_HOUR_MS

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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rolled_up_stats(
    db: sqlite3.Connection, scope: Scope, query: AlertQuery, *, bucket: dt.timedelta, top: int
) -> AlertStats | None:
    """The statistics `SqliteAlerts.stats` computes, from `alert_hours`; None when it cannot
    answer exactly: a filter besides `since`/`until`, or evidence before 1970 (hours, like
    buckets, are truncated, not floored).

    An alert is in the window when last_seen >= since and first_seen < until. Its rollup row
    decides that unless its last hour is since's hour or its first hour until's (for bounds off
    the hour): those alerts, at most two hours of them, are counted from the table instead.
    Buckets of whole hours come from the rollup too; narrower ones from one scan of the window
    (the overview's last 24 hours in 10 minutes). Tenant scope is the store's: victim or actor."""
    width = int(bucket.total_seconds() * 1000)
    bare = dataclasses.replace(query, since=None, until=None)
    if width <= 0 or bare != AlertQuery():
        return None
    since = epoch_ms(query.since) if query.since is not None else None
    until = epoch_ms(query.until) if query.until is not None else None
    if (since is not None and since < 0) or (until is not None and until < 0):
        return None
    for column in ("first_seen_ms", "last_seen_ms"):  # each an index's first column
        (earliest,) = db.execute(f"SELECT min({column}) FROM alerts").fetchone()  # noqa: S608
        if earliest is not None and earliest < 0:
            return None

    rolled: list[str] = []
    rolled_params: list[Any] = []
    edges: list[str] = []
    window: list[str] = []
    window_params: list[Any] = []
    if since is not None:
        hour = since // ROLLUP_HOUR_MS * ROLLUP_HOUR_MS
        end = hour + ROLLUP_HOUR_MS
        rolled.append("last_hour >= ?")
        rolled_params.append(hour if since == hour else end)
        if since != hour:
            edges.append(f"(a.last_seen_ms >= {hour} AND a.last_seen_ms < {end})")
        window.append("a.last_seen_ms >= ?")
        window_params.append(since)
    if until is not None:
        hour = until // ROLLUP_HOUR_MS * ROLLUP_HOUR_MS
        rolled.append("first_hour < ?")
        rolled_params.append(hour)
        if until != hour:
            end = hour + ROLLUP_HOUR_MS
            edges.append(f"(a.first_seen_ms >= {hour} AND a.first_seen_ms < {end})")
        window.append("a.first_seen_ms < ?")
        window_params.append(until)
    scoped = "(a.tenant_id = ? OR a.actor_tenant_id = ?)"
    if scope.tenant is not None:
        rolled.append("(tenant_id = ? OR actor_tenant_id = ?)")
        rolled_params += [scope.tenant, scope.tenant]
        window_params += [scope.tenant, scope.tenant]
    where = " AND ".join(["kind = ?", *rolled])

    def rollup(kind: str, column: str) -> Counter[Any]:
        sql = f"SELECT {column}, sum(n) FROM alert_hours WHERE {where} GROUP BY 1"  # noqa: S608
        return Counter({k: int(n) for k, n in db.execute(sql, [kind, *rolled_params]) if n})

    hourly = width % ROLLUP_HOUR_MS == 0
    if hourly:
        buckets = rollup("s", f"first_hour / {width} * {width}")
    else:  # the tenant's window indexes (migration 9) serve a scoped window
        in_window = " AND ".join([*window, *([scoped] if scope.tenant is not None else [])])
        buckets = Counter(
            dict(
                db.execute(
                    f"SELECT a.first_seen_ms / {width} * {width}, count(*) FROM alerts a"  # noqa: S608
                    f" WHERE {in_window or 'true'} GROUP BY 1",
                    window_params,
                )
            )
        )
    severities = rollup("s", "value")
    tenants = rollup("s", "tenant_id")
    detectors = rollup("d", "value")
    hosts = rollup("h", "value")
    if edges:
        columns = "a.first_seen_ms, a.severity, COALESCE(a.tenant_id, ''), a.detector, a.host_id"
        sql = f"SELECT {columns} FROM alerts a WHERE ({' OR '.join(edges)})"  # noqa: S608
        # Unary +: the edge hours' index narrows the rows, not the tenant's.
        hinted = (
            ["(+a.tenant_id = ? OR +a.actor_tenant_id = ?)"] if scope.tenant is not None else []
        )
        for first_ms, severity, tenant, detector, host in db.execute(
            " AND ".join([sql, *window, *hinted]), window_params
        ):
            if hourly:
                buckets[first_ms // width * width] += 1
            severities[severity] += 1
            tenants[tenant] += 1
            detectors[detector] += 1
            if host is not None:
                hosts[host] += 1
    ranked = sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))
    return AlertStats(
        total=sum(severities.values()),
        buckets=[(_EPOCH + dt.timedelta(milliseconds=ms), n) for ms, n in sorted(buckets.items())],
        by_severity={str(k): n for k, n in severities.items()},
        by_tenant={str(k): n for k, n in tenants.items()},
        by_detector={str(k): n for k, n in detectors.items()},
        top_hosts=[(str(h), n) for h, n in (ranked[:top] if top >= 0 else ranked)],
    )
