"""The hourly alert rollup (migration 9, `alert_hours`) answers a window's statistics exactly as
the direct query over the alerts does: random alerts, some rewritten (evidence extended across
hours, severity raised, host changed) and some deleted, random windows on and off the hour, the
whole store's scope and every tenant's (victim or actor), several bucket widths. The tenant
indexes of the same migration serve a tenant's windows without taking its pages."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fenghuo.model.alert import Alert, Severity
from fenghuo.model.incident import IncidentStatus
from fenghuo.store.base import AlertQuery, Scope
from fenghuo.store.migrations import ROLLUP_HOUR_MS as HOUR_MS
from fenghuo.store.sqlite import SqliteStore
from fenghuo.store.sqlite_figures import rolled_up_stats

T0 = dt.datetime(2026, 3, 1, 12, 17, 23, 456_000, tzinfo=dt.UTC)
TENANTS = ("acme", "globex", "initech", "hooli")
ACTOR_ONLY = "umbrella"  # named only as an actor
HOSTS = ("hv-01", "hv-02", "hv-03", "hv-04", "hv-05")
DETECTORS = ("vmm-child-process", "cross-tenant-flow", "port-scan", "crypto-mining")
SCOPES = [Scope.everything()] + [Scope.of(t) for t in (*TENANTS, ACTOR_ONLY, "nobody")]
BUCKETS = [dt.timedelta(minutes=m) for m in (5, 10, 60, 90, 120, 180, 1440)]


def random_alert(rng: random.Random, i: int) -> Alert:
    first = T0 + dt.timedelta(milliseconds=rng.randint(-3 * 86_400_000, 3 * 86_400_000))
    span = rng.choice([0, 1, 45_000, 20 * 60_000, 3 * HOUR_MS, 9 * HOUR_MS])
    return Alert(
        id=f"a-{i}",
        detector=rng.choice(DETECTORS),
        title="t",
        summary="s",
        severity=rng.choice(list(Severity)),
        confidence=0.5,
        technique="T1611",
        category="MI-01",
        tenant_id=rng.choice([*TENANTS, None]),
        actor_tenant_id=rng.choice([None, None, None, ACTOR_ONLY, *TENANTS]),
        host_id=rng.choice([*HOSTS, None]),
        first_seen=first,
        last_seen=first + dt.timedelta(milliseconds=rng.randint(0, span)),
        detected_at=first,
    )


def rewritten(rng: random.Random, alert: Alert) -> Alert:
    """A later version: evidence further on (often into another hour), maybe more severe, on
    another host (the merge keeps the most severe version's host and severity)."""
    return msgspec.structs.replace(
        alert,
        severity=rng.choice(list(Severity)),
        host_id=rng.choice([*HOSTS, None]),
        last_seen=alert.last_seen + dt.timedelta(milliseconds=rng.randint(0, 4 * HOUR_MS)),
        first_seen=alert.first_seen - dt.timedelta(milliseconds=rng.randint(0, 30 * 60_000)),
    )


def seeded(path: Path, n: int, seed: int) -> SqliteStore:
    rng = random.Random(seed)
    store = SqliteStore(path)
    alerts = [random_alert(rng, i) for i in range(n)]
    store.alerts.upsert(alerts)
    store.alerts.upsert([rewritten(rng, a) for a in rng.sample(alerts, n // 4)])
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    s = seeded(tmp_path_factory.mktemp("rollup") / "fenghuo.db", 3000, seed=11)
    yield s
    s.close()


def connect(store: SqliteStore) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(store.path))


def recount(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """What the triggers should have kept: the migration's backfill, computed again."""
    hour = f"/ {HOUR_MS} * {HOUR_MS}"
    rows = []
    for kind, column in (("s", "severity"), ("d", "detector"), ("h", "host_id")):
        rows += db.execute(
            f"SELECT ?, last_seen_ms {hour}, first_seen_ms {hour}, COALESCE(tenant_id, ''),"
            f" COALESCE(actor_tenant_id, ''), {column}, count(*) FROM alerts"
            f" WHERE {column} IS NOT NULL GROUP BY 2, 3, 4, 5, 6",
            (kind,),
        ).fetchall()
    return sorted(rows)


def kept(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return sorted(
        db.execute(
            "SELECT kind, last_hour, first_hour, tenant_id, actor_tenant_id, value, n"
            " FROM alert_hours"
        ).fetchall()
    )


def test_the_triggers_keep_the_rollup_equal_to_a_recount(tmp_path: Path) -> None:
    store = seeded(tmp_path / "fenghuo.db", 800, seed=5)
    try:
        with connect(store) as db:
            assert kept(db) == recount(db)
            assert all(row[-1] > 0 for row in kept(db))
            db.execute("DELETE FROM alerts WHERE rowid % 3 = 0")
            db.commit()
            assert kept(db) == recount(db)
            assert all(row[-1] > 0 for row in kept(db)), "emptied rows are removed"
    finally:
        store.close()


def test_the_migration_backfills_existing_alerts(tmp_path: Path) -> None:
    store = seeded(tmp_path / "fenghuo.db", 500, seed=6)
    store.close()
    with closing(sqlite3.connect(tmp_path / "fenghuo.db", isolation_level=None)) as db:
        # Back to a store of migration 8 with these alerts.
        for trigger in ("insert", "update", "delete"):
            db.execute(f"DROP TRIGGER alert_hours_{trigger}")
        for index in ("alerts_tenant_window", "alerts_actor_window"):
            db.execute(f"DROP INDEX {index}")
        db.execute("DROP TABLE alert_hours")
        db.execute("UPDATE schema_version SET version = 8")
    SqliteStore(tmp_path / "fenghuo.db").close()  # runs migration 9
    with closing(sqlite3.connect(tmp_path / "fenghuo.db")) as db:
        assert kept(db)
        assert kept(db) == recount(db)


def windows(rng: random.Random, n: int) -> Iterator[tuple[dt.datetime | None, dt.datetime | None]]:
    def moment() -> dt.datetime:
        t = T0 + dt.timedelta(milliseconds=rng.randint(-4 * 86_400_000, 4 * 86_400_000))
        if rng.random() < 0.3:  # on the hour
            t = t.replace(minute=0, second=0, microsecond=0)
        return t

    yield None, None
    for _ in range(n):
        since, until = moment(), moment()
        since, until = min(since, until), max(since, until)
        if since == until:
            until += dt.timedelta(milliseconds=1)
        choice = rng.random()
        if choice < 0.25:
            yield since, None
        elif choice < 0.4:
            yield None, until
        else:
            yield since, until


def test_the_rollup_answers_as_the_direct_query(store: SqliteStore) -> None:
    rng = random.Random(3)
    checked = 0
    with connect(store) as db:
        for since, until in windows(rng, 60):
            query = AlertQuery(since=since, until=until)
            for scope in SCOPES:
                bucket, top = rng.choice(BUCKETS), rng.choice([1, 3, 10])
                rolled = rolled_up_stats(db, scope, query, bucket=bucket, top=top)
                direct = store.alerts.stats(scope, query, bucket=bucket, top=top)
                assert rolled == direct, (since, until, scope, bucket)
                checked += direct.total
    assert checked > 10_000, "the windows selected too few alerts to prove anything"


def test_a_tenant_sees_only_its_alerts_in_the_rollup(store: SqliteStore) -> None:
    with connect(store) as db:
        for tenant in (*TENANTS, ACTOR_ONLY):
            rolled = rolled_up_stats(
                db, Scope.of(tenant), AlertQuery(), bucket=dt.timedelta(hours=1), top=10
            )
            assert rolled is not None
            (expected,) = db.execute(
                "SELECT count(*) FROM alerts WHERE tenant_id = ? OR actor_tenant_id = ?",
                (tenant, tenant),
            ).fetchone()
            assert rolled.total == expected
            assert set(rolled.by_tenant) <= {tenant, *TENANTS, ""}
        nobody = rolled_up_stats(db, Scope.of("nobody"), AlertQuery(), bucket=BUCKETS[2], top=5)
        assert nobody is not None
        assert nobody.total == 0
        assert nobody.buckets == []


@pytest.mark.parametrize(
    ("query", "bucket"),
    [
        (AlertQuery(severities=frozenset({Severity.HIGH})), dt.timedelta(hours=1)),
        (AlertQuery(tenant="acme"), dt.timedelta(hours=1)),
        (AlertQuery(exclude_hosts=frozenset({"hv-01"})), dt.timedelta(hours=1)),
        (AlertQuery(text="escape"), dt.timedelta(hours=1)),
        (AlertQuery(statuses=frozenset({IncidentStatus.RESOLVED})), dt.timedelta(hours=1)),
    ],
)
def test_what_the_rollup_cannot_answer_is_left_to_the_direct_query(
    store: SqliteStore, query: AlertQuery, bucket: dt.timedelta
) -> None:
    with connect(store) as db:
        assert rolled_up_stats(db, Scope.everything(), query, bucket=bucket, top=10) is None


def test_evidence_before_1970_is_left_to_the_direct_query(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    try:
        old = random_alert(random.Random(1), 1)
        early = dt.datetime(1969, 12, 31, 23, 30, tzinfo=dt.UTC)
        store.alerts.upsert([msgspec.structs.replace(old, first_seen=early, last_seen=early)])
        with connect(store) as db:
            assert (
                rolled_up_stats(db, Scope.everything(), AlertQuery(), bucket=BUCKETS[0], top=3)
                is None
            )
    finally:
        store.close()


def plan(db: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_a_tenants_windows_and_pages_read_the_right_indexes(store: SqliteStore) -> None:
    """The shapes `SqliteAlerts` queries in a tenant's scope: a window reads the tenant window
    indexes; a page without one keeps reading alerts_tenant/alerts_actor in first_seen order."""
    scoped = (
        "FROM alerts a LEFT JOIN analyst_state s ON s.target_kind = 'alert' AND s.target_id = a.id"
        " WHERE (a.tenant_id = ? OR a.actor_tenant_id = ?)"
    )
    with connect(store) as db:
        window = plan(
            db,
            f"SELECT +a.severity, count(*) {scoped} AND a.last_seen_ms >= ? GROUP BY 1",
            ("acme", "acme", 0),
        )
        assert "alerts_tenant_window" in window
        assert "alerts_actor_window" in window
        page = plan(
            db,
            f"SELECT a.doc, s.doc, a.first_seen_ms, a.id {scoped}"
            " ORDER BY a.first_seen_ms DESC, a.id LIMIT ?",
            ("acme", "acme", 51),
        )
        assert "USING INDEX alerts_tenant " in page
        assert "USING INDEX alerts_actor " in page
