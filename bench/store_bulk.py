"""Alert upserts on a real search server: per document (the store's write path before bulk: one
real-time GET, a search of the alias when absent, one conditional index call per alert) against
bulk (`EsAlerts.upsert`: one mget, one search for the absent ids, one `_bulk` per chunk).

Usage: .venv/bin/python -m bench.store_bulk --url http://127.0.0.1:PORT [--flavour opensearch]
[--alerts 5000] [--batch 500]. It needs a running server (it starts none) and works under a
fresh index prefix that it deletes afterwards. Production settings: no refresh per write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from fenghuo.model.alert import Alert, Entity, Severity, merge_alerts
from fenghuo.store import es_docs
from fenghuo.store.elastic import ElasticStore
from fenghuo.store.elastic_io import Found, Indices
from fenghuo.store.search_client import Flavour, SearchConflict, SearchNotFound, connect

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def alerts(n: int, evidence: str) -> list[Alert]:
    return [
        Alert(
            id=f"bench-{i:06d}",
            detector="vmm-crash",
            title="QEMU crashed",
            summary=f"qemu process of acme-web-{i % 50} crashed",
            severity=Severity.MEDIUM,
            confidence=0.5,
            technique="T1499",
            category="DA01",
            tenant_id=f"tenant-{i % 20}",
            actor_tenant_id=None,
            host_id=f"hv-{i % 10:02d}",
            entities=(Entity("host", f"hv-{i % 10:02d}"),),
            first_seen=T0 + dt.timedelta(seconds=i),
            last_seen=T0 + dt.timedelta(seconds=i + 60),
            detected_at=T0 + dt.timedelta(seconds=i + 61),
            evidence=(evidence,),
        )
        for i in range(n)
    ]


def per_document(es: Indices, batch: Sequence[Alert]) -> None:
    """The write path before bulk, through the same client layer: for each alert, read it in
    real time where it lives, merge, then create or conditionally overwrite it."""
    for alert in batch:
        while True:
            found = _locate_one(es, alert.id)
            if found is None:
                document: dict[str, Any] | None = es_docs.alert_document(alert)
            else:
                stored, state, applied = es_docs.decode_alert_doc(found.source)
                merged = merge_alerts(stored, alert)
                document = (
                    None if merged == stored else es_docs.alert_document(merged, state, applied)
                )
            if document is None:
                break
            try:
                if found is None:
                    es.client.index(
                        index=es.names.alias("alerts"),
                        id=alert.id,
                        document=document,
                        op_type="create",
                    )
                else:
                    es.client.index(
                        index=found.index,
                        id=alert.id,
                        document=document,
                        if_seq_no=found.seq_no,
                        if_primary_term=found.primary_term,
                    )
            except SearchConflict:
                continue
            break


def _locate_one(es: Indices, doc_id: str) -> Found | None:
    """GET on the write index, then a search of the alias (what `locate` did per document)."""
    write = es.write_index("alerts")
    try:
        got = es.client.get(index=write, id=doc_id)
        return Found(got["_index"], got["_seq_no"], got["_primary_term"], got["_source"])
    except SearchNotFound:
        pass
    hits = es.client.search(
        index=es.names.alias("alerts"), query={"ids": {"values": [doc_id]}}, size=1, source=False
    )["hits"]["hits"]
    if not hits or hits[0]["_index"] == write:
        return None
    got = es.client.get(index=hits[0]["_index"], id=doc_id)
    return Found(got["_index"], got["_seq_no"], got["_primary_term"], got["_source"])


def timed(
    store: ElasticStore, write: Callable[[Sequence[Alert]], object], all_alerts: list[Alert], b: int
) -> float:
    started = time.perf_counter()
    for start in range(0, len(all_alerts), b):
        write(all_alerts[start : start + b])
    return time.perf_counter() - started


def run(url: str, flavour: Flavour, n: int, batch: int) -> None:
    for name in ("per-document", "bulk"):
        store = ElasticStore(connect(flavour, url), f"fenghuo-bench-{uuid.uuid4().hex[:8]}-")
        store.bootstrap()
        try:
            if name == "bulk":
                write: Callable[[Sequence[Alert]], object] = store.alerts.upsert
            else:
                es = store._es  # the bench replays the old path on the store's own plumbing

                def write(batch_: Sequence[Alert], es: Indices = es) -> None:
                    per_document(es, batch_)

            created = timed(store, write, alerts(n, "e1"), batch)
            merged = timed(store, write, alerts(n, "e2"), batch)
            store.client.indices.refresh(index=store.names.alias("alerts"))
            count = store.client.count(index=store.names.alias("alerts"))["count"]
            assert count == n, count
            print(
                f"{name:>12}: {n} new alerts in batches of {batch}: {created:6.2f} s"
                f" = {n / created:7.0f} docs/s; the same {n} merged again: {merged:6.2f} s"
                f" = {n / merged:7.0f} docs/s"
            )
        finally:
            store.drop()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--flavour", choices=["opensearch", "elasticsearch"], default="opensearch")
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    run(args.url, args.flavour, args.alerts, args.batch)


if __name__ == "__main__":
    main()
