"""The search backend of the store: Elasticsearch 9 or OpenSearch 2.x (FENGHUO_STORE), the same
documents, templates and queries on both through `fenghuo.store.search_client` (the two servers'
differences live there). The documents and queries are unit-tested without a server
(`fenghuo.store.es_docs`, `fenghuo.store.es_queries`); the contract suite runs on an in-memory
model of the client and on a real OpenSearch node (`tests/store/backends.py`), and on a real
Elasticsearch when FENGHUO_ES_URL is set.

Layout (`bootstrap`, idempotent): an index template per series (alerts, incidents, actions,
audit: ECS-aligned mappings); the first index `<prefix><kind>-000001` created with
`<prefix><kind>` as its write alias. On Elasticsearch an ILM policy rolls the write index over in
the hot phase (the templates name it in `index.lifecycle.*`); OpenSearch has no ILM, so the store
calls `_rollover` with the same kind of conditions whenever its cached write index expires
(`elastic_io.Indices.write_index`; its user then needs the rollover privilege on the series'
aliases). Either way the write alias moves on and old indices stay in the alias, so reads go to
the alias. Data streams are not used: they are append-only, and alerts
and incidents are updated.

Idempotent writes: documents have deterministic ids (the alert's, the incident's, the action's,
the audit entry's). Alerts and incidents are read-merge-written in bulk: one real-time mget gives
the stored versions with their `_seq_no`/`_primary_term`, the merged documents are written back in
one `_bulk` with `if_seq_no`/`if_primary_term` (or `create` when absent), and the items that
conflicted (another writer got there first) start again from the read
(`elastic_io.Indices.read_merge_write_many`). A document stays in the index it was created in;
older indices are searched to find it (one known gap: a document created in the old write index
less than a refresh interval before a rollover can be created again in the new one).

Append-only: actions and audit entries are written with `op_type=create` only, and this class has
no update or delete for them. The server cannot refuse an update by itself; in production on
Elasticsearch give the API's user the `create_doc` privilege (not `index`/`write`) on
`<prefix>audit*` and `<prefix>actions*`, which refuses any overwrite or delete at the server (an
equivalent role for OpenSearch's security plugin has not been worked out here).

Analyst state is kept in the target's document under `fenghuo.analyst` (with the ids of the actions
already applied, so replaying an action never applies it twice), never in `fenghuo.doc`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec

from fenghuo.intel.reports.elastic import EsReports
from fenghuo.intel.taxii_elastic import EsCollections, EsTaxiiStatus
from fenghuo.intel.taxii_elastic_objects import EsObjects
from fenghuo.model.alert import Alert, merge_alerts
from fenghuo.model.incident import Incident
from fenghuo.store import es_docs, es_queries
from fenghuo.store.base import (
    AlertQuery,
    AlertStats,
    AlertView,
    IncidentQuery,
    IncidentView,
    Page,
    Scope,
    newer_incident,
)
from fenghuo.store.elastic_io import WRITE_INDEX_TTL_S, Found, Indices, check_limit, page_cursor
from fenghuo.store.elastic_logs import EsActions, EsAudit, EsKeys
from fenghuo.store.elastic_suppressions import EsSuppressions
from fenghuo.store.figures import IncidentAggregates, aggregate_incidents
from fenghuo.store.search_client import Flavour, SearchBadRequest, SearchClient, connect


class EsAlerts:
    def __init__(self, es: Indices) -> None:
        self._es = es

    def upsert(self, alerts: Iterable[Alert]) -> int:
        folded: dict[str, Alert] = {}
        for alert in alerts:
            current = folded.get(alert.id)
            folded[alert.id] = alert if current is None else merge_alerts(current, alert)

        def change(alert_id: str, found: Found | None) -> dict[str, Any] | None:
            alert = folded[alert_id]
            if found is None:
                return es_docs.alert_document(alert)
            stored, state, applied = es_docs.decode_alert_doc(found.source)
            merged = merge_alerts(stored, alert)
            return None if merged == stored else es_docs.alert_document(merged, state, applied)

        self._es.read_merge_write_many("alerts", list(folded), change)
        return len(folded)

    def get(self, scope: Scope, alert_id: str) -> AlertView | None:
        source = self._es.visible_source(
            "alerts", es_queries.alert_query(scope, AlertQuery(), [alert_id])
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
            query=es_queries.alert_query(scope, query),
            sort=es_queries.SORT,
            search_after=es_queries.search_after(cursor),
            size=check_limit(limit) + 1,
        )["hits"]["hits"]
        items = []
        for hit in hits[:limit]:
            alert, state, _ = es_docs.decode_alert_doc(hit["_source"])
            items.append(AlertView(alert=alert, state=state))
        return Page(items, page_cursor(hits, limit))

    def count(self, scope: Scope, query: AlertQuery = AlertQuery()) -> int:  # noqa: B008
        response = self._es.client.count(
            index=self._es.names.alias("alerts"), query=es_queries.alert_query(scope, query)
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
            query=es_queries.alert_query(scope, query),
            aggs=es_queries.stats_aggregations(bucket, top),
            size=0,
            track_total_hits=True,
        )
        return es_queries.parse_stats(response, top)


class EsIncidents:
    def __init__(self, es: Indices) -> None:
        self._es = es

    def upsert(self, incidents: Iterable[Incident]) -> int:
        chosen: dict[str, Incident] = {}
        for incident in incidents:
            current = chosen.get(incident.id)
            chosen[incident.id] = incident if current is None else newer_incident(current, incident)

        def change(incident_id: str, found: Found | None) -> dict[str, Any] | None:
            new = chosen[incident_id]
            if found is None:
                return es_docs.incident_document(new)
            stored, state, applied = es_docs.decode_incident_doc(found.source)
            if newer_incident(stored, new) == stored:
                return None
            return es_docs.incident_document(new, state, applied)

        return len(self._es.read_merge_write_many("incidents", list(chosen), change))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete each incident's document (its analyst state goes with it; the action log
        is another index and stays) wherever it lives behind the alias, found by a real-time
        GET so that a document written a moment ago is found; conditional on the version read,
        so a concurrent rewrite is read again first."""
        return sum(self._es.delete("incidents", incident_id) for incident_id in sorted(set(ids)))

    def get(self, scope: Scope, incident_id: str) -> IncidentView | None:
        source = self._es.visible_source(
            "incidents", es_queries.incident_query(scope, IncidentQuery(), [incident_id])
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
            query=es_queries.incident_query(scope, query),
            sort=es_queries.SORT,
            search_after=es_queries.search_after(cursor),
            size=check_limit(limit) + 1,
        )["hits"]["hits"]
        return Page([_incident_view(h["_source"]) for h in hits[:limit]], page_cursor(hits, limit))

    def count(self, scope: Scope, query: IncidentQuery = IncidentQuery()) -> int:  # noqa: B008
        response = self._es.client.count(
            index=self._es.names.alias("incidents"), query=es_queries.incident_query(scope, query)
        )
        return int(response["count"])

    def aggregate(
        self,
        scope: Scope,
        query: IncidentQuery = IncidentQuery(),  # noqa: B008
    ) -> IncidentAggregates:
        """Paged through and counted in memory: the derived status lives in the analyst state
        beside each document, so a terms aggregation needs that state indexed (not done yet)."""
        found: list[Incident] = []
        cursor: str | None = None
        while True:
            page = self.list(scope, query, limit=1000, cursor=cursor)
            found.extend(view.incident for view in page.items)
            if (cursor := page.next_cursor) is None:
                return aggregate_incidents(found)


