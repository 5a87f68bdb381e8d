"""Deterministic ids: the same raw record always yields the same id, so replays, retries and
re-ingestion write the same documents again instead of duplicates."""

from __future__ import annotations

import uuid

# Fixed namespace for every Fenghuo id (uuid5 over canonical fields).
FENGHUO_NAMESPACE = uuid.UUID("6f1c2b1e-5e2a-4c36-9a4e-0f3e6b7d8c90")


def stable_id(*parts: object) -> str:
    """uuid5 over the parts joined by a separator that cannot occur in them unescaped."""
    canonical = "\x1f".join("" if p is None else str(p) for p in parts)
    return str(uuid.uuid5(FENGHUO_NAMESPACE, canonical))


def event_id(source_format: str, *parts: object) -> str:
    """The id of a normalised event: its format plus the fields that identify the raw record."""
    return stable_id("event", source_format, *parts)
