"""HTTP ingest gateway throughput: the real FastAPI app on loopback, publishing to the broker.

    .venv/bin/python -m bench.gateway_throughput
    .venv/bin/python -m bench.gateway_throughput --formats vpcflow --sizes 1000 --clients 1

A fresh embedded broker; the gateway (`fenghuo.platform.ApiServer`: uvicorn + the app, wired as
`tests/api/conftest.py` wires it, with the demo inventory and an `ingest` key) runs in a child
process of its own, so the client's CPU and GIL stay out of it and its peak RSS is its own. The
client posts NDJSON bodies (`vpcflow` with its header line, `cloudtrail` one record per line) of
1k and 10k records with httpx, from one thread (sequential) or from 4 threads at once.

Each configuration publishes under its own topic prefix: one warm-up request, then `--repeat`
timed runs of `--records` records (at least 8 requests). Every answer must be 202 with every
record accepted; afterwards each topic is counted back and must hold exactly what the answers
said was acknowledged (`topics` of the 202 body), and the dead-letter topic nothing, else the
benchmark fails. Throughput is the median over runs; latency percentiles pool all runs' requests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.common import (
    LostMessagesError,
    cpu_seconds,
    hwm_mb,
    k,
    load_average,
    machine,
    median,
    peak_rss_mb,
    percentile,
    proc_cpu,
    table,
)
from bench.corpus import Corpus
from bench.synth_cloud import cloudtrail
from bench.synth_vpcflow import vpcflow
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages

DELIVERY_TIMEOUT = 10.0  # FENGHUO_KAFKA_TIMEOUT_S default
CORPUS_RECORDS = 20_000  # distinct records per format; bodies are cut from them in turn


def serve(bootstrap: str, data_dir: Path) -> None:
    """The gateway process: answers commands on stdin with one JSON line on stdout each.

    `topics PREFIX` creates the topics and switches the ingestor to them; `stats` reports CPU and
    memory; end of input stops the server.
    """
    from fenghuo.api.deps import Services
    from fenghuo.demo.samples import demo_inventory_path
    from fenghuo.ingest.kafka.broker import free_port
    from fenghuo.ingest.kafka.topics import Topics, ensure_topics
    from fenghuo.ingest.normalise import Normaliser
    from fenghuo.ingest.pipeline import Ingestor
    from fenghuo.inventory import InventoryStore
    from fenghuo.platform import ApiServer, broker_reachable, gateway_publisher
    from fenghuo.settings import Settings
    from fenghuo.store.keys import Role
    from fenghuo.store.sqlite import SqliteStore

    config = Settings(data_dir=data_dir, kafka_timeout_s=DELIVERY_TIMEOUT)
    store = SqliteStore(config.db_path)
    _key, token = store.keys.create(Role.INGEST, name="bench-ingest")
    normaliser = Normaliser(InventoryStore(demo_inventory_path()))
    # As `fenghuo serve`: one Kafka transaction per request (`fenghuo.platform.open_ingest`).
    with gateway_publisher(config, bootstrap) as publisher:

        def ingestor(prefix: str) -> Ingestor:
            topics = Topics(prefix)
            ensure_topics(bootstrap, topics)
            return Ingestor(
                normaliser, publisher, topics, timeout=DELIVERY_TIMEOUT + 2, batch_size=None
            )

        services = Services(
            config, store, ingestor("bench.idle."), lambda: broker_reachable(bootstrap)
        )
        port = free_port()
        server = ApiServer(services, "127.0.0.1", port)
        server.start()
        try:
            reply({"port": port, "token": token})
            for line in sys.stdin:
                command, _, arg = line.strip().partition(" ")
                if command == "topics":
                    services.ingestor = ingestor(arg)
                    reply({"topics": arg})
                elif command == "stats":
                    reply(
                        {"cpu_s": cpu_seconds(), "peak_rss_mb": peak_rss_mb(), "hwm_mb": hwm_mb()}
                    )
        finally:
            server.stop()


def reply(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


class Gateway:
    """The client's handle on the gateway process."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        hello = self.ask(None)
        self.url = f"http://127.0.0.1:{hello['port']}"
        self.headers = {"Authorization": f"Bearer {hello['token']}"}

    def ask(self, command: str | None) -> dict[str, Any]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None
        assert stdout is not None
        if command is not None:
            stdin.write(command + "\n")
            stdin.flush()
        line = stdout.readline()
        if not line:
            msg = f"the gateway process exited ({self.proc.wait()})"
            raise RuntimeError(msg)
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextmanager
def gateway(bootstrap: str, data_dir: Path) -> Iterator[Gateway]:
    cmd = [sys.executable, "-m", "bench.gateway_throughput", "--serve", bootstrap, str(data_dir)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield Gateway(proc)
    finally:
        stdin: IO[str] | None = proc.stdin
        if stdin is not None:
            stdin.close()  # the gateway stops on end of input
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Body:
    data: bytes
    records: int


def request_bodies(corpus: Corpus, size: int, count: int) -> list[Body]:
    """`count` bodies of `size` records each, cut from the corpus (cycled when it runs out)."""
    distinct = [Body(p.body(), p.records) for p in corpus.pieces(size)]
    return [distinct[i % len(distinct)] for i in range(count)]


@dataclass
class Outcome:
    """What the answers of one configuration acknowledged, and their latencies."""

    topics: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, client: httpx.Client, path: str, body: Body) -> None:
        t0 = time.perf_counter()
        response = client.post(path, content=body.data)
        latency = time.perf_counter() - t0
        if response.status_code != 202:
            msg = f"{path}: HTTP {response.status_code}: {response.text[:500]}"
            raise AssertionError(msg)
        answer = response.json()
        if answer["rejected"] or answer["accepted"] != body.records:
            msg = f"{path}: {answer['accepted']} accepted of {body.records}: {answer['errors']}"
            raise AssertionError(msg)
        with self.lock:
            self.topics.update(answer["topics"])
            self.accepted += answer["accepted"]
            self.latencies.append(latency)


