"""The search backend's plumbing (Elasticsearch or OpenSearch, through
`fenghuo.store.search_client`): the write-index cache (which also rolls the write index over
where the server does not, see `write_index`), real-time reads with their concurrency tokens, and
the optimistic-concurrency read-merge-write, in bulk (see `elastic`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fenghuo.store import es_docs
from fenghuo.store.base import StoreError, encode_cursor
from fenghuo.store.search_client import (
    BulkOp,
    SearchBadRequest,
    SearchClient,
    SearchConflict,
    SearchNotFound,
)

MAX_ATTEMPTS = 16  # optimistic-concurrency retries of one document write
MAX_RESULTS = 10_000  # Elasticsearch's (and OpenSearch's) default index.max_result_window
BULK_CHUNK = 1000  # documents per mget/_bulk round trip
WRITE_INDEX_TTL_S = 30.0  # how long a write index is cached (and so how often rollover is checked)

# What to write for a document given what is stored (None: absent); None: nothing to write.
Change = Callable[[str, "Found | None"], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Found:
    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class Indices:
    """Shared client, names and the write-index cache of one store.

    `rollover` overrides the dialect's rollover conditions (tests use a tiny `max_docs`);
    `write_index_ttl_s` is how long a write index is trusted before it is looked up again."""

    def __init__(
        self,
        client: SearchClient,
        prefix: str,
        *,
        rollover: Mapping[str, Any] | None = None,
        write_index_ttl_s: float = WRITE_INDEX_TTL_S,
    ) -> None:
        self.client = client
        self.names = es_docs.IndexNames(prefix)
        self.refresh_on_write = False
        default = client.dialect.rollover_conditions
        self.rollover = dict(rollover if rollover is not None else default)
        self._ttl_s = write_index_ttl_s
        self._write: dict[str, tuple[float, str]] = {}

    @property
    def refresh(self) -> bool:
        return self.refresh_on_write

    def write_index(self, kind: str) -> str:
        """The concrete index the write alias points to, cached for `write_index_ttl_s`.

        Where the server does not roll over by itself (OpenSearch: no ILM), each lookup is a
        conditional `_rollover` instead: one request that moves the alias when a condition is
        met and names the write index either way. So every writing process checks each series
        at most once per TTL, which is cheap, and a series written to is never left unchecked
        for longer than that."""
        cached = self._write.get(kind)
        if cached is not None and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        index = self._rolled(kind) if not self.client.dialect.server_rollover else None
        if index is None:
            index = self._alias_write_index(kind)
        self._write[kind] = (time.monotonic(), index)
        return index

    def _rolled(self, kind: str) -> str | None:
        """Roll over if a condition is met; the write index, or None when another process
        rolled over at the same moment (then the alias says where it went)."""
        try:
            answer = self.client.indices.rollover(
                alias=self.names.alias(kind), conditions=self.rollover
            )
        except SearchBadRequest as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            return None
        return str(answer["new_index"] if answer.get("rolled_over") else answer["old_index"])

    def _alias_write_index(self, kind: str) -> str:
        alias = self.names.alias(kind)
        found = self.client.indices.get_alias(name=alias)
        return str(
            next(
                (i for i, v in found.items() if v["aliases"][alias].get("is_write_index")),
                next(iter(found)),
            )
        )

    def append_alias(self, kind: str) -> str:
        """The alias to create a document through (it lands in the write index), after the
        periodic rollover check of `write_index`: append-only series are never read back
        before writing, so this is where their rollover gets checked."""
        self.write_index(kind)
        return self.names.alias(kind)

    def locate(self, kind: str, doc_id: str) -> Found | None:
        """A document by id with its concurrency token, read in real time."""
        return self.locate_many(kind, [doc_id]).get(doc_id)

    def locate_many(self, kind: str, ids: Sequence[str]) -> dict[str, Found]:
        """Documents by id with their concurrency tokens: one real-time mget on the write
        index; the ids not there are searched for across the alias (older indices, which are
        only updated, never created in) and read in real time from where they are."""
        write = self.write_index(kind)
        found = self._mget(write, ids)
        missing = [doc_id for doc_id in ids if doc_id not in found]
        if not missing:
            return found
        hits = self.client.search(
            index=self.names.alias(kind),
            query={"ids": {"values": missing}},
            size=len(missing),
            source=False,
        )["hits"]["hits"]
        elsewhere: dict[str, list[str]] = {}
        for hit in hits:
            if hit["_index"] != write:
                elsewhere.setdefault(hit["_index"], []).append(hit["_id"])
        for index, some in sorted(elsewhere.items()):
            found.update(self._mget(index, some))
        return found

    def _mget(self, index: str, ids: Sequence[str]) -> dict[str, Found]:
        found: dict[str, Found] = {}
        for doc in self.client.mget(index=index, ids=ids)["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = Found(
                    doc["_index"], doc["_seq_no"], doc["_primary_term"], doc["_source"]
                )
        return found

    def read_merge_write(
        self, kind: str, doc_id: str, change: Callable[[Found | None], dict[str, Any] | None]
    ) -> bool:
        """Apply `change` (None: nothing to write) under optimistic concurrency; True if written."""
        return bool(self.read_merge_write_many(kind, [doc_id], lambda _id, found: change(found)))

    def read_merge_write_many(self, kind: str, ids: Sequence[str], change: Change) -> set[str]:
        """Apply `change` to each document under optimistic concurrency, in bulk: read the
        current versions (`locate_many`), compute every new document, write them in one `_bulk`
        (`create` for new ones, `index` with `if_seq_no`/`if_primary_term` otherwise), and
        start again from the read for the items that conflicted (someone else wrote in
        between), at most MAX_ATTEMPTS rounds. Returns the ids written."""
        written: set[str] = set()
        ordered = list(dict.fromkeys(ids))
        for start in range(0, len(ordered), BULK_CHUNK):
            pending = ordered[start : start + BULK_CHUNK]
            for _attempt in range(MAX_ATTEMPTS):
                pending = self._write_round(kind, pending, change, written)
                if not pending:
                    break
            else:
                msg = f"{kind} {pending[0]}: still conflicting after {MAX_ATTEMPTS} attempts"
                raise StoreError(msg)
        return written

    def _write_round(
        self, kind: str, ids: list[str], change: Change, written: set[str]
    ) -> list[str]:
        """One read + bulk write; the ids that conflicted. Any other failed item raises."""
        found = self.locate_many(kind, ids)
        operations: list[BulkOp] = []
        for doc_id in ids:
            at = found.get(doc_id)
            document = change(doc_id, at)
            if document is None:
                continue
            if at is None:
                operations.append(BulkOp("create", self.names.alias(kind), doc_id, document))
            else:
                operations.append(
                    BulkOp("index", at.index, doc_id, document, at.seq_no, at.primary_term)
                )
        if not operations:
            return []
        conflicted: list[str] = []
        for item in self.client.bulk(operations=operations, refresh=self.refresh):
            if isinstance(item.error, SearchConflict):
                conflicted.append(item.id)
            elif item.error is not None:
                raise item.error
            else:
                written.add(item.id)
        return conflicted

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
            except SearchConflict:
                continue  # rewritten since we read it: read again
            except SearchNotFound:
                return False  # deleted by someone else in between
            return True
        msg = f"{kind} {doc_id}: delete still conflicting after {MAX_ATTEMPTS} attempts"
        raise StoreError(msg)

    def search(self, kind: str, **kwargs: Any) -> dict[str, Any]:
        return self.client.search(index=self.names.alias(kind), **kwargs)

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
