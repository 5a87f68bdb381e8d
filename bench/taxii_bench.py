"""TAXII page latency over a real uvicorn server on a SQLite collection of 100,000 objects.

One collection holds `--objects` indicators (appended through the store's own `append`, in
batches, as the feed writer does) plus a second version of every tenth of them, so that the
default `match[version]=last` has versions to skip. The server is `fenghuo.platform.ApiServer`
in a process of its own (the client's CPU and GIL stay out of it); one httpx client with one
keep-alive connection sends, as a regulator granted the collection, timed one by one (send to
parsed JSON):

- `first page`: the first page of 100 objects, `--requests` times;
- `deep pages`: every page of 100 of the whole collection, following `next` (a full walk);
- `added_after`: a page of 100 after a random date added taken from the collection;
- `manifest deep`: manifest pages of 100 after random cursors (taken from the walk).

Every answer must be 200, and the walk must see every object exactly once.
Run: `.venv/bin/python -m bench.taxii_bench` (`--objects N`, `--requests N`, `--json`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.common import load_average, machine, percentile, table

PAGE = 100
NAMESPACE = uuid.UUID("8d1b7c0e-55a4-4f7e-9a57-7f2b1e3c9d01")
T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def _indicator(n: int, minute: int) -> dict[str, Any]:
    stamp = (T0 + dt.timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(NAMESPACE, str(n))}",
        "created": T0.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "modified": stamp,
        "name": f"bench indicator {n}",
        "description": "a benchmark object of about the size of an incident's indicator",
        "pattern": f"[ipv4-addr:value = '10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}']",
        "pattern_type": "stix",
        "valid_from": stamp,
        "labels": ["benchmark", "fenghuo"],
    }


def seed(data_dir: Path, objects: int) -> tuple[str, str, float]:
    """The collection's id, a regulator's token and the seconds the appends took."""
    from fenghuo.intel.collections import Collection
    from fenghuo.settings import Settings
    from fenghuo.store.keys import Role
    from fenghuo.store.sqlite import SqliteStore

    store = SqliteStore(Settings(data_dir=data_dir).db_path)
    key, token = store.keys.create(Role.REGULATOR, name="bench-regulator")
    collection = store.collections.create(
        Collection(
            id=str(uuid.uuid4()),
            title="bench",
            readers=(key.id,),
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    start = time.perf_counter()
    batch = 5_000
    for first in range(0, objects, batch):
        store.objects.append(
            collection.id, [_indicator(n, 0) for n in range(first, min(first + batch, objects))]
        )
    store.objects.append(collection.id, [_indicator(n, 1) for n in range(0, objects, 10)])
    took = time.perf_counter() - start
    store.close()
    return collection.id, token, took


def serve(data_dir: Path) -> None:
    """The server process: prints its port, stops at the end of its input."""
    from fenghuo.api.deps import Services
    from fenghuo.ingest.kafka.broker import free_port
    from fenghuo.platform import ApiServer
    from fenghuo.settings import Settings
    from fenghuo.store.sqlite import SqliteStore

    settings = Settings(data_dir=data_dir, pseudonym_key="bench-taxii-pseudonym-key")
    store = SqliteStore(settings.db_path)
    port = free_port()
    server = ApiServer(Services(settings, store, None, lambda: True), "127.0.0.1", port)
    server.start()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        server.stop()
        store.close()


def timed(call: Callable[[], httpx.Response]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = call()
    body = response.json()
    took = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        msg = f"{response.status_code}: {response.text[:200]}"
        raise SystemExit(msg)
    return took, body


def run(objects: int, requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="taxii-bench-") as tmp:
        data_dir = Path(tmp)
        collection_id, token, seeding = seed(data_dir, objects)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.taxii_bench", "--serve", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            port = json.loads(proc.stdout.readline())["port"]
            return measure(port, collection_id, token, objects, requests) | {
                "seeding_s": round(seeding, 1)
            }
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


def measure(
    port: int, collection_id: str, token: str, objects: int, requests: int
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/taxii2/fenghuo/collections/{collection_id}/"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/taxii+json;version=2.1"}
    results: dict[str, list[float]] = {}
    rng = random.Random(7)
    with httpx.Client(headers=headers, timeout=30) as client:

        def get(path: str, **params: Any) -> Callable[[], httpx.Response]:
            return lambda: client.get(base + path, params=params)

        for _ in range(20):  # warm-up
            timed(get("objects/", limit=PAGE))
        results["first page"] = [timed(get("objects/", limit=PAGE))[0] for _ in range(requests)]

        walk: list[float] = []
        seen: set[str] = set()
        cursors: list[str] = []
        body: dict[str, Any] = {"more": True}
        while body["more"]:
            params: dict[str, Any] = {"limit": PAGE}
            if "next" in body:
                params["next"] = body["next"]
                cursors.append(body["next"])
            took, body = timed(get("objects/", **params))
            walk.append(took)
            seen.update(o["id"] for o in body["objects"])
        if len(seen) != objects:
            msg = f"the walk saw {len(seen)} objects, not {objects}"
            raise SystemExit(msg)
        results["deep pages (walk)"] = walk

        dates = [
            m["date_added"]
            for c in rng.sample(cursors, min(50, len(cursors)))
            for m in timed(get("manifest/", limit=PAGE, next=c))[1]["objects"]
        ]
        after: list[float] = []
        for _ in range(requests):
            took, _page = timed(get("objects/", limit=PAGE, added_after=rng.choice(dates)))
            after.append(took)
        results["added_after"] = after
        results["manifest deep"] = [
            timed(get("manifest/", limit=PAGE, next=rng.choice(cursors)))[0]
            for _ in range(requests)
        ]
    return {
        "objects": objects,
        "versions": objects + len(range(0, objects, 10)),
        "kinds": {
            kind: {
                "n": len(values),
                "p50_ms": round(percentile(values, 50), 2),
                "p99_ms": round(percentile(values, 99), 2),
                "max_ms": round(max(values), 2),
            }
            for kind, values in results.items()
        },
    }


def report(result: dict[str, Any]) -> str:
    rows = [
        (kind, k["n"], k["p50_ms"], k["p99_ms"], k["max_ms"]) for kind, k in result["kinds"].items()
    ]
    head = (
        f"{result['objects']:,} objects ({result['versions']:,} versions), pages of {PAGE},"
        f" seeded in {result['seeding_s']} s; load {load_average()}"
    )
    return head + "\n\n" + table(("request", "n", "p50 ms", "p99 ms", "max ms"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    result = run(args.objects, args.requests) | {"machine": machine()}
    sys.stdout.write((json.dumps(result, indent=2) if args.json else report(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
