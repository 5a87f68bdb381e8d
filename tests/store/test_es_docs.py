"""The Elasticsearch backend's pure parts, without a server: documents round-trip, every field a
query, sort or aggregation uses is mapped, scope is a filter inside the query, and the
read-merge-write retries on a version conflict (against a small in-memory fake of the client)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ConflictError, NotFoundError

from fenghuo.model.alert import Entity, Severity, merge_alerts
from fenghuo.model.incident import IncidentStatus
from fenghuo.store import es_docs, es_queries
from fenghuo.store.base import (
    AlertQuery,
    AnalystState,
    IncidentQuery,
    Scope,
    StoreError,
    at_least,
    encode_cursor,
)
from fenghuo.store.elastic import ElasticStore
from tests.store.test_contract import T0, alert, incident

NAMES = es_docs.IndexNames("fh-")


def _json(value: dict[str, Any]) -> dict[str, Any]:
    """What Elasticsearch gives back: the document through JSON."""
    result: dict[str, Any] = json.loads(json.dumps(value))
    return result


def test_alert_document_round_trips_and_is_ecs_shaped() -> None:
    cross = msgspec_replace_entities(alert("a1", tenant="globex", actor="acme"))
    state = AnalystState(status=IncidentStatus.RESOLVED, assignee="li", comments=2, updated_at=T0)
    doc = _json(es_docs.alert_document(cross, state, ["act-1"]))
    assert es_docs.decode_alert_doc(doc) == (cross, state, ["act-1"])
    assert doc["event"]["kind"] == "alert"
    assert doc["rule"]["id"] == "vmm-crash"
    assert doc["threat"]["technique"]["id"] == ["T1499"]
    assert doc["host"]["id"] == "hv-01"
    assert doc["cloud"]["account"]["id"] == ["111111111111"]
    assert doc["related"]["ip"] == ["10.1.0.11"]
    assert doc["fenghuo"]["scope_tenants"] == ["acme", "globex"]
    assert doc["fenghuo"]["first_seen_ms"] == int(cross.first_seen.timestamp() * 1000)


def msgspec_replace_entities(a: Any) -> Any:
    extra = (Entity("account", "111111111111"), Entity("ip", "10.1.0.11"))
    return msgspec.structs.replace(a, entities=(*a.entities, *extra))


def test_incident_document_round_trips() -> None:
    inc = incident("i1", tenants=("globex",), actors=("acme",))
    doc = _json(es_docs.incident_document(inc))
    assert es_docs.decode_incident_doc(doc) == (inc, AnalystState(), [])
    assert doc["fenghuo"]["scope_tenants"] == ["acme", "globex"]


def _mapped(mappings: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = mappings
    for part in path.split("."):
        if node is None or "properties" not in node or part not in node["properties"]:
            return None
        node = node["properties"][part]
    return node


def _fields(query: Any) -> set[str]:
    """Every field name a query, sort or aggregation body refers to."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("term", "terms", "range") and isinstance(value, dict):
                if "field" not in value:  # a query, not a terms aggregation
                    found.update(value)
            elif key == "field" and isinstance(value, str):
                found.add(value)
            elif key == "fields" and isinstance(value, list):
                found.update(value)
            elif "." in key and isinstance(value, str):
                found.add(key)  # sort entries
            found |= _fields(value)
    elif isinstance(query, list):
        for item in query:
            found |= _fields(item)
    return found


def test_every_queried_field_is_mapped() -> None:
    full = AlertQuery(
        severities=at_least(Severity.HIGH),
        detectors=frozenset({"vmm-crash"}),
        statuses=frozenset({IncidentStatus.NEW}),
        tenant="acme",
        host_id="hv-01",
        since=T0,
        until=T0,
        text="escape",
    )
    alerts = es_docs.index_template(NAMES, "alerts")["template"]["mappings"]
    used = _fields(es_queries.alert_query(Scope.of("acme"), full))
    used |= _fields(es_queries.SORT)
    used |= _fields(es_queries.stats_aggregations(dt.timedelta(hours=1), 5))
    assert used  # the walker found something
    for field in used:
        assert _mapped(alerts, field) is not None, field
    incidents = es_docs.index_template(NAMES, "incidents")["template"]["mappings"]
    for field in _fields(es_queries.incident_query(Scope.of("acme"), IncidentQuery())):
        assert _mapped(incidents, field) is not None, field
    audit = es_docs.index_template(NAMES, "audit")["template"]["mappings"]
    for field in _fields(es_queries.AUDIT_SORT) | {"fenghuo.tenant_id"}:
        assert _mapped(audit, field) is not None, field


def test_templates_wire_rollover_through_ilm() -> None:
    for kind in es_docs.ROLLED:
        template = es_docs.index_template(NAMES, kind)
        settings = template["template"]["settings"]
        assert template["index_patterns"] == [f"fh-{kind}-*"]
        assert settings["index.lifecycle.name"] == "fh-rollover"
        assert settings["index.lifecycle.rollover_alias"] == f"fh-{kind}"
        assert NAMES.first_index(kind) == f"fh-{kind}-000001"
    assert "rollover" in es_docs.ilm_policy()["phases"]["hot"]["actions"]
    assert es_docs.index_template(NAMES, "keys")["index_patterns"] == ["fh-keys"]


