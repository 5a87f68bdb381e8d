"""The search backend's analyst actions, audit trail and API keys (see `elastic` for the
layout and the append-only guarantees)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import msgspec

from fenghuo.store import es_docs, es_queries
from fenghuo.store.base import (
    AlertQuery,
    AnalystAction,
    AnalystState,
    AuditEntry,
    IncidentQuery,
    Page,
    Scope,
    StoreError,
    TargetKind,
    apply_action,
    decode_cursor,
    epoch_ms,
)
from fenghuo.store.base import NotFoundError as TargetNotFoundError
from fenghuo.store.elastic_io import (
    MAX_ATTEMPTS,
    MAX_RESULTS,
    Found,
    Indices,
    check_limit,
    page_cursor,
)
from fenghuo.store.keys import ApiKey, Role, mint_key, parse_token, secret_matches
from fenghuo.store.search_client import SearchConflict, SearchNotFound


def _target_query(scope: Scope, kind: TargetKind, target_id: str) -> dict[str, Any]:
    if kind == "alert":
        return es_queries.alert_query(scope, AlertQuery(), [target_id])
    return es_queries.incident_query(scope, IncidentQuery(), [target_id])


def _series(kind: TargetKind) -> str:
    return "alerts" if kind == "alert" else "incidents"


class EsActions:
    def __init__(self, es: Indices) -> None:
        self._es = es

    def record(self, scope: Scope, action: AnalystAction) -> AnalystState:
        series = _series(action.target_kind)
        # The scope is checked by a query (like every read); the write then reads in real time.
        visible = self._es.visible_source(
            series, _target_query(scope, action.target_kind, action.target_id)
        )
        if visible is None:
            msg = f"no {action.target_kind} {action.target_id} in scope"
            raise TargetNotFoundError(msg)
        # A conflict means it was recorded before (a retry): then make sure it is applied, once.
        with contextlib.suppress(SearchConflict):
            self._es.client.index(
                index=self._es.append_alias("actions"),
                id=action.id,
                document={
                    "@timestamp": action.at.isoformat(),
                    "fenghuo": {
                        "id": action.id,
                        "target_kind": action.target_kind,
                        "target_id": action.target_id,
                        "at_ms": epoch_ms(action.at),
                        "doc": msgspec.to_builtins(action),
                    },
                },
                op_type="create",
                refresh=self._es.refresh,
            )
        result: list[AnalystState] = []

        def change(current: Found | None) -> dict[str, Any] | None:
            if current is None:
                msg = f"{action.target_kind} {action.target_id} vanished"
                raise TargetNotFoundError(msg)
            if action.target_kind == "alert":
                alert, state, applied = es_docs.decode_alert_doc(current.source)
            else:
                incident, state, applied = es_docs.decode_incident_doc(current.source)
            if action.id in applied:
                result.append(state)
                return None
            state = apply_action(state, action)
            result.append(state)
            applied = [*applied, action.id]
            if action.target_kind == "alert":
                return es_docs.alert_document(alert, state, applied)
            return es_docs.incident_document(incident, state, applied)

        self._es.read_merge_write(series, action.target_id, change)
        return result[-1]

    def history(self, scope: Scope, kind: TargetKind, target_id: str) -> list[AnalystAction]:
        if self._es.visible_source(_series(kind), _target_query(scope, kind, target_id)) is None:
            return []
        hits = self._es.search(
            "actions",
            query={
                "bool": {
                    "filter": [
                        {"term": {"fenghuo.target_kind": kind}},
                        {"term": {"fenghuo.target_id": target_id}},
                    ]
                }
            },
            sort=[{"fenghuo.at_ms": "asc"}, {"fenghuo.id": "asc"}],
            size=MAX_RESULTS,
        )["hits"]["hits"]
        return [msgspec.convert(h["_source"]["fenghuo"]["doc"], AnalystAction) for h in hits]

    def state(self, scope: Scope, kind: TargetKind, target_id: str) -> AnalystState | None:
        source = self._es.visible_source(_series(kind), _target_query(scope, kind, target_id))
        if source is None:
            return None
        if kind == "alert":
            return es_docs.decode_alert_doc(source)[1]
        return es_docs.decode_incident_doc(source)[1]


class EsAudit:
    """Append-only: `op_type=create` writes, no update or delete here (see the module doc for
    the server-side privilege that enforces it)."""

    def __init__(self, es: Indices) -> None:
        self._es = es

    def append(self, entry: AuditEntry) -> None:
        # A conflict is the same entry again (a retry): the first one stands.
        with contextlib.suppress(SearchConflict):
            self._es.client.index(
                index=self._es.append_alias("audit"),
                id=entry.id,
                document=es_docs.audit_document(entry),
                op_type="create",
                refresh=self._es.refresh,
            )

    def list(
        self, scope: Scope, *, limit: int = 100, cursor: str | None = None
    ) -> Page[AuditEntry]:
        filters = (
            [{"term": {"fenghuo.tenant_id": scope.tenant}}] if scope.tenant is not None else []
        )
        after = None
        if cursor is not None:
            at_ms, entry_id = decode_cursor(cursor)
            after = [at_ms, entry_id]
        hits = self._es.search(
            "audit",
            query={"bool": {"filter": filters}},
            sort=es_queries.AUDIT_SORT,
            search_after=after,
            size=check_limit(limit) + 1,
        )["hits"]["hits"]
        items = [msgspec.convert(h["_source"]["fenghuo"]["doc"], AuditEntry) for h in hits[:limit]]
        return Page(items, page_cursor(hits, limit))


def _key(key_id: str, source: dict[str, Any]) -> ApiKey:
    revoked = source.get("revoked_at")
    return ApiKey(
        id=key_id,
        name=source["name"],
        role=Role(source["role"]),
        tenant_id=source.get("tenant_id"),
        created_at=dt.datetime.fromisoformat(source["created_at"]),
        revoked_at=dt.datetime.fromisoformat(revoked) if revoked else None,
    )


class EsKeys:
    def __init__(self, es: Indices) -> None:
        self._es = es

    def create(
        self, role: Role, tenant_id: str | None = None, name: str = ""
    ) -> tuple[ApiKey, str]:
        key, token, secret_sha256 = mint_key(role, tenant_id, name)
        self._es.client.index(
            index=self._es.names.keys,
            id=key.id,
            document={
                "name": key.name,
                "role": key.role.value,
                "tenant_id": key.tenant_id,
                "secret_sha256": secret_sha256,
                "created_at": key.created_at.isoformat(),
                "revoked_at": None,
            },
            op_type="create",
            refresh=self._es.refresh,
        )
        return key, token

    def verify(self, token: str) -> ApiKey | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        try:
            source = self._es.client.get(index=self._es.names.keys, id=key_id)["_source"]
        except SearchNotFound:
            return None
        if source.get("revoked_at") or not secret_matches(secret, source["secret_sha256"]):
            return None
        return _key(key_id, source)

    def revoke(self, key_id: str) -> bool:
        for _attempt in range(MAX_ATTEMPTS):
            try:
                found = self._es.client.get(index=self._es.names.keys, id=key_id)
            except SearchNotFound:
                return False
            source = dict(found["_source"])
            if source.get("revoked_at"):
                return False
            source["revoked_at"] = dt.datetime.now(dt.UTC).isoformat()
            try:
                self._es.client.index(
                    index=self._es.names.keys,
                    id=key_id,
                    document=source,
                    if_seq_no=found["_seq_no"],
                    if_primary_term=found["_primary_term"],
                    refresh=self._es.refresh,
                )
            except SearchConflict:
                continue
            return True
        msg = f"key {key_id}: still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def list(self) -> list[ApiKey]:
        hits = self._es.client.search(
            index=self._es.names.keys, sort=[{"created_at": "asc"}], size=MAX_RESULTS
        )["hits"]["hits"]
        return [_key(h["_id"], h["_source"]) for h in hits]
