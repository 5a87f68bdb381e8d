"""The SQL the SQLite store's reads are built from: WHERE clauses with their bound parameters
(`Where`), the filters of an alert or incident query (`alert_where`, `incident_where`), keyset
paging (`page_after`), the FROM clauses joining analyst state, and `fts_query` for FTS5.

Tenant scope is inside every query: `alert_where`/`incident_where` add the scope's tenant as a
clause like any other filter, so a list, count, stats or aggregate selects only the scope's
rows in SQL (nothing is read first and filtered afterwards). An alert is in scope as victim or actor
tenant; an incident through `incident_tenants`, which holds both roles.

Exclusions keep rows that lack the field: an alert without a host or actor tenant is not
excluded by `exclude_hosts`/`exclude_tenants`. A bare `NOT IN` is never true for NULL, so
`Where.add_not_in` writes `IS NULL OR NOT IN`; incidents exclude with `NOT EXISTS` on their link
tables (`Where.add_none_related`), so one with no linked host is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fenghuo.store.base import AlertQuery, IncidentQuery, Scope, decode_cursor, epoch_ms


def fts_query(text: str) -> str | None:
    """A user's words as an FTS5 query: every word must occur, a word of several tokens
    ("acme-web-1", "10.2.0.11") as a phrase (its tokens in order), all quoted so that no
    operator syntax reaches FTS5. None when there are no words."""
    phrases = [" ".join(tokens) for w in text.split() if (tokens := re.findall(r"\w+", w))]
    return " ".join(f'"{p}"' for p in phrases) if phrases else None


class Where:
    """WHERE clauses and their parameters, built together: clauses are constant SQL written
    here, every value is a bound parameter (which is why the f-string queries are safe)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_in(self, column: str, values: Iterable[str]) -> None:
        items = sorted(values)
        if items:
            self.add(f"{column} IN ({_marks(items)})", *items)

    def add_not_in(self, column: str, values: Iterable[str]) -> None:
        """`column` is NULL or none of `values` (a bare NOT IN would drop the NULL rows)."""
        items = sorted(values)
        if items:
            self.add(f"({column} IS NULL OR {column} NOT IN ({_marks(items)}))", *items)

    def add_none_related(self, table: str, column: str, values: Iterable[str], alias: str) -> None:
        """No row of `table` (incident_tenants, incident_hosts) links `alias` to one of
        `values`: the negation of the EXISTS filters below."""
        items = sorted(values)
        if items:
            # Constant table, column and alias names from this module; values are bound.
            sql = f"NOT EXISTS (SELECT 1 FROM {table} x WHERE x.incident_id = {alias}.id"  # noqa: S608
            self.add(f"{sql} AND x.{column} IN ({_marks(items)}))", *items)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def _marks(items: list[str]) -> str:
    return ", ".join("?" * len(items))


def alert_where(scope: Scope, query: AlertQuery) -> Where:
    where = Where()
    for tenant in (scope.tenant, query.tenant):
        if tenant is not None:
            where.add("(a.tenant_id = ? OR a.actor_tenant_id = ?)", tenant, tenant)
    where.add_in("a.severity", (s.value for s in query.severities))
    where.add_in("a.detector", query.detectors)
    where.add_in("COALESCE(s.status, 'new')", (s.value for s in query.statuses))
    if query.host_id is not None:
        where.add("a.host_id = ?", query.host_id)
    # The negations: "involving" a tenant is either role, as for `tenant` above.
    where.add_not_in("a.tenant_id", query.exclude_tenants)
    where.add_not_in("a.actor_tenant_id", query.exclude_tenants)
    where.add_not_in("a.host_id", query.exclude_hosts)
    where.add_not_in("a.detector", query.exclude_detectors)
    if query.since is not None:
        where.add("a.last_seen_ms >= ?", epoch_ms(query.since))
    if query.until is not None:
        where.add("a.first_seen_ms < ?", epoch_ms(query.until))
    if query.text is not None:
        match = fts_query(query.text)
        if match is not None:
            where.add("a.rowid IN (SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ?)", match)
    return where


def incident_where(scope: Scope, query: IncidentQuery) -> Where:
    where = Where()
    for tenant in (scope.tenant, query.tenant):
        if tenant is not None:
            where.add(
                "EXISTS (SELECT 1 FROM incident_tenants t"
                " WHERE t.tenant_id = ? AND t.incident_id = i.id)",
                tenant,
            )
    where.add_in("i.severity", (s.value for s in query.severities))
    where.add_in("i.grade", (g.value for g in query.grades))
    where.add_in("COALESCE(s.status, 'new')", (s.value for s in query.statuses))
    if query.host_id is not None:
        where.add(
            "EXISTS (SELECT 1 FROM incident_hosts h WHERE h.host_id = ? AND h.incident_id = i.id)",
            query.host_id,
        )
    where.add_none_related("incident_tenants", "tenant_id", query.exclude_tenants, "i")
    where.add_none_related("incident_hosts", "host_id", query.exclude_hosts, "i")
    if query.since is not None:
        where.add("i.last_seen_ms >= ?", epoch_ms(query.since))
    if query.until is not None:
        where.add("i.first_seen_ms < ?", epoch_ms(query.until))
    if query.text is not None:
        match = fts_query(query.text)
        if match is not None:
            where.add(
                "i.rowid IN (SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?)", match
            )
    return where


def page_after(where: Where, alias: str, cursor: str | None) -> None:
    if cursor is not None:
        first_seen_ms, doc_id = decode_cursor(cursor)
        where.add(
            f"({alias}.first_seen_ms < ? OR ({alias}.first_seen_ms = ? AND {alias}.id > ?))",
            first_seen_ms,
            first_seen_ms,
            doc_id,
        )


ALERTS_FROM = (
    "FROM alerts a LEFT JOIN analyst_state s ON s.target_kind = 'alert' AND s.target_id = a.id"
)
INCIDENTS_FROM = (
    "FROM incidents i LEFT JOIN analyst_state s"
    " ON s.target_kind = 'incident' AND s.target_id = i.id"
)