def test_scope_is_a_filter_inside_the_query() -> None:
    scoped = es_queries.alert_query(Scope.of("acme"), AlertQuery(text="vm escape"))
    assert {"term": {"fenghuo.scope_tenants": "acme"}} in scoped["bool"]["filter"]
    # Every word must match (one clause each), each as a phrase of its tokens.
    assert [c["multi_match"]["query"] for c in scoped["bool"]["must"]] == ["vm", "escape"]
    assert {c["multi_match"]["type"] for c in scoped["bool"]["must"]} == {"phrase"}
    everything = es_queries.alert_query(Scope.everything(), AlertQuery())
    assert everything["bool"]["filter"] == []
    narrowed = es_queries.alert_query(Scope.of("acme"), AlertQuery(tenant="globex"))
    assert len([f for f in narrowed["bool"]["filter"] if "term" in f]) == 2


def test_cursor_becomes_search_after() -> None:
    assert es_queries.search_after(None) is None
    assert es_queries.search_after(encode_cursor(1767607200000, "a1")) == [1767607200000, "a1"]


def test_parse_stats() -> None:
    response = {
        "hits": {"total": {"value": 3}},
        "aggregations": {
            "buckets": {"buckets": [{"key": 1767607200000.0, "doc_count": 3}]},
            "by_severity": {"buckets": [{"key": "high", "doc_count": 3}]},
            "by_tenant": {
                "buckets": [{"key": "acme", "doc_count": 2}, {"key": "", "doc_count": 1}]
            },
            "by_detector": {"buckets": [{"key": "vmm-crash", "doc_count": 3}]},
            "top_hosts": {"buckets": [{"key": "hv-01", "doc_count": 3}]},
        },
    }
    stats = es_queries.parse_stats(response, 5)
    assert stats.total == 3
    assert stats.buckets == [(T0, 3)]
    assert stats.by_tenant == {"acme": 2, "": 1}
    assert stats.top_hosts == [("hv-01", 3)]


# --- read-merge-write against a fake client ------------------------------------------------


def _error(cls: type[Exception], status: int) -> Exception:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return cls("error", meta, {})


class _Response(dict[str, Any]):
    @property
    def body(self) -> dict[str, Any]:
        return dict(self)


class _FakeIndices:
    def __init__(self, index: str, alias: str) -> None:
        self.index, self.alias = index, alias

    def get_alias(self, *, name: str) -> _Response:
        return _Response({self.index: {"aliases": {self.alias: {"is_write_index": True}}}})


class FakeEs:
    """Just enough of the client for alert upserts in one index; `interfere` runs once before
    the first conditional write, as another writer would."""

    def __init__(self) -> None:
        self.index_name = "fh-alerts-000001"
        self.indices = _FakeIndices(self.index_name, "fh-alerts")
        self.docs: dict[str, tuple[int, dict[str, Any]]] = {}
        self.seq = 0
        self.conflicts = 0
        self.interfere: Any = None

    def get(self, *, index: str, id: str) -> _Response:
        if id not in self.docs:
            raise _error(NotFoundError, 404)
        seq, source = self.docs[id]
        return _Response(
            _index=self.index_name, _seq_no=seq, _primary_term=1, _source=_json(source)
        )

    def search(self, **_: Any) -> _Response:
        return _Response(hits={"hits": []})

    def index(
        self,
        *,
        index: str,
        id: str,
        document: dict[str, Any],
        op_type: str | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        refresh: bool = False,
    ) -> _Response:
        if if_seq_no is not None and self.interfere is not None:
            interfere, self.interfere = self.interfere, None
            interfere()
        current = self.docs.get(id)
        stale = if_seq_no is not None and (current is None or current[0] != if_seq_no)
        if (op_type == "create" and current is not None) or stale:
            self.conflicts += 1
            raise _error(ConflictError, 409)
        self.seq += 1
        self.docs[id] = (self.seq, document)
        return _Response(result="created")


def test_concurrent_writer_conflict_is_retried_and_nothing_lost() -> None:
    fake = FakeEs()
    store = ElasticStore(fake, "fh-")  # type: ignore[arg-type]
    first = alert("a1", minute=0, evidence=("e1",))
    store.alerts.upsert([first])
    theirs = alert("a1", minute=2, evidence=("e2",), severity=Severity.HIGH)
    ours = alert("a1", minute=4, evidence=("e3",))
    fake.interfere = lambda: ElasticStore(fake, "fh-").alerts.upsert([theirs])  # type: ignore[arg-type]
    store.alerts.upsert([ours])
    assert fake.conflicts == 1
    stored, _, _ = es_docs.decode_alert_doc(_json(fake.docs["a1"][1]))
    assert stored == merge_alerts(merge_alerts(first, theirs), ours)
    assert stored.evidence == ("e1", "e2", "e3")


def test_a_repeated_version_writes_nothing() -> None:
    fake = FakeEs()
    store = ElasticStore(fake, "fh-")  # type: ignore[arg-type]
    store.alerts.upsert([alert("a1")])
    seq = fake.seq
    store.alerts.upsert([alert("a1")])
    assert fake.seq == seq


@pytest.mark.parametrize("limit", [0, 10_000])
def test_limits_are_checked(limit: int) -> None:
    store = ElasticStore(FakeEs(), "fh-")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="limit"):
        store.alerts.list(Scope.everything(), limit=limit)
