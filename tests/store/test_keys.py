"""API keys on a real SQLite file: shown once, stored hashed, revocable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fenghuo.store.keys import ApiKeyError, KeyStore, Role


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys.db")


def test_created_key_verifies_and_carries_role_and_tenant(store: KeyStore) -> None:
    key, token = store.create(Role.TENANT_VIEWER, "acme", "acme-portal")
    found = store.verify(token)
    assert found is not None
    assert (found.id, found.role, found.tenant_id, found.name) == (
        key.id,
        Role.TENANT_VIEWER,
        "acme",
        "acme-portal",
    )


def test_database_never_holds_the_token(store: KeyStore, tmp_path: Path) -> None:
    _key, token = store.create(Role.INGEST)
    secret = token.rsplit("_", 1)[1]
    raw = (tmp_path / "keys.db").read_bytes()
    wal = tmp_path / "keys.db-wal"
    blobs = raw + (wal.read_bytes() if wal.exists() else b"")
    assert secret.encode() not in blobs
    with sqlite3.connect(tmp_path / "keys.db") as db:
        (stored,) = db.execute("SELECT secret_sha256 FROM api_keys").fetchone()
    assert len(stored) == 64
    assert stored != secret


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "xyz" + t[3:],  # wrong prefix
        lambda t: t.split("_")[0] + "_" + "0" * 16 + "_" + t.split("_", 2)[2],  # unknown id
        lambda t: "",
        lambda t: "fhk__",
    ],
)
def test_wrong_tokens_are_refused(store: KeyStore, mangle: object) -> None:
    _key, token = store.create(Role.INGEST)
    assert callable(mangle)
    assert store.verify(mangle(token)) is None


def test_revoked_key_stops_working(store: KeyStore) -> None:
    key, token = store.create(Role.INGEST)
    assert store.revoke(key.id) is True
    assert store.verify(token) is None
    assert store.revoke(key.id) is False
    listed = {k.id: k for k in store.list()}
    assert listed[key.id].revoked_at is not None


def test_tenant_viewer_needs_a_tenant(store: KeyStore) -> None:
    with pytest.raises(ApiKeyError, match="needs a tenant"):
        store.create(Role.TENANT_VIEWER)
