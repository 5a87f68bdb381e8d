"""`fenghuo up`'s start with an accumulated alert topic: how long until it runs, and how long
the correlator takes to rebuild its graph from the earliest alert (it does on every start).

For each size: the simulated hour's alerts (`correlator_bench.stream`: copies 3 h apart) are
published to `fenghuo.alerts` on the embedded broker of a fresh data dir; then `fenghuo -v up`
(no samples, the hour's inventory) is started on that data dir twice:

- first start: the correlator has no committed offsets and processes every alert (timed until
  its group's committed offsets reach the end of the topic);
- second start (after SIGINT): the restart an operator sees; the correlator rebuilds the graph
  from the earliest alert up to the first run's offsets (timed until it logs "graph rebuilt").

"running" is the time until `up` prints "running; Ctrl-C" (broker, API, the stream job, the
services all started). Run: `.venv/bin/python -m bench.up_start_bench --sizes 0,10000,50000`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import load_average, machine
from bench.correlator_bench import INVENTORY_FILE, hour_alerts, simulate_hour, stream
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.model.alert import encode_alert

CACHE = Path(tempfile.gettempdir()) / "fenghuo-bench-up"
TOPICS = Topics()
GROUP = "fenghuo.correlate"


def fill(data_dir: Path, port: int, size: int) -> int:
    """The alert topic of a fresh data dir's broker holding `size` alerts (or none)."""
    with KafkaBroker(port, data_dir=data_dir / "kafka") as broker:
        ensure_topics(broker.bootstrap, TOPICS, partitions=3)
        if size == 0:
            return 0
        alerts = stream(hour_alerts(CACHE), size)
        messages = [
            OutMessage(TOPICS.alerts, (a.tenant_id or "_").encode(), encode_alert(a))
            for a in alerts
        ]
        with Publisher(broker.bootstrap, client_id="fenghuo-bench") as publisher:
            publisher.publish(messages, 120)
        return len(messages)


class Up:
    """`fenghuo -v up` as a child; every output line with the time it arrived."""

    def __init__(self, env: dict[str, str], samples: Path) -> None:
        exe = Path(sys.executable).with_name("fenghuo")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(exe), "-v", "up", "--samples", str(samples)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def when(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if text in line:
                    return at
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)  # polling interval
        tail = "\n".join(line for _, line in self.lines[-20:])
        msg = f"no {text!r} within {timeout} s:\n{tail}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        self.reader.join(timeout=10)


def caught_up(bootstrap: str, timeout: float, started: float) -> float:
    """Seconds from `started` until the correlator's committed offsets reach the topic's end."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    try:
        parts = [TopicPartition(TOPICS.alerts, p) for p in range(3)]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = consumer.committed(parts, timeout=10)
            # An empty partition has nothing to commit (its offset stays unset, -1001).
            if all(tp.offset >= ends[tp.partition] or not ends[tp.partition] for tp in done):
                return time.monotonic() - started
            time.sleep(0.2)  # polling interval
    finally:
        consumer.close()
    msg = "the correlator did not catch up in time"
    raise RuntimeError(msg)


def measure(size: int, timeout: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="fenghuo-bench-up-"))
    try:
        data_dir = root / "var"
        samples = root / "no-samples"
        samples.mkdir()
        port = free_port()
        count = fill(data_dir, port, size)
        env = {
            **os.environ,
            "FENGHUO_DATA_DIR": str(data_dir),
            "FENGHUO_INVENTORY": str(CACHE / INVENTORY_FILE),
            "FENGHUO_EMBEDDED_BROKER_PORT": str(port),
            "FENGHUO_API_PORT": str(free_port()),
            "FENGHUO_STREAM_REST_PORT": str(free_port()),
        }
        first = Up(env, samples)
        out: dict[str, float] = {"alerts": count}
        try:
            out["first_running_s"] = first.when("running; Ctrl-C", timeout)
            if count:
                out["first_processed_s"] = caught_up(f"127.0.0.1:{port}", timeout, first.started)
        finally:
            first.stop()
        second = Up(env, samples)
        try:
            out["second_running_s"] = second.when("running; Ctrl-C", timeout)
            if count:
                out["second_rebuilt_s"] = second.when("graph rebuilt from", timeout)
        finally:
            second.stop()
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="0,10000,50000")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not (CACHE / INVENTORY_FILE).is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        simulate_hour(CACHE)
    print(f"{machine()}; load {load_average()}")
    for size in (int(s) for s in args.sizes.split(",")):
        print(size, measure(size, args.timeout), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