def timed_run(gw: Gateway, path: str, work: list[Body], clients: int, outcome: Outcome) -> float:
    """Post `work` from `clients` threads (each with its own connection); wall seconds."""
    shares = [work[i::clients] for i in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(share: list[Body]) -> None:
        with httpx.Client(base_url=gw.url, headers=gw.headers, timeout=120) as c:
            c.get("/api/v1/health")  # connect before the clock starts
            start.wait()
            for body in share:
                outcome.post(c, path, body)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, share) for share in shares]
        start.wait()
        t0 = time.perf_counter()
        for future in futures:
            future.result()
        return time.perf_counter() - t0


def verify(bootstrap: str, prefix: str, outcome: Outcome) -> int:
    """Each topic holds exactly what the 202 answers acknowledged; the dead-letter topic nothing."""
    topics = sorted({*outcome.topics, f"{prefix}dlq"})
    with ThreadPoolExecutor(max_workers=len(topics)) as pool:
        counts = dict(
            zip(topics, pool.map(lambda t: count_messages(bootstrap, t), topics), strict=True)
        )
    for topic in topics:
        if counts[topic] != outcome.topics.get(topic, 0):
            acked = outcome.topics.get(topic, 0)
            msg = f"{topic}: {counts[topic]} messages on the broker, {acked} acknowledged"
            raise LostMessagesError(msg)
    return sum(counts.values())


@dataclass
class Result:
    format: str
    size: int
    clients: int
    requests: int  # per run
    records: int  # per run
    mbytes: float  # per run
    seconds: list[float]
    server_cpu_s: list[float]
    broker_cpu_s: list[float]
    client_cpu_s: list[float]
    latencies: list[float]
    acknowledged: int
    counted: int
    server_peak_rss_mb: float  # getrusage, since the gateway started
    server_hwm_mb: float  # VmHWM, the same measured another way
    loadavg: str


