"""The feed as an admin and an analyst drive it through the API (real server with the simulated
hour and its inventory): a new collection is filled from the stored incidents, and an analyst's
verdict reaches the regulator's objects and the reports at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Collection as RemoteCollection
from taxii2client.v21 import as_pages

from fenghuo.intel.stix import INCIDENT_CORE_ID, incident_stix_id
from fenghuo.model.incident import Grade
from tests.api.seeded import Hour, SeededApi, seeded_api

SERIOUS = (Grade.I, Grade.II, Grade.III)


@pytest.fixture
def api(tmp_path: Path, hour: Hour) -> Iterator[SeededApi]:
    with seeded_api(tmp_path, hour) as running:
        yield running


def regulator_reads(api: SeededApi, collection_id: str) -> dict[str, dict[str, Any]]:
    """The latest incident objects the demo regulator key reads, by id."""
    remote = RemoteCollection(
        f"{api.url}/taxii2/fenghuo/collections/{collection_id}/",
        user="regulator",
        password=api.tokens["regulator"],
    )
    return {
        o["id"]: o
        for page in as_pages(remote.get_objects, per_request=100, type="incident")
        for o in page.get("objects", [])
    }


def new_collection(api: SeededApi) -> str:
    key = api.store.keys.verify(api.tokens["regulator"])
    assert key is not None
    body = {"title": "graded III and above", "filter": {"min_grade": "III"}, "readers": [key.id]}
    response = api.client.post("/api/v1/collections", json=body, headers=api.auth("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_new_collection_is_filled_and_follows_the_analyst(api: SeededApi, hour: Hour) -> None:
    serious = [i for i in hour.incidents if i.grade in SERIOUS]
    assert serious
    collection_id = new_collection(api)
    read = regulator_reads(api, collection_id)
    assert set(read) == {incident_stix_id(i.id) for i in serious}
    target = serious[0]
    core = read[incident_stix_id(target.id)]["extensions"][INCIDENT_CORE_ID]
    assert (core["determination"], core["investigation_status"]) == ("suspected", "new")

    response = api.client.post(
        f"/api/v1/incidents/{target.id}/actions",
        json={"action": "false_positive", "comment": "a scheduled penetration test"},
        headers=api.auth("soc_analyst"),
    )
    assert response.status_code == 200, response.text
    after = regulator_reads(api, collection_id)[incident_stix_id(target.id)]
    core = after["extensions"][INCIDENT_CORE_ID]
    assert (core["determination"], core["investigation_status"]) == ("false-positive", "closed")
    assert after["modified"] > read[incident_stix_id(target.id)]["modified"]
    # Handling ended: the closing report is drafted (when the incident had to be reported).
    reports = api.get("admin", "/api/v1/reports", incident=target.id).json()["items"]
    kinds = {r["kind"] for r in reports}
    assert kinds == ({"initial", "closing"} if target.reporting.required else set())


def test_an_incident_bundle_as_each_caller_may_see_it(api: SeededApi, hour: Hour) -> None:
    """`GET /incidents/{id}/stix`: admins get identities, a tenant viewer its own names and
    every other tenant by pseudonym; both bundles pass the validator."""
    cross = next(i for i in hour.incidents if len({*i.tenants, *i.actor_tenants}) > 1)
    viewer = cross.tenants[0]
    others = {t for t in (*cross.tenants, *cross.actor_tenants) if t != viewer}
    path = f"/api/v1/incidents/{cross.id}/stix"
    admin = api.client.get(path, headers=api.auth("admin"), params={"tlp": "red"})
    mine = api.client.get(path, headers=api.auth(f"viewer:{viewer}"))
    for response in (admin, mine):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/stix+json;version=2.1"
        result = validate_instance(response.json(), ValidationOptions(version="2.1"))
        assert result.is_valid, [str(e) for e in result.errors]
    names = {o.get("name") for o in admin.json()["objects"] if o["type"] == "identity"}
    assert others <= names
    tokens = set(re.split(r"[^0-9A-Za-z]+", mine.text))
    assert viewer in tokens
    assert not others & tokens
    assert api.client.get(path, headers=api.auth("regulator")).status_code == 403
