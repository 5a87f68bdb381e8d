"""The detection job (PyFlink, local mini-cluster) and the correlator service ride through a
broker killed with SIGKILL: the alerts on the topic are replay's, the incidents in the store are
the correlator's replay over those alerts (and name replay's incident ids).

The first half of the parity scenario is published and, once a checkpoint of the job has
committed the offsets of all of it, broker 3 (a leader of some partitions) is killed; the second
half is published while it is down (the publisher rides the leader change), then the broker
returns and the watermark flush goes out. Idleness is off, as in the restart test: a partition
stalled by the leader change must hold the watermark back rather than let its events turn late.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.detectors.testing import demo_inventory
from fenghuo.graph import correlate
from fenghuo.graph.runner import ServiceThread
from fenghuo.graph.service import CorrelatorService, ServiceConfig
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.model.alert import Alert, decode_alert
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.flink_env import FlinkOptions
from fenghuo.streaming.flush import publish_flush
from fenghuo.streaming.job import StreamSpec, start
from tests.graph.test_service import comparable as comparable_incidents
from tests.graph.test_service import stored
from tests.kafka_cluster import KafkaCluster
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    committed,
    expected_replay,
    poll,
    publish,
    wait_for_alerts,
    write_config,
)
from tests.streaming.test_job_restart import partition_counts

pytestmark = [pytest.mark.kafka_cluster, pytest.mark.flink]

VICTIM = 3


@pytest.fixture
def correlator_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "fenghuo.db")
    yield store
    store.close()


def alert_versions(bootstrap: str, topic: str) -> list[Alert]:
    """Every alert version on the topic, as the correlator reads them."""
    return [decode_alert(m.value) for m in read_to_end(bootstrap, topic) if m.value is not None]


def test_job_and_correlator_give_replays_results_through_a_broker_kill(
    cluster: KafkaCluster,
    cluster_topics: Topics,
    correlator_store: SqliteStore,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    topics = cluster_topics
    began = time.monotonic()
    events = scenario_events()
    half = len(events) // 2
    expected = expected_replay(events, instantiate(), scenario_config())
    index = demo_inventory().current
    replay_incidents = correlate(expected.alerts, index())
    assert VICTIM in cluster.leaders(topics.all()).values()
    spec = StreamSpec(
        bootstrap=cluster.bootstrap,
        topics=topics,
        engine=EngineSpec(
            inventory=demo_inventory_path(),
            detection_config=write_config(scenario_config(), tmp_path / "detection.yaml"),
            detectors=tuple(instantiate()),
        ),
        flink=FlinkOptions(
            checkpoint_dir=tmp_path / "checkpoints",
            checkpoint_interval=dt.timedelta(seconds=2),
            rest_port=free_port(),
            log_dir=tmp_path / "flink-logs",
        ),
        group_id=f"{topics.prefix}stream",
        store=tmp_path / "alerts.db",
        idle_timeout=None,
    )
    service_store = SqliteStore(correlator_store.path)
    config = ServiceConfig(cluster.bootstrap, topics, group_id=f"{topics.prefix}correlate")
    correlator = ServiceThread(CorrelatorService(config, service_store, index), service_store)
    correlator.start()
    client = start(spec)
    try:
        publish(cluster.bootstrap, topics, events[:half])
        per_partition = partition_counts(cluster.bootstrap, topics)
        poll(
            "offsets of the first half committed by a checkpoint",
            lambda: committed(cluster.bootstrap, spec.group_id, per_partition),
            lambda n: n == half,
            timeout=180,
        )
        cluster.kill(VICTIM)
        killed_at = time.monotonic()
        publish(cluster.bootstrap, topics, events[half:])
        published_through = time.monotonic() - killed_at
        cluster.restart(VICTIM)
        publish_flush(cluster.bootstrap, topics)
        alerts = wait_for_alerts(cluster.bootstrap, topics.alerts, expected.alerts, timeout=180)
        versions = alert_versions(cluster.bootstrap, topics.alerts)
        want = correlate(versions, index())
        poll(
            "the correlator's incidents",
            lambda: comparable_incidents(stored(correlator_store)),
            comparable_incidents(want).__eq__,
            timeout=120,
        )
        assert correlator.failure() is None
    finally:
        client.cancel().result()
        correlator.stop()
    incidents = stored(correlator_store)
    line = (
        f"stream+correlator, partition leader killed: events={len(events)} "
        f"alerts={len(alerts)} (replay {len(expected.alerts)}) alert_versions={len(versions)} "
        f"incidents={len(incidents)} (replay {len(replay_incidents)}) "
        f"second_half_published_in_s={published_through:.1f} "
        f"runtime_s={time.monotonic() - began:.0f}"
    )
    report(line)
    assert comparable(alerts) == comparable(expected.alerts), line
    # The same incidents as replay's, by id and by the alerts they group; the rest of each
    # incident is the correlator's replay over the job's alerts (their detection times differ).
    assert sorted((i.id, i.alert_ids) for i in incidents) == sorted(
        (i.id, i.alert_ids) for i in replay_incidents
    ), line
