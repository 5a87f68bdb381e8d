"""The precomputed, append-only STIX objects a TAXII collection serves, indexed by date added.

Objects are written when incidents change (one version per change), never built at read time: a
TAXII page is a range read over (date added, id) in one collection. Every object version gets a
`date_added` strictly later than every earlier one of its collection (microseconds; the writer
bumps a clash by one), so `added_after` (exclusive) and the keyset cursor never skip or repeat an
object, and a client resuming from the last `X-TAXII-Date-Added-Last` gets each version exactly
once.

`version` is the object's `modified` (or `created` when it has none; the TAXII rule for objects
without `modified`), as the STIX timestamp text; an object with neither (a cyber observable, whose
id is derived from its content) has its date added as version, and an id already held is skipped.
`first`/`last` flags are kept per version so that `match[version]=first|last` (the default is
`last`) stays a range read too.

The helpers below (timestamps in microseconds, the cursor, object checks) are shared by every
backend, so that they agree on what a cursor and a version are.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec

from fenghuo.errors import FenghuoError

VersionMatch = Literal["first", "last", "all"] | str  # or a STIX timestamp
MAX_PAGE = 1000  # the largest page a backend returns (the TAXII server's maximum `limit`)
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"


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
    media_type: str = STIX_MEDIA_TYPE
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
    def append(
        self,
        collection_id: str,
        objects: Iterable[dict[str, Any]],
        *,
        source: str | None = None,
    ) -> list[StoredObject]:
        """Add object versions to a collection, in order, each with a fresh date added (one
        transaction). A version (id, version) the collection already holds is skipped
        (idempotent retries), and so is an object without a version (an SCO) whose id it holds;
        returns what was added. `source` (e.g. an incident id) is recorded with every version
        added, for `ids_of_source`. ObjectStoreError, with nothing written, for an unknown
        collection or an object `check_object` refuses."""

    def page(
        self,
        collection_id: str,
        query: ObjectQuery = ...,
        *,
        limit: int,
        cursor: str | None = None,
    ) -> ObjectPage:
        """Objects in (date added, id) order after `cursor`, at most `limit` (1 to
        `MAX_PAGE`); `more` is True exactly when `next` is set. ObjectStoreError for a cursor of
        another collection or one that does not decode."""

    def latest(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        """The latest stored version of each of these ids (absent ids are left out)."""

    def delete(self, collection_id: str, query: ObjectQuery) -> int:
        """Remove the versions of the query's `ids` that its version/spec filters select (the
        remaining versions' first/last flags are recomputed); returns how many were removed."""

    def ids_of_source(self, collection_id: str, source: str) -> list[str]:
        """The ids (sorted, each once) of the objects appended with this `source` (e.g. the
        incident they were built from), so that a writer can revoke them all."""

    def sources(self, collection_ids: Sequence[str]) -> set[str]:
        """The distinct `source`s (incident ids) with at least one object version in any of
        these collections that a page can serve (revoked versions included: a reader of the
        collection was sent them). Read from an index or an aggregation, never by loading the
        objects; unknown collections add nothing."""

    def count(self, collection_id: str) -> int:
        """How many object versions the collection holds."""


class StatusRepository(Protocol):
    """TAXII status resources of POSTs (`TaxiiStatus`), kept so a client can poll them."""

    def create(self, status: TaxiiStatus) -> TaxiiStatus: ...

    def get(self, status_id: str) -> TaxiiStatus | None: ...


class StatusDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One object of a POST (TAXII 2.1 status details)."""

    id: str
    version: str
    message: str = ""


class TaxiiStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one POST of objects. Objects are added while the request runs, so a status
    is `complete` when created and `pending_count` is 0; success + pending + failure = total."""

    id: str
    collection_id: str
    key_id: str  # who posted: only that key (and admins, SOC analysts) may read it
    status: Literal["complete", "pending"] = "complete"
    request_timestamp: dt.datetime
    total_count: int
    success_count: int
    failure_count: int
    pending_count: int = 0
    successes: tuple[StatusDetail, ...] = ()
    failures: tuple[StatusDetail, ...] = ()


# --- helpers shared by the backends ---------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STIX_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z")
_CURSOR_VERSION = 1


def micros(time: dt.datetime) -> int:
    """Microseconds since the epoch: the stored form of date added and version."""
    delta = time - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def format_timestamp(time: dt.datetime) -> str:
    """A STIX/TAXII timestamp with microseconds (`2026-01-05T10:00:00.000001Z`)."""
    return time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> dt.datetime:
    """A STIX timestamp (UTC, `Z`, any number of fraction digits; beyond microseconds they are
    cut); ObjectStoreError otherwise."""
    found = _STIX_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        msg = f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {text!r}"
        raise ObjectStoreError(msg)
    try:
        whole = dt.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        msg = f"not a valid date and time: {text!r}"
        raise ObjectStoreError(msg) from exc
    fraction = (found.group(2) or "")[:6].ljust(6, "0")
    return whole + dt.timedelta(microseconds=int(fraction))


def object_version(obj: dict[str, Any]) -> str | None:
    """The version of a STIX object: `modified`, else `created`; None for an object with
    neither (a cyber observable: its version is its date added)."""
    for field in ("modified", "created"):
        value = obj.get(field)
        if isinstance(value, str):
            return value
    return None


def checked_objects(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects of one append as a list, or ObjectStoreError naming the first that cannot
    be stored (nothing of the batch is written then); shared by both backends."""
    batch = list(objects)
    for position, obj in enumerate(batch):
        problem = check_object(obj)
        if problem is not None:
            msg = f"object {position} ({obj.get('id', '?')}): {problem}"
            raise ObjectStoreError(msg)
    return batch


def check_object(obj: Any) -> str | None:
    """Why an object cannot be stored, or None: it needs a string `id` of the form
    `<type>--<uuid>` matching its `type`, and a valid version timestamp when it has one."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    object_id, kind = obj.get("id"), obj.get("type")
    if not isinstance(object_id, str) or not isinstance(kind, str) or not kind:
        return "an object needs a string id and type"
    prefix, sep, rest = object_id.partition("--")
    if not sep or prefix != kind or not rest:
        return f"id {object_id!r} is not of the form {kind}--<uuid>"
    spec = obj.get("spec_version", "2.1")
    if not isinstance(spec, str):
        return "spec_version must be a string"
    version = object_version(obj)
    if version is not None:
        try:
            parse_timestamp(version)
        except ObjectStoreError as exc:
            return f"version: {exc}"
    return None


def encode_cursor(collection_id: str, added_us: int, object_id: str) -> str:
    """The `next` of a page: the last object's (date added, id), bound to its collection."""
    raw = json.dumps([_CURSOR_VERSION, collection_id, added_us, object_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, collection_id: str) -> tuple[int, str]:
    """(date added in microseconds, id) of a cursor of this collection; ObjectStoreError for
    one that does not decode or belongs to another collection."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, owner, added_us, object_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        msg = "the next cursor does not decode: pass the `next` of a page unchanged"
        raise ObjectStoreError(msg) from exc
    if (
        version != _CURSOR_VERSION
        or not isinstance(owner, str)
        or not isinstance(added_us, int)
        or not isinstance(object_id, str)
    ):
        msg = "the next cursor does not decode: pass the `next` of a page unchanged"
        raise ObjectStoreError(msg)
    if owner != collection_id:
        msg = "the next cursor belongs to another collection"
        raise ObjectStoreError(msg)
    return added_us, object_id
