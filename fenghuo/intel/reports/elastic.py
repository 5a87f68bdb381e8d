"""Reports on the search server, Elasticsearch or OpenSearch (`ReportRepository`): one small plain
index (`<prefix>reports`, mapping `fenghuo.store.es_plain.REPORTS`), the filter fields at the top
level and the report under `doc`.

Each state is a bool query over `submitted`, `due_ms` and `due_from_ms` against `now` (the rule of
`fenghuo.intel.reports.model.state_at`); the states are disjoint, so several are searched one by
one and merged rather than OR-ed. Changes are read-modify-writes with optimistic concurrency
(`if_seq_no`), retried on conflict like the other search repositories.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import msgspec

from fenghuo.intel.reports.model import Report, ReportState, as_of
from fenghuo.intel.reports.repository import MAX_REPORTS, Change, ReportQuery
from fenghuo.store.base import Scope, StoreError, epoch_ms
from fenghuo.store.elastic_io import MAX_ATTEMPTS, Indices
from fenghuo.store.search_client import SearchConflict, SearchNotFound

# Sorts reports without a deadline after every real one (the fake and ES sort numbers alike).
_NO_DEADLINE = 2**62


def _document(report: Report) -> dict[str, Any]:
    stored = msgspec.structs.replace(
        report,
        state=ReportState.SUBMITTED if report.submitted_at is not None else ReportState.DRAFT,
    )
    due_ms = epoch_ms(report.due_at) if report.due_at is not None else None
    return {
        "id": report.id,
        "incident_id": report.incident_id,
        "kind": report.kind.value,
        "tenant_id": report.tenant_id,
        "submitted": report.submitted_at is not None,
        "due_ms": due_ms,
        "due_from_ms": epoch_ms(report.due_from) if report.due_from is not None else None,
        "due_sort": due_ms if due_ms is not None else _NO_DEADLINE,
        "doc": msgspec.to_builtins(stored),
    }


def _report(source: dict[str, Any]) -> Report:
    return msgspec.convert(source["doc"], Report)


def _state_query(state: ReportState, now_ms: int) -> dict[str, Any]:
    open_ = {"term": {"submitted": False}}
    not_yet = {"range": {"due_from_ms": {"gte": now_ms + 1}}}  # due_from > now
    if state is ReportState.SUBMITTED:
        return {"term": {"submitted": True}}
    if state is ReportState.OVERDUE:
        return {"bool": {"filter": [open_, {"range": {"due_ms": {"lt": now_ms}}}]}}
    if state is ReportState.DUE:
        return {
            "bool": {
                "filter": [open_, {"range": {"due_ms": {"gte": now_ms}}}],
                "must_not": [not_yet],
            }
        }
    timed = {"bool": {"filter": [{"exists": {"field": "due_ms"}}], "must_not": [not_yet]}}
    return {"bool": {"filter": [open_], "must_not": [timed]}}


def _filters(scope: Scope, query: ReportQuery) -> list[dict[str, Any]] | None:
    """The filters of a query, or None when it can select nothing."""
    filters: list[dict[str, Any]] = []
    if scope.tenant is not None:
        filters.append({"term": {"tenant_id": scope.tenant}})
    if query.incident_ids is not None:
        if not query.incident_ids:
            return None
        filters.append({"terms": {"incident_id": sorted(query.incident_ids)}})
    if query.kinds:
        filters.append({"terms": {"kind": sorted(k.value for k in query.kinds)}})
    return filters


class EsReports:
    def __init__(self, es: Indices) -> None:
        self._es = es

    @property
    def _index(self) -> str:
        return self._es.names.plain("reports")

    def add(self, report: Report) -> Report:
        with contextlib.suppress(SearchConflict):  # drafted already: keep the stored one
            self._es.client.index(
                index=self._index,
                id=report.id,
                document=_document(report),
                op_type="create",
                refresh=self._es.refresh,
            )
        return _report(self._es.client.get(index=self._index, id=report.id)["_source"])

    def update(self, scope: Scope, report_id: str, change: Change) -> Report | None:
        for _attempt in range(MAX_ATTEMPTS):
            try:
                found = self._es.client.get(index=self._index, id=report_id)
            except SearchNotFound:
                return None
            current = _report(found["_source"])
            if scope.tenant is not None and current.tenant_id != scope.tenant:
                return None
            changed = change(current)
            if changed is None or changed == current:
                return current
            if changed.id != current.id:
                msg = f"a change may not rename report {current.id} to {changed.id}"
                raise StoreError(msg)
            document = _document(changed)
            try:
                self._es.client.index(
                    index=self._index,
                    id=report_id,
                    document=document,
                    if_seq_no=found["_seq_no"],
                    if_primary_term=found["_primary_term"],
                    refresh=self._es.refresh,
                )
            except SearchConflict:
                continue
            return _report(document)
        msg = f"report {report_id}: too many concurrent changes"
        raise StoreError(msg)

    def _search(
        self, filters: list[dict[str, Any]], state: ReportState | None, now: dt.datetime, size: int
    ) -> list[Report]:
        clauses = list(filters)
        if state is not None:
            clauses.append(_state_query(state, epoch_ms(now)))
        hits = self._es.client.search(
            index=self._index,
            query={"bool": {"filter": clauses}},
            sort=[{"due_sort": "asc"}, {"id": "asc"}],
            size=size,
        )["hits"]["hits"]
        return [as_of(_report(h["_source"]), now) for h in hits]

    def get(
        self,
        scope: Scope,
        report_id: str,
        now: dt.datetime,
        *,
        within: frozenset[str] | None = None,
    ) -> Report | None:
        filters = _filters(scope, ReportQuery(incident_ids=within))
        if filters is None:
            return None
        filters.append({"ids": {"values": [report_id]}})
        found = self._search(filters, None, now, 1)
        return found[0] if found else None

    def list(
        self,
        scope: Scope,
        query: ReportQuery,
        now: dt.datetime,
        *,
        limit: int = MAX_REPORTS,
    ) -> list[Report]:
        if not 1 <= limit <= MAX_REPORTS:
            msg = f"limit must be between 1 and {MAX_REPORTS}, not {limit}"
            raise StoreError(msg)
        filters = _filters(scope, query)
        if filters is None:
            return []
        states: list[ReportState | None] = list(query.states) or [None]
        found = [r for s in states for r in self._search(filters, s, now, limit)]
        found.sort(key=lambda r: (r.due_at is None, r.due_at or now, r.id))
        return found[:limit]

    def count(self, scope: Scope, query: ReportQuery, now: dt.datetime) -> int:
        filters = _filters(scope, query)
        if filters is None:
            return 0
        total = 0
        states: list[ReportState | None] = list(query.states) or [None]
        for state in states:
            clauses = list(filters)
            if state is not None:
                clauses.append(_state_query(state, epoch_ms(now)))
            body = self._es.client.count(index=self._index, query={"bool": {"filter": clauses}})
            total += int(body["count"])
        return total
