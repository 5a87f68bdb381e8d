"""GET /api/v1/alerts/{id}/evidence over a real API, store and event archive (the simulated hour).

Expected answers come from the hour's alerts and the events normalised again from its files, not
from the route's own rule: an analyst sees every event an alert names, each with its raw record;
a tenant viewer sees exactly the events attributed to its own tenant, the others only counted;
the raw text it sees names no other tenant (the isolation matrix scans every answer too).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fenghuo.api.deps import Services
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.inventory import InventoryStore
from fenghuo.model.alert import Alert
from fenghuo.model.events import Event, decode_event
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from tests.api.isolation import LeakScanner, load_inventory, scanners
from tests.api.seeded import PSEUDONYM_KEY, Hour, SeededApi, replay_hour, seeded_api

API = "/api/v1"


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("evidence-hour"))


@pytest.fixture(scope="module")
def api(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    with seeded_api(tmp_path_factory.mktemp("evidence-store"), hour) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def events(hour: Hour) -> dict[str, Event]:
    return {e.id: e for e in hour.evidence}


def _cross_tenant(hour: Hour, events: dict[str, Event]) -> Alert:
    """An alert whose evidence holds events of two or more tenants (an escape, a flow)."""
    for alert in hour.alerts:
        owners = {events[i].tenant_id for i in alert.evidence if i in events}
        if alert.actor_tenant_id and len(owners - {None}) >= 2:
            return alert
    pytest.fail("the hour has no alert with evidence from two tenants")


def test_analyst_sees_every_event_with_its_raw_record(
    api: SeededApi, hour: Hour, events: dict[str, Event]
) -> None:
    for alert in hour.alerts:
        r = api.get("soc_analyst", f"{API}/alerts/{alert.id}/evidence")
        assert r.status_code == 200, r.text
        body = r.json()
        named = list(dict.fromkeys(alert.evidence))
        assert body["alert_id"] == alert.id
        assert body["listed"] == len(named)
        assert body["withheld"] == 0
        assert body["missing"] == []
        assert sorted(e["id"] for e in body["events"]) == sorted(named)
        times = [(e["event_time"], e["id"]) for e in body["events"]]
        assert times == sorted(times), "events in event time"
        for doc in body["events"]:
            assert decode_event(json.dumps(doc)) == events[doc["id"]]
            assert doc["raw"]["original"]


def test_viewer_sees_only_its_own_tenants_events(
    api: SeededApi, hour: Hour, events: dict[str, Event]
) -> None:
    alert = _cross_tenant(hour, events)
    leaks = scanners(hour, load_inventory(hour))
    for tenant in {alert.tenant_id, alert.actor_tenant_id} - {None}:
        assert tenant is not None
        r = api.get(f"viewer:{tenant}", f"{API}/alerts/{alert.id}/evidence")
        assert r.status_code == 200, r.text
        body = r.json()
        own = [i for i in dict.fromkeys(alert.evidence) if events[i].tenant_id == tenant]
        assert sorted(e["id"] for e in body["events"]) == sorted(own)
        assert body["withheld"] == body["listed"] - len(own) > 0
        assert all(e["tenant_id"] == tenant for e in body["events"])
        scan: LeakScanner = leaks[tenant]
        assert scan(r.text) == [], f"{tenant} sees another tenant's identifiers"


def test_viewer_raw_text_names_neighbours_by_pseudonym(
    api: SeededApi, hour: Hour, events: dict[str, Event]
) -> None:
    """An own event naming another tenant (a flow to the attacker's address) keeps the record,
    with that tenant's identifiers rewritten in the raw text as in the normalised fields."""
    seen = 0
    for alert in hour.alerts:
        for ident in alert.evidence:
            event = events[ident]
            others = set(event.related_tenant_ids) - {event.tenant_id}
            if event.tenant_id is None or not others:
                continue
            body = api.get(f"viewer:{event.tenant_id}", f"{API}/alerts/{alert.id}/evidence").json()
            doc = next(e for e in body["events"] if e["id"] == ident)
            admin = api.get("admin", f"{API}/alerts/{alert.id}/evidence").json()
            real = next(e for e in admin["events"] if e["id"] == ident)
            assert doc["raw"]["original"] != real["raw"]["original"]
            assert "-" in doc["raw"]["original"]  # pseudonyms read "<kind>-<12 hex>"
            seen += 1
    assert seen, "the hour has no own event that names another tenant"


def test_hidden_alert_is_404_like_a_missing_one(api: SeededApi, hour: Hour) -> None:
    viewers = {k.split(":", 1)[1] for k in api.tokens if k.startswith("viewer:")}
    alert = next(a for a in hour.alerts if a.tenant_id and a.actor_tenant_id is None)
    outsider = next(t for t in sorted(viewers) if t != alert.tenant_id)
    hidden = api.get(f"viewer:{outsider}", f"{API}/alerts/{alert.id}/evidence")
    missing = api.get(f"viewer:{outsider}", f"{API}/alerts/no-such-alert/evidence")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(alert.id, "X") == missing.json()["detail"].replace(
        "no-such-alert", "X"
    )
    assert api.get("regulator", f"{API}/alerts/{alert.id}/evidence").status_code == 403
    assert api.get("ingest", f"{API}/alerts/{alert.id}/evidence").status_code == 403


def test_expired_events_are_listed_as_missing(api: SeededApi, hour: Hour) -> None:
    """After the retention prune, the alert still answers, naming the ids it lost."""
    archive = api.archive
    assert archive is not None
    alert = max(hour.alerts, key=lambda a: len(a.evidence))
    assert archive.prune(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == len(hour.evidence)
    try:
        body = api.get("admin", f"{API}/alerts/{alert.id}/evidence").json()
        assert body["events"] == []
        assert body["missing"] == list(dict.fromkeys(alert.evidence))
        assert body["retention_days"] == 7
    finally:
        archive.put(hour.evidence, dt.datetime.now(dt.UTC))


def test_without_an_archive_the_route_says_so(hour: Hour, tmp_path: Path, api: SeededApi) -> None:
    settings = Settings(data_dir=tmp_path, pseudonym_key=PSEUDONYM_KEY)
    inventory = InventoryStore(hour.root / "inventory.yaml")
    services = Services(settings, api.store, None, lambda: True, inventory.current)
    port = free_port()
    server = ApiServer(services, "127.0.0.1", port)
    server.start()
    try:
        alert = hour.alerts[0]
        r = httpx.get(
            f"http://127.0.0.1:{port}{API}/alerts/{alert.id}/evidence",
            headers=api.auth("admin"),
        )
        assert r.status_code == 503
        assert "event archive" in r.json()["detail"]
    finally:
        server.stop()