def run_config(
    gw: Gateway,
    broker: KafkaBroker,
    fmt: str,
    size: int,
    clients: int,
    work: list[Body],
    repeat: int,
) -> Result:
    loadavg = load_average()
    prefix = f"gw{uuid.uuid4().hex[:8]}."
    gw.ask(f"topics {prefix}")
    path = f"/api/v1/ingest/{fmt}"
    outcome = Outcome()
    timed_run(gw, path, work[:1], 1, outcome)  # warm-up: topic metadata, code paths
    outcome.latencies.clear()
    seconds, server_cpu, broker_cpu, client_cpu = [], [], [], []
    for _ in range(repeat):
        before = gw.ask("stats")["cpu_s"]
        broker0, client0 = proc_cpu(broker.pid), cpu_seconds()
        seconds.append(timed_run(gw, path, work, clients, outcome))
        server_cpu.append(gw.ask("stats")["cpu_s"] - before)
        broker_cpu.append(proc_cpu(broker.pid) - broker0)
        client_cpu.append(cpu_seconds() - client0)
    counted = verify(broker.bootstrap, prefix, outcome)
    stats = gw.ask("stats")
    return Result(
        fmt,
        size,
        clients,
        len(work),
        sum(b.records for b in work),
        sum(len(b.data) for b in work) / 1e6,
        seconds,
        server_cpu,
        broker_cpu,
        client_cpu,
        outcome.latencies,
        outcome.accepted,
        counted,
        stats["peak_rss_mb"],
        stats["hwm_mb"],
        loadavg,
    )


COLUMNS = ["format", "body", "clients", "req/run", "req/s", "records/s", "MB/s", "p50 ms"]
COLUMNS += ["p99 ms", "n", "server CPU s", "server CPU %", "broker CPU s", "client CPU s"]
COLUMNS += ["acked = counted"]


def row(r: Result) -> list[object]:
    per_s = [1 / s for s in r.seconds]
    return [
        r.format,
        f"{r.size // 1000}k",
        r.clients,
        r.requests,
        f"{median(r.requests * x for x in per_s):.1f}",
        k(median(r.records * x for x in per_s)),
        f"{median(r.mbytes * x for x in per_s):.1f}",
        f"{1000 * percentile(r.latencies, 50):.0f}",
        f"{1000 * percentile(r.latencies, 99):.0f}",
        len(r.latencies),
        f"{median(r.server_cpu_s):.2f}",
        f"{100 * median(c / s for c, s in zip(r.server_cpu_s, r.seconds, strict=True)):.0f}",
        f"{median(r.broker_cpu_s):.2f}",
        f"{median(r.client_cpu_s):.2f}",
        f"{r.acknowledged} = {r.counted}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--formats", default="vpcflow,cloudtrail")
    ap.add_argument("--sizes", default="1000,10000", help="records per request body")
    ap.add_argument("--clients", default="1,4", help="concurrent client threads")
    ap.add_argument("--records", type=int, default=40_000, help="records per timed run")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per configuration")
    ap.add_argument("--json", action="store_true", help="also print every result as JSON")
    ap.add_argument("--serve", nargs=2, metavar=("BOOTSTRAP", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], Path(args.serve[1]))
        return
    print(json.dumps(machine()))
    print(f"# {args.records} records per timed run (at least 8 requests), {args.repeat} runs")
    results: list[Result] = []
    # The gateway starts before the bodies exist: a child inherits its parent's peak RSS.
    with (
        tempfile.TemporaryDirectory(prefix="fenghuo-bench-") as tmp,
        KafkaBroker() as broker,
        gateway(broker.bootstrap, Path(tmp)) as gw,
    ):
        for fmt in args.formats.split(","):
            corpus = (cloudtrail if fmt == "cloudtrail" else vpcflow)(CORPUS_RECORDS)
            for size in (int(s) for s in args.sizes.split(",")):
                work = request_bodies(corpus, size, max(8, args.records // size))
                for clients in (int(c) for c in args.clients.split(",")):
                    t0 = time.perf_counter()
                    result = run_config(gw, broker, fmt, size, clients, work, args.repeat)
                    results.append(result)
                    if args.json:
                        print(json.dumps({**result.__dict__, "latencies": None}))
                    took = time.perf_counter() - t0
                    print(f"# {fmt} {size} x{clients}: {took:.1f} s", flush=True)
    print("\nHTTP gateway: POST /api/v1/ingest/{format}, 202 after Kafka acknowledged every event")
    print(table(COLUMNS, [row(r) for r in results]))
    last = results[-1]
    print(f"gateway peak RSS: {last.server_peak_rss_mb:.1f} MB (VmHWM {last.server_hwm_mb:.1f} MB)")


if __name__ == "__main__":
    main()
