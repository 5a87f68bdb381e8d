"""The query parameters of the paged TAXII endpoints: `limit`, `next`, `added_after` and the
`match[...]` filters, read into an `ObjectQuery` (400 for a value that does not parse).

`limit` above the server's maximum is clamped to it (the API root's description says what the
maximum is; TAXII lets a server return fewer objects than asked). An unknown `match[...]` field is
refused rather than ignored: a filter silently dropped would hand the client more than it asked
for.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from fenghuo.intel.objects import MAX_PAGE, ObjectQuery, ObjectStoreError, parse_timestamp
from fenghuo.intel.taxii.http import TaxiiError

DEFAULT_LIMIT = MAX_PAGE
_MATCH_FIELDS = frozenset({"id", "type", "version", "spec_version"})
_KNOWN = frozenset({"limit", "next", "added_after"}) | {f"match[{f}]" for f in _MATCH_FIELDS}


@dataclass(frozen=True, slots=True)
class PageRequest:
    query: ObjectQuery
    limit: int
    cursor: str | None


def _values(request: Request, name: str) -> list[str]:
    """Comma-separated values of a parameter, over every occurrence of it."""
    return [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",")]


def page_request(
    request: Request,
    *,
    object_id: str | None = None,
    versions: tuple[str, ...] = ("last",),
    allowed: frozenset[str] = _KNOWN,
) -> PageRequest:
    """The filters of a request. For one object's endpoints `object_id` fixes `match[id]`
    (which they do not accept); `versions` is the default of `match[version]`."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise TaxiiError(400, "Bad request", f"unknown parameters: {', '.join(unknown)}")
    limit = DEFAULT_LIMIT
    raw_limit = request.query_params.get("limit")
    if raw_limit is not None:
        if not raw_limit.strip().isdigit() or int(raw_limit) < 1:
            raise TaxiiError(400, "Bad request", f"limit must be a positive integer: {raw_limit!r}")
        limit = min(int(raw_limit), MAX_PAGE)
    added_after = None
    raw_after = request.query_params.get("added_after")
    if raw_after is not None:
        try:
            added_after = parse_timestamp(raw_after)
        except ObjectStoreError as exc:
            raise TaxiiError(400, "Bad request", f"added_after: {exc}") from None
    asked_versions = tuple(v for v in _values(request, "match[version]") if v) or versions
    for version in asked_versions:
        if version not in ("first", "last", "all"):
            try:
                parse_timestamp(version)
            except ObjectStoreError as exc:
                raise TaxiiError(400, "Bad request", f"match[version]: {exc}") from None
    ids = frozenset({object_id} if object_id is not None else _values(request, "match[id]"))
    query = ObjectQuery(
        ids=frozenset(i for i in ids if i),
        types=frozenset(t for t in _values(request, "match[type]") if t),
        versions=asked_versions,
        spec_versions=frozenset(s for s in _values(request, "match[spec_version]") if s),
        added_after=added_after,
    )
    cursor = request.query_params.get("next") or None
    return PageRequest(query, limit, cursor)


OBJECT_PARAMS = frozenset({"limit", "next", "added_after", "match[version]", "match[spec_version]"})
VERSIONS_PARAMS = frozenset({"limit", "next", "added_after", "match[spec_version]"})
DELETE_PARAMS = frozenset({"match[version]", "match[spec_version]"})
