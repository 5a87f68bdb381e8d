"""The store writer's parts that need no JVM: which backend it opens, and its batching settings.
Its behaviour inside Flink (batches, a locked store, a restart) is in test_store_batches and
test_job_restart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fenghuo.errors import ConfigError
from fenghuo.model.alert import Alert
from fenghuo.settings import Settings
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import Scope
from fenghuo.streaming import store_sink
from fenghuo.streaming.job import stream_spec
from fenghuo.streaming.store_sink import StoreBatching, open_job_store
from tests.store.test_contract import alert


def _batch(*ids: str) -> list[Alert]:
    return [alert(alert_id, minute=i) for i, alert_id in enumerate(ids)]


def test_the_writer_opens_the_configured_search_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fenghuo.store.elastic import ElasticStore
    from tests.store.fake_es import FakeSearchClient

    model = ElasticStore(FakeSearchClient(), "fh-")
    model.bootstrap()
    opened: list[Settings] = []

    def open_model(settings: Settings) -> ElasticStore:
        opened.append(settings)
        return model

    monkeypatch.setattr(store_sink, "open_store", open_model)
    settings = Settings(store="elasticsearch", es_url="http://127.0.0.1:9", data_dir=tmp_path)
    target = open_job_store(tmp_path / "fenghuo.db", settings)
    assert target.upsert(_batch("e1", "e2")) == 2
    assert opened == [settings]
    assert model.alerts.get(Scope.everything(), "e2") is not None
    assert not (tmp_path / "fenghuo.db").exists()  # SQLite untouched


def test_the_writer_defaults_to_sqlite_at_the_jobs_path(tmp_path: Path) -> None:
    path = tmp_path / "fenghuo.db"
    target = open_job_store(path, Settings(data_dir=tmp_path / "elsewhere"))
    target.upsert(_batch("s1", "s2", "s1"))  # one batch; a repeated id folds
    target.close()
    assert sorted(a.id for a in AlertStore(path).all()) == ["s1", "s2"]


def test_batching_comes_from_the_settings_and_rejects_nonsense(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        inventory=tmp_path / "inventory.yaml",
        stream_store_batch_max=50,
        stream_store_flush_s=1.5,
    )
    spec = stream_spec(settings)
    assert spec.store_batching == StoreBatching(50, dt.timedelta(seconds=1.5))
    assert spec.store_batching.max_wait_ms == 1500
    assert StoreBatching().max_alerts == 500
    with pytest.raises(ConfigError, match="at least one alert"):
        StoreBatching(max_alerts=0)
    with pytest.raises(ConfigError, match="must be positive"):
        StoreBatching(max_wait=dt.timedelta(0))


@pytest.mark.parametrize(
    ("store", "jobmanager", "writes"),
    [
        ("sqlite", None, True),  # embedded: the job's own SQLite file
        ("sqlite", "jm:8081", False),  # SQLite would sit on some TaskManager's disk
        ("opensearch", None, True),
        ("opensearch", "jm:8081", True),  # every TaskManager reaches the search server
    ],
)
def test_the_job_writes_alerts_to_the_store_wherever_every_worker_reaches_it(
    tmp_path: Path, store: str, jobmanager: str | None, writes: bool
) -> None:
    url = {"opensearch_url": "http://search:9200"} if store == "opensearch" else {}
    settings = Settings.model_validate(
        {"data_dir": tmp_path, "inventory": tmp_path / "i.yaml", "store": store, **url}
    )
    spec = stream_spec(settings, jobmanager=jobmanager, checkpoint_dir="file:///shared/chk")
    assert (spec.store is not None) is writes
