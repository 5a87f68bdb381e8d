"""The API isolation matrix, extended to /taxii2/: every TAXII route x every kind of caller (no,
invalid and revoked key; ingest; two regulators; a viewer of each of two tenants; soc_analyst;
admin) x every collection (each granted to someone else, and a missing one). The expected status
comes from the role and the grants alone (a table here, not the server's code); a collection the
caller may not see answers byte for byte like a missing one, and so does a status resource
another key created."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from fenghuo.intel.collections import Collection
from tests.intel.taxii_support import TAXII, TaxiiApi, indicator, taxii_api

CALLERS = (
    "none",
    "invalid",
    "revoked",
    "ingest",
    "regulator-a",
    "regulator-b",
    "viewer:acme",
    "viewer:globex",
    "soc",
    "admin",
)
SHARED = indicator("in-every-collection")
# Which collections each reader was granted (besides admin and soc, who read every one).
GRANTS = {
    "regulator-a": {"main"},
    "regulator-b": {"other"},
    "viewer:acme": {"acme"},
    "viewer:globex": {"globex"},
}


@dataclass(frozen=True)
class Matrix:
    api: TaxiiApi
    collections: dict[str, Collection]
    headers: dict[str, dict[str, str]]
    status_id: str  # a status resource admin created


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with taxii_api(tmp_path_factory.mktemp("taxii-matrix")) as api:
        collections = {
            "main": api.collection("main", readers=("regulator-a",), can_write=True),
            "other": api.collection("other", readers=("regulator-b",)),
            "acme": api.own_collection("acme"),
            "globex": api.own_collection("globex"),
        }
        for collection in collections.values():
            api.store.objects.append(collection.id, [SHARED])
        revoked, token = api.store.keys.create(api.keys["admin"].role, name="revoked-admin")
        api.store.keys.revoke(revoked.id)
        headers = {who: {"Accept": TAXII, **api.bearer(who)} for who in api.tokens}
        headers["none"] = {"Accept": TAXII}
        headers["invalid"] = {"Accept": TAXII, "Authorization": "Bearer fhk_0000_nope"}
        headers["revoked"] = {"Accept": TAXII, "Authorization": f"Bearer {token}"}
        posted = api.client.post(
            f"{api.collection_url(collections['main'].id)}objects/",
            headers={**headers["admin"], "Content-Type": TAXII},
            content=b'{"objects": []}',
        )
        assert posted.status_code == 202, posted.text
        yield Matrix(api, collections, headers, posted.json()["id"])


def expected(who: str, collection: str | None) -> int:
    """The answer by role and grants; `collection` None for the routes outside collections."""
    if who in ("none", "invalid", "revoked"):
        return 401
    if who == "ingest":
        return 403
    if collection is None or who in ("admin", "soc"):
        return 200 if collection != "missing" else 404
    return 200 if collection in GRANTS[who] else 404


def collection_routes(base: str) -> list[str]:
    one = f"objects/{SHARED['id']}/"
    return [base, f"{base}manifest/", f"{base}objects/", f"{base}{one}", f"{base}{one}versions/"]


def get(matrix: Matrix, who: str, url: str) -> httpx.Response:
    return matrix.api.client.get(url, headers=matrix.headers[who])


def test_every_route_every_caller_every_collection(matrix: Matrix) -> None:
    api = matrix.api
    names = [*matrix.collections, "missing"]
    urls = {name: api.collection_url(c.id) for name, c in matrix.collections.items()}
    urls["missing"] = api.collection_url(str(uuid.uuid4()))
    checked = 0
    for who in CALLERS:
        for url in (api.url, api.root, f"{api.root}collections/"):
            response = get(matrix, who, url)
            assert response.status_code == expected(who, None), (who, url, response.text)
            assert response.headers["content-type"] == TAXII
            checked += 1
        for name in names:
            for route, missing in zip(
                collection_routes(urls[name]), collection_routes(urls["missing"]), strict=True
            ):
                response = get(matrix, who, route)
                want = expected(who, name)
                assert response.status_code == want, (who, name, route, response.text)
                assert response.headers["content-type"] == TAXII
                if want == 404:
                    absent = get(matrix, who, missing)
                    assert response.content == absent.content, (who, name, route)
                checked += 1
    assert checked == len(CALLERS) * (3 + len(names) * 5)


def test_the_collections_list_shows_exactly_the_grants(matrix: Matrix) -> None:
    ids = {name: c.id for name, c in matrix.collections.items()}
    for who in ("regulator-a", "regulator-b", "viewer:acme", "viewer:globex", "soc", "admin"):
        listed = get(matrix, who, f"{matrix.api.root}collections/").json().get("collections", [])
        want = set(ids) if who in ("admin", "soc") else GRANTS[who]
        assert {c["id"] for c in listed} == {ids[name] for name in want}, who


def test_a_status_answers_only_its_poster_and_the_soc(matrix: Matrix) -> None:
    api = matrix.api
    url = f"{api.root}status/{matrix.status_id}/"
    missing = f"{api.root}status/{uuid.uuid4()}/"
    for who in CALLERS:
        response = get(matrix, who, url)
        want = expected(who, None)
        if want == 200 and who not in ("admin", "soc"):
            want = 404
        assert response.status_code == want, (who, response.text)
        if want == 404:
            assert response.content == get(matrix, who, missing).content


def test_writes_need_a_grant_and_deletes_an_admin(matrix: Matrix) -> None:
    api = matrix.api
    body = b'{"objects": []}'
    for who in CALLERS:
        for name, collection in matrix.collections.items():
            url = f"{api.collection_url(collection.id)}objects/"
            headers = {**matrix.headers[who], "Content-Type": TAXII}
            response = api.client.post(url, headers=headers, content=body)
            readable = expected(who, name)
            if readable != 200:
                want = readable
            elif name == "main" and who in ("admin", "soc", "regulator-a"):
                want = 202  # writable, and the caller may read it
            else:
                want = 403  # visible but not writable by this caller
            assert response.status_code == want, (who, name, response.text)
            deletion = api.client.delete(
                f"{api.collection_url(collection.id)}objects/indicator--{uuid.uuid4()}/",
                headers=matrix.headers[who],
            )
            if readable != 200:
                assert deletion.status_code == readable, (who, name)
            elif who != "admin":
                assert deletion.status_code == 403, (who, name)
