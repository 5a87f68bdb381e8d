"""Deterministic ids: the same raw record always yields the same id, so replays, retries and
re-ingestion write the same documents again instead of duplicates."""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace for every Fenghuo id (uuid5 over canonical fields).
FENGHUO_NAMESPACE = uuid.UUID("6f1c2b1e-5e2a-4c36-9a4e-0f3e6b7d8c90")


_NAMESPACE_BYTES = FENGHUO_NAMESPACE.bytes


def stable_id(*parts: object) -> str:
    """uuid5 over the parts joined by a separator that cannot occur in them unescaped.

    Computed directly with hashlib (the same value as `uuid.uuid5`, which is measurably slower
    on the ingest hot path)."""
    canonical = "\x1f".join("" if p is None else str(p) for p in parts)
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + canonical.encode()).digest()[:16])  # noqa: S324 - uuid5 is defined on SHA-1
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_id(source_format: str, *parts: object) -> str:
    """The id of a normalised event: its format plus the fields that identify the raw record."""
    return stable_id("event", source_format, *parts)
