"""`SearchClient` on OpenSearch 2.x through `opensearch-py` (the `elasticsearch` client refuses
an OpenSearch server). The store's keyword arguments go into the request body, as this client
takes them (`body=` only); its exceptions become `SearchError`s.

OpenSearch has no ILM: `put_lifecycle`/`delete_lifecycle` do nothing here, and the store rolls
the write indices over itself (`fenghuo.store.search_client.OPENSEARCH`, `server_rollover`
False)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import opensearchpy
from opensearchpy import OpenSearch

from fenghuo.store.search_client import (
    OPENSEARCH,
    BulkItem,
    BulkOp,
    Dialect,
    Refresh,
    SearchError,
    SearchUnavailable,
    bulk_items,
    error_for,
)


def _reason(info: Any) -> str:
    problem = info.get("error") if isinstance(info, dict) else None
    if isinstance(problem, dict):
        return str(problem.get("reason", ""))
    return str(problem or "")


@contextmanager
def _translated() -> Iterator[None]:
    """The client's exceptions as `SearchError`s (the original chained)."""
    try:
        yield
    except opensearchpy.ConnectionError as exc:  # includes timeouts; status "N/A"
        raise SearchUnavailable(None, type(exc).__name__, str(exc.info)) from exc
    except opensearchpy.TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else None
        raise error_for(status, str(exc.error), _reason(exc.info)) from exc
    except opensearchpy.OpenSearchException as exc:  # serialisation and the like
        raise SearchError(None, type(exc).__name__, str(exc)) from exc


def _dict(answer: Any) -> dict[str, Any]:
    return dict(answer) if isinstance(answer, Mapping) else {}


def _without_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _Indices:
    def __init__(self, client: OpenSearch) -> None:
        self._client = client

    def create(
        self,
        *,
        index: str,
        aliases: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None:
        with _translated():
            self._client.indices.create(
                index=index, body=_without_none(aliases=aliases, mappings=mappings)
            )

    def exists(self, *, index: str) -> bool:
        with _translated():
            return bool(self._client.indices.exists(index=index))

    def exists_alias(self, *, name: str) -> bool:
        with _translated():
            return bool(self._client.indices.exists_alias(name=name))

    def get_alias(self, *, name: str) -> dict[str, Any]:
        with _translated():
            return _dict(self._client.indices.get_alias(name=name))

    def get(self, *, index: Sequence[str]) -> dict[str, Any]:
        with _translated():
            return _dict(
                self._client.indices.get(
                    index=",".join(index), ignore_unavailable=True, allow_no_indices=True
                )
            )

    def delete(self, *, index: Sequence[str]) -> None:
        with _translated():
            self._client.indices.delete(index=",".join(index))

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
        body = {
            "index_patterns": index_patterns,
            "priority": priority,
            "template": template,
            "_meta": meta,
        }
        with _translated():
            self._client.indices.put_index_template(name=name, body=body)

    def delete_index_template(self, *, name: str) -> None:
        with _translated():
            self._client.indices.delete_index_template(name=name, ignore=404)

    def rollover(self, *, alias: str, conditions: Mapping[str, Any]) -> dict[str, Any]:
        with _translated():
            return _dict(
                self._client.indices.rollover(alias=alias, body={"conditions": dict(conditions)})
            )


class OpenSearchClient:
    """`SearchClient` over an `OpenSearch` instance."""

    def __init__(self, client: OpenSearch) -> None:
        self._client = client
        self._indices = _Indices(client)

    @classmethod
    def connect(cls, url: str) -> OpenSearchClient:
        return cls(OpenSearch(url, timeout=30, retry_on_timeout=True, max_retries=3))

    @property
    def dialect(self) -> Dialect:
        return OPENSEARCH

    @property
    def indices(self) -> _Indices:
        return self._indices

    def put_lifecycle(self, *, name: str, policy: dict[str, Any]) -> None:
        """No ILM on OpenSearch: the store rolls over itself (see the module docstring)."""

    def delete_lifecycle(self, *, name: str) -> None:
        """No ILM on OpenSearch: nothing to delete."""

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
            return _dict(
                self._client.index(
                    index=index,
                    id=id,
                    body=document,
                    op_type=op_type,
                    if_seq_no=if_seq_no,
                    if_primary_term=if_primary_term,
                    refresh=refresh,
                )
            )

    def get(self, *, index: str, id: str) -> dict[str, Any]:
        with _translated():
            return _dict(self._client.get(index=index, id=id))

    def mget(
        self, *, index: str, ids: Sequence[str], source_includes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        with _translated():
            return _dict(
                self._client.mget(
                    index=index,
                    body={"ids": list(ids)},
                    _source_includes=list(source_includes) if source_includes else None,
                )
            )

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
        body = _without_none(
            query=query,
            sort=sort,
            search_after=search_after,
            size=size,
            aggs=aggs,
            _source=source,
            track_total_hits=track_total_hits,
        )
        with _translated():
            return _dict(self._client.search(index=index, body=body))

    def count(self, *, index: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        with _translated():
            return _dict(self._client.count(index=index, body=_without_none(query=query)))

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
            return _dict(
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
            return _dict(
                self._client.delete_by_query(
                    index=index, body={"query": query}, refresh=refresh, conflicts=conflicts
                )
            )

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        lines = [line for op in operations for line in op.lines()]
        with _translated():
            return bulk_items(_dict(self._client.bulk(body=lines, refresh=refresh)))

    def close(self) -> None:
        self._client.close()
