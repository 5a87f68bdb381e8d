"""The correlator service on the embedded broker and a real SQLite store: the simulated hour's
alerts (with earlier versions, shuffled) give, in the store and on the incidents topic, exactly
`correlate()`'s incidents; a restart, even one after a crash between write and commit, ends
with the same incidents; a record that is not an alert is dead-lettered and the service goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Consumer

from fenghuo.graph import correlate
from fenghuo.graph.reconcile import incidents_of
from fenghuo.graph.runner import ServiceThread
from fenghuo.graph.service import CorrelatorService, ServiceConfig
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages, read_messages, read_to_end
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.inventory import InventoryStore
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, Severity, encode_alert
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident, decode_incident
from fenghuo.simulate import SimulationConfig, run_simulate
from fenghuo.store.base import Scope
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.replay import fold_alerts
from fenghuo.streaming.replay_files import InputSpec, run_replay
from tests.graph import support
from tests.streaming.support import poll

ALL = Scope.everything()
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class Hour:
    index: InventoryIndex
    versions: list[Alert]  # what is published: earlier versions and finals, shuffled
    expected: list[Incident]  # correlate() over them, as `fenghuo replay --incidents` writes


def earlier_version(alert: Alert, rng: random.Random) -> Alert:
    """A version the detection job could have emitted before this one: less evidence, an
    earlier end, sometimes a lower severity, fewer entities. Folding it with the final version
    gives the final version back."""
    lower = Severity.LOW if alert.severity.rank > Severity.LOW.rank else alert.severity
    return msgspec.structs.replace(
        alert,
        severity=lower if rng.random() < 0.3 else alert.severity,
        last_seen=alert.first_seen,
        evidence=alert.evidence[:1],
        evidence_count=min(alert.evidence_count, 1),
        entities=tuple(e for e in alert.entities if e.type != "ip" or rng.random() < 0.5),
        detected_at=alert.detected_at + dt.timedelta(seconds=rng.randint(1, 90)),
    )


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    """The default simulated hour (seed 7, every attack kind) through `run_replay` (without
    the trained baseline of tests/graph/test_simulated_hour.py: it only adds one detector)."""
    tmp = tmp_path_factory.mktemp("service-hour")
    root = tmp / "hour"
    run_simulate(SimulationConfig(), root)
    specs = [
        InputSpec(e["format"], root / e["path"], e["host"])
        for e in json.loads((root / "manifest.json").read_text())
        if e["events"]
    ]
    inventory = root / "inventory.yaml"
    outcome = run_replay(inventory, specs, tmp / "alerts.jsonl", incidents_out=tmp / "inc.jsonl")
    finals = outcome.result.alerts
    rng = random.Random(7)
    versions = [*finals, *(earlier_version(a, rng) for a in finals if rng.random() < 0.6)]
    rng.shuffle(versions)
    assert fold_alerts(versions) == finals
    index = InventoryStore(inventory).current()
    expected = correlate(versions, index)
    assert expected == outcome.incidents  # what `fenghuo replay --incidents` wrote
    assert len(expected) > 10
    return Hour(index, versions, expected)


def alert_message(topics: Topics, alert: Alert) -> OutMessage:
    return OutMessage(
        topic=topics.alerts,
        key=(alert.tenant_id or "_unattributed").encode(),
        value=encode_alert(alert),
    )


def publish(broker: KafkaBroker, messages: Sequence[OutMessage]) -> None:
    with Publisher(broker.bootstrap, client_id="fenghuo-test") as publisher:
        publisher.publish(messages)


def comparable(incidents: Sequence[Incident]) -> list[Incident]:
    """Ordered by id, without `updated_at` (the service stamps its processing time)."""
    return sorted(
        (msgspec.structs.replace(i, updated_at=EPOCH) for i in incidents), key=lambda i: i.id
    )


def stored(store: SqliteStore) -> list[Incident]:
    return [v.incident for v in store.incidents.list(ALL, limit=999).items]


def on_topic(broker: KafkaBroker, topics: Topics) -> list[Incident]:
    """The last non-tombstone value per key on the incidents topic (what compaction keeps)."""
    records = read_to_end(broker.bootstrap, topics.incidents)
    return [decode_incident(v) for v in incidents_of((r.key, r.value) for r in records).values()]


def started(
    service: type[CorrelatorService],
    config: ServiceConfig,
    store: SqliteStore,
    index: InventoryIndex,
) -> ServiceThread[CorrelatorService]:
    """The service running in a thread on its own connection to the test's database."""
    own = SqliteStore(store.path)
    running = ServiceThread(service(config, own, lambda: index), own)
    running.start()
    return running


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "fenghuo.db")
    yield store
    store.close()


