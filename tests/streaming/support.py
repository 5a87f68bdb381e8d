"""Helpers for the Flink job tests: publishing a scenario, reading alerts back, the REST API."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from fenghuo.detectors.base import Context, Detector, DetectorMeta, Finding
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.testing import FIXED_NOW, demo_inventory
from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.kafka.producer import Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.routing import event_message
from fenghuo.model import Event, ProcessExec
from fenghuo.model.alert import Alert, Severity, decode_alert
from fenghuo.streaming.replay import ReplayResult, fold_alerts, replay
from tests.streaming.scenario import comparable

T = TypeVar("T")


class AlwaysFails(Detector):
    """A broken detector: raises on every process exec it is given (test only)."""

    meta: ClassVar[DetectorMeta] = DetectorMeta(
        id="always-fails",
        title="A detector that always raises",
        severity=Severity.LOW,
        confidence=0.5,
        technique="T1611",
        category="DA01",
        description="test only",
        runbook="none",
    )
    inputs: ClassVar[tuple[type[Event], ...]] = (ProcessExec,)

    def key(self, event: Event) -> str | None:
        return event.host_id or "?"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        msg = f"detector bug on {event.id}"
        raise RuntimeError(msg)


def expected_replay(
    events: Sequence[Event], detectors: Sequence[Detector], config: DetectionConfig
) -> ReplayResult:
    engine = DetectionEngine(detectors, demo_inventory().current, config, clock=lambda: FIXED_NOW)
    return replay(events, engine)


def write_config(config: DetectionConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


def publish(bootstrap: str, topics: Topics, events: Iterable[Event]) -> int:
    with Publisher(bootstrap, client_id="fenghuo-test") as publisher:
        return publisher.publish([event_message(e, topics) for e in events])


def topic_alerts(bootstrap: str, topic: str) -> list[Alert]:
    """Every alert version on the topic, folded by id."""
    messages = read_to_end(bootstrap, topic)
    return fold_alerts(decode_alert(m.value) for m in messages if m.value is not None)


def poll(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Call `probe` until `done(result)`; raise TimeoutError with the last result after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            msg = f"{what}: not reached in {timeout} s; last: {str(result)[:400]}"
            raise TimeoutError(msg)
        time.sleep(0.5)  # polling interval against a deadline, not a synchronisation


def wait_for_alerts(bootstrap: str, topic: str, want: list[Alert], timeout: float) -> list[Alert]:
    """Poll the topic until its folded alerts equal `want` (all but detected_at)."""
    target = comparable(want)
    return poll(
        f"alerts on {topic}",
        lambda: topic_alerts(bootstrap, topic),
        lambda got: comparable(got) == target,
        timeout,
    )


def rest(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


def running_job(port: int) -> str | None:
    try:
        jobs = rest(port, "/jobs")["jobs"]
    except OSError:
        return None
    running = [j["id"] for j in jobs if j["status"] == "RUNNING"]
    return running[0] if running else None


def metric_sum(port: int, job_id: str, name: str) -> int:
    """The sum of a user metric over every operator and subtask of the job."""
    total = 0
    for vertex in rest(port, f"/jobs/{job_id}")["vertices"]:
        base = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in rest(port, base) if m["id"].endswith(f".{name}")]
        if ids:
            for metric in rest(port, f"{base}?get={','.join(ids)}"):
                total += int(float(metric["value"]))
    return total


def committed(bootstrap: str, group: str, partitions: Counter[tuple[str, int]]) -> int:
    """How many of the given records (per topic partition) the group has committed."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
    finally:
        consumer.close()
    return sum(
        min(max(tp.offset, 0), partitions[(tp.topic, tp.partition)])
        for tp in offsets
        if tp.topic is not None
    )
