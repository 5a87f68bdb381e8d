"""Store settings: SQLite by default, a search server only with its URL; the configured server's
client is the one every opener picks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fenghuo.evidence.archive import open_archive
from fenghuo.settings import Settings
from fenghuo.store.factory import open_store
from fenghuo.store.sqlite import SqliteStore
from tests.store.backends import fresh_prefix, opensearch_url


def test_sqlite_is_the_default(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "fenghuo.db"
    store.close()


def test_elasticsearch_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="FENGHUO_ES_URL"):
        Settings(store="elasticsearch")


def test_opensearch_needs_its_own_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGHUO_OPENSEARCH_URL", raising=False)
    with pytest.raises(ValidationError, match="FENGHUO_OPENSEARCH_URL"):
        Settings(store="opensearch", es_url="http://127.0.0.1:9200")


def test_the_search_url_is_the_configured_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGHUO_STORE", raising=False)
    es, os_ = "http://es:9200", "http://os:9200"
    assert Settings(store="opensearch", es_url=es, opensearch_url=os_).search_url == os_
    assert Settings(store="elasticsearch", es_url=es, opensearch_url=os_).search_url == es
    assert Settings(es_url=es, opensearch_url=os_).search_url is None


def test_index_prefix_must_be_a_valid_index_name() -> None:
    with pytest.raises(ValidationError):
        Settings(es_index_prefix="Fenghuo*")


def test_opensearch_is_opened_through_its_own_client(tmp_path: Path) -> None:
    from fenghuo.store.elastic import ElasticStore
    from fenghuo.store.search_opensearch import OpenSearchClient

    settings = Settings(
        store="opensearch",
        opensearch_url=opensearch_url(),
        es_index_prefix=fresh_prefix(),
        data_dir=tmp_path,
    )
    store = open_store(settings)
    assert isinstance(store, ElasticStore)
    archive = open_archive(settings)
    try:
        assert isinstance(store.client, OpenSearchClient)
        assert store.client.indices.exists_alias(name=f"{settings.es_index_prefix}alerts")
        assert archive.count() == 0
        assert not (tmp_path / "fenghuo.db").exists()
    finally:
        store.client.indices.delete(index=[f"{settings.es_index_prefix}events"])
        store.drop()
        store.close()
        archive.close()
