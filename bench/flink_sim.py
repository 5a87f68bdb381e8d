"""Simulated telemetry for the stream-job benchmarks: `fenghuo simulate`'s cloud, parsed once.

`prepare()` builds a simulated world (`fenghuo.simulate`: 6 tenants, 8 hosts, 40 VMs, benign
background in all five formats and labelled attacks), keeps the emissions of the first
`seconds` of simulated time, renders, parses and attributes them against the world's inventory
(as ingest does), and replays them through every detector (`fenghuo.streaming.replay`'s
discipline) recording, for every alert version, the *moment* it is emitted: the event whose
processing raised it, or the engine timer that fired it. The result is cached under
`/tmp/fenghuo-bench-sim/` (a pickle, 0.9 GB for the default 750k events) and generated in a
child process (about 80 s, 3.5 GB peak), so the benchmark's own process stays small.

The simulator's `rate` (4175 by default) is its budget per second over the whole simulated
span (at least 5 minutes); the first 150 s hold more than their share, and 4175 gives 5,003
events per second there (4,697–5,243 in any one second).

    .venv/bin/python -m bench.flink_sim --rate 5000 --seconds 150   # prepare (or reuse) a cache
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import heapq
import json
import pickle
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

CACHE = Path("/tmp/fenghuo-bench-sim")
# 10:28:30 UTC: two and a half simulated minutes before a 30-minute boundary, so the
# cross-tenant-flow probing windows (epoch-aligned, 30 min) close during a 150 s run.
DEFAULT_START = dt.datetime(2026, 1, 5, 10, 28, 30, tzinfo=dt.UTC)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Moment:
    """Where replay emitted one alert version: while processing event `event_id` (an
    immediate rule), or firing an engine timer at event time `at` (`event_id` None)."""

    alert_id: str
    detector: str
    fingerprint: str  # the version without detected_at, to match the job's versions
    at: dt.datetime  # event time of the moment (the event's time, or the timer's)
    event_id: str | None
    evidence: tuple[str, ...]
    last_seen: dt.datetime


@dataclass
class SimInput:
    """Encoded telemetry in event-time order, and replay's alert moments."""

    start: dt.datetime
    rate: float
    seconds: float
    inventory_yaml: str
    offsets: list[float] = field(default_factory=list)  # seconds of event time since `start`
    families: list[str] = field(default_factory=list)  # "hypervisor", "tenant", "network"
    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)
    attacks: int = 0
    record_errors: int = 0
    replay_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.values)


def fingerprint(alert_json: bytes) -> str:
    """An alert version's identity across replay and the job: everything but `detected_at`."""
    document = json.loads(alert_json)
    document.pop("detected_at", None)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def cache_path(rate: float, seconds: float, start: dt.datetime, seed: int, rounds: int) -> Path:
    stamp = start.strftime("%Y%m%dT%H%M%S")
    name = f"sim-v{FORMAT_VERSION}-r{rate:g}-s{seconds:g}-{stamp}-seed{seed}-a{rounds}.pickle"
    return CACHE / name


def _replay_moments(events: list[object], inventory: Path) -> tuple[list[Moment], float]:
    """Replay (`fenghuo.streaming.replay`'s loop, 5 s bound) recording each version's moment."""
    from fenghuo.detectors.engine import DetectionEngine, Step
    from fenghuo.detectors.registry import instantiate
    from fenghuo.inventory import InventoryStore
    from fenghuo.model import Event
    from fenghuo.model.alert import encode_alert
    from fenghuo.streaming.replay import DEFAULT_OUT_OF_ORDERNESS

    engine = DetectionEngine(instantiate(), InventoryStore(inventory).current)
    states: dict[str, object] = {}
    timers: list[tuple[dt.datetime, str]] = []
    registered: set[tuple[dt.datetime, str]] = set()
    moments: list[Moment] = []

    def apply(state_key: str, step: Step, at: dt.datetime, event_id: str | None) -> None:
        if step.state is None:
            states.pop(state_key, None)
        else:
            states[state_key] = step.state
        for when in step.timers:
            if (when, state_key) not in registered:
                registered.add((when, state_key))
                heapq.heappush(timers, (when, state_key))
        for alert in step.alerts:
            moments.append(
                Moment(
                    alert.id,
                    alert.detector,
                    fingerprint(encode_alert(alert)),
                    at,
                    event_id,
                    alert.evidence,
                    alert.last_seen,
                )
            )

    def advance(watermark: dt.datetime | None) -> None:
        while timers and (watermark is None or timers[0][0] <= watermark):
            at, state_key = heapq.heappop(timers)
            registered.discard((at, state_key))
            detector_id, key = DetectionEngine.split_state_key(state_key)
            state = states.get(state_key)
            step = engine.on_timer(detector_id, key, state, at)  # type: ignore[arg-type]
            apply(state_key, step, at, None)

    began = time.monotonic()
    watermark: dt.datetime | None = None
    for item in events:
        event = cast(Event, item)
        candidate = event.event_time - DEFAULT_OUT_OF_ORDERNESS
        if watermark is None or candidate > watermark:
            watermark = candidate
            advance(watermark)
        for detector_id, key in engine.route(event):
            state_key = DetectionEngine.state_key(detector_id, key)
            state = states.get(state_key)
            step = engine.on_event(detector_id, key, state, event, watermark)  # type: ignore[arg-type]
            apply(state_key, step, event.event_time, event.id)
    # No final advance: a live run ends with its watermark short of the last event, like this.
    return moments, time.monotonic() - began


