"""Ingest -> alert latency of the stream job (`fenghuo stream`) at a steady publish rate.

The input is `fenghuo simulate`'s cloud (`bench.flink_sim`: 6 tenants, 8 hosts, 40 VMs; VPC flows,
CloudTrail, auditd, libvirt and Falco telemetry with 4 rounds of labelled attacks), the first
150 s of simulated time, ~750k events, parsed and attributed as ingest does. The benchmark
starts the real job (every detector, checkpoints every 5 s, SQLite store, alerts to Kafka, the
settings' defaults unless given) in a child process, waits until every task runs, then
publishes the events in event-time order at a steady rate (event k at t0 + k / R, R = N / 150 s,
about 5,000 per second) while a consumer reads the alerts topic from the start.

    .venv/bin/python -m bench.flink_latency                       # defaults: thread, p 1
    .venv/bin/python -m bench.flink_latency --heartbeat 0.2       # + per-partition heartbeats

Latency of an alert version = the wall-clock time the consumer received it on the alerts topic
minus the wall-clock time the event that completed it was handed to the producer (both
`time.time()` on this machine; the publisher records every event's time). Which event completed
it comes from replaying the same input offline (`bench.flink_sim`): a version raised while
processing an event (an *immediate* rule) is completed by that event; a version raised by an
engine timer (a window end, a merge delay) is attributed to its latest-published evidence event,
and for those the time since the timer was due (the wall-clock time the publisher reached the
timer's event time) is reported as well. Versions are matched to replay's by their content
(everything but `detected_at`). Alerts completed in the first `--warmup` seconds are left out
(the JVM warms up, and partitions that never receive an event hold the watermark back until the
source's idle timeout marks them idle).

Event time is the simulated time, played at real speed: its offset from the wall clock is a
constant (the simulation starts at 10:28:30 so that a 30-minute flow window closes 90 s in).
`--heartbeat S` also sends a watermark-flush event (`fenghuo.streaming.flush.flush_event`) at the
current event time to every telemetry partition every S seconds, which keeps partitions that
receive little or nothing from holding the watermark back.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import flink_sim
from bench.common import percentile
from bench.flink_common import (
    LOCK,
    all_running,
    input_watermark,
    operator_metric,
    proc_cpu,
    tree_cpu,
    wait_for_quiet,
)
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.model.alert import decode_alert

PRODUCER = {  # fenghuo.ingest.kafka.producer.Publisher's settings
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 10,
    "compression.type": "lz4",
    "partitioner": "murmur2_random",
    "queue.buffering.max.kbytes": 1048576,
}


# --- the job, in a child process ------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    """Start the job; report when it runs; sample its counters and watermark every second
    until a line arrives on stdin; cancel it; print the samples. JSON lines on stdout."""
    from fenghuo.streaming.adapter import EngineSpec
    from fenghuo.streaming.flink_env import FlinkOptions
    from fenghuo.streaming.job import StreamSpec, start

    tmp = Path(tempfile.mkdtemp(prefix="fenghuo-bench-latency-"))
    port = free_port()
    spec = StreamSpec(
        bootstrap=args.bootstrap,
        topics=Topics(args.prefix),
        engine=EngineSpec(
            inventory=Path(args.inventory),
            out_of_orderness=dt.timedelta(seconds=args.bound),
        ),
        flink=FlinkOptions(
            parallelism=args.p,
            execution_mode=args.mode,
            checkpoint_dir=tmp / "checkpoints",
            watermark_interval=dt.timedelta(seconds=args.watermark_interval),
            rest_port=port,
            log_dir=tmp / "logs",
            extra={"metrics.fetcher.update-interval": "250 ms"},
        ),
        group_id=f"{args.prefix}stream",
        store=tmp / "alerts.db",
        idle_timeout=dt.timedelta(seconds=args.idle) if args.idle > 0 else None,
    )
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    began = time.monotonic()
    client = start(spec)
    job = str(client.get_job_id())
    samples: list[dict[str, Any]] = []
    try:
        while not all_running(port, job):
            if time.monotonic() - began > 120:
                print(json.dumps({"error": "the job did not start in 120 s"}), flush=True)
                return
            time.sleep(0.2)
        print(json.dumps({"running": time.time(), "start_s": time.monotonic() - began}), flush=True)
        while not stop.wait(1.0):
            try:
                sample = {
                    "t": time.time(),
                    "cpu": tree_cpu(os.getpid()),
                    "events": operator_metric(port, job, "route", "events"),
                    "pairs": operator_metric(port, job, "detect", "events"),
                    "late": operator_metric(port, job, "detect", "late_events"),
                    "alerts": operator_metric(port, job, "detect", "alerts"),
                    "watermark": input_watermark(port, job, "detect"),
                }
            except OSError:
                continue
            samples.append(sample)
    finally:
        client.cancel().result()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"samples": samples}), flush=True)


# --- publishing and reading back, in this process -------------------------------------------------


@dataclass
class Run:
    published: list[float] = field(default_factory=list)  # wall time per event index
    partitions: Counter[tuple[str, int]] = field(default_factory=Counter)
    heartbeats: int = 0
    received: list[tuple[float, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def publish(
    bootstrap: str, prefix: str, data: flink_sim.SimInput, run: Run, heartbeat: float
) -> None:
    """Every event at its slot (t0 + k / R), stamping `time.time()` as it is handed over."""
    from confluent_kafka import Producer

    from fenghuo.model import encode_event
    from fenghuo.streaming.flush import flush_event

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER})

    def report(err: Any, msg: Any) -> None:
        if err is not None:
            run.errors.append(str(err))
        else:
            run.partitions[(msg.topic(), msg.partition())] += 1

    topics = [f"{prefix}telemetry.{f}" for f in ("hypervisor", "tenant", "network")]
    n = len(data)
    rate = n / data.seconds
    run.published = [0.0] * n
    begin = time.monotonic()
    next_beat = begin + heartbeat
    k = 0
    while k < n:
        due = min(n, int((time.monotonic() - begin) * rate) + 1)
        while k < due:
            topic = f"{prefix}telemetry.{data.families[k]}"
            run.published[k] = time.time()
            try:
                producer.produce(topic, data.values[k], data.keys[k], on_delivery=report)
            except BufferError:
                producer.poll(0.01)
                continue
            k += 1
        producer.poll(0)
        if heartbeat > 0 and k > 0 and time.monotonic() >= next_beat:
            next_beat += heartbeat
            at = data.start + dt.timedelta(seconds=max(0.0, data.offsets[k - 1]))
            for topic in topics:
                for partition in range(3):
                    value = encode_event(flush_event(topic, partition, at))
                    producer.produce(topic, value, b"_flush", partition=partition)
                    run.heartbeats += 1
        wait = begin + k / rate - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, 0.002))
    left = producer.flush(30)
    if left:
        run.errors.append(f"{left} messages undelivered")


def consume(bootstrap: str, topic: str, run: Run, stop: threading.Event) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 20,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
    try:
        while not stop.is_set():
            for msg in consumer.consume(num_messages=500, timeout=0.05):
                value = msg.value()
                if msg.error() is None and value is not None:
                    run.received.append((time.time(), value))
    finally:
        consumer.close()


# --- analysis ---------------------------------------------------------------------------------


@dataclass
class Sample:
    detector: str
    kind: str  # "immediate", "timer", "unmatched"
    latency: float  # receive - publish of the completing event
    since_due: float  # receive - when the moment was reached (timers); = latency otherwise
    created_to_topic: float | None  # receive - detected_at, first versions only
    completed_at: float  # publish wall time of the completing event


def analyse(data: flink_sim.SimInput, run: Run) -> tuple[list[Sample], dict[str, Any]]:
    index = {event_id: k for k, event_id in enumerate(data.ids)}
    moments: dict[str, list[flink_sim.Moment]] = defaultdict(list)
    for m in data.moments:
        moments[m.fingerprint].append(m)
    seen_versions: set[str] = set()
    seen_ids: set[str] = set()
    samples: list[Sample] = []
    duplicates = no_evidence = 0
    for received, value in sorted(run.received):
        fp = flink_sim.fingerprint(value)
        if fp in seen_versions:
            duplicates += 1
            continue
        seen_versions.add(fp)
        alert = decode_alert(value)
        first_version = alert.id not in seen_ids
        seen_ids.add(alert.id)
        matched = moments.get(fp)
        moment = matched[0] if matched else None
        if moment is not None and moment.event_id is not None:
            kind, k = "immediate", index.get(moment.event_id)
        else:
            kind = "timer" if moment is not None else "unmatched"
            known = [index[e] for e in alert.evidence if e in index]
            k = max(known, key=lambda i: run.published[i]) if known else None
        if k is None:
            no_evidence += 1
            continue
        completed = run.published[k]
        since_due = received - completed
        if moment is not None and moment.event_id is None:
            offset = (moment.at - data.start).total_seconds()
            slot = min(bisect.bisect_left(data.offsets, offset), len(data) - 1)
            since_due = received - run.published[slot]
        detected = alert.detected_at.timestamp()
        samples.append(
            Sample(
                alert.detector,
                kind,
                received - completed,
                since_due,
                received - detected if first_version else None,
                completed,
            )
        )
    extra = {
        "received": len(run.received),
        "versions": len(seen_versions),
        "duplicates": duplicates,
        "no_evidence": no_evidence,
        "replay_versions": len(data.moments),
    }
    return samples, extra


def _q(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} / {max(values):.2f}"


def report(
    data: flink_sim.SimInput, run: Run, worker_out: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    samples, extra = analyse(data, run)
    t_first = run.published[0]
    t_last = run.published[-1]
    cut = t_first + args.warmup
    steady = [s for s in samples if s.completed_at >= cut]
    out: dict[str, Any] = {
        "mode": args.mode,
        "p": args.p,
        "bound_s": args.bound,
        "idle_s": args.idle,
        "heartbeat_s": args.heartbeat,
        "events": len(data),
        "publish_s": round(t_last - t_first, 1),
        "rate": round(len(data) / (t_last - t_first)),
        "heartbeats": run.heartbeats,
        "errors": run.errors[:3],
        "partitions": {
            f"{t.rsplit('.', 1)[-1]}/{p}": c for (t, p), c in sorted(run.partitions.items())
        },
        **extra,
        "warmup_excluded": len(samples) - len(steady),
    }
    rows = []
    for label, chosen in (
        ("immediate", [s for s in steady if s.kind == "immediate"]),
        ("timer", [s for s in steady if s.kind == "timer"]),
        ("unmatched", [s for s in steady if s.kind == "unmatched"]),
        ("all", steady),
    ):
        if not chosen:
            continue
        lat = [s.latency for s in chosen]
        due = [s.since_due for s in chosen]
        created = [s.created_to_topic for s in chosen if s.created_to_topic is not None]
        rows.append(
            {
                "alerts": label,
                "n": len(chosen),
                "p50": round(percentile(lat, 50), 2),
                "p99": round(percentile(lat, 99), 2),
                "max": round(max(lat), 2),
                "since_due_p50": round(percentile(due, 50), 2),
                "since_due_p99": round(percentile(due, 99), 2),
                "created_to_topic_p50": round(percentile(created, 50), 2) if created else None,
                "created_to_topic_p99": round(percentile(created, 99), 2) if created else None,
            }
        )
    out["latency"] = rows
    per_detector: dict[str, list[float]] = defaultdict(list)
    for s in steady:
        per_detector[f"{s.detector} ({s.kind})"].append(s.latency)
    out["per_detector"] = {k: f"n={len(v)} {_q(v)}" for k, v in sorted(per_detector.items())}
    # The job's side: watermark behind the publisher, backlog, CPU.
    all_samples = worker_out.get("samples", [])
    window = [s for s in all_samples if cut <= s["t"] <= t_last]
    lags = []
    backlog = []
    for s in window:
        published = bisect.bisect_right(run.published, s["t"])
        backlog.append(published - s["events"])
        if s["watermark"] is not None:
            offset = (s["watermark"] / 1000) - data.start.timestamp()
            slot = min(bisect.bisect_left(data.offsets, offset), len(data) - 1)
            lags.append(s["t"] - run.published[slot])
    out["watermark_lag_s"] = _q(lags)
    out["backlog_events"] = _q([float(b) for b in backlog])
    if len(window) >= 2:
        span = window[-1]["t"] - window[0]["t"]
        out["job_cpu_pct"] = round(100 * (window[-1]["cpu"] - window[0]["cpu"]) / span)
        out["late_events"] = window[-1]["late"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", default="thread", choices=("thread", "process"))
    parser.add_argument("--p", type=int, default=1, help="parallelism")
    parser.add_argument("--bound", type=float, default=5.0, help="out-of-orderness, seconds")
    parser.add_argument("--idle", type=float, default=30.0, help="source idle timeout, seconds")
    parser.add_argument("--watermark-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--heartbeat", type=float, default=0.0, help="seconds; 0: none")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds left out")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds to wait at the end")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    path = flink_sim.prepare()
    data = flink_sim.load(path)
    print(
        f"{len(data)} events over {data.seconds:g} s; {len(data.moments)} alert versions in replay"
    )
    run = Run()
    with KafkaBroker() as broker:
        topics = Topics(f"lat{uuid.uuid4().hex[:6]}.")
        ensure_topics(broker.bootstrap, topics)
        cmd = [sys.executable, "-m", "bench.flink_latency", "--worker"]
        cmd += ["--bootstrap", broker.bootstrap, "--prefix", topics.prefix]
        cmd += ["--inventory", str(flink_sim.inventory_file(path)), "--mode", args.mode]
        cmd += ["--p", str(args.p), "--bound", str(args.bound), "--idle", str(args.idle)]
        cmd += ["--watermark-interval", str(args.watermark_interval)]
        quiet = wait_for_quiet()
        print(quiet, flush=True)
        Path(LOCK).touch()
        lines: queue.Queue[str] = queue.Queue()
        stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            assert proc.stdout is not None
            assert proc.stdin is not None
            threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
            started = json.loads(_next_json(lines, proc, stderr))
            if "error" in started:
                raise SystemExit(started["error"])
            print(f"job running after {started['start_s']:.1f} s", flush=True)
            broker_before = proc_cpu(broker.pid)
            stop = threading.Event()
            reader = threading.Thread(
                target=consume, args=(broker.bootstrap, topics.alerts, run, stop), daemon=True
            )
            reader.start()
            publish(broker.bootstrap, topics.prefix, data, run, args.heartbeat)
            time.sleep(args.grace)
            stop.set()
            reader.join()
            broker_cpu = proc_cpu(broker.pid) - broker_before
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            worker_out: dict[str, Any] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=5)
                except queue.Empty:
                    continue
                if line.startswith("{"):
                    worker_out = json.loads(line)
                    break
            proc.wait(timeout=60)
        finally:
            Path(LOCK).unlink(missing_ok=True)
            if proc.poll() is None:
                proc.kill()
            stderr.close()
    result = report(data, run, worker_out, args)
    result["broker_cpu_s"] = round(broker_cpu, 1)
    result["before"] = quiet
    if args.json:
        print(json.dumps(result, indent=2))
    print_result(result)


def _next_json(lines: queue.Queue[str], proc: subprocess.Popen[str], stderr: Any) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if line.startswith("{"):
            return line
    stderr.seek(0)
    msg = f"the job process did not report: {stderr.read()[-3000:]}"
    raise SystemExit(msg)


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def print_result(r: dict[str, Any]) -> None:
    print(
        f"\n{r['mode']} mode, parallelism {r['p']}, bound {r['bound_s']:g} s, idle timeout "
        f"{r['idle_s']:g} s, heartbeat {r['heartbeat_s']:g} s: {r['events']} events in "
        f"{r['publish_s']} s ({r['rate']}/s); {r['received']} alert records, {r['versions']} "
        f"versions ({r['replay_versions']} in replay), {r['warmup_excluded']} in the warm-up"
    )
    print(
        f"watermark behind the publisher (p50 / p99 / max s): {r['watermark_lag_s']}; "
        f"backlog (events): {r['backlog_events']}; job CPU {r.get('job_cpu_pct')} %; "
        f"late events {r.get('late_events')}; broker CPU {r['broker_cpu_s']} s; "
        f"errors {r['errors']}"
    )
    print(f"events per partition: {r['partitions']}")
    print(
        "\n| alerts | n | p50 s | p99 s | max s | since due p50 / p99 "
        "| created -> topic p50 / p99 |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in r["latency"]:
        created = (
            f"{row['created_to_topic_p50']} / {row['created_to_topic_p99']}"
            if row["created_to_topic_p50"] is not None
            else "-"
        )
        print(
            f"| {row['alerts']} | {row['n']} | {row['p50']} | {row['p99']} | {row['max']} "
            f"| {row['since_due_p50']} / {row['since_due_p99']} | {created} |"
        )
    print("\nper detector (p50 / p99 / max s):")
    for name, text in r["per_detector"].items():
        print(f"  {name}: {text}")


if __name__ == "__main__":
    main()
