"""Search queries of the store (Elasticsearch and OpenSearch alike): the bool query of an alert
or incident query, the sort orders and `search_after` paging, and the alert statistics'
aggregations with their parsing. Pure functions, no client, unit-tested without a server
(`tests/store/test_es_docs.py`, which also checks that every field used here is mapped by
`fenghuo.store.es_docs`).

Tenant scope is inside every query: `scope_filters` puts a `term` filter on
`fenghuo.scope_tenants` (every tenant a document involves, victim or actor) in the bool query's
filter, never applied to the hits afterwards, so counts and aggregations are scoped too.

Exclusions are the bool query's `must_not` `terms`: a document without the field (an alert
without a host) matches no `terms` and so is kept, as SQLite keeps a NULL column
(`fenghuo.store.sqlite_queries`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fenghuo.store.base import (
    AlertQuery,
    AlertStats,
    IncidentQuery,
    Scope,
    StoreError,
    decode_cursor,
    epoch_ms,
)


def scope_filters(scope: Scope, narrower: str | None = None) -> list[dict[str, Any]]:
    """The tenant filters of a scope (and an optional narrower tenant), for a bool filter."""
    return [
        {"term": {"fenghuo.scope_tenants": tenant}}
        for tenant in (scope.tenant, narrower)
        if tenant is not None
    ]


def _text(text: str | None) -> list[dict[str, Any]]:
    if text is None or not text.strip():
        return []
    # Every word must occur; a word of several tokens ("acme-web-1") as a phrase, as on SQLite.
    return [
        {"multi_match": {"query": word, "fields": ["fenghuo.title", "message"], "type": "phrase"}}
        for word in text.split()
        if re.search(r"\w", word)
    ]


def _terms(field: str, values: frozenset[Any]) -> list[dict[str, Any]]:
    return [{"terms": {field: sorted(str(v) for v in values)}}] if values else []


def _time(since: dt.datetime | None, until: dt.datetime | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if since is not None:
        out.append({"range": {"fenghuo.last_seen_ms": {"gte": epoch_ms(since)}}})
    if until is not None:
        out.append({"range": {"fenghuo.first_seen_ms": {"lt": epoch_ms(until)}}})
    return out


def alert_query(scope: Scope, query: AlertQuery, ids: list[str] | None = None) -> dict[str, Any]:
    """The bool query selecting what `query` asks for inside `scope`."""
    filters = [
        *scope_filters(scope, query.tenant),
        *_terms("fenghuo.severity", frozenset(s.value for s in query.severities)),
        *_terms("rule.id", query.detectors),
        *_terms("fenghuo.analyst.status", frozenset(s.value for s in query.statuses)),
        *([{"term": {"host.id": query.host_id}}] if query.host_id is not None else []),
        *_time(query.since, query.until),
        *([{"ids": {"values": ids}}] if ids is not None else []),
    ]
    excluded = [
        *_terms("fenghuo.scope_tenants", query.exclude_tenants),
        *_terms("host.id", query.exclude_hosts),
        *_terms("rule.id", query.exclude_detectors),
    ]
    return _bool(filters, _text(query.text), excluded)


def incident_query(
    scope: Scope, query: IncidentQuery, ids: list[str] | None = None
) -> dict[str, Any]:
    filters = [
        *scope_filters(scope, query.tenant),
        *_terms("fenghuo.severity", frozenset(s.value for s in query.severities)),
        *_terms("fenghuo.grade", frozenset(g.value for g in query.grades)),
        *_terms("fenghuo.analyst.status", frozenset(s.value for s in query.statuses)),
        *([{"term": {"host.id": query.host_id}}] if query.host_id is not None else []),
        *_time(query.since, query.until),
        *([{"ids": {"values": ids}}] if ids is not None else []),
    ]
    excluded = [
        *_terms("fenghuo.scope_tenants", query.exclude_tenants),
        *_terms("host.id", query.exclude_hosts),
    ]
    return _bool(filters, _text(query.text), excluded)


def _bool(
    filters: list[dict[str, Any]], must: list[dict[str, Any]], must_not: list[dict[str, Any]]
) -> dict[str, Any]:
    """The bool query; `must_not` only when something is excluded (a document without the
    field, an alert without a host, matches no `terms` and so is kept). `scope_tenants` holds
    every tenant the document involves, the same field `tenant` narrows on."""
    body: dict[str, Any] = {"filter": filters, "must": must}
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


SORT: list[dict[str, Any]] = [{"fenghuo.first_seen_ms": "desc"}, {"fenghuo.id": "asc"}]
AUDIT_SORT: list[dict[str, Any]] = [{"fenghuo.at_ms": "desc"}, {"fenghuo.id": "desc"}]


def search_after(cursor: str | None) -> list[Any] | None:
    """The `search_after` values of an opaque cursor (the same cursor format as SQLite's)."""
    if cursor is None:
        return None
    first_seen_ms, doc_id = decode_cursor(cursor)
    return [first_seen_ms, doc_id]


def stats_aggregations(bucket: dt.timedelta, top: int) -> dict[str, Any]:
    width = int(bucket.total_seconds() * 1000)
    if width <= 0:
        msg = "the bucket width must be positive"
        raise StoreError(msg)
    return {
        "buckets": {
            "histogram": {"field": "fenghuo.first_seen_ms", "interval": width, "min_doc_count": 1}
        },
        "by_severity": {"terms": {"field": "fenghuo.severity", "size": 10}},
        "by_tenant": {"terms": {"field": "fenghuo.tenant_id", "size": 10_000, "missing": ""}},
        "by_detector": {"terms": {"field": "rule.id", "size": 1000}},
        "top_hosts": {
            "terms": {
                "field": "host.id",
                "size": max(top, 1),
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        },
    }


def parse_stats(response: dict[str, Any], top: int) -> AlertStats:
    aggs = response["aggregations"]

    def terms(name: str) -> dict[str, int]:
        return {str(b["key"]): int(b["doc_count"]) for b in aggs[name]["buckets"]}

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return AlertStats(
        total=int(response["hits"]["total"]["value"]),
        buckets=[
            (epoch + dt.timedelta(milliseconds=int(b["key"])), int(b["doc_count"]))
            for b in aggs["buckets"]["buckets"]
            if b["doc_count"]
        ],
        by_severity=terms("by_severity"),
        by_tenant=terms("by_tenant"),
        by_detector=terms("by_detector"),
        top_hosts=[(str(b["key"]), int(b["doc_count"])) for b in aggs["top_hosts"]["buckets"]][
            : max(top, 0)
        ],
    )
