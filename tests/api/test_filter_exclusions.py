"""`not_tenant`, `not_host`, `not_detector`, `not_severity` and `not_status` on /api/v1/alerts
and /api/v1/incidents, against a real server and SQLite store holding the simulated hour.
Expectations come from the replayed alerts and incidents, never from the API: an exclusion is the
negation of the positive filter (a tenant in either role; alerts without a host kept), combines
with every other filter, and a tenant viewer's names of other tenants behave as in `tenant`,
except that a name meaning nothing excludes nothing and reads exactly like leaving it out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fenghuo.api.filters import MAX_EXCLUDED
from fenghuo.api.pseudonyms import pseudonym
from fenghuo.model.alert import Alert, Severity
from fenghuo.model.incident import Incident
from tests.api.isolation import load_inventory, scanners
from tests.api.seeded import PSEUDONYM_KEY, Hour, SeededApi, replay_hour, seeded_api

ALERTS, INCIDENTS = "/api/v1/alerts", "/api/v1/incidents"
KEY = PSEUDONYM_KEY.encode()


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("exclusions-hour"))


@pytest.fixture(scope="module")
def api(hour: Hour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    with seeded_api(tmp_path_factory.mktemp("exclusions-store"), hour) as running:
        yield running


def pages(api: SeededApi, who: str, path: str, **params: Any) -> tuple[list[str], str]:
    """The ids of every item of a paged list (following next_cursor) and the pages' texts."""
    ids: list[str] = []
    texts: list[str] = []
    cursor = None
    while True:
        response = api.get(who, path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        texts.append(response.text)
        page = response.json()
        ids += [i["alert" if path == ALERTS else "incident"]["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, "\n".join(texts)


def ids(api: SeededApi, who: str, path: str, **params: Any) -> set[str]:
    found, _ = pages(api, who, path, limit=7, **params)
    assert len(found) == len(set(found)), "a page repeated an item"
    return set(found)


def alert_tenants(a: Alert) -> set[str]:
    return {t for t in (a.tenant_id, a.actor_tenant_id) if t}


def incident_tenants(i: Incident) -> set[str]:
    return {*i.tenants, *i.actor_tenants}


def alerts_where(hour: Hour, keep: Callable[[Alert], bool]) -> set[str]:
    return {a.id for a in hour.alerts if keep(a)}


def incidents_where(hour: Hour, keep: Callable[[Incident], bool]) -> set[str]:
    return {i.id for i in hour.incidents if keep(i)}


def test_the_hour_has_what_these_tests_need(hour: Hour) -> None:
    assert any(a.host_id is None for a in hour.alerts)
    assert any(a.actor_tenant_id for a in hour.alerts)
    assert any(i.actor_tenants for i in hour.incidents)
    assert any(not i.hosts for i in hour.incidents)


def test_not_tenant_leaves_out_either_role(api: SeededApi, hour: Hour) -> None:
    for tenant in hour.tenants:
        assert ids(api, "soc_analyst", ALERTS, not_tenant=tenant) == {
            a.id for a in hour.alerts if tenant not in alert_tenants(a)
        }, tenant
        assert ids(api, "soc_analyst", INCIDENTS, not_tenant=tenant) == {
            i.id for i in hour.incidents if tenant not in incident_tenants(i)
        }, tenant
    # Actors included: an alert whose actor alone is the excluded tenant is left out.
    actor = next(a for a in hour.alerts if a.actor_tenant_id and a.actor_tenant_id != a.tenant_id)
    assert actor.id not in ids(api, "admin", ALERTS, not_tenant=actor.actor_tenant_id)
    two = hour.tenants[:2]
    assert ids(api, "admin", ALERTS, not_tenant=two) == alerts_where(
        hour, lambda a: not alert_tenants(a) & set(two)
    )
    assert ids(api, "admin", INCIDENTS, not_tenant=two) == incidents_where(
        hour, lambda i: not incident_tenants(i) & set(two)
    )


def test_not_host_keeps_what_has_no_host(api: SeededApi, hour: Hour) -> None:
    hosts = sorted({a.host_id for a in hour.alerts if a.host_id})
    for host in hosts:
        got = ids(api, "soc_analyst", ALERTS, not_host=host)
        assert got == {a.id for a in hour.alerts if a.host_id != host}, host
        assert alerts_where(hour, lambda a: a.host_id is None) <= got
        assert ids(api, "soc_analyst", INCIDENTS, not_host=host) == {
            i.id for i in hour.incidents if host not in i.hosts
        }, host
    every = ids(api, "admin", ALERTS, not_host=hosts)
    assert every == alerts_where(hour, lambda a: a.host_id is None) != set()
    assert ids(api, "admin", INCIDENTS, not_host=hosts) == incidents_where(
        hour, lambda i: not set(i.hosts) & set(hosts)
    )


def test_not_detector(api: SeededApi, hour: Hour) -> None:
    detectors = sorted({a.detector for a in hour.alerts})
    for detector in detectors:
        assert ids(api, "admin", ALERTS, not_detector=detector) == {
            a.id for a in hour.alerts if a.detector != detector
        }
    assert ids(api, "admin", ALERTS, not_detector=detectors) == set()


def test_not_severity_and_not_status_leave_out_enumerable_values(
    api: SeededApi, hour: Hour
) -> None:
    for severity in Severity:
        assert ids(api, "admin", ALERTS, not_severity=severity.value) == {
            a.id for a in hour.alerts if a.severity != severity
        }
        assert ids(api, "admin", INCIDENTS, not_severity=severity.value) == {
            i.id for i in hour.incidents if i.severity != severity
        }
    every = [s.value for s in Severity]
    assert ids(api, "admin", ALERTS, not_severity=every) == set()
    # With a positive list, the exclusion narrows it; min_severity too.
    got = ids(api, "admin", ALERTS, severity=["high", "critical"], not_severity="critical")
    assert got == alerts_where(hour, lambda a: a.severity is Severity.HIGH)
    got = ids(api, "admin", ALERTS, min_severity="medium", not_severity=["high"])
    assert got == alerts_where(hour, lambda a: a.severity in (Severity.MEDIUM, Severity.CRITICAL))
    # Fresh triage state: every alert and incident is new.
    assert ids(api, "admin", ALERTS, not_status="new") == set()
    assert ids(api, "admin", ALERTS, not_status="resolved") == alerts_where(hour, bool)
    assert ids(api, "admin", INCIDENTS, not_status=["new"]) == incidents_where(
        hour, lambda i: i.status.value != "new"
    )
    bad = api.get("admin", ALERTS, not_severity="catastrophic")
    assert bad.status_code == 422


def test_grade_selects_incidents_by_level(api: SeededApi, hour: Hour) -> None:
    """`grade` (what the overview's grade x severity matrix links to) narrows incidents, with
    the other filters."""
    grades = sorted({i.grade for i in hour.incidents})
    assert len(grades) > 1
    for grade in grades:
        assert ids(api, "admin", INCIDENTS, grade=grade.value) == {
            i.id for i in hour.incidents if i.grade == grade
        }
    two = [g.value for g in grades[:2]]
    severity = hour.incidents[0].severity
    assert ids(api, "admin", INCIDENTS, grade=two, not_severity=severity.value) == {
        i.id for i in hour.incidents if i.grade.value in two and i.severity != severity
    }
    assert api.get("admin", INCIDENTS, grade="V").status_code == 422


def test_exclusions_combine_with_positive_filters_and_the_time_range(
    api: SeededApi, hour: Hour
) -> None:
    middle = sorted(a.first_seen for a in hour.alerts)[len(hour.alerts) // 3]
    since = middle.isoformat()
    for tenant in hour.tenants:
        others = [t for t in hour.tenants if t != tenant]
        for other in others:
            got = ids(api, "admin", ALERTS, tenant=tenant, not_tenant=other, since=since)
            assert got == {
                a.id
                for a in hour.alerts
                if tenant in alert_tenants(a)
                and other not in alert_tenants(a)
                and a.last_seen >= middle
            }, (tenant, other)
        got = ids(api, "admin", INCIDENTS, tenant=tenant, not_tenant=others[0], since=since)
        assert got == {
            i.id
            for i in hour.incidents
            if tenant in incident_tenants(i)
            and others[0] not in incident_tenants(i)
            and i.last_seen >= middle
        }
        # The same tenant in both: nothing, not an error.
        assert ids(api, "admin", ALERTS, tenant=tenant, not_tenant=tenant) == set()
    host = next(a.host_id for a in hour.alerts if a.host_id)
    query = {"min_severity": "medium", "not_host": host, "not_tenant": hour.tenants[0]}
    assert ids(api, "admin", ALERTS, **query) == alerts_where(
        hour,
        lambda a: (
            a.severity.at_least(Severity.MEDIUM)
            and a.host_id != host
            and hour.tenants[0] not in alert_tenants(a)
        ),
    )
    until = (middle + dt.timedelta(minutes=20)).isoformat()
    detector = hour.alerts[0].detector
    assert ids(
        api, "admin", ALERTS, since=since, until=until, not_detector=detector, not_host=host
    ) == alerts_where(
        hour,
        lambda a: (
            a.last_seen >= middle
            and a.first_seen < middle + dt.timedelta(minutes=20)
            and a.detector != detector
            and a.host_id != host
        ),
    )


def test_names_that_match_nothing_exclude_nothing(api: SeededApi) -> None:
    for path in (ALERTS, INCIDENTS):
        _, plain = pages(api, "admin", path, limit=5)
        _, other = pages(api, "admin", path, limit=5, not_tenant="no-such", not_host="hv-99")
        assert other == plain
        _, empty = pages(api, "admin", path, limit=5, not_tenant="", not_host="")
        assert empty == plain


def viewer_cases(hour: Hour) -> Iterator[tuple[str, list[str]]]:
    """Each tenant with the other tenants its alerts or incidents involve."""
    for tenant in hour.tenants:
        seen = set().union(
            *(alert_tenants(a) for a in hour.alerts if tenant in alert_tenants(a)),
            *(incident_tenants(i) for i in hour.incidents if tenant in incident_tenants(i)),
        )
        yield tenant, sorted(seen - {tenant})


def test_a_viewer_excludes_others_by_pseudonym_only(api: SeededApi, hour: Hour) -> None:
    leaks = scanners(hour, load_inventory(hour))
    neighbours = 0
    for viewer, others in viewer_cases(hour):
        who = f"viewer:{viewer}"
        strangers = [t for t in hour.tenants if t != viewer and t not in others]
        mine_alerts = {a.id for a in hour.alerts if viewer in alert_tenants(a)}
        mine_incidents = {i.id for i in hour.incidents if viewer in incident_tenants(i)}
        _, plain_alerts = pages(api, who, ALERTS, limit=4)
        _, plain_incidents = pages(api, who, INCIDENTS, limit=4)
        for other in others:
            neighbours += 1
            shown = pseudonym(KEY, "tenant", other)
            assert ids(api, who, ALERTS, not_tenant=shown) == {
                a for a in mine_alerts if other not in alert_tenants(hour_alert(hour, a))
            }, (viewer, other)
            assert ids(api, who, INCIDENTS, not_tenant=shown) == {
                i for i in mine_incidents if other not in incident_tenants(hour_incident(hour, i))
            }, (viewer, other)
            # With a real name beside it, exactly as without the real name.
            for path in (ALERTS, INCIDENTS):
                _, alone = pages(api, who, path, limit=4, not_tenant=shown)
                _, mixed = pages(api, who, path, limit=4, not_tenant=[other, shown, "nobody"])
                assert mixed == alone, (viewer, other, path)
                assert not leaks[viewer](alone), (viewer, other, path)
        # The pseudonym of a tenant its data never involves: nothing to exclude either.
        for stranger in strangers:
            shown = pseudonym(KEY, "tenant", stranger)
            _, text = pages(api, who, ALERTS, limit=4, not_tenant=shown)
            assert text == plain_alerts, (viewer, stranger)
        # Real ids of other tenants (seen in its data or not) and made-up names: the answer is,
        # byte for byte, the one without them.
        for name in [*(t for t in hour.tenants if t != viewer), "no-such-tenant", "tenant-0"]:
            for path, plain in ((ALERTS, plain_alerts), (INCIDENTS, plain_incidents)):
                _, text = pages(api, who, path, limit=4, not_tenant=name)
                assert text == plain, (viewer, name, path)
        everyone = [t for t in hour.tenants if t != viewer]
        _, text = pages(api, who, ALERTS, limit=4, not_tenant=everyone)
        assert text == plain_alerts
        # Its own tenant is its to name: every one of its alerts involves it.
        assert ids(api, who, ALERTS, not_tenant=viewer) == set()
    assert neighbours, "the hour should give some viewer a neighbour"


def hour_alert(hour: Hour, alert_id: str) -> Alert:
    return next(a for a in hour.alerts if a.id == alert_id)


def hour_incident(hour: Hour, incident_id: str) -> Incident:
    return next(i for i in hour.incidents if i.id == incident_id)


def test_too_many_or_too_long_values_are_refused(api: SeededApi) -> None:
    for path, name in ((ALERTS, "not_tenant"), (ALERTS, "not_host"), (ALERTS, "not_detector"),
                       (INCIDENTS, "not_tenant"), (INCIDENTS, "not_host")):  # fmt: skip
        values = [f"v{n}" for n in range(MAX_EXCLUDED)]
        assert api.get("admin", path, **{name: values}).status_code == 200
        response = api.get("admin", path, **{name: [*values, "one-more"]})
        assert response.status_code == 422, (path, name)
        assert response.headers["content-type"] == "application/problem+json"
        (error,) = response.json()["errors"]
        assert error["loc"] == ["query", name]
        assert f"at most {MAX_EXCLUDED} items" in error["msg"]
        long = api.get("admin", path, **{name: ["x" * 201]})
        assert long.status_code == 422
        (error,) = long.json()["errors"]
        assert error["loc"] == ["query", name, 0]
        assert "at most 200 characters" in error["msg"]
    # Not an incident filter: ignored like any unknown parameter.
    assert api.get("admin", INCIDENTS, not_detector="x").status_code == 200


def test_the_parameters_are_published(api: SeededApi) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    for path, names in ((ALERTS, ("not_tenant", "not_host", "not_detector")),
                        (INCIDENTS, ("not_tenant", "not_host"))):  # fmt: skip
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for name in ("not_severity", "not_status"):
            assert "repeatable" in params[name]["description"]
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for name in names:
            param = params[name]
            assert param["in"] == "query"
            assert "repeatable" in param["description"]
            (array, _none) = param["schema"]["anyOf"]
            assert array["type"] == "array"
            assert array["maxItems"] == MAX_EXCLUDED
            assert array["items"] == {"type": "string", "maxLength": 200}
    assert "not_detector" not in {p["name"] for p in spec["paths"][INCIDENTS]["get"]["parameters"]}
