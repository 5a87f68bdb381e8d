"""Ingest throughput per format: parse, parse + attribution, and end to end to the broker.

    .venv/bin/python -m bench.ingest_throughput                    # ~50k records per format
    .venv/bin/python -m bench.ingest_throughput --records 10000 --only vpcflow,mixed
    .venv/bin/python -m bench.ingest_throughput --profile cloudtrail   # cProfile of normalise
    .venv/bin/python -m bench.ingest_throughput --publish-latency      # one publish(), by size

The inputs (see `bench.inputs`) are generated first and written to files in a temporary folder.
Each is then measured in its own worker process that streams the files as `fenghuo parse` and
`fenghuo ingest` do (`raw_lines` over the open file, from the page cache), so the worker's peak
RSS is that of an ingest process and not of the generator. Each stage runs `--repeat` times:

* read: the raw lines alone (file reading and line splitting, the floor under every stage);
* parse: `Normaliser(None).stream()` (the parsers alone, no inventory);
* attribute: `Normaliser(<demo inventory>).stream()` (what every entry point runs);
* route (only with `--stages`): `Ingestor.ingest()` into a sink that accepts every batch at once,
  i.e. routing and encoding without Kafka;
* kafka: `Ingestor.ingest()` with a `Publisher` on a fresh embedded broker, timed from the first
  raw line to the last acknowledgement (the publisher is warmed up first, as a long-lived one is).
  Each run publishes under its own topic prefix; afterwards every topic is read back and must hold
  exactly the acknowledged messages (content fingerprints and counts), else the worker fails.

`mixed` is every source format plus native (about `--records` in all), cut into pieces of at most
1000 records that are ingested round-robin, one `ingest()` call per piece, as a gateway sees them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import (
    RecordingSink,
    cpu_seconds,
    current_rss_mb,
    hwm_mb,
    load_average,
    machine,
    median,
    peak_rss_mb,
    proc_cpu,
    table,
    verify_exactly_once,
)
from bench.ingest_report import Run, report
from bench.inputs import NAMES, build, mixed, normaliser
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RawLine, RecordError, raw_lines
from fenghuo.ingest.pipeline import Ingestor

# "route" (the Ingestor into a null sink: routing and encoding without Kafka) is left out by
# default to keep a run under 3 minutes; ask for it with --stages.
STAGES = ("read", "parse", "attribute", "kafka")
MIXED_PIECE = 1000
# As `fenghuo.platform.open_ingest` builds them with the default FENGHUO_KAFKA_TIMEOUT_S.
DELIVERY_TIMEOUT = 10.0


@dataclass(frozen=True)
class Call:
    """One file: one `stream()` / `ingest()` call of a workload."""

    format: str
    host_id: str | None
    path: str
    records: int


@dataclass(frozen=True)
class Workload:
    name: str
    calls: list[Call]

    @property
    def records(self) -> int:
        return sum(c.records for c in self.calls)

    @property
    def nbytes(self) -> int:
        return sum(Path(c.path).stat().st_size for c in self.calls)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"name": self.name, "calls": [asdict(c) for c in self.calls]}))

    @classmethod
    def load(cls, path: Path) -> Workload:
        data = json.loads(path.read_text())
        return cls(data["name"], [Call(**c) for c in data["calls"]])


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def prepare(name: str, records: int, folder: Path) -> Path:
    """Generate input `name` into `folder`; return its manifest."""
    folder.mkdir(parents=True)
    calls: list[Call] = []
    if name == "mixed":
        per_format = [[(c, p) for p in c.pieces(MIXED_PIECE)] for c in mixed(records)]
        pieces = [pair for group in itertools.zip_longest(*per_format) for pair in group if pair]
        for index, (corpus, piece) in enumerate(pieces):
            path = folder / f"{index:04d}-{corpus.name}.log"
            write_lines(path, piece.lines)
            calls.append(Call(corpus.format, corpus.host_id, str(path), piece.records))
    else:
        single = build(name, records)
        path = folder / f"{name}.log"
        write_lines(path, single.lines())
        calls.append(Call(single.format, single.host_id, str(path), single.records))
    manifest = folder / "manifest.json"
    Workload(name, calls).save(manifest)
    return manifest


def lines_of(call: Call) -> Iterator[RawLine]:
    """The file's raw lines, streamed as `fenghuo parse` / `fenghuo ingest` read a file."""
    with open(call.path, encoding="utf-8", errors="backslashreplace") as handle:
        yield from raw_lines(call.path, handle)


