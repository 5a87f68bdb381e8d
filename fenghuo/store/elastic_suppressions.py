"""Suppression rules on the search server (Elasticsearch or OpenSearch): one small plain index
(`<prefix>suppressions`), written with `op_type=create` (a retried add keeps the first) and revoked
with optimistic concurrency."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import msgspec

from fenghuo.store.base import Scope, StoreError, SuppressionRule
from fenghuo.store.elastic_io import MAX_ATTEMPTS, MAX_RESULTS, Indices
from fenghuo.store.search_client import SearchConflict, SearchNotFound


def _document(rule: SuppressionRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "tenant_id": rule.tenant_id,
        "created_at": rule.created_at.isoformat(),
        "revoked_at": rule.revoked_at.isoformat() if rule.revoked_at else None,
        "doc": msgspec.to_builtins(rule),
    }


def _rule(source: dict[str, Any]) -> SuppressionRule:
    return msgspec.convert(source["doc"], SuppressionRule)


class EsSuppressions:
    def __init__(self, es: Indices) -> None:
        self._es = es

    def add(self, rule: SuppressionRule) -> SuppressionRule:
        index = self._es.names.suppressions
        with contextlib.suppress(SearchConflict):  # already added: keep the first
            self._es.client.index(
                index=index,
                id=rule.id,
                document=_document(rule),
                op_type="create",
                refresh=self._es.refresh,
            )
        return _rule(self._es.client.get(index=index, id=rule.id)["_source"])

    def list(self, scope: Scope, *, include_revoked: bool = False) -> list[SuppressionRule]:
        filters: list[dict[str, Any]] = []
        if scope.tenant is not None:
            filters.append({"term": {"tenant_id": scope.tenant}})
        must_not = [] if include_revoked else [{"exists": {"field": "revoked_at"}}]
        hits = self._es.client.search(
            index=self._es.names.suppressions,
            query={"bool": {"filter": filters, "must_not": must_not}},
            sort=[{"created_at": "asc"}, {"id": "asc"}],
            size=MAX_RESULTS,
        )["hits"]["hits"]
        return [_rule(h["_source"]) for h in hits]

    def revoke(self, scope: Scope, rule_id: str) -> bool:
        index = self._es.names.suppressions
        for _attempt in range(MAX_ATTEMPTS):
            try:
                found = self._es.client.get(index=index, id=rule_id)
            except SearchNotFound:
                return False
            rule = _rule(found["_source"])
            if rule.revoked_at is not None:
                return False
            if scope.tenant is not None and rule.tenant_id != scope.tenant:
                return False
            revoked = msgspec.structs.replace(rule, revoked_at=dt.datetime.now(dt.UTC))
            try:
                self._es.client.index(
                    index=index,
                    id=rule_id,
                    document=_document(revoked),
                    if_seq_no=found["_seq_no"],
                    if_primary_term=found["_primary_term"],
                    refresh=self._es.refresh,
                )
            except SearchConflict:
                continue
            return True
        msg = f"suppression {rule_id}: still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)
