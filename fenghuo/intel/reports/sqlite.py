"""Reports in SQLite (`ReportRepository`): table `reports` of migration 7.

The state filter is SQL over the stored columns and `now` (see `_state_clause`), the same rule as
`fenghuo.intel.reports.model.state_at`, so a list filtered by `overdue` and the states on its items
agree. Tenant scope and the regulator's incident set are WHERE clauses like every other read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from fenghuo.intel.reports.model import Report, ReportState, as_of
from fenghuo.intel.reports.repository import MAX_REPORTS, Change, ReportQuery
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import Scope, StoreError, epoch_ms

_ENC = msgspec.json.Encoder()
_REPORT: msgspec.json.Decoder[Report] = msgspec.json.Decoder(Report)

_UPSERT = """
INSERT INTO reports (id, incident_id, kind, tenant_id, submitted, due_ms, due_from_ms, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    incident_id = excluded.incident_id, kind = excluded.kind, tenant_id = excluded.tenant_id,
    submitted = excluded.submitted, due_ms = excluded.due_ms,
    due_from_ms = excluded.due_from_ms, doc = excluded.doc
"""


def _row(report: Report) -> tuple[Any, ...]:
    return (
        report.id,
        report.incident_id,
        report.kind.value,
        report.tenant_id,
        1 if report.submitted_at is not None else 0,
        epoch_ms(report.due_at) if report.due_at is not None else None,
        epoch_ms(report.due_from) if report.due_from is not None else None,
        _ENC.encode(msgspec.structs.replace(report, state=_stored_state(report))).decode(),
    )


def _stored_state(report: Report) -> ReportState:
    return ReportState.SUBMITTED if report.submitted_at is not None else ReportState.DRAFT


# Each state as SQL over the columns, with `now` in epoch milliseconds bound once per `?`.
_STATE_SQL: dict[ReportState, tuple[str, int]] = {
    ReportState.SUBMITTED: ("submitted = 1", 0),
    ReportState.OVERDUE: ("(submitted = 0 AND due_ms IS NOT NULL AND due_ms < ?)", 1),
    ReportState.DUE: (
        "(submitted = 0 AND due_ms >= ? AND (due_from_ms IS NULL OR due_from_ms <= ?))",
        2,
    ),
    ReportState.DRAFT: ("(submitted = 0 AND (due_ms IS NULL OR due_from_ms > ?))", 1),
}


def _where(scope: Scope, query: ReportQuery, now: dt.datetime) -> tuple[str, list[Any]]:
    """Clauses are constant SQL written here; every value is a bound parameter."""
    clauses: list[str] = []
    params: list[Any] = []
    if scope.tenant is not None:
        clauses.append("tenant_id = ?")
        params.append(scope.tenant)
    if query.incident_ids is not None:
        ids = sorted(query.incident_ids)
        if not ids:
            return "0", []
        # One JSON array parameter, not one per id: a regulator's incidents are not bounded
        # by SQLite's limit on bound variables.
        clauses.append("incident_id IN (SELECT value FROM json_each(?))")
        params.append(_ENC.encode(ids).decode())
    if query.kinds:
        kinds = sorted(k.value for k in query.kinds)
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    if query.states:
        now_ms = epoch_ms(now)
        ors = []
        for state in sorted(query.states):
            sql, binds = _STATE_SQL[state]
            ors.append(sql)
            params += [now_ms] * binds
        clauses.append(f"({' OR '.join(ors)})")
    return (" AND ".join(clauses) or "1"), params


class SqliteReports:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def add(self, report: Report) -> Report:
        with self._writer.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO reports"
                " (id, incident_id, kind, tenant_id, submitted, due_ms, due_from_ms, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _row(report),
            )
            row = db.execute("SELECT doc FROM reports WHERE id = ?", (report.id,)).fetchone()
        return _REPORT.decode(row[0])

    def update(self, scope: Scope, report_id: str, change: Change) -> Report | None:
        where, params = _where(scope, ReportQuery(), dt.datetime.now(dt.UTC))
        with self._writer.transaction() as db:
            row = db.execute(
                f"SELECT doc FROM reports WHERE id = ? AND {where}",  # noqa: S608 - bound values
                [report_id, *params],
            ).fetchone()
            if row is None:
                return None
            current = _REPORT.decode(row[0])
            changed = change(current)
            if changed is None or changed == current:
                return current
            if changed.id != current.id:
                msg = f"a change may not rename report {current.id} to {changed.id}"
                raise StoreError(msg)
            db.execute(_UPSERT, _row(changed))
            return _REPORT.decode(_row(changed)[-1])

    def get(
        self,
        scope: Scope,
        report_id: str,
        now: dt.datetime,
        *,
        within: frozenset[str] | None = None,
    ) -> Report | None:
        where, params = _where(scope, ReportQuery(incident_ids=within), now)
        row = (
            self._writer.connection()
            .execute(
                f"SELECT doc FROM reports WHERE id = ? AND {where}",  # noqa: S608 - bound values
                [report_id, *params],
            )
            .fetchone()
        )
        return as_of(_REPORT.decode(row[0]), now) if row else None

    def list(
        self,
        scope: Scope,
        query: ReportQuery,
        now: dt.datetime,
        *,
        limit: int = MAX_REPORTS,
    ) -> list[Report]:
        if not 1 <= limit <= MAX_REPORTS:
            msg = f"limit must be between 1 and {MAX_REPORTS}, not {limit}"
            raise StoreError(msg)
        where, params = _where(scope, query, now)
        rows = (
            self._writer.connection()
            .execute(
                f"SELECT doc FROM reports WHERE {where}"  # noqa: S608 - bound values
                " ORDER BY due_ms IS NULL, due_ms, id LIMIT ?",
                [*params, limit],
            )
            .fetchall()
        )
        return [as_of(_REPORT.decode(r[0]), now) for r in rows]

    def count(self, scope: Scope, query: ReportQuery, now: dt.datetime) -> int:
        where, params = _where(scope, query, now)
        sql = f"SELECT count(*) FROM reports WHERE {where}"  # noqa: S608 - bound values
        return int(self._writer.connection().execute(sql, params).fetchone()[0])
