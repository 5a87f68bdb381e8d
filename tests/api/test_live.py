"""The console's session routes over a real uvicorn server: `/whoami` for every role, and the
live stream (`/stream`): an alert written to the store reaches a connected reader, a tenant
viewer never receives another tenant's alert, regulators get no alerts or stats, ingest keys
are refused. The tests wait on the stream itself with a deadline, never on a sleep.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest

from fenghuo.model.alert import Alert
from tests.api.seeded import SeededApi, replay_hour, seeded_api

API = "/api/v1"
DEADLINE = 15.0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    tmp = tmp_path_factory.mktemp("live")
    with seeded_api(tmp, replay_hour(tmp)) as running:
        yield running


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    id: str | None


class Stream:
    """A connected `/stream`: read events until a predicate holds or the deadline passes."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.seen: list[Event] = []

    def next_event(self) -> Event:
        name, data, seq = "message", "", None
        for line in self.lines:
            if line == "":
                if data:
                    event = Event(name, json.loads(data), seq)
                    self.seen.append(event)
                    return event
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data += value
            elif field == "id":
                seq = value
        raise AssertionError("the stream ended")

    def wait_for(self, what: str, predicate: Any, deadline: float = DEADLINE) -> Event:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            event = self.next_event()
            if predicate(event):
                return event
        raise AssertionError(f"no {what} within {deadline}s; saw {[e.name for e in self.seen]}")


@contextmanager
def stream(api: SeededApi, who: str, **params: Any) -> Iterator[Stream]:
    # The read timeout bounds each wait; stats every few seconds keep a healthy stream talking.
    timeout = httpx.Timeout(DEADLINE, connect=5)
    with (
        httpx.Client(base_url=api.url, timeout=timeout) as client,
        client.stream("GET", f"{API}/stream", headers=api.auth(who), params=params) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


def new_alert(api: SeededApi, tenant: str, marker: str) -> Alert:
    """A fresh alert of `tenant` (victim, no actor), detected now."""
    template = next(a for a in api.hour.alerts if a.tenant_id == tenant)
    now = dt.datetime.now(dt.UTC)
    return msgspec.structs.replace(
        template,
        id=f"live-{marker}",
        title=f"live probe {marker}",
        actor_tenant_id=None,
        first_seen=now - dt.timedelta(seconds=3),
        last_seen=now - dt.timedelta(seconds=1),
        detected_at=now,
    )


# --- whoami -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role", "triage", "admin", "reads"),
    [
        ("admin", "admin", True, True, "keys"),
        ("soc_analyst", "soc_analyst", True, False, "alerts"),
        ("regulator", "regulator", False, False, "reports"),
        ("ingest", "ingest", False, False, None),
    ],
)
def test_whoami_for_every_role(
    api: SeededApi, who: str, role: str, triage: bool, admin: bool, reads: str | None
) -> None:
    body = api.get(who, f"{API}/whoami").json()
    assert body["role"] == role
    assert body["tenant_id"] is None
    assert (body["can_triage"], body["can_admin"]) == (triage, admin)
    assert body["name"] == f"test-{role}"
    if reads is None:
        assert body["reads"] == []
        assert body["can_ingest"]
        assert not body["can_stream"]
    else:
        assert reads in body["reads"]
    if role == "regulator":
        assert "alerts" not in body["reads"]


def test_whoami_of_a_tenant_viewer_names_its_tenant(api: SeededApi) -> None:
    tenant = api.hour.tenants[0]
    body = api.get(f"viewer:{tenant}", f"{API}/whoami").json()
    assert (body["role"], body["tenant_id"]) == ("tenant_viewer", tenant)
    assert not body["can_triage"]
    assert {"alerts", "incidents", "reports"} <= set(body["reads"])


def test_whoami_without_a_key_is_401(api: SeededApi) -> None:
    assert api.client.get(f"{API}/whoami").status_code == 401


# --- the stream -------------------------------------------------------------------------------


def test_stream_starts_with_scoped_stats(api: SeededApi) -> None:
    with stream(api, "admin") as events:
        first = events.next_event()
    assert first.name == "stats"
    assert first.data["detection_lag"]["basis"] == "detected_at - first_seen"
    assert set(first.data["open_by_grade"]) == {"I", "II", "III", "IV"}
    assert first.data["open_incidents"] == sum(first.data["open_by_grade"].values())


def test_a_new_alert_reaches_a_connected_analyst(api: SeededApi) -> None:
    alert = new_alert(api, api.hour.tenants[0], "analyst")
    with stream(api, "soc_analyst") as events:
        events.next_event()  # connected: the first stats
        api.store.alerts.upsert([alert])
        got = events.wait_for("the new alert", lambda e: e.name == "alert")
    assert got.data["id"] == alert.id
    assert got.data["tenant_id"] == alert.tenant_id
    assert got.data["severity"] == alert.severity.value
    assert got.data["status"] == "new"
    assert got.id is not None
    assert int(got.id) > 0


def test_a_tenant_viewer_never_receives_another_tenants_alert(api: SeededApi) -> None:
    mine, other = api.hour.tenants[0], api.hour.tenants[1]
    foreign, own = new_alert(api, other, "foreign"), new_alert(api, mine, "own")
    with stream(api, f"viewer:{mine}") as events:
        events.next_event()
        # Written first: were it delivered, it would come before the viewer's own.
        api.store.alerts.upsert([foreign])
        api.store.alerts.upsert([own])
        got = events.wait_for("its own alert", lambda e: e.name == "alert")
        text = json.dumps([e.data for e in events.seen])
    assert got.data["id"] == own.id
    assert foreign.id not in text
    assert other not in text


def test_a_triage_action_streams_the_alerts_new_status(api: SeededApi) -> None:
    target = api.hour.alerts[0]
    with stream(api, "admin") as events:
        events.next_event()
        response = api.client.post(
            f"{API}/alerts/{target.id}/actions",
            headers=api.auth("admin"),
            json={"action": "acknowledge"},
        )
        assert response.status_code == 200, response.text
        got = events.wait_for(
            "the acknowledged alert",
            lambda e: e.name == "alert" and e.data["id"] == target.id,
        )
    assert got.data["status"] == "acknowledged"


def test_a_regulator_gets_no_alerts_or_stats(api: SeededApi) -> None:
    alert = new_alert(api, api.hour.tenants[0], "regulator")
    with stream(api, "regulator") as events:
        assert events.next_event().name == "heartbeat"
        api.store.alerts.upsert([alert])
        # An analyst's stream proves the alert went out; then the regulator's is checked.
        with stream(api, "admin") as analyst:
            analyst.wait_for("the alert", lambda e: e.name == "alert" and e.data["id"] == alert.id)
    assert all(e.name in ("heartbeat", "report", "bye") for e in events.seen)


def test_ingest_and_anonymous_callers_are_refused(api: SeededApi) -> None:
    assert api.get("ingest", f"{API}/stream").status_code == 403
    assert api.client.get(f"{API}/stream").status_code == 401


def test_max_events_closes_the_stream(api: SeededApi) -> None:
    response = api.get("admin", f"{API}/stream", max_events=1)
    assert response.status_code == 200
    assert response.text.count("event:") == 1
    assert "event: stats\n" in response.text
