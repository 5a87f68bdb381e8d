"""`fenghuo up` through faults of its own parts: the embedded broker killed under it, and `up`
itself stopped and started again on the same data dir.

Both run `up` as an operator does (a subprocess on free loopback ports, a temporary data dir) and
feed it the parity scenario (every detector's case events and the shared samples, in event-time
order) as native events through the ingest gateway, then compare the alerts with replay's.
`up` gets an empty samples folder, so it ingests no backfill of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest

from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.model import Event, encode_event
from fenghuo.store.alerts import AlertStore
from fenghuo.streaming.flink_env import latest_checkpoint
from fenghuo.streaming.flush import FLUSH_SOURCE, publish_flush
from fenghuo.streaming.replay import ReplayResult
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    committed,
    expected_replay,
    poll,
    rest,
    running_job,
    wait_for_alerts,
    write_config,
)
from tests.streaming.test_job_restart import partition_counts
from tests.test_up_and_serve import child_environ, jvms_under, running

pytestmark = pytest.mark.kafka
TOPICS = Topics()
CHUNK = 10  # events per upload


@dataclass
class Up:
    """A running `fenghuo up` and what it printed (read on by a thread after start-up)."""

    proc: subprocess.Popen[str]
    lines: list[str]
    api: str
    broker: str
    rest_port: int
    reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @classmethod
    def of(cls, started: tuple[subprocess.Popen[str], list[str]], env: dict[str, str]) -> Up:
        proc, lines = started
        api = f"http://127.0.0.1:{env['FENGHUO_API_PORT']}"
        broker = f"127.0.0.1:{env['FENGHUO_EMBEDDED_BROKER_PORT']}"
        return cls(proc, lines, api, broker, int(env["FENGHUO_STREAM_REST_PORT"]))

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it: a clean exit."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=90) == 0, "\n".join(self.lines[-30:])
        self.reader.join(timeout=10)

    def value(self, prefix: str) -> str:
        return next(line.split()[2] for line in self.lines if line.startswith(prefix))

    def printed(self, text: str) -> int:
        return sum(text in line for line in self.lines)


@dataclass
class Sender:
    """Uploads chunks of native events through the gateway, retrying each on 503 after the
    Retry-After it is given, as a well-behaved sender does; counts every answer."""

    url: str
    token: str
    answers: Counter[int] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)  # event ids answered 202
    sent: int = 0  # chunks answered 202

    def send(self, chunk: Sequence[Event], timeout: float = 120.0) -> None:
        body = b"\n".join(encode_event(e) for e in chunk)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=60) as client:
            while True:
                response = client.post(
                    f"{self.url}/api/v1/ingest/native",
                    content=body,
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                self.answers[response.status_code] += 1
                if response.status_code == 202:
                    assert response.json()["accepted"] == len(chunk), response.text
                    self.acknowledged += [e.id for e in chunk]
                    self.sent += 1
                    return
                assert response.status_code == 503, response.text
                assert time.monotonic() < deadline, "the gateway kept answering 503"
                retry = int(response.headers["Retry-After"])
                time.sleep(retry)  # the server's own back-off, as a sender honours it

    def send_all(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), CHUNK):
            self.send(events[start : start + CHUNK])


def up_env(tmp_path: Path) -> dict[str, str]:
    return {
        **child_environ(),
        "FENGHUO_DATA_DIR": str(tmp_path / "var"),
        "FENGHUO_EMBEDDED_BROKER_PORT": str(free_port()),
        "FENGHUO_API_PORT": str(free_port()),
        "FENGHUO_STREAM_REST_PORT": str(free_port()),
        "FENGHUO_DETECTION_CONFIG": str(write_config(scenario_config(), tmp_path / "det.yaml")),
        # Slow uploads must not let partitions go idle: the watermark then waits for every
        # partition (and for the flush), as replay's does.
        "FENGHUO_STREAM_IDLE_TIMEOUT_S": "0",
        "FENGHUO_STREAM_CHECKPOINT_INTERVAL_S": "1",
        "FENGHUO_INGEST_RETRY_AFTER_S": "1",
    }


def up_args(tmp_path: Path) -> list[str]:
    empty = tmp_path / "no-samples"
    empty.mkdir(exist_ok=True)
    return ["up", "--samples", str(empty)]


def broker_pid(tmp_path: Path) -> int:
    """The embedded broker's JVM (its command line names the data dir and kafka.Kafka)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(tmp_path) in text and "java" in text and "kafka.Kafka " in text:
            return int(cmdline.parent.name)
    msg = "the embedded broker's JVM is not running"
    raise LookupError(msg)


