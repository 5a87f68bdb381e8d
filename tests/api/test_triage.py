"""Triage actions through the API: state transitions, the action log, idempotency, suppress
similar, and the audit trail (read back from the real store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fenghuo.store.base import Scope
from tests.api.seeded import Hour, SeededApi, replay_hour, seeded_api


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("triage-hour"))


@pytest.fixture
def api(hour: Hour, tmp_path: Any) -> Iterator[SeededApi]:
    with seeded_api(tmp_path, hour) as running:  # a fresh store: actions are not shared
        yield running


def act(
    api: SeededApi, kind: str, target: str, who: str = "soc_analyst", **body: Any
) -> httpx.Response:
    headers = api.auth(who) | body.pop("headers", {})
    return api.client.post(f"/api/v1/{kind}/{target}/actions", headers=headers, json=body)


def test_an_alert_goes_through_its_life(api: SeededApi, hour: Hour) -> None:
    alert = hour.alerts[0].id
    assert act(api, "alerts", alert, action="acknowledge").json()["state"]["status"] == (
        "acknowledged"
    )
    assigned = act(api, "alerts", alert, action="assign", assignee="li.wei").json()["state"]
    assert (assigned["status"], assigned["assignee"]) == ("investigating", "li.wei")
    act(api, "alerts", alert, action="comment", comment="VMM child is ncat; host isolated")
    resolved = act(api, "alerts", alert, action="resolve", comment="patched").json()["state"]
    assert resolved["status"] == "resolved"
    assert resolved["comments"] == 2
    log = api.get("admin", f"/api/v1/alerts/{alert}/actions").json()["items"]
    assert [a["kind"] for a in log] == ["acknowledge", "assign", "comment", "resolve"]
    assert {a["actor"] for a in log} == {"test-soc_analyst"}
    assert api.get("admin", f"/api/v1/alerts/{alert}").json()["state"]["status"] == "resolved"
    by_status = api.get("admin", "/api/v1/alerts", status="resolved").json()["items"]
    assert [v["alert"]["id"] for v in by_status] == [alert]
    reopened = act(api, "alerts", alert, who="admin", action="reopen").json()["state"]
    assert reopened["status"] == "new"


def test_bad_actions_are_refused_with_reasons(api: SeededApi, hour: Hour) -> None:
    alert, incident = hour.alerts[0].id, hour.incidents[0].id
    empty_comment = act(api, "alerts", alert, action="comment", comment="  ")
    assert empty_comment.status_code == 422
    assert "non-empty comment" in empty_comment.json()["detail"]
    suppress_incident = act(api, "incidents", incident, action="suppress_similar")
    assert suppress_incident.status_code == 422
    stray_assignee = act(api, "alerts", alert, action="resolve", assignee="x")
    assert stray_assignee.status_code == 422
    unknown = act(api, "alerts", alert, action="delete")
    assert unknown.status_code == 422
    assert act(api, "alerts", "no-such-alert", action="acknowledge").status_code == 404
    viewer = f"viewer:{hour.alerts[0].tenant_id}"
    assert act(api, "alerts", alert, who=viewer, action="acknowledge").status_code == 403
    assert api.get("admin", f"/api/v1/alerts/{alert}/actions").json()["items"] == []


def test_a_retried_request_with_an_idempotency_key_acts_once(api: SeededApi, hour: Hour) -> None:
    incident = hour.incidents[0].id
    headers = {"Idempotency-Key": "retry-1"}
    first = act(api, "incidents", incident, action="comment", comment="x", headers=headers)
    again = act(api, "incidents", incident, action="comment", comment="x", headers=headers)
    assert first.json()["action_id"] == again.json()["action_id"]
    assert again.json()["state"]["comments"] == 1
    other = act(api, "incidents", incident, action="comment", comment="y")
    assert other.json()["state"]["comments"] == 2
    assert len(api.get("admin", f"/api/v1/incidents/{incident}/actions").json()["items"]) == 2


def test_suppress_similar_marks_every_similar_alert(api: SeededApi, hour: Hour) -> None:
    def key(a: Any) -> tuple[str, str | None, str | None]:
        return (a.detector, a.tenant_id, a.host_id)

    groups: dict[tuple[str, str | None, str | None], list[str]] = {}
    for alert in hour.alerts:
        groups.setdefault(key(alert), []).append(alert.id)
    target_key, similar = max(groups.items(), key=lambda kv: len(kv[1]))
    answer = act(api, "alerts", similar[0], action="suppress_similar", comment="known scanner")
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied_to"] == len(similar)
    for alert in hour.alerts:
        state = api.get("admin", f"/api/v1/alerts/{alert.id}").json()["state"]
        assert state["suppressed"] is (key(alert) == target_key), alert.id


def test_every_action_is_in_the_audit_trail(api: SeededApi, hour: Hour) -> None:
    alert, incident = hour.alerts[0], hour.incidents[0]
    act(api, "alerts", alert.id, action="acknowledge", headers={"X-Request-ID": "req-42"})
    act(api, "incidents", incident.id, who="admin", action="resolve")
    entries = api.store.audit.list(Scope.everything()).items
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("incident.resolve", f"incident:{incident.id}", "test-admin"),
        ("alert.acknowledge", f"alert:{alert.id}", "test-soc_analyst"),
    ]
    assert entries[1].tenant_id == alert.tenant_id
    assert entries[1].request_id is not None


def test_suppress_similar_leaves_a_rule_for_future_alerts(api: SeededApi, hour: Hour) -> None:
    alert = next(a for a in hour.alerts if a.tenant_id and a.host_id)
    until = "2027-01-01T00:00:00Z"
    answer = act(api, "alerts", alert.id, action="suppress_similar", comment="lab", until=until)
    rule_id = answer.json()["suppression_id"]
    rules = api.get("admin", "/api/v1/suppressions").json()["items"]
    assert [
        (r["id"], r["detector"], r["tenant_id"], r["host_id"], r["reason"], r["source_alert"])
        for r in rules
    ] == [(rule_id, alert.detector, alert.tenant_id, alert.host_id, "lab", alert.id)]
    assert rules[0]["until"].startswith("2027-01-01T00:00:00")
    assert api.store.suppressions.list(Scope.everything())[0].id == rule_id  # what the job reads
    own, other = (
        f"viewer:{alert.tenant_id}",
        next(f"viewer:{t}" for t in hour.tenants if t != alert.tenant_id),
    )
    assert [r["id"] for r in api.get(own, "/api/v1/suppressions").json()["items"]] == [rule_id]
    assert api.get(other, "/api/v1/suppressions").json()["items"] == []
    assert (
        api.client.delete(f"/api/v1/suppressions/{rule_id}", headers=api.auth(own)).status_code
        == 403
    )
    revoke = api.client.delete(f"/api/v1/suppressions/{rule_id}", headers=api.auth("soc_analyst"))
    assert revoke.status_code == 204
    again = api.client.delete(f"/api/v1/suppressions/{rule_id}", headers=api.auth("soc_analyst"))
    assert again.status_code == 404
    assert api.get("admin", "/api/v1/suppressions").json()["items"] == []
    revoked = api.get("admin", "/api/v1/suppressions", include_revoked="true").json()["items"]
    assert revoked[0]["revoked_at"] is not None
    actions = [e.action for e in api.store.audit.list(Scope.everything()).items]
    assert actions[:2] == ["suppression.revoke", "alert.suppress_similar"]
    wrong = act(api, "alerts", alert.id, action="acknowledge", until=until)
    assert wrong.status_code == 422
