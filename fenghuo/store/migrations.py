"""SQLite schema migrations: ordered SQL scripts, applied once each, recorded in `schema_version`.

Every opener of the database (the stream job's sink, the API, the CLI) calls `migrate`; it takes
the write lock (BEGIN IMMEDIATE) before reading the version, so concurrent openers apply each
script exactly once. Script 1 adopts databases created before migrations existed (the alert
store's and the key store's original tables, created only if missing). Never edit a released
script: append a new one.
"""

from __future__ import annotations

import sqlite3

_V1_BASE = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    detector TEXT NOT NULL,
    tenant_id TEXT,
    actor_tenant_id TEXT,
    host_id TEXT,
    severity TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_tenant ON alerts (tenant_id, first_seen);
CREATE INDEX IF NOT EXISTS alerts_first_seen ON alerts (first_seen);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant_id TEXT,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

# The backfill computes epoch milliseconds from the RFC 3339 text columns (existing rows only;
# new rows get them from Python).
_V2_REPOSITORY = """
ALTER TABLE alerts ADD COLUMN first_seen_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET
    first_seen_ms = CAST(ROUND((julianday(first_seen) - 2440587.5) * 86400000) AS INTEGER),
    last_seen_ms = CAST(ROUND((julianday(last_seen) - 2440587.5) * 86400000) AS INTEGER);
DROP INDEX IF EXISTS alerts_tenant;
DROP INDEX IF EXISTS alerts_first_seen;
CREATE INDEX alerts_order ON alerts (first_seen_ms DESC, id);
CREATE INDEX alerts_tenant ON alerts (tenant_id, first_seen_ms DESC, id);
CREATE INDEX alerts_actor ON alerts (actor_tenant_id, first_seen_ms DESC, id);
CREATE INDEX alerts_detector ON alerts (detector, first_seen_ms DESC);
CREATE INDEX alerts_host ON alerts (host_id, first_seen_ms DESC);
CREATE INDEX alerts_severity ON alerts (severity, first_seen_ms DESC);

CREATE VIRTUAL TABLE alerts_fts USING fts5 (title, summary);
INSERT INTO alerts_fts (rowid, title, summary)
    SELECT rowid, json_extract(doc, '$.title'), json_extract(doc, '$.summary') FROM alerts;
CREATE TRIGGER alerts_fts_insert AFTER INSERT ON alerts BEGIN
    INSERT INTO alerts_fts (rowid, title, summary)
    VALUES (new.rowid, json_extract(new.doc, '$.title'), json_extract(new.doc, '$.summary'));
END;
CREATE TRIGGER alerts_fts_update AFTER UPDATE OF doc ON alerts BEGIN
    DELETE FROM alerts_fts WHERE rowid = old.rowid;
    INSERT INTO alerts_fts (rowid, title, summary)
    VALUES (new.rowid, json_extract(new.doc, '$.title'), json_extract(new.doc, '$.summary'));
END;
CREATE TRIGGER alerts_fts_delete AFTER DELETE ON alerts BEGIN
    DELETE FROM alerts_fts WHERE rowid = old.rowid;
END;

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    severity TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX incidents_order ON incidents (first_seen_ms DESC, id);
-- One row per tenant an incident is visible to (affected or actor), for scoped queries.
CREATE TABLE incident_tenants (
    tenant_id TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (tenant_id, incident_id)
) WITHOUT ROWID;
CREATE TABLE incident_hosts (
    host_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (host_id, incident_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE incidents_fts USING fts5 (title, summary);
CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incidents_fts (rowid, title, summary)
    VALUES (new.rowid, json_extract(new.doc, '$.title'), json_extract(new.doc, '$.summary'));
END;
CREATE TRIGGER incidents_fts_update AFTER UPDATE OF doc ON incidents BEGIN
    DELETE FROM incidents_fts WHERE rowid = old.rowid;
    INSERT INTO incidents_fts (rowid, title, summary)
    VALUES (new.rowid, json_extract(new.doc, '$.title'), json_extract(new.doc, '$.summary'));
END;

-- The action log (append-only) and the state derived from it, per target.
CREATE TABLE actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX actions_target ON actions (target_kind, target_id, seq);
CREATE TRIGGER actions_no_update BEFORE UPDATE ON actions BEGIN
    SELECT RAISE(ABORT, 'the action log is append-only');
END;
CREATE TRIGGER actions_no_delete BEFORE DELETE ON actions BEGIN
    SELECT RAISE(ABORT, 'the action log is append-only');
END;
CREATE TABLE analyst_state (
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (target_kind, target_id)
) WITHOUT ROWID;
CREATE INDEX analyst_state_status ON analyst_state (target_kind, status);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at_ms INTEGER NOT NULL,
    tenant_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
"""

