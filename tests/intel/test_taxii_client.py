"""The TAXII server through the OASIS client (taxii2-client 2.3.0) over a real uvicorn server:
discovery, paging a collection of more than 1,000 objects exactly once, resuming with
`added_after`, appends between page requests, POST and status polling, versions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import stix2
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from fenghuo.intel.objects import format_timestamp
from tests.intel.taxii_support import TAXII, TaxiiApi, indicator, ipv4, taxii_api

BIG = 1_250


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaxiiApi]:
    with taxii_api(tmp_path_factory.mktemp("taxii-client")) as running:
        yield running


def client_collection(api: TaxiiApi, collection_id: str, who: str = "admin") -> Collection:
    """A collection as the client reaches it, with HTTP Basic (the key as password)."""
    return Collection(api.collection_url(collection_id), user=who, password=api.tokens[who])


def walk(collection: Collection, per_request: int = 0, **filters: Any) -> list[dict[str, Any]]:
    envelopes = list(as_pages(collection.get_objects, per_request=per_request, **filters))
    for envelope in envelopes:
        assert envelope["more"] == ("next" in envelope)
    return [o for e in envelopes for o in e.get("objects", [])]


def test_discovery_and_api_root(api: TaxiiApi) -> None:
    server = Server(api.url, user="admin", password=api.tokens["admin"])
    assert server.title
    assert [r.url for r in server.api_roots] == [api.root]
    assert server.default is not None
    root = ApiRoot(api.root, user="x", password=api.tokens["regulator-a"])
    assert root.versions == [TAXII]
    assert root.max_content_length > 0
    assert "1000" in root.description


def test_pages_of_a_large_collection_then_a_resume(api: TaxiiApi) -> None:
    big = api.collection("big", readers=("regulator-a",))
    api.store.objects.append(big.id, [indicator(f"big-{i}") for i in range(BIG)])
    collection = client_collection(api, big.id, "regulator-a")
    assert collection.can_read
    assert not collection.can_write
    seen = walk(collection, per_request=400)
    counts = Counter(o["id"] for o in seen)
    assert len(counts) == BIG
    assert set(counts.values()) == {1}
    assert len(walk(collection)) == BIG  # the server's default page (its maximum, 1,000)

    # The date added of the last object, as the last page's header says it.
    pages = list(as_pages(collection.get_objects, per_request=1000))
    last = api.get("regulator-a", f"{collection.objects_url}", limit=1000, next=pages[-2]["next"])
    stored_last = api.store.objects.latest(big.id, [seen[-1]["id"]])[seen[-1]["id"]]
    assert last.headers["X-TAXII-Date-Added-Last"] == format_timestamp(stored_last.date_added)

    added = [indicator(f"new-{i}") for i in range(7)]
    api.store.objects.append(big.id, added)
    since = walk(collection, added_after=last.headers["X-TAXII-Date-Added-Last"])
    assert [o["id"] for o in since] == [o["id"] for o in added]


def test_appends_between_page_requests_give_each_version_once(api: TaxiiApi) -> None:
    moving = api.collection("moving", readers=("regulator-a",))
    api.store.objects.append(moving.id, [indicator(f"m-{i}") for i in range(300)])
    expected = 300
    collection = client_collection(api, moving.id, "regulator-a")
    seen: list[tuple[str, str]] = []
    envelope = collection.get_objects(limit=50, version="all")
    requests = 1
    while True:
        seen += [(o["id"], o["modified"]) for o in envelope.get("objects", [])]
        if requests <= 6:  # new objects and new versions of ones already read
            fresh = [indicator(f"late-{requests}-{i}") for i in range(20)]
            fresh += [indicator(f"m-{requests}", minute=requests)]
            expected += len(api.store.objects.append(moving.id, fresh))
        if not envelope["more"]:
            break
        envelope = collection.get_objects(limit=50, version="all", next=envelope["next"])
        requests += 1
        assert requests < 100, "the pages do not end"
    assert len(seen) == len(set(seen)) == expected


def test_post_objects_and_poll_the_status(api: TaxiiApi) -> None:
    writable = api.collection("inbox", readers=("regulator-b",), can_write=True)
    made = stix2.Indicator(
        name="from stix2",
        pattern="[ipv4-addr:value = '203.0.113.7']",
        pattern_type="stix",
    )
    objects = [json.loads(made.serialize()), indicator("posted"), ipv4("203.0.113.7")]
    bad = {"type": "indicator", "id": "malware--1"}
    collection = client_collection(api, writable.id, "regulator-b")
    assert collection.can_write
    status = collection.add_objects({"objects": [*objects, bad]}, poll_interval=0.1)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (4, 3, 1)
    assert status.pending_count == 0
    assert [f["id"] for f in status.failures] == ["malware--1"]
    # A retry is idempotent: all successes, nothing stored twice.
    again = collection.add_objects({"objects": objects}, wait_for_completion=False)
    assert again.success_count == 3
    assert api.store.objects.count(writable.id) == 3
    root = ApiRoot(api.root, user="regulator-b", password=api.tokens["regulator-b"])
    polled = root.get_status(status.id)
    assert polled.success_count + polled.pending_count + polled.failure_count == polled.total_count
    stored = {o["id"]: o for o in walk(collection)}
    assert stored[made.id]["name"] == "from stix2"


def test_versions_and_single_objects(api: TaxiiApi) -> None:
    small = api.collection("versions", readers=("regulator-a",))
    api.store.objects.append(small.id, [indicator("v", minute=m) for m in (1, 2, 3)])
    object_id = indicator("v")["id"]
    collection = client_collection(api, small.id, "regulator-a")
    versions = collection.object_versions(object_id)
    assert versions["versions"] == [indicator("v", minute=m)["modified"] for m in (1, 2, 3)]
    assert versions["more"] is False
    latest = collection.get_object(object_id)["objects"]
    assert [o["modified"] for o in latest] == [indicator("v", minute=3)["modified"]]
    every = collection.get_object(object_id, version="all")["objects"]
    assert len(every) == 3
    first = collection.get_object(object_id, version="first")["objects"]
    assert [o["modified"] for o in first] == [indicator("v", minute=1)["modified"]]
    manifest = collection.get_manifest()
    assert [m["version"] for m in manifest["objects"]] == [indicator("v", minute=3)["modified"]]
