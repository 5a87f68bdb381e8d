"""The console overview's requests on a large SQLite store: 1,000,000 alerts, 50,000 incidents.

Goal (issue 10): the overview's first meaningful paint under 1 s, i.e. each request it needs
first answered in about 300 ms: `/api/v1/stats` over the last hour and the last 24 hours, the
first page of `/api/v1/incidents` and of `/api/v1/alerts` (limit 50).

Seeding, chosen for speed and for the real schema: alerts are synthetic `Alert` structs (five
tenants of the demo inventory, hosts, detectors and severities spread, evidence times over the
last 30 days, so the last hour holds ~1/720 of them) written by direct SQL: the alert store's own
upsert statement and row encoder (`fenghuo.store.alerts._UPSERT`, `_row`) in `executemany`
batches of 50,000, on a store the migrations created, so the triggers (full text, change log)
run as in production. Incidents go through `store.incidents.upsert` (batches of 5,000), and
5% of them get an analyst action through `store.actions.record` (resolved, acknowledged), so the
status join has rows to join. The seeded database is kept under `--cache` (`--fresh` rebuilds).

The server is `bench.api_bench`'s: `fenghuo.platform.ApiServer` in a process of its own. One
client (httpx, keep-alive) sends each kind `--warmup` times, then `--requests` times, timed one
by one (send to parsed JSON). Run: `.venv/bin/python -m bench.console_bench`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import httpx

from bench.api_bench import server
from bench.common import machine, percentile, table
from fenghuo.demo.samples import demo_inventory_path
from fenghuo.model.alert import Alert, Entity, Severity
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.alerts import _UPSERT, _row
from fenghuo.store.base import ActionKind, AnalystAction, Scope
from fenghuo.store.keys import Role
from fenghuo.store.sqlite import SqliteStore

TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")
HOSTS = tuple(f"hv-{n:02d}" for n in range(1, 41))
DETECTORS = (
    "vmm-child-process", "cross-tenant-flow", "imds-credential-exfil", "container-escape",
    "ssh-brute-force", "audit-logging-tampering", "port-scan", "crypto-mining",
)  # fmt: skip
SEVERITY_MIX = (
    (Severity.INFO, 30), (Severity.LOW, 30), (Severity.MEDIUM, 25),
    (Severity.HIGH, 12), (Severity.CRITICAL, 3),
)  # fmt: skip
SPAN = dt.timedelta(days=30)
API = "/api/v1"


def _severities(rng: random.Random, n: int) -> list[Severity]:
    return rng.choices([s for s, _ in SEVERITY_MIX], [w for _, w in SEVERITY_MIX], k=n)


def make_alerts(now: dt.datetime, start: int, n: int, rng: random.Random) -> list[Alert]:
    found = []
    for i, severity in zip(range(start, start + n), _severities(rng, n), strict=True):
        tenant = TENANTS[i % len(TENANTS)]
        actor = TENANTS[(i + 1) % len(TENANTS)] if i % 17 == 0 else None
        host = HOSTS[i % len(HOSTS)]
        detector = DETECTORS[i % len(DETECTORS)]
        first = now - SPAN * rng.random()
        found.append(
            Alert(
                id=f"bench-alert-{i:07d}",
                detector=detector,
                title=f"{detector} on {host}",
                summary=f"{detector}: activity of {actor or tenant} against {tenant} on {host}",
                severity=severity,
                confidence=0.8,
                technique="T1611",
                category="MI-01",
                tenant_id=tenant,
                actor_tenant_id=actor,
                host_id=host,
                entities=(Entity("tenant", tenant), Entity("host", host)),
                first_seen=first,
                last_seen=first + dt.timedelta(seconds=rng.randint(0, 300)),
                detected_at=first + dt.timedelta(seconds=rng.randint(1, 30)),
                evidence=(f"ev-{i}",),
                evidence_count=1,
            )
        )
    return found


def make_incidents(now: dt.datetime, n: int, rng: random.Random) -> list[Incident]:
    found = []
    grades = list(Grade)
    for i, severity in zip(range(n), _severities(rng, n), strict=True):
        first = now - SPAN * rng.random()
        tenant = TENANTS[i % len(TENANTS)]
        actors = (TENANTS[(i + 2) % len(TENANTS)],) if i % 7 == 0 else ()
        found.append(
            Incident(
                id=f"bench-incident-{i:06d}",
                title=f"Incident {i} against {tenant}",
                severity=severity,
                alert_ids=tuple(f"bench-alert-{(i * 20 + k):07d}" for k in range(3)),
                tenants=(tenant,),
                actor_tenants=actors,
                hosts=(HOSTS[i % len(HOSTS)],),
                first_seen=first,
                last_seen=first + dt.timedelta(minutes=rng.randint(0, 120)),
                updated_at=first + dt.timedelta(minutes=130),
                category="MI-01",
                grade=grades[i % len(grades)],
                risk_score=round(rng.random() * 100, 1),
            )
        )
    return found


def seed(path: Path, n_alerts: int, n_incidents: int) -> tuple[str, float]:
    """Write the store; return an admin token and the seconds it took."""
    began = time.perf_counter()
    rng = random.Random(10)
    now = dt.datetime.now(dt.UTC)
    store = SqliteStore(path)  # runs the migrations
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("PRAGMA synchronous=OFF")
            for start in range(0, n_alerts, 50_000):
                rows = [
                    _row(a) for a in make_alerts(now, start, min(50_000, n_alerts - start), rng)
                ]
                db.execute("BEGIN")
                db.executemany(_UPSERT, rows)
                db.execute("COMMIT")
                print(f"  alerts {start + len(rows):>9,}  {time.perf_counter() - began:6.1f} s")
        incidents = make_incidents(now, n_incidents, rng)
        for start in range(0, n_incidents, 5_000):
            store.incidents.upsert(incidents[start : start + 5_000])
        for i, incident in enumerate(incidents[::20]):
            kind = ActionKind.RESOLVE if i % 2 else ActionKind.ACKNOWLEDGE
            action = AnalystAction(
                id=f"bench-action-{i}",
                target_kind="incident",
                target_id=incident.id,
                kind=kind,
                actor="bench",
                role="soc_analyst",
                at=now,
            )
            store.actions.record(Scope.everything(), action)
        print(f"  incidents {n_incidents:,}  {time.perf_counter() - began:6.1f} s")
        _key, token = store.keys.create(Role.ADMIN, name="bench-admin")
    finally:
        store.close()
    return token, time.perf_counter() - began


def data_dir_of(cache: Path, n_alerts: int, n_incidents: int) -> Path:
    """Where the store of this size is kept under `cache`."""
    return cache / f"a{n_alerts}-i{n_incidents}"


def prepared(cache: Path, n_alerts: int, n_incidents: int, fresh: bool) -> str:
    """The seeded store's data directory filled (once; `fresh` rebuilds it); its admin token."""
    data_dir = data_dir_of(cache, n_alerts, n_incidents)
    token_file = data_dir / "token"
    if token_file.exists() and not fresh:
        return token_file.read_text()
    if data_dir.exists():
        for child in data_dir.iterdir():
            child.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    token, seconds = seed(data_dir / "fenghuo.db", n_alerts, n_incidents)
    print(f"seeded {n_alerts:,} alerts and {n_incidents:,} incidents in {seconds:.0f} s")
    token_file.write_text(token)
    return token


