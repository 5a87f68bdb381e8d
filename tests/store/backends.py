"""Every store backend a test can run on, opened the same way for every suite.

- `sqlite`: a fresh file under the test's tmp_path.
- `es-model`: the search backend's code on an in-memory model of the client layer
  (tests/store/fake_es.py): our reading of the servers' semantics, not a server.
- `opensearch`: a real OpenSearch node, under a fresh index prefix deleted afterwards: the one at
  FENGHUO_OPENSEARCH_URL if set, else the session's embedded node (tests/fixtures_search.py),
  which the test suite starts itself; never skipped.
- `elasticsearch`: a real server at FENGHUO_ES_URL, likewise; skipped when the variable is not
  set (no Elasticsearch server can be assembled here: docs/research/issue-11.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fenghuo.store.base import Store
from fenghuo.store.search_client import Flavour
from fenghuo.store.sqlite import SqliteStore
from tests.fixtures_search import search_url

ALL_BACKENDS = ("sqlite", "es-model", "opensearch", "elasticsearch")
SEARCH_SERVERS: tuple[Flavour, ...] = ("opensearch", "elasticsearch")
NO_SERVER = "FENGHUO_ES_URL is not set: no Elasticsearch server to run this backend on"


def es_url() -> str:
    """The real Elasticsearch server's URL, or a skip with its reason."""
    url = os.environ.get("FENGHUO_ES_URL")
    if not url:
        pytest.skip(NO_SERVER)
    return url


def opensearch_url() -> str:
    """The real OpenSearch node's URL: FENGHUO_OPENSEARCH_URL, else the session's own node."""
    return os.environ.get("FENGHUO_OPENSEARCH_URL") or search_url()


def server_url(flavour: Flavour) -> str:
    """The URL of a real server of `flavour`, or a skip with its reason."""
    return opensearch_url() if flavour == "opensearch" else es_url()


def fresh_prefix() -> str:
    """A fresh index prefix, so tests on one server never see each other's indices."""
    return f"fenghuo-test-{uuid.uuid4().hex[:10]}-"


def open_backend(kind: str, tmp_path: Path) -> Iterator[Store]:
    """Yield a fresh store of `kind` and close (and for servers, delete) it afterwards."""
    if kind == "sqlite":
        sqlite_store = SqliteStore(tmp_path / "fenghuo.db")
        yield sqlite_store
        sqlite_store.close()
        return
    from fenghuo.store.elastic import ElasticStore

    if kind == "es-model":
        from tests.store.fake_es import FakeSearchClient

        model_store = ElasticStore(FakeSearchClient(), "fh-")
        model_store.bootstrap()
        yield model_store
        model_store.drop()
        return
    flavour: Flavour = "opensearch" if kind == "opensearch" else "elasticsearch"
    server_store = ElasticStore.connect(server_url(flavour), prefix=fresh_prefix(), flavour=flavour)
    server_store.refresh_on_write = True
    server_store.bootstrap()
    try:
        yield server_store
    finally:
        server_store.drop()
        server_store.close()
