"""`fenghuo stream` killed with SIGKILL and restarted resumes from its last checkpoint: the
alerts on the topic and in the store are replay's, none lost, none duplicated (by id, folded).

The first half of the scenario is published, with a watermark flush at the second half's start
(nothing later can be late), and the job started; once the consumer group's committed offsets
(committed when a checkpoint completes) cover every record of it, the process is killed. The
restart publishes the rest and the final watermark flush. Idleness is off: a partition that went
idle during the first run would let the watermark pass events it has yet to deliver, and those
would be late (processed, but no longer in replay's order).

The first run's store writer never flushes (an hour's interval, a huge batch), so the alerts it
was given are still in its buffer, in Flink state, when a checkpoint completes and the process is
killed: the store is empty then. Detect does not emit them again after the restore (its input up
to that checkpoint is done), so they reach the store only if the restored buffer is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.store.alerts import AlertStore
from fenghuo.streaming.flush import publish_flush
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    committed,
    expected_replay,
    metric_sum,
    poll,
    publish,
    rest,
    running_job,
    wait_for_alerts,
    write_config,
)

pytestmark = pytest.mark.flink

FENGHUO = Path(sys.executable).with_name("fenghuo")


def children(pid: int) -> list[int]:
    """The direct children of a process (the JVM PyFlink launched)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found += [int(c) for c in text.split()]
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class StreamProcess:
    """`fenghuo stream` as a child process, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [str(FENGHUO), "stream", *args], env=env, cwd=cwd, stdout=self.log, stderr=self.log
        )
        self.jvms: list[int] = []

    def note_jvm(self) -> None:
        self.jvms = children(self.proc.pid)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """Ctrl-C: the command cancels the job and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.jvms:  # the test must leave no JVM behind, whatever happened
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def processes() -> Iterator[list[StreamProcess]]:
    started: list[StreamProcess] = []
    yield started
    for process in started:
        process.close()


def test_killed_job_resumes_from_its_checkpoint(
    broker: KafkaBroker, tmp_path: Path, processes: list[StreamProcess]
) -> None:
    topics = Topics(prefix=f"r{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    group = f"{topics.prefix}stream"
    events = scenario_events()
    half = len(events) // 2
    expected = expected_replay(events, instantiate(), scenario_config())
    port = free_port()
    env = {
        **os.environ,
        "FENGHUO_DATA_DIR": str(tmp_path / "data"),
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
        "FENGHUO_STREAM_CHECKPOINT_INTERVAL_S": "1",
        "FENGHUO_STREAM_IDLE_TIMEOUT_S": "0",
        "FENGHUO_STREAM_REST_PORT": str(port),
    }
    args = [
        "--inventory",
        str(demo_inventory_path()),
        "--detection-config",
        str(write_config(scenario_config(), tmp_path / "detection.yaml")),
        "--bootstrap",
        broker.bootstrap,
        "--checkpoint-dir",
        str(tmp_path / "checkpoints"),
    ]

    def launch(extra: dict[str, str]) -> StreamProcess:
        process = StreamProcess(args, env | extra, tmp_path, tmp_path / "stream.log")
        processes.append(process)
        return process

    # First run: half the scenario, until a completed checkpoint covers all of it.
    publish(broker.bootstrap, topics, events[:half])
    # Event time up to the second half's start, on every partition, so the first run's
    # watermark moves and its alerts fire (the scenario is in event-time order).
    flushes = publish_flush(broker.bootstrap, topics, min(e.event_time for e in events[half:]))
    per_partition = partition_counts(broker.bootstrap, topics)
    first_records = half + flushes
    assert sum(per_partition.values()) == first_records
    first = launch(NEVER_FLUSH)
    first_job = str(poll("the first run's job", lambda: running_job(port), bool, timeout=120))
    first.note_jvm()
    assert first.jvms, "PyFlink's JVM not found"
    poll(
        "offsets committed by a checkpoint",
        lambda: committed(broker.bootstrap, group, per_partition),
        lambda n: n == first_records,
        timeout=120,
    )
    # Alerts on the topic, then a checkpoint triggered after they were seen: its barrier
    # followed them into the store writer, so they are in that checkpoint's buffer.
    buffered = poll("first-run alerts", lambda: alert_rows(broker.bootstrap, topics), bool, 60)
    seen_ms = time.time() * 1000
    poll(
        "a checkpoint after the alerts",
        lambda: last_checkpoint_trigger(port, first_job),
        lambda at: at > seen_ms,
        timeout=60,
    )
    db = tmp_path / "data" / "fenghuo.db"
    assert AlertStore(db).count() == 0, "the first run's writer flushed"
    first.kill()
    poll("the killed job's JVM to exit", lambda: [p for p in first.jvms if alive(p)], not_, 30)

    # Second run: restored from the checkpoint; the rest of the scenario and the flush.
    second = launch({})
    job_id = str(poll("the restarted job", lambda: running_job(port), bool, timeout=120))
    second.note_jvm()
    publish(broker.bootstrap, topics, events[half:])
    publish_flush(broker.bootstrap, topics)
    topic_alerts = wait_for_alerts(broker.bootstrap, topics.alerts, expected.alerts, 180)
    assert comparable(topic_alerts) == comparable(expected.alerts)
    restored = rest(port, f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
    assert restored is not None, "the second run did not restore a checkpoint"
    assert "chk-" in restored["external_path"]
    store = AlertStore(db).all()
    assert comparable(store) == comparable(expected.alerts)
    # The second run wrote more alerts than its detect step emitted: the restored buffer.
    emitted, written = poll(
        "the second run's store counters",
        lambda: (metric_sum(port, job_id, "alerts"), metric_sum(port, job_id, "alerts_stored")),
        lambda c: c[1] >= c[0] + buffered,
        timeout=30,
    )
    assert written - emitted >= buffered > 0
    assert second.stop() == 0
    poll("the stopped job's JVM to exit", lambda: [p for p in second.jvms if alive(p)], not_, 30)


# The first run's store writer keeps everything buffered (the second runs with the defaults).
NEVER_FLUSH = {"FENGHUO_STREAM_STORE_FLUSH_S": "3600", "FENGHUO_STREAM_STORE_BATCH_MAX": "1000000"}


def alert_rows(bootstrap: str, topics: Topics) -> int:
    """Alert versions on the topic (not folded)."""
    return len(read_to_end(bootstrap, topics.alerts))


def last_checkpoint_trigger(port: int, job_id: str) -> float:
    """When the job's newest completed checkpoint was triggered (epoch ms; 0: none yet)."""
    completed = rest(port, f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
    return float(completed["trigger_timestamp"]) if completed else 0.0


def not_(pids: list[int]) -> bool:
    return not pids


def partition_counts(bootstrap: str, topics: Topics) -> Counter[tuple[str, int]]:
    """Records per (topic, partition) of the telemetry topics."""
    counts: Counter[tuple[str, int]] = Counter()
    for topic in topics.telemetry():
        for message in read_to_end(bootstrap, topic):
            counts[(message.topic, message.partition)] += 1
    return counts
