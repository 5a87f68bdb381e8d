"""Open the configured store backend (FENGHUO_STORE)."""

from __future__ import annotations

from fenghuo.settings import Settings
from fenghuo.store.base import Store
from fenghuo.store.sqlite import SqliteStore


def open_store(settings: Settings) -> Store:
    """SQLite at `settings.db_path`, or Elasticsearch at `settings.es_url` (its indices,
    templates and policy bootstrapped, which is idempotent)."""
    if settings.store == "elasticsearch":
        from fenghuo.store.elastic import ElasticStore  # the client is only needed here

        assert settings.es_url is not None  # checked by Settings
        store = ElasticStore.connect(settings.es_url, prefix=settings.es_index_prefix)
        store.bootstrap()
        return store
    return SqliteStore(settings.db_path)
