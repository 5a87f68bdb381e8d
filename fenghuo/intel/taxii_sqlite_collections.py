"""TAXII collections (with their grants) and POST status resources in SQLite (schema: migration
6); the collections' objects are in `taxii_sqlite`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import msgspec

from fenghuo.intel.collections import Collection, CollectionError, CollectionRepository
from fenghuo.intel.objects import StatusRepository, TaxiiStatus
from fenghuo.store.alerts import AlertStore

_ENC = msgspec.json.Encoder()
_COLLECTION = msgspec.json.Decoder(Collection)
_STATUS = msgspec.json.Decoder(TaxiiStatus)


class SqliteCollections:
    """`CollectionRepository`: the collection document, its readers in `taxii_grants`."""

    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def create(self, collection: Collection) -> Collection:
        stored = msgspec.structs.replace(collection, readers=())
        with self._writer.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO taxii_collections (id, created_at, doc) VALUES (?, ?, ?)",
                (collection.id, collection.created_at.isoformat(), _ENC.encode(stored).decode()),
            ).rowcount
            if not inserted:
                msg = f"collection {collection.id} exists already"
                raise CollectionError(msg)
            _add_grants(db, collection.id, collection.readers)
            return _collection(db, collection.id)

    def get(self, collection_id: str) -> Collection | None:
        db = self._writer.connection()
        row = db.execute(
            "SELECT doc FROM taxii_collections WHERE id = ?", (collection_id,)
        ).fetchone()
        return _with_readers(db, _COLLECTION.decode(row[0])) if row else None

    def list(self) -> list[Collection]:
        db = self._writer.connection()
        rows = db.execute("SELECT doc FROM taxii_collections ORDER BY created_at, id").fetchall()
        grants: dict[str, list[str]] = {}
        for collection_id, key_id in db.execute(
            "SELECT collection_id, key_id FROM taxii_grants ORDER BY collection_id, key_id"
        ):
            grants.setdefault(collection_id, []).append(key_id)
        found = [_COLLECTION.decode(r[0]) for r in rows]
        return [msgspec.structs.replace(c, readers=tuple(grants.get(c.id, ()))) for c in found]

    def grant(self, collection_id: str, key_ids: Iterable[str]) -> Collection:
        with self._writer.transaction() as db:
            require_collection(db, collection_id)
            _add_grants(db, collection_id, key_ids)
            return _collection(db, collection_id)

    def revoke_grant(self, collection_id: str, key_id: str) -> Collection:
        with self._writer.transaction() as db:
            require_collection(db, collection_id)
            db.execute(
                "DELETE FROM taxii_grants WHERE collection_id = ? AND key_id = ?",
                (collection_id, key_id),
            )
            return _collection(db, collection_id)

    def delete(self, collection_id: str) -> bool:
        """The collection, its grants, objects and status resources."""
        with self._writer.transaction() as db:
            for table in ("taxii_grants", "taxii_objects", "taxii_status"):
                db.execute(f"DELETE FROM {table} WHERE collection_id = ?", (collection_id,))  # noqa: S608 - constant table names
            removed = db.execute(
                "DELETE FROM taxii_collections WHERE id = ?", (collection_id,)
            ).rowcount
        return bool(removed)


def _add_grants(db: sqlite3.Connection, collection_id: str, key_ids: Iterable[str]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO taxii_grants (collection_id, key_id) VALUES (?, ?)",
        [(collection_id, k) for k in sorted(set(key_ids))],
    )


def require_collection(db: sqlite3.Connection, collection_id: str) -> None:
    if db.execute("SELECT 1 FROM taxii_collections WHERE id = ?", (collection_id,)).fetchone():
        return
    msg = f"no collection {collection_id}"
    raise CollectionError(msg)


def _collection(db: sqlite3.Connection, collection_id: str) -> Collection:
    row = db.execute("SELECT doc FROM taxii_collections WHERE id = ?", (collection_id,)).fetchone()
    return _with_readers(db, _COLLECTION.decode(row[0]))


def _with_readers(db: sqlite3.Connection, collection: Collection) -> Collection:
    rows = db.execute(
        "SELECT key_id FROM taxii_grants WHERE collection_id = ? ORDER BY key_id",
        (collection.id,),
    ).fetchall()
    return msgspec.structs.replace(collection, readers=tuple(r[0] for r in rows))


class SqliteTaxiiStatus:
    """`StatusRepository`: one row per POST, written once."""

    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def create(self, status: TaxiiStatus) -> TaxiiStatus:
        with self._writer.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO taxii_status (id, collection_id, doc) VALUES (?, ?, ?)",
                (status.id, status.collection_id, _ENC.encode(status).decode()),
            )
            row = db.execute("SELECT doc FROM taxii_status WHERE id = ?", (status.id,)).fetchone()
        return _STATUS.decode(row[0])

    def get(self, status_id: str) -> TaxiiStatus | None:
        row = (
            self._writer.connection()
            .execute("SELECT doc FROM taxii_status WHERE id = ?", (status_id,))
            .fetchone()
        )
        return _STATUS.decode(row[0]) if row else None


def _typed(
    collections: SqliteCollections, status: SqliteTaxiiStatus
) -> tuple[CollectionRepository, StatusRepository]:
    """Checks, for mypy, that the classes implement the protocols."""
    return collections, status
