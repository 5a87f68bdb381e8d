"""The query, sort and aggregation semantics of the search client model (`tests/store/fake_es.py`):
this file's reading of the documented ones, nothing more (see that module's docstring)."""

from __future__ import annotations

import re
from typing import Any


def values_at(source: Any, path: str) -> list[Any]:
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


def matches(doc_id: str, source: dict[str, Any], query: dict[str, Any] | None) -> bool:
    if not query:
        return True
    (kind, body), *_ = query.items()
    if kind == "bool":
        clauses = [*body.get("filter", []), *body.get("must", [])]
        should = body.get("should", [])  # only as a disjunction (minimum_should_match 1)
        return (
            all(matches(doc_id, source, c) for c in clauses)
            and not any(matches(doc_id, source, c) for c in body.get("must_not", []))
            and (not should or any(matches(doc_id, source, c) for c in should))
        )
    if kind == "exists":
        return bool(values_at(source, body["field"]))
    if kind == "term":
        ((field, value),) = body.items()
        return value in values_at(source, field)
    if kind == "terms":
        ((field, values),) = body.items()
        return any(v in values for v in values_at(source, field))
    if kind == "range":
        ((field, bounds),) = body.items()
        found = values_at(source, field)
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
            re.findall(r"\w+", str(v).lower()) for f in body["fields"] for v in values_at(source, f)
        ]
        return any(have[i : i + len(want)] == want for have in fields for i in range(len(have) + 1))
    if kind == "multi_match":
        text: set[str] = set()
        for field in body["fields"]:
            for value in values_at(source, field):
                text |= _words(str(value))
        return _words(body["query"]) <= text
    if kind == "match_all":
        return True
    msg = f"the fake does not model {kind} queries"
    raise NotImplementedError(msg)


class Desc:
    """Reverses the order of a sort value."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Desc) -> bool:
        return bool(self.value > other.value)

    def __gt__(self, other: Desc) -> bool:
        return bool(self.value < other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def aggregate(body: dict[str, Any], sources: list[Any]) -> dict[str, Any]:
    if "composite" in body:
        return _composite(body["composite"], sources)
    if "histogram" in body:
        spec = body["histogram"]
        counts: dict[float, int] = {}
        for source in sources:
            for value in values_at(source, spec["field"]):
                key = float(value // spec["interval"] * spec["interval"])
                counts[key] = counts.get(key, 0) + 1
        return {"buckets": [{"key": k, "doc_count": n} for k, n in sorted(counts.items())]}
    spec = body["terms"]
    terms: dict[Any, int] = {}
    for source in sources:
        values = values_at(source, spec["field"])
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
        for value in set(values_at(source, field)):
            counts[value] = counts.get(value, 0) + 1
    keys = sorted(counts)
    if "after" in spec:
        keys = [k for k in keys if k > spec["after"][name]]
    page = keys[: spec.get("size", 10)]
    result: dict[str, Any] = {"buckets": [{"key": {name: k}, "doc_count": counts[k]} for k in page]}
    if page:
        result["after_key"] = {name: page[-1]}
    return result


def json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(v) for v in value]
    return value
