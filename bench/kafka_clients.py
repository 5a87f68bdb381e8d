"""Producer throughput of kafka-python vs confluent-kafka against the embedded broker.

Each configuration gets a fresh broker and a 3-partition topic; N keyed JSON messages of about
`--size` bytes are produced with idempotence on and acks=all, timed from the first send to the
last acknowledgement, then counted back (read up to the end offsets).
The figures in bench/README.md were measured on Tansu 0.6.0, the embedded broker then.

    .venv/bin/python -m bench.kafka_clients --n 200000
    PYTHONPATH=/tmp/extra .venv/bin/python -m bench.kafka_clients   # with lz4/zstandard/crc32c

kafka-python needs the optional `lz4`, `zstandard` and `crc32c` modules for lz4, zstd and a C
CRC-32C; configurations whose module is missing are reported as skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import random
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import Any

import confluent_kafka
from confluent_kafka import Producer

from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages
from fenghuo.ingest.kafka.topics import ensure_topics

TOPIC = "bench.telemetry"
Payload = list[tuple[bytes, bytes]]


@dataclass
class Result:
    client: str
    compression: str
    n: int
    seconds: float
    msgs_per_s: float
    mb_per_s: float
    cpu_s: float
    broker_cpu_s: float
    counted: int
    idempotent: str
    errors: int


def make_payload(n: int, size: int, seed: int = 7) -> Payload:
    """Keyed JSON events of about `size` bytes, varied enough not to compress absurdly well."""
    rng = random.Random(seed)
    tenants = [f"tenant-{i:03d}" for i in range(50)]
    out: Payload = []
    for i in range(n):
        tenant = rng.choice(tenants)
        event = {
            "schema_version": 1,
            "id": f"{rng.getrandbits(128):032x}",
            "kind": "process",
            "time": f"2026-01-05T10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z",
            "tenant_id": tenant,
            "host_id": f"hv-{rng.randrange(40):02d}",
            "vm_id": f"{tenant}-web-{rng.randrange(8)}",
            "process": {
                "pid": rng.randrange(1, 65535),
                "exe": rng.choice(["/usr/bin/qemu-system-x86_64", "/bin/sh", "/usr/bin/curl"]),
                "args": ["-name", f"guest={tenant}-web-1", "-m", str(rng.choice([512, 2048]))],
            },
            "source": {"format": "auditd", "file": "/var/log/audit/audit.log", "line": i},
            "labels": {"seclabel": f"system_u:system_r:svirt_t:s0:c{rng.randrange(1024)}"},
        }
        value = json.dumps(event, separators=(",", ":"))
        pad = size - len(value) - len(',"pad":""}') + 1
        if pad > 0:
            value = value[:-1] + ',"pad":"' + f"{rng.getrandbits(4 * pad):0{pad}x}"[:pad] + '"}'
        out.append((tenant.encode(), value.encode()))
    return out


def confluent_idempotence(bootstrap: str) -> str:
    """Whether librdkafka acquired a producer id (InitProducerId) from the broker."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.getLogger("bench.rdkafka")
    log.addHandler(Capture())
    log.setLevel(logging.DEBUG)
    log.propagate = False
    conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "debug": "eos"}
    p = Producer({**conf, "logger": log})
    p.produce(TOPIC, b"probe", b"probe")
    p.flush(10)
    p.poll(0)
    pids = [ln.split("Acquired ")[1] for ln in lines if "Acquired PID" in ln]
    return pids[0] if pids else "no PID acquired"


