"""Open the configured store backend (FENGHUO_STORE)."""

from __future__ import annotations

from fenghuo.settings import Settings
from fenghuo.store.base import Store
from fenghuo.store.sqlite import SqliteStore


def open_store(settings: Settings) -> Store:
    """SQLite at `settings.db_path`, or the search backend on Elasticsearch (FENGHUO_ES_URL) or
    OpenSearch (FENGHUO_OPENSEARCH_URL), its indices, templates and (on Elasticsearch) policy
    bootstrapped, which is idempotent."""
    if settings.store != "sqlite":
        # The clients are only needed here.
        from fenghuo.store.elastic import ElasticStore
        from fenghuo.store.search_client import open_search_client

        store = ElasticStore(open_search_client(settings), settings.es_index_prefix)
        store.bootstrap()
        return store
    return SqliteStore(settings.db_path)
