"""The precomputed, append-only STIX objects a TAXII collection serves, indexed by date added.

Objects are written when incidents change (one version per change), never built at read time: a
TAXII page is a range read over (date added, id) in one collection. Every object version gets a
`date_added` strictly later than every earlier one of its collection (microseconds; the writer
bumps a clash by one), so `added_after` (exclusive) and the keyset cursor never skip or repeat an
object, and a client resuming from the last `X-TAXII-Date-Added-Last` gets each version exactly
once.

`version` is the object's `modified` (or `created` when it has none; the TAXII rule for objects
without `modified`), as the STIX timestamp text. `first`/`last` flags are kept per version so that
`match[version]=first|last` (the default is `last`) stays a range read too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec

from fenghuo.errors import FenghuoError

VersionMatch = Literal["first", "last", "all"] | str  # or a STIX timestamp


class ObjectStoreError(FenghuoError):
    """A write or read of collection objects that cannot be done (bad cursor, bad object)."""


class StoredObject(msgspec.Struct, frozen=True, kw_only=True):
    """One version of one STIX object in one collection."""

    collection_id: str
    id: str  # the STIX id, e.g. "incident--<uuid>"
    type: str
    version: str  # STIX timestamp text of `modified` (or `created`)
    spec_version: str = "2.1"
    date_added: dt.datetime  # UTC, microsecond precision, unique within the collection
    media_type: str = "application/stix+json;version=2.1"
    body: dict[str, Any]  # the object itself (JSON)


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """The TAXII filters of an objects or manifest request, combined with AND."""

    ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    versions: tuple[VersionMatch, ...] = ("last",)
    spec_versions: frozenset[str] = frozenset()
    added_after: dt.datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class ObjectPage:
    objects: list[StoredObject]
    more: bool
    # An opaque keyset cursor (date added, id) bound to the collection; None on the last page.
    next: str | None


class ObjectRepository(Protocol):
    def append(self, collection_id: str, objects: Iterable[dict[str, Any]]) -> list[StoredObject]:
        """Add object versions to a collection, in order, each with a fresh date added. A
        version (id, version) the collection already holds is skipped (idempotent retries);
        returns what was added."""

    def page(
        self,
        collection_id: str,
        query: ObjectQuery = ...,
        *,
        limit: int,
        cursor: str | None = None,
    ) -> ObjectPage:
        """Objects in (date added, id) order after `cursor`; ObjectStoreError for a cursor of
        another collection or one that does not decode."""

    def latest(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        """The latest stored version of each of these ids (absent ids are left out)."""

    def delete(self, collection_id: str, query: ObjectQuery) -> int:
        """Remove the versions of the query's `ids` that its version/spec filters select."""

    def count(self, collection_id: str) -> int: ...
