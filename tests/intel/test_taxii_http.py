"""The TAXII server on the wire: media types on every route and every error, content
negotiation (406, 415), pagination edges, filters, deletes, authentication by Bearer and Basic,
and who sees which collection (a collection not granted answers exactly like a missing one)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from fenghuo.intel.collections import Collection
from tests.intel.taxii_support import STIX, TAXII, TaxiiApi, indicator, ipv4, taxii_api


@dataclass(frozen=True)
class World:
    api: TaxiiApi
    main: Collection  # granted to regulator-a; writable
    other: Collection  # granted to regulator-b
    empty: Collection
    acme: Collection  # acme's own, granted to viewer:acme
    globex: Collection  # globex's own, granted to viewer:globex


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with taxii_api(tmp_path_factory.mktemp("taxii-http")) as api:
        main = api.collection("main", readers=("regulator-a",), can_write=True)
        api.store.objects.append(
            main.id,
            [indicator("a", minute=1), indicator("a", minute=2), indicator("b"), ipv4("10.9.0.1")],
        )
        other = api.collection("other", readers=("regulator-b",))
        api.store.objects.append(other.id, [indicator(f"o{i}") for i in range(3)])
        empty = api.collection("empty", readers=("regulator-a",))
        yield World(
            api, main, other, empty, api.own_collection("acme"), api.own_collection("globex")
        )


def routes(world: World) -> list[tuple[str, str]]:
    """Every TAXII GET route, with ids of `main`."""
    col = world.api.collection_url(world.main.id)
    obj = indicator("a")["id"]
    return [
        ("discovery", world.api.url),
        ("api root", world.api.root),
        ("collections", f"{world.api.root}collections/"),
        ("collection", col),
        ("manifest", f"{col}manifest/"),
        ("objects", f"{col}objects/"),
        ("object", f"{col}objects/{obj}/"),
        ("versions", f"{col}objects/{obj}/versions/"),
    ]


def assert_taxii(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII
    if status >= 400:
        body = response.json()
        assert body["http_status"] == str(status)
        assert body["title"]


def test_every_route_and_error_speaks_taxii(world: World) -> None:
    api = world.api
    for _name, url in routes(world):
        assert_taxii(api.get("admin", url), 200)
        assert_taxii(api.client.get(url, headers={"Accept": TAXII}), 401)
        assert_taxii(api.get("ingest", url), 403)
        assert_taxii(
            api.client.get(url, headers={**api.bearer("admin"), "Accept": "text/html"}), 406
        )
        assert_taxii(
            api.client.get(
                url, headers={**api.bearer("admin"), "Accept": "application/taxii+json;version=2.0"}
            ),
            406,
        )
    assert_taxii(api.get("admin", f"{api.root}nowhere/"), 404)
    assert_taxii(api.client.put(world.api.root, headers=api.bearer("admin")), 405)
    bad_limit = api.get("admin", f"{api.collection_url(world.main.id)}objects/", limit="x")
    assert_taxii(bad_limit, 400)
    wrong = api.client.get(api.root, headers={"Authorization": "Bearer fhk_nope_nope"})
    assert_taxii(wrong, 401)


def test_content_negotiation(world: World) -> None:
    api, url = world.api, f"{world.api.collection_url(world.main.id)}objects/"
    for accept, answer in (
        (STIX, STIX),
        (TAXII, TAXII),
        ("application/taxii+json", TAXII),
        ("*/*", TAXII),
        (f"{STIX}, {TAXII};q=0.5", STIX),
        (f"{STIX};q=0.2, {TAXII}", TAXII),
        ("", TAXII),
    ):
        response = api.client.get(url, headers={**api.bearer("admin"), "Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == answer, accept
    # Only object envelopes come as STIX: a collection resource asked as STIX is 406.
    asked = {**api.bearer("admin"), "Accept": STIX}
    assert_taxii(api.client.get(world.api.collection_url(world.main.id), headers=asked), 406)


def test_post_needs_a_taxii_body_and_a_writable_collection(world: World) -> None:
    api, url = world.api, f"{world.api.collection_url(world.main.id)}objects/"
    body = b'{"objects": []}'
    for content_type in (
        "application/json",
        STIX,
        "text/plain",
        "application/taxii+json;version=2.0",
    ):
        headers = {**api.bearer("admin"), "Content-Type": content_type}
        assert_taxii(api.client.post(url, headers=headers, content=body), 415)
    headers = {**api.bearer("admin"), "Content-Type": TAXII, "Accept": TAXII}
    assert_taxii(api.client.post(url, headers=headers, content=b"{not json"), 400)
    assert_taxii(api.client.post(url, headers=headers, content=b'{"more": false}'), 400)
    accepted = api.client.post(url, headers=headers, content=body)
    assert_taxii(accepted, 202)
    assert accepted.json()["total_count"] == 0
    viewer = {**api.bearer("viewer:acme"), "Content-Type": TAXII}
    acme_url = f"{api.collection_url(world.acme.id)}objects/"
    assert_taxii(api.client.post(acme_url, headers=viewer, content=body), 403)
    read_only = f"{api.collection_url(world.other.id)}objects/"
    assert_taxii(
        api.client.post(read_only, headers={**headers, **api.bearer("admin")}, content=body), 403
    )
    too_big = api.client.post(url, headers=headers, content=b" " * 70_000)
    assert_taxii(too_big, 413)
    status_id = accepted.json()["id"]
    assert_taxii(api.get("admin", f"{api.root}status/{status_id}/"), 200)
    assert_taxii(api.get("regulator-a", f"{api.root}status/{status_id}/"), 404)


def test_pagination_edges(world: World) -> None:
    api = world.api
    empty = api.get("regulator-a", f"{api.collection_url(world.empty.id)}objects/")
    assert_taxii(empty, 200)
    assert empty.json() == {"more": False, "objects": []}
    assert "X-TAXII-Date-Added-First" not in empty.headers
    many = world.api.collection("many", readers=("regulator-a",))
    api.store.objects.append(many.id, [indicator(f"x{i}") for i in range(1_100)])
    url = f"{api.collection_url(many.id)}objects/"
    clamped = api.get("regulator-a", url, limit=5_000).json()
    assert len(clamped["objects"]) == 1_000
    assert clamped["more"]
    assert clamped["next"]
    rest = api.get("regulator-a", url, limit=5_000, next=clamped["next"]).json()
    assert len(rest["objects"]) == 100
    assert rest == {"more": False, "objects": rest["objects"]}
    elsewhere = api.get(
        "regulator-a", f"{api.collection_url(world.main.id)}objects/", next=clamped["next"]
    )
    assert_taxii(elsewhere, 400)
    assert "another collection" in elsewhere.json()["description"]
    assert_taxii(api.get("regulator-a", url, next="not-a-cursor"), 400)
    assert_taxii(api.get("regulator-a", url, limit=0), 400)
    assert_taxii(api.get("regulator-a", url, added_after="yesterday"), 400)
    assert_taxii(api.get("regulator-a", url, **{"match[colour]": "red"}), 400)
    page = api.get("regulator-a", url, limit=3)
    dates = api.get("regulator-a", f"{api.collection_url(many.id)}manifest/", limit=3).json()
    assert page.headers["X-TAXII-Date-Added-First"] == dates["objects"][0]["date_added"]
    assert page.headers["X-TAXII-Date-Added-Last"] == dates["objects"][-1]["date_added"]


def test_match_filters(world: World) -> None:
    api, url = world.api, f"{world.api.collection_url(world.main.id)}objects/"

    def ids(**params: str) -> list[str]:
        response = api.get("regulator-a", url, **params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["objects"]]

    a, b, ip = indicator("a")["id"], indicator("b")["id"], ipv4("10.9.0.1")["id"]
    assert ids() == [a, b, ip]
    assert ids(**{"match[type]": "ipv4-addr"}) == [ip]
    assert ids(**{"match[id]": f"{a},{ip}"}) == [a, ip]
    assert ids(**{"match[version]": "all"}) == [a, a, b, ip]
    assert ids(**{"match[version]": "first", "match[id]": a}) == [a]
    version = indicator("a", minute=1)["modified"]
    assert ids(**{"match[version]": version}) == [a]
    assert ids(**{"match[spec_version]": "2.1"}) == [a, b, ip]
    assert ids(**{"match[spec_version]": "2.0"}) == []


def test_delete_is_for_admins(world: World) -> None:
    api = world.api
    victim = api.collection("deletable", readers=("regulator-a",))
    api.store.objects.append(victim.id, [indicator("d", minute=1), indicator("d", minute=2)])
    url = f"{api.collection_url(victim.id)}objects/{indicator('d')['id']}/"
    for who in ("regulator-a", "soc"):
        assert_taxii(api.client.delete(url, headers=api.bearer(who)), 403)
    assert_taxii(api.client.delete(url, headers=api.bearer("regulator-b")), 404)
    gone = api.client.delete(url, headers=api.bearer("admin"), params={"match[version]": "last"})
    assert gone.status_code == 200
    assert gone.headers["content-type"] == TAXII
    assert [o["modified"] for o in api.get("admin", url).json()["objects"]] == [
        indicator("d", minute=1)["modified"]
    ]
    assert api.client.delete(url, headers=api.bearer("admin")).status_code == 200
    assert_taxii(api.get("admin", url), 404)
    assert_taxii(api.client.delete(url, headers=api.bearer("admin")), 404)


def test_basic_and_bearer(world: World) -> None:
    api = world.api
    token = api.tokens["regulator-a"]
    for header in (
        f"Bearer {token}",
        "Basic " + base64.b64encode(f"anyone:{token}".encode()).decode(),
        "Basic " + base64.b64encode(f"{api.keys['regulator-a'].id}:{token}".encode()).decode(),
    ):
        response = api.client.get(api.root, headers={"Authorization": header})
        assert_taxii(response, 200)
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"user-only").decode(), "Digest x"):
        response = api.client.get(api.root, headers={"Authorization": header})
        assert_taxii(response, 401)
        assert "Basic" in response.headers["www-authenticate"]


def _listed(api: TaxiiApi, who: str) -> set[str]:
    response = api.get(who, f"{api.root}collections/")
    assert response.status_code == 200
    return {c["id"] for c in response.json()["collections"]}


def test_who_sees_which_collection(world: World) -> None:
    api = world.api
    every = {c.id for c in api.store.collections.list()}
    assert _listed(api, "admin") == every
    assert _listed(api, "soc") == every
    assert world.other.id not in _listed(api, "regulator-a")
    assert _listed(api, "viewer:acme") == {world.acme.id}
    assert _listed(api, "viewer:globex") == {world.globex.id}
    missing = str(uuid.uuid4())
    for who, hidden, mine in (
        ("regulator-a", world.other, world.main),
        ("regulator-b", world.main, world.other),
        ("viewer:acme", world.globex, world.acme),
        ("viewer:globex", world.acme, world.globex),
    ):
        one = f"objects/{indicator('a')['id']}/"
        for suffix in ("", "objects/", "manifest/", one, f"{one}versions/"):
            theirs = api.get(who, f"{api.collection_url(hidden.id)}{suffix}")
            nothing = api.get(who, f"{api.collection_url(missing)}{suffix}")
            assert_taxii(theirs, 404)
            assert (theirs.status_code, theirs.content) == (nothing.status_code, nothing.content)
        assert_taxii(api.get(who, api.collection_url(mine.id)), 200)


def test_a_tenant_viewer_is_refused_a_collection_not_its_own(world: World) -> None:
    """Even granted, a viewer reads only its own tenant's pseudonymous collection."""
    api = world.api
    wide = api.collection("all tenants", readers=("viewer:acme", "regulator-a"))
    assert_taxii(api.get("viewer:acme", api.collection_url(wide.id)), 404)
    assert_taxii(api.get("regulator-a", api.collection_url(wide.id)), 200)
