"""Figures for deploy/README.md's sizing guide, measured on `fenghuo simulate`'s cloud.

One simulated cloud (seed 7; hosts, VMs, tenants and rate as given) is generated to files,
parsed and attributed against its inventory as ingest does, then:

- **events**: count and encoded size (the Kafka message value: the normalised event's JSON) per
  family and per host, and the share of each telemetry topic;
- **state**: the events are replayed through every detector in event-time order (replay's loop,
  `fenghuo.streaming.replay`), and once per simulated minute every live key's `Slot` (the
  engine's KeyState, the key's engine timers, its watermark: what `DetectFunction` keeps in its
  ValueState) is pickled as PyFlink's PICKLED_BYTE_ARRAY does (`pickle.dumps`); reported are
  the live keys, their bytes (mean, p99, max, total) and the share of the largest detectors. The
  ListState of buffered events holds what arrives within the out-of-orderness bound plus a
  watermark interval; its size is estimated from the busiest 6 s of (event, detector) pairs;
- **compression**: the messages of each topic in batches of 500, deflated (Kafka's gzip codec);
- **documents**: the alerts and the correlator's incidents of the run encoded as the store's
  search documents (`fenghuo.store.es_docs`), and the event archive's documents, in bytes of
  JSON; and the same alerts, incidents and events written to SQLite (store and archive files,
  after VACUUM) for bytes per row there.

    .venv/bin/python -m bench.deploy_sizing --hosts 8 --vms 40 --rate 1000 --minutes 5 --json F
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import sqlite3
import statistics
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.registry import instantiate
from fenghuo.evidence.sqlite_archive import SqliteEventArchive
from fenghuo.graph import correlate
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.routing import topic_for
from fenghuo.inventory import InventoryStore
from fenghuo.model import Event, encode_event
from fenghuo.simulate import SimulationConfig, run_simulate
from fenghuo.store import es_docs
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.flush import is_watermark_flush
from fenghuo.streaming.keyed import Slot

# Replay's own loop, reused so the keys and their state are exactly replay's (and the job's).
from fenghuo.streaming.replay import DEFAULT_OUT_OF_ORDERNESS, _Runner, fold_alerts
from fenghuo.streaming.replay_files import InputSpec, read_events

WATERMARK_INTERVAL = dt.timedelta(seconds=1)


def simulate(args: argparse.Namespace, out: Path) -> tuple[Path, list[Event]]:
    config = SimulationConfig(
        seed=args.seed,
        duration=dt.timedelta(minutes=args.minutes),
        rate=args.rate,
        tenants=args.tenants,
        hosts=args.hosts,
        vms=args.vms,
        attack_rounds=1,
    )
    result = run_simulate(config, out)
    specs = [
        InputSpec(e.format, out / e.path, e.host if e.format == "libvirt-events" else None)
        for e in result.manifest
    ]
    inventory = out / "inventory.yaml"
    errors: list[Any] = []
    events = list(read_events(specs, Normaliser(InventoryStore(inventory)), errors))
    if errors:
        msg = f"{len(errors)} record errors in the simulation, e.g. {errors[0]}"
        raise SystemExit(msg)
    events.sort(key=lambda e: (e.event_time, e.id))
    return inventory, events


def event_figures(events: Sequence[Event], hosts: int, seconds: float) -> dict[str, Any]:
    topics = Topics()
    by_kind: dict[str, list[int]] = defaultdict(list)
    by_topic: Counter[str] = Counter()
    topic_bytes: Counter[str] = Counter()
    for event in events:
        size = len(encode_event(event))
        by_kind[type(event).__name__].append(size)
        topic = topic_for(event, topics)
        by_topic[topic] += 1
        topic_bytes[topic] += size
    total = len(events)
    return {
        "events": total,
        "seconds": seconds,
        "events_per_s": total / seconds,
        "events_per_s_per_host": total / seconds / hosts,
        "bytes_per_event": sum(topic_bytes.values()) / total,
        "kinds": {
            kind: {
                "events": len(sizes),
                "share": len(sizes) / total,
                "mean_bytes": statistics.fmean(sizes),
            }
            for kind, sizes in sorted(by_kind.items())
        },
        "topics": {
            topic: {
                "events": by_topic[topic],
                "share": by_topic[topic] / total,
                "mean_bytes": topic_bytes[topic] / by_topic[topic],
            }
            for topic in sorted(by_topic)
        },
    }


def compression_figures(events: Sequence[Event], batch: int = 500) -> dict[str, Any]:
    """How much the telemetry compresses in Kafka-like batches: per topic, consecutive messages
    in batches of `batch`, deflate (Kafka's gzip codec) at levels 1 and 6. The producers use lz4,
    which this interpreter lacks; lz4 usually compresses JSON somewhat less than deflate."""
    topics = Topics()
    per_topic: dict[str, list[bytes]] = defaultdict(list)
    for event in events:
        per_topic[topic_for(event, topics)].append(encode_event(event))
    out: dict[str, Any] = {}
    for topic, values in sorted(per_topic.items()):
        raw = level1 = level6 = 0
        for start in range(0, len(values), batch):
            chunk = b"".join(values[start : start + batch])
            raw += len(chunk)
            level1 += len(zlib.compress(chunk, 1))
            level6 += len(zlib.compress(chunk, 6))
        out[topic] = {"ratio_deflate1": raw / level1, "ratio_deflate6": raw / level6}
    return out


def _percentile(values: Sequence[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def state_figures(events: Sequence[Event], inventory: Path) -> dict[str, Any]:
    engine = DetectionEngine(
        instantiate(None), InventoryStore(inventory).current, DetectionConfig()
    )
    runner = _Runner(engine)
    bound = DEFAULT_OUT_OF_ORDERNESS
    samples: list[dict[str, Any]] = []
    next_sample: dt.datetime | None = None
    watermark: dt.datetime | None = None
    pairs_at: list[tuple[dt.datetime, int]] = []
    for event in events:
        candidate = event.event_time - bound
        if watermark is None or candidate > watermark:
            watermark = candidate
            runner.advance(watermark)
        if next_sample is None:
            next_sample = event.event_time + dt.timedelta(minutes=1)
        if event.event_time >= next_sample:
            samples.append(_sample(runner, watermark, event.event_time))
            next_sample += dt.timedelta(minutes=1)
        if not is_watermark_flush(event):
            pairs_at.append((event.event_time, len(engine.route(event))))
            runner.event(event, watermark)
    final = _sample(runner, watermark, events[-1].event_time)
    runner.advance(None)
    alerts = fold_alerts(runner.emitted)
    return {
        "samples": samples,
        "final": final,
        "pending": _pending(pairs_at, bound + WATERMARK_INTERVAL, events),
        "alerts": alerts,
    }


def _sample(runner: _Runner, watermark: dt.datetime | None, at: dt.datetime) -> dict[str, Any]:
    timers: dict[str, list[dt.datetime]] = defaultdict(list)
    for when, key in runner.timers:
        timers[key].append(when)
    sizes: dict[str, int] = {}
    for key in set(runner.states) | set(timers):
        slot = Slot(state=runner.states.get(key), watermark=watermark, timers=sorted(timers[key]))
        sizes[key] = len(pickle.dumps(slot))
    per_detector: dict[str, list[int]] = defaultdict(list)
    for key, size in sizes.items():
        per_detector[DetectionEngine.split_state_key(key)[0]].append(size)
    values = list(sizes.values()) or [0]
    return {
        "at": at.isoformat(),
        "keys": len(sizes),
        "bytes_total": sum(values),
        "bytes_mean": statistics.fmean(values),
        "bytes_p99": _percentile(values, 0.99),
        "bytes_max": max(values),
        "detectors": {
            name: {"keys": len(v), "bytes_total": sum(v), "bytes_max": max(v)}
            for name, v in sorted(per_detector.items(), key=lambda kv: -sum(kv[1]))
        },
    }


def _pending(
    pairs_at: Sequence[tuple[dt.datetime, int]], span: dt.timedelta, events: Sequence[Event]
) -> dict[str, Any]:
    """The most (event, detector) pairs arriving within `span`: what the ListStates hold at most
    while events wait for the watermark (arrival in event order, as here)."""
    best, start, running = 0, 0, 0
    for at, pairs in pairs_at:
        running += pairs
        while pairs_at[start][0] < at - span:
            running -= pairs_at[start][1]
            start += 1
        best = max(best, running)
    mean_bytes = statistics.fmean(len(encode_event(e)) for e in events[:20000])
    return {
        "span_s": span.total_seconds(),
        "max_pairs": best,
        "approx_bytes": int(best * (mean_bytes + 16)),
    }


def document_figures(
    alerts: Sequence[Any], incidents: Sequence[Any], events: Sequence[Event], work: Path
) -> dict[str, Any]:
    def mean_json(docs: Sequence[dict[str, Any]]) -> float:
        return (
            statistics.fmean(len(json.dumps(d, separators=(",", ":"))) for d in docs)
            if docs
            else 0.0
        )

    archive_docs = [
        {
            "archived_at": e.event_time.isoformat(),
            "event_time": e.event_time.isoformat(),
            "tenant_id": e.tenant_id,
            "host_id": e.host_id,
            "doc": encode_event(e).decode(),
        }
        for e in events
    ]
    figures: dict[str, Any] = {
        "alerts": len(alerts),
        "incidents": len(incidents),
        "search_doc_bytes": {
            "alert": mean_json([es_docs.alert_document(a) for a in alerts]),
            "incident": mean_json([es_docs.incident_document(i) for i in incidents]),
            "archived_event": mean_json(archive_docs),
        },
    }
    store = SqliteStore(work / "fenghuo.db")
    empty = _vacuumed_size(work / "fenghuo.db")
    store.alerts.upsert(alerts)
    store.incidents.upsert(incidents)
    store.close()
    filled = _vacuumed_size(work / "fenghuo.db")
    archive = SqliteEventArchive(work / "events.db")
    archive_empty = _vacuumed_size(work / "events.db")
    archive.put(list(events), dt.datetime.now(dt.UTC))
    archive.close()
    archive_filled = _vacuumed_size(work / "events.db")
    rows = len(alerts) + len(incidents)
    figures["sqlite"] = {
        "store_bytes_per_row": (filled - empty) / rows if rows else 0.0,
        "archive_bytes_per_event": (archive_filled - archive_empty) / len(events),
    }
    return figures


def _vacuumed_size(path: Path) -> int:
    """The database file's size once compacted, its write-ahead log folded in (the stores
    write in WAL mode, so fresh rows sit in the -wal file until a checkpoint)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return path.stat().st_size


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--vms", type=int, default=40)
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fenghuo-sizing-") as tmp:
        work = Path(tmp)
        inventory, events = simulate(args, work / "sim")
        seconds = args.minutes * 60
        result: dict[str, Any] = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": vars(args) | {"json": str(args.json) if args.json else None},
            "events": event_figures(events, args.hosts, seconds),
            "compression": compression_figures(events),
        }
        state = state_figures(events, inventory)
        alerts = state.pop("alerts")
        result["state"] = state
        incidents = correlate(alerts, InventoryStore(inventory).current())
        result["documents"] = document_figures(alerts, incidents, events, work)
    result["wall_s"] = round(time.monotonic() - began, 1)
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