def wait_for_incidents(store: SqliteStore, expected: list[Incident], timeout: float = 60) -> None:
    target = comparable(expected)
    poll("the incidents in the store", lambda: comparable(stored(store)), target.__eq__, timeout)


def test_the_service_gives_replays_incidents_in_the_store_and_on_the_topic(
    broker: KafkaBroker, topics: Topics, hour: Hour, sqlite_store: SqliteStore
) -> None:
    config = ServiceConfig(broker.bootstrap, topics, group_id=f"g-{uuid.uuid4().hex}")
    running = started(CorrelatorService, config, sqlite_store, hour.index)
    try:
        publish(broker, [alert_message(topics, a) for a in hour.versions])
        wait_for_incidents(sqlite_store, hour.expected)
        assert comparable(on_topic(broker, topics)) == comparable(hour.expected)
        assert running.failure() is None
        stats = running.service.stats
        assert stats.alerts == len(hour.versions)
        assert stats.dead_lettered == 0
    finally:
        running.stop()


def test_a_restart_mid_stream_ends_with_the_same_incidents(
    broker: KafkaBroker, topics: Topics, hour: Hour, sqlite_store: SqliteStore
) -> None:
    config = ServiceConfig(broker.bootstrap, topics, f"g-{uuid.uuid4().hex}", batch_size=100)
    messages = [alert_message(topics, a) for a in hour.versions]
    part = len(messages) // 3
    first = started(CorrelatorService, config, sqlite_store, hour.index)
    publish(broker, messages[:part])
    poll("the first run's progress", lambda: first.service.stats.alerts, part.__le__, 30)
    publish(broker, messages[part : 2 * part])  # the first run stops while these arrive
    first.stop()
    assert first.failure() is None
    publish(broker, messages[2 * part :])
    second = started(CorrelatorService, config, sqlite_store, hour.index)
    try:
        wait_for_incidents(sqlite_store, hour.expected)
        # Exactly replay's incidents: none twice, no retired id left behind, on the topic too.
        assert sqlite_store.incidents.count(ALL) == len(hour.expected)
        assert comparable(on_topic(broker, topics)) == comparable(hour.expected)
    finally:
        second.stop()
    # A restart with nothing new rebuilds the graph and writes, publishes and deletes nothing.
    third = started(CorrelatorService, config, sqlite_store, hour.index)
    try:
        assert third.service.caught_up.wait(30)
        assert third.service.stats.alerts == len(messages)
        assert (third.service.stats.written, third.service.stats.published) == (0, 0)
        assert third.service.stats.deleted == 0
    finally:
        third.stop()
    assert comparable(stored(sqlite_store)) == comparable(hour.expected)


class CrashAfterWrite(CorrelatorService):
    """Dies between the store write and the offset commit of the batch holding `alert_id`."""

    crash_on = "a"

    def _commit(self, consumer: Consumer, offsets: dict[int, int]) -> None:
        if self.crash_on in {a for i in self.correlator.incidents() for a in i.alert_ids}:
            raise SystemExit("crash before commit")
        super()._commit(consumer, offsets)


def test_a_crash_between_write_and_commit_leaves_no_stale_incident(
    broker: KafkaBroker, topics: Topics, sqlite_store: SqliteStore
) -> None:
    index = support.inventory()
    other = support.alert("x", at=0, host="hv-02", tenant="initech")
    late = support.alert("a", at=20, host="hv-01")  # named first, alone: incident(a)
    early = support.alert("b", at=18, host="hv-01")  # arrives after it, earlier: incident(b)
    config = ServiceConfig(broker.bootstrap, topics, group_id=f"g-{uuid.uuid4().hex}")
    first = started(CrashAfterWrite, config, sqlite_store, index)
    publish(broker, [alert_message(topics, other)])
    poll("x correlated", lambda: first.service.stats.alerts, (1).__eq__, 30)
    publish(broker, [alert_message(topics, late)])
    poll("the crash", lambda: first.failure(), lambda f: f is not None, 30)
    assert {i.alert_ids for i in stored(sqlite_store)} == {("x",), ("a",)}
    publish(broker, [alert_message(topics, early)])
    second = started(CorrelatorService, config, sqlite_store, index)
    try:
        expected = correlate([other, late, early], index)
        assert {i.alert_ids for i in expected} == {("x",), ("b", "a")}
        wait_for_incidents(sqlite_store, expected, timeout=30)
        assert comparable(on_topic(broker, topics)) == comparable(expected)
    finally:
        second.stop()


