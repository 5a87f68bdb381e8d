"""The SQLite backend of the store (embedded default): one WAL database file, schema from
`fenghuo.store.migrations`, tenant scope and every filter inside the SQL (built by
`fenghuo.store.sqlite_queries`), full text through FTS5; the action log and the audit trail in
`fenghuo.store.sqlite_logs`.

Connections are per thread (see `AlertStore`); writes run in BEGIN IMMEDIATE transactions, so
the read-merge-write of an upsert and the append-then-derive of an action are atomic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import msgspec

from fenghuo.intel.reports.sqlite import SqliteReports
from fenghuo.intel.taxii_sqlite import SqliteObjects
from fenghuo.intel.taxii_sqlite_collections import SqliteCollections, SqliteTaxiiStatus
from fenghuo.model.alert import Alert, decode_alert
from fenghuo.model.incident import Incident, decode_incident, encode_incident
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import (
    AlertQuery,
    AlertStats,
    AlertView,
    IncidentQuery,
    IncidentView,
    Page,
    Scope,
    StoreError,
    encode_cursor,
    epoch_ms,
    newer_incident,
)
from fenghuo.store.figures import IncidentAggregates
from fenghuo.store.keys import KeyStore
from fenghuo.store.sqlite_changes import SqliteChanges
from fenghuo.store.sqlite_figures import incident_aggregates, rolled_up_stats
from fenghuo.store.sqlite_logs import SqliteActions, SqliteAudit, check_limit, state_of
from fenghuo.store.sqlite_queries import (
    ALERTS_FROM,
    INCIDENTS_FROM,
    alert_where,
    incident_where,
    page_after,
)
from fenghuo.store.sqlite_suppressions import SqliteSuppressions

_ENC = msgspec.json.Encoder()


class SqliteAlerts:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def upsert(self, alerts: Iterable[Alert]) -> int:
        return self._writer.upsert(alerts)

    def get(self, scope: Scope, alert_id: str) -> AlertView | None:
        where = alert_where(scope, AlertQuery())
        where.add("a.id = ?", alert_id)
        row = (
            self._writer.connection()
            .execute(f"SELECT a.doc, s.doc {ALERTS_FROM} WHERE {where.sql()}", where.params)
            .fetchone()
        )
        return AlertView(alert=decode_alert(row[0]), state=state_of(row[1])) if row else None

    def list(
        self,
        scope: Scope,
        query: AlertQuery = AlertQuery(),  # noqa: B008 - frozen, shared safely
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AlertView]:
        where = alert_where(scope, query)
        page_after(where, "a", cursor)
        rows = (
            self._writer.connection()
            .execute(
                f"SELECT a.doc, s.doc, a.first_seen_ms, a.id {ALERTS_FROM} WHERE {where.sql()}"
                " ORDER BY a.first_seen_ms DESC, a.id LIMIT ?",
                [*where.params, check_limit(limit) + 1],
            )
            .fetchall()
        )
        items = [AlertView(alert=decode_alert(r[0]), state=state_of(r[1])) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, encode_cursor(rows[limit - 1][2], rows[limit - 1][3]) if more else None)

    def count(self, scope: Scope, query: AlertQuery = AlertQuery()) -> int:  # noqa: B008
        where = alert_where(scope, query)
        sql = f"SELECT count(*) {ALERTS_FROM} WHERE {where.sql()}"
        return int(self._writer.connection().execute(sql, where.params).fetchone()[0])

    def stats(
        self,
        scope: Scope,
        query: AlertQuery = AlertQuery(),  # noqa: B008
        *,
        bucket: dt.timedelta = dt.timedelta(hours=1),
        top: int = 10,
    ) -> AlertStats:
        where = alert_where(scope, query)
        db = self._writer.connection()
        base = f"{ALERTS_FROM} WHERE {where.sql()}"
        width = int(bucket.total_seconds() * 1000)
        if width <= 0:
            msg = "the bucket width must be positive"
            raise StoreError(msg)
        rolled = rolled_up_stats(db, scope, query, bucket=bucket, top=top)
        if rolled is not None:  # a plain time window: the hourly rollup answers it exactly
            return rolled

        # Unary + keeps the planner from walking the grouped column's index over every alert
        # to get groups in order; the window's index (last_seen_ms) selects the rows instead.
        def grouped(column: str) -> dict[str, int]:
            sql = f"SELECT +{column}, count(*) {base} GROUP BY 1"
            return {str(k): int(n) for k, n in db.execute(sql, where.params)}

        buckets = db.execute(
            f"SELECT (a.first_seen_ms / ?) * ?, count(*) {base} GROUP BY 1 ORDER BY 1",
            [width, width, *where.params],
        ).fetchall()
        hosts = db.execute(
            f"SELECT +a.host_id, count(*) {base} AND a.host_id IS NOT NULL"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
            [*where.params, top],
        ).fetchall()
        return AlertStats(
            total=int(db.execute(f"SELECT count(*) {base}", where.params).fetchone()[0]),
            buckets=[(_from_ms(start), int(n)) for start, n in buckets],
            by_severity=grouped("a.severity"),
            by_tenant=grouped("COALESCE(a.tenant_id, '')"),
            by_detector=grouped("a.detector"),
            top_hosts=[(str(h), int(n)) for h, n in hosts],
        )


def _from_ms(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


_INCIDENT_UPSERT = """
INSERT INTO incidents (id, severity, first_seen_ms, last_seen_ms, updated_at, doc, grade, risk)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    severity = excluded.severity, first_seen_ms = excluded.first_seen_ms,
    last_seen_ms = excluded.last_seen_ms, updated_at = excluded.updated_at, doc = excluded.doc,
    grade = excluded.grade, risk = excluded.risk
