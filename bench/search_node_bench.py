"""Start time and memory of the embedded OpenSearch 2.19.6 node (SearchNode).

Per run: `setup`, the jar set installed into an empty artifacts folder (74 jars copied from the
local Maven repository and checked, the Java main compiled); `fresh`, the first start on an empty
data dir (a new cluster); `restart`, a start on the same dir after a clean stop. For each start:
time until `SearchNode.start` returns (started line and green health), the JVM's CPU seconds and
RSS (VmRSS of /proc) then; RSS after `--idle` seconds idle; RSS and CPU after N small documents
were bulk-indexed and searched (after a restart: one search of the documents kept); time to
stop (SIGTERM). A third start, fresh, leaves Painless out (`SearchNode(scripts=False)`).

    .venv/bin/python -m bench.search_node_bench --runs 3 --docs 20000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from fenghuo.maven_jars import ensure_jars, load_jar_sets
from fenghuo.store.search_node import DEFAULT_HEAP, JAR_SET, SearchNode

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
COLUMNS = ["ready", "cpu_ready", "rss_ready", "rss_idle", "rss_loaded", "cpu_loaded", "stop"]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def load(url: str, docs: int) -> None:
    """Bulk-index `docs` alert-like documents in batches of 1,000, then search them."""
    with httpx.Client(base_url=url, timeout=120) as c:
        for start in range(0, docs, 1000):
            lines = []
            for i in range(start, min(start + 1000, docs)):
                lines.append('{"index":{"_index":"bench"}}')
                lines.append(
                    f'{{"title":"alert {i} VM escape on hv-{i % 7:02d}","tenant":"t{i % 50}",'
                    f'"severity":{i % 5},"at":"2026-12-07T21:{i % 60:02d}:00Z"}}'
                )
            body = "\n".join(lines) + "\n"
            r = c.post("/_bulk", content=body, headers={"content-type": "application/x-ndjson"})
            r.raise_for_status()
            if r.json()["errors"]:
                msg = "bulk indexing reported errors"
                raise RuntimeError(msg)
        c.post("/bench/_refresh").raise_for_status()
        hits = c.post("/bench/_search", json={"query": {"match": {"title": "escape"}}}).json()
        if hits["hits"]["total"]["value"] < min(docs, 10_000):
            msg = f"search found {hits['hits']['total']} of {docs}"
            raise RuntimeError(msg)


def node_run(
    data_dir: Path, jars: Path, docs: int, idle: float, *, scripts: bool = True
) -> dict[str, float]:
    node = SearchNode(data_dir=data_dir, jars=jars, scripts=scripts)
    t0 = time.monotonic()
    node.start()
    ready = time.monotonic() - t0
    pid = node.pid
    assert pid is not None
    row = {"ready": ready, "rss_ready": rss_mb(pid), "cpu_ready": cpu_s(pid)}
    time.sleep(idle)  # the measurement: memory of a node left alone
    row["rss_idle"] = rss_mb(pid)
    load(node.url, docs)
    row |= {"rss_loaded": rss_mb(pid), "cpu_loaded": cpu_s(pid)}
    t1 = time.monotonic()
    node.stop()
    row["stop"] = time.monotonic() - t1
    return row


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before RSS")
    args = parser.parse_args()
    jar_set = load_jar_sets()[JAR_SET]
    setups: list[float] = []
    results: dict[str, list[dict[str, float]]] = {
        "fresh": [],
        "restart": [],
        "fresh, no Painless": [],
    }
    loads: list[float] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fenghuo-bench-search-") as tmp:
            t0 = time.monotonic()
            jars = ensure_jars(jar_set, root=Path(tmp) / "artifacts")
            setups.append(time.monotonic() - t0)
            data_dir = Path(tmp) / "search"
            results["fresh"].append(node_run(data_dir, jars, args.docs, args.idle))
            results["restart"].append(node_run(data_dir, jars, 0, args.idle))
            bare = node_run(Path(tmp) / "bare", jars, args.docs, args.idle, scripts=False)
            results["fresh, no Painless"].append(bare)
            loads.append(os.getloadavg()[0])
    print(f"host: {platform.node()} {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"runs {args.runs}, docs {args.docs}, heap {DEFAULT_HEAP}, idle {args.idle:.0f} s")
    print(f"load average (1 min) after each run: {', '.join(f'{x:.1f}' for x in loads)}")
    print(f"setup (copy from ~/.m2, verify, javac) s: {cell(setups)}")
    print(
        "| start | ready s | CPU s at ready | RSS MB at ready | RSS MB idle | RSS MB loaded "
        "| CPU s loaded | stop s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | " + " | ".join(cell([r[c] for r in rows]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
