"""The store queries behind the console: incident figures aggregated by each backend agree with
the in-memory rule over the same incidents (scoped, windowed, with analyst state), and the
SQLite change log names what was written, rewritten and triaged since a point."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from fenghuo.model.alert import Alert, Severity
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.base import ActionKind, AnalystAction, IncidentQuery, Scope, Store
from fenghuo.store.figures import OPEN_STATUSES, aggregate_incidents
from fenghuo.store.sqlite import SqliteStore
from tests.store.backends import open_backend

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
TENANTS = ("acme", "globex", "initech", "hooli")


@pytest.fixture(params=["sqlite", "es-model", "opensearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """SQLite, the search backend on the client model and on a real OpenSearch node
    (tests/store/backends.py)."""
    yield from open_backend(request.param, tmp_path)


def incidents(n: int, seed: int = 3) -> list[Incident]:
    rng = random.Random(seed)
    found = []
    for i in range(n):
        first = T0 + dt.timedelta(minutes=rng.randint(0, 600))
        found.append(
            Incident(
                id=f"inc-{i:03d}",
                title=f"incident {i}",
                severity=rng.choice(list(Severity)),
                alert_ids=(f"a-{i}",),
                tenants=(rng.choice(TENANTS),),
                actor_tenants=(rng.choice(TENANTS),) if i % 3 == 0 else (),
                hosts=("hv-01",),
                first_seen=first,
                last_seen=first + dt.timedelta(minutes=rng.randint(0, 90)),
                updated_at=first,
                category="MI-01",
                grade=rng.choice(list(Grade)),
                risk_score=float(rng.randint(0, 100)),
            )
        )
    return found


def act(store: Store, target: Incident, kind: ActionKind, n: int) -> None:
    action = AnalystAction(
        id=f"act-{n}",
        target_kind="incident",
        target_id=target.id,
        kind=kind,
        actor="tester",
        role="soc_analyst",
        at=T0,
    )
    store.actions.record(Scope.everything(), action)


@pytest.mark.parametrize("scope", [Scope.everything(), Scope.of("acme"), Scope.of("hooli")])
@pytest.mark.parametrize(
    "query",
    [
        IncidentQuery(),
        IncidentQuery(since=T0 + dt.timedelta(hours=3), until=T0 + dt.timedelta(hours=6)),
        IncidentQuery(statuses=OPEN_STATUSES),
    ],
)
def test_aggregates_agree_with_the_in_memory_rule(
    store: Store, scope: Scope, query: IncidentQuery
) -> None:
    written = incidents(80)
    store.incidents.upsert(written)
    kinds = (ActionKind.RESOLVE, ActionKind.ACKNOWLEDGE, ActionKind.FALSE_POSITIVE)
    for n, incident in enumerate(written[::4]):
        act(store, incident, kinds[n % 3], n)
    shown: list[Incident] = []
    cursor: str | None = None
    while True:
        page = store.incidents.list(scope, query, limit=50, cursor=cursor)
        shown.extend(v.incident for v in page.items)
        if (cursor := page.next_cursor) is None:
            break
    expected = aggregate_incidents(shown)
    got = store.incidents.aggregate(scope, query)
    assert got.total == len(shown) > 0
    key = lambda r: r.tenant_id  # noqa: E731
    assert sorted(got.tenants, key=key) == sorted(expected.tenants, key=key)
    assert msgspec.structs.replace(got, tenants=[]) == msgspec.structs.replace(expected, tenants=[])


def test_the_change_log_names_new_rewritten_and_triaged_targets(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    try:
        start = store.changes.latest()
        assert store.changes.since(start).alerts == []
        alert = Alert(
            id="alert-1",
            detector="vmm-child-process",
            title="a shell under qemu",
            summary="s",
            severity=Severity.HIGH,
            confidence=0.9,
            technique="T1611",
            category="MI-01",
            tenant_id="acme",
            first_seen=T0,
            last_seen=T0,
            detected_at=T0,
        )
        store.alerts.upsert([alert])
        batch = store.changes.since(start)
        assert [v.alert.id for v in batch.alerts] == ["alert-1"]
        after_insert = batch.last_seq
        store.alerts.upsert([msgspec.structs.replace(alert, last_seen=T0 + dt.timedelta(1))])
        assert [v.alert.id for v in store.changes.since(after_insert).alerts] == ["alert-1"]
        (incident,) = incidents(1)
        store.incidents.upsert([incident])
        mark = store.changes.latest()
        act(store, incident, ActionKind.RESOLVE, 1)
        batch = store.changes.since(mark)
        assert [v.incident.status.value for v in batch.incidents] == ["resolved"]
        assert store.changes.since(batch.last_seq).incidents == []
        small = store.changes.since(start, limit=1)
        assert small.more
        assert len(small.alerts) == 1
    finally:
        store.close()
