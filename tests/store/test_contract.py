"""The store contract, run against every backend (tests/store/backends.py): SQLite always; a real
OpenSearch node (FENGHUO_OPENSEARCH_URL) and Elasticsearch (FENGHUO_ES_URL) when there is one (a
fresh index prefix per test, deleted afterwards); without a server its cases are reported as
skipped, never as passed. The `es-model` cases run the search backend's code against an
in-memory model of the client layer: they check that code against our reading of the servers'
semantics, and stand in for no server."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from fenghuo.model.alert import Alert, Entity, Severity
from fenghuo.model.incident import Grade, Incident, IncidentStatus
from fenghuo.store.base import (
    ActionKind,
    AlertQuery,
    AnalystAction,
    AuditEntry,
    IncidentQuery,
    NotFoundError,
    Scope,
    Store,
    SuppressionRule,
    at_least,
)
from fenghuo.store.keys import Role
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.replay import fold_alerts
from tests.store.backends import ALL_BACKENDS, open_backend

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
ALL = Scope.everything()
ACME = Scope.of("acme")
GLOBEX = Scope.of("globex")
INITECH = Scope.of("initech")


@pytest.fixture(params=ALL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (tests/store/backends.py)."""
    yield from open_backend(request.param, tmp_path)


def alert(
    alert_id: str,
    *,
    tenant: str | None = "acme",
    actor: str | None = None,
    minute: int = 0,
    severity: Severity = Severity.MEDIUM,
    detector: str = "vmm-crash",
    title: str = "QEMU crashed",
    summary: str = "qemu process of a VM crashed",
    host: str | None = "hv-01",
    evidence: tuple[str, ...] = ("e1",),
) -> Alert:
    return Alert(
        id=alert_id,
        detector=detector,
        title=title,
        summary=summary,
        severity=severity,
        confidence=0.5,
        technique="T1499",
        category="DA01",
        tenant_id=tenant,
        actor_tenant_id=actor,
        host_id=host,
        entities=(Entity("host", host),) if host else (),
        first_seen=T0 + dt.timedelta(minutes=minute),
        last_seen=T0 + dt.timedelta(minutes=minute + 1),
        detected_at=T0 + dt.timedelta(minutes=minute + 2),
        evidence=evidence,
        evidence_count=len(evidence),
    )


def incident(
    incident_id: str,
    *,
    tenants: tuple[str, ...] = ("acme",),
    actors: tuple[str, ...] = (),
    minute: int = 0,
    updated: int = 0,
    title: str = "VM escape on hv-01",
    severity: Severity = Severity.HIGH,
) -> Incident:
    return Incident(
        id=incident_id,
        title=title,
        summary=f"incident {incident_id} (version {updated})",
        severity=severity,
        alert_ids=(f"{incident_id}-a",),
        tenants=tenants,
        actor_tenants=actors,
        hosts=("hv-01",),
        first_seen=T0 + dt.timedelta(minutes=minute),
        last_seen=T0 + dt.timedelta(minutes=minute + 5),
        updated_at=T0 + dt.timedelta(hours=1, minutes=updated),
        category="DA01",
        grade=Grade.III,
    )


def action(
    target: str,
    kind: ActionKind,
    *,
    target_kind: str = "alert",
    minute: int = 0,
    assignee: str | None = None,
    comment: str = "",
    action_id: str | None = None,
) -> AnalystAction:
    return msgspec.convert(
        {
            "id": action_id or uuid.uuid4().hex,
            "target_kind": target_kind,
            "target_id": target,
            "kind": kind,
            "actor": "key-1",
            "role": "soc_analyst",
            "at": (T0 + dt.timedelta(hours=2, minutes=minute)).isoformat(),
            "assignee": assignee,
            "comment": comment,
        },
        AnalystAction,
    )


def ids(items: list[object]) -> list[str]:
    out = []
    for item in items:
        doc = getattr(item, "alert", None) or getattr(item, "incident", None)
        out.append(getattr(doc, "id", ""))
    return out


def alert_ids(store: Store, scope: Scope, query: AlertQuery = AlertQuery()) -> set[str]:  # noqa: B008
    page = store.alerts.list(scope, query, limit=1000)
    return {v.alert.id for v in page.items}


# --- alerts: idempotent upsert -------------------------------------------------------------


