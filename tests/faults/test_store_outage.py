"""A store outage delays alerts and incidents, never loses them: the search server (a real
OpenSearch node of this test's own) is stopped mid-stream while the detection job (PyFlink, local
mini-cluster) and the correlator service write to it, and started again on its data dir.

The first half of the parity scenario goes through with the server up (some alerts and incidents
reach it), the node is stopped, the second half is published and detected while it is down (the
alerts reach their topic: only the store waits), then the node returns. At the end the store
holds exactly replay's alerts and the correlator's replay incidents. Both writers retry with
backoff; the job's buffered alerts wait in its checkpointed state, the correlator's in its batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.detectors.testing import demo_inventory
from fenghuo.graph import correlate
from fenghuo.graph.runner import ServiceThread
from fenghuo.graph.service import CorrelatorService, ServiceConfig
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from fenghuo.store.base import Scope
from fenghuo.store.elastic import ElasticStore
from fenghuo.store.search_node import SearchNode
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.flink_env import FlinkOptions
from fenghuo.streaming.flush import publish_flush
from fenghuo.streaming.job import StreamSpec, start
from fenghuo.streaming.store_sink import AlertBatchTarget, StoreAlerts
from tests.faults.test_stream import alert_versions
from tests.graph.test_service import comparable as comparable_incidents
from tests.store.backends import fresh_prefix
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import expected_replay, poll, publish, wait_for_alerts, write_config

pytestmark = [pytest.mark.flink, pytest.mark.search, pytest.mark.kafka]

EVERYTHING = Scope.everything()


@dataclass(frozen=True)
class OpenSearchOpener:
    """The job's store opener (pickled into the job): the node at `url`, under `prefix`."""

    url: str
    prefix: str

    def __call__(self, _path: Path) -> AlertBatchTarget:
        return StoreAlerts(ElasticStore.connect(self.url, prefix=self.prefix, flavour="opensearch"))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[SearchNode]:
    """A node of this test's own (the session's is shared), on a fixed port so that it comes
    back at the same URL."""
    with SearchNode(data_dir=tmp_path / "search", http_port=free_port(), scripts=False) as n:
        yield n


def _refreshed(store: ElasticStore, prefix: str) -> ElasticStore:
    store.client.indices.refresh(index=f"{prefix}*")  # what other processes wrote, visible
    return store


def stored_alerts(store: ElasticStore, prefix: str) -> list[Alert]:
    page = _refreshed(store, prefix).alerts.list(EVERYTHING, limit=500)
    return [v.alert for v in page.items]


def stored_incidents(store: ElasticStore, prefix: str) -> list[Incident]:
    page = _refreshed(store, prefix).incidents.list(EVERYTHING, limit=500)
    return [v.incident for v in page.items]


def test_a_search_server_outage_delays_alerts_and_incidents_and_loses_none(
    broker: KafkaBroker,
    topics: Topics,
    node: SearchNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    prefix = fresh_prefix()
    reader = ElasticStore.connect(node.url, prefix=prefix, flavour="opensearch")
    reader.bootstrap()
    events = scenario_events()
    half = len(events) // 2
    expected = expected_replay(events, instantiate(), scenario_config())
    index = demo_inventory().current
    spec = StreamSpec(
        bootstrap=broker.bootstrap,
        topics=topics,
        engine=EngineSpec(
            inventory=demo_inventory_path(),
            detection_config=write_config(scenario_config(), tmp_path / "detection.yaml"),
        ),
        flink=FlinkOptions(
            checkpoint_dir=tmp_path / "checkpoints",
            rest_port=free_port(),
            log_dir=tmp_path / "flink-logs",
        ),
        group_id=f"{topics.prefix}stream",
        store=tmp_path / "unused.db",  # the opener writes to the node instead
        store_opener=OpenSearchOpener(node.url, prefix),
    )
    service_store = ElasticStore.connect(node.url, prefix=prefix, flavour="opensearch")
    config = ServiceConfig(
        broker.bootstrap, topics, group_id=f"{topics.prefix}correlate", retry_max_s=2.0
    )
    correlator = ServiceThread(CorrelatorService(config, service_store, index), service_store)
    correlator.start()
    client = start(spec)
    try:
        publish(broker.bootstrap, topics, events[:half])
        before = poll(
            "alerts and incidents in the store before the outage",
            lambda: (stored_alerts(reader, prefix), stored_incidents(reader, prefix)),
            lambda got: bool(got[0]) and bool(got[1]),
            timeout=180,
        )
        node.stop()
        stopped_at = time.monotonic()
        publish(broker.bootstrap, topics, events[half:])
        publish_flush(broker.bootstrap, topics)
        # Detection goes on while the store is down: every alert reaches its topic.
        alerts = wait_for_alerts(broker.bootstrap, topics.alerts, expected.alerts, timeout=180)
        node.start()
        down_s = time.monotonic() - stopped_at  # until the node is green again
        versions = alert_versions(broker.bootstrap, topics.alerts)
        want = correlate(versions, index())
        in_store = poll(
            "every alert in the store",
            lambda: stored_alerts(reader, prefix),
            lambda got: comparable(got) == comparable(expected.alerts),
            timeout=180,
        )
        incidents = poll(
            "every incident in the store",
            lambda: stored_incidents(reader, prefix),
            lambda got: comparable_incidents(got) == comparable_incidents(want),
            timeout=180,
        )
        caught_up_s = time.monotonic() - stopped_at - down_s
        assert correlator.failure() is None
    finally:
        client.cancel().result()
        correlator.stop()
        if node.is_running():
            reader.drop()
        reader.close()
    line = (
        f"search server outage: alerts_before={len(before[0])} incidents_before={len(before[1])} "
        f"down_s={down_s:.0f} alerts={len(in_store)} (replay {len(expected.alerts)}) "
        f"incidents={len(incidents)} (correlator replay {len(want)}) "
        f"lost=0 caught_up_after_restart_s={caught_up_s:.0f} "
        f"runtime_s={time.monotonic() - began:.0f}"
    )
    with capsys.disabled():
        print(f"\n{line}")
    assert len(before[0]) < len(expected.alerts), f"the outage came too late to matter: {line}"
    assert comparable(alerts) == comparable(expected.alerts), line  # the topic did not wait
    assert sorted(a.id for a in in_store) == sorted(a.id for a in expected.alerts), line
    assert msgspec.json.encode(comparable(in_store)) == msgspec.json.encode(
        comparable(expected.alerts)
    ), line
    assert sorted(i.id for i in incidents) == sorted(i.id for i in want), line
