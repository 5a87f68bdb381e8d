"""The job's store writer, on the real broker, a real PyFlink mini-cluster and real SQLite: alerts
reach the store in batches (one upsert each), exactly as replay has them, and reach the topic
without waiting for the store, even while the store is locked. (A restart with alerts buffered
in the writer's state is in test_job_restart.)"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.model.alert import Alert
from fenghuo.store.alerts import AlertStore
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.flink_env import FlinkOptions
from fenghuo.streaming.flush import publish_flush
from fenghuo.streaming.job import StreamSpec, start
from tests.streaming.recording_store import RecordingOpener, recorded_batches
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    expected_replay,
    metric_sum,
    poll,
    publish,
    wait_for_alerts,
    write_config,
)

pytestmark = pytest.mark.flink


@dataclass
class Job:
    spec: StreamSpec
    expected: list[Alert]
    port: int
    db: Path
    batch_log: Path


@pytest.fixture
def job(broker: KafkaBroker, tmp_path: Path) -> Job:
    """A job over the scenario (not started), writing to SQLite through a recording store."""
    topics = Topics(prefix=f"s{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    events = scenario_events()
    expected = expected_replay(events, instantiate(), scenario_config()).alerts
    publish(broker.bootstrap, topics, events)
    publish_flush(broker.bootstrap, topics)
    port = free_port()
    db = tmp_path / "alerts.db"
    batch_log = tmp_path / "batches.log"
    spec = StreamSpec(
        bootstrap=broker.bootstrap,
        topics=topics,
        engine=EngineSpec(
            inventory=demo_inventory_path(),
            detection_config=write_config(scenario_config(), tmp_path / "detection.yaml"),
        ),
        flink=FlinkOptions(
            checkpoint_dir=tmp_path / "checkpoints",
            rest_port=port,
            log_dir=tmp_path / "flink-logs",
            extra={"metrics.fetcher.update-interval": "500 ms"},
        ),
        group_id=f"{topics.prefix}stream",
        store=db,
        store_opener=RecordingOpener(batch_log),
    )
    return Job(spec, expected, port, db, batch_log)


@pytest.fixture
def running(job: Job) -> Iterator[str]:
    """Starts the job when first requested; yields its id, cancels it afterwards."""
    client = start(job.spec)
    try:
        yield str(client.get_job_id())
    finally:
        client.cancel().result()


def stored(db: Path) -> list[Alert]:
    store = AlertStore(db)
    try:
        return store.all()
    finally:
        store.close()


def wait_for_store(job: Job, timeout: float) -> list[Alert]:
    target = comparable(job.expected)
    return poll(
        "alerts in the store",
        lambda: stored(job.db),
        lambda got: comparable(got) == target,
        timeout,
    )


def test_alerts_reach_the_store_in_batches_exactly_as_replay(job: Job, running: str) -> None:
    wait_for_alerts(job.spec.bootstrap, job.spec.topics.alerts, job.expected, timeout=180)
    store = wait_for_store(job, timeout=60)
    assert len(store) == len(job.expected) > 10
    assert sorted(a.id for a in store) == sorted(a.id for a in job.expected)
    assert comparable(store) == comparable(job.expected)

    # Every alert version detect emitted was written, and Flink's counters agree with what the
    # store was given, batch by batch.
    def counts() -> tuple[int, int, int, list[int]]:
        return (
            metric_sum(job.port, running, "alerts"),
            metric_sum(job.port, running, "alerts_stored"),
            metric_sum(job.port, running, "store_flushes"),
            recorded_batches(job.batch_log),
        )

    _emitted, rows, flushes, batches = poll(
        "the store counters",
        counts,
        lambda c: c[0] == c[1] == sum(c[3]) and c[2] == len(c[3]),
        timeout=30,
    )
    assert rows >= len(job.expected)
    assert max(batches) > 1, f"no batching: {batches}"
    assert flushes < rows / 2, f"{flushes} upserts for {rows} alerts: {batches}"


def test_alerts_reach_the_topic_while_the_store_is_locked(
    job: Job, request: pytest.FixtureRequest
) -> None:
    SqliteStore(job.db).close()  # the schema exists; opening the store needs no write lock
    holder = sqlite3.connect(job.db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the store's write lock, held by the test
        job_id: str = request.getfixturevalue("running")
        topic = wait_for_alerts(
            job.spec.bootstrap, job.spec.topics.alerts, job.expected, timeout=180
        )
        assert comparable(topic) == comparable(job.expected)
        assert holder.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
        assert recorded_batches(job.batch_log) == []
        assert metric_sum(job.port, job_id, "store_flushes") == 0
        holder.execute("COMMIT")
    finally:
        holder.close()
    store = wait_for_store(job, timeout=90)  # the waiting writer now gets through
    assert comparable(store) == comparable(job.expected)
    assert sum(recorded_batches(job.batch_log)) >= len(job.expected)
