"""The TAXII repositories on every backend (tests/store/backends.py: SQLite; the search backend's
code on the in-memory model of its client, `es-model`; a real OpenSearch node; a real
Elasticsearch when FENGHUO_ES_URL is set): collections and
grants, append-only object versions with unique increasing date added, first/last flags, filters,
cursors and deletes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fenghuo.intel.collections import Collection, CollectionError
from fenghuo.intel.objects import (
    ObjectQuery,
    ObjectRepository,
    ObjectStoreError,
    TaxiiStatus,
    micros,
)
from fenghuo.intel.taxii_sqlite import SqliteObjects
from fenghuo.store.base import Store
from fenghuo.store.sqlite import SqliteStore
from tests.intel.taxii_support import indicator, ipv4
from tests.store.backends import ALL_BACKENDS, SEARCH_SERVERS, open_backend


@contextmanager
def opened(kind: str, tmp_path: Path) -> Iterator[Store]:
    """A store of one backend (tests/store/backends.py)."""
    yield from open_backend(kind, tmp_path)


@pytest.fixture(params=ALL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with opened(request.param, tmp_path) as chosen:
        yield chosen


@pytest.fixture(params=["es-model", *SEARCH_SERVERS])
def es_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The search backend only (its lease and committed horizon)."""
    with opened(request.param, tmp_path) as chosen:
        yield chosen


def with_clock(store: Store, clock: Callable[[], dt.datetime]) -> ObjectRepository:
    """The store's object repository on another clock."""
    if isinstance(store, SqliteStore):
        return SqliteObjects(store._writer, clock=clock)
    from fenghuo.intel.taxii_elastic_objects import EsObjects
    from fenghuo.store.elastic import ElasticStore

    assert isinstance(store, ElasticStore)
    return EsObjects(store._es, clock=clock)


def new_collection(store: Store, title: str = "c", **fields: object) -> Collection:
    return store.collections.create(
        Collection(
            id=str(uuid.uuid4()),
            title=title,
            created_at=dt.datetime.now(dt.UTC),
            **fields,  # type: ignore[arg-type]
        )
    )


def test_collections_grants_and_listing(store: Store) -> None:
    first = new_collection(store, "first", readers=("k1",))
    second = new_collection(store, "second")
    assert first.readers == ("k1",)
    assert store.collections.grant(second.id, ["k2", "k1", "k2"]).readers == ("k1", "k2")
    assert store.collections.revoke_grant(second.id, "k1").readers == ("k2",)
    assert [c.title for c in store.collections.list()] == ["first", "second"]
    assert store.collections.get(second.id) == store.collections.list()[1]
    with pytest.raises(CollectionError):
        store.collections.grant(str(uuid.uuid4()), ["k1"])
    with pytest.raises(CollectionError):
        store.collections.create(first)
    assert store.collections.delete(first.id)
    assert store.collections.get(first.id) is None


def test_date_added_is_unique_and_increasing_with_a_stopped_clock(store: Store) -> None:
    collection = new_collection(store)
    frozen = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    objects = with_clock(store, lambda: frozen)
    added = objects.append(collection.id, [indicator(f"n{i}") for i in range(5)])
    added += objects.append(collection.id, [indicator("later")])
    stamps = [micros(o.date_added) for o in added]
    assert stamps == [micros(frozen) + i for i in range(6)]


def test_versions_are_idempotent_and_flags_follow_versions(store: Store) -> None:
    cid = new_collection(store).id
    objects = store.objects
    assert len(objects.append(cid, [indicator("x", minute=5)])) == 1
    assert objects.append(cid, [indicator("x", minute=5)]) == []  # a retry adds nothing
    objects.append(cid, [indicator("x", minute=9), indicator("x", minute=1)])  # out of order
    versions = objects.page(cid, ObjectQuery(versions=("all",)), limit=10).objects
    assert [o.body["modified"][14:16] for o in versions] == ["05", "09", "01"]
    last = objects.page(cid, ObjectQuery(), limit=10).objects
    first = objects.page(cid, ObjectQuery(versions=("first",)), limit=10).objects
    assert [o.body["modified"][14:16] for o in last] == ["09"]
    assert [o.body["modified"][14:16] for o in first] == ["01"]
    stamp = versions[0].version
    assert objects.page(cid, ObjectQuery(versions=(stamp,)), limit=10).objects == [versions[0]]
    assert objects.latest(cid, [indicator("x")["id"], "indicator--none"]).keys() == {
        indicator("x")["id"]
    }
    assert objects.count(cid) == 3