def expected() -> tuple[list[Event], ReplayResult]:
    events = list(scenario_events())
    return events, expected_replay(events, instantiate(), scenario_config())


def telemetry_ids(bootstrap: str) -> Counter[str]:
    """How often each event id is in the telemetry topics (watermark flushes left out)."""
    counts: Counter[str] = Counter()
    for topic in TOPICS.telemetry():
        for message in read_to_end(bootstrap, topic):
            doc = msgspec.json.decode(message.value or b"{}")
            if doc.get("source_format") != FLUSH_SOURCE:
                counts[doc["id"]] += 1
    return counts


def routed_events(port: int, job_id: str) -> int:
    """The route operator's `events` counter: the telemetry records the job's source handed on
    (watermark flushes are not counted)."""
    total = 0
    for vertex in rest(port, f"/jobs/{job_id}")["vertices"]:
        base = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in rest(port, base) if re.search(r"\.route_\w*\.events$", m["id"])]
        if ids:
            total += sum(int(float(m["value"])) for m in rest(port, f"{base}?get={','.join(ids)}"))
    return total


def test_a_killed_broker_is_restarted_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    events, replay = expected()
    env = up_env(tmp_path)
    with running(up_args(tmp_path), env, "running; Ctrl-C") as started:
        up = Up.of(started, env)
        sender = Sender(up.api, up.value("ingest key"))
        thread = threading.Thread(target=sender.send_all, args=(events,), daemon=True)
        began = time.monotonic()
        thread.start()
        # SIGKILL the broker a third of the way in, SIGTERM it two thirds in (once it is back):
        # the sender goes on uploading throughout.
        third = len(events) // CHUNK // 3
        for faults, sig in enumerate((signal.SIGKILL, signal.SIGTERM), start=1):
            poll("uploads before the fault", lambda: sender.sent, (third * faults).__le__, 60)
            os.kill(broker_pid(tmp_path), sig)
            poll("the death noticed", lambda: up.printed("died ("), faults.__le__, timeout=30)
            # While it is down (the restart waits a second, Kafka takes seconds to start): 503
            # with Retry-After at once, for a body whose only record goes to the dead letters.
            refused = httpx.post(
                f"{up.api}/api/v1/ingest/native",
                content=b"not an event",
                headers={"Authorization": f"Bearer {sender.token}"},
                timeout=30,
            )
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            poll(
                f"the broker back after {sig.name}",
                lambda: up.printed("the embedded broker is back"),
                faults.__le__,
                timeout=60,
            )
        thread.join(timeout=120)
        assert not thread.is_alive(), "the sender did not finish"
        upload_s = time.monotonic() - began
        assert up.proc.poll() is None, "\n".join(up.lines[-30:])
        assert up.printed("died (killed by SIGKILL)") == 1
        assert up.printed("died (stopped by SIGTERM (exit 143))") == 1

        # Every acknowledged event is in the topics as often as it was sent (the scenario repeats
        # a few ids: detector cases share events), no more, no less.
        counts = telemetry_ids(up.broker)
        acked = Counter(sender.acknowledged)
        lost = sum(max(0, n - counts[ident]) for ident, n in acked.items())
        duplicated = sum(max(0, counts[ident] - n) for ident, n in acked.items())
        print(
            f"acknowledged={acked.total()} read_back={counts.total()} "
            f"lost={lost} duplicated={duplicated} answers={dict(sender.answers)} "
            f"upload_s={upload_s:.1f}"
        )
        for line in up.lines:
            if "the embedded broker" in line:
                print(line)  # when it died and how long it was down
        assert acked.total() == len(events)
        assert (lost, duplicated, counts.total()) == (0, 0, len(events))

        # The job rode through both faults (had it failed, Flink would have restarted it from
        # its last checkpoint, at most 10 s apart): its alerts on the topic equal replay's.
        flink_log = "".join(
            p.read_text(errors="replace") for p in (tmp_path / "var" / "flink-logs").glob("*.log")
        )
        assert (
            "ExponentialDelayRestartBackoffTimeStrategy(initialBackoffMS=1000, maxBackoffMS=10000"
            in flink_log
        )
        publish_flush(up.broker, TOPICS)
        alerts = wait_for_alerts(up.broker, TOPICS.alerts, replay.alerts, 180)
        assert comparable(alerts) == comparable(replay.alerts)
        up.stop()
    assert not jvms_under(tmp_path)


