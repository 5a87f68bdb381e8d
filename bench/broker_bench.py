"""Start time and memory of the embedded broker, Apache Kafka 4.4.0 (KafkaBroker).

Per run: time until `KafkaBroker.start` returns ("ready": the node answers metadata requests and
its group coordinator is up); the JVM's CPU seconds and RSS (VmRSS of /proc) when ready; RSS and
CPU after N acknowledged 600-byte records were published (confluent-kafka, lz4) and read back; time
to stop (SIGTERM). Measured on a fresh data dir (its log directory formatted first, by a separate
JVM) and restarted on the same dir (no format). The comparison with Tansu, the in-memory broker
Kafka replaced, was made by this script's earlier version (bench/README.md keeps its figures).

    .venv/bin/python -m bench.broker_bench --runs 3 --records 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import read_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


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
    results: dict[str, list[dict[str, float]]] = {"kafka fresh": [], "kafka restart": []}
    for _ in range(args.runs):
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
