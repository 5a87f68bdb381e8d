"""The SQLite store's logs and the limits every list shares: analyst actions (append-only, with the
state derived from them in the same transaction) and the audit trail (append-only; triggers
refuse UPDATE and DELETE). Both check the target is in the caller's scope inside SQL first.
"""

from __future__ import annotations

import sqlite3

import msgspec

from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import (
    AlertQuery,
    AnalystAction,
    AnalystState,
    AuditEntry,
    IncidentQuery,
    NotFoundError,
    Page,
    Scope,
    StoreError,
    TargetKind,
    apply_action,
    decode_cursor,
    encode_cursor,
    epoch_ms,
)
from fenghuo.store.sqlite_queries import Where, alert_where, incident_where

_ENC = msgspec.json.Encoder()
_STATE = msgspec.json.Decoder(AnalystState)
_ACTION = msgspec.json.Decoder(AnalystAction)
_AUDIT = msgspec.json.Decoder(AuditEntry)
MAX_LIMIT = 1000


def check_limit(limit: int) -> int:
    """`limit`, or a StoreError when a list page would be empty or unbounded."""
    if not 1 <= limit <= MAX_LIMIT:
        msg = f"limit must be between 1 and {MAX_LIMIT}, not {limit}"
        raise StoreError(msg)
    return limit


def state_of(doc: str | None) -> AnalystState:
    """The analyst state stored as JSON; a target nobody acted on is new."""
    return _STATE.decode(doc) if doc is not None else AnalystState()


def _visible(db: sqlite3.Connection, scope: Scope, kind: TargetKind, target_id: str) -> bool:
    if kind == "alert":
        where = alert_where(scope, AlertQuery())
        where.add("a.id = ?", target_id)
        sql = f"SELECT 1 FROM alerts a WHERE {where.sql()}"  # noqa: S608 - bound values
    else:
        where = incident_where(scope, IncidentQuery())
        where.add("i.id = ?", target_id)
        sql = f"SELECT 1 FROM incidents i WHERE {where.sql()}"  # noqa: S608 - bound values
    return db.execute(sql, where.params).fetchone() is not None


class SqliteActions:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def record(self, scope: Scope, action: AnalystAction) -> AnalystState:
        with self._writer.transaction() as db:
            if not _visible(db, scope, action.target_kind, action.target_id):
                msg = f"no {action.target_kind} {action.target_id} in scope"
                raise NotFoundError(msg)
            row = db.execute(
                "SELECT doc FROM analyst_state WHERE target_kind = ? AND target_id = ?",
                (action.target_kind, action.target_id),
            ).fetchone()
            state = state_of(row[0] if row else None)
            inserted = db.execute(
                "INSERT OR IGNORE INTO actions (id, target_kind, target_id, doc)"
                " VALUES (?, ?, ?, ?)",
                (action.id, action.target_kind, action.target_id, _ENC.encode(action).decode()),
            ).rowcount
            if inserted:
                state = apply_action(state, action)
                db.execute(
                    "INSERT INTO analyst_state (target_kind, target_id, status, assignee, doc)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target_kind, target_id) DO UPDATE SET"
                    " status = excluded.status, assignee = excluded.assignee, doc = excluded.doc",
                    (
                        action.target_kind,
                        action.target_id,
                        state.status.value,
                        state.assignee,
                        _ENC.encode(state).decode(),
                    ),
                )
        return state

    def history(self, scope: Scope, kind: TargetKind, target_id: str) -> list[AnalystAction]:
        db = self._writer.connection()
        if not _visible(db, scope, kind, target_id):
            return []
        rows = db.execute(
            "SELECT doc FROM actions WHERE target_kind = ? AND target_id = ? ORDER BY seq",
            (kind, target_id),
        ).fetchall()
        return [_ACTION.decode(r[0]) for r in rows]

    def state(self, scope: Scope, kind: TargetKind, target_id: str) -> AnalystState | None:
        db = self._writer.connection()
        if not _visible(db, scope, kind, target_id):
            return None
        row = db.execute(
            "SELECT doc FROM analyst_state WHERE target_kind = ? AND target_id = ?",
            (kind, target_id),
        ).fetchone()
        return state_of(row[0] if row else None)


class SqliteAudit:
    """Append-only: triggers refuse UPDATE and DELETE on the table itself."""

    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def append(self, entry: AuditEntry) -> None:
        with self._writer.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO audit (id, at_ms, tenant_id, doc) VALUES (?, ?, ?, ?)",
                (entry.id, epoch_ms(entry.at), entry.tenant_id, _ENC.encode(entry).decode()),
            )

    def list(
        self, scope: Scope, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AuditEntry]:
        where = Where()
        if scope.tenant is not None:
            where.add("tenant_id = ?", scope.tenant)
        if cursor is not None:
            seq, _id = decode_cursor(cursor)
            where.add("seq < ?", seq)
        rows = (
            self._writer.connection()
            .execute(
                f"SELECT doc, seq, id FROM audit WHERE {where.sql()}"  # noqa: S608 - bound values
                " ORDER BY seq DESC LIMIT ?",
                [*where.params, check_limit(limit) + 1],
            )
            .fetchall()
        )
        items = [_AUDIT.decode(r[0]) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, encode_cursor(rows[limit - 1][1], rows[limit - 1][2]) if more else None)
