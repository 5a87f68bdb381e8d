"""The search backend's pure parts, without a server: documents round-trip, every field a query,
sort or aggregation uses is mapped, scope is a filter inside the query, the dialects' templates
differ only in their lifecycle settings, and the bulk read-merge-write (one mget and one `_bulk`
per chunk, only conflicted items retried, bounded) and explicit rollover behave, on the in-memory
model of the client layer (tests/store/fake_es.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pytest

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
from fenghuo.store.elastic_io import MAX_ATTEMPTS
from fenghuo.store.retry import is_transient
from fenghuo.store.search_client import (
    ELASTICSEARCH,
    OPENSEARCH,
    BulkItem,
    BulkOp,
    Dialect,
    Refresh,
    SearchBadRequest,
    SearchConflict,
    SearchError,
    SearchUnavailable,
    bulk_items,
    error_for,
)
from tests.store.fake_es import FakeSearchClient
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
    alerts = es_docs.index_template(NAMES, "alerts", ELASTICSEARCH)["template"]["mappings"]
    used = _fields(es_queries.alert_query(Scope.of("acme"), full))
    used |= _fields(es_queries.SORT)
    used |= _fields(es_queries.stats_aggregations(dt.timedelta(hours=1), 5))
    assert used  # the walker found something
    for field in used:
        assert _mapped(alerts, field) is not None, field
    incidents = es_docs.index_template(NAMES, "incidents", ELASTICSEARCH)["template"]["mappings"]
    for field in _fields(es_queries.incident_query(Scope.of("acme"), IncidentQuery())):
        assert _mapped(incidents, field) is not None, field
    audit = es_docs.index_template(NAMES, "audit", ELASTICSEARCH)["template"]["mappings"]
    for field in _fields(es_queries.AUDIT_SORT) | {"fenghuo.tenant_id"}:
        assert _mapped(audit, field) is not None, field


def test_templates_wire_rollover_through_ilm_on_elasticsearch_only() -> None:
    for kind in es_docs.ROLLED:
        template = es_docs.index_template(NAMES, kind, ELASTICSEARCH)
        settings = template["template"]["settings"]
        assert template["index_patterns"] == [f"fh-{kind}-*"]
        assert settings["index.lifecycle.name"] == "fh-rollover"
        assert settings["index.lifecycle.rollover_alias"] == f"fh-{kind}"
        assert NAMES.first_index(kind) == f"fh-{kind}-000001"
        # OpenSearch refuses index.lifecycle.* settings (no ILM): the same template without them.
        on_opensearch = es_docs.index_template(NAMES, kind, OPENSEARCH)
        assert on_opensearch["template"]["settings"] == {"analysis": settings["analysis"]}
        assert on_opensearch["template"]["mappings"] == template["template"]["mappings"]
    policy = es_docs.ilm_policy(ELASTICSEARCH.rollover_conditions)
    assert policy["phases"]["hot"]["actions"]["rollover"]["max_primary_shard_size"] == "50gb"
    assert "max_primary_shard_size" not in OPENSEARCH.rollover_conditions  # unknown there
    assert es_docs.index_template(NAMES, "keys", OPENSEARCH)["index_patterns"] == ["fh-keys"]


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


# --- bulk read-merge-write against the client model ---------------------------------------


class Interfering(FakeSearchClient):
    """The client model that records each bulk request's ids and, before each bulk with a
    conditional write (while `interfere` is set, at most `times` times), lets another writer
    run first, as a concurrent process would."""

    def __init__(self, dialect: Dialect = ELASTICSEARCH) -> None:
        super().__init__(dialect)
        self.requests: list[list[str]] = []
        self.conflicts = 0
        self.interfere: Callable[[], object] | None = None
        self.times = 1

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        if self.interfere is not None and any(op.if_seq_no is not None for op in operations):
            interfere, self.interfere = self.interfere, None  # the other writer's own bulk: not
            interfere()
            self.times -= 1
            if self.times > 0:
                self.interfere = interfere
        self.requests.append([op.id for op in operations])
        items = super().bulk(operations=operations, refresh=refresh)
        self.conflicts += sum(isinstance(i.error, SearchConflict) for i in items)
        return items


def _store(fake: FakeSearchClient, **options: Any) -> ElasticStore:
    store = ElasticStore(fake, "fh-", **options)
    store.bootstrap()
    return store


def test_concurrent_writer_conflict_is_retried_and_nothing_lost() -> None:
    fake = Interfering()
    store = _store(fake)
    first = alert("a1", minute=0, evidence=("e1",))
    store.alerts.upsert([first])
    theirs = alert("a1", minute=2, evidence=("e2",), severity=Severity.HIGH)
    ours = alert("a1", minute=4, evidence=("e3",))
    fake.interfere = lambda: ElasticStore(fake, "fh-").alerts.upsert([theirs])
    store.alerts.upsert([ours])
    assert fake.conflicts == 1
    stored, _, _ = es_docs.decode_alert_doc(_json(fake.docs["fh-alerts-000001"]["a1"][1]))
    assert stored == merge_alerts(merge_alerts(first, theirs), ours)
    assert stored.evidence == ("e1", "e2", "e3")


def test_many_alerts_are_one_bulk_and_only_conflicted_items_are_retried() -> None:
    fake = Interfering()
    store = _store(fake)
    assert store.alerts.upsert([alert(f"a{i}", minute=i) for i in range(600)]) == 600
    assert [len(ids) for ids in fake.requests] == [600]  # one _bulk of creates
    fake.requests.clear()
    theirs = alert("a7", minute=7, evidence=("theirs",))
    fake.interfere = lambda: ElasticStore(fake, "fh-").alerts.upsert([theirs])
    ours = [alert(f"a{i}", minute=i, evidence=("ours",)) for i in range(600)]
    store.alerts.upsert(ours)
    # theirs (1), ours (600, of which a7 conflicted), ours again: a7 only.
    assert [len(ids) for ids in fake.requests] == [1, 600, 1]
    assert fake.requests[-1] == ["a7"]
    view = store.alerts.get(Scope.everything(), "a7")
    assert view is not None
    assert set(view.alert.evidence) == {"e1", "theirs", "ours"}


def test_large_upserts_are_chunked() -> None:
    fake = Interfering()
    store = _store(fake)
    incidents = [incident(f"i{n}", minute=n) for n in range(2500)]
    assert store.incidents.upsert(incidents) == 2500
    assert [len(ids) for ids in fake.requests] == [1000, 1000, 500]
    assert store.incidents.upsert(incidents) == 0  # the same versions again: nothing written
    assert len(fake.requests) == 3


def test_endless_conflicts_stop_after_the_bounded_attempts() -> None:
    fake = Interfering()
    store = _store(fake)
    store.alerts.upsert([alert("a1")])
    rival = ElasticStore(fake, "fh-")
    minutes = iter(range(1, 1000))
    fake.interfere = lambda: rival.alerts.upsert([alert("a1", minute=next(minutes))])
    fake.times = 10_000
    with pytest.raises(StoreError, match="still conflicting"):
        store.alerts.upsert([alert("a1", evidence=("mine",))])
    assert fake.conflicts == MAX_ATTEMPTS


class Refusing(FakeSearchClient):
    """Answers every bulk item with the given failure."""

    def __init__(self, error: SearchError) -> None:
        super().__init__()
        self.error = error

    def bulk(self, *, operations: Sequence[BulkOp], refresh: Refresh = False) -> list[BulkItem]:
        return [BulkItem(op.id, self.error.status or 500, self.error) for op in operations]


def test_a_failed_bulk_item_other_than_a_conflict_is_raised() -> None:
    bad = SearchBadRequest(400, "mapper_parsing_exception", "failed to parse")
    with pytest.raises(SearchBadRequest, match="mapper_parsing_exception"):
        _store(Refusing(bad)).alerts.upsert([alert("a1")])
    busy = error_for(429, "es_rejected_execution_exception")
    with pytest.raises(SearchUnavailable) as raised:
        _store(Refusing(busy)).alerts.upsert([alert("a1")])
    assert is_transient(raised.value)  # the stream sink's backoff retries it


def test_bulk_items_are_read_from_the_servers_answer() -> None:
    answer = {
        "items": [
            {"create": {"_id": "a", "status": 201}},
            {"index": {"_id": "b", "status": 409, "error": {"type": "version_conflict"}}},
            {"create": {"_id": "c", "status": 429, "error": {"type": "rejected", "reason": "x"}}},
        ]
    }
    first, second, third = bulk_items(answer)
    assert (first.id, first.error) == ("a", None)
    assert isinstance(second.error, SearchConflict)
    assert isinstance(third.error, SearchUnavailable)
    assert third.error.reason == "x"


def test_explicit_rollover_moves_the_write_index_and_updates_stay_in_place() -> None:
    """Where the server has no ILM, the store rolls over when its write index cache expires
    (here at once); a document updated later stays in the index it was created in."""
    fake = FakeSearchClient(OPENSEARCH)
    store = _store(fake, rollover={"max_docs": 2}, write_index_ttl_s=0.0)
    store.alerts.upsert([alert("a1"), alert("a2")])
    store.alerts.upsert([alert("a3")])  # the lookup before it rolled -000001 over
    assert fake.aliases["fh-alerts"] == ["fh-alerts-000001", "fh-alerts-000002"]
    assert set(fake.docs["fh-alerts-000002"]) == {"a3"}
    store.alerts.upsert([alert("a1", evidence=("e2",))])
    assert set(fake.docs["fh-alerts-000001"]) == {"a1", "a2"}
    assert "a1" not in fake.docs["fh-alerts-000002"]
    assert store.alerts.count(Scope.everything()) == 3


def test_a_repeated_version_writes_nothing() -> None:
    fake = FakeSearchClient()
    store = _store(fake)
    store.alerts.upsert([alert("a1")])
    seq = fake.seq
    store.alerts.upsert([alert("a1")])
    assert fake.seq == seq


@pytest.mark.parametrize("limit", [0, 10_000])
def test_limits_are_checked(limit: int) -> None:
    store = _store(FakeSearchClient())
    with pytest.raises(StoreError, match="limit"):
        store.alerts.list(Scope.everything(), limit=limit)