"""


class SqliteIncidents:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def upsert(self, incidents: Iterable[Incident]) -> int:
        batch = list(incidents)
        if not batch:
            return 0
        written = 0
        with self._writer.transaction() as db:
            chosen: dict[str, Incident] = {}
            stored: dict[str, Incident | None] = {}
            for incident in batch:
                if incident.id not in stored:
                    row = db.execute(
                        "SELECT doc FROM incidents WHERE id = ?", (incident.id,)
                    ).fetchone()
                    previous = decode_incident(row[0]) if row else None
                    stored[incident.id] = previous
                    if previous is not None:
                        chosen[incident.id] = previous
                current = chosen.get(incident.id)
                chosen[incident.id] = (
                    incident if current is None else newer_incident(current, incident)
                )
            for incident_id, incident in chosen.items():
                if incident == stored[incident_id]:
                    continue
                written += 1
                db.execute(
                    _INCIDENT_UPSERT,
                    (
                        incident.id,
                        incident.severity.value,
                        epoch_ms(incident.first_seen),
                        epoch_ms(incident.last_seen),
                        incident.updated_at.isoformat(),
                        encode_incident(incident).decode(),
                        incident.grade.value,
                        incident.risk_score,
                    ),
                )
                db.execute("DELETE FROM incident_tenants WHERE incident_id = ?", (incident.id,))
                db.executemany(
                    "INSERT OR IGNORE INTO incident_tenants (tenant_id, incident_id) VALUES (?, ?)",
                    [(t, incident.id) for t in {*incident.tenants, *incident.actor_tenants}],
                )
                db.execute("DELETE FROM incident_hosts WHERE incident_id = ?", (incident.id,))
                db.executemany(
                    "INSERT OR IGNORE INTO incident_hosts (host_id, incident_id) VALUES (?, ?)",
                    [(h, incident.id) for h in set(incident.hosts)],
                )
        return written

    def delete(self, ids: Iterable[str]) -> int:
        """Remove incidents (with their search rows and derived analyst state); the action log
        keeps their history. Unknown ids are skipped; returns how many were removed."""
        targets = sorted(set(ids))
        if not targets:
            return 0
        deleted = 0
        with self._writer.transaction() as db:
            for incident_id in targets:
                row = db.execute(
                    "SELECT rowid FROM incidents WHERE id = ?", (incident_id,)
                ).fetchone()
                if row is None:
                    continue
                # No delete trigger keeps incidents_fts in step (migration 1), so do it here.
                db.execute("DELETE FROM incidents_fts WHERE rowid = ?", (row[0],))
                db.execute("DELETE FROM incident_tenants WHERE incident_id = ?", (incident_id,))
                db.execute("DELETE FROM incident_hosts WHERE incident_id = ?", (incident_id,))
                db.execute(
                    "DELETE FROM analyst_state WHERE target_kind = 'incident' AND target_id = ?",
                    (incident_id,),
                )
                db.execute("DELETE FROM incidents WHERE id = ?", (incident_id,))
                deleted += 1
        return deleted

    def get(self, scope: Scope, incident_id: str) -> IncidentView | None:
        where = incident_where(scope, IncidentQuery())
        where.add("i.id = ?", incident_id)
        row = (
            self._writer.connection()
            .execute(f"SELECT i.doc, s.doc {INCIDENTS_FROM} WHERE {where.sql()}", where.params)
            .fetchone()
        )
        return _incident_view(row[0], row[1]) if row else None

    def list(
        self,
        scope: Scope,
        query: IncidentQuery = IncidentQuery(),  # noqa: B008
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[IncidentView]:
        where = incident_where(scope, query)
        page_after(where, "i", cursor)
        rows = (
            self._writer.connection()
            .execute(
                f"SELECT i.doc, s.doc, i.first_seen_ms, i.id {INCIDENTS_FROM}"
                f" WHERE {where.sql()} ORDER BY i.first_seen_ms DESC, i.id LIMIT ?",
                [*where.params, check_limit(limit) + 1],
            )
            .fetchall()
        )
        items = [_incident_view(r[0], r[1]) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, encode_cursor(rows[limit - 1][2], rows[limit - 1][3]) if more else None)

    def count(self, scope: Scope, query: IncidentQuery = IncidentQuery()) -> int:  # noqa: B008
        where = incident_where(scope, query)
        sql = f"SELECT count(*) {INCIDENTS_FROM} WHERE {where.sql()}"
        return int(self._writer.connection().execute(sql, where.params).fetchone()[0])

    def aggregate(
        self,
        scope: Scope,
        query: IncidentQuery = IncidentQuery(),  # noqa: B008
    ) -> IncidentAggregates:
        where = incident_where(scope, query)
        return incident_aggregates(self._writer.connection(), where.sql(), where.params)


def _incident_view(doc: str, state_doc: str | None) -> IncidentView:
    state = state_of(state_doc)
    incident = msgspec.structs.replace(decode_incident(doc), status=state.status)
    return IncidentView(incident=incident, state=state)


class SqliteStore:
    """The embedded store: every repository on one SQLite file (the platform's fenghuo.db)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._writer = AlertStore(path, busy_timeout=busy_timeout)
        # The repositories (fenghuo.store.base.Store), sharing the writer's connections.
        self.alerts = SqliteAlerts(self._writer)
        self.incidents = SqliteIncidents(self._writer)
        self.actions = SqliteActions(self._writer)
        self.audit = SqliteAudit(self._writer)
        self.keys = KeyStore(path)
        self.suppressions = SqliteSuppressions(self._writer)
        self.reports = SqliteReports(self._writer)  # regulator reports (fenghuo.intel.reports)
        # The regulator feed's TAXII collections, objects and POST status resources.
        self.collections = SqliteCollections(self._writer)
        self.objects = SqliteObjects(self._writer)
        self.taxii_status = SqliteTaxiiStatus(self._writer)
        # What changed since a point: the console's live stream (fenghuo.api.stream).
        self.changes = SqliteChanges(self._writer)

    def close(self) -> None:
        self._writer.close()
