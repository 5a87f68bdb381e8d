"""TAXII objects on the search server (`<prefix>taxii_objects`): append-only versions under a
per-collection append lease, read only up to the collection's `committed_us` (see
`fenghuo.intel.taxii_elastic` for why)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from fenghuo.intel.objects import (
    MAX_PAGE,
    STIX_MEDIA_TYPE,
    ObjectPage,
    ObjectQuery,
    ObjectStoreError,
    StoredObject,
    checked_objects,
    decode_cursor,
    encode_cursor,
    format_timestamp,
    from_micros,
    micros,
    object_version,
    parse_timestamp,
)
from fenghuo.intel.taxii_elastic import OBJECTS, EsCollections
from fenghuo.store.base import StoreError
from fenghuo.store.elastic_io import MAX_RESULTS, Indices
from fenghuo.store.search_client import SearchConflict

LEASE_S = 30.0
_WAIT_S = 0.05
_SOURCES_PAGE = 1000  # buckets per composite aggregation request


def _doc_id(collection_id: str, object_id: str, version_us: int) -> str:
    return hashlib.sha256(f"{collection_id}\n{object_id}\n{version_us}".encode()).hexdigest()


def _stored(source: dict[str, Any]) -> StoredObject:
    return StoredObject(
        collection_id=source["collection_id"],
        id=source["id"],
        type=source["type"],
        version=source["version"],
        spec_version=source["spec_version"],
        date_added=from_micros(source["added_us"]),
        media_type=source["media_type"],
        body=source["body"],
    )


class EsObjects:
    """`ObjectRepository` over `<prefix>taxii_objects` (see the module docstring)."""

    def __init__(self, es: Indices, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._es = es
        self._collections = EsCollections(es)
        self._now = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def _index(self) -> str:
        return self._es.names.plain(OBJECTS)

    # --- writes ---------------------------------------------------------------------------

    def append(
        self,
        collection_id: str,
        objects: Iterable[dict[str, Any]],
        *,
        source: str | None = None,
    ) -> list[StoredObject]:
        batch = checked_objects(objects)
        lease = self._acquire(collection_id)
        added: list[StoredObject] = []
        newest = max(lease.newest, micros(self._now()) - 1)
        try:
            for obj in batch:
                stored = self._append_one(collection_id, obj, newest + 1, source)
                if stored is not None:
                    added.append(stored)
                    newest = micros(stored.date_added)
        finally:
            self._release(collection_id, lease, newest)
        return added

    def _acquire(self, collection_id: str) -> _Lease:
        """Take the collection's append lease (waiting for a live one to end)."""
        deadline = time.monotonic() + 2 * LEASE_S
        while True:
            found = self._collections.source_of(collection_id)
            if found is None:
                msg = f"no collection {collection_id}"
                raise ObjectStoreError(msg)
            doc, seq_no, term = found
            now = time.time()
            if doc.get("lease_until", 0) <= now:
                owner = uuid.uuid4().hex
                taken = {**doc, "lease_owner": owner, "lease_until": now + LEASE_S}
                try:
                    self._es.client.index(
                        index=self._collections.index,
                        id=collection_id,
                        document=taken,
                        if_seq_no=seq_no,
                        if_primary_term=term,
                    )
                except SearchConflict:
                    continue
                newest = max(doc.get("committed_us", 0), self._newest_written(collection_id))
                return _Lease(owner, newest)
            if time.monotonic() > deadline:
                msg = f"collection {collection_id}: the append lease stays taken"
                raise StoreError(msg)
            time.sleep(_WAIT_S)

    def _newest_written(self, collection_id: str) -> int:
        """Date added of the newest version written, committed or not (a writer that died
        after writing some versions left them above `committed_us`)."""
        hits = self._es.client.search(
            index=self._index,
            query={"term": {"collection_id": collection_id}},
            sort=[{"added_us": "desc"}],
            size=1,
        )["hits"]["hits"]
        return int(hits[0]["_source"]["added_us"]) if hits else 0

    def _release(self, collection_id: str, lease: _Lease, newest: int) -> None:
        found = self._collections.source_of(collection_id)
        if found is None or found[0].get("lease_owner") != lease.owner:
            msg = f"collection {collection_id}: the append lease expired before the release"
            raise StoreError(msg)
        doc, seq_no, term = found
        released = {**doc, "lease_owner": None, "lease_until": 0, "committed_us": newest}
        self._es.client.index(
            index=self._collections.index,
            id=collection_id,
            document=released,
            if_seq_no=seq_no,
            if_primary_term=term,
            refresh=self._es.refresh,
        )

    def _versions(self, collection_id: str, object_id: str) -> list[dict[str, Any]]:
        query = {
            "bool": {
                "filter": [
                    {"term": {"collection_id": collection_id}},
                    {"term": {"id": object_id}},
                ]
            }
        }
        hits = self._es.client.search(
            index=self._index, query=query, sort=[{"version_us": "asc"}], size=MAX_RESULTS
        )["hits"]["hits"]
        return [{**h["_source"], "_id": h["_id"]} for h in hits]

    def _append_one(
        self, collection_id: str, obj: dict[str, Any], added_us: int, source: str | None
    ) -> StoredObject | None:
        object_id: str = obj["id"]
        held = self._versions(collection_id, object_id)
        version = object_version(obj)
        if version is None:
            if held:
                return None  # an SCO: its id says its content
            version, version_us = format_timestamp(from_micros(added_us)), added_us
        else:
            version_us = micros(parse_timestamp(version))
        if any(h["version_us"] == version_us for h in held):
            return None
        is_first = not held or version_us < held[0]["version_us"]
        is_last = not held or version_us > held[-1]["version_us"]
        document = {
            "collection_id": collection_id,
            "added_us": added_us,
            "id": object_id,
            "type": obj["type"],
            "version": version,
            "version_us": version_us,
            "spec_version": obj.get("spec_version", "2.1"),
            "media_type": STIX_MEDIA_TYPE,
            "is_first": is_first,
            "is_last": is_last,
            "source": source,
            "body": obj,
        }
        try:
            self._es.client.index(
                index=self._index,
                id=_doc_id(collection_id, object_id, version_us),
                document=document,
                op_type="create",
                refresh="wait_for",
            )
        except SearchConflict:
            return None
        for old in held:
            self._flag(
                old,
                is_first=old["is_first"] and not is_first,
                is_last=old["is_last"] and not is_last,
            )
        return _stored(document)

    def _flag(self, held: dict[str, Any], *, is_first: bool, is_last: bool) -> None:
        """Rewrite a held version whose first/last flags change (its body never does)."""
        if (held["is_first"], held["is_last"]) == (is_first, is_last):
            return
        document = {k: v for k, v in held.items() if k != "_id"}
        document.update(is_first=is_first, is_last=is_last)
        self._es.client.index(
            index=self._index, id=held["_id"], document=document, refresh="wait_for"
        )

    # --- reads ----------------------------------------------------------------------------

    def _filters(self, collection_id: str, query: ObjectQuery, after_us: int) -> dict[str, Any]:
        found = self._collections.source_of(collection_id)
        committed = found[0].get("committed_us", 0) if found is not None else 0
        filters: list[dict[str, Any]] = [
            {"term": {"collection_id": collection_id}},
            {"range": {"added_us": {"gt": after_us, "lte": committed}}},
        ]
        if query.versions and "all" not in query.versions:
            either: list[dict[str, Any]] = []
            for version in dict.fromkeys(query.versions):
                if version in ("first", "last"):
                    either.append({"term": {f"is_{version}": True}})
                else:
                    either.append({"term": {"version_us": micros(parse_timestamp(version))}})
            filters.append({"bool": {"should": either, "minimum_should_match": 1}})
        for field, values in (
            ("id", query.ids),
            ("type", query.types),
            ("spec_version", query.spec_versions),
        ):
            if values:
                filters.append({"terms": {field: sorted(values)}})
        return {"bool": {"filter": filters}}

    def page(
        self,
        collection_id: str,
        query: ObjectQuery = ObjectQuery(),  # noqa: B008 - frozen, shared safely
        *,
        limit: int,
        cursor: str | None = None,
    ) -> ObjectPage:
        if not 1 <= limit <= MAX_PAGE:
            msg = f"limit must be between 1 and {MAX_PAGE}, not {limit}"
            raise ObjectStoreError(msg)
        after = decode_cursor(cursor, collection_id)[0] if cursor is not None else -1
        if query.added_after is not None:
            after = max(after, micros(query.added_after))
        hits = self._es.client.search(
            index=self._index,
            query=self._filters(collection_id, query, after),
            sort=[{"added_us": "asc"}],
            size=limit + 1,
        )["hits"]["hits"]
        found = [_stored(h["_source"]) for h in hits[:limit]]
        if len(hits) <= limit:
            return ObjectPage(found, more=False, next=None)
        last = found[-1]
        return ObjectPage(
            found, more=True, next=encode_cursor(collection_id, micros(last.date_added), last.id)
        )

    def latest(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        ids = sorted(set(object_ids))
        found: dict[str, StoredObject] = {}
        for start in range(0, len(ids), 1000):
            query = {
                "bool": {
                    "filter": [
                        {"term": {"collection_id": collection_id}},
                        {"terms": {"id": ids[start : start + 1000]}},
                        {"term": {"is_last": True}},
                    ]
                }
            }
            hits = self._es.client.search(index=self._index, query=query, size=MAX_RESULTS)
            found.update((h["_source"]["id"], _stored(h["_source"])) for h in hits["hits"]["hits"])
        return found

    def delete(self, collection_id: str, query: ObjectQuery) -> int:
        if not query.ids:
            return 0
        removed = 0
        for object_id in sorted(query.ids):
            one = ObjectQuery(
                ids=frozenset({object_id}),
                versions=query.versions,
                spec_versions=query.spec_versions,
            )
            hits = self._es.client.search(
                index=self._index,
                query=self._filters(collection_id, one, -1),
                size=MAX_RESULTS,
                source=False,
            )["hits"]["hits"]
            for hit in hits:
                self._es.client.delete(index=self._index, id=hit["_id"], refresh="wait_for")
                removed += 1
            if hits:
                rest = self._versions(collection_id, object_id)
                for position, kept in enumerate(rest):
                    self._flag(kept, is_first=position == 0, is_last=position == len(rest) - 1)
        return removed

    def ids_of_source(self, collection_id: str, source: str) -> list[str]:
        query = {
            "bool": {
                "filter": [
                    {"term": {"collection_id": collection_id}},
                    {"term": {"source": source}},
                ]
            }
        }
        hits = self._es.client.search(index=self._index, query=query, size=MAX_RESULTS)
        return sorted({h["_source"]["id"] for h in hits["hits"]["hits"]})

    def sources(self, collection_ids: Sequence[str]) -> set[str]:
        """A composite aggregation on `source` (keyword, doc values), paged by its
        `after_key`: the distinct values without reading a document. Each collection counts
        up to its `committed_us`, as a page does."""
        horizons: list[dict[str, Any]] = []
        for collection_id in sorted(set(collection_ids)):
            found = self._collections.source_of(collection_id)
            if found is None:
                continue
            committed = found[0].get("committed_us", 0)
            horizons.append(
                {
                    "bool": {
                        "filter": [
                            {"term": {"collection_id": collection_id}},
                            {"range": {"added_us": {"lte": committed}}},
                        ]
                    }
                }
            )
        if not horizons:
            return set()
        query = {
            "bool": {
                "filter": [
                    {"exists": {"field": "source"}},
                    {"bool": {"should": horizons, "minimum_should_match": 1}},
                ]
            }
        }
        found_sources: set[str] = set()
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": _SOURCES_PAGE,
                "sources": [{"source": {"terms": {"field": "source"}}}],
            }
            if after is not None:
                composite["after"] = after
            response = self._es.client.search(
                index=self._index,
                query=query,
                size=0,
                aggs={"sources": {"composite": composite}},
            )
            result = response["aggregations"]["sources"]
            buckets = result["buckets"]
            found_sources.update(b["key"]["source"] for b in buckets)
            after = result.get("after_key")
            if len(buckets) < _SOURCES_PAGE or after is None:
                return found_sources

    def count(self, collection_id: str) -> int:
        response = self._es.client.count(
            index=self._index, query={"term": {"collection_id": collection_id}}
        )
        return int(response["count"])


class _Lease(msgspec.Struct, frozen=True):
    owner: str
    newest: int  # the newest date added written before the lease was taken