def test_a_record_that_is_not_an_alert_is_dead_lettered_and_the_service_goes_on(
    broker: KafkaBroker, topics: Topics, sqlite_store: SqliteStore
) -> None:
    index = support.inventory()
    good = support.alert("g1", host="hv-01")
    config = ServiceConfig(broker.bootstrap, topics, group_id=f"g-{uuid.uuid4().hex}")
    running = started(CorrelatorService, config, sqlite_store, index)
    try:
        publish(
            broker,
            [
                OutMessage(topic=topics.alerts, key=b"acme", value=b"not json {"),
                OutMessage(topic=topics.alerts, key=b"acme", value=b'{"id": "half an alert"}'),
                alert_message(topics, good),
            ],
        )
        wait_for_incidents(sqlite_store, correlate([good], index), timeout=30)
        letters = read_messages(broker.bootstrap, topics.dlq, 2, timeout=30)
        docs = [json.loads(m.value or b"") for m in letters]
        assert [m.key for m in letters] == [b"alert", b"alert"]
        assert [d["raw"] for d in docs] == ["not json {", '{"id": "half an alert"}']
        assert all(d["reason"] and d["source"].startswith(topics.alerts) for d in docs)
        assert {d["received_via"] for d in docs} == {"correlate"}
        assert running.failure() is None
        assert running.service.stats.dead_lettered == 2
    finally:
        running.stop()
    again = started(CorrelatorService, config, sqlite_store, index)
    try:
        assert again.service.caught_up.wait(30)
        assert again.service.stats.dead_lettered == 0  # the first run dead-lettered them
    finally:
        again.stop()
    assert count_messages(broker.bootstrap, topics.dlq) == 2


def test_fenghuo_correlate_runs_until_sigint(
    broker: KafkaBroker, topics: Topics, tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(support.INVENTORY_YAML)
    env = {
        **os.environ,
        "FENGHUO_DATA_DIR": str(tmp_path / "var"),
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
    }
    exe = Path(sys.executable).with_name("fenghuo")
    args = ["correlate", "--inventory", str(inventory), "--bootstrap", broker.bootstrap]
    proc = subprocess.Popen(
        [str(exe), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        alerts = [support.alert("c1", host="hv-01"), support.alert("c2", at=3, host="hv-01")]
        publish(broker, [alert_message(topics, a) for a in alerts])
        (tmp_path / "var").mkdir(exist_ok=True)
        store = SqliteStore(tmp_path / "var" / "fenghuo.db")
        wait_for_incidents(store, correlate(alerts, support.inventory()), timeout=30)
        store.close()
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert f"correlate  {topics.alerts} -> {topics.incidents}" in output
    assert f"group {topics.prefix}correlate" in output


def copy_of(alert: Alert, copy: int) -> Alert:
    """The alert as it would be `copy` times 3 hours later, with ids of its own (3 h apart,
    no copy joins another, so each repeats the hour's incidents)."""
    shift, tag = copy * dt.timedelta(hours=3), f"#{copy}"
    return msgspec.structs.replace(
        alert,
        id=stable_id("copy", alert.id, copy),
        dedup_key=alert.dedup_key + tag,
        evidence=tuple(e + tag for e in alert.evidence),
        first_seen=alert.first_seen + shift,
        last_seen=alert.last_seen + shift,
        detected_at=alert.detected_at + shift,
        window_start=None if alert.window_start is None else alert.window_start + shift,
    )


def test_partitions_read_at_different_speeds_still_give_replays_incidents(
    broker: KafkaBroker, topics: Topics, hour: Hour, sqlite_store: SqliteStore
) -> None:
    # Days of event time whose tenants hash to partitions of very different density: one
    # fetch of a quiet partition covers many more hours than one of a busy partition, so the
    # service reads partitions far apart in event time. Decay must wait for the slowest.
    finals = fold_alerts(hour.versions)
    alerts = [copy_of(a, c) for c in range(40) for a in finals]
    alerts.sort(key=lambda a: (a.detected_at, a.id))
    expected = correlate(alerts, hour.index)
    publish(broker, [alert_message(topics, a) for a in alerts])  # before the service starts
    config = ServiceConfig(broker.bootstrap, topics, f"g-{uuid.uuid4().hex}", batch_size=100)
    running = started(CorrelatorService, config, sqlite_store, hour.index)
    try:
        target = comparable(expected)
        poll(
            "the incidents in the store",
            lambda: comparable(stored_all(sqlite_store)),
            target.__eq__,
            timeout=90,
        )
        assert running.failure() is None
    finally:
        running.stop()


def stored_all(store: SqliteStore) -> list[Incident]:
    incidents: list[Incident] = []
    cursor = None
    while True:
        page = store.incidents.list(ALL, limit=500, cursor=cursor)
        incidents += [v.incident for v in page.items]
        if page.next_cursor is None:
            return incidents
        cursor = page.next_cursor
