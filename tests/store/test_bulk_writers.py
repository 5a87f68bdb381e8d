"""Bulk upserts from concurrent writers on a real search server: two stores (as two processes
would be) upsert versions of the same alerts and incidents at once; every version's evidence
ends up merged in and the newest incident wins, whatever conflicts the `_bulk` items met."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fenghuo.model.alert import Alert
from fenghuo.store.base import Scope
from fenghuo.store.elastic import ElasticStore
from fenghuo.store.search_client import Flavour
from tests.store.backends import SEARCH_SERVERS, fresh_prefix, server_url
from tests.store.test_contract import alert, incident

ALL = Scope.everything()
IDS = 200
ROUNDS = 4


@pytest.fixture(params=SEARCH_SERVERS)
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[ElasticStore, ElasticStore]]:
    flavour: Flavour = request.param
    url, prefix = server_url(flavour), fresh_prefix()
    first = ElasticStore.connect(url, prefix=prefix, flavour=flavour)
    first.bootstrap()
    second = ElasticStore.connect(url, prefix=prefix, flavour=flavour)
    try:
        yield first, second
    finally:
        first.drop()
        first.close()
        second.close()


def _versions(writer: str, round_: int) -> list[Alert]:
    return [alert(f"a{i}", minute=i, evidence=(f"{writer}-{round_}",)) for i in range(IDS)]


def test_concurrent_bulk_upserts_lose_no_version(stores: tuple[ElasticStore, ElasticStore]) -> None:
    def write(store: ElasticStore, writer: str) -> None:
        for round_ in range(ROUNDS):
            store.alerts.upsert(_versions(writer, round_))
            store.incidents.upsert(
                [incident(f"i{i}", updated=round_ * 2 + (writer == "b")) for i in range(IDS)]
            )

    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(write, s, w) for s, w in zip(stores, ("a", "b"), strict=True)]
        for future in done:
            future.result()  # raises what the writer raised
    store = stores[0]
    store.client.indices.refresh(index=store.names.alias("alerts"))
    store.client.indices.refresh(index=store.names.alias("incidents"))
    assert store.alerts.count(ALL) == IDS
    expected = {f"{writer}-{r}" for writer in "ab" for r in range(ROUNDS)}
    for i in (0, IDS // 2, IDS - 1):
        view = store.alerts.get(ALL, f"a{i}")
        assert view is not None
        assert set(view.alert.evidence) == expected
    newest = store.incidents.get(ALL, "i7")
    assert newest is not None
    assert newest.incident.updated_at == incident("i7", updated=(ROUNDS - 1) * 2 + 1).updated_at