VERSIONS = [
    alert("a1", minute=0, severity=Severity.MEDIUM, evidence=("e1",)),
    alert("a1", minute=3, severity=Severity.HIGH, evidence=("e1", "e2"), summary="worse"),
    alert("a1", minute=5, severity=Severity.MEDIUM, evidence=("e3",)),
    alert("b2", minute=1, severity=Severity.LOW, evidence=("e9",)),
]


def test_same_version_twice_is_one_document(store: Store) -> None:
    store.alerts.upsert([VERSIONS[0]])
    store.alerts.upsert([VERSIONS[0]])
    assert store.alerts.count(ALL) == 1
    view = store.alerts.get(ALL, "a1")
    assert view is not None
    assert view.alert == VERSIONS[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_versions_in_any_order_fold_to_the_same_document(store: Store, seed: int) -> None:
    replayed = VERSIONS * 2
    random.Random(seed).shuffle(replayed)
    for part in (replayed[:3], replayed[3:5], replayed[5:]):
        store.alerts.upsert(part)
    expected = {a.id: a for a in fold_alerts(VERSIONS)}
    for alert_id, folded in expected.items():
        view = store.alerts.get(ALL, alert_id)
        assert view is not None
        assert view.alert == folded
    assert store.alerts.count(ALL) == 2


# --- tenant scope --------------------------------------------------------------------------


def seed_tenants(store: Store) -> None:
    store.alerts.upsert(
        [
            alert("acme-1", tenant="acme", minute=1, title="Container escape", host="hv-01"),
            alert("globex-1", tenant="globex", minute=2, title="Container escape", host="hv-02"),
            # globex harmed by activity from acme: both see it.
            alert("cross-1", tenant="globex", actor="acme", minute=3, title="Cross tenant flow"),
            alert("none-1", tenant=None, minute=4, title="Container escape"),
        ]
    )
    store.incidents.upsert(
        [
            incident("inc-acme", tenants=("acme",), minute=1),
            incident("inc-globex", tenants=("globex",), minute=2),
            incident("inc-cross", tenants=("globex",), actors=("acme",), minute=3),
        ]
    )


def test_tenant_sees_only_its_alerts_everywhere(store: Store) -> None:
    seed_tenants(store)
    assert alert_ids(store, ALL) == {"acme-1", "globex-1", "cross-1", "none-1"}
    assert alert_ids(store, ACME) == {"acme-1", "cross-1"}
    assert alert_ids(store, GLOBEX) == {"globex-1", "cross-1"}
    assert alert_ids(store, INITECH) == set()
    assert store.alerts.get(ACME, "globex-1") is None
    assert store.alerts.get(GLOBEX, "globex-1") is not None
    assert store.alerts.get(INITECH, "none-1") is None
    assert store.alerts.count(ACME) == 2
    assert store.alerts.count(INITECH) == 0
    escape = AlertQuery(text="escape")
    assert alert_ids(store, ACME, escape) == {"acme-1"}
    assert alert_ids(store, ALL, escape) == {"acme-1", "globex-1", "none-1"}
    stats = store.alerts.stats(ACME)
    assert stats.total == 2
    assert sum(stats.by_severity.values()) == 2
    assert stats.by_tenant == {"acme": 1, "globex": 1}
    assert dict(stats.top_hosts) == {"hv-01": 2}
    assert store.alerts.stats(INITECH).total == 0
    # A narrower tenant filter never widens the scope.
    assert alert_ids(store, ACME, AlertQuery(tenant="globex")) == {"cross-1"}


def test_tenant_sees_only_its_incidents(store: Store) -> None:
    seed_tenants(store)

    def listed(scope: Scope) -> set[str]:
        return {v.incident.id for v in store.incidents.list(scope, limit=100).items}

    assert listed(ALL) == {"inc-acme", "inc-globex", "inc-cross"}
    assert listed(ACME) == {"inc-acme", "inc-cross"}
    assert listed(GLOBEX) == {"inc-globex", "inc-cross"}
    assert listed(INITECH) == set()
    assert store.incidents.get(ACME, "inc-globex") is None
    assert store.incidents.count(GLOBEX) == 2
    assert store.incidents.count(ACME, IncidentQuery(text="escape")) == 2


def test_actions_outside_scope_are_refused(store: Store) -> None:
    seed_tenants(store)
    with pytest.raises(NotFoundError):
        store.actions.record(ACME, action("globex-1", ActionKind.ACKNOWLEDGE))
    with pytest.raises(NotFoundError):
        store.actions.record(ACME, action("inc-globex", ActionKind.RESOLVE, target_kind="incident"))
    store.actions.record(GLOBEX, action("globex-1", ActionKind.COMMENT, comment="seen"))
    assert store.actions.history(ACME, "alert", "globex-1") == []
    assert store.actions.state(ACME, "alert", "globex-1") is None
    assert len(store.actions.history(GLOBEX, "alert", "globex-1")) == 1


# --- pagination ----------------------------------------------------------------------------


def test_pages_have_no_duplicates_or_gaps(store: Store) -> None:
    # Several alerts share a first_seen: the id breaks the tie.
    store.alerts.upsert(alert(f"p{i:02d}", minute=i // 3) for i in range(25))
    expected = [
        a.id
        for a in sorted(
            (alert(f"p{i:02d}", minute=i // 3) for i in range(25)),
            key=lambda a: (-a.first_seen.timestamp(), a.id),
        )
    ]
    seen: list[str] = []
    cursor = None
    while True:
        page = store.alerts.list(ALL, limit=7, cursor=cursor)
        seen.extend(v.alert.id for v in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected


def test_pagination_is_stable_under_concurrent_inserts(store: Store) -> None:
    store.alerts.upsert(alert(f"p{i:02d}", minute=i) for i in range(20))
    page = store.alerts.list(ALL, limit=5)
    seen = [v.alert.id for v in page.items]
    # New alerts arrive between pages, newer and older than the cursor.
    store.alerts.upsert(alert(f"new{i}", minute=100 + i) for i in range(5))
    store.alerts.upsert(alert(f"old{i}", minute=-10 - i) for i in range(3))
    cursor = page.next_cursor
    while cursor is not None:
        page = store.alerts.list(ALL, limit=5, cursor=cursor)
        seen.extend(v.alert.id for v in page.items)
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert {f"p{i:02d}" for i in range(20)} <= set(seen)
    assert not any(s.startswith("new") for s in seen)  # ahead of the cursor: next refresh
    assert {f"old{i}" for i in range(3)} <= set(seen)


def test_incident_pages(store: Store) -> None:
    store.incidents.upsert(incident(f"i{i:02d}", minute=i // 2) for i in range(11))
    seen: list[str] = []
    cursor = None
    while True:
        page = store.incidents.list(ALL, limit=4, cursor=cursor)
        seen.extend(v.incident.id for v in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 11
    assert len(set(seen)) == 11
    assert seen[0] == "i10"


# --- filters, full text, statistics --------------------------------------------------------


def seed_filters(store: Store) -> None:
    store.alerts.upsert(
        [
            alert("f1", minute=0, severity=Severity.LOW, detector="vmm-crash", host="hv-01"),
            alert("f2", minute=10, severity=Severity.HIGH, detector="container-escape",
                  title="Container escape", summary="runc breakout from acme-web-1",
                  host="hv-02"),
            alert("f3", minute=20, severity=Severity.CRITICAL, detector="cross-vm-access",
                  title="Cross VM memory access", summary="qemu read another guest's disk",
                  host="hv-02"),
            alert("f4", minute=70, severity=Severity.MEDIUM, detector="vmm-crash", host=None),
        ]
    )  # fmt: skip


def test_filters(store: Store) -> None:
    seed_filters(store)
    assert alert_ids(store, ALL, AlertQuery(severities=at_least(Severity.HIGH))) == {"f2", "f3"}
    assert alert_ids(store, ALL, AlertQuery(detectors=frozenset({"vmm-crash"}))) == {"f1", "f4"}
    assert alert_ids(store, ALL, AlertQuery(host_id="hv-02")) == {"f2", "f3"}
    window = AlertQuery(since=T0 + dt.timedelta(minutes=10), until=T0 + dt.timedelta(minutes=20))
    assert alert_ids(store, ALL, window) == {"f2"}
    combined = AlertQuery(
        severities=frozenset({Severity.MEDIUM}), detectors=frozenset({"vmm-crash"})
    )
    assert alert_ids(store, ALL, combined) == {"f4"}
    assert store.alerts.count(ALL, AlertQuery(host_id="hv-02")) == 2


def test_full_text_search(store: Store) -> None:
    seed_filters(store)
    assert alert_ids(store, ALL, AlertQuery(text="escape")) == {"f2"}
    assert alert_ids(store, ALL, AlertQuery(text="runc")) == {"f2"}  # in the summary
    assert alert_ids(store, ALL, AlertQuery(text="qemu")) == {"f1", "f3", "f4"}
    assert alert_ids(store, ALL, AlertQuery(text="qemu guest")) == {"f3"}  # every word
    assert alert_ids(store, ALL, AlertQuery(text="nothing-like-this")) == set()
    # A word of several tokens is a phrase: its tokens in order, not anywhere.
    assert alert_ids(store, ALL, AlertQuery(text="acme-web-1")) == {"f2"}
    assert alert_ids(store, ALL, AlertQuery(text="web-acme")) == set()
    assert alert_ids(store, ALL, AlertQuery(text="another-guest")) == {"f3"}
    assert alert_ids(store, ALL, AlertQuery(text="guest-another")) == set()
    # Query syntax in user text is taken literally, never an error.
    assert alert_ids(store, ALL, AlertQuery(text='escape" OR * NEAR(')) == set()


def test_statistics(store: Store) -> None:
    seed_filters(store)
    stats = store.alerts.stats(ALL, bucket=dt.timedelta(hours=1))
    assert stats.total == 4
    assert stats.buckets == [(T0, 3), (T0 + dt.timedelta(hours=1), 1)]
    assert stats.by_severity == {"low": 1, "high": 1, "critical": 1, "medium": 1}
    assert stats.by_detector == {"vmm-crash": 2, "container-escape": 1, "cross-vm-access": 1}
    assert stats.by_tenant == {"acme": 4}
    assert stats.top_hosts == [("hv-02", 2), ("hv-01", 1)]
    high = store.alerts.stats(ALL, AlertQuery(severities=at_least(Severity.HIGH)), top=1)
    assert high.total == 2
    assert high.top_hosts == [("hv-02", 2)]


# --- analyst actions -----------------------------------------------------------------------


def test_actions_derive_status_and_assignee(store: Store) -> None:
    seed_filters(store)
    state = store.actions.record(ALL, action("f2", ActionKind.ACKNOWLEDGE, minute=1))
    assert state.status is IncidentStatus.ACKNOWLEDGED
    state = store.actions.record(ALL, action("f2", ActionKind.ASSIGN, minute=2, assignee="li"))
    assert (state.status, state.assignee) == (IncidentStatus.INVESTIGATING, "li")
    store.actions.record(ALL, action("f2", ActionKind.COMMENT, minute=3, comment="runc 1.1"))
    state = store.actions.record(ALL, action("f3", ActionKind.FALSE_POSITIVE, minute=4))
    assert state.status is IncidentStatus.FALSE_POSITIVE
    history = store.actions.history(ALL, "alert", "f2")
    assert [a.kind for a in history] == [
        ActionKind.ACKNOWLEDGE,
        ActionKind.ASSIGN,
        ActionKind.COMMENT,
    ]
    view = store.alerts.get(ALL, "f2")
    assert view is not None
    assert view.state.status is IncidentStatus.INVESTIGATING
    assert view.state.comments == 1
    investigating = AlertQuery(statuses=frozenset({IncidentStatus.INVESTIGATING}))
    assert alert_ids(store, ALL, investigating) == {"f2"}
    new = AlertQuery(statuses=frozenset({IncidentStatus.NEW}))
    assert alert_ids(store, ALL, new) == {"f1", "f4"}
    # A new version of the alert keeps its analyst state.
    store.alerts.upsert([alert("f2", minute=12, severity=Severity.CRITICAL, evidence=("e7",))])
    view = store.alerts.get(ALL, "f2")
    assert view is not None
    assert view.state.assignee == "li"
    assert view.alert.severity is Severity.CRITICAL


def test_the_same_action_twice_is_recorded_once(store: Store) -> None:
    seed_filters(store)
    repeat = action("f1", ActionKind.COMMENT, comment="once", action_id="req-1")
    store.actions.record(ALL, repeat)
    state = store.actions.record(ALL, repeat)
    assert state.comments == 1
    assert len(store.actions.history(ALL, "alert", "f1")) == 1


def test_incident_status_survives_the_correlators_rewrite(store: Store) -> None:
    store.incidents.upsert([incident("inc-1", updated=0)])
    store.actions.record(ALL, action("inc-1", ActionKind.RESOLVE, target_kind="incident"))
    store.incidents.upsert([incident("inc-1", updated=5, title="VM escape, wider")])
    view = store.incidents.get(ALL, "inc-1")
    assert view is not None
    assert view.incident.title == "VM escape, wider"
    assert view.incident.status is IncidentStatus.RESOLVED
    resolved = IncidentQuery(statuses=frozenset({IncidentStatus.RESOLVED}))
    assert store.incidents.count(ALL, resolved) == 1


def test_incident_latest_version_wins_in_any_order(store: Store) -> None:
    versions = [incident("inc-2", updated=u, title=f"v{u}") for u in (3, 1, 7, 2)]
    store.incidents.upsert(versions[:2])
    store.incidents.upsert(versions[2:])
    store.incidents.upsert([versions[0]])  # an old version arrives late
    view = store.incidents.get(ALL, "inc-2")
    assert view is not None
    assert view.incident.title == "v7"
    assert store.incidents.count(ALL) == 1


def test_deleted_incidents_are_gone_from_every_read(store: Store) -> None:
    store.incidents.upsert(
        [
            incident("inc-1", tenants=("acme",), title="VM escape on hv-01"),
            incident("inc-2", tenants=("globex",), actors=("acme",), minute=1),
            incident("inc-3", tenants=("initech",), minute=2, title="Container escape"),
        ]
    )
    assert store.incidents.delete(["inc-2", "inc-1", "inc-2", "no-such-incident"]) == 2
    assert store.incidents.get(ALL, "inc-1") is None
    assert store.incidents.get(GLOBEX, "inc-2") is None
    assert [v.incident.id for v in store.incidents.list(ALL).items] == ["inc-3"]
    assert store.incidents.count(ALL) == 1
    assert store.incidents.count(ACME) == 0
    assert store.incidents.count(ALL, IncidentQuery(host_id="hv-01")) == 1
    assert store.incidents.count(ALL, IncidentQuery(text="escape")) == 1
    assert store.incidents.delete([]) == 0
    assert store.incidents.delete(["inc-1"]) == 0  # already gone: nothing to do


def test_a_deleted_incident_written_again_starts_afresh_and_its_log_stays(
    store: Store, tmp_path: Path
) -> None:
    store.incidents.upsert([incident("inc-1", updated=3, title="VM escape, first")])
    store.actions.record(ALL, action("inc-1", ActionKind.RESOLVE, target_kind="incident"))
    assert store.incidents.delete(["inc-1"]) == 1
    assert store.actions.history(ALL, "incident", "inc-1") == []  # not visible any more
    # The correlator may bring the id back (a split): an older version is not refused, and the
    # deleted incident's analyst state does not come back with it.
    store.incidents.upsert([incident("inc-1", updated=1, title="VM escape, again")])
    view = store.incidents.get(ALL, "inc-1")
    assert view is not None
    assert view.incident.title == "VM escape, again"
    assert view.incident.status is IncidentStatus.NEW
    assert store.incidents.count(ALL, IncidentQuery(text="again")) == 1
    assert store.incidents.count(ALL, IncidentQuery(text="first")) == 0
    # The action log is append-only: the resolve is still recorded (and shown again now).
    assert [a.kind for a in store.actions.history(ALL, "incident", "inc-1")] == [ActionKind.RESOLVE]
    if isinstance(store, SqliteStore):
        with sqlite3.connect(tmp_path / "fenghuo.db") as db:
            assert db.execute("SELECT count(*) FROM actions").fetchone() == (1,)


def test_sqlite_concurrent_actions_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fenghuo.db"
    SqliteStore(path).alerts.upsert([alert("c1")])

    def comment(worker: int) -> None:
        store = SqliteStore(path)
        for n in range(10):
            store.actions.record(
                ALL, action("c1", ActionKind.COMMENT, minute=n, comment=f"{worker}-{n}")
            )
        store.close()

    threads = [threading.Thread(target=comment, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = SqliteStore(path)
    state = store.actions.state(ALL, "alert", "c1")
    assert state is not None
    assert state.comments == 40
    assert len(store.actions.history(ALL, "alert", "c1")) == 40


# --- audit trail ---------------------------------------------------------------------------


def audit_entry(n: int, tenant: str | None = None) -> AuditEntry:
    return AuditEntry(
        id=f"audit-{n:03d}",
        at=T0 + dt.timedelta(seconds=n),
        actor="key-1",
        role="soc_analyst",
        action="alert.acknowledge",
        target=f"alert:a{n}",
        tenant_id=tenant,
        request_id=f"req-{n}",
    )


def test_audit_is_append_only_and_scoped(store: Store) -> None:
    for n in range(7):
        store.audit.append(audit_entry(n, "acme" if n % 2 else "globex"))
    store.audit.append(msgspec.structs.replace(audit_entry(3, "acme"), actor="forger"))
    first = store.audit.list(ALL, limit=4)
    assert [e.id for e in first.items] == ["audit-006", "audit-005", "audit-004", "audit-003"]
    assert first.next_cursor is not None
    rest = store.audit.list(ALL, limit=4, cursor=first.next_cursor)
    assert [e.id for e in rest.items] == ["audit-002", "audit-001", "audit-000"]
    assert rest.next_cursor is None
    entries = {e.id: e for e in store.audit.list(ALL).items}
    assert entries["audit-003"].actor == "key-1"  # an append never rewrites an entry
    assert {e.id for e in store.audit.list(ACME).items} == {"audit-001", "audit-003", "audit-005"}
    for name in ("update", "delete", "remove", "clear"):
        assert not hasattr(store.audit, name)


def test_sqlite_refuses_update_and_delete_of_the_audit_trail(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    store.audit.append(audit_entry(1))
    store.alerts.upsert([alert("x1")])
    store.actions.record(ALL, action("x1", ActionKind.COMMENT, comment="c"))
    with sqlite3.connect(tmp_path / "fenghuo.db") as db:
        for sql in (
            "UPDATE audit SET doc = '{}'",
            "DELETE FROM audit",
            "UPDATE actions SET doc = '{}'",
            "DELETE FROM actions",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)
    assert [e.id for e in store.audit.list(ALL).items] == ["audit-001"]


# --- keys ----------------------------------------------------------------------------------


def test_keys_through_the_store(store: Store) -> None:
    key, token = store.keys.create(Role.TENANT_VIEWER, "acme", "portal")
    found = store.keys.verify(token)
    assert found is not None
    assert (found.id, found.role, found.tenant_id) == (key.id, Role.TENANT_VIEWER, "acme")
    assert Scope.for_key(found) == ACME
    assert key.id in {k.id for k in store.keys.list()}
    assert store.keys.revoke(key.id) is True
    assert store.keys.verify(token) is None
    assert store.keys.revoke(key.id) is False


def rule(ident: str, tenant: str | None, **fields: object) -> SuppressionRule:
    base = SuppressionRule(
        id=ident,
        detector="vmm-crash",
        tenant_id=tenant,
        host_id="hv-01",
        created_by="analyst",
        created_at=T0,
    )
    return msgspec.structs.replace(base, **fields)


def test_suppressions_are_scoped_idempotent_and_revocable(store: Store) -> None:
    first = store.suppressions.add(rule("r1", "acme", reason="fuzzing lab"))
    assert first.reason == "fuzzing lab"
    again = store.suppressions.add(rule("r1", "acme", reason="a retry with other words"))
    assert again == first  # the first add wins
    store.suppressions.add(rule("r2", "globex", until=T0 + dt.timedelta(days=1)))
    store.suppressions.add(rule("r0", None, created_at=T0 + dt.timedelta(seconds=1)))
    assert [r.id for r in store.suppressions.list(ALL)] == ["r1", "r2", "r0"]
    assert [r.id for r in store.suppressions.list(ACME)] == ["r1"]
    assert store.suppressions.revoke(GLOBEX, "r1") is False  # outside the scope
    assert store.suppressions.revoke(ACME, "r1") is True
    assert store.suppressions.revoke(ACME, "r1") is False  # already revoked
    assert store.suppressions.revoke(ALL, "nope") is False
    assert [r.id for r in store.suppressions.list(ALL)] == ["r2", "r0"]
    revoked = [r for r in store.suppressions.list(ACME, include_revoked=True) if r.id == "r1"]
    assert revoked[0].revoked_at is not None
    assert not revoked[0].active(T0)
    later = store.suppressions.list(GLOBEX)[0]
    assert later.active(T0)
    assert not later.active(T0 + dt.timedelta(days=2))
