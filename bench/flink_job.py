"""Throughput and start time of the stream job (`fenghuo stream`) and of comparison jobs.

Every configuration runs on a fresh embedded broker: its N events are published to fresh topics
(with a watermark flush after them), then a fresh Python process builds and starts the job (so
each run pays PyFlink's JVM launch, as `fenghuo stream` does) and reads Flink's own counters
through the mini-cluster's REST API until every event has gone through the last Python step.
The job therefore works through a backlog as fast as it can: this is its ceiling, not a paced
rate (`bench.flink_latency` paces).

    .venv/bin/python -m bench.flink_job --kinds detect,passthrough --modes thread,process \
        --parallelism 1,2

Job kinds (`bench.flink_functions`): `detect` is the real job (every registered detector,
checkpoints every 5 s, the SQLite store, alerts to Kafka); `route` is the real job without the
detect step (decode, route, key by (detector, key), count); `decode` decodes every record in
Python and writes it to Kafka; `passthrough` is a trivial Python map between the Kafka source and
a Kafka sink, the engine's own ceiling.

Inputs:
- `scenario`: every detector's case events and the shared samples (as the parity test uses
  them), repeated with fresh ids and spread at `--rate` events per second of event time
  (default 50), so every detector and its timers work. Heavy in what the cases exercise (EC2
  launches and terminations, VM lifecycle, cross-tenant calls): alerts are frequent, and
  co-residency-probing keeps one key for the whole cloud whose state (every launch and placement
  of the last hour) grows with the rate.
- `simulated`: `fenghuo simulate`'s cloud (`bench.flink_sim`, ~5,000 events per second of event
  time: 70 % VPC flows, 29 % CloudTrail, a few hundred host events), the input of
  `bench.flink_latency`.

"start" is from the call that builds the job to the first event counted by the first Python
step (JVM, planner, submission, mini-cluster, Kafka assignment); "events/s" is N over the time
from then until the last event has passed the last Python step (counters reach the REST API
once a second or so: runs are sized to last 15 s or more). "CPU" is the job's process tree (the
Python client, the JVM, in process mode the Python workers) over the same interval; the
broker's CPU is the embedded broker's (Tansu 0.6.0 when the README's figures were measured).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from bench.flink_common import (
    LOCK,
    loadavg,
    operator_metric,
    proc_cpu,
    tree_cpu,
    wait_for_quiet,
)
from fenghuo.demo.samples import default_samples_dir, demo_inventory_path, sample_files
from fenghuo.detectors.registry import all_detectors
from fenghuo.detectors.testing import FIXED_NOW, case_events, demo_inventory
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.ingest.routing import event_message
from fenghuo.model import Event

START = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
DEFAULT_EVENTS = {"detect": 150_000, "route": 200_000, "decode": 400_000, "passthrough": 400_000}


def scenario() -> list[Event]:
    events: list[Event] = [
        e for cls in all_detectors().values() for c in cls.cases for e in case_events(c)
    ]
    root = default_samples_dir()
    if root is not None:
        normaliser = Normaliser(demo_inventory(), clock=lambda: FIXED_NOW)
        for sample_set, path in sample_files(root):
            with path.open(encoding="utf-8", errors="backslashreplace") as handle:
                lines = raw_lines(str(path), handle)
                for result in normaliser.stream(sample_set.format, lines, sample_set.host_id):
                    if not isinstance(result, RecordError):
                        events.append(result)
    return sorted(events, key=lambda e: (e.event_time, e.id))


def synthetic(n: int, rate: float = 50.0) -> list[Event]:
    """`n` events: the scenario repeated with fresh ids, `rate` events per second of event time."""
    base = scenario()
    step = dt.timedelta(seconds=1 / rate)
    out: list[Event] = []
    for i in range(n):
        event = base[i % len(base)]
        at = START + i * step
        copy = i // len(base)
        out.append(
            msgspec.structs.replace(event, id=f"{event.id}.{copy}", event_time=at, ingest_time=at)
        )
    return out


def messages(source: str, n: int, topics: Topics, rate: float) -> tuple[list[OutMessage], Path]:
    """The N messages of an input, and the inventory the job needs for it."""
    if source == "scenario":
        return [event_message(e, topics) for e in synthetic(n, rate)], demo_inventory_path()
    from bench import flink_sim

    path = flink_sim.prepare()
    data = flink_sim.load(path)
    if n > len(data):
        msg = f"the simulated input holds {len(data)} events, fewer than {n}"
        raise SystemExit(msg)
    out = [
        OutMessage(topic=f"{topics.prefix}telemetry.{family}", key=key, value=value, headers=())
        for family, key, value in zip(
            data.families[:n], data.keys[:n], data.values[:n], strict=True
        )
    ]
    return out, flink_sim.inventory_file(path)


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration, in this (fresh) process; the events are already published."""
    from bench.flink_functions import build
    from fenghuo.streaming.adapter import EngineSpec
    from fenghuo.streaming.flink_env import FlinkOptions
    from fenghuo.streaming.job import StreamSpec

    tmp = Path(tempfile.mkdtemp(prefix="fenghuo-bench-flink-"))
    port = free_port()
    spec = StreamSpec(
        bootstrap=args.bootstrap,
        topics=Topics(args.prefix),
        engine=EngineSpec(inventory=Path(args.inventory)),
        flink=FlinkOptions(
            parallelism=args.p,
            execution_mode=args.mode,
            checkpoint_dir=tmp / "checkpoints",
            rest_port=port,
            log_dir=tmp / "logs",
            extra={"metrics.fetcher.update-interval": "250 ms"},
        ),
        group_id=f"{args.prefix}stream",
        store=tmp / "alerts.db",
    )
    t0 = time.monotonic()
    client = build(spec, args.kind, f"{args.prefix}sink").execute_async(f"bench-{args.kind}")
    job = str(client.get_job_id())
    first = tenth = done = None
    cpu_first = cpu_done = 0.0
    seen = routed = detected = 0
    keyed = args.kind in ("detect", "route")
    try:
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            try:
                seen = operator_metric(port, job, "route", "events")
                if keyed:
                    routed = operator_metric(port, job, "route", "routed")
                    detected = operator_metric(port, job, "detect", "events")
            except OSError:
                seen = 0
            now = time.monotonic()
            if first is None and seen > 0:
                first, cpu_first = now, tree_cpu(os.getpid())
            if tenth is None and seen >= args.events / 10:
                tenth = now
            if seen >= args.events and (not keyed or detected >= routed > 0):
                done, cpu_done = now, tree_cpu(os.getpid())
                break
            time.sleep(0.25)
    finally:
        client.cancel().result()
        shutil.rmtree(tmp, ignore_errors=True)
    base = {"input": args.input, "kind": args.kind, "mode": args.mode, "p": args.p}
    if first is None or tenth is None or done is None:
        return base | {"error": f"timeout: seen {seen}, routed {routed}, detected {detected}"}
    return base | {
        "events": args.events,
        "pairs": routed,
        "start_s": round(first - t0, 2),
        "run_s": round(done - first, 2),
        "events_per_s": round(args.events / (done - first)),
        # After the first tenth: without the JIT's and the Python workers' warm-up.
        "steady_per_s": round(0.9 * args.events / (done - tenth)) if done > tenth else None,
        "cpu_s": round(cpu_done - cpu_first, 1),
        "cpu_pct": round(100 * (cpu_done - cpu_first) / (done - first)),
    }


