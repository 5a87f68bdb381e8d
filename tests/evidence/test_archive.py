"""The event archive, on each backend: events by id, idempotent, pruned by when they were
archived. The search server's archive runs on OpenSearch and Elasticsearch when there is a server
(tests/store/backends.py; skipped otherwise)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from fenghuo.evidence.archive import EventArchive
from fenghuo.evidence.sqlite_archive import SqliteEventArchive
from fenghuo.model.events import MAX_ORIGINAL, Flow, raw_ref
from tests.store.backends import SEARCH_SERVERS, fresh_prefix, server_url

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def flow(n: int, text: str = "") -> Flow:
    return Flow(
        id=f"flow-{n:05d}",
        event_time=T0 + dt.timedelta(seconds=n),
        ingest_time=T0 + dt.timedelta(seconds=n + 1),
        source_format="vpcflow",
        raw=raw_ref("flows.log", n + 1, text or f"2 111111111111 eni-1 10.1.0.{n % 250} ..."),
        tenant_id="acme",
        version=2,
        src_addr="10.1.0.11",
        dst_addr="10.2.0.12",
        start=T0,
        end=T0 + dt.timedelta(seconds=60),
    )


@pytest.fixture(params=["sqlite", *SEARCH_SERVERS])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventArchive]:
    if request.param == "sqlite":
        yield SqliteEventArchive(tmp_path / "events.db")
        return
    from fenghuo.evidence.elastic_archive import ElasticEventArchive

    flavour = request.param
    es = ElasticEventArchive.connect(server_url(flavour), prefix=fresh_prefix(), flavour=flavour)
    es.refresh_on_write = True
    try:
        yield es
    finally:
        es.client.indices.delete(index=[es.index])
        es.close()


def test_put_get_roundtrip_and_idempotence(archive: EventArchive) -> None:
    events = [flow(n) for n in range(1200)]  # more than one IN (...) chunk
    assert archive.put(events, T0) == 1200
    assert archive.put(events[:10], T0 + dt.timedelta(days=1)) == 0  # kept already
    assert archive.count() == 1200
    found = archive.get([e.id for e in events] + ["absent", events[0].id])
    assert found == {e.id: e for e in events}
    long = flow(5000, "z" * (MAX_ORIGINAL + 100))
    archive.put([long], T0)
    back = archive.get([long.id])[long.id]
    assert back.raw.original_truncated
    assert back.raw.original == "z" * MAX_ORIGINAL
    assert msgspec.json.encode(back) == msgspec.json.encode(long)


def test_prune_drops_what_was_archived_before_the_cut(archive: EventArchive) -> None:
    old, new = [flow(n) for n in range(10)], [flow(n) for n in range(10, 15)]
    archive.put(old, T0)
    archive.put(new, T0 + dt.timedelta(days=8))
    # A repeat of an old event does not renew it: retention counts from its first archiving.
    archive.put(old[:3], T0 + dt.timedelta(days=8))
    assert archive.prune(T0 + dt.timedelta(days=1)) == 10
    assert set(archive.get([e.id for e in old + new])) == {e.id for e in new}
    assert archive.prune(T0 + dt.timedelta(days=1)) == 0


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    archive = SqliteEventArchive(tmp_path / "events.db")
    errors: list[BaseException] = []

    def write(part: int) -> None:
        try:
            for start in range(part * 400, part * 400 + 400, 50):
                archive.put([flow(n) for n in range(start, start + 50)], T0)
                archive.get([f"flow-{start:05d}"])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert archive.count() == 1600