# Suppression rules from "suppress similar" (fenghuo.store.base.SuppressionRule).
_V3_SUPPRESSIONS = """
CREATE TABLE suppressions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT,
    revoked_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX suppressions_tenant ON suppressions (tenant_id);
"""

# Rewriting an incident replaces its tenant and host rows by incident id: without these the
# delete scanned both tables, and upserts slowed as the store grew (bench: 0.2 -> 3.2 ms each).
_V4_INCIDENT_LINKS = """
CREATE INDEX incident_tenants_incident ON incident_tenants (incident_id);
CREATE INDEX incident_hosts_incident ON incident_hosts (incident_id);
"""

# Time windows (`since`) select on last_seen_ms: the situation statistics of the last hours
# scanned every alert (bench: ~360 ms per /stats of the last day over 50k alerts).
_V5_WINDOWS = """
CREATE INDEX alerts_last_seen ON alerts (last_seen_ms);
CREATE INDEX incidents_last_seen ON incidents (last_seen_ms);
"""

# The regulator feed (fenghuo.intel): TAXII collections, their grants, their precomputed objects
# and the status resources of POSTs. A page of objects is a range read: date added is unique per
# collection (microseconds), and the partial indexes keep `match[version]=last|first` one too.
_V6_TAXII = """
CREATE TABLE taxii_collections (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE taxii_grants (
    collection_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    PRIMARY KEY (collection_id, key_id)
) WITHOUT ROWID;
CREATE INDEX taxii_grants_key ON taxii_grants (key_id);
CREATE TABLE taxii_objects (
    collection_id TEXT NOT NULL,
    added_us INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    version TEXT NOT NULL,
    version_us INTEGER NOT NULL,
    spec_version TEXT NOT NULL,
    media_type TEXT NOT NULL,
    is_first INTEGER NOT NULL,
    is_last INTEGER NOT NULL,
    source TEXT,
    body TEXT NOT NULL
);
CREATE INDEX taxii_objects_source ON taxii_objects (collection_id, source) WHERE source IS NOT NULL;
CREATE UNIQUE INDEX taxii_objects_added ON taxii_objects (collection_id, added_us);
CREATE UNIQUE INDEX taxii_objects_version ON taxii_objects (collection_id, id, version_us);
CREATE INDEX taxii_objects_last ON taxii_objects (collection_id, added_us, id) WHERE is_last = 1;
CREATE INDEX taxii_objects_first ON taxii_objects (collection_id, added_us, id) WHERE is_first = 1;
CREATE INDEX taxii_objects_type ON taxii_objects (collection_id, type, added_us);
CREATE TABLE taxii_status (
    id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""

# Regulator reports (fenghuo.intel.reports): the document plus the columns its filters need.
# Only draft/submitted is stored; due and overdue are computed against the clock in the query.
_V7_REPORTS = """
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    tenant_id TEXT,
    submitted INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER,
    due_from_ms INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX reports_due ON reports (submitted, due_ms);
