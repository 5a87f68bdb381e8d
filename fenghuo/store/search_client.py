"""The search server as the store sees it: the few client operations the Elasticsearch-shaped
code uses (`fenghuo.store.elastic*`, the event archive, the TAXII and report repositories), our own
errors, and what differs between the two servers we speak to, in one place (`Dialect`).

Two adapters implement `SearchClient`: `search_elastic.ElasticsearchClient` (the `elasticsearch`
client, Elasticsearch 9) and `search_opensearch.OpenSearchClient` (`opensearch-py`, OpenSearch
2.x, whose server the `elasticsearch` client refuses). The documents, mappings and queries
(`fenghuo.store.es_docs`, `es_queries`) are the same for both. Call style follows the
`elasticsearch` client's keywords (`query=`, `sort=`, `document=`...); the OpenSearch adapter
puts them into a request body. Responses are plain dicts; failures are `SearchError`s.

What differs (`Dialect`):
- rollover: Elasticsearch's ILM moves each series' write alias by itself (a lifecycle policy
  named in the index template's `index.lifecycle.*` settings); OpenSearch has no ILM (and its ISM
  plugin is not available here), so the store calls `_rollover` with conditions itself whenever
  its cache of a write index expires (`elastic_io.Indices.write_index`);
- the rollover conditions' names: `max_primary_shard_size` exists only on Elasticsearch;
  OpenSearch takes `max_size` (the index's primary size: the same with one primary shard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from fenghuo.settings import Settings
from fenghuo.store.base import StoreError

Refresh = bool | Literal["wait_for"]
Flavour = Literal["elasticsearch", "opensearch"]


class SearchError(StoreError):
    """A search server request failed; `status` is the HTTP status (None: no answer) and
    `error` the server's error type (`version_conflict_engine_exception`, ...)."""

    def __init__(self, status: int | None, error: str, reason: str = "") -> None:
        super().__init__(f"{status or 'no answer'} {error}: {reason}" if reason else error)
        self.status = status
        self.error = error
        self.reason = reason


class SearchNotFound(SearchError):
    """404: no such document or index."""


class SearchConflict(SearchError):
    """409: a document exists already (create) or changed since it was read (if_seq_no)."""


class SearchBadRequest(SearchError):
    """400: a request the server refuses, e.g. `resource_already_exists_exception`."""


class SearchUnavailable(SearchError):
    """The server cannot be reached, timed out, or is overloaded (429, 502, 503, 504):
    transient, worth retrying (`fenghuo.store.retry`)."""


TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
_BY_STATUS: dict[int, type[SearchError]] = {
    400: SearchBadRequest,
    404: SearchNotFound,
    409: SearchConflict,
}


def error_for(status: int | None, error: str, reason: str = "") -> SearchError:
    """The `SearchError` subclass for an HTTP status (the adapters and bulk items share it)."""
    if status is None or status in TRANSIENT_STATUSES:
        return SearchUnavailable(status, error, reason)
    return _BY_STATUS.get(status, SearchError)(status, error, reason)


@dataclass(frozen=True, slots=True)
class Dialect:
    """What the store does differently on each server (see the module docstring)."""

    flavour: Flavour
    server_rollover: bool  # True: ILM moves the write alias; False: the store calls _rollover
    rollover_conditions: Mapping[str, Any] = field(default_factory=dict)

    def template_settings(self, policy: str, alias: str) -> dict[str, Any]:
        """Index settings a rolled series' template adds (the lifecycle policy on ILM)."""
        if not self.server_rollover:
            return {}
        return {"index.lifecycle.name": policy, "index.lifecycle.rollover_alias": alias}


# The first condition met rolls the write index over.
ELASTICSEARCH = Dialect("elasticsearch", True, {"max_primary_shard_size": "50gb", "max_age": "30d"})
OPENSEARCH = Dialect("opensearch", False, {"max_size": "50gb", "max_age": "30d"})


@dataclass(frozen=True, slots=True)
class BulkOp:
    """One action of a `_bulk` request: `create` (refused if the id exists), `index` (with
    `if_seq_no`/`if_primary_term`: only over the version read) or `delete`."""

    op: Literal["create", "index", "delete"]
    index: str
    id: str
    document: dict[str, Any] | None = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None

    def lines(self) -> list[dict[str, Any]]:
        """The NDJSON lines of this action (both clients take a list of dicts)."""
        meta: dict[str, Any] = {"_index": self.index, "_id": self.id}
        if self.if_seq_no is not None:
            meta["if_seq_no"] = self.if_seq_no
            meta["if_primary_term"] = self.if_primary_term
        action: dict[str, Any] = {self.op: meta}
        return [action] if self.op == "delete" else [action, self.document or {}]


