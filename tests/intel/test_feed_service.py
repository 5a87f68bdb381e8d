"""The feed service on the incidents topic (embedded broker, real SQLite store): incident versions
and tombstones in, the collection's objects and the reports out; restarted, it writes nothing
again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fenghuo.graph.runner import ServiceThread
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.intel.collections import Collection, CollectionFilter, new_collection_id
from fenghuo.intel.feed import FeedWriter
from fenghuo.intel.feed_service import FeedService, FeedServiceConfig
from fenghuo.intel.objects import ObjectQuery
from fenghuo.intel.reports.repository import ReportQuery
from fenghuo.intel.stix import incident_stix_id
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.model.incident import Grade, encode_incident
from fenghuo.store.base import Scope
from fenghuo.store.sqlite import SqliteStore
from tests.api.seeded import Hour
from tests.streaming.support import poll

pytestmark = pytest.mark.kafka

SERIOUS = (Grade.I, Grade.II, Grade.III)
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def start(
    broker: KafkaBroker, topics: Topics, path: Path, inventory: InventoryIndex
) -> ServiceThread[FeedService]:
    store = SqliteStore(path)
    writer = FeedWriter(store, b"feed-service-key", lambda: inventory)
    config = FeedServiceConfig(broker.bootstrap, topics, group_id=f"{topics.prefix}feed")
    running = ServiceThread(FeedService(config, writer), store, name="feed")
    running.start()
    return running


def incident_ids(store: SqliteStore, collection: Collection) -> dict[str, bool]:
    """Incident object id -> revoked, for the latest versions in the collection."""
    page = store.objects.page(collection.id, ObjectQuery(types=frozenset({"incident"})), limit=1000)
    return {o.id: bool(o.body.get("revoked")) for o in page.objects}


def test_incidents_and_tombstones_become_objects_and_reports(
    broker: KafkaBroker, topics: Topics, tmp_path: Path, hour: Hour
) -> None:
    path = tmp_path / "fenghuo.db"
    store = SqliteStore(path)
    store.alerts.upsert(hour.alerts)
    collection = store.collections.create(
        Collection(
            id=new_collection_id(),
            title="graded III and above",
            filter=CollectionFilter(min_grade=Grade.III),
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    inventory = InventoryIndex(load_inventory(hour.root / "inventory.yaml"))
    serious = [i for i in hour.incidents if i.grade in SERIOUS]
    retired = serious[0]
    messages = [
        OutMessage(topics.incidents, i.id.encode(), encode_incident(i)) for i in hour.incidents
    ]
    running = start(broker, topics, path, inventory)
    try:
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish(messages)
            expected = {incident_stix_id(i.id): False for i in serious}
            poll("the feed", lambda: incident_ids(store, collection), expected.__eq__, timeout=60)
            # The correlator retires one: its objects are revoked.
            publisher.publish([OutMessage(topics.incidents, retired.id.encode(), None)])
            expected[incident_stix_id(retired.id)] = True
            poll("the revocation", lambda: incident_ids(store, collection), expected.__eq__, 60)
        assert running.service.stats.incidents == len(hour.incidents)
    finally:
        running.stop()
    assert running.failure() is None
    count = store.objects.count(collection.id)
    # The reportable incidents have their drafts.
    reports = store.reports.list(Scope.everything(), ReportQuery(), NOW)
    reportable = {i.id for i in hour.incidents if i.reporting.required and i.id != retired.id}
    assert reportable
    assert {r.incident_id for r in reports} >= reportable

    # A restart resumes after the committed offsets: nothing is read or written again.
    again = start(broker, topics, path, inventory)
    try:
        poll("the restart", again.service.ready.is_set, bool, timeout=30)
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish([OutMessage(topics.incidents, b"unknown-id", None)])
        poll("the tombstone", lambda: again.service.stats.retired, (1).__eq__, timeout=30)
    finally:
        again.stop()
    assert again.service.stats.incidents == 0
    assert store.objects.count(collection.id) == count
    store.close()