def build(
    rate: float, seconds: float, start: dt.datetime, seed: int, rounds: int, out: Path
) -> None:
    """Generate, parse, replay and pickle one input (run in a child process: ~3 GB peak)."""
    from fenghuo.ingest.kafka.topics import Topics
    from fenghuo.ingest.normalise import Normaliser
    from fenghuo.ingest.parsers import RecordError, raw_lines
    from fenghuo.ingest.routing import key_for, topic_for
    from fenghuo.inventory import InventoryStore
    from fenghuo.model import Event, encode_event
    from fenghuo.simulate.config import SimulationConfig
    from fenghuo.simulate.generate import Generator, create_world
    from fenghuo.simulate.output import render_files

    duration = dt.timedelta(seconds=max(300.0, seconds))
    config = SimulationConfig(
        seed=seed, start=start, duration=duration, rate=rate, attack_rounds=rounds
    )
    world = create_world(config)
    segment = Generator(world).segment(0)
    cutoff = start + dt.timedelta(seconds=seconds)
    attacks = sum(1 for label in segment.labels if label.start < cutoff)
    emissions = [e for e in segment.timeline.ordered() if e.time < cutoff]
    files = render_files(world, emissions)
    del emissions, segment
    out.parent.mkdir(parents=True, exist_ok=True)
    inventory = out.with_suffix(".inventory.yaml")
    inventory.write_text(world.inventory_yaml(), encoding="utf-8")
    normaliser = Normaliser(InventoryStore(inventory), clock=lambda: start)
    events: list[Event] = []
    errors = 0
    formats: Counter[str] = Counter()
    for (fmt, path), lines in files.items():
        host = path.rsplit("/", 1)[-1].removesuffix(".log") if "/" in path else None
        for result in normaliser.stream(fmt, raw_lines(path, lines), host):
            if isinstance(result, RecordError):
                errors += 1
            else:
                events.append(result)
                formats[fmt] += 1
    del files
    events.sort(key=lambda e: (e.event_time, e.id))
    moments, replay_s = _replay_moments(list(events), inventory)
    topics = Topics("")
    data = SimInput(
        start=start,
        rate=rate,
        seconds=seconds,
        inventory_yaml=world.inventory_yaml(),
        formats=dict(formats),
        attacks=attacks,
        record_errors=errors,
        moments=moments,
        replay_seconds=replay_s,
    )
    for event in events:
        data.offsets.append((event.event_time - start).total_seconds())
        data.families.append(topic_for(event, topics).rsplit(".", 1)[-1])
        data.keys.append(key_for(event).encode())
        data.values.append(encode_event(event))
        data.ids.append(event.id)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(out)


def prepare(
    rate: float = 4175.0,
    seconds: float = 150.0,
    start: dt.datetime = DEFAULT_START,
    seed: int = 7,
    rounds: int = 4,
) -> Path:
    """The cache file for these parameters, built in a child process if missing."""
    path = cache_path(rate, seconds, start, seed, rounds)
    if not path.exists():
        print(f"preparing {path.name} (generate, parse, replay; a minute or two)", flush=True)
        cmd = [sys.executable, "-m", "bench.flink_sim", "--build", "--rate", str(rate)]
        cmd += ["--seconds", str(seconds), "--start", start.isoformat()]
        cmd += ["--seed", str(seed), "--rounds", str(rounds)]
        subprocess.run(cmd, check=True)
    return path


def load(path: Path) -> SimInput:
    with path.open("rb") as handle:
        return cast(SimInput, pickle.load(handle))  # our own cache file


def inventory_file(path: Path) -> Path:
    return path.with_suffix(".inventory.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=4175.0)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--start", default=DEFAULT_START.isoformat())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=4, help="attack rounds")
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    start = dt.datetime.fromisoformat(args.start).astimezone(dt.UTC)
    path = cache_path(args.rate, args.seconds, start, args.seed, args.rounds)
    if args.build:
        from bench import flink_sim  # pickle the classes under their module name, not __main__

        began = time.monotonic()
        flink_sim.build(args.rate, args.seconds, start, args.seed, args.rounds, path)
        print(f"built {path} in {time.monotonic() - began:.0f} s", flush=True)
        return
    data = load(prepare(args.rate, args.seconds, start, args.seed, args.rounds))
    by_detector = Counter(m.detector for m in data.moments)
    timer = Counter(m.detector for m in data.moments if m.event_id is None)
    print(
        f"{len(data)} events ({data.formats}), {data.record_errors} record errors, "
        f"{data.attacks} attacks begin in the window; replay {data.replay_seconds:.1f} s, "
        f"{len(data.moments)} alert versions: {dict(by_detector)}; from timers: {dict(timer)}"
    )
    print(Counter(zip(data.families, (k.decode() for k in data.keys), strict=True)).most_common())


if __name__ == "__main__":
    main()
