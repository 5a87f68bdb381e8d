"""TAXII collections, objects and POST status resources on the search server (Elasticsearch or
OpenSearch, through `fenghuo.store.search_client`; plain indices `<prefix>taxii_collections`,
`<prefix>taxii_objects`, `<prefix>taxii_status`; mappings in `fenghuo.store.es_plain`).

The search server has no transactions and a search sees a write only after a refresh, so the SQLite
backend's guarantee (date added unique, strictly increasing, and never overtaken by an earlier
one) is rebuilt from three pieces:

- appends to one collection are serialised by a lease on the collection's document (taken and
  released with `if_seq_no`; it expires after `taxii_elastic_objects.LEASE_S`, so a crashed
  writer blocks no one);
- each object version is written with `refresh="wait_for"` (searchable when the call returns)
  and a document id from (collection, id, version), created with `op_type=create` (a version
  already held is refused by the server: idempotent retries);
- the lease's release moves the collection's `committed_us` to the last date added, and reads
  only return objects dated at or before `committed_us`: a page can never pass over an object
  that is still being written, so a cursor or `added_after` never skips one.

One known gap: a writer that outlives its lease (slower than `LEASE_S`) fails at the release,
and versions it wrote may have first/last flags that the next writer computed without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from fenghuo.intel.collections import Collection, CollectionError
from fenghuo.intel.objects import TaxiiStatus
from fenghuo.store.base import StoreError
from fenghuo.store.elastic_io import MAX_ATTEMPTS, MAX_RESULTS, Indices
from fenghuo.store.search_client import SearchConflict, SearchNotFound

COLLECTIONS, OBJECTS, STATUS = "taxii_collections", "taxii_objects", "taxii_status"


class EsCollections:
    """`CollectionRepository`: one document per collection, with its readers, the append lease
    and the committed date added beside the collection itself."""

    def __init__(self, es: Indices) -> None:
        self._es = es

    @property
    def index(self) -> str:
        return self._es.names.plain(COLLECTIONS)

    def create(self, collection: Collection) -> Collection:
        document = {
            "id": collection.id,
            "created_at": collection.created_at.isoformat(),
            "readers": sorted(set(collection.readers)),
            "doc": msgspec.to_builtins(msgspec.structs.replace(collection, readers=())),
            "committed_us": 0,
        }
        try:
            self._es.client.index(
                index=self.index,
                id=collection.id,
                document=document,
                op_type="create",
                refresh=self._es.refresh,
            )
        except SearchConflict:
            msg = f"collection {collection.id} exists already"
            raise CollectionError(msg) from None
        return _collection(document)

    def get(self, collection_id: str) -> Collection | None:
        found = self.source_of(collection_id)
        return _collection(found[0]) if found is not None else None

    def source_of(self, collection_id: str) -> tuple[dict[str, Any], int, int] | None:
        try:
            response = self._es.client.get(index=self.index, id=collection_id)
        except SearchNotFound:
            return None
        return response["_source"], response["_seq_no"], response["_primary_term"]

    def list(self) -> list[Collection]:
        hits = self._es.client.search(
            index=self.index,
            query={"match_all": {}},
            sort=[{"created_at": "asc"}, {"id": "asc"}],
            size=MAX_RESULTS,
        )["hits"]["hits"]
        return [_collection(h["_source"]) for h in hits]

    def grant(self, collection_id: str, key_ids: Iterable[str]) -> Collection:
        added = set(key_ids)
        return self._change(collection_id, lambda readers: readers | added)

    def revoke_grant(self, collection_id: str, key_id: str) -> Collection:
        return self._change(collection_id, lambda readers: readers - {key_id})

    def _change(self, collection_id: str, change: Callable[[set[str]], set[str]]) -> Collection:
        for _attempt in range(MAX_ATTEMPTS):
            found = self.source_of(collection_id)
            if found is None:
                msg = f"no collection {collection_id}"
                raise CollectionError(msg)
            source, seq_no, term = found
            source = {**source, "readers": sorted(change(set(source["readers"])))}
            try:
                self._es.client.index(
                    index=self.index,
                    id=collection_id,
                    document=source,
                    if_seq_no=seq_no,
                    if_primary_term=term,
                    refresh=self._es.refresh,
                )
            except SearchConflict:
                continue
            return _collection(source)
        msg = f"collection {collection_id}: still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def delete(self, collection_id: str) -> bool:
        """The collection document; its objects and statuses become unreachable (every read
        goes through the collection) and are removed by id."""
        for kind in (OBJECTS, STATUS):
            _delete_matching(self._es, kind, {"term": {"collection_id": collection_id}})
        try:
            self._es.client.delete(index=self.index, id=collection_id, refresh=self._es.refresh)
        except SearchNotFound:
            return False
        return True


def _collection(source: dict[str, Any]) -> Collection:
    stored = msgspec.convert(source["doc"], Collection)
    return msgspec.structs.replace(stored, readers=tuple(source["readers"]))


def _delete_matching(es: Indices, kind: str, query: dict[str, Any]) -> int:
    index = es.names.plain(kind)
    removed = 0
    while True:
        hits = es.client.search(index=index, query=query, size=1000, source=False)["hits"]["hits"]
        if not hits:
            return removed
        for hit in hits:
            try:
                es.client.delete(index=index, id=hit["_id"], refresh=es.refresh)
                removed += 1
            except SearchNotFound:
                continue


class EsTaxiiStatus:
    """`StatusRepository` over `<prefix>taxii_status` (created once, never changed)."""

    def __init__(self, es: Indices) -> None:
        self._es = es

    def create(self, status: TaxiiStatus) -> TaxiiStatus:
        index = self._es.names.plain(STATUS)
        document = {
            "id": status.id,
            "collection_id": status.collection_id,
            "doc": msgspec.to_builtins(status),
        }
        with contextlib.suppress(SearchConflict):  # a retried create keeps the first
            self._es.client.index(
                index=index, id=status.id, document=document, op_type="create", refresh=True
            )
        return self.get(status.id) or status

    def get(self, status_id: str) -> TaxiiStatus | None:
        try:
            response = self._es.client.get(index=self._es.names.plain(STATUS), id=status_id)
        except SearchNotFound:
            return None
        return msgspec.convert(response["_source"]["doc"], TaxiiStatus)
