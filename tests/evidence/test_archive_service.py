"""The archive service on the telemetry topics (embedded broker, real SQLite archive): every
event the ingest pipeline published is archived once, a record that is not an event is skipped,
watermark flushes are not telemetry, and a restart resumes after the committed offsets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fenghuo.evidence.service import ArchiveConfig, ArchiveService
from fenghuo.evidence.sqlite_archive import SqliteEventArchive
from fenghuo.graph.runner import ServiceThread
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import raw_lines
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.inventory import InventoryStore
from fenghuo.streaming.flush import publish_flush
from tests.evidence.test_archive import flow
from tests.fixtures_ingest import FileSet
from tests.streaming.support import poll

pytestmark = pytest.mark.kafka


def start(broker: KafkaBroker, topics: Topics, path: Path) -> ServiceThread[ArchiveService]:
    archive = SqliteEventArchive(path)
    config = ArchiveConfig(broker.bootstrap, topics, group_id=f"{topics.prefix}archive")
    running = ServiceThread(ArchiveService(config, archive), archive, name="archive")
    running.start()
    return running


def test_every_published_event_is_archived_once(
    broker: KafkaBroker,
    topics: Topics,
    tmp_path: Path,
    mixed_files: FileSet,
    inventory: InventoryStore,
) -> None:
    expected = {i for ids in mixed_files.ids_per_topic.values() for i in ids}
    path = tmp_path / "events.db"
    running = start(broker, topics, path)
    try:
        with Publisher(broker.bootstrap) as publisher:
            ingestor = Ingestor(Normaliser(inventory), publisher, topics)
            for fmt, file, host in mixed_files.files:
                with file.open() as handle:
                    ingestor.ingest(fmt, raw_lines(str(file), handle), host_id=host)
            # Not an event: logged and skipped, never a stop.
            publisher.publish([OutMessage(topics.network, b"acme", b'{"not": "an event"}')])
        publish_flush(broker.bootstrap, topics, at=dt.datetime.now(dt.UTC))
        stats = running.service.stats
        poll("the archive", lambda: stats.skipped, (1).__eq__, timeout=60)
        poll("the flushes", lambda: stats.events, (len(expected)).__le__, timeout=60)
    finally:
        running.stop()
    assert running.failure() is None
    archive = SqliteEventArchive(path)
    assert archive.count() == len(expected)  # duplicates (the same audit event twice) once
    kept = archive.get(sorted(expected))
    assert set(kept) == expected
    assert all(e.raw.original for e in kept.values())

    # A restart resumes after the committed offsets: nothing is read again.
    again = start(broker, topics, path)
    try:
        poll("the restart", again.service.ready.is_set, bool, timeout=30)
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish([OutMessage(topics.tenant, b"acme", b"[]")])
        poll("the next record", lambda: again.service.stats.skipped, (1).__eq__, timeout=30)
    finally:
        again.stop()
    assert again.service.stats.events == 0
    assert archive.count() == len(expected)


def test_the_service_prunes_events_past_retention(
    broker: KafkaBroker, topics: Topics, tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    archive = SqliteEventArchive(path)
    now = dt.datetime.now(dt.UTC)
    old = [flow(n) for n in range(20)]
    archive.put(old, now - dt.timedelta(hours=2))
    archive.put([flow(99)], now)
    config = ArchiveConfig(
        broker.bootstrap,
        topics,
        group_id=f"{topics.prefix}archive",
        retention=dt.timedelta(hours=1),
        prune_every_s=0,  # at every batch
    )
    running = ServiceThread(ArchiveService(config, archive), archive, name="archive")
    running.start()
    try:
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish([OutMessage(topics.tenant, b"acme", b"[]")])
        poll("the prune", lambda: running.service.stats.pruned, (20).__eq__, timeout=30)
    finally:
        running.stop()
    assert set(SqliteEventArchive(path).get([e.id for e in old] + [flow(99).id])) == {flow(99).id}
