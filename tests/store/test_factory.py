"""Store settings: SQLite by default, Elasticsearch only with a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fenghuo.settings import Settings
from fenghuo.store.factory import open_store
from fenghuo.store.sqlite import SqliteStore


def test_sqlite_is_the_default(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "fenghuo.db"
    store.close()


def test_elasticsearch_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="FENGHUO_ES_URL"):
        Settings(store="elasticsearch")


def test_index_prefix_must_be_a_valid_index_name() -> None:
    with pytest.raises(ValidationError):
        Settings(es_index_prefix="Fenghuo*")