def stream_all(norm: Normaliser | None, load: Workload) -> tuple[int, int]:
    """(events, record errors) of every call; with no normaliser, only read the lines."""
    events = errors = 0
    for call in load.calls:
        if norm is None:
            for _ in lines_of(call):
                events += 1  # lines, here
            continue
        for result in norm.stream(call.format, lines_of(call), call.host_id):
            if isinstance(result, RecordError):
                errors += 1
            else:
                events += 1
    return events, errors


def run_stream(load: Workload, stage: str, run: int) -> Run:
    norm = {"read": None, "parse": Normaliser(None)}.get(stage, normaliser())
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    events, errors = stream_all(norm, load)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    if errors:
        msg = f"{load.name}: {errors} record errors in a synthetic input (a generator bug)"
        raise AssertionError(msg)
    return Run(load.name, stage, run, load.records, events, seconds, load.nbytes, cpu_s=cpu)


class NullSink:
    """Accepts every batch at once: the `Ingestor` without Kafka (routing and encoding only)."""

    def __init__(self) -> None:
        self.bytes = 0

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        count = 0
        for m in messages:
            count += 1
            self.bytes += len(m.value or b"") + len(m.key or b"")
        return count


def run_ingest(
    load: Workload,
    stage: str,
    run: int,
    sink: RecordingSink | NullSink,
    topics: Topics,
    batch_size: int,
    broker_pid: int | None = None,
) -> Run:
    """`Ingestor.ingest()` of every call into `sink`; checks every event was acknowledged."""
    ingestor = Ingestor(
        normaliser(), sink, topics, timeout=DELIVERY_TIMEOUT + 2, batch_size=batch_size
    )
    events = published = lettered = 0
    cpu0, broker0 = cpu_seconds(), proc_cpu(broker_pid)
    t0 = time.perf_counter()
    for call in load.calls:
        report = ingestor.ingest(call.format, lines_of(call), host_id=call.host_id)
        events += report.events
        published += report.published
        lettered += report.dead_lettered
    seconds = time.perf_counter() - t0
    cpu, broker_cpu = cpu_seconds() - cpu0, proc_cpu(broker_pid) - broker0
    if published != events or lettered:
        msg = f"{load.name}: {events} events, {published} acknowledged, {lettered} dead letters"
        raise AssertionError(msg)
    return Run(
        load.name,
        stage,
        run,
        load.records,
        published,
        seconds,
        load.nbytes,
        sink.bytes,
        cpu,
        broker_cpu,
    )


def publish_latency(sizes: list[int], repeat: int = 15) -> None:
    """How long one acknowledged `Publisher.publish()` takes, by batch size (800-byte values)."""
    with KafkaBroker() as broker:
        ensure_topics(broker.bootstrap, ["bench.latency"], partitions=3)
        with Publisher(broker.bootstrap, delivery_timeout=DELIVERY_TIMEOUT) as publisher:
            publisher.publish([OutMessage("bench.latency", b"w", b"warm-up")], timeout=10)
            rows: list[list[object]] = []
            for size in sizes:
                batch = [OutMessage("bench.latency", b"k%d" % i, b"x" * 800) for i in range(size)]
                took = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    publisher.publish(batch, timeout=30)
                    took.append(1000 * (time.perf_counter() - t0))
                rows.append([size, f"{median(took):.1f}", f"{min(took):.1f}", f"{max(took):.1f}"])
    print(f"\nPublisher.publish() until acknowledged ({repeat} calls per size)")
    print(table(["messages", "median ms", "min ms", "max ms"], rows))


