"""API keys: created with a role (and a tenant for tenant viewers), shown once, stored hashed,
revocable. `KeyStore` is the SQLite key repository (`fenghuo.store.base.KeyRepository`); the
Elasticsearch backend shares `mint_key`, `parse_token` and `secret_matches`.

A key reads `fhk_<id>_<secret>`: the id finds the row, the secret is compared in constant time
against its SHA-256. The secret is 256 bits of randomness, so a fast hash is enough (no password
stretching needed), and the database never holds a usable key.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fenghuo.errors import FenghuoError

_PREFIX = "fhk"


class Role(enum.StrEnum):
    ADMIN = "admin"
    SOC_ANALYST = "soc_analyst"
    TENANT_VIEWER = "tenant_viewer"
    REGULATOR = "regulator"
    INGEST = "ingest"


class ApiKeyError(FenghuoError):
    """A key cannot be created as asked."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: Role
    tenant_id: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenant_id TEXT,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_key(role: Role, tenant_id: str | None = None, name: str = "") -> tuple[ApiKey, str, str]:
    """A new key, its token (shown once) and the token secret's SHA-256 (what a backend stores).
    Shared by every backend of the key repository."""
    if role is Role.TENANT_VIEWER and not tenant_id:
        msg = "a tenant_viewer key needs a tenant"
        raise ApiKeyError(msg)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        name=name or f"{role.value}-{key_id[:6]}",
        role=role,
        tenant_id=tenant_id,
        created_at=dt.datetime.now(dt.UTC),
    )
    return key, f"{_PREFIX}_{key_id}_{secret}", _hash(secret)


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or not key_id or not secret:
        return None
    return key_id, secret


def secret_matches(secret: str, stored_sha256: str) -> bool:
    """Constant-time comparison of a token's secret with the stored hash."""
    return hmac.compare_digest(stored_sha256, _hash(secret))


def _row_to_key(row: sqlite3.Row) -> ApiKey:
    revoked = row["revoked_at"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        tenant_id=row["tenant_id"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        revoked_at=dt.datetime.fromisoformat(revoked) if revoked else None,
    )


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per call: safe from any thread of the API's pool.
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(
        self, role: Role, tenant_id: str | None = None, name: str = ""
    ) -> tuple[ApiKey, str]:
        """A new key and its token; the token is returned once and never stored."""
        key, token, secret_sha256 = mint_key(role, tenant_id, name)
        with self._connect() as db:
            db.execute(
                "INSERT INTO api_keys (id, name, role, tenant_id, secret_sha256, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.name,
                    role.value,
                    tenant_id,
                    secret_sha256,
                    key.created_at.isoformat(),
                ),
            )
        return key, token

    def verify(self, token: str) -> ApiKey | None:
        """The live key a token belongs to, or None (unknown, malformed, wrong secret, revoked)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._connect() as db:
            row = db.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        if row is None or row["revoked_at"] is not None:
            return None
        if not secret_matches(secret, row["secret_sha256"]):
            return None
        return _row_to_key(row)

    def revoke(self, key_id: str) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (dt.datetime.now(dt.UTC).isoformat(), key_id),
            )
        return cursor.rowcount == 1

    def list(self) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM api_keys ORDER BY created_at").fetchall()
        return [_row_to_key(r) for r in rows]
