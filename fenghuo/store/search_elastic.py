"""`SearchClient` on Elasticsearch 9 through the official `elasticsearch` client: the store's
calls go through unchanged (the protocol uses this client's keywords); answers become dicts and
the client's exceptions become `SearchError`s."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import elastic_transport
from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError

from fenghuo.store.search_client import (
    ELASTICSEARCH,
    BulkItem,
    BulkOp,
    Dialect,
    Refresh,
    SearchError,
    SearchUnavailable,
    bulk_items,
    error_for,
)


def _reason(body: Any) -> str:
    problem = body.get("error") if isinstance(body, dict) else None
    if isinstance(problem, dict):
        return str(problem.get("reason", ""))
    return str(problem or "")


_NOT_ELASTICSEARCH = "the server is not Elasticsearch (for OpenSearch set FENGHUO_STORE=opensearch)"


@contextmanager
def _translated() -> Iterator[None]:
    """The client's exceptions as `SearchError`s (the original chained). Another product (an
    OpenSearch server) shows as UnsupportedProductError on a success, or as 406 on a request with
    a body (it refuses the client's `compatible-with` media type): both get the hint."""
    try:
        yield
    except UnsupportedProductError as exc:
        raise SearchError(exc.meta.status, "unsupported_product", _NOT_ELASTICSEARCH) from exc
    except ApiError as exc:
        if exc.meta.status == 406 and "compatible-with" in str(exc.error):
            raise SearchError(406, "unsupported_product", _NOT_ELASTICSEARCH) from exc
        raise error_for(exc.meta.status, str(exc.error), _reason(exc.body)) from exc
    except (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout) as exc:
        raise SearchUnavailable(None, type(exc).__name__, str(exc)) from exc
    except elastic_transport.TransportError as exc:
        raise SearchError(None, type(exc).__name__, str(exc)) from exc


class _Indices:
    def __init__(self, client: Elasticsearch) -> None:
        self._client = client

    def create(
        self,
        *,
        index: str,
        aliases: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None:
        with _translated():
            self._client.indices.create(index=index, aliases=aliases, mappings=mappings)

    def exists(self, *, index: str) -> bool:
        with _translated():
            return bool(self._client.indices.exists(index=index))

    def exists_alias(self, *, name: str) -> bool:
        with _translated():
            return bool(self._client.indices.exists_alias(name=name))

    def get_alias(self, *, name: str) -> dict[str, Any]:
        with _translated():
            return dict(self._client.indices.get_alias(name=name).body)

    def get(self, *, index: Sequence[str]) -> dict[str, Any]:
        with _translated():
            return dict(
                self._client.indices.get(
                    index=list(index), ignore_unavailable=True, allow_no_indices=True
                ).body
            )

    def delete(self, *, index: Sequence[str]) -> None:
        with _translated():
            self._client.indices.delete(index=list(index))

    def refresh(self, *, index: str) -> None:
        with _translated():
            self._client.indices.refresh(index=index)

    def put_index_template(
        self,
        *,
        name: str,
        index_patterns: list[str],
        priority: int,
        template: dict[str, Any],
        meta: dict[str, Any],
    ) -> None:
        with _translated():
            self._client.indices.put_index_template(
                name=name,
                index_patterns=index_patterns,
                priority=priority,
                template=template,
                meta=meta,
            )

    def delete_index_template(self, *, name: str) -> None:
        with _translated():
            self._client.options(ignore_status=404).indices.delete_index_template(name=name)

    def rollover(self, *, alias: str, conditions: Mapping[str, Any]) -> dict[str, Any]:
        with _translated():
            return dict(self._client.indices.rollover(alias=alias, conditions=dict(conditions)))


class ElasticsearchClient:
    """`SearchClient` over an `Elasticsearch` instance."""

    def __init__(self, client: Elasticsearch) -> None:
        self._client = client
        self._indices = _Indices(client)

    @classmethod
    def connect(cls, url: str) -> ElasticsearchClient:
        return cls(Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=3))

    @property
    def dialect(self) -> Dialect:
        return ELASTICSEARCH

    @property
    def indices(self) -> _Indices:
        return self._indices

    def put_lifecycle(self, *, name: str, policy: dict[str, Any]) -> None:
        with _translated():
            self._client.ilm.put_lifecycle(name=name, policy=policy)

    def delete_lifecycle(self, *, name: str) -> None:
        with _translated():
            self._client.options(ignore_status=404).ilm.delete_lifecycle(name=name)

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
    ) -> dict[str, Any]:
        with _translated():
            return dict(
                self._client.index(
                    index=index,
                    id=id,
                    document=document,
                    op_type=op_type,
                    if_seq_no=if_seq_no,
                    if_primary_term=if_primary_term,
                    refresh=refresh,
                )
            )

    def get(self, *, index: str, id: str) -> dict[str, Any]:
        with _translated():
            return dict(self._client.get(index=index, id=id))

    def mget(
        self, *, index: str, ids: Sequence[str], source_includes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        with _translated():
            includes = list(source_includes) if source_includes is not None else None
            return dict(self._client.mget(index=index, ids=list(ids), source_includes=includes))

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
    ) -> dict[str, Any]:
        with _translated():
            return dict(
                self._client.search(
                    index=index,
                    query=query,
                    sort=sort,
                    search_after=search_after,
                    size=size,
                    aggs=aggs,
                    source=source,
                    track_total_hits=track_total_hits,
                )
            )

    def count(self, *, index: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        with _translated():
            return dict(self._client.count(index=index, query=query))

    def delete(
        self,
        *,
        index: str,
        id: str,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: Refresh = False,
    ) -> dict[str, Any]:
        with _translated():
            return dict(
                self._client.delete(
                    index=index,
                    id=id,
                    if_seq_no=if_seq_no,
                    if_primary_term=if_primary_term,
                    refresh=refresh,
                )
            )

    def delete_by_query(
        self,
        *,
        index: str,
        query: dict[str, Any],
        refresh: bool = False,
        conflicts: Literal["abort", "proceed"] = "abort",
    ) -> dict[str, Any]:
        with _translated():
            return dict(
                self._client.delete_by_query(
                    index=index, query=query, refresh=refresh, conflicts=conflicts
                )
            )

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        lines = [line for op in operations for line in op.lines()]
        with _translated():
            return bulk_items(self._client.bulk(operations=lines, refresh=refresh).body)

    def close(self) -> None:
        self._client.close()
