"""The Elasticsearch backend's plumbing: the write-index cache, real-time reads with their
concurrency tokens, and the optimistic-concurrency read-merge-write loop (see `elastic`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from fenghuo.store import es_docs
from fenghuo.store.base import StoreError, encode_cursor

MAX_ATTEMPTS = 16  # optimistic-concurrency retries of one document write
MAX_RESULTS = 10_000  # Elasticsearch's default index.max_result_window


@dataclass(frozen=True, slots=True)
class Found:
    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class Indices:
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

    def locate(self, kind: str, doc_id: str) -> Found | None:
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

    def _get(self, index: str, doc_id: str) -> Found | None:
        try:
            response = self.client.get(index=index, id=doc_id)
        except NotFoundError:
            return None
        return Found(
            response["_index"], response["_seq_no"], response["_primary_term"], response["_source"]
        )

    def write(self, kind: str, doc_id: str, document: dict[str, Any], at: Found | None) -> None:
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
        self, kind: str, doc_id: str, change: Callable[[Found | None], dict[str, Any] | None]
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

    def delete(self, kind: str, doc_id: str) -> bool:
        """Delete a document by id under optimistic concurrency; False if there was none."""
        for _attempt in range(MAX_ATTEMPTS):
            found = self.locate(kind, doc_id)
            if found is None:
                return False
            try:
                self.client.delete(
                    index=found.index,
                    id=doc_id,
                    if_seq_no=found.seq_no,
                    if_primary_term=found.primary_term,
                    refresh=self.refresh,
                )
            except ConflictError:
                continue  # rewritten since we read it: read again
            except NotFoundError:
                return False  # deleted by someone else in between
            return True
        msg = f"{kind} {doc_id}: delete still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def search(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.client.search(index=self.names.alias(kind), **kwargs).body
        return body

    def visible_source(self, kind: str, query: dict[str, Any]) -> dict[str, Any] | None:
        """The first hit of a query that carries the scope filter (a get by id in scope)."""
        hits = self.search(kind, query=query, size=1)["hits"]["hits"]
        return hits[0]["_source"] if hits else None


def page_cursor(hits: list[dict[str, Any]], limit: int) -> str | None:
    if len(hits) <= limit:
        return None
    last = hits[limit - 1]["sort"]
    return encode_cursor(int(last[0]), str(last[1]))


def check_limit(limit: int) -> int:
    if not 1 <= limit < MAX_RESULTS:
        msg = f"limit must be between 1 and {MAX_RESULTS - 1}, not {limit}"
        raise StoreError(msg)
    return limit
