"""TAXII collections' objects in SQLite (schema: migration 6; the collections themselves and the
POST status resources are in `taxii_sqlite_collections`).

Objects are append-only versions: `append` runs in one BEGIN IMMEDIATE transaction that reads the
collection's newest date added and gives each new version a later one (now, or one microsecond
after the newest when the clock has not moved on), so date added is unique and strictly
increasing per collection even across processes, and a page read before a commit can never be
overtaken by an object dated earlier. The first/last flags of an object's versions are updated
in the same transaction (the only rewrite of a stored row: its body never changes).

A page is a range read on (collection, date added), over the partial index of last (or first)
versions when the query asks for those: the default `match[version]=last` reads exactly `limit`
+ 1 index entries however deep the page.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from fenghuo.intel.objects import (
    MAX_PAGE,
    STIX_MEDIA_TYPE,
    ObjectPage,
    ObjectQuery,
    ObjectRepository,
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
from fenghuo.store.alerts import AlertStore

_ENC = msgspec.json.Encoder()
_BODY = msgspec.json.Decoder(dict[str, Any])
_COLUMNS = "collection_id, added_us, id, type, version, spec_version, media_type, body"


def _stored(row: Sequence[Any]) -> StoredObject:
    collection_id, added_us, object_id, kind, version, spec, media_type, body = row
    return StoredObject(
        collection_id=collection_id,
        id=object_id,
        type=kind,
        version=version,
        spec_version=spec,
        date_added=from_micros(added_us),
        media_type=media_type,
        body=_BODY.decode(body),
    )


def _version_clause(versions: Sequence[str], params: list[Any]) -> str | None:
    """SQL selecting the asked versions (None: every version). `is_last = 1` and
    `is_first = 1` are literal so that the planner uses the partial indexes."""
    if not versions or "all" in versions:
        return None
    parts: list[str] = []
    stamps: list[int] = []
    for version in dict.fromkeys(versions):
        if version == "last":
            parts.append("is_last = 1")
        elif version == "first":
            parts.append("is_first = 1")
        else:
            stamps.append(micros(parse_timestamp(version)))
    if stamps:
        parts.append(f"version_us IN ({', '.join('?' * len(stamps))})")
        params.extend(stamps)
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _where(collection_id: str, query: ObjectQuery, after_us: int | None) -> tuple[str, list[Any]]:
    clauses = ["collection_id = ?"]
    params: list[Any] = [collection_id]
    version = _version_clause(query.versions, params)
    if version is not None:
        clauses.append(version)
    for column, values in (
        ("id", query.ids),
        ("type", query.types),
        ("spec_version", query.spec_versions),
    ):
        if values:
            items = sorted(values)
            clauses.append(f"{column} IN ({', '.join('?' * len(items))})")
            params.extend(items)
    bounds = [micros(query.added_after)] if query.added_after is not None else []
    if after_us is not None:
        bounds.append(after_us)
    if bounds:
        clauses.append("added_us > ?")
        params.append(max(bounds))
    return " AND ".join(clauses), params


def _index_for(query: ObjectQuery) -> str:
    """The index a page reads. Without statistics the planner takes the (collection, date
    added) index for every query because it gives the order: a `match[id]` page then scanned
    the whole collection (35 ms at 100k objects) and `last` pages filtered superseded versions
    row by row. Named ids are few: read them by id and sort; otherwise range-read the index of
    the asked versions (or of the asked types)."""
    if query.ids:
        return "taxii_objects_version"
    if query.types:
        return "taxii_objects_type"
    if tuple(dict.fromkeys(query.versions)) == ("last",):
        return "taxii_objects_last"
    if tuple(dict.fromkeys(query.versions)) == ("first",):
        return "taxii_objects_first"
    return "taxii_objects_added"


# Each step is a min() over the index range (collection, source > previous): one seek.
_SKIP_SCAN_SOURCES = """
WITH RECURSIVE step(source) AS (
    SELECT (SELECT min(source) FROM taxii_objects INDEXED BY taxii_objects_source
            WHERE collection_id = :c AND source IS NOT NULL)
    UNION ALL
    SELECT (SELECT min(o.source) FROM taxii_objects AS o INDEXED BY taxii_objects_source
            WHERE o.collection_id = :c AND o.source IS NOT NULL AND o.source > step.source)
    FROM step WHERE step.source IS NOT NULL
)
SELECT source FROM step WHERE source IS NOT NULL
"""


class SqliteObjects:
    """`ObjectRepository` over `taxii_objects`."""

    def __init__(self, writer: AlertStore, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._writer = writer
        self._now = clock or (lambda: dt.datetime.now(dt.UTC))

    def append(
        self,
        collection_id: str,
        objects: Iterable[dict[str, Any]],
        *,
        source: str | None = None,
    ) -> list[StoredObject]:
        batch = checked_objects(objects)
        added: list[StoredObject] = []
        with self._writer.transaction() as db:
            if not db.execute(
                "SELECT 1 FROM taxii_collections WHERE id = ?", (collection_id,)
            ).fetchone():
                msg = f"no collection {collection_id}"
                raise ObjectStoreError(msg)
            (newest,) = db.execute(
                "SELECT max(added_us) FROM taxii_objects WHERE collection_id = ?",
                (collection_id,),
            ).fetchone()
            now_us = micros(self._now())
            newest = newest if newest is not None else now_us - 1
            for obj in batch:
                stored = self._append_one(db, collection_id, obj, max(now_us, newest + 1), source)
                if stored is not None:
                    added.append(stored)
                    newest = micros(stored.date_added)
        return added

    def _append_one(
        self,
        db: sqlite3.Connection,
        collection_id: str,
        obj: dict[str, Any],
        added_us: int,
        source: str | None,
    ) -> StoredObject | None:
        object_id: str = obj["id"]
        version = object_version(obj)
        low, high = db.execute(
            "SELECT min(version_us), max(version_us) FROM taxii_objects"
            " WHERE collection_id = ? AND id = ?",
            (collection_id, object_id),
        ).fetchone()
        if version is None:
            if low is not None:
                return None  # an SCO: its id says its content, a second copy adds nothing
            version, version_us = format_timestamp(from_micros(added_us)), added_us
        else:
            version_us = micros(parse_timestamp(version))
            if db.execute(
                "SELECT 1 FROM taxii_objects WHERE collection_id = ? AND id = ? AND version_us = ?",
                (collection_id, object_id, version_us),
            ).fetchone():
                return None
        is_first = low is None or version_us < low
        is_last = high is None or version_us > high
        if is_first and low is not None:
            db.execute(
                "UPDATE taxii_objects SET is_first = 0"
                " WHERE collection_id = ? AND id = ? AND is_first = 1",
                (collection_id, object_id),
            )
        if is_last and high is not None:
            db.execute(
                "UPDATE taxii_objects SET is_last = 0"
                " WHERE collection_id = ? AND id = ? AND is_last = 1",
                (collection_id, object_id),
            )
        stored = StoredObject(
            collection_id=collection_id,
            id=object_id,
            type=obj["type"],
            version=version,
            spec_version=obj.get("spec_version", "2.1"),
            date_added=from_micros(added_us),
            media_type=STIX_MEDIA_TYPE,
            body=obj,
        )
        db.execute(
            "INSERT INTO taxii_objects (collection_id, added_us, id, type, version, version_us,"
            " spec_version, media_type, is_first, is_last, source, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                collection_id,
                added_us,
                object_id,
                stored.type,
                version,
                version_us,
                stored.spec_version,
                stored.media_type,
                int(is_first),
                int(is_last),
                source,
                _ENC.encode(obj).decode(),
            ),
        )
        return stored

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
        after = decode_cursor(cursor, collection_id)[0] if cursor is not None else None
        where, params = _where(collection_id, query, after)
        rows = (
            self._writer.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM taxii_objects INDEXED BY {_index_for(query)}"  # noqa: S608 - bound values, constant index names
                f" WHERE {where} ORDER BY added_us LIMIT ?",
                [*params, limit + 1],
            )
            .fetchall()
        )
        found = [_stored(r) for r in rows[:limit]]
        if len(rows) <= limit:
            return ObjectPage(found, more=False, next=None)
        last = found[-1]
        return ObjectPage(
            found, more=True, next=encode_cursor(collection_id, micros(last.date_added), last.id)
        )

    def latest(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, StoredObject]:
        ids = sorted(set(object_ids))
        found: dict[str, StoredObject] = {}
        db = self._writer.connection()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM taxii_objects WHERE collection_id = ?"  # noqa: S608 - bound values
                f" AND id IN ({', '.join('?' * len(chunk))}) AND is_last = 1",
                [collection_id, *chunk],
            ).fetchall()
            found.update((r[2], _stored(r)) for r in rows)
        return found

    def delete(self, collection_id: str, query: ObjectQuery) -> int:
        if not query.ids:
            return 0  # a delete names its objects: never the whole collection by accident
        where, params = _where(collection_id, query, None)
        with self._writer.transaction() as db:
            removed = db.execute(
                f"DELETE FROM taxii_objects WHERE {where}",  # noqa: S608 - bound values
                params,
            ).rowcount
            for object_id in sorted(query.ids):
                db.execute(
                    "UPDATE taxii_objects SET"
                    " is_first = (version_us = (SELECT min(version_us) FROM taxii_objects o"
                    "   WHERE o.collection_id = taxii_objects.collection_id AND o.id = ?)),"
                    " is_last = (version_us = (SELECT max(version_us) FROM taxii_objects o"
                    "   WHERE o.collection_id = taxii_objects.collection_id AND o.id = ?))"
                    " WHERE collection_id = ? AND id = ?",
                    (object_id, object_id, collection_id, object_id),
                )
        return int(removed)

    def ids_of_source(self, collection_id: str, source: str) -> list[str]:
        rows = (
            self._writer.connection()
            .execute(
                "SELECT DISTINCT id FROM taxii_objects"
                " WHERE collection_id = ? AND source = ? AND source IS NOT NULL ORDER BY id",
                (collection_id, source),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def sources(self, collection_ids: Sequence[str]) -> set[str]:
        """A skip scan of `taxii_objects_source` (collection, source): each step seeks the
        next larger source of the collection, so the cost is one index seek per distinct
        source however many versions each incident has."""
        db = self._writer.connection()
        found: set[str] = set()
        for collection_id in sorted(set(collection_ids)):
            rows = db.execute(_SKIP_SCAN_SOURCES, {"c": collection_id}).fetchall()
            found.update(r[0] for r in rows)
        return found

    def count(self, collection_id: str) -> int:
        row = (
            self._writer.connection()
            .execute("SELECT count(*) FROM taxii_objects WHERE collection_id = ?", (collection_id,))
            .fetchone()
        )
        return int(row[0])


def _typed(objects: SqliteObjects) -> ObjectRepository:
    """Checks, for mypy, that the class implements the protocol."""
    return objects
