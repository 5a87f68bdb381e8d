"""Alerts per second from the stream job into SQLite, and onto the alerts topic.

One run: a fresh broker, N process-exec events (each on its own key) published with a watermark
flush behind them, and the real job (`fenghuo.streaming.job.build_job`, thread mode, p 1,
checkpoints every 5 s) with one bench-only detector that raises an alert for every event, so the
job emits N distinct alerts as fast as it can and the store path is what limits it. The script
polls the SQLite store's count and the topic's end offsets every 0.2 s until both hold N.

    .venv/bin/python -m bench.flink_store --events 20000

Run it against another checkout (the per-alert writer before issue 11, say) by copying this file
into that tree's bench/ and running it there with PYTHONPATH set to that tree: the job's Python
workers import `fenghuo` and this module from the tree `fenghuo` was imported from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from fenghuo.detectors.base import Context, Detector, DetectorMeta, Finding
from fenghuo.model import Event, ProcessExec, RawRef
from fenghuo.model.alert import Severity
from fenghuo.model.events import Process

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


class EveryExec(Detector):
    """Bench only: one alert per process exec (each event its own key)."""

    meta: ClassVar[DetectorMeta] = DetectorMeta(
        id="every-exec",
        title="Every process exec",
        severity=Severity.LOW,
        confidence=0.5,
        technique="T1059",
        category="DA01",
        description="bench only",
        runbook="none",
    )
    inputs: ClassVar[tuple[type[Event], ...]] = (ProcessExec,)

    def key(self, event: Event) -> str | None:
        return event.id

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        yield Finding(
            summary=f"exec on {event.host_id}",
            tenant_id=event.tenant_id,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            host_id=event.host_id,
        )


def events(n: int, per_second: int = 200) -> list[Event]:
    out: list[Event] = []
    for i in range(n):
        at = T0 + dt.timedelta(microseconds=i * 1_000_000 // per_second)
        out.append(
            ProcessExec(
                id=f"bench-exec-{i}",
                event_time=at,
                ingest_time=at,
                source_format="bench",
                raw=RawRef(source="bench"),
                host_id=f"host-{i % 8}",
                tenant_id=f"tenant-{i % 6}",
                attribution="provider",
                process=Process(pid=1000 + i, exe="/usr/bin/true", comm="true"),
            )
        )
    return out


def topic_rows(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-offsets"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def store_rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])
    except sqlite3.OperationalError:  # schema not yet created by the job
        return 0
    finally:
        conn.close()


def run(n: int, timeout: float) -> dict[str, Any]:
    from fenghuo.demo.samples import demo_inventory_path
    from fenghuo.ingest.kafka.broker import KafkaBroker
    from fenghuo.ingest.kafka.producer import Publisher
    from fenghuo.ingest.kafka.topics import Topics, ensure_topics
    from fenghuo.ingest.routing import event_message
    from fenghuo.streaming.adapter import EngineSpec
    from fenghuo.streaming.flink_env import FlinkOptions
    from fenghuo.streaming.flush import publish_flush
    from fenghuo.streaming.job import StreamSpec, start

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="fenghuo-bench-store-"))
    with KafkaBroker(data_dir=tmp / "broker") as broker:
        topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
        ensure_topics(broker.bootstrap, topics)
        with Publisher(broker.bootstrap, client_id="bench") as publisher:
            publisher.publish([event_message(e, topics) for e in events(n)])
        publish_flush(broker.bootstrap, topics)
        db = tmp / "alerts.db"
        spec = StreamSpec(
            bootstrap=broker.bootstrap,
            topics=topics,
            engine=EngineSpec(inventory=demo_inventory_path(), detectors=(EveryExec(),)),
            flink=FlinkOptions(checkpoint_dir=tmp / "checkpoints", log_dir=tmp / "flink-logs"),
            group_id=f"{topics.prefix}stream",
            store=db,
        )
        submitted = time.monotonic()
        client = start(spec)
        first: dict[str, float] = {}
        done: dict[str, float] = {}
        try:
            while len(done) < 2 and time.monotonic() - submitted < timeout:
                now = time.monotonic()
                counts = {
                    "store": store_rows(db),
                    "topic": topic_rows(broker.bootstrap, topics.alerts),
                }
                for where, count in counts.items():
                    if count and where not in first:
                        first[where] = now
                    if count >= n and where not in done:
                        done[where] = now
                time.sleep(0.2)  # polling interval of the measurement
        finally:
            client.cancel().result()
    result: dict[str, Any] = {"events": n, "load_before": load_before}
    for where in ("topic", "store"):
        if where in done:
            span = done[where] - first[where]
            result[f"{where}_first_s"] = round(first[where] - submitted, 2)
            result[f"{where}_all_s"] = round(done[where] - submitted, 2)
            result[f"{where}_alerts_per_s"] = round(n / span) if span > 0 else None
    result["stored"] = store_rows(db)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    print(json.dumps(run(args.events, args.timeout)))


if __name__ == "__main__":
    main()
