"""Suppression rules in SQLite (`fenghuo.store.base.SuppressionRepository`)."""

from __future__ import annotations

import datetime as dt

import msgspec

from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import Scope, SuppressionRule

_ENC = msgspec.json.Encoder()
_RULE: msgspec.json.Decoder[SuppressionRule] = msgspec.json.Decoder(SuppressionRule)


class SqliteSuppressions:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def add(self, rule: SuppressionRule) -> SuppressionRule:
        with self._writer.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO suppressions (id, tenant_id, doc) VALUES (?, ?, ?)",
                (rule.id, rule.tenant_id, _ENC.encode(rule).decode()),
            )
            row = db.execute("SELECT doc FROM suppressions WHERE id = ?", (rule.id,)).fetchone()
        return _RULE.decode(row[0])

    def list(self, scope: Scope, *, include_revoked: bool = False) -> list[SuppressionRule]:
        sql = "SELECT doc FROM suppressions WHERE 1 = 1"
        params: list[str] = []
        if scope.tenant is not None:
            sql += " AND tenant_id = ?"
            params.append(scope.tenant)
        if not include_revoked:
            sql += " AND revoked_at IS NULL"
        rows = self._writer.connection().execute(sql, params).fetchall()
        return sorted((_RULE.decode(r[0]) for r in rows), key=lambda r: (r.created_at, r.id))

    def revoke(self, scope: Scope, rule_id: str) -> bool:
        with self._writer.transaction() as db:
            row = db.execute(
                "SELECT doc FROM suppressions WHERE id = ? AND revoked_at IS NULL", (rule_id,)
            ).fetchone()
            if row is None:
                return False
            rule = _RULE.decode(row[0])
            if scope.tenant is not None and rule.tenant_id != scope.tenant:
                return False
            now = dt.datetime.now(dt.UTC)
            revoked = msgspec.structs.replace(rule, revoked_at=now)
            db.execute(
                "UPDATE suppressions SET revoked_at = ?, doc = ? WHERE id = ?",
                (now.isoformat(), _ENC.encode(revoked).decode(), rule_id),
            )
        return True
