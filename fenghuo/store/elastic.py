"""The Elasticsearch backend of the store (production), for Elasticsearch 9 through the official
`elasticsearch` client. No server runs in this project's CI: the documents, templates and queries
are unit-tested (`fenghuo.store.es_docs`), and the contract suite runs against a real server when
FENGHUO_ES_URL is set.

Layout (`bootstrap`, idempotent): one ILM policy rolling over in the hot phase; an index template
per series (alerts, incidents, actions, audit: ECS-aligned mappings, `index.lifecycle.*`
settings); the first index `<prefix><kind>-000001` created with `<prefix><kind>` as its write
alias. ILM moves the write alias on rollover and old indices stay in the alias, so reads go to the
alias. Data streams are not used: they are append-only, and alerts and incidents are updated.

Idempotent writes: documents have deterministic ids (the alert's, the incident's, the action's,
the audit entry's). Alerts and incidents are read-merge-written: a real-time GET gives the stored
version with its `_seq_no`/`_primary_term`, the merged document is written back with
`if_seq_no`/`if_primary_term` (or created with `op_type=create` when absent), and a conflict
(another writer got there first) retries from the read. A document stays in the index it was
created in; older indices are searched to find it (one known gap: a document created in the old
write index less than a refresh interval before a rollover can be created again in the new one).

Append-only: actions and audit entries are written with `op_type=create` only, and this class has
no update or delete for them. Elasticsearch cannot refuse an update by itself; in production give
the API's user the `create_doc` privilege (not `index`/`write`) on `<prefix>audit*` and
`<prefix>actions*`, which refuses any overwrite or delete at the server.

Analyst state is kept in the target's document under `fenghuo.analyst` (with the ids of the actions
already applied, so replaying an action never applies it twice), never in `fenghuo.doc`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from fenghuo.model.alert import Alert, merge_alerts
from fenghuo.model.incident import Incident
from fenghuo.store import es_docs
from fenghuo.store.base import (
    AlertQuery,
    AlertStats,
    AlertView,
    AnalystAction,
    AnalystState,
    AuditEntry,
    IncidentQuery,
    IncidentView,
    Page,
    Scope,
    StoreError,
    TargetKind,
    apply_action,
    decode_cursor,
    encode_cursor,
    epoch_ms,
    newer_incident,
)
from fenghuo.store.base import NotFoundError as TargetNotFoundError
from fenghuo.store.keys import ApiKey, Role, mint_key, parse_token, secret_matches

MAX_ATTEMPTS = 16  # optimistic-concurrency retries of one document write
MAX_RESULTS = 10_000  # Elasticsearch's default index.max_result_window


@dataclass(frozen=True, slots=True)
class _Found:
    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class _Indices:
    """Shared client, names and the write-index cache of one store."""

    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.names = es_docs.IndexNames(prefix)
        self.refresh_on_write = False
        self._write: dict[str, tuple[float, str]] = {}

    @property
    def refresh(self) -> bool:
        return self.refresh_on_write

    def write_index(self, kind: str) -> str:
        """The concrete index the write alias points to (cached for 30 s)."""
        cached = self._write.get(kind)
        if cached is not None and time.monotonic() - cached[0] < 30:
            return cached[1]
        alias = self.names.alias(kind)
        found = self.client.indices.get_alias(name=alias).body
        index = str(
            next(
                (i for i, v in found.items() if v["aliases"][alias].get("is_write_index")),
                next(iter(found)),
            )
        )
        self._write[kind] = (time.monotonic(), index)
        return index

    def locate(self, kind: str, doc_id: str) -> _Found | None:
        """A document by id with its concurrency token, read in real time."""
        write = self.write_index(kind)
        found = self._get(write, doc_id)
        if found is not None:
            return found
        hits = self.client.search(
            index=self.names.alias(kind), query={"ids": {"values": [doc_id]}}, size=1, source=False
        )["hits"]["hits"]
        if not hits or hits[0]["_index"] == write:
            return None
        return self._get(hits[0]["_index"], doc_id)

    def _get(self, index: str, doc_id: str) -> _Found | None:
        try:
            response = self.client.get(index=index, id=doc_id)
        except NotFoundError:
            return None
        return _Found(
            response["_index"], response["_seq_no"], response["_primary_term"], response["_source"]
        )

    def write(self, kind: str, doc_id: str, document: dict[str, Any], at: _Found | None) -> None:
        """Create (`at` None) or conditionally overwrite; ConflictError when someone else won."""
        if at is None:
            self.client.index(
                index=self.names.alias(kind),
                id=doc_id,
                document=document,
                op_type="create",
                refresh=self.refresh,
            )
        else:
            self.client.index(
                index=at.index,
                id=doc_id,
                document=document,
                if_seq_no=at.seq_no,
                if_primary_term=at.primary_term,
                refresh=self.refresh,
            )

    def read_merge_write(
        self, kind: str, doc_id: str, change: Callable[[_Found | None], dict[str, Any] | None]
    ) -> bool:
        """Apply `change` (None: nothing to write) under optimistic concurrency; True if written."""
        for _attempt in range(MAX_ATTEMPTS):
            found = self.locate(kind, doc_id)
            document = change(found)
            if document is None:
                return False
            try:
                self.write(kind, doc_id, document, found)
            except ConflictError:
                continue
            return True
        msg = f"{kind} {doc_id}: still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def search(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.client.search(index=self.names.alias(kind), **kwargs).body
        return body

    def visible_source(self, kind: str, query: dict[str, Any]) -> dict[str, Any] | None:
        """The first hit of a query that carries the scope filter (a get by id in scope)."""
        hits = self.search(kind, query=query, size=1)["hits"]["hits"]
        return hits[0]["_source"] if hits else None


def _page(hits: list[dict[str, Any]], limit: int) -> str | None:
    if len(hits) <= limit:
        return None
    last = hits[limit - 1]["sort"]
    return encode_cursor(int(last[0]), str(last[1]))


def _check_limit(limit: int) -> int:
    if not 1 <= limit < MAX_RESULTS:
        msg = f"limit must be between 1 and {MAX_RESULTS - 1}, not {limit}"
        raise StoreError(msg)
    return limit


class EsAlerts:
    def __init__(self, es: _Indices) -> None:
        self._es = es

    def upsert(self, alerts: Iterable[Alert]) -> int:
        folded: dict[str, Alert] = {}
        for alert in alerts:
            current = folded.get(alert.id)
            folded[alert.id] = alert if current is None else merge_alerts(current, alert)
        for alert in folded.values():

            def change(found: _Found | None, alert: Alert = alert) -> dict[str, Any] | None:
                if found is None:
                    return es_docs.alert_document(alert)
                stored, state, applied = es_docs.decode_alert_doc(found.source)
                merged = merge_alerts(stored, alert)
                return None if merged == stored else es_docs.alert_document(merged, state, applied)

            self._es.read_merge_write("alerts", alert.id, change)
        return len(folded)

    def get(self, scope: Scope, alert_id: str) -> AlertView | None:
        source = self._es.visible_source(
            "alerts", es_docs.alert_query(scope, AlertQuery(), [alert_id])
        )
        if source is None:
            return None
        alert, state, _ = es_docs.decode_alert_doc(source)
        return AlertView(alert=alert, state=state)

    def list(
        self,
        scope: Scope,
        query: AlertQuery = AlertQuery(),  # noqa: B008 - frozen, shared safely
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AlertView]:
        hits = self._es.search(
            "alerts",
            query=es_docs.alert_query(scope, query),
            sort=es_docs.SORT,
            search_after=es_docs.search_after(cursor),
            size=_check_limit(limit) + 1,
        )["hits"]["hits"]
        items = []
        for hit in hits[:limit]:
            alert, state, _ = es_docs.decode_alert_doc(hit["_source"])
            items.append(AlertView(alert=alert, state=state))
        return Page(items, _page(hits, limit))

    def count(self, scope: Scope, query: AlertQuery = AlertQuery()) -> int:  # noqa: B008
        response = self._es.client.count(
            index=self._es.names.alias("alerts"), query=es_docs.alert_query(scope, query)
        )
        return int(response["count"])

    def stats(
        self,
        scope: Scope,
        query: AlertQuery = AlertQuery(),  # noqa: B008
        *,
        bucket: dt.timedelta = dt.timedelta(hours=1),
        top: int = 10,
    ) -> AlertStats:
        response = self._es.search(
            "alerts",
            query=es_docs.alert_query(scope, query),
            aggs=es_docs.stats_aggregations(bucket, top),
            size=0,
            track_total_hits=True,
        )
        return es_docs.parse_stats(response, top)


class EsIncidents:
    def __init__(self, es: _Indices) -> None:
        self._es = es

    def upsert(self, incidents: Iterable[Incident]) -> int:
        chosen: dict[str, Incident] = {}
        for incident in incidents:
            current = chosen.get(incident.id)
            chosen[incident.id] = incident if current is None else newer_incident(current, incident)
        written = 0
        for incident in chosen.values():

            def change(found: _Found | None, new: Incident = incident) -> dict[str, Any] | None:
                if found is None:
                    return es_docs.incident_document(new)
                stored, state, applied = es_docs.decode_incident_doc(found.source)
                if newer_incident(stored, new) == stored:
                    return None
                return es_docs.incident_document(new, state, applied)

            written += self._es.read_merge_write("incidents", incident.id, change)
        return written

    def get(self, scope: Scope, incident_id: str) -> IncidentView | None:
        source = self._es.visible_source(
            "incidents", es_docs.incident_query(scope, IncidentQuery(), [incident_id])
        )
        return _incident_view(source) if source is not None else None

    def list(
        self,
        scope: Scope,
        query: IncidentQuery = IncidentQuery(),  # noqa: B008
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[IncidentView]:
        hits = self._es.search(
            "incidents",
            query=es_docs.incident_query(scope, query),
            sort=es_docs.SORT,
            search_after=es_docs.search_after(cursor),
            size=_check_limit(limit) + 1,
        )["hits"]["hits"]
        return Page([_incident_view(h["_source"]) for h in hits[:limit]], _page(hits, limit))

    def count(self, scope: Scope, query: IncidentQuery = IncidentQuery()) -> int:  # noqa: B008
        response = self._es.client.count(
            index=self._es.names.alias("incidents"), query=es_docs.incident_query(scope, query)
        )
        return int(response["count"])


def _incident_view(source: dict[str, Any]) -> IncidentView:
    incident, state, _ = es_docs.decode_incident_doc(source)
    return IncidentView(
        incident=msgspec.structs.replace(incident, status=state.status), state=state
    )


_ACTION = msgspec.json.Decoder(AnalystAction)


def _target_query(scope: Scope, kind: TargetKind, target_id: str) -> dict[str, Any]:
    if kind == "alert":
        return es_docs.alert_query(scope, AlertQuery(), [target_id])
    return es_docs.incident_query(scope, IncidentQuery(), [target_id])


def _series(kind: TargetKind) -> str:
    return "alerts" if kind == "alert" else "incidents"


class EsActions:
    def __init__(self, es: _Indices) -> None:
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
        with contextlib.suppress(ConflictError):
            self._es.client.index(
                index=self._es.names.alias("actions"),
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

        def change(current: _Found | None) -> dict[str, Any] | None:
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

    def __init__(self, es: _Indices) -> None:
        self._es = es

    def append(self, entry: AuditEntry) -> None:
        # A conflict is the same entry again (a retry): the first one stands.
        with contextlib.suppress(ConflictError):
            self._es.client.index(
                index=self._es.names.alias("audit"),
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
            sort=es_docs.AUDIT_SORT,
            search_after=after,
            size=_check_limit(limit) + 1,
        )["hits"]["hits"]
        items = [msgspec.convert(h["_source"]["fenghuo"]["doc"], AuditEntry) for h in hits[:limit]]
        return Page(items, _page(hits, limit))


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
    def __init__(self, es: _Indices) -> None:
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
        except NotFoundError:
            return None
        if source.get("revoked_at") or not secret_matches(secret, source["secret_sha256"]):
            return None
        return _key(key_id, source)

    def revoke(self, key_id: str) -> bool:
        for _attempt in range(MAX_ATTEMPTS):
            try:
                found = self._es.client.get(index=self._es.names.keys, id=key_id)
            except NotFoundError:
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
            except ConflictError:
                continue
            return True
        msg = f"key {key_id}: still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def list(self) -> list[ApiKey]:
        hits = self._es.client.search(
            index=self._es.names.keys, sort=[{"created_at": "asc"}], size=MAX_RESULTS
        )["hits"]["hits"]
        return [_key(h["_id"], h["_source"]) for h in hits]


class ElasticStore:
    """Every repository on one Elasticsearch cluster, under one index prefix."""

    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self._es = _Indices(client, prefix)
        self._alerts = EsAlerts(self._es)
        self._incidents = EsIncidents(self._es)
        self._actions = EsActions(self._es)
        self._audit = EsAudit(self._es)
        self._keys = EsKeys(self._es)

    @classmethod
    def connect(cls, url: str, *, prefix: str = "fenghuo-") -> ElasticStore:
        client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=3)
        return cls(client, prefix)

    @property
    def refresh_on_write(self) -> bool:
        """Refresh after each write (tests): reads then see every write at once. Off in
        production, where the refresh interval (1 s) bounds how stale a list can be."""
        return self._es.refresh_on_write

    @refresh_on_write.setter
    def refresh_on_write(self, value: bool) -> None:
        self._es.refresh_on_write = value

    @property
    def names(self) -> es_docs.IndexNames:
        return self._es.names

    def bootstrap(self) -> None:
        """Create (or update) the policy and templates; create each series' first index with
        its write alias unless the alias exists. Safe to run at every start."""
        client, names = self._es.client, self._es.names
        client.ilm.put_lifecycle(name=names.policy, policy=es_docs.ilm_policy())
        for kind in (*es_docs.ROLLED, "keys"):
            client.indices.put_index_template(**es_docs.index_template(names, kind))
        for kind in es_docs.ROLLED:
            if client.indices.exists_alias(name=names.alias(kind)):
                continue
            self._create(names.first_index(kind), {names.alias(kind): {"is_write_index": True}})
        if not client.indices.exists(index=names.keys):
            self._create(names.keys, None)

    def _create(self, index: str, aliases: dict[str, dict[str, Any]] | None) -> None:
        try:
            self._es.client.indices.create(index=index, aliases=aliases)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise  # another process bootstrapped at the same time is fine; anything else not

    def drop(self) -> None:
        """Delete every index, template and the policy of this prefix (tests only)."""
        client, names = self._es.client, self._es.names
        # Wildcard deletes are refused by default (action.destructive_requires_name): resolve
        # the concrete indices first.
        found = client.indices.get(
            index=[names.pattern(k) for k in es_docs.ROLLED] + [names.keys],
            ignore_unavailable=True,
            allow_no_indices=True,
        ).body
        if found:
            client.indices.delete(index=sorted(found))
        for kind in (*es_docs.ROLLED, "keys"):
            client.options(ignore_status=404).indices.delete_index_template(
                name=f"{names.prefix}{kind}"
            )
        client.options(ignore_status=404).ilm.delete_lifecycle(name=names.policy)

    @property
    def alerts(self) -> EsAlerts:
        return self._alerts

    @property
    def incidents(self) -> EsIncidents:
        return self._incidents

    @property
    def actions(self) -> EsActions:
        return self._actions

    @property
    def audit(self) -> EsAudit:
        return self._audit

    @property
    def keys(self) -> EsKeys:
        return self._keys

    def close(self) -> None:
        self._es.client.close()