def viewer_token(data_dir: Path, tenant: str) -> str:
    """A tenant viewer's key in the seeded store, created once and kept beside it."""
    token_file = data_dir / f"token-viewer-{tenant}"
    if token_file.exists():
        return token_file.read_text()
    store = SqliteStore(data_dir / "fenghuo.db")
    try:
        _key, token = store.keys.create(Role.TENANT_VIEWER, tenant, name=f"bench-viewer-{tenant}")
    finally:
        store.close()
    token_file.write_text(token)
    return token


def kinds(now: dt.datetime) -> dict[str, tuple[str, dict[str, str | int]]]:
    def iso(delta: dt.timedelta) -> str:
        return (now - delta).isoformat().replace("+00:00", "Z")

    return {
        "stats, last hour (bucket 1m)": (
            f"{API}/stats",
            {"since": iso(dt.timedelta(hours=1)), "bucket": "1m"},
        ),
        "stats, last 24 h (bucket 1h)": (
            f"{API}/stats",
            {"since": iso(dt.timedelta(hours=24)), "bucket": "1h"},
        ),
        "incidents?limit=50": (f"{API}/incidents", {"limit": 50}),
        "alerts?limit=50": (f"{API}/alerts", {"limit": 50}),
        "stats, 30 days (bucket 1d), for scale": (
            f"{API}/stats",
            {"since": iso(dt.timedelta(days=30)), "bucket": "1d"},
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per kind at most")
    parser.add_argument("--cache", type=Path, default=Path("var/bench-console"))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    token = prepared(args.cache, args.alerts, args.incidents, args.fresh)
    data_dir = data_dir_of(args.cache, args.alerts, args.incidents)
    rows = []
    results = {}
    headers = {"Authorization": f"Bearer {token}"}
    with (
        server(data_dir, demo_inventory_path()) as api,
        httpx.Client(base_url=api.url, headers=headers, timeout=120) as client,
    ):
        for name, (path, params) in kinds(dt.datetime.now(dt.UTC)).items():
            times: list[float] = []
            stop = time.perf_counter() + args.budget
            for i in range(args.warmup + args.requests):
                if times and time.perf_counter() > stop:
                    break
                began = time.perf_counter()
                response = client.get(path, params=params)
                body = response.json()
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    msg = f"{name}: {response.status_code} {body}"
                    raise AssertionError(msg)
                if i >= args.warmup:
                    times.append(elapsed)
            p50, p99 = percentile(times, 50), percentile(times, 99)
            results[name] = {"p50_ms": p50, "p99_ms": p99, "n": len(times)}
            rows.append((name, f"{p50:.0f}", f"{p99:.0f}", len(times)))
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
    else:
        print(json.dumps(machine()))
        print(table(("request", "p50 ms", "p99 ms", "n"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
