"""The client adapters turn each server answer into the layer's own errors, so the store code never
sees a client's exception: on a real OpenSearch node (not found, conflict, bad request), with no
server at all (unavailable, which the write path retries), and the `elasticsearch` client
pointed at OpenSearch (refused, with the setting to use instead)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from fenghuo.store.retry import is_transient
from fenghuo.store.search_client import (
    BulkOp,
    Flavour,
    SearchBadRequest,
    SearchClient,
    SearchConflict,
    SearchError,
    SearchNotFound,
    SearchUnavailable,
    connect,
)
from tests.store.backends import fresh_prefix, opensearch_url


@pytest.fixture
def client() -> Iterator[SearchClient]:
    opened = connect("opensearch", opensearch_url())
    yield opened
    opened.close()


@pytest.fixture
def index(client: SearchClient) -> Iterator[str]:
    name = f"{fresh_prefix()}plain"
    client.indices.create(index=name, mappings={"dynamic": False, "properties": {}})
    yield name
    client.indices.delete(index=[name])


def test_server_answers_become_the_layers_errors(client: SearchClient, index: str) -> None:
    with pytest.raises(SearchNotFound):
        client.get(index=index, id="absent")
    client.index(index=index, id="d1", document={"n": 1}, op_type="create", refresh=True)
    with pytest.raises(SearchConflict):
        client.index(index=index, id="d1", document={"n": 2}, op_type="create")
    stored = client.get(index=index, id="d1")
    with pytest.raises(SearchConflict):
        client.index(
            index=index,
            id="d1",
            document={"n": 3},
            if_seq_no=stored["_seq_no"] + 1,
            if_primary_term=stored["_primary_term"],
        )
    with pytest.raises(SearchBadRequest) as exists:
        client.indices.create(index=index)
    assert exists.value.error == "resource_already_exists_exception"
    assert client.get(index=index, id="d1")["_source"] == {"n": 1}


def test_bulk_reports_each_item(client: SearchClient, index: str) -> None:
    client.index(index=index, id="old", document={"n": 0}, refresh=True)
    items = client.bulk(
        operations=[
            BulkOp("create", index, "new", {"n": 1}),
            BulkOp("create", index, "old", {"n": 2}),
            BulkOp("index", index, "old", {"n": 3}, if_seq_no=999, if_primary_term=1),
        ],
        refresh=True,
    )
    assert [(i.id, i.status) for i in items] == [("new", 201), ("old", 409), ("old", 409)]
    assert items[0].error is None
    assert all(isinstance(i.error, SearchConflict) for i in items[1:])
    found = client.mget(index=index, ids=["new", "old", "gone"])["docs"]
    assert [d["found"] for d in found] == [True, True, False]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens on it once the probe is closed


@pytest.mark.parametrize("flavour", ["opensearch", "elasticsearch"])
def test_no_server_is_unavailable_and_transient(flavour: Flavour) -> None:
    client = connect(flavour, f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(SearchUnavailable) as raised:
        client.count(index="anything")
    assert raised.value.status is None
    assert is_transient(raised.value)
    client.close()


def test_the_elasticsearch_client_refuses_opensearch_with_a_hint(index: str) -> None:
    client = connect("elasticsearch", opensearch_url())
    with pytest.raises(SearchError, match="FENGHUO_STORE=opensearch") as answered:
        client.count(index=index)  # a success: the client checks the product
    with pytest.raises(SearchError, match="FENGHUO_STORE=opensearch") as refused:
        client.search(index=index, size=0)  # a body: 406 for its media type
    assert not is_transient(answered.value)
    assert not is_transient(refused.value)
    client.close()