CREATE INDEX reports_tenant ON reports (tenant_id, due_ms);
CREATE INDEX reports_incident ON reports (incident_id);
"""

# The console (issue 10). `grade` and `risk` as columns (and in a covering index) so incident
# figures are GROUP BYs without JSON per row (backfilled here, written by the upsert from then
# on). `changes` is a short change log written by triggers, read by the API's live stream: one
# indexed range read per tick finds what changed (new or rewritten alerts and incidents, analyst
# state, reports), whoever wrote it (the stream job's sink, the correlator, the API). Each
# trigger keeps only the last 100,000 entries, so the log stays small without a cleaner.
_V8_CONSOLE = """
ALTER TABLE incidents ADD COLUMN grade TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN risk REAL NOT NULL DEFAULT 0;
UPDATE incidents SET
    grade = COALESCE(json_extract(doc, '$.grade'), ''),
    risk = COALESCE(json_extract(doc, '$.risk_score'), 0);
-- Covering indexes of the overview's windowed figures: the GROUP BYs read these alone instead
-- of a large row (the document) per alert or incident in the window.
CREATE INDEX alerts_window_figures ON alerts
    (last_seen_ms, first_seen_ms, severity, detector, tenant_id, actor_tenant_id, host_id, id);
CREATE INDEX incidents_window_figures ON incidents
    (last_seen_ms, first_seen_ms, severity, grade, risk, id);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL
);
CREATE TRIGGER changes_alert_insert AFTER INSERT ON alerts BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('alert', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_alert_update AFTER UPDATE OF doc ON alerts BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('alert', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_incident_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('incident', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_incident_update AFTER UPDATE OF doc ON incidents BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('incident', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_state_insert AFTER INSERT ON analyst_state BEGIN
    INSERT INTO changes (kind, target_id) VALUES (new.target_kind, new.target_id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_state_update AFTER UPDATE ON analyst_state BEGIN
    INSERT INTO changes (kind, target_id) VALUES (new.target_kind, new.target_id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_report_insert AFTER INSERT ON reports BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('report', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
CREATE TRIGGER changes_report_update AFTER UPDATE ON reports BEGIN
    INSERT INTO changes (kind, target_id) VALUES ('report', new.id);
    DELETE FROM changes WHERE seq <= last_insert_rowid() - 100000;
END;
"""


# The console at scale (1M alerts). A tenant's window (`tenant = ? OR actor = ?` and
# `last_seen_ms >= ?`) read every alert of the tenant through alerts_tenant/alerts_actor
# (the equality looks more selective to the planner than the window): a tenant viewer's /stats of
# the last hour took 3.4 s. The window indexes lead with the tenant, then last_seen_ms. They must
# not take a tenant's unwindowed pages from alerts_tenant/alerts_actor (whose first_seen order
# lets the LIMIT stop early: 0.15 s, against 1-3 s through a window index): at equal estimated
# cost the planner keeps the index it meets first, the most recently created one, hence the
# rebuild of those two after (tests/store/test_figures_rollup.py checks both plans).
#
# `alert_hours` counts alerts per hour of first_seen and of last_seen, victim and actor tenant
# (both '' when absent) and one of severity ('s'), detector ('d') or host ('h', alerts with a
# host only), kept by triggers in the writer's transaction. Statistics over days read it instead
# of every alert (`fenghuo.store.sqlite_figures.rolled_up_stats`); both hours are kept so that a
# window's edges are decided exactly (evidence overlapping [since, until)).
ROLLUP_HOUR_MS = 3_600_000  # alert_hours' hour, read by fenghuo.store.sqlite_figures
_ROLLUP_COLUMNS = ("kind", "last_hour", "first_hour", "tenant_id", "actor_tenant_id", "value")
_ROLLUP_KEY = f"({', '.join(_ROLLUP_COLUMNS)})"


def _rollup_rows(row: str) -> list[tuple[str, ...]]:
    """The rollup keys (SQL expressions, in `_ROLLUP_COLUMNS` order) of one alert row: `new`
    or `old` in a trigger, the table's alias in the backfill."""
    hours = (
        f"{row}.last_seen_ms / {ROLLUP_HOUR_MS} * {ROLLUP_HOUR_MS}",
        f"{row}.first_seen_ms / {ROLLUP_HOUR_MS} * {ROLLUP_HOUR_MS}",
    )
    tenants = (f"COALESCE({row}.tenant_id, '')", f"COALESCE({row}.actor_tenant_id, '')")
    values = (("'s'", f"{row}.severity"), ("'d'", f"{row}.detector"), ("'h'", f"{row}.host_id"))
    return [(kind, *hours, *tenants, value) for kind, value in values]


def _rollup_add(row: str) -> str:
    return "".join(
        f"    INSERT INTO alert_hours {_ROLLUP_KEY[:-1]}, n)\n"
        f"        SELECT {', '.join(key)}, 1 WHERE {key[-1]} IS NOT NULL\n"
        f"        ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET n = n + 1;\n"
        for key in _rollup_rows(row)
    )


def _rollup_remove(row: str) -> str:
    found = [
        " AND ".join(f"{c} = {e}" for c, e in zip(_ROLLUP_COLUMNS, key, strict=True))
        for key in _rollup_rows(row)
    ]
    return "".join(
        f"    UPDATE alert_hours SET n = n - 1 WHERE {where};\n"  # noqa: S608 - constant SQL
        f"    DELETE FROM alert_hours WHERE {where} AND n <= 0;\n"
        for where in found
    )


def _rollup_moved() -> str:
    """An update that changes an alert's rollup rows (most rewrites only extend last_seen)."""
    keys = ("severity", "detector", "host_id", "tenant_id", "actor_tenant_id")
    hours = (f"{c} / {ROLLUP_HOUR_MS}" for c in ("first_seen_ms", "last_seen_ms"))
    return " OR ".join(
        [f"old.{k} IS NOT new.{k}" for k in keys] + [f"old.{h} IS NOT new.{h}" for h in hours]
    )


def _rollup_backfill() -> str:
    return "\n    UNION ALL\n".join(
        f"    SELECT {', '.join(key[:-1])}, {key[-1]}, count(*) FROM alerts a"  # noqa: S608 - constant SQL
        f" WHERE {key[-1]} IS NOT NULL GROUP BY 2, 3, 4, 5, 6"
        for key in _rollup_rows("a")
    )


_V9_CONSOLE_SCALE = f"""
CREATE INDEX alerts_tenant_window ON alerts (tenant_id, last_seen_ms, first_seen_ms, id);
CREATE INDEX alerts_actor_window ON alerts (actor_tenant_id, last_seen_ms, first_seen_ms, id);
DROP INDEX alerts_tenant;
DROP INDEX alerts_actor;
CREATE INDEX alerts_tenant ON alerts (tenant_id, first_seen_ms DESC, id);
CREATE INDEX alerts_actor ON alerts (actor_tenant_id, first_seen_ms DESC, id);
CREATE TABLE alert_hours (
    kind TEXT NOT NULL,
    last_hour INTEGER NOT NULL,
    first_hour INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    actor_tenant_id TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY {_ROLLUP_KEY}
) WITHOUT ROWID;
INSERT INTO alert_hours {_ROLLUP_KEY[:-1]}, n)
{_rollup_backfill()};
CREATE TRIGGER alert_hours_insert AFTER INSERT ON alerts BEGIN
{_rollup_add("new")}END;
CREATE TRIGGER alert_hours_update AFTER UPDATE ON alerts WHEN {_rollup_moved()} BEGIN
{_rollup_remove("old")}{_rollup_add("new")}END;
CREATE TRIGGER alert_hours_delete AFTER DELETE ON alerts BEGIN
{_rollup_remove("old")}END;
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_BASE,
    _V2_REPOSITORY,
    _V3_SUPPRESSIONS,
    _V4_INCIDENT_LINKS,
    _V5_WINDOWS,
    _V6_TAXII,
    _V7_REPORTS,
    _V8_CONSOLE,
    _V9_CONSOLE_SCALE,
)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to the latest version; return it. `db` must be in autocommit mode
    (isolation_level=None); the whole upgrade is one transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    (current,) = db.execute("SELECT count(*) FROM schema_version").fetchone()
    if current and _version(db) >= len(MIGRATIONS):
        return len(MIGRATIONS)
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _version(db)
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                db.execute(statement)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return len(MIGRATIONS)


def _version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction); a trigger's
    body keeps its inner semicolons."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
