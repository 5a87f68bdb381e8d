"""An in-memory model of the few Elasticsearch client calls the store makes, so the contract
suite can drive `ElasticStore`'s own code (documents, cursors, retries, derived state) here,
where no server can run. It is a model, not Elasticsearch: its query semantics are this file's
reading of the documented ones (bool filter/must, term, terms, range, ids, multi_match with
operator and; sort with search_after; histogram, terms and one-source composite aggregations), so
passing against it proves the backend consistent with that reading, not with a server. The real
check is the same suite with FENGHUO_ES_URL set.
"""

from __future__ import annotations

import re
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ConflictError, NotFoundError


def _error(cls: type[Exception], status: int, kind: str) -> Exception:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return cls(kind, meta, {"error": {"type": kind}})


class Response(dict[str, Any]):
    @property
    def body(self) -> dict[str, Any]:
        return dict(self)

    def __bool__(self) -> bool:  # HEAD responses are truthy when the thing exists
        return bool(self.get("exists", True))


def _values(source: Any, path: str) -> list[Any]:
    node: Any = source
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return []
    if node is None:
        return []
    return list(node) if isinstance(node, list) else [node]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _matches(doc_id: str, source: dict[str, Any], query: dict[str, Any] | None) -> bool:
    if not query:
        return True
    (kind, body), *_ = query.items()
    if kind == "bool":
        clauses = [*body.get("filter", []), *body.get("must", [])]
        should = body.get("should", [])  # only as a disjunction (minimum_should_match 1)
        return (
            all(_matches(doc_id, source, c) for c in clauses)
            and not any(_matches(doc_id, source, c) for c in body.get("must_not", []))
            and (not should or any(_matches(doc_id, source, c) for c in should))
        )
    if kind == "exists":
        return bool(_values(source, body["field"]))
    if kind == "term":
        ((field, value),) = body.items()
        return value in _values(source, field)
    if kind == "terms":
        ((field, values),) = body.items()
        return any(v in values for v in _values(source, field))
    if kind == "range":
        ((field, bounds),) = body.items()
        found = _values(source, field)
        return any(
            ("gte" not in bounds or v >= bounds["gte"])
            and ("gt" not in bounds or v > bounds["gt"])
            and ("lt" not in bounds or v < bounds["lt"])
            and ("lte" not in bounds or v <= bounds["lte"])
            for v in found
        )
    if kind == "ids":
        return doc_id in body["values"]
    if kind == "multi_match" and body.get("type") == "phrase":
        want = re.findall(r"\w+", body["query"].lower())
        fields = [
            re.findall(r"\w+", str(v).lower()) for f in body["fields"] for v in _values(source, f)
        ]
        return any(have[i : i + len(want)] == want for have in fields for i in range(len(have) + 1))
    if kind == "multi_match":
        text: set[str] = set()
        for field in body["fields"]:
            for value in _values(source, field):
                text |= _words(str(value))
        return _words(body["query"]) <= text
    if kind == "match_all":
        return True
    msg = f"the fake does not model {kind} queries"
    raise NotImplementedError(msg)


class _Indices:
    def __init__(self, es: FakeElasticsearch) -> None:
        self.es = es

    def put_index_template(self, **kwargs: Any) -> Response:
        self.es.templates[kwargs["name"]] = kwargs
        return Response(acknowledged=True)

    def delete_index_template(self, *, name: str) -> Response:
        self.es.templates.pop(name, None)
        return Response(acknowledged=True)

    def exists_alias(self, *, name: str) -> Response:
        return Response(exists=name in self.es.aliases)

    def exists(self, *, index: str) -> Response:
        return Response(exists=index in self.es.docs)

    def create(self, *, index: str, aliases: dict[str, Any] | None = None) -> Response:
        self.es.docs.setdefault(index, {})
        for alias in aliases or {}:
            self.es.aliases[alias] = index
        return Response(acknowledged=True)

    def get_alias(self, *, name: str) -> Response:
        index = self.es.aliases[name]
        return Response({index: {"aliases": {name: {"is_write_index": True}}}})

    def get(self, *, index: list[str], **_: Any) -> Response:
        return Response({i: {} for i in self.es.docs if any(_glob(p, i) for p in index)})

    def delete(self, *, index: list[str]) -> Response:
        for name in index:
            self.es.docs.pop(name, None)
        return Response(acknowledged=True)


def _glob(pattern: str, name: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name) is not None


class _Ilm:
    def put_lifecycle(self, **_: Any) -> Response:
        return Response(acknowledged=True)

    def delete_lifecycle(self, **_: Any) -> Response:
        return Response(acknowledged=True)


