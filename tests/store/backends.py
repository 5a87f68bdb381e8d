"""Every store backend a test can run on, opened the same way for every suite.

- `sqlite`: a fresh file under the test's tmp_path.
- `es-model`: the Elasticsearch backend's code on an in-memory model of the client
  (tests/store/fake_es.py): our reading of Elasticsearch's semantics, not a server.
- `elasticsearch`: a real server at FENGHUO_ES_URL, under a fresh index prefix deleted afterwards;
  skipped (never reported as passed) when the variable is not set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fenghuo.store.base import Store
from fenghuo.store.sqlite import SqliteStore

ALL_BACKENDS = ("sqlite", "es-model", "elasticsearch")
NO_SERVER = "FENGHUO_ES_URL is not set: no Elasticsearch server to run this backend on"


def es_url() -> str:
    """The real server's URL, or a skip with its reason."""
    url = os.environ.get("FENGHUO_ES_URL")
    if not url:
        pytest.skip(NO_SERVER)
    return url


def open_backend(kind: str, tmp_path: Path) -> Iterator[Store]:
    """Yield a fresh store of `kind` and close (and for servers, delete) it afterwards."""
    if kind == "sqlite":
        sqlite_store = SqliteStore(tmp_path / "fenghuo.db")
        yield sqlite_store
        sqlite_store.close()
        return
    from fenghuo.store.elastic import ElasticStore

    if kind == "es-model":
        from tests.store.fake_es import FakeElasticsearch

        model_store = ElasticStore(FakeElasticsearch(), "fh-")  # type: ignore[arg-type]
        model_store.bootstrap()
        yield model_store
        model_store.drop()
        return
    es_store = ElasticStore.connect(es_url(), prefix=f"fenghuo-test-{uuid.uuid4().hex[:10]}-")
    es_store.refresh_on_write = True
    es_store.bootstrap()
    try:
        yield es_store
    finally:
        es_store.drop()
        es_store.close()
