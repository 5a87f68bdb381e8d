"""The correlator on a long alert stream: `Correlator.add_many`, the service's store work per
batch, and (optionally) the whole `fenghuo correlate` service over the embedded broker.

The stream is the simulated hour (`tests/api/seeded.py` `replay_hour`: the default simulation,
replayed to alerts) copied again and again: copy k is shifted by k * `SPACING` hours, and its
ids, dedup keys and evidence ids are made unique to the copy (its entities are kept, so the
incidents of each copy form as they did in the hour, on the same hosts and tenants). The
alerts arrive in order of `detected_at`, in batches of `BATCH` (the service's poll batch).

Each size is measured in a fresh worker process (this module with `--worker`), so that its
peak RSS (VmHWM, since exec) is its own:

- `correlate`: `add_many` per batch, then what the service does with the result on a SQLite
  file: stamp `updated_at`, `incidents.upsert(changed)`, `carry_over` and `incidents.delete`
  of the retired ids. Times are per batch; the correlator and the store are timed apart.
- `memory`: the same `add_many` loop under tracemalloc (slower; only its memory is reported).
- `service`: every alert is published to `fenghuo.alerts` first, then the service is started
  on a fresh consumer group; timed from its start until it has processed (published and
  stored) every alert.

Run: `.venv/bin/python -m bench.correlator_bench` (`--sizes 10000,50000`,
`--modes correlate,memory,service`, `--spacing`, `--batch`, `--partitions`, `--json`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bench.common import cpu_seconds, current_rss_mb, hwm_mb, k, load_average, machine, table
from fenghuo.graph.carry import carry_over
from fenghuo.graph.correlator import BATCH, Correlator
from fenghuo.inventory import InventoryStore
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, decode_alert, encode_alert
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident
from fenghuo.store.base import Scope
from fenghuo.store.sqlite import SqliteStore

HOUR = dt.timedelta(hours=1)
# Hours between copies. The hour's alerts span 46 minutes and the longest sequence-rule window is
# 2 h, so copies 3 h apart never join; 1 h apart, a crash of one copy and the escape of the next
# match `exploit-development-then-escape`, and credential use and sharing of one tenant match
# `credential-theft-then-sharing`: every copy joins the same two incidents, which never decay.
SPACING = 3
ALERTS_FILE = "hour-alerts.jsonl"
INVENTORY_FILE = "hour/inventory.yaml"


# --- the stream --------------------------------------------------------------------------


def simulate_hour(root: Path) -> None:
    """The default simulated hour, replayed to alerts, under `root` (`ALERTS_FILE`, and the
    simulation's inventory at `INVENTORY_FILE`)."""
    from tests.api.seeded import replay_hour  # the repository root is on sys.path with -m

    hour = replay_hour(root)
    (root / ALERTS_FILE).write_bytes(b"\n".join(encode_alert(a) for a in hour.alerts))


def hour_alerts(root: Path) -> list[Alert]:
    return [decode_alert(line) for line in (root / ALERTS_FILE).read_bytes().splitlines()]


def hour_inventory(root: Path) -> InventoryIndex:
    return InventoryStore(root / INVENTORY_FILE).current()


def copy_of(alert: Alert, copy: int, spacing: dt.timedelta) -> Alert:
    """The alert as it would be `copy * spacing` later: shifted, with ids of its own."""
    if copy == 0:
        return alert
    shift = copy * spacing
    tag = f"#{copy}"
    return msgspec.structs.replace(
        alert,
        id=stable_id("bench-copy", alert.id, copy),
        dedup_key=alert.dedup_key + tag,
        evidence=tuple(e + tag for e in alert.evidence),
        first_seen=alert.first_seen + shift,
        last_seen=alert.last_seen + shift,
        detected_at=alert.detected_at + shift,
        window_start=None if alert.window_start is None else alert.window_start + shift,
    )


def stream(hour: Sequence[Alert], target: int, spacing: int = SPACING) -> list[Alert]:
    """Whole copies of the hour, `spacing` hours apart, at least `target` alerts, in order of
    detection."""
    copies = max(1, math.ceil(target / len(hour)))
    alerts = [copy_of(a, c, spacing * HOUR) for c in range(copies) for a in hour]
    alerts.sort(key=lambda a: (a.detected_at, a.id))
    return alerts


def batches(alerts: Sequence[Alert], size: int) -> list[Sequence[Alert]]:
    return [alerts[i : i + size] for i in range(0, len(alerts), size)]


# --- workers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One measurement: which stream, in which batches."""

    root: Path  # the simulated hour (`simulate_hour`)
    alerts: int  # at least this many (whole copies)
    spacing: int = SPACING
    batch: int = BATCH
    timeout: float = 150.0  # the service run's limit
    partitions: int = 3  # of the alerts topic in the service run (the platform's default)


class Stamper:
    """The service's strictly increasing `updated_at` (`CorrelatorService._stamped`)."""

    def __init__(self) -> None:
        self.last = dt.datetime.min.replace(tzinfo=dt.UTC)

    def __call__(self, incident: Incident) -> Incident:
        stamp = max(dt.datetime.now(dt.UTC), self.last + dt.timedelta(microseconds=1))
        self.last = stamp
        return msgspec.structs.replace(incident, updated_at=stamp)


def run_correlate(plan: Plan) -> dict[str, Any]:
    hour = hour_alerts(plan.root)
    alerts = stream(hour, plan.alerts, plan.spacing)
    index = hour_inventory(plan.root)
    rss_before = current_rss_mb()
    correlator = Correlator(index)
    stamp = Stamper()
    final: dict[str, int] = {}  # incident id -> alerts (not the incidents: memory)
    correlate_s: list[float] = []
    upsert_s: list[float] = []
    delete_s: list[float] = []
    held: list[int] = []
    versions_per_batch: list[int] = []
    written = retired_total = 0
    with tempfile.TemporaryDirectory(prefix="fenghuo-bench-") as tmp:
        store = SqliteStore(Path(tmp) / "fenghuo.db")
        try:
            cpu0, wall0 = cpu_seconds(), time.perf_counter()
            for batch in batches(alerts, plan.batch):
                t0 = time.perf_counter()
                changed = correlator.add_many(batch)
                retired = list(correlator.retired)
                t1 = time.perf_counter()
                versions = [stamp(i) for i in changed]
                if versions:
                    store.incidents.upsert(versions)
                t2 = time.perf_counter()
                if retired:
                    carry_over(store, retired, correlator.incidents())
                    store.incidents.delete(retired)
                t3 = time.perf_counter()
                correlate_s.append(t1 - t0)
                upsert_s.append(t2 - t1)
                delete_s.append(t3 - t2)
                held.append(len(correlator))
                versions_per_batch.append(len(versions))
                written += len(versions)
                retired_total += len(retired)
                for incident in changed:
                    final[incident.id] = len(incident.alert_ids)
                for gone in retired:
                    final.pop(gone, None)
            wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
            stored = store.incidents.count(Scope.everything())
            db_mb = (Path(tmp) / "fenghuo.db").stat().st_size / 1e6
        finally:
            store.close()
    sizes = sorted(final.values())
    return {
        "alerts": len(alerts),
        "copies": len(alerts) // len(hour),
        "event_hours": (alerts[-1].last_seen - alerts[0].first_seen) / HOUR,
        "batches": len(correlate_s),
        "correlate_s": correlate_s,
        "upsert_s": upsert_s,
        "delete_s": delete_s,
        "versions_per_batch": versions_per_batch,
        "wall_s": wall,
        "cpu_s": cpu,
        "incidents": len(final),
        "stored": stored,
        "largest_incident": sizes[-1] if sizes else 0,
        "written": written,
        "retired": retired_total,
        "held_max": max(held),
        "held_end": len(correlator),
        "incidents_held_end": len(correlator.incidents()),
        "graph_nodes_end": correlator.graph.number_of_nodes(),
        "rss_before_mb": rss_before,
        "hwm_mb": hwm_mb(),
        "db_mb": db_mb,
    }


def run_memory(plan: Plan) -> dict[str, Any]:
    alerts = stream(hour_alerts(plan.root), plan.alerts, plan.spacing)
    index = hour_inventory(plan.root)
    correlator = Correlator(index)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for batch in batches(alerts, plan.batch):
        correlator.add_many(batch)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"traced_peak_mb": (peak - base) / 1e6, "traced_end_mb": (current - base) / 1e6}