def test_an_observable_is_stored_once_with_its_date_added_as_version(store: Store) -> None:
    cid = new_collection(store).id
    added = store.objects.append(cid, [ipv4("10.0.0.1"), ipv4("10.0.0.1")])
    assert len(added) == 1
    assert store.objects.append(cid, [ipv4("10.0.0.1")]) == []
    assert added[0].version.endswith("Z")
    assert added[0].version == added[0].date_added.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_filters_and_added_after(store: Store) -> None:
    cid = new_collection(store).id
    added = store.objects.append(cid, [indicator("a"), ipv4("10.0.0.2"), indicator("b")])
    page = store.objects.page(cid, ObjectQuery(types=frozenset({"ipv4-addr"})), limit=10)
    assert [o.type for o in page.objects] == ["ipv4-addr"]
    page = store.objects.page(cid, ObjectQuery(ids=frozenset({added[2].id})), limit=10)
    assert [o.id for o in page.objects] == [added[2].id]
    page = store.objects.page(cid, ObjectQuery(added_after=added[0].date_added), limit=10)
    assert [o.id for o in page.objects] == [added[1].id, added[2].id]
    page = store.objects.page(cid, ObjectQuery(spec_versions=frozenset({"2.0"})), limit=10)
    assert page.objects == []


def test_cursors_walk_every_object_once_and_stay_in_their_collection(store: Store) -> None:
    cid, other = new_collection(store).id, new_collection(store).id
    store.objects.append(cid, [indicator(f"n{i}") for i in range(25)])
    seen: list[str] = []
    cursor = None
    while True:
        page = store.objects.page(cid, limit=10, cursor=cursor)
        seen += [o.id for o in page.objects]
        assert page.more == (page.next is not None)
        if page.next is None:
            break
        cursor = page.next
    assert len(seen) == len(set(seen)) == 25
    first = store.objects.page(cid, limit=10)
    assert first.next is not None
    with pytest.raises(ObjectStoreError, match="another collection"):
        store.objects.page(other, limit=10, cursor=first.next)
    with pytest.raises(ObjectStoreError, match="does not decode"):
        store.objects.page(cid, limit=10, cursor="garbage!")
    with pytest.raises(ObjectStoreError):
        store.objects.page(cid, limit=0)


def test_append_refuses_bad_objects_and_unknown_collections(store: Store) -> None:
    cid = new_collection(store).id
    with pytest.raises(ObjectStoreError, match="object 1"):
        store.objects.append(cid, [indicator("fine"), {"type": "indicator", "id": "bad"}])
    assert store.objects.count(cid) == 0  # nothing of a refused batch is written
    with pytest.raises(ObjectStoreError, match="no collection"):
        store.objects.append(str(uuid.uuid4()), [indicator("x")])


def test_delete_recomputes_first_and_last(store: Store) -> None:
    cid = new_collection(store).id
    store.objects.append(cid, [indicator("x", minute=m) for m in (1, 2, 3)])
    object_id = indicator("x")["id"]
    assert store.objects.delete(cid, ObjectQuery(ids=frozenset({object_id}))) == 1  # last
    assert store.objects.latest(cid, [object_id])[object_id].body["modified"][14:16] == "02"
    assert store.objects.delete(cid, ObjectQuery()) == 0  # never without ids
    query = ObjectQuery(ids=frozenset({object_id}), versions=("all",))
    assert store.objects.delete(cid, query) == 2
    assert store.objects.count(cid) == 0


