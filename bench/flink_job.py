"""Throughput and start time of the stream job (`fenghuo stream`): thread vs process mode.

Each configuration runs in a fresh Python process (so every run pays PyFlink's JVM launch, as
`fenghuo stream` does) against one embedded broker: N events are published to fresh topics with a
watermark flush, the job is started with every registered detector, and Flink's own counters
(through the mini-cluster's REST API) say when the first event was routed and when every routed
(event, detector) pair has run through the detect function.

    .venv/bin/python -m bench.flink_job --events 100000 --modes thread,process --parallelism 1,2

Events: every detector's case events and the shared samples (as the parity test uses them),
repeated with fresh ids and spread at `--rate` events per second of event time (default 50), so
every detector and its timers work. The mix is heavy in what the cases exercise (EC2 launches and
terminations, VM lifecycle, cross-tenant calls), so alerts are frequent, and co-residency-probing
keeps one key for the whole cloud whose state (every launch and placement of the last hour)
grows with the rate. Checkpoints every 5 s and the SQLite store are on, as in production.
"start" is from the call that builds the job to the first routed event (JVM, planner, submission,
mini-cluster, Kafka assignment); "events/s" is N over the time from the first routed event to the
last detected one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import msgspec

from fenghuo.demo.samples import default_samples_dir, demo_inventory_path, sample_files
from fenghuo.detectors.registry import all_detectors
from fenghuo.detectors.testing import FIXED_NOW, case_events, demo_inventory
from fenghuo.ingest.kafka.broker import EmbeddedBroker, free_port
from fenghuo.ingest.kafka.producer import Publisher
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.ingest.routing import event_message
from fenghuo.model import Event

START = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


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


def rest(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


def _names(metric_id: str, name: str) -> set[str]:
    """The operator names in a metric id `<subtask>.<operator>.<name>`; PyFlink fuses chained
    Python functions into one operator named like `route___stream_key_by_map_operator`."""
    subtask_and_operator, _, metric = metric_id.rpartition(".")
    if metric != name:
        return set()
    return set(re.split(r"_+", subtask_and_operator.partition(".")[2]))


def operator_metric(port: int, job: str, operator: str, name: str) -> int:
    total = 0
    for vertex in rest(port, f"/jobs/{job}")["vertices"]:
        base = f"/jobs/{job}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in rest(port, base) if operator in _names(m["id"], name)]
        if ids:
            total += sum(int(float(m["value"])) for m in rest(port, f"{base}?get={','.join(ids)}"))
    return total


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration, in this (fresh) process; the events are already published."""
    from fenghuo.streaming.adapter import EngineSpec
    from fenghuo.streaming.flink_env import FlinkOptions
    from fenghuo.streaming.job import StreamSpec, start

    tmp = Path(tempfile.mkdtemp(prefix="fenghuo-bench-flink-"))
    port = free_port()
    spec = StreamSpec(
        bootstrap=args.bootstrap,
        topics=Topics(args.prefix),
        engine=EngineSpec(inventory=demo_inventory_path()),
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
    client = start(spec)
    job = str(client.get_job_id())
    first = done = None
    routed = detected = 0
    try:
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            try:
                seen = operator_metric(port, job, "route", "events")
                routed = operator_metric(port, job, "route", "routed")
                detected = operator_metric(port, job, "detect", "events")
            except OSError:
                seen = 0
            now = time.monotonic()
            if first is None and seen > 0:
                first = now
            if seen >= args.events and detected >= routed > 0:
                done = now
                break
            time.sleep(0.5)
    finally:
        client.cancel().result()
    if first is None or done is None:
        return {
            "mode": args.mode,
            "p": args.p,
            "error": f"timeout: routed {routed}, detected {detected}",
        }
    return {
        "mode": args.mode,
        "p": args.p,
        "events": args.events,
        "pairs": routed,
        "start_s": round(first - t0, 2),
        "run_s": round(done - first, 2),
        "events_per_s": round(args.events / (done - first)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--modes", default="thread,process")
    parser.add_argument("--parallelism", default="1,2")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second of event time")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--p", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)), flush=True)
        return

    events = synthetic(args.events)
    print(
        f"{platform.python_version()} on {os.cpu_count()} cores; {args.events} events", flush=True
    )
    results = []
    with EmbeddedBroker() as broker:
        for _ in range(args.repeat):
            for mode in args.modes.split(","):
                for p in (int(x) for x in args.parallelism.split(",")):
                    topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
                    ensure_topics(broker.bootstrap, topics)
                    with Publisher(broker.bootstrap) as publisher:
                        publisher.publish([event_message(e, topics) for e in events], timeout=120)
                    from fenghuo.streaming.flush import publish_flush

                    publish_flush(broker.bootstrap, topics)
                    cmd = [
                        sys.executable,
                        "-m",
                        "bench.flink_job",
                        "--worker",
                        "--events",
                        str(args.events),
                    ]
                    cmd += [
                        "--bootstrap",
                        broker.bootstrap,
                        "--prefix",
                        topics.prefix,
                        "--mode",
                        mode,
                    ]
                    cmd += ["--p", str(p), "--timeout", str(args.timeout)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
                    result = (
                        json.loads(lines[-1])
                        if lines
                        else {"mode": mode, "p": p, "error": out.stderr[-2000:]}
                    )
                    print(json.dumps(result), flush=True)
                    results.append(result)
    print()
    print("| mode | parallelism | start s | run s | events/s |")
    print("|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['mode']} | {r['p']} | error | | |")
        else:
            cells = (r["mode"], r["p"], r["start_s"], r["run_s"], f"{r['events_per_s']:,}")
            print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