def test_up_restarted_on_its_data_dir_resumes_the_job_from_its_checkpoint(tmp_path: Path) -> None:
    events, replay = expected()
    half = len(events) // 2 // CHUNK * CHUNK
    env = up_env(tmp_path)
    port = int(env["FENGHUO_STREAM_REST_PORT"])
    checkpoints = tmp_path / "var" / "checkpoints" / "up"
    with running(up_args(tmp_path), env, "running; Ctrl-C") as started:
        first = Up.of(started, env)
        assert not first.printed("resuming from checkpoint")  # a fresh data dir
        Sender(first.api, first.value("ingest key")).send_all(events[:half])
        per_partition = partition_counts(first.broker, TOPICS)
        assert sum(per_partition.values()) == half
        poll(
            "the first half committed by a checkpoint",
            lambda: committed(first.broker, f"{TOPICS.prefix}stream", per_partition),
            half.__eq__,
            timeout=120,
        )
        first.stop()
    kept = latest_checkpoint(checkpoints)
    assert kept is not None, "cancelling the job kept no checkpoint"
    # While `up` is down nothing accepts telemetry: the gateway is gone with it.
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{first.api}/api/v1/ingest/native", content=b"", timeout=5)

    began = time.monotonic()
    with running(up_args(tmp_path), env, "running; Ctrl-C") as started:
        second = Up.of(started, env)
        start_s = time.monotonic() - began
        assert second.printed(f"resuming from checkpoint {kept}") == 1, "\n".join(second.lines)
        job_id = poll("the restarted job", lambda: running_job(port), bool, timeout=60) or ""
        restored = rest(port, f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
        assert restored is not None, "the job did not restore a checkpoint"
        assert restored["external_path"].rstrip("/").endswith(f"/{kept.name}")
        Sender(second.api, second.value("ingest key")).send_all(events[half:])
        flushes = publish_flush(second.broker, TOPICS)
        # Alerts whose evidence spans the stop need the first half's state: replay's alerts
        # come out only if the job resumed with it.
        wait_for_alerts(second.broker, TOPICS.alerts, replay.alerts, 180)
        # From the checkpoint's offsets, neither the earliest (the first half again) nor the
        # latest: the job read exactly what came after the stop.
        read = poll(
            "the restored job's events",
            lambda: routed_events(port, job_id),
            (len(events) - half).__le__,
            timeout=60,
        )
        store = AlertStore(tmp_path / "var" / "fenghuo.db")
        stored = store.all()
        store.close()
        print(
            f"restored=chk-{restored['id']} read_after_restart={read} "
            f"(second half {len(events) - half}; {flushes} flushes) alerts={len(stored)} "
            f"restart_to_running_s={start_s:.1f}"
        )
        assert read == len(events) - half
        assert len({a.id for a in stored}) == len(stored)
        assert comparable(stored) == comparable(replay.alerts)
        second.stop()
    assert not jvms_under(tmp_path)
