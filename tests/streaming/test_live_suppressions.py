"""Analyst suppression rules reach the detection engine from the store while it runs: added,
they stop similar alerts (counted); revoked, the alerts come back; a store outage keeps the
last rules. Real SQLite store; the refresh clock is driven by the test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.testing import demo_inventory
from fenghuo.store.base import Scope, Store, SuppressionRule
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.replay import replay
from fenghuo.streaming.suppressions import StoreSuppressions
from tests.detectors.test_engine import NOW, T0, Counting, audit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def engine(rules: StoreSuppressions) -> DetectionEngine:
    return DetectionEngine(
        [Counting()], demo_inventory().current, clock=lambda: NOW, live_suppressions=rules
    )


def rule(**fields: object) -> SuppressionRule:
    values: dict[str, object] = {
        "id": "r1",
        "detector": "counting",
        "tenant_id": "acme",
        "host_id": "hv-01",
        "created_by": "analyst",
        "created_at": T0,
    }
    values.update(fields)
    return SuppressionRule(**values)  # type: ignore[arg-type]


def test_rules_added_and_revoked_in_the_store_apply_to_the_running_engine(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    clock = Clock()
    rules = StoreSuppressions(lambda: store, refresh=5.0, clock=clock)
    events = [audit(1), audit(2, host="hv-02")]
    expected = [("acme", "hv-01"), ("acme", "hv-02")]
    assert sorted((a.tenant_id, a.host_id) for a in replay(events, engine(rules)).alerts) == (
        expected
    )

    store.suppressions.add(rule())
    unchanged = replay(events, engine(rules)).alerts  # not re-read before the refresh
    assert sorted((a.tenant_id, a.host_id) for a in unchanged) == expected
    clock.now = 5.0
    eng = engine(rules)
    after = replay(events, eng).alerts
    assert [(a.tenant_id, a.host_id) for a in after] == [("acme", "hv-02")]
    assert eng.suppressed["counting"] == 1

    assert store.suppressions.revoke(Scope.everything(), "r1")
    clock.now = 10.0
    back = replay([audit(1)], engine(rules)).alerts
    assert [(a.tenant_id, a.host_id) for a in back] == [("acme", "hv-01")]


def test_an_expired_rule_lets_later_alerts_through(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    store.suppressions.add(rule(until=T0 + dt.timedelta(minutes=5)))
    rules = StoreSuppressions(lambda: store)
    result = replay([audit(1), audit(30)], engine(rules)).alerts
    assert [a.evidence for a in result] == [("e30",)]


def test_a_store_outage_keeps_the_last_rules(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    store.suppressions.add(rule())
    clock = Clock()
    opened: list[Store] = []

    def open_once() -> Store:
        if opened:
            raise OSError("store down")
        opened.append(store)
        return store

    rules = StoreSuppressions(open_once, refresh=1.0, clock=clock)
    assert [r.id for r in rules()] == ["r1"]
    store.close()  # the open store now fails every read
    clock.now = 2.0
    assert [r.id for r in rules()] == ["r1"]
    assert replay([audit(1)], engine(rules)).alerts == []


def test_the_stream_jobs_engine_reads_the_jobs_store(tmp_path: Path) -> None:
    db = tmp_path / "fenghuo.db"
    SqliteStore(db).suppressions.add(rule())
    spec = EngineSpec(inventory=demo_inventory_path(), detectors=(Counting(),), suppressions_db=db)
    eng = spec.build()
    assert replay([audit(1), audit(2, host="hv-02")], eng).alerts[0].host_id == "hv-02"
    assert eng.suppressed["counting"] == 1
    assert EngineSpec(inventory=demo_inventory_path()).build().live_suppressions is None