def worker(manifest: Path, repeat: int, stages: list[str], batch_size: int) -> None:
    """Measure one input; print one JSON object per run, then one with memory and checks."""
    load = Workload.load(manifest)
    info: dict[str, object] = {
        "name": load.name,
        "records": load.records,
        "in_bytes": load.nbytes,
        "calls": len(load.calls),
        "loadavg": load_average(),
        "rss_start_mb": round(current_rss_mb(), 1),
    }
    for stage in ("read", "parse", "attribute"):
        if stage in stages:
            for run in range(repeat):
                emit(asdict(run_stream(load, stage, run)))
    if "route" in stages:
        for run in range(repeat):
            result = run_ingest(load, "route", run, NullSink(), Topics("bench.null."), batch_size)
            emit(asdict(result))
    info["peak_rss_parse_mb"] = round(peak_rss_mb(), 1)
    info["hwm_parse_mb"] = round(hwm_mb(), 1)
    if "kafka" in stages:
        with KafkaBroker() as broker:
            ensure_topics(broker.bootstrap, ["bench.warmup"], partitions=1)
            with Publisher(
                broker.bootstrap, client_id="bench-ingest", delivery_timeout=DELIVERY_TIMEOUT
            ) as publisher:
                publisher.publish([OutMessage("bench.warmup", b"w", b"warm-up")], timeout=10)
                done = []
                for run in range(repeat):
                    topics = Topics(f"bench{uuid.uuid4().hex[:8]}.")
                    ensure_topics(broker.bootstrap, topics)
                    sink = RecordingSink(publisher)
                    emit(
                        asdict(run_ingest(load, "kafka", run, sink, topics, batch_size, broker.pid))
                    )
                    done.append((sink, topics))
                info["peak_rss_kafka_mb"] = round(peak_rss_mb(), 1)
                info["hwm_kafka_mb"] = round(hwm_mb(), 1)
                t0 = time.perf_counter()
                # Runs publish under their own prefixes: all their topics are checked at once.
                sent = {topic: c for sink, _ in done for topic, c in sink.sent.items()}
                dlqs = [topics.dlq for _, topics in done]
                found = verify_exactly_once(broker.bootstrap, sent, empty=dlqs)
                info["verified"] = [
                    sum(found[t] for t in sink.sent) + found[topics.dlq] for sink, topics in done
                ]
                info["verify_s"] = round(time.perf_counter() - t0, 1)
    emit({"info": info})


def emit(obj: dict[str, object]) -> None:
    print(json.dumps(obj), flush=True)


def profile(name: str, records: int, top: int) -> None:
    """cProfile of parse + attribution of one input: where the time goes."""
    with tempfile.TemporaryDirectory(prefix="fenghuo-bench-") as tmp:
        load = Workload.load(prepare(name, records, Path(tmp) / name))
        norm = normaliser()
        profiler = cProfile.Profile()
        profiler.enable()
        events, _ = stream_all(norm, load)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print(f"# {name}: {load.records} records, {events} events (profiler overhead included)")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


def spawn(manifest: Path, args: argparse.Namespace) -> Iterator[dict[str, object]]:
    cmd = [sys.executable, "-m", "bench.ingest_throughput", "--worker", str(manifest)]
    cmd += ["--repeat", str(args.repeat), "--stages", args.stages]
    cmd += ["--batch-size", str(args.batch_size)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"worker for {manifest} failed (exit {proc.returncode}); see its error above")
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--records", type=int, default=50_000, help="records per input")
    ap.add_argument("--repeat", type=int, default=3, help="runs per stage")
    ap.add_argument("--only", default=",".join((*NAMES, "mixed")), help="inputs, comma-separated")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--batch-size", type=int, default=2000, help="Ingestor batch size")
    ap.add_argument("--json", action="store_true", help="also print every run as JSON")
    ap.add_argument("--profile", metavar="INPUT", help="cProfile parse + attribution of INPUT")
    ap.add_argument("--top", type=int, default=25, help="rows of the profile")
    ap.add_argument(
        "--publish-latency", action="store_true", help="only time Publisher.publish() calls"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    args = ap.parse_args()
    stages = args.stages.split(",")
    if args.worker:
        worker(Path(args.worker), args.repeat, stages, args.batch_size)
        return
    if args.publish_latency:
        publish_latency([1, 100, 1000, 2000, 20000])
        return
    if args.prepare:
        for name in args.only.split(","):
            print(prepare(name, args.records, Path(args.prepare) / name))
        return
    if args.profile:
        profile(args.profile, args.records, args.top)
        return
    print(json.dumps(machine()))
    print(f"# records per input {args.records}, runs {args.repeat}, batch {args.batch_size}")
    runs: list[Run] = []
    infos: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="fenghuo-bench-") as tmp:
        # Generated by a child, so that this process stays small: a worker inherits the peak RSS
        # of its parent into getrusage's ru_maxrss.
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "bench.ingest_throughput", "--prepare", tmp]
        cmd += ["--only", args.only, "--records", str(args.records)]
        manifests = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
        print(f"# inputs generated in {time.perf_counter() - t0:.1f} s", flush=True)
        for manifest in manifests.split():
            t0 = time.perf_counter()
            for obj in spawn(Path(manifest), args):
                if args.json:
                    print(json.dumps(obj))
                if "info" in obj:
                    assert isinstance(obj["info"], dict)
                    infos.append(obj["info"])
                else:
                    runs.append(Run(**obj))  # type: ignore[arg-type]
            took = time.perf_counter() - t0
            print(f"# {Path(manifest).parent.name}: measured in {took:.1f} s", flush=True)
    report(runs, infos)


if __name__ == "__main__":
    main()
