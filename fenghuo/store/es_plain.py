"""Mappings of the store's small plain indices (not rolled over): API keys, suppression rules,
regulator reports and TAXII: the fields filtered on at the top level and (except for keys) the
record itself under a stored, unindexed object; used by `fenghuo.store.es_docs.index_template`."""

from __future__ import annotations

from typing import Any

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
LONG = {"type": "long"}

KEYS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "name": KEYWORD,
        "role": KEYWORD,
        "tenant_id": KEYWORD,
        "secret_sha256": {"type": "keyword", "index": False},
        "created_at": DATE,
        "revoked_at": DATE,
    },
}

# A rule's fields at the top level (filters), the rule itself under `doc` (not indexed).
SUPPRESSIONS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KEYWORD,
        "tenant_id": KEYWORD,
        "created_at": DATE,
        "revoked_at": DATE,
        "doc": {"type": "object", "enabled": False},
    },
}

# Regulator reports (fenghuo.intel.reports.elastic): filter fields at the top level, the report
# under `doc` (not indexed).
REPORTS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KEYWORD,
        "incident_id": KEYWORD,
        "kind": KEYWORD,
        "tenant_id": KEYWORD,
        "submitted": {"type": "boolean"},
        "due_ms": LONG,
        "due_from_ms": LONG,
        "due_sort": LONG,
        "doc": {"type": "object", "enabled": False},
    },
}

# TAXII (fenghuo.intel.taxii_elastic): a collection with its readers and the append lease and
# committed date added; object versions with their filter fields, the STIX object under `body`;
# status resources under `doc`. Bodies are not indexed.
_BOOL = {"type": "boolean"}
TAXII_COLLECTIONS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KEYWORD,
        "created_at": DATE,
        "readers": KEYWORD,
        "committed_us": LONG,
        "lease_owner": KEYWORD,
        "lease_until": {"type": "double"},
        "doc": {"type": "object", "enabled": False},
    },
}
TAXII_OBJECTS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "collection_id": KEYWORD,
        "added_us": LONG,
        "id": KEYWORD,
        "type": KEYWORD,
        "version": KEYWORD,
        "version_us": LONG,
        "spec_version": KEYWORD,
        "media_type": KEYWORD,
        "is_first": _BOOL,
        "is_last": _BOOL,
        "source": KEYWORD,
        "body": {"type": "object", "enabled": False},
    },
}
TAXII_STATUS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KEYWORD,
        "collection_id": KEYWORD,
        "doc": {"type": "object", "enabled": False},
    },
}

PLAIN_MAPPINGS = {
    "keys": KEYS,
    "suppressions": SUPPRESSIONS,
    "reports": REPORTS,
    "taxii_collections": TAXII_COLLECTIONS,
    "taxii_objects": TAXII_OBJECTS,
    "taxii_status": TAXII_STATUS,
}