def run_one(args: argparse.Namespace, source: str, kind: str, mode: str, p: int) -> dict[str, Any]:
    n = args.n[kind]
    with KafkaBroker() as broker:
        topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
        ensure_topics(broker.bootstrap, [*topics.all(), f"{topics.prefix}sink"])
        batch, inventory = messages(source, n, topics, args.rate)
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish(batch, timeout=300)
        del batch
        from fenghuo.streaming.flush import publish_flush

        publish_flush(broker.bootstrap, topics)
        cmd = [sys.executable, "-m", "bench.flink_job", "--worker", "--events", str(n)]
        cmd += ["--bootstrap", broker.bootstrap, "--prefix", topics.prefix, "--mode", mode]
        cmd += ["--p", str(p), "--timeout", str(args.timeout), "--kind", kind]
        cmd += ["--input", source, "--inventory", str(inventory)]
        load = wait_for_quiet(args.max_load)
        broker_before = proc_cpu(broker.pid)
        Path(LOCK).touch()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        finally:
            Path(LOCK).unlink(missing_ok=True)
        broker_cpu = proc_cpu(broker.pid) - broker_before
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = (
        json.loads(lines[-1])
        if lines
        else {"input": source, "kind": kind, "mode": mode, "p": p, "error": out.stderr[-2000:]}
    )
    result["broker_cpu_s"] = round(broker_cpu, 1)
    result["load_before"] = load
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", default="scenario", help="scenario,simulated")
    parser.add_argument(
        "--kinds", default="detect,passthrough", help="detect,route,decode,passthrough"
    )
    parser.add_argument("--modes", default="thread,process")
    parser.add_argument("--parallelism", default="1,2")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--events",
        default="",
        help="N per kind, e.g. detect=100000,passthrough=400000 (defaults: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_EVENTS.items())
        + ")",
    )
    parser.add_argument(
        "--rate", type=float, default=50.0, help="scenario: events per second of event time"
    )
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a quieter machine")
    parser.add_argument("--json", action="store_true", help="print every result as JSON too")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    parser.add_argument("--p", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.events = int(args.events)
        print(json.dumps(worker(args)), flush=True)
        return
    args.n = dict(DEFAULT_EVENTS)
    for item in filter(None, args.events.split(",")):
        kind, _, value = item.partition("=")
        args.n[kind] = int(value)

    print(
        f"Python {sys.version.split()[0]} on {os.cpu_count()} cores; load {loadavg()}", flush=True
    )
    results = []
    for _ in range(args.repeat):
        for source in args.inputs.split(","):
            for kind in args.kinds.split(","):
                for mode in args.modes.split(","):
                    for p in (int(x) for x in args.parallelism.split(",")):
                        result = run_one(args, source, kind, mode, p)
                        print(json.dumps(result), flush=True)
                        results.append(result)
    print()
    print(
        "| input | job | mode | p | events | start s | run s | events/s | after 1st tenth "
        "| job CPU s | CPU % | broker CPU s | load before |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        head = f"| {r['input']} | {r['kind']} | {r['mode']} | {r['p']} "
        if "error" in r:
            print(head + f"| error: {r['error'][-200:]!r} |")
            continue
        cells = (
            f"{r['events']:,}",
            r["start_s"],
            r["run_s"],
            f"{r['events_per_s']:,}",
            f"{r['steady_per_s']:,}" if r["steady_per_s"] else "-",
            r["cpu_s"],
            r["cpu_pct"],
            r["broker_cpu_s"],
            r["load_before"].split()[1],
        )
        print(head + "| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