@dataclass(frozen=True, slots=True)
class BulkItem:
    """The outcome of one bulk action, in request order; `error` None when it succeeded."""

    id: str
    status: int
    error: SearchError | None = None


def bulk_items(response: Mapping[str, Any]) -> list[BulkItem]:
    """The per-action outcomes of a `_bulk` response (`{"items": [{"create": {...}}]}`)."""
    items: list[BulkItem] = []
    for entry in response.get("items", []):
        ((_op, outcome),) = entry.items()
        status = int(outcome.get("status", 0))
        problem = outcome.get("error")
        error = None
        if problem is not None or status >= 300:
            kind = problem.get("type", "error") if isinstance(problem, dict) else str(problem)
            reason = problem.get("reason", "") if isinstance(problem, dict) else ""
            error = error_for(status, kind, reason)
        items.append(BulkItem(str(outcome.get("_id")), status, error))
    return items


class SearchIndices(Protocol):
    """Index-level operations (`client.indices`)."""

    def create(
        self,
        *,
        index: str,
        aliases: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None: ...

    def exists(self, *, index: str) -> bool: ...

    def exists_alias(self, *, name: str) -> bool: ...

    def get_alias(self, *, name: str) -> dict[str, Any]:
        """`{index: {"aliases": {name: {"is_write_index": ...}}}}` for each index of `name`."""

    def get(self, *, index: Sequence[str]) -> dict[str, Any]:
        """The indices matching the names or patterns; absent ones are left out, not an error."""

    def delete(self, *, index: Sequence[str]) -> None: ...

    def refresh(self, *, index: str) -> None: ...

    def put_index_template(
        self,
        *,
        name: str,
        index_patterns: list[str],
        priority: int,
        template: dict[str, Any],
        meta: dict[str, Any],
    ) -> None: ...

    def delete_index_template(self, *, name: str) -> None:
        """Delete a composable template; an absent one is not an error."""

    def rollover(self, *, alias: str, conditions: Mapping[str, Any]) -> dict[str, Any]:
        """Roll the alias's write index over if a condition is met: the server's answer
        (`rolled_over`, `old_index`, `new_index`)."""


class SearchClient(Protocol):
    """The operations the store uses, on either server (see the module docstring)."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def indices(self) -> SearchIndices: ...

    def put_lifecycle(self, *, name: str, policy: dict[str, Any]) -> None:
        """Create or update an ILM policy (only called when `dialect.server_rollover`)."""

    def delete_lifecycle(self, *, name: str) -> None:
        """Delete an ILM policy; an absent one is not an error."""

    def index(
        self,
        *,
        index: str,
        id: str,
        document: dict[str, Any],
        op_type: Literal["create", "index"] | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: Refresh = False,
    ) -> dict[str, Any]: ...

    def get(self, *, index: str, id: str) -> dict[str, Any]:
        """A document in real time with `_index`, `_seq_no`, `_primary_term`, `_source`;
        `SearchNotFound` when absent."""

    def mget(
        self, *, index: str, ids: Sequence[str], source_includes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """`{"docs": [...]}` in real time, one per id, `found` False for an absent one."""

    def search(
        self,
        *,
        index: str,
        query: dict[str, Any] | None = None,
        sort: list[dict[str, Any]] | None = None,
        search_after: list[Any] | None = None,
        size: int | None = None,
        aggs: dict[str, Any] | None = None,
        source: bool | None = None,
        track_total_hits: bool | None = None,
    ) -> dict[str, Any]: ...

    def count(self, *, index: str, query: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def delete(
        self,
        *,
        index: str,
        id: str,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: Refresh = False,
    ) -> dict[str, Any]: ...

    def delete_by_query(
        self,
        *,
        index: str,
        query: dict[str, Any],
        refresh: bool = False,
        conflicts: Literal["abort", "proceed"] = "abort",
    ) -> dict[str, Any]: ...

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        """One `_bulk` request; item failures are in the result, not raised."""

    def close(self) -> None: ...


def connect(flavour: Flavour, url: str) -> SearchClient:
    """The adapter for `flavour` at `url` (clients imported here: only needed when used)."""
    if flavour == "opensearch":
        from fenghuo.store.search_opensearch import OpenSearchClient

        return OpenSearchClient.connect(url)
    from fenghuo.store.search_elastic import ElasticsearchClient

    return ElasticsearchClient.connect(url)


def open_search_client(settings: Settings) -> SearchClient:
    """The configured search server (FENGHUO_STORE elasticsearch or opensearch)."""
    if settings.store == "sqlite" or settings.search_url is None:
        msg = "FENGHUO_STORE=sqlite has no search server"
        raise StoreError(msg)
    return connect(settings.store, settings.search_url)
