"""The Flink job against replay, on the real embedded broker and a real PyFlink mini-cluster.

One job serves every assertion here (a job start costs several seconds): the scenario (every
detector's case events plus the shared samples) is published with a watermark flush on every
partition, the job runs every registered detector plus a test-only detector that always raises,
and its alerts are read back from the topic until their fold equals replay's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.model import ProcessExec
from fenghuo.model.alert import Alert
from fenghuo.store.alerts import AlertStore
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.flink_env import FlinkOptions
from fenghuo.streaming.flush import publish_flush
from fenghuo.streaming.job import StreamSpec, start
from fenghuo.streaming.replay import ReplayResult
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    AlwaysFails,
    expected_replay,
    metric_sum,
    poll,
    publish,
    wait_for_alerts,
    write_config,
)

pytestmark = pytest.mark.flink


@dataclass
class Run:
    expected: ReplayResult
    topic: list[Alert]
    store: list[Alert]
    failures_metric: int


@pytest.fixture(scope="module")
def run(broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("parity")
    topics = Topics(prefix=f"p{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    events = scenario_events()
    detectors = [*instantiate(), AlwaysFails()]
    expected = expected_replay(events, detectors, scenario_config())
    publish(broker.bootstrap, topics, events)
    publish_flush(broker.bootstrap, topics)
    port = free_port()
    spec = StreamSpec(
        bootstrap=broker.bootstrap,
        topics=topics,
        engine=EngineSpec(
            inventory=demo_inventory_path(),
            detection_config=write_config(scenario_config(), tmp / "detection.yaml"),
            detectors=tuple(detectors),
        ),
        flink=FlinkOptions(
            checkpoint_dir=tmp / "checkpoints",
            rest_port=port,
            log_dir=tmp / "flink-logs",
            extra={"metrics.fetcher.update-interval": "500 ms"},
        ),
        group_id=f"{topics.prefix}stream",
        store=Path(tmp / "alerts.db"),
    )
    client = start(spec)
    try:
        topic = wait_for_alerts(broker.bootstrap, topics.alerts, expected.alerts, timeout=180)
        job_id = str(client.get_job_id())
        want_failures = sum(expected.failures.values())
        failures = poll(
            "detector_failures metric",
            lambda: metric_sum(port, job_id, "detector_failures"),
            lambda n: n >= want_failures,
            timeout=60,
        )
        store = AlertStore(tmp / "alerts.db").all()
        yield Run(expected, topic, store, failures)
    finally:
        client.cancel().result()


def test_topic_alerts_equal_replay(run: Run) -> None:
    assert comparable(run.topic) == comparable(run.expected.alerts)
    assert len({a.detector for a in run.expected.alerts}) >= 5, "a weak scenario"


def test_store_alerts_equal_replay(run: Run) -> None:
    assert comparable(run.store) == comparable(run.expected.alerts)


def test_failing_detector_is_counted_and_others_still_alert(run: Run) -> None:
    raised = sum(isinstance(e, ProcessExec) for e in scenario_events())
    assert run.expected.failures == {"always-fails": raised}
    assert run.failures_metric == raised
    assert not any(a.detector == "always-fails" for a in run.topic)
