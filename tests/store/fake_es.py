"""An in-memory model of the search client layer (`fenghuo.store.search_client.SearchClient`),
so the contract suite can drive `ElasticStore`'s own code (documents, cursors, bulk retries,
derived state) without a server. It is a model, not a server: its query semantics are this
file's reading of the documented ones (bool filter/must, term, terms, range, ids, multi_match with
operator and; sort with search_after; histogram, terms and one-source composite aggregations), so
passing against it proves the backend consistent with that reading, not with a server. The real
checks are the same suites on the `opensearch` kind (a real node) and, with FENGHUO_ES_URL, on
Elasticsearch.

It speaks the Elasticsearch dialect by default (ILM rolls over: nothing to do here); with
`dialect=OPENSEARCH` it models `_rollover` on a `max_docs` condition, as the store calls it there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fenghuo.store.search_client import (
    ELASTICSEARCH,
    BulkItem,
    BulkOp,
    Dialect,
    Refresh,
    SearchBadRequest,
    SearchConflict,
    SearchError,
    SearchNotFound,
)
from tests.store.fake_es_queries import Desc, aggregate, json_copy, matches, values_at


class _Indices:
    def __init__(self, es: FakeSearchClient) -> None:
        self.es = es

    def create(
        self,
        *,
        index: str,
        aliases: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None:
        if index in self.es.docs:
            raise SearchBadRequest(400, "resource_already_exists_exception", index)
        self.es.docs[index] = {}
        for alias in aliases or {}:
            self.es.aliases.setdefault(alias, []).append(index)

    def exists(self, *, index: str) -> bool:
        return index in self.es.docs

    def exists_alias(self, *, name: str) -> bool:
        return name in self.es.aliases

    def get_alias(self, *, name: str) -> dict[str, Any]:
        if name not in self.es.aliases:
            raise SearchNotFound(404, "aliases_not_found_exception", name)
        indices = self.es.aliases[name]
        return {
            index: {"aliases": {name: {"is_write_index": index == indices[-1]}}}
            for index in indices
        }

    def get(self, *, index: Sequence[str]) -> dict[str, Any]:
        return {i: {} for i in self.es.docs if any(_glob(p, i) for p in index)}

    def delete(self, *, index: Sequence[str]) -> None:
        for name in index:
            self.es.docs.pop(name, None)
            for indices in self.es.aliases.values():
                if name in indices:
                    indices.remove(name)
        self.es.aliases = {a: i for a, i in self.es.aliases.items() if i}

    def refresh(self, *, index: str) -> None:
        pass

    def put_index_template(self, *, name: str, **template: Any) -> None:
        self.es.templates[name] = template

    def delete_index_template(self, *, name: str) -> None:
        self.es.templates.pop(name, None)

    def rollover(self, *, alias: str, conditions: Mapping[str, Any]) -> dict[str, Any]:
        """`max_docs` only (the other conditions never hold in a test)."""
        indices = self.es.aliases[alias]
        old = indices[-1]
        due = "max_docs" in conditions and len(self.es.docs[old]) >= conditions["max_docs"]
        prefix, number = old.rsplit("-", 1)
        new = f"{prefix}-{int(number) + 1:06d}"
        if due:
            self.es.docs[new] = {}
            indices.append(new)
        return {"rolled_over": due, "old_index": old, "new_index": new}


def _glob(pattern: str, name: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name) is not None


class FakeSearchClient:
    """The `SearchClient` protocol over dicts (see the module docstring)."""

    def __init__(self, dialect: Dialect = ELASTICSEARCH) -> None:
        self.docs: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
        self.aliases: dict[str, list[str]] = {}  # the write index last
        self.templates: dict[str, Any] = {}
        self.seq = 0
        self.bulk_requests = 0
        self._dialect = dialect
        self._indices = _Indices(self)

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    @property
    def indices(self) -> _Indices:
        return self._indices

    def put_lifecycle(self, *, name: str, policy: dict[str, Any]) -> None:
        pass

    def delete_lifecycle(self, *, name: str) -> None:
        pass

    def close(self) -> None:
        pass

    def _concrete(self, name: str) -> list[str]:
        """The indices behind a name (an alias's, the write index last)."""
        return list(self.aliases.get(name, [name]))

    def _write_index(self, name: str) -> str:
        return self._concrete(name)[-1]

    def get(self, *, index: str, id: str) -> dict[str, Any]:
        concrete = self._write_index(index)
        if id not in self.docs.get(concrete, {}):
            raise SearchNotFound(404, "not_found", id)
        seq, source = self.docs[concrete][id]
        return {
            "_index": concrete,
            "_id": id,
            "_seq_no": seq,
            "_primary_term": 1,
            "_source": source,
        }

    def mget(
        self, *, index: str, ids: Sequence[str], source_includes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        docs = []
        for doc_id in ids:
            try:
                found = self.get(index=index, id=doc_id)
            except SearchNotFound:
                docs.append({"_index": index, "_id": doc_id, "found": False})
                continue
            if source_includes is not None:
                found["_source"] = {k: found["_source"][k] for k in source_includes}
            docs.append({**found, "found": True})
        return {"docs": docs}

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
        docs = self.docs.setdefault(self._write_index(index), {})
        current = docs.get(id)
        stale = if_seq_no is not None and (current is None or current[0] != if_seq_no)
        if (op_type == "create" and current is not None) or stale:
            raise SearchConflict(409, "version_conflict_engine_exception", id)
        self.seq += 1
        # Through JSON-like copies, as a server would store them.
        docs[id] = (self.seq, json_copy(document))
        return {"_id": id, "result": "created" if current is None else "updated"}

    def delete(
        self,
        *,
        index: str,
        id: str,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: Refresh = False,
    ) -> dict[str, Any]:
        docs = self.docs.get(self._write_index(index), {})
        current = docs.get(id)
        if current is None:
            raise SearchNotFound(404, "not_found", id)
        if if_seq_no is not None and current[0] != if_seq_no:
            raise SearchConflict(409, "version_conflict_engine_exception", id)
        self.seq += 1
        del docs[id]
        return {"result": "deleted"}

    def delete_by_query(
        self,
        *,
        index: str,
        query: dict[str, Any],
        refresh: bool = False,
        conflicts: Literal["abort", "proceed"] = "abort",
    ) -> dict[str, Any]:
        found = self._select(index, query)
        for concrete, doc_id, _source in found:
            del self.docs[concrete][doc_id]
        return {"deleted": len(found)}

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        self.bulk_requests += 1
        items = []
        for op in operations:
            try:
                if op.op == "delete":
                    self.delete(index=op.index, id=op.id, if_seq_no=op.if_seq_no)
                else:
                    self.index(
                        index=op.index,
                        id=op.id,
                        document=op.document or {},
                        op_type=op.op,
                        if_seq_no=op.if_seq_no,
                        if_primary_term=op.if_primary_term,
                    )
            except SearchError as exc:
                items.append(BulkItem(op.id, exc.status or 500, exc))
                continue
            items.append(BulkItem(op.id, 201 if op.op == "create" else 200))
        return items

    def _select(self, index: str, query: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
        return [
            (concrete, doc_id, source)
            for concrete in self._concrete(index)
            for doc_id, (_seq, source) in self.docs.get(concrete, {}).items()
            if matches(doc_id, source, query)
        ]

    def count(self, *, index: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"count": len(self._select(index, query))}

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
        found = self._select(index, query)
        keys = [(field, order) for item in sort or [] for field, order in item.items()]

        def sortvalues_at(hit: tuple[str, str, Any]) -> list[Any]:
            return [(values_at(hit[2], f) or [None])[0] for f, _ in keys]

        def rank(values: list[Any]) -> tuple[Any, ...]:
            return tuple(
                Desc(v) if order == "desc" else v
                for v, (_f, order) in zip(values, keys, strict=True)
            )

        found.sort(key=lambda hit: rank(sortvalues_at(hit)))
        if search_after is not None:
            after = rank(search_after)
            found = [hit for hit in found if rank(sortvalues_at(hit)) > after]
        hits = [
            {
                "_index": concrete,
                "_id": doc_id,
                "_source": source_doc if source is not False else None,
                "sort": sortvalues_at((concrete, doc_id, source_doc)),
            }
            for concrete, doc_id, source_doc in found[: 10 if size is None else size]
        ]
        response: dict[str, Any] = {"hits": {"total": {"value": len(found)}, "hits": hits}}
        if aggs:
            response["aggregations"] = {
                name: aggregate(body, [h[2] for h in found]) for name, body in aggs.items()
            }
        return response
