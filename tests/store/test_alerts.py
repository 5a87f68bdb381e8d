"""The SQLite alert store: upserts fold versions by id, so repeats and any order give the same
rows (what at-least-once delivery after a restart needs)."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
from pathlib import Path

from fenghuo.model.alert import Alert, Severity
from fenghuo.store.alerts import AlertStore
from fenghuo.streaming.replay import fold_alerts

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def version(alert_id: str, minute: int, severity: Severity, *evidence: str) -> Alert:
    return Alert(
        id=alert_id,
        detector="vmm-crash",
        title="QEMU crashed",
        summary=f"crash at minute {minute}",
        severity=severity,
        confidence=0.5 + minute / 100,
        technique="T1499",
        category="DA01",
        tenant_id="acme",
        host_id="hv-01",
        first_seen=T0 + dt.timedelta(minutes=minute),
        last_seen=T0 + dt.timedelta(minutes=minute + 1),
        detected_at=T0 + dt.timedelta(hours=1, minutes=minute),
        evidence=evidence,
        evidence_count=len(evidence),
    )


VERSIONS = [
    version("a1", 0, Severity.MEDIUM, "e1"),
    version("a1", 3, Severity.HIGH, "e1", "e2"),
    version("a1", 5, Severity.MEDIUM, "e3"),
    version("b2", 1, Severity.LOW, "e9"),
]


def test_upsert_folds_versions_like_fold_alerts(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.db")
    for alert in VERSIONS:
        store.upsert([alert])
    assert store.all() == fold_alerts(VERSIONS)
    assert store.count() == 2
    merged = store.get("a1")
    assert merged is not None
    assert merged.severity is Severity.HIGH
    assert merged.evidence == ("e1", "e2", "e3")


def test_repeats_and_any_order_change_nothing(tmp_path: Path) -> None:
    """At-least-once: a restarted job re-emits versions, in another order."""
    store = AlertStore(tmp_path / "alerts.db")
    replayed = VERSIONS * 3
    random.Random(4).shuffle(replayed)
    store.upsert(replayed[:5])
    store.upsert(replayed[5:])
    assert store.all() == fold_alerts(VERSIONS)


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    AlertStore(path)
    evidence = [version("c3", 2, Severity.LOW, f"e{i:02d}") for i in range(40)]

    def write(part: list[Alert]) -> None:
        store = AlertStore(path)
        for alert in part:
            store.upsert([alert])

    threads = [threading.Thread(target=write, args=(evidence[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = AlertStore(path).get("c3")
    assert stored is not None
    assert len(stored.evidence) == 40


def test_wal_mode_and_queryable_columns(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.db")
    store.upsert(VERSIONS)
    with sqlite3.connect(tmp_path / "alerts.db") as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
        rows = db.execute("SELECT id, tenant_id, severity FROM alerts ORDER BY id").fetchall()
    assert mode == "wal"
    assert rows == [("a1", "acme", "high"), ("b2", "acme", "low")]
