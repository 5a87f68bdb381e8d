"""Rollover where the server has no ILM (OpenSearch): the store rolls each series' write index
over with `_rollover` and its conditions whenever its cached write index expires. On a real node,
with a tiny `max_docs` and no cache, so every write checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fenghuo.store.base import AlertQuery, AuditEntry, Scope
from fenghuo.store.elastic import ElasticStore
from tests.store.backends import fresh_prefix, opensearch_url
from tests.store.test_contract import T0, alert

ALL = Scope.everything()


@pytest.fixture
def store() -> Iterator[ElasticStore]:
    from fenghuo.store.search_opensearch import OpenSearchClient

    client = OpenSearchClient.connect(opensearch_url())
    opened = ElasticStore(client, fresh_prefix(), rollover={"max_docs": 2}, write_index_ttl_s=0.0)
    opened.refresh_on_write = True
    opened.bootstrap()
    try:
        yield opened
    finally:
        opened.drop()
        opened.close()


def _indices(store: ElasticStore, kind: str) -> dict[str, bool]:
    """Each index behind a series' alias, and whether it is the write index."""
    alias = store.names.alias(kind)
    found = store.client.indices.get_alias(name=alias)
    return {i: bool(v["aliases"][alias].get("is_write_index")) for i, v in sorted(found.items())}


def test_the_write_index_rolls_over_and_documents_stay_where_they_were_created(
    store: ElasticStore,
) -> None:
    first = store.names.first_index("alerts")
    second = f"{store.names.prefix}alerts-000002"
    store.alerts.upsert([alert("a1", minute=1), alert("a2", minute=2)])
    assert _indices(store, "alerts") == {first: True}
    store.alerts.upsert([alert("a3", minute=3, summary="written after the rollover")])
    assert _indices(store, "alerts") == {first: False, second: True}
    # An update of a document in the old index is written there, not created again.
    store.alerts.upsert([alert("a1", minute=1, evidence=("e1", "e9"))])
    hits = store.client.search(index=store.names.alias("alerts"), size=10, source=False)
    where = {h["_id"]: h["_index"] for h in hits["hits"]["hits"]}
    assert where == {"a1": first, "a2": first, "a3": second}
    view = store.alerts.get(ALL, "a1")
    assert view is not None
    assert view.alert.evidence == ("e1", "e9")
    # The new index has the series' template: full text and filters answer across both.
    assert store.alerts.count(ALL, AlertQuery(text="rollover")) == 1
    assert [v.alert.id for v in store.alerts.list(ALL).items] == ["a3", "a2", "a1"]


def test_append_only_series_roll_over_too(store: ElasticStore) -> None:
    for n in range(3):
        store.audit.append(
            AuditEntry(
                id=f"audit-{n}",
                at=T0,
                actor="k1",
                role="admin",
                action="alert.read",
                target=f"alert:a{n}",
                tenant_id=None,
                request_id=f"r{n}",
            )
        )
    assert len(_indices(store, "audit")) == 2
    assert len(store.audit.list(ALL).items) == 3
