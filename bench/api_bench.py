"""API latency over a real uvicorn server on a SQLite store of ~50,000 alerts and their incidents.

The store holds the correlator benchmark's stream (`bench.correlator_bench.stream`: the simulated
hour copied every 3 hours, ids unique per copy) and its incidents (`correlate()` over it), written
with the store's own `upsert`; keys of every role the requests need are created in it. The server
is `fenghuo.platform.ApiServer` (uvicorn + `create_app`, as `fenghuo api` and `fenghuo up` run
it) in a process of its own, read-only (no broker), so the client's CPU and GIL stay out of it.

One client (httpx, one keep-alive connection) sends each request kind `--warmup` times, then
`--requests` times in a row, timed one by one (wall time from send to the parsed JSON body);
every answer must be 200 with what the kind expects. A kind stops early after `--budget`
seconds (the slow stats requests). requests/s is the kind's count over its total time (single
client: 1 / mean latency). "server CPU ms" is the server process's CPU time
over the timed requests, per request.

Seeding writes 30k incidents (about a minute here), so the seeded store is kept under `--cache`
and copied for each run (`--fresh` rebuilds it).

Run: `.venv/bin/python -m bench.api_bench` (`--alerts N`, `--requests N`, `--json`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from bench.common import cpu_seconds, hwm_mb, load_average, machine, percentile, table
from bench.correlator_bench import (
    INVENTORY_FILE,
    SPACING,
    hour_alerts,
    hour_inventory,
    simulate_hour,
    stream,
)

PSEUDONYM_KEY = "bench-pseudonym-key"
API = "/api/v1"
PAGES = 20  # how deep the cursor walk goes
SEARCH_COMMON = "escape"  # in the titles of 7 of the hour's 23 alerts
SEARCH_RARE = "seccomp"  # in 1 of them


# --- the store -----------------------------------------------------------------------------


@dataclass
class Seeded:
    alerts: int
    incidents: int
    largest_incident: str
    largest_alerts: int
    viewer_tenant: str
    alert_ids: list[str]  # what the acknowledge requests act on
    newest: str  # the latest last_seen (ISO 8601), for the stats window
    tokens: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def seed(hour_root: Path, data_dir: Path, target: int) -> Seeded:
    """Write the stream's alerts and incidents and the keys into a fresh store."""
    from fenghuo.graph.correlator import correlate
    from fenghuo.settings import Settings
    from fenghuo.store.keys import Role
    from fenghuo.store.sqlite import SqliteStore

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    alerts = stream(hour_alerts(hour_root), target, SPACING)
    incidents = correlate(alerts, hour_inventory(hour_root))
    seconds["correlate"] = time.perf_counter() - started
    settings = Settings(data_dir=data_dir, pseudonym_key=PSEUDONYM_KEY)
    store = SqliteStore(settings.db_path)
    try:
        started = time.perf_counter()
        store.alerts.upsert(alerts)
        seconds["alerts upsert"] = time.perf_counter() - started
        started = time.perf_counter()
        store.incidents.upsert(incidents)
        seconds["incidents upsert"] = time.perf_counter() - started
        visible = Counter(t for a in alerts for t in {a.tenant_id, a.actor_tenant_id} if t)
        tenant = visible.most_common(1)[0][0]
        tokens = {}
        for role in (Role.ADMIN, Role.SOC_ANALYST):
            tokens[role.value] = store.keys.create(role, name=f"bench-{role.value}")[1]
        viewer = store.keys.create(Role.TENANT_VIEWER, tenant, name=f"bench-viewer-{tenant}")
        tokens["viewer"] = viewer[1]
    finally:
        store.close()
    largest = max(incidents, key=lambda i: (len(i.alert_ids), len(i.nodes), i.id))
    return Seeded(
        alerts=len(alerts),
        incidents=len(incidents),
        largest_incident=largest.id,
        largest_alerts=len(largest.alert_ids),
        viewer_tenant=tenant,
        alert_ids=[a.id for a in alerts[-1000:]],
        newest=max(a.last_seen for a in alerts).isoformat(),
        tokens=tokens,
        seconds=seconds,
    )


# --- the server process --------------------------------------------------------------------


def serve(data_dir: Path, inventory: Path) -> None:
    """The API process: prints its port, then answers `stats` on stdin with its CPU time and
    peak RSS; end of input stops it."""
    from fenghuo.api.deps import Services
    from fenghuo.ingest.kafka.broker import free_port
    from fenghuo.inventory import InventoryStore
    from fenghuo.platform import ApiServer
    from fenghuo.settings import Settings
    from fenghuo.store.sqlite import SqliteStore

    settings = Settings(data_dir=data_dir, pseudonym_key=PSEUDONYM_KEY)
    store = SqliteStore(settings.db_path)
    services = Services(settings, store, None, lambda: True, InventoryStore(inventory).current)
    port = free_port()
    server = ApiServer(services, "127.0.0.1", port)
    server.start()
    try:
        reply({"port": port})
        for line in sys.stdin:
            if line.strip() == "stats":
                reply({"cpu_s": cpu_seconds(), "hwm_mb": hwm_mb()})
    finally:
        server.stop()
        store.close()


