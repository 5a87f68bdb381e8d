"""Search documents and index templates for the store (Elasticsearch and OpenSearch alike): pure
functions, no client, so they are unit-tested without a server (`tests/store/test_es_docs.py`).
The queries over these documents are in `fenghuo.store.es_queries`.

Field names follow ECS where a field exists (`@timestamp`, `event.*`, `message`, `rule.*`,
`threat.*`, `host.*`, `cloud.account.id`, `related.*`); our own fields live under `fenghuo.*`.
Alerts carry no traffic direction, so IP entities go to `related.ip` rather than `source.ip`.
The exact model document is kept in `fenghuo.doc` (stored, not indexed) and decoded on read, so a
round trip through the server gives back the same `Alert`/`Incident`.

Tenant scope: every document has `fenghuo.scope_tenants` (alert: tenant_id and actor_tenant_id;
incident: tenants and actor_tenants); a tenant-scoped query is a `term` filter on it inside the
bool query (`es_queries.scope_filters`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from fenghuo.store.base import AnalystState, AuditEntry, epoch_ms
from fenghuo.store.es_plain import DATE, KEYWORD, LONG, PLAIN_MAPPINGS
from fenghuo.store.search_client import Dialect

TEMPLATE_PRIORITY = 200


@dataclass(frozen=True, slots=True)
class IndexNames:
    """Every index and alias of one deployment, from its prefix (FENGHUO_ES_INDEX_PREFIX).

    Alerts, incidents, actions and audit are rolled-over index series `<alias>-000001`, ...
    with `<alias>` as the write alias (ILM or the store's `_rollover` moves it); keys,
    suppressions, reports and TAXII are small plain indices."""

    prefix: str

    def alias(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def pattern(self, kind: str) -> str:
        return f"{self.prefix}{kind}-*"

    def first_index(self, kind: str) -> str:
        return f"{self.prefix}{kind}-000001"

    def plain(self, kind: str) -> str:
        """A small index that is not rolled over (keys, suppressions)."""
        return f"{self.prefix}{kind}"

    @property
    def keys(self) -> str:
        return self.plain("keys")

    @property
    def suppressions(self) -> str:
        return self.plain("suppressions")

    @property
    def policy(self) -> str:
        return f"{self.prefix}rollover"


ROLLED = ("alerts", "incidents", "actions", "audit")
PLAIN = ("keys", "suppressions", "reports", "taxii_collections", "taxii_objects", "taxii_status")

# Words split on non-word characters, lowercased, Unicode-aware: the same tokens as SQLite's
# FTS5 unicode61 tokenizer, so full-text search answers alike on both backends.
_TEXT = {"type": "text", "analyzer": "fenghuo_words"}
_ANALYSIS = {
    "analyzer": {
        "fenghuo_words": {
            "type": "pattern",
            "pattern": "\\W+",
            "flags": "UNICODE_CHARACTER_CLASS",
            "lowercase": True,
        }
    }
}
_ANALYST = {
    "properties": {
        "status": KEYWORD,
        "assignee": KEYWORD,
        "suppressed": {"type": "boolean"},
        "comments": {"type": "integer"},
        "updated_at": DATE,
        "applied": {"type": "keyword", "index": False},
    }
}
_STORED_ONLY = {"type": "object", "enabled": False}


def _mappings(kind: str) -> dict[str, Any]:
    common: dict[str, Any] = {
        "@timestamp": DATE,
        "event": {
            "properties": {
                "kind": KEYWORD,
                "id": KEYWORD,
                "dataset": KEYWORD,
                "severity": LONG,
                "start": DATE,
                "end": DATE,
                "created": DATE,
            }
        },
        "message": _TEXT,
    }
    if kind == "alerts":
        return {
            "dynamic": False,
            "properties": {
                **common,
                "rule": {"properties": {"id": KEYWORD, "name": KEYWORD, "category": KEYWORD}},
                "threat": {
                    "properties": {
                        "framework": KEYWORD,
                        "technique": {"properties": {"id": KEYWORD}},
                    }
                },
                "host": {"properties": {"id": KEYWORD}},
                "cloud": {"properties": {"account": {"properties": {"id": KEYWORD}}}},
                "related": {"properties": {"ip": {"type": "ip"}, "hosts": KEYWORD}},
                "fenghuo": {
                    "properties": {
                        "id": KEYWORD,
                        "title": _TEXT,
                        "severity": KEYWORD,
                        "confidence": {"type": "float"},
                        "tenant_id": KEYWORD,
                        "actor_tenant_id": KEYWORD,
                        "scope_tenants": KEYWORD,
                        "vm_id": KEYWORD,
                        "first_seen_ms": LONG,
                        "last_seen_ms": LONG,
                        "analyst": _ANALYST,
                        "doc": _STORED_ONLY,
                    }
                },
            },
        }
    if kind == "incidents":
        return {
            "dynamic": False,
            "properties": {
                **common,
                "host": {"properties": {"id": KEYWORD}},
                "fenghuo": {
                    "properties": {
                        "id": KEYWORD,
                        "title": _TEXT,
                        "severity": KEYWORD,
                        "grade": KEYWORD,
                        "category": KEYWORD,
                        "risk_score": {"type": "float"},
                        "tenants": KEYWORD,
                        "actor_tenants": KEYWORD,
                        "scope_tenants": KEYWORD,
                        "first_seen_ms": LONG,
                        "last_seen_ms": LONG,
                        "updated_at": DATE,
                        "analyst": _ANALYST,
                        "doc": _STORED_ONLY,
                    }
                },
            },
        }
    if kind == "actions":
        return {
            "dynamic": False,
            "properties": {
                "@timestamp": DATE,
                "fenghuo": {
                    "properties": {
                        "id": KEYWORD,
                        "target_kind": KEYWORD,
                        "target_id": KEYWORD,
                        "at_ms": LONG,
                        "doc": _STORED_ONLY,
                    }
                },
            },
        }
    # audit
    return {
        "dynamic": False,
        "properties": {
            "@timestamp": DATE,
            "event": {"properties": {"action": KEYWORD, "id": KEYWORD}},
            "user": {"properties": {"id": KEYWORD, "roles": KEYWORD}},
            "fenghuo": {
                "properties": {
                    "id": KEYWORD,
                    "target": KEYWORD,
                    "tenant_id": KEYWORD,
                    "request_id": KEYWORD,
                    "at_ms": LONG,
                    "doc": _STORED_ONLY,
                }
            },
        },
    }


def ilm_policy(conditions: Mapping[str, Any]) -> dict[str, Any]:
    """The lifecycle policy of every rolled series (Elasticsearch's ILM): roll over in the hot
    phase when one of `conditions` is met; retention (a delete phase) is an operator's decision,
    left out on purpose."""
    return {"phases": {"hot": {"actions": {"rollover": dict(conditions)}}}}


def index_template(names: IndexNames, kind: str, dialect: Dialect) -> dict[str, Any]:
    """Keyword arguments for `indices.put_index_template` of one series; a rolled series gets
    the dialect's lifecycle settings (ILM's policy name and rollover alias, or none)."""
    settings: dict[str, Any] = {"analysis": _ANALYSIS}
    if kind in ROLLED:
        settings.update(dialect.template_settings(names.policy, names.alias(kind)))
    return {
        "name": f"{names.prefix}{kind}",
        "index_patterns": [names.pattern(kind)] if kind in ROLLED else [names.plain(kind)],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": settings,
            "mappings": _mappings(kind) if kind in ROLLED else PLAIN_MAPPINGS[kind],
        },
        "meta": {"managed_by": "fenghuo"},
    }


def _iso(time: dt.datetime | None) -> str | None:
    return time.isoformat() if time is not None else None


def _doc(value: msgspec.Struct) -> Any:
    return msgspec.to_builtins(value)


def analyst_field(state: AnalystState, applied: list[str]) -> dict[str, Any]:
    field: dict[str, Any] = _doc(state)
    field["applied"] = applied
    return field


def alert_document(
    alert: Alert, state: AnalystState | None = None, applied: list[str] | None = None
) -> dict[str, Any]:
    """The ECS-aligned document of an alert with its analyst state."""
    by_type: dict[str, list[str]] = {}
    for entity in alert.entities:
        by_type.setdefault(entity.type, []).append(entity.id)
    related: dict[str, Any] = {}
    if by_type.get("ip"):
        related["ip"] = by_type["ip"]
    if by_type.get("host"):
        related["hosts"] = by_type["host"]
    document: dict[str, Any] = {
        "@timestamp": alert.first_seen.isoformat(),
        "event": {
            "kind": "alert",
            "id": alert.id,
            "dataset": "fenghuo.alerts",
            "severity": alert.severity.rank,
            "start": alert.first_seen.isoformat(),
            "end": alert.last_seen.isoformat(),
            "created": alert.detected_at.isoformat(),
        },
        "message": alert.summary,
        "rule": {"id": alert.detector, "name": alert.title, "category": alert.category},
        "threat": {"framework": "MITRE ATT&CK", "technique": {"id": [alert.technique]}},
        "related": related,
        "fenghuo": {
            "id": alert.id,
            "title": alert.title,
            "severity": alert.severity.value,
            "confidence": alert.confidence,
            "tenant_id": alert.tenant_id,
            "actor_tenant_id": alert.actor_tenant_id,
            "scope_tenants": _tenants(alert.tenant_id, alert.actor_tenant_id),
            "vm_id": alert.vm_id,
            "first_seen_ms": epoch_ms(alert.first_seen),
            "last_seen_ms": epoch_ms(alert.last_seen),
            "analyst": analyst_field(state or AnalystState(), applied or []),
            "doc": _doc(alert),
        },
    }
    if alert.host_id is not None:
        document["host"] = {"id": alert.host_id}
    if by_type.get("account"):
        document["cloud"] = {"account": {"id": by_type["account"]}}
    return document


def incident_document(
    incident: Incident, state: AnalystState | None = None, applied: list[str] | None = None
) -> dict[str, Any]:
    return {
        "@timestamp": incident.first_seen.isoformat(),
        "event": {
            "kind": "alert",
            "id": incident.id,
            "dataset": "fenghuo.incidents",
            "severity": incident.severity.rank,
            "start": incident.first_seen.isoformat(),
            "end": incident.last_seen.isoformat(),
        },
        "message": incident.summary,
        "host": {"id": list(incident.hosts)},
        "fenghuo": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity.value,
            "grade": incident.grade.value,
            "category": incident.category,
            "risk_score": incident.risk_score,
            "tenants": list(incident.tenants),
            "actor_tenants": list(incident.actor_tenants),
            "scope_tenants": sorted({*incident.tenants, *incident.actor_tenants}),
            "first_seen_ms": epoch_ms(incident.first_seen),
            "last_seen_ms": epoch_ms(incident.last_seen),
            "updated_at": incident.updated_at.isoformat(),
            "analyst": analyst_field(state or AnalystState(), applied or []),
            "doc": _doc(incident),
        },
    }


def audit_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "@timestamp": entry.at.isoformat(),
        "event": {"action": entry.action, "id": entry.id},
        "user": {"id": entry.actor, "roles": [entry.role]},
        "fenghuo": {
            "id": entry.id,
            "target": entry.target,
            "tenant_id": entry.tenant_id,
            "request_id": entry.request_id,
            "at_ms": epoch_ms(entry.at),
            "doc": _doc(entry),
        },
    }


def _tenants(*tenants: str | None) -> list[str]:
    return sorted({t for t in tenants if t})


def decode_alert_doc(source: dict[str, Any]) -> tuple[Alert, AnalystState, list[str]]:
    fenghuo = source["fenghuo"]
    return (
        msgspec.convert(fenghuo["doc"], Alert),
        _analyst(fenghuo.get("analyst")),
        list(fenghuo.get("analyst", {}).get("applied", [])),
    )


def decode_incident_doc(source: dict[str, Any]) -> tuple[Incident, AnalystState, list[str]]:
    fenghuo = source["fenghuo"]
    return (
        msgspec.convert(fenghuo["doc"], Incident),
        _analyst(fenghuo.get("analyst")),
        list(fenghuo.get("analyst", {}).get("applied", [])),
    )


def _analyst(field: dict[str, Any] | None) -> AnalystState:
    if not field:
        return AnalystState()
    return msgspec.convert({k: v for k, v in field.items() if k != "applied"}, AnalystState)