def test_sources_and_status(store: Store) -> None:
    cid = new_collection(store).id
    store.objects.append(cid, [indicator("a"), indicator("b")], source="incident-1")
    store.objects.append(cid, [indicator("a", minute=3)], source="incident-1")
    store.objects.append(cid, [indicator("c")], source="incident-2")
    assert store.objects.ids_of_source(cid, "incident-1") == sorted(
        [indicator("a")["id"], indicator("b")["id"]]
    )
    status = TaxiiStatus(
        id="s1",
        collection_id=cid,
        key_id="k",
        request_timestamp=dt.datetime.now(dt.UTC),
        total_count=1,
        success_count=1,
        failure_count=0,
    )
    assert store.taxii_status.create(status) == status
    assert store.taxii_status.get("s1") == status
    assert store.taxii_status.get("s2") is None


def test_sources_are_the_distinct_incidents_of_the_collections(store: Store) -> None:
    """`sources`: each incident with a version in any of the named collections once, however
    many versions and objects it has; objects without a source, other collections and unknown
    collections add nothing."""
    first, second, other = (new_collection(store, t).id for t in ("first", "second", "other"))
    assert store.objects.sources([first, second]) == set()
    store.objects.append(first, [indicator("shared")])  # no source: a definition, say
    store.objects.append(first, [indicator("a"), indicator("b")], source="incident-1")
    store.objects.append(first, [indicator("a", minute=3)], source="incident-1")
    store.objects.append(first, [indicator("c")], source="incident-2")
    store.objects.append(second, [indicator("c")], source="incident-2")
    store.objects.append(second, [indicator("d")], source="incident-3")
    store.objects.append(other, [indicator("e")], source="incident-4")
    assert store.objects.sources([first]) == {"incident-1", "incident-2"}
    assert store.objects.sources([second]) == {"incident-2", "incident-3"}
    assert store.objects.sources([first, second, first]) == {
        "incident-1",
        "incident-2",
        "incident-3",
    }
    assert store.objects.sources([other, str(uuid.uuid4())]) == {"incident-4"}
    assert store.objects.sources([]) == set()
    # A revoked incident stays: its last versions (revoked) are what a reader was sent.
    revoked = {**indicator("d", minute=5), "revoked": True}
    store.objects.append(second, [revoked], source="incident-3")
    assert store.objects.sources([second]) == {"incident-2", "incident-3"}


def test_sources_page_through_many_incidents(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct sources than one aggregation page (Elasticsearch; pages of 3 here) or
    one step of the skip scan (SQLite): none is lost or repeated."""
    from fenghuo.intel import taxii_elastic_objects

    monkeypatch.setattr(taxii_elastic_objects, "_SOURCES_PAGE", 3)
    cid = new_collection(store).id
    wanted = {f"incident-{n}" for n in range(10)}
    for source in sorted(wanted):
        store.objects.append(cid, [indicator(source), indicator(f"{source}-b")], source=source)
    assert store.objects.sources([cid]) == wanted


def test_elasticsearch_reads_stop_at_the_committed_date_added(es_store: Store) -> None:
    """Versions being written under a lease stay invisible until the lease is released, so a
    reader's cursor cannot pass over one that a refresh has not made searchable yet."""
    from fenghuo.intel.taxii_elastic_objects import EsObjects

    assert isinstance(es_store.objects, EsObjects)
    objects = es_store.objects
    cid = new_collection(es_store).id
    objects.append(cid, [indicator("before")])
    lease = objects._acquire(cid)
    written = objects._append_one(cid, indicator("during"), lease.newest + 10**6, None)
    assert written is not None
    assert [o.id for o in objects.page(cid, limit=10).objects] == [indicator("before")["id"]]
    objects._release(cid, lease, micros(written.date_added))
    assert len(objects.page(cid, limit=10).objects) == 2