def run_service(plan: Plan) -> dict[str, Any]:
    from bench.common import proc_cpu
    from fenghuo.graph.runner import ServiceThread
    from fenghuo.graph.service import CorrelatorService, ServiceConfig
    from fenghuo.ingest.kafka.broker import KafkaBroker
    from fenghuo.ingest.kafka.producer import OutMessage, Publisher
    from fenghuo.ingest.kafka.topics import Topics, ensure_topics

    alerts = stream(hour_alerts(plan.root), plan.alerts, plan.spacing)
    index = hour_inventory(plan.root)
    topics = Topics(prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    with KafkaBroker() as broker, tempfile.TemporaryDirectory(prefix="fenghuo-bench-") as tmp:
        ensure_topics(broker.bootstrap, topics, partitions=plan.partitions)
        messages = [
            OutMessage(
                topic=topics.alerts,
                key=(a.tenant_id or "_unattributed").encode(),
                value=encode_alert(a),
            )
            for a in alerts
        ]
        with Publisher(broker.bootstrap, client_id="fenghuo-bench") as publisher:
            publisher.publish(messages, 60)
        path = Path(tmp) / "fenghuo.db"
        own = SqliteStore(path)
        group = f"bench-{uuid.uuid4().hex}"
        config = ServiceConfig(broker.bootstrap, topics, group_id=group, batch_size=plan.batch)
        service = CorrelatorService(config, own, lambda: index)
        running = ServiceThread(service, own)
        broker_cpu0, cpu0 = proc_cpu(broker.pid), cpu_seconds()
        started = time.perf_counter()
        running.start()
        if not service.ready.wait(30):
            msg = "the service did not get its partitions within 30 s"
            raise RuntimeError(msg)
        ready = time.perf_counter()
        deadline = started + plan.timeout
        while service.stats.alerts < len(alerts):
            failure = running.failure()
            if failure is not None or time.perf_counter() > deadline:
                msg = failure or f"only {service.stats.alerts} of {len(alerts)} alerts in time"
                raise RuntimeError(msg)
            time.sleep(0.02)
        done = time.perf_counter()
        cpu, broker_cpu = cpu_seconds() - cpu0, proc_cpu(broker.pid) - broker_cpu0
        stats = service.stats
        running.stop()
        check = SqliteStore(path)
        try:
            stored = check.incidents.count(Scope.everything())
        finally:
            check.close()
    return {
        "alerts": len(alerts),
        "start_s": ready - started,
        "process_s": done - ready,
        "total_s": done - started,
        "cpu_s": cpu,
        "broker_cpu_s": broker_cpu,
        "batches": stats.batches,
        "published": stats.published,
        "written": stats.written,
        "deleted": stats.deleted,
        "stored": stored,
        "hwm_mb": hwm_mb(),
    }


# --- the parent --------------------------------------------------------------------------


def worker(mode: str, plan: Plan) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON result is the last stdout line."""
    argv = [sys.executable, "-m", "bench.correlator_bench", "--worker", mode]
    argv += ["--root", str(plan.root), "--sizes", str(plan.alerts), "--spacing", str(plan.spacing)]
    argv += ["--batch", str(plan.batch), "--timeout", str(plan.timeout)]
    argv += ["--partitions", str(plan.partitions)]
    limit = plan.timeout + 60
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=limit)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ms(values: Sequence[float], q: float | None = None) -> str:
    from bench.common import percentile

    if q is None:
        return f"{1000 * sum(values) / len(values):.1f}"
    return f"{1000 * percentile(values, q):.1f}"


def per_version(c: dict[str, Any], *, first: bool) -> str:
    """Upsert time per incident version written, over the first or last tenth of the batches
    (the last, partial batch left out)."""
    upsert, versions = c["upsert_s"], c["versions_per_batch"]
    if len(upsert) > 1:
        upsert, versions = upsert[:-1], versions[:-1]
    tenth = max(1, len(upsert) // 10)
    part = slice(0, tenth) if first else slice(len(upsert) - tenth, len(upsert))
    return f"{1000 * sum(upsert[part]) / max(1, sum(versions[part])):.2f}"


def report(runs: dict[int, dict[str, dict[str, Any]]]) -> str:
    out: list[str] = []
    done = [r for _, r in sorted(runs.items())]
    if measured := [r for r in done if "correlate" in r]:
        rows = []
        for r in measured:
            c, m = r["correlate"], r.get("memory")
            corr = sum(c["correlate_s"])
            traced = "-" if m is None else f"{m['traced_peak_mb']:.1f} / {m['traced_end_mb']:.1f}"
            rows.append(
                [
                    c["alerts"],
                    f"{c['copies']} / {c['event_hours']:.0f} h",
                    c["batches"],
                    k(c["alerts"] / corr),
                    f"{corr:.2f}",
                    ms(c["correlate_s"]),
                    ms(c["correlate_s"], 99),
                    c["incidents"],
                    c["largest_incident"],
                    f"{c['held_max']} / {c['held_end']}",
                    c["incidents_held_end"],
                    f"{c['rss_before_mb']:.0f} / {c['hwm_mb']:.0f}",
                    traced,
                ]
            )
        headers = ["alerts", "copies / event time", "batches", "alerts/s", "add_many s"]
        headers += ["ms/batch", "p99 ms", "incidents", "largest", "alerts held max / end"]
        headers += ["incidents held end", "RSS start / peak MB", "traced peak / end MB"]
        out += ["Correlator.add_many:", "", table(headers, rows), ""]
        rows = []
        for r in measured:
            c = r["correlate"]
            store_s = sum(c["upsert_s"]) + sum(c["delete_s"])
            rows.append(
                [
                    c["alerts"],
                    c["written"],
                    c["retired"],
                    f"{sum(c['upsert_s']):.2f}",
                    ms(c["upsert_s"]),
                    per_version(c, first=True),
                    per_version(c, first=False),
                    ms(c["upsert_s"], 99),
                    ms(c["delete_s"]),
                    f"{store_s:.2f}",
                    k(c["alerts"] / c["wall_s"]),
                    c["stored"],
                    f"{c['db_mb']:.0f}",
                ]
            )
        headers = ["alerts", "versions written", "retired", "upsert s", "upsert ms/batch"]
        headers += ["ms/version first 10 %", "last 10 %", "p99 ms", "delete ms/batch", "store s"]
        headers += ["add_many + store alerts/s", "stored", "db MB"]
        out += ["Store work per batch (SQLite file):", "", table(headers, rows), ""]
    if measured := [r for r in done if "service" in r]:
        rows = []
        for r in measured:
            s = r["service"]
            expected = r["correlate"]["stored"] if "correlate" in r else "?"
            rows.append(
                [
                    s["alerts"],
                    f"{s['start_s']:.2f}",
                    f"{s['process_s']:.2f}",
                    k(s["alerts"] / s["process_s"]),
                    k(s["alerts"] / s["total_s"]),
                    s["batches"],
                    s["published"],
                    s["written"],
                    s["deleted"],
                    f"{s['stored']} / {expected}",
                    f"{s['cpu_s']:.2f}",
                    f"{s['broker_cpu_s']:.2f}",
                    f"{s['hwm_mb']:.0f}",
                ]
            )
        headers = ["alerts", "start s", "process s", "alerts/s", "incl. start", "batches"]
        headers += ["published", "written", "deleted", "stored / add_many's", "CPU s"]
        headers += ["broker CPU s", "peak RSS MB"]
        out += ["Service (fenghuo correlate) over the embedded broker:", "", table(headers, rows)]
    return "\n".join(out)


MODES = ("correlate", "memory", "service")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", default="10000,50000", help="alerts per run (comma-separated)")
    parser.add_argument("--modes", default=",".join(MODES), help="correlate,memory,service")
    parser.add_argument("--spacing", type=int, default=SPACING, help="hours between copies")
    parser.add_argument("--batch", type=int, default=BATCH, help="alerts per add_many")
    parser.add_argument("--timeout", type=float, default=150.0, help="per service run, seconds")
    parser.add_argument("--partitions", type=int, default=3, help="of the service's alerts topic")
    parser.add_argument("--json", action="store_true", help="also print every figure as JSON")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in MODES if m in args.modes.split(",")]

    def plan(root: Path, size: int) -> Plan:
        return Plan(root, size, args.spacing, args.batch, args.timeout, args.partitions)

    if args.worker is not None:
        run = {"correlate": run_correlate, "memory": run_memory, "service": run_service}
        print(json.dumps(run[args.worker](plan(args.root, sizes[0]))))
        return 0
    facts = machine()
    print(f"{facts['date']}; nproc {facts['nproc']}, {facts['cpu']}, Python {facts['python']}")
    print(f"copies {args.spacing} h apart, batches of {args.batch}, {args.partitions} partitions")
    with tempfile.TemporaryDirectory(prefix="fenghuo-bench-hour-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        simulate_hour(root)
        hour = hour_alerts(root)
        print(f"simulated hour: {len(hour)} alerts ({time.perf_counter() - started:.1f} s)")
        runs: dict[int, dict[str, dict[str, Any]]] = {}
        for size in sizes:
            runs[size] = {}
            for mode in modes:
                before, t0 = load_average(), time.perf_counter()
                runs[size][mode] = worker(mode, plan(root, size))
                took = time.perf_counter() - t0
                print(f"  {size} {mode}: {took:.0f} s (load {before} -> {load_average()})")
    print()
    print(report(runs))
    if args.json:
        print(json.dumps({"machine": facts, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
