"""/api/v1/alerts and /api/v1/incidents against a real server and store: filters, search,
pagination, details, and what a tenant viewer sees. Expectations come from the replayed alerts
and incidents themselves, not from the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from fenghuo.api.pseudonyms import pseudonym
from fenghuo.model.alert import Alert, Severity
from fenghuo.model.incident import Incident
from tests.api.seeded import PSEUDONYM_KEY, Hour, SeededApi, replay_hour, seeded_api


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("api-hour"))


@pytest.fixture(scope="module")
def api(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    with seeded_api(tmp_path_factory.mktemp("api-store"), hour) as running:
        yield running


def walk(api: SeededApi, who: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = api.get(who, path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def alert_ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["alert"]["id"] for i in items]


def involves(alert: Alert, tenant: str) -> bool:
    return tenant in (alert.tenant_id, alert.actor_tenant_id)


def incident_involves(incident: Incident, tenant: str) -> bool:
    return tenant in (*incident.tenants, *incident.actor_tenants)


def test_pages_walk_every_alert_once_newest_first(api: SeededApi, hour: Hour) -> None:
    items = walk(api, "admin", "/api/v1/alerts", limit=4)
    ids = alert_ids(items)
    assert sorted(ids) == sorted(a.id for a in hour.alerts)
    assert len(ids) == len(set(ids))
    firsts = [dt.datetime.fromisoformat(i["alert"]["first_seen"]) for i in items]
    assert firsts == sorted(firsts, reverse=True)


def test_filters_select_exactly_the_matching_alerts(api: SeededApi, hour: Hour) -> None:
    def ids(**params: Any) -> set[str]:
        return set(alert_ids(walk(api, "soc_analyst", "/api/v1/alerts", limit=500, **params)))

    assert ids(min_severity="high") == {
        a.id for a in hour.alerts if a.severity.at_least(Severity.HIGH)
    }
    assert ids(severity=["low", "medium"]) == {
        a.id for a in hour.alerts if a.severity in (Severity.LOW, Severity.MEDIUM)
    }
    detector = hour.alerts[0].detector
    assert ids(detector=detector) == {a.id for a in hour.alerts if a.detector == detector}
    assert ids(tenant="soylent") == {a.id for a in hour.alerts if involves(a, "soylent")}
    host = next(a.host_id for a in hour.alerts if a.host_id)
    assert ids(host=host) == {a.id for a in hour.alerts if a.host_id == host}
    middle = sorted(a.first_seen for a in hour.alerts)[len(hour.alerts) // 2]
    assert ids(since=middle.isoformat()) == {a.id for a in hour.alerts if a.last_seen >= middle}
    assert ids(until=middle.isoformat()) == {a.id for a in hour.alerts if a.first_seen < middle}
    word = "seccomp"
    assert (
        ids(q=word)
        == {a.id for a in hour.alerts if word in f"{a.title} {a.summary}".lower()}
        != set()
    )
    assert ids(q="no-such-word-anywhere") == set()


def test_bad_cursor_and_naive_times_are_problems(api: SeededApi) -> None:
    bad = api.get("admin", "/api/v1/alerts", cursor="not-a-cursor")
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    naive = api.get("admin", "/api/v1/incidents", since="2026-01-05T10:00:00")
    assert naive.status_code == 422
    assert "time zone" in naive.json()["detail"]
    too_big = api.get("admin", "/api/v1/alerts", limit=501)
    assert too_big.status_code == 422


def test_one_alert_and_unknown_ids(api: SeededApi, hour: Hour) -> None:
    alert = hour.alerts[0]
    body = api.get("admin", f"/api/v1/alerts/{alert.id}").json()
    assert body["alert"]["id"] == alert.id
    assert body["alert"]["summary"] == alert.summary
    assert body["state"]["status"] == "new"
    missing = api.get("admin", "/api/v1/alerts/no-such-alert")
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not found"


def test_incidents_with_graph_timeline_and_their_alerts(api: SeededApi, hour: Hour) -> None:
    listed = walk(api, "admin", "/api/v1/incidents", limit=3)
    assert sorted(i["incident"]["id"] for i in listed) == sorted(i.id for i in hour.incidents)
    biggest = max(hour.incidents, key=lambda i: len(i.alert_ids))
    body = api.get("admin", f"/api/v1/incidents/{biggest.id}").json()["incident"]
    assert body["grade"] == biggest.grade.value
    assert [n["id"] for n in body["nodes"]] == [n.id for n in biggest.nodes]
    assert len(body["edges"]) == len(biggest.edges) > 0
    assert [e["alert_id"] for e in body["timeline"]] == [e.alert_id for e in biggest.timeline]
    alerts = api.get("admin", f"/api/v1/incidents/{biggest.id}/alerts").json()["items"]
    assert sorted(a["id"] for a in alerts) == sorted(biggest.alert_ids)


def test_a_viewer_sees_its_own_and_others_by_pseudonym(api: SeededApi, hour: Hour) -> None:
    # A cross-tenant incident seen by its actor tenant: the victims appear by pseudonym.
    incident = next(i for i in hour.incidents if i.actor_tenants and i.tenants)
    viewer = incident.actor_tenants[0]
    others = sorted({*incident.tenants, *incident.actor_tenants} - {viewer})
    assert others
    listed = walk(api, f"viewer:{viewer}", "/api/v1/incidents")
    assert {i["incident"]["id"] for i in listed} == {
        i.id for i in hour.incidents if incident_involves(i, viewer)
    }
    response = api.get(f"viewer:{viewer}", f"/api/v1/incidents/{incident.id}")
    body = response.json()["incident"]
    key = PSEUDONYM_KEY.encode()
    names = {*body["tenants"], *body["actor_tenants"]}
    assert viewer in names
    assert {pseudonym(key, "tenant", o) for o in others} <= names
    for other in others:
        assert other not in response.text
    tenant_nodes = [n for n in body["nodes"] if n["type"] == "tenant"]
    assert tenant_nodes
    assert all(n["label"] == viewer or n["label"].startswith("tenant-") for n in tenant_nodes)
    # Filtering by the pseudonym it was shown works; by the real name it selects nothing.
    shown = pseudonym(key, "tenant", others[0])
    by_pseudonym = walk(api, f"viewer:{viewer}", "/api/v1/incidents", tenant=shown)
    assert incident.id in {i["incident"]["id"] for i in by_pseudonym}
    assert walk(api, f"viewer:{viewer}", "/api/v1/incidents", tenant=others[0]) == []


def test_a_viewers_alerts_are_exactly_those_involving_it(api: SeededApi, hour: Hour) -> None:
    for tenant in hour.tenants:
        seen = set(alert_ids(walk(api, f"viewer:{tenant}", "/api/v1/alerts", limit=500)))
        assert seen == {a.id for a in hour.alerts if involves(a, tenant)}, tenant


def test_an_incidents_alerts_for_a_viewer_are_only_its_own(api: SeededApi, hour: Hour) -> None:
    incident = next(
        i
        for i in hour.incidents
        if any(not involves(a, t) for a in hour.alerts if a.id in i.alert_ids for t in i.tenants)
    )
    by_id = {a.id: a for a in hour.alerts}
    for tenant in {*incident.tenants, *incident.actor_tenants}:
        items = api.get(f"viewer:{tenant}", f"/api/v1/incidents/{incident.id}/alerts").json()
        assert {a["id"] for a in items["items"]} == {
            a for a in incident.alert_ids if involves(by_id[a], tenant)
        }


def test_incident_text_search_for_a_viewer_cannot_probe_neighbours(
    api: SeededApi, hour: Hour
) -> None:
    incident = next(i for i in hour.incidents if i.actor_tenants and i.tenants)
    viewer = incident.actor_tenants[0]
    victim = next(t for t in incident.tenants if t != viewer)
    assert walk(api, "admin", "/api/v1/incidents", q=victim) != []
    assert walk(api, f"viewer:{viewer}", "/api/v1/incidents", q=victim) == []