def reply(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


class Server:
    """The client's handle on the API process."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{self.ask(None)['port']}"

    def ask(self, command: str | None) -> dict[str, Any]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        if stdin is None or stdout is None:
            msg = "the API process has no pipes"
            raise RuntimeError(msg)
        if command is not None:
            stdin.write(command + "\n")
            stdin.flush()
        line = stdout.readline()
        if not line:
            msg = f"the API process exited ({self.proc.wait()})"
            raise RuntimeError(msg)
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextmanager
def server(data_dir: Path, inventory: Path) -> Iterator[Server]:
    cmd = [sys.executable, "-m", "bench.api_bench", "--serve", str(data_dir), str(inventory)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield Server(proc)
    finally:
        stdin: IO[str] | None = proc.stdin
        if stdin is not None:
            stdin.close()  # the server stops on end of input
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the requests --------------------------------------------------------------------------

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Kind:
    """One request kind: `send(client, i)` sends the i-th request and returns its response."""

    name: str
    send: Callable[[httpx.Client, int], httpx.Response]
    check: Check


@dataclass
class Result:
    name: str
    latencies: list[float]
    total_s: float
    server_cpu_s: float
    detail: str = ""


def _items(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("items"), list) and bool(body["items"])


def kinds(seeded: Seeded) -> list[Kind]:
    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {seeded.tokens[who]}"}

    def get(who: str, path: str, **params: str | int) -> Callable[[httpx.Client, int], Any]:
        return lambda client, _i: client.get(path, headers=auth(who), params=params)

    walk: dict[str, str | None] = {"cursor": None}

    def page(client: httpx.Client, i: int) -> httpx.Response:
        """Page i % 20 + 1 of a walk: the first page starts a new walk."""
        params: dict[str, str | int] = {"limit": 50}
        cursor = walk["cursor"] if i % PAGES else None
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get(f"{API}/alerts", headers=auth("admin"), params=params)
        walk["cursor"] = response.json().get("next_cursor") if response.is_success else None
        return response

    def acknowledge(client: httpx.Client, i: int) -> httpx.Response:
        alert_id = seeded.alert_ids[i % len(seeded.alert_ids)]
        return client.post(
            f"{API}/alerts/{alert_id}/actions",
            headers=auth("soc_analyst"),
            json={"action": "acknowledge", "comment": "bench"},
        )

    def paged(body: Any) -> bool:
        return _items(body) and body.get("next_cursor") is not None

    incident = f"{API}/incidents/{seeded.largest_incident}"
    until = dt.datetime.fromisoformat(seeded.newest) + dt.timedelta(seconds=1)
    day = {"since": (until - dt.timedelta(days=1)).isoformat(), "until": until.isoformat()}

    def stats(b: Any) -> bool:
        return isinstance(b, dict) and "alerts" in b

    return [
        Kind("alerts limit=50 (admin)", get("admin", f"{API}/alerts", limit=50), paged),
        Kind("alerts limit=50 (tenant_viewer)", get("viewer", f"{API}/alerts", limit=50), paged),
        Kind(f"alerts, next_cursor {PAGES} pages deep (admin)", page, paged),
        Kind(
            f"alerts q={SEARCH_COMMON} (admin)",
            get("admin", f"{API}/alerts", q=SEARCH_COMMON, limit=50),
            _items,
        ),
        Kind(
            f"alerts q={SEARCH_RARE} (admin)",
            get("admin", f"{API}/alerts", q=SEARCH_RARE, limit=50),
            _items,
        ),
        Kind(
            "alerts min_severity=high (admin)",
            get("admin", f"{API}/alerts", min_severity="high", limit=50),
            paged,
        ),
        Kind("incidents limit=50 (admin)", get("admin", f"{API}/incidents", limit=50), paged),
        Kind(
            "incident: the largest (admin)",
            get("admin", incident),
            lambda b: isinstance(b, dict) and "incident" in b,
        ),
        Kind("stats, last day, bucket=1h (admin)", get("admin", f"{API}/stats", **day), stats),
        Kind("stats, last day (tenant_viewer)", get("viewer", f"{API}/stats", **day), stats),
        Kind(
            "stats, all time, bucket=1d (admin)", get("admin", f"{API}/stats", bucket="1d"), stats
        ),
        Kind("stats, all time (tenant_viewer)", get("viewer", f"{API}/stats", bucket="1d"), stats),
        Kind(
            "POST alert action acknowledge (soc_analyst)",
            acknowledge,
            lambda b: isinstance(b, dict),
        ),
    ]


class BadAnswerError(AssertionError):
    """The API answered a benchmark request with something else than expected."""


def call(kind: Kind, client: httpx.Client, i: int) -> float:
    started = time.perf_counter()
    response = kind.send(client, i)
    body = response.json()
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or not kind.check(body):
        msg = f"{kind.name}: {response.status_code} {response.text[:300]}"
        raise BadAnswerError(msg)
    return elapsed


def measure(
    kind: Kind, client: httpx.Client, api: Server, warmup: int, n: int, budget: float
) -> Result:
    """`warmup` requests, then `n` timed ones, or fewer when `budget` seconds run out (at
    least 5 timed after at least 1 warm-up)."""
    started = time.perf_counter()
    done = 0
    while done < warmup and (done < 1 or time.perf_counter() - started < budget / 10):
        call(kind, client, done)
        done += 1
    before = api.ask("stats")["cpu_s"]
    started = time.perf_counter()
    latencies: list[float] = []
    while len(latencies) < n and (len(latencies) < 5 or time.perf_counter() - started < budget):
        latencies.append(call(kind, client, done + len(latencies)))
    total = time.perf_counter() - started
    return Result(kind.name, latencies, total, api.ask("stats")["cpu_s"] - before)


def rate(per_s: float) -> str:
    return f"{per_s:.0f}" if per_s >= 10 else f"{per_s:.1f}"


def report(results: Sequence[Result]) -> str:
    rows = [
        [
            r.name,
            len(r.latencies),
            f"{1000 * percentile(r.latencies, 50):.1f}",
            f"{1000 * percentile(r.latencies, 99):.1f}",
            f"{1000 * max(r.latencies):.1f}",
            rate(len(r.latencies) / r.total_s),
            f"{1000 * r.server_cpu_s / len(r.latencies):.1f}",
        ]
        for r in results
    ]
    headers = ["request", "n", "p50 ms", "p99 ms", "max ms", "requests/s", "server CPU ms"]
    return table(headers, rows)


def prepared(cache: Path, target: int, fresh: bool) -> Seeded:
    """The seeded store under `cache` (built once: writing 30k incidents takes a minute)."""
    meta = cache / "seeded.json"
    if fresh or not meta.exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        started = time.perf_counter()
        simulate_hour(cache)
        print(f"simulated hour ({time.perf_counter() - started:.1f} s)")
        seeded = seed(cache, cache / "var", target)
        meta.write_text(json.dumps(asdict(seeded)))
        return seeded
    print(f"reusing the store in {cache} (--fresh rebuilds it)")
    return Seeded(**json.loads(meta.read_text()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=50_000, help="alerts in the store")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per kind first")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per kind at most")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "fenghuo-bench-api"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    parser.add_argument("--json", action="store_true", help="also print every latency as JSON")
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(*args.serve)
        return 0
    facts = machine()
    print(f"{facts['date']}; nproc {facts['nproc']}, {facts['cpu']}, Python {facts['python']}")
    cache = args.cache / f"{args.alerts}-every-{SPACING}h"
    seeded = prepared(cache, args.alerts, args.fresh)
    db_mb = sum(p.stat().st_size for p in (cache / "var").glob("*.db*")) / 1e6
    took = ", ".join(f"{k} {v:.1f} s" for k, v in seeded.seconds.items())
    print(
        f"store: {seeded.alerts} alerts, {seeded.incidents} incidents (seeded: {took}), "
        f"{db_mb:.0f} MB; largest incident {seeded.largest_alerts} alerts; "
        f"viewer of {seeded.viewer_tenant}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="fenghuo-bench-api-") as tmp:
        data_dir = Path(tmp) / "var"
        shutil.copytree(cache / "var", data_dir)  # the acknowledgements do not pile up
        with (
            server(data_dir, cache / INVENTORY_FILE) as api,
            httpx.Client(base_url=api.url, timeout=120) as client,
        ):
            for kind in kinds(seeded):
                before, started = load_average(), time.perf_counter()
                results.append(measure(kind, client, api, args.warmup, args.requests, args.budget))
                took_s = time.perf_counter() - started
                print(f"  {kind.name}: {took_s:.0f} s (load {before} -> {load_average()})")
            peak = api.ask("stats")["hwm_mb"]
    print()
    print(report(results))
    print(f"\nserver peak RSS {peak:.0f} MB")
    if args.json:
        runs = [{"name": r.name, "latencies": r.latencies, "total_s": r.total_s} for r in results]
        print(json.dumps({"machine": facts, "store": seeded.seconds, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