def run_confluent(bootstrap: str, payload: Payload, compression: str) -> tuple[float, int, str]:
    errors = 0

    def on_delivery(err: Any, msg: Any) -> None:
        nonlocal errors
        if err is not None:
            errors += 1

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "bench-confluent",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 10,
            "batch.size": 1_000_000,
            "compression.type": compression,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    p.produce(TOPIC, b"warm-up", b"warm-up")  # connect and get the producer id before timing
    p.flush(10)
    t0 = time.perf_counter()
    for i, (key, value) in enumerate(payload):
        while True:
            try:
                p.produce(TOPIC, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    left = p.flush(120)
    return time.perf_counter() - t0, errors + left, ""


def run_kafka_python(bootstrap: str, payload: Payload, compression: str) -> tuple[float, int, str]:
    from kafka import KafkaProducer

    errors = 0

    def on_error(exc: BaseException) -> None:
        nonlocal errors
        errors += 1

    p = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="bench-kafka-python",
        enable_idempotence=True,
        acks="all",
        linger_ms=10,
        batch_size=1_000_000,
        max_request_size=2_000_000,
        compression_type=None if compression == "none" else compression,
    )
    p.send(TOPIC, value=b"warm-up", key=b"warm-up").get(10)
    t0 = time.perf_counter()
    for key, value in payload:
        p.send(TOPIC, value=value, key=key).add_errback(on_error)
    p.flush(120)
    seconds = time.perf_counter() - t0
    pid = p._transaction_manager.producer_id_and_epoch  # private, but the only way to check
    p.close(10)
    return seconds, errors, f"PID{{Id:{pid.producer_id},Epoch:{pid.epoch}}}"


def run_publisher(bootstrap: str, payload: Payload, compression: str) -> tuple[float, int, str]:
    """The same through fenghuo's Publisher (one publish() call, per-message delivery reports)."""
    from fenghuo.ingest.kafka.producer import OutMessage, Publisher, PublishError

    with Publisher(bootstrap, "bench-publisher", config={"compression.type": compression}) as p:
        p.publish([OutMessage(TOPIC, b"warm-up", b"warm-up")], timeout=10)
        messages = [OutMessage(TOPIC, k, v) for k, v in payload]
        t0 = time.perf_counter()
        try:
            p.publish(messages, timeout=120)
            errors = 0
        except PublishError as exc:
            errors = exc.failed + exc.pending
        return time.perf_counter() - t0, errors, ""


def probe_sequences(bootstrap: str) -> list[str]:
    """What the broker does with idempotent batches: a duplicate, the next one, a gap.

    Uses kafka-python's protocol classes to send raw ProduceRequests with chosen sequence numbers
    (a normal producer never sends a duplicate unless a retry races an acknowledgement).
    """
    from kafka.errors import for_code
    from kafka.net.compat import KafkaNetClient
    from kafka.protocol.producer import InitProducerIdRequest, ProduceRequest
    from kafka.record.memory_records import MemoryRecordsBuilder

    ensure_topics(bootstrap, ["bench.sequences"], partitions=1)
    client = KafkaNetClient(bootstrap_servers=bootstrap)
    client.check_version()
    node = client.least_loaded_node()
    init = client.send_and_receive(
        node, InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
    )
    pid, epoch = init.producer_id, init.producer_epoch
    out = [f"InitProducerId -> producer_id={pid} epoch={epoch} error={init.error_code}"]

    def produce(label: str, seq: int, n: int) -> None:
        b = MemoryRecordsBuilder(
            magic=2,
            compression_type=0,
            batch_size=1 << 20,
            producer_id=pid,
            producer_epoch=epoch,
            base_sequence=seq,
        )
        for i in range(n):
            b.append(int(time.time() * 1000), b"k", b"v%d" % (seq + i))
        b.close()
        topic = ProduceRequest.TopicProduceData
        part = topic.PartitionProduceData(index=0, records=b.buffer())
        req = ProduceRequest(
            transactional_id=None,
            acks=-1,
            timeout_ms=5000,
            topic_data=[topic(name="bench.sequences", partition_data=[part])],
        )
        resp = client.send_and_receive(node, req).responses[0].partition_responses[0]
        name = for_code(resp.error_code).__name__ if resp.error_code else "NONE"
        out.append(f"{label:<26} -> error {resp.error_code} ({name}), offset {resp.base_offset}")

    produce("batch seq 0..2", 0, 3)
    produce("same batch again (retry)", 0, 3)
    produce("next batch seq 3..4", 3, 2)
    produce("gap: batch seq 9", 9, 1)
    client.close()
    out.append(f"records stored: {count_messages(bootstrap, 'bench.sequences')} (expected 5)")
    return out