def _incident_view(source: dict[str, Any]) -> IncidentView:
    incident, state, _ = es_docs.decode_incident_doc(source)
    return IncidentView(
        incident=msgspec.structs.replace(incident, status=state.status), state=state
    )


class ElasticStore:
    """Every repository on one search server (Elasticsearch or OpenSearch), under one index
    prefix. `rollover` and `write_index_ttl_s` are `elastic_io.Indices`' (tests)."""

    def __init__(
        self,
        client: SearchClient,
        prefix: str,
        *,
        rollover: dict[str, Any] | None = None,
        write_index_ttl_s: float = WRITE_INDEX_TTL_S,
    ) -> None:
        self._es = Indices(client, prefix, rollover=rollover, write_index_ttl_s=write_index_ttl_s)
        # The repositories (fenghuo.store.base.Store), sharing one client.
        self.alerts = EsAlerts(self._es)
        self.incidents = EsIncidents(self._es)
        self.actions = EsActions(self._es)
        self.audit = EsAudit(self._es)
        self.keys = EsKeys(self._es)
        self.suppressions = EsSuppressions(self._es)
        self.reports = EsReports(self._es)  # regulator reports (fenghuo.intel.reports)
        # TAXII collections, their objects and POST status resources (fenghuo.intel.taxii_*).
        self.collections = EsCollections(self._es)
        self.objects = EsObjects(self._es)
        self.taxii_status = EsTaxiiStatus(self._es)

    @classmethod
    def connect(
        cls, url: str, *, prefix: str = "fenghuo-", flavour: Flavour = "elasticsearch"
    ) -> ElasticStore:
        return cls(connect(flavour, url), prefix)

    @property
    def client(self) -> SearchClient:
        return self._es.client

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
        """Create (or update) the policy (where the server has ILM) and templates; create each
        series' first index with its write alias unless the alias exists. Safe to run at every
        start."""
        client, names = self._es.client, self._es.names
        dialect = client.dialect
        if dialect.server_rollover:
            client.put_lifecycle(name=names.policy, policy=es_docs.ilm_policy(self._es.rollover))
        for kind in (*es_docs.ROLLED, *es_docs.PLAIN):
            client.indices.put_index_template(**es_docs.index_template(names, kind, dialect))
        for kind in es_docs.ROLLED:
            if client.indices.exists_alias(name=names.alias(kind)):
                continue
            self._create(names.first_index(kind), {names.alias(kind): {"is_write_index": True}})
        for kind in es_docs.PLAIN:
            if not client.indices.exists(index=names.plain(kind)):
                self._create(names.plain(kind), None)

    def _create(self, index: str, aliases: dict[str, dict[str, Any]] | None) -> None:
        try:
            self._es.client.indices.create(index=index, aliases=aliases)
        except SearchBadRequest as exc:
            if exc.error != "resource_already_exists_exception":
                raise  # another process bootstrapped at the same time is fine; anything else not

    def drop(self) -> None:
        """Delete every index, template and the policy of this prefix (tests only)."""
        client, names = self._es.client, self._es.names
        # Wildcard deletes are refused by default (action.destructive_requires_name): resolve
        # the concrete indices first.
        found = client.indices.get(
            index=[names.pattern(k) for k in es_docs.ROLLED]
            + [names.plain(k) for k in es_docs.PLAIN]
        )
        if found:
            client.indices.delete(index=sorted(found))
        for kind in (*es_docs.ROLLED, *es_docs.PLAIN):
            client.indices.delete_index_template(name=f"{names.prefix}{kind}")
        if client.dialect.server_rollover:
            client.delete_lifecycle(name=names.policy)

    def close(self) -> None:
        self._es.client.close()
