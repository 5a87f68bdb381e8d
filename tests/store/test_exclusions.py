"""The exclusions of `AlertQuery` and `IncidentQuery` (`exclude_tenants`, `exclude_hosts`,
`exclude_detectors`) on every backend (tests/store/backends.py): SQLite, the search backend's
code on the in-memory model of the client, a real OpenSearch node, and Elasticsearch when
FENGHUO_ES_URL is set (a server's cases are skipped without one, never reported as passed).
Each exclusion is the negation of its positive filter: a tenant in either role, an alert without
a host kept; lists, counts, statistics and figures agree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fenghuo.model.alert import Severity
from fenghuo.store.base import AlertQuery, IncidentQuery, Scope, Store
from tests.store.backends import ALL_BACKENDS, open_backend
from tests.store.test_contract import T0, alert, incident

ALL = Scope.everything()
ACME = Scope.of("acme")


@pytest.fixture(params=ALL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (tests/store/backends.py)."""
    yield from open_backend(request.param, tmp_path)


def seed(store: Store) -> None:
    store.alerts.upsert(
        [
            alert("x1", tenant="acme", host="hv-01", detector="vmm-crash", minute=0),
            alert("x2", tenant="acme", actor="globex", host="hv-02",
                  detector="cross-vm-access", minute=10, severity=Severity.CRITICAL),
            alert("x3", tenant="globex", host="hv-01", detector="container-escape", minute=20,
                  severity=Severity.HIGH),
            alert("x4", tenant="initech", host=None, detector="vmm-crash", minute=30),
            alert("x5", tenant=None, host="hv-03", detector="vmm-crash", minute=40),
            alert("x6", tenant="initech", actor="acme", host="hv-02", detector="vmm-crash",
                  minute=50, severity=Severity.HIGH),
        ]
    )  # fmt: skip
    store.incidents.upsert(
        [
            incident("i1", tenants=("acme",), minute=0),
            incident("i2", tenants=("globex",), actors=("acme",), minute=10),
            incident("i3", tenants=("initech",), minute=20),
            incident("i4", tenants=("globex", "initech"), minute=30),
        ]
    )


def alert_ids(store: Store, query: AlertQuery, scope: Scope = ALL) -> set[str]:
    ids = {v.alert.id for v in store.alerts.list(scope, query, limit=1000).items}
    assert store.alerts.count(scope, query) == len(ids)
    assert store.alerts.stats(scope, query).total == len(ids)
    return ids


def incident_ids(store: Store, query: IncidentQuery, scope: Scope = ALL) -> set[str]:
    ids = {v.incident.id for v in store.incidents.list(scope, query, limit=1000).items}
    assert store.incidents.count(scope, query) == len(ids)
    return ids


def test_alert_exclusions(store: Store) -> None:
    seed(store)
    assert alert_ids(store, AlertQuery()) == {"x1", "x2", "x3", "x4", "x5", "x6"}
    # A tenant in either role (x2: actor globex; x6: actor acme); no tenant at all is kept.
    assert alert_ids(store, AlertQuery(exclude_tenants=frozenset({"globex"}))) == {
        "x1",
        "x4",
        "x5",
        "x6",
    }
    assert alert_ids(store, AlertQuery(exclude_tenants=frozenset({"acme", "initech"}))) == {
        "x3",
        "x5",
    }
    # An alert without a host is never on an excluded host.
    assert alert_ids(store, AlertQuery(exclude_hosts=frozenset({"hv-01", "hv-02"}))) == {
        "x4",
        "x5",
    }
    assert alert_ids(store, AlertQuery(exclude_detectors=frozenset({"vmm-crash"}))) == {
        "x2",
        "x3",
    }
    # Names nothing has exclude nothing.
    nothing = AlertQuery(
        exclude_tenants=frozenset({"nobody"}),
        exclude_hosts=frozenset({"hv-99"}),
        exclude_detectors=frozenset({"no-such"}),
    )
    assert alert_ids(store, nothing) == alert_ids(store, AlertQuery())


def test_alert_exclusions_combine_with_filters_scope_and_time(store: Store) -> None:
    seed(store)
    query = AlertQuery(
        tenant="acme",
        exclude_tenants=frozenset({"globex"}),
        since=T0 + dt.timedelta(minutes=5),
    )
    assert alert_ids(store, query) == {"x6"}
    assert alert_ids(
        store, AlertQuery(host_id="hv-02", exclude_tenants=frozenset({"initech"}))
    ) == {"x2"}
    high = AlertQuery(
        severities=frozenset({Severity.HIGH, Severity.CRITICAL}),
        exclude_hosts=frozenset({"hv-01"}),
    )
    assert alert_ids(store, high) == {"x2", "x6"}
    # Inside a tenant's scope: excluding its neighbour leaves its own alerts without it.
    assert alert_ids(store, AlertQuery(exclude_tenants=frozenset({"globex"})), ACME) == {
        "x1",
        "x6",
    }
    # Statistics over the same query count only what is left.
    stats = store.alerts.stats(ALL, AlertQuery(exclude_hosts=frozenset({"hv-02"})))
    assert stats.total == 4
    assert dict(stats.top_hosts) == {"hv-01": 2, "hv-03": 1}
    assert "hv-02" not in dict(stats.top_hosts)


def test_incident_exclusions(store: Store) -> None:
    seed(store)
    assert incident_ids(store, IncidentQuery(exclude_tenants=frozenset({"acme"}))) == {
        "i3",
        "i4",
    }
    assert incident_ids(store, IncidentQuery(exclude_tenants=frozenset({"initech"}))) == {
        "i1",
        "i2",
    }
    assert incident_ids(store, IncidentQuery(exclude_hosts=frozenset({"hv-01"}))) == set()
    assert incident_ids(store, IncidentQuery(exclude_hosts=frozenset({"hv-02"}))) == {
        "i1",
        "i2",
        "i3",
        "i4",
    }
    query = IncidentQuery(tenant="globex", exclude_tenants=frozenset({"initech"}))
    assert incident_ids(store, query) == {"i2"}
    assert incident_ids(store, IncidentQuery(exclude_tenants=frozenset({"globex"})), ACME) == {"i1"}
    figures = store.incidents.aggregate(ALL, IncidentQuery(exclude_tenants=frozenset({"acme"})))
    assert figures.total == 2
    assert {row.tenant_id for row in figures.tenants} == {"globex", "initech"}