Runner = Callable[[str, Payload, str], tuple[float, int, str]]
CLIENTS: dict[str, tuple[Runner, list[str]]] = {
    "confluent-kafka": (run_confluent, ["none", "lz4", "zstd"]),
    "kafka-python": (run_kafka_python, ["none", "gzip", "lz4", "zstd"]),
    "fenghuo-publisher": (run_publisher, ["lz4"]),
}
_KP_MODULES = {"lz4": "lz4", "zstd": "zstandard"}


def bench_one(client: str, compression: str, payload: Payload) -> Result:
    run, _ = CLIENTS[client]
    with KafkaBroker() as broker:
        ensure_topics(broker.bootstrap, [TOPIC], partitions=3)
        idem = confluent_idempotence(broker.bootstrap) if client == "confluent-kafka" else ""
        before = resource.getrusage(resource.RUSAGE_SELF)
        broker_before = proc_cpu(broker.pid)
        seconds, errors, kp_idem = run(broker.bootstrap, payload, compression)
        after = resource.getrusage(resource.RUSAGE_SELF)
        broker_cpu = proc_cpu(broker.pid) - broker_before
        counted = count_messages(broker.bootstrap, TOPIC)
    n = len(payload)
    mb = sum(len(k) + len(v) for k, v in payload) / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # the warm-up record (and confluent's idempotence probe) are counted too
    counted -= 2 if client == "confluent-kafka" else 1
    return Result(
        client,
        compression,
        n,
        round(seconds, 2),
        round(n / seconds),
        round(mb / seconds, 1),
        round(cpu, 2),
        round(broker_cpu, 2),
        counted,
        idem or kp_idem,
        errors,
    )


def proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a process (the broker), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram_gib": f"{mem_kb / 1024 / 1024:.1f}",
        "python": platform.python_version(),
        "confluent-kafka": f"{version('confluent-kafka')} (librdkafka "
        f"{confluent_kafka.libversion()[0]})",
        "kafka-python": version("kafka-python"),
        "kafka-python C crc32c": str(importlib.util.find_spec("crc32c") is not None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=600)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--json", action="store_true", help="one JSON object per result")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration")
    ap.add_argument(
        "--probe-sequences", action="store_true", help="only show how the broker treats sequences"
    )
    args = ap.parse_args()
    if args.probe_sequences:
        with KafkaBroker() as broker:
            for line in probe_sequences(broker.bootstrap):
                print(line)
        return
    payload = make_payload(args.n, args.size)
    sizes = [len(v) for _, v in payload]
    print(json.dumps(machine()))
    print(f"# n={args.n} value bytes: mean {sum(sizes) / len(sizes):.0f}, min {min(sizes)}")
    for client in args.clients.split(","):
        for comp in CLIENTS[client][1]:
            module = _KP_MODULES.get(comp)
            if client == "kafka-python" and module and importlib.util.find_spec(module) is None:
                print(f"{client:17} {comp:5} skipped: module {module} not installed")
                continue
            for _ in range(args.repeat):
                report(bench_one(client, comp, payload), as_json=args.json)


def report(r: Result, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(r)))
        return
    print(
        f"{r.client:17} {r.compression:5} {r.msgs_per_s:>8} msg/s {r.mb_per_s:>6} MB/s"
        f"  {r.seconds:>6} s  cpu {r.cpu_s:>6} s  broker cpu {r.broker_cpu_s:>5} s"
        f"  counted {r.counted}/{r.n}  errors {r.errors}  {r.idempotent}"
    )


if __name__ == "__main__":
    main()
