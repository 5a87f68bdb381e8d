"""Schema migrations: a database from before migrations is adopted and upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fenghuo.model.alert import encode_alert
from fenghuo.store.base import AlertQuery, Scope, epoch_ms
from fenghuo.store.migrations import MIGRATIONS, migrate
from fenghuo.store.sqlite import SqliteStore
from tests.store.test_contract import alert

_OLD_SCHEMA = """
CREATE TABLE alerts (
    id TEXT PRIMARY KEY, detector TEXT NOT NULL, tenant_id TEXT, actor_tenant_id TEXT,
    host_id TEXT, severity TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX alerts_tenant ON alerts (tenant_id, first_seen);
"""


def test_an_old_database_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "fenghuo.db"
    old = alert("old-1", minute=7, title="Container escape")
    with sqlite3.connect(path) as db:
        db.executescript(_OLD_SCHEMA)
        db.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (old.id, old.detector, old.tenant_id, None, old.host_id, old.severity.value,
             old.first_seen.isoformat(), old.last_seen.isoformat(), encode_alert(old).decode()),
        )  # fmt: skip
    store = SqliteStore(path)
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT version FROM schema_version").fetchone()
        (ms,) = db.execute("SELECT first_seen_ms FROM alerts").fetchone()
    assert version == len(MIGRATIONS)
    assert ms == epoch_ms(old.first_seen)
    found = store.alerts.list(Scope.of("acme"), AlertQuery(text="escape")).items
    assert [v.alert for v in found] == [old]


def test_migrate_twice_changes_nothing(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert migrate(db) == len(MIGRATIONS)
    assert migrate(db) == len(MIGRATIONS)
    assert db.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