class FakeElasticsearch:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
        self.aliases: dict[str, str] = {}
        self.templates: dict[str, Any] = {}
        self.seq = 0
        self.indices = _Indices(self)
        self.ilm = _Ilm()

    def options(self, **_: Any) -> FakeElasticsearch:
        return self

    def close(self) -> None:
        pass

    def _index_of(self, name: str) -> str:
        return self.aliases.get(name, name)

    def get(self, *, index: str, id: str) -> Response:
        concrete = self._index_of(index)
        if id not in self.docs.get(concrete, {}):
            raise _error(NotFoundError, 404, "not_found")
        seq, source = self.docs[concrete][id]
        return Response(_index=concrete, _id=id, _seq_no=seq, _primary_term=1, _source=source)

    def index(
        self,
        *,
        index: str,
        id: str,
        document: dict[str, Any],
        op_type: str | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: bool = False,
    ) -> Response:
        concrete = self._index_of(index)
        docs = self.docs.setdefault(concrete, {})
        current = docs.get(id)
        stale = if_seq_no is not None and (current is None or current[0] != if_seq_no)
        if (op_type == "create" and current is not None) or stale:
            raise _error(ConflictError, 409, "version_conflict_engine_exception")
        self.seq += 1
        # Through JSON-like copies, as a server would store them.
        docs[id] = (self.seq, _copy(document))
        return Response(result="created" if current is None else "updated")

    def delete(
        self,
        *,
        index: str,
        id: str,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: bool = False,
    ) -> Response:
        docs = self.docs.get(self._index_of(index), {})
        current = docs.get(id)
        if current is None:
            raise _error(NotFoundError, 404, "not_found")
        if if_seq_no is not None and current[0] != if_seq_no:
            raise _error(ConflictError, 409, "version_conflict_engine_exception")
        self.seq += 1
        del docs[id]
        return Response(result="deleted")

    def _select(self, index: str, query: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
        concrete = self._index_of(index)
        return [
            (concrete, doc_id, source)
            for doc_id, (_seq, source) in self.docs.get(concrete, {}).items()
            if _matches(doc_id, source, query)
        ]

    def count(self, *, index: str, query: dict[str, Any] | None = None) -> Response:
        return Response(count=len(self._select(index, query)))

    def search(
        self,
        *,
        index: str,
        query: dict[str, Any] | None = None,
        sort: list[dict[str, str]] | None = None,
        search_after: list[Any] | None = None,
        size: int = 10,
        aggs: dict[str, Any] | None = None,
        source: bool = True,
        track_total_hits: bool = False,
    ) -> Response:
        found = self._select(index, query)
        keys = [(field, order) for item in sort or [] for field, order in item.items()]

        def sort_values(hit: tuple[str, str, Any]) -> list[Any]:
            return [(_values(hit[2], f) or [None])[0] for f, _ in keys]

        def rank(values: list[Any]) -> tuple[Any, ...]:
            return tuple(
                _Desc(v) if order == "desc" else v
                for v, (_f, order) in zip(values, keys, strict=True)
            )

        found.sort(key=lambda hit: rank(sort_values(hit)))
        if search_after is not None:
            after = rank(search_after)
            found = [hit for hit in found if rank(sort_values(hit)) > after]
        hits = [
            {
                "_index": concrete,
                "_id": doc_id,
                "_source": source_doc if source else None,
                "sort": sort_values((concrete, doc_id, source_doc)),
            }
            for concrete, doc_id, source_doc in found[:size]
        ]
        response = Response(hits={"total": {"value": len(found)}, "hits": hits})
        if aggs:
            response["aggregations"] = {
                name: _aggregate(body, [h[2] for h in found]) for name, body in aggs.items()
            }
        return response


class _Desc:
    """Reverses the order of a sort value."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.value > other.value)

    def __gt__(self, other: _Desc) -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _aggregate(body: dict[str, Any], sources: list[Any]) -> dict[str, Any]:
    if "composite" in body:
        return _composite(body["composite"], sources)
    if "histogram" in body:
        spec = body["histogram"]
        counts: dict[float, int] = {}
        for source in sources:
            for value in _values(source, spec["field"]):
                key = float(value // spec["interval"] * spec["interval"])
                counts[key] = counts.get(key, 0) + 1
        return {"buckets": [{"key": k, "doc_count": n} for k, n in sorted(counts.items())]}
    spec = body["terms"]
    terms: dict[Any, int] = {}
    for source in sources:
        values = _values(source, spec["field"])
        if not values and "missing" in spec:
            values = [spec["missing"]]
        for value in set(values):
            terms[value] = terms.get(value, 0) + 1
    ordered = sorted(terms.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return {"buckets": [{"key": k, "doc_count": n} for k, n in ordered[: spec["size"]]]}


def _composite(spec: dict[str, Any], sources: list[Any]) -> dict[str, Any]:
    """One `terms` value source (documents without the field are left out, as without
    `missing_bucket`), keys ascending, the page after `after`; `after_key` when a bucket
    was returned."""
    ((name, value_source),) = (item for one in spec["sources"] for item in one.items())
    field = value_source["terms"]["field"]
    counts: dict[Any, int] = {}
    for source in sources:
        for value in set(_values(source, field)):
            counts[value] = counts.get(value, 0) + 1
    keys = sorted(counts)
    if "after" in spec:
        keys = [k for k in keys if k > spec["after"][name]]
    page = keys[: spec.get("size", 10)]
    result: dict[str, Any] = {"buckets": [{"key": {name: k}, "doc_count": counts[k]} for k in page]}
    if page:
        result["after_key"] = {name: page[-1]}
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
